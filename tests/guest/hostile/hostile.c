/* A hostile bare-metal guest (issue 8): it drives the board's virtio-blk and
 * virtio-rng straight through their virtio-mmio registers, proves the path
 * with well-formed requests, then posts malformed chains and breaks the
 * transport's rules one case at a time, with a device reset and a fresh
 * setup around each. After every case it checks what the spec lets a driver
 * observe (DEVICE_NEEDS_RESET and the configuration-change interrupt,
 * FEATURES_OK not sticking, the request's status byte, or simply nothing
 * used) and that no byte of guest memory changed that the device had no
 * business writing: every ring, buffer and table lives in an arena whose
 * expected contents the guest mirrors in a shadow copy, a guard region sits
 * at the top of RAM, and the guest's own code and read-only data are
 * checksummed. A well-formed request must then work again after a reset.
 *
 * One freestanding C source for both boards: riscv64 (soft engine, M-mode,
 * devices at 0x10001000 + 0x1000 n) and x86_64 (kvm engine, long mode on the
 * loader's identity map, devices at 0xd0000000 + 0x1000 n). The host puts
 * the rng in slot 0 and the disk in slot 1. Verdict: "hostile: PASS" and
 * exit code 0 (riscv: SiFive test pass; x86: debug-exit value 0), or a
 * "hostile: FAIL case ..." line and the case's number as the exit code.
 */
#include <stddef.h>
#include <stdint.h>

#include "hostile.h"

/* --- the board --- */

#if defined(__riscv)
#define RAM_BASE 0x80000000UL
#define VIRTIO_BASE 0x10001000UL
#define OUTSIDE_RAM 0x90000000UL  /* neither RAM nor a device */
#define FOREIGN_MMIO 0x10000000UL /* the UART's registers */
#define UART_BASE 0x10000000UL
#define TEST_DEVICE 0x100000UL
#define TICKS_PER_MS 10000ULL     /* the board's 10 MHz timebase */

static inline void barrier(void) { __asm__ volatile("fence rw, rw" ::: "memory"); }

static inline uint64_t ticks(void)
{
    uint64_t t;
    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

static void console_putc(char c)
{
    volatile uint8_t *u = (volatile uint8_t *)UART_BASE;
    while (!(u[5] & 0x20))
        ;
    u[0] = (uint8_t)c;
}

static __attribute__((noreturn)) void guest_exit(unsigned code)
{
    *(volatile uint32_t *)TEST_DEVICE = code ? (code << 16) | 0x3333 : 0x5555;
    for (;;)
        __asm__ volatile("wfi");
}

#elif defined(__x86_64__)
#define RAM_BASE 0x0UL
#define VIRTIO_BASE 0xd0000000UL
#define OUTSIDE_RAM 0x10000000UL  /* above RAM, below the MMIO gap */
#define FOREIGN_MMIO 0xfec00000UL /* the IOAPIC */
#define COM1 0x3f8
#define DEBUG_EXIT 0xf4
/* No calibration: assume a TSC of at most 4 GHz. A slower one only makes
 * the waits below longer, never shorter. */
#define TICKS_PER_MS 4000000ULL

/* x86 keeps stores in order and the notify write traps (or signals an
 * ioeventfd) only after the earlier stores are visible: the compiler is
 * the only thing to hold back. */
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

static inline uint64_t ticks(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void console_putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))
        ;
    outb(COM1, (uint8_t)c);
}

static __attribute__((noreturn)) void guest_exit(unsigned code)
{
    outb(DEBUG_EXIT, (uint8_t)code);
    for (;;)
        __asm__ volatile("hlt");
}

#else
#error "hostile guest: riscv64 or x86_64 only"
#endif

#define RAM_END (RAM_BASE + HOSTILE_MEM_SIZE)
#define SCRATCH (RAM_BASE + (16UL << 20)) /* 16 MiB nobody uses */
#define SCRATCH_LEN (16UL << 20)

/* What the compiler may call even in a freestanding build. */
void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

/* --- console --- */

static void puts_(const char *s)
{
    while (*s)
        console_putc(*s++);
}

static void puthex(uint64_t v)
{
    char buf[19];
    int n = 0;
    do {
        unsigned d = v & 15;
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v >>= 4;
    } while (v);
    puts_("0x");
    while (n)
        console_putc(buf[--n]);
}

static void putdec(unsigned v)
{
    char buf[12];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        console_putc(buf[--n]);
}

/* --- cases and failure --- */

static unsigned case_id;
static const char *case_name = "boot";
static unsigned cases_passed;

static __attribute__((noreturn)) void fail(const char *what, uint64_t value)
{
    puts_("hostile: FAIL case ");
    putdec(case_id);
    puts_(" ");
    puts_(case_name);
    puts_(": ");
    puts_(what);
    puts_(" (");
    puthex(value);
    puts_(")\n");
    guest_exit(case_id ? case_id : 127);
}

#define CHECK(cond, what, value)                                                                   \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(what, (uint64_t)(value));                                                         \
    } while (0)

/* Called by the start code for any trap or exception it did not expect. */
void hostile_trap(uint64_t cause, uint64_t pc, uint64_t tval)
{
    puts_("hostile: unexpected trap cause ");
    puthex(cause);
    puts_(" pc ");
    puthex(pc);
    puts_(" tval ");
    puthex(tval);
    puts_("\n");
    fail("trap", cause);
}

static void quiet(unsigned ms)
{
    uint64_t t0 = ticks();
    while (ticks() - t0 < ms * TICKS_PER_MS)
        ;
}

#define WAIT_MS 5000 /* for something that must happen */
#define QUIET_MS 30  /* for something that must not */

/* --- the arena: every ring, buffer and table, with guards between --- */

#define PAGE 4096
#define ARENA_PAGES 20
enum {
    P_DESC = 1,   /* descriptor table */
    P_AVAIL = 3,  /* driver ring */
    P_USED = 5,   /* device ring */
    P_HDR = 7,    /* request headers and device-readable data */
    P_DATA = 9,   /* device-writable data */
    P_STATUS = 11,
    P_TABLE = 13, /* indirect tables: 5 pages, 1280 descriptors */
    /* 0, 2, 4, 6, 8, 10, 12, 18, 19: guard pages */
};

static uint8_t arena[ARENA_PAGES * PAGE] __attribute__((aligned(PAGE)));
/* What the arena must hold: the guest writes both; only the device ever
 * makes them differ, and only where a case allows it. */
static uint8_t shadow[ARENA_PAGES * PAGE] __attribute__((aligned(PAGE)));

#define AT(page, off) (arena + (size_t)(page) * PAGE + (off))
#define GPA(p) ((uint64_t)(uintptr_t)(p))
#define HDR AT(P_HDR, 1024)
#define HDR2 AT(P_HDR, 2048)
#define OUTBUF AT(P_HDR, 3072) /* device-readable payload (512 bytes) */
#define DATA AT(P_DATA, 1024)  /* device-writable data (up to 1024 bytes) */
#define STATUS AT(P_STATUS, 1024)
#define STATUS2 AT(P_STATUS, 2048)
#define TABLE AT(P_TABLE, 0)

static inline uint8_t *mirror(void *p) { return shadow + ((uint8_t *)p - arena); }

static void g8(void *p, uint8_t v)
{
    *(volatile uint8_t *)p = v;
    *mirror(p) = v;
}

static void g16(void *p, uint16_t v)
{
    *(volatile uint16_t *)p = v;
    *(uint16_t *)mirror(p) = v;
}

static void g32(void *p, uint32_t v)
{
    *(volatile uint32_t *)p = v;
    *(uint32_t *)mirror(p) = v;
}

static void g64(void *p, uint64_t v)
{
    *(volatile uint64_t *)p = v;
    *(uint64_t *)mirror(p) = v;
}

static uint64_t arena_word(size_t off) { return (off * 0xd6e8feb86659fd93ULL) ^ 0xa5c3f00f5a3c0ff0ULL; }

/* Byte ranges of the arena the device may write in the current case,
 * sorted by start. */
struct span {
    size_t from, to;
};
static struct span allowed[8];
static unsigned nallowed;

static void allow(const void *p, size_t len)
{
    size_t from = (size_t)((const uint8_t *)p - arena), to = from + len;
    for (unsigned k = 0; k < nallowed; k++)
        if (allowed[k].from <= from && to <= allowed[k].to)
            return; /* already allowed */
    CHECK(nallowed < 8, "too many allowed ranges", nallowed);
    unsigned i = nallowed++;
    while (i > 0 && allowed[i - 1].from > from) {
        allowed[i] = allowed[i - 1];
        i--;
    }
    allowed[i] = (struct span){ from, to };
}

static void arena_fill(void)
{
    uint64_t *a = (uint64_t *)(void *)arena, *s = (uint64_t *)(void *)shadow;
    for (size_t i = 0; i < sizeof(arena) / 8; i++)
        a[i] = s[i] = arena_word(i * 8);
    nallowed = 0;
}

static __attribute__((noreturn)) void arena_mismatch(size_t off)
{
    puts_("hostile: guest memory changed: arena page ");
    putdec((unsigned)(off / PAGE));
    puts_(" offset ");
    puthex(off % PAGE);
    puts_(" expected ");
    puthex(shadow[off]);
    puts_(" found ");
    puthex(arena[off]);
    puts_("\n");
    fail("a byte the device must not write changed", GPA(arena + off));
}

static void compare_span(size_t from, size_t to)
{
    size_t o = from;
    for (; o < to && (o & 7); o++)
        if (arena[o] != shadow[o])
            arena_mismatch(o);
    for (; o + 8 <= to; o += 8)
        if (*(const uint64_t *)(const void *)(arena + o) !=
            *(const uint64_t *)(const void *)(shadow + o))
            for (size_t b = o; b < o + 8; b++)
                if (arena[b] != shadow[b])
                    arena_mismatch(b);
    for (; o < to; o++)
        if (arena[o] != shadow[o])
            arena_mismatch(o);
}

/* The arena holds what the guest wrote, except in the allowed ranges. */
static void arena_check(void)
{
    barrier();
    size_t pos = 0;
    for (unsigned i = 0; i < nallowed; i++) {
        if (allowed[i].from > pos)
            compare_span(pos, allowed[i].from);
        if (allowed[i].to > pos)
            pos = allowed[i].to;
    }
    compare_span(pos, sizeof(arena));
}

/* --- guards outside the arena --- */

static volatile uint64_t *const far_guard =
    (volatile uint64_t *)(RAM_BASE + HOSTILE_FAR_GUARD_OFF);

static void far_fill(void)
{
    for (uint64_t o = 0; o < HOSTILE_FAR_GUARD_LEN; o += 8)
        far_guard[o / 8] = hostile_far_word(o);
}

static void far_check(void)
{
    for (uint64_t o = 0; o < HOSTILE_FAR_GUARD_LEN; o += 8)
        CHECK(far_guard[o / 8] == hostile_far_word(o), "guard region at the top of RAM changed",
              RAM_BASE + HOSTILE_FAR_GUARD_OFF + o);
}

extern const uint8_t __image_start[], __ro_end[]; /* from the linker script */
static uint64_t code_sum;

static uint64_t image_checksum(void)
{
    uint64_t h = 0;
    for (const uint64_t *p = (const uint64_t *)(const void *)__image_start;
         p < (const uint64_t *)(const void *)__ro_end; p++)
        h = (h << 7 | h >> 57) ^ *(const volatile uint64_t *)p;
    return h;
}

/* Scratch: only its first 72 KiB and last page are ever filled and checked. */
#define SCRATCH_HEAD (72UL << 10)
static volatile uint64_t *const scratch = (volatile uint64_t *)SCRATCH;

static uint64_t scratch_word(uint64_t off) { return off * 0x2545f4914f6cdd1dULL + 0x5c7a; }

static void scratch_fill(void)
{
    for (uint64_t o = 0; o < SCRATCH_HEAD; o += 8)
        scratch[o / 8] = scratch_word(o);
    for (uint64_t o = SCRATCH_LEN - PAGE; o < SCRATCH_LEN; o += 8)
        scratch[o / 8] = scratch_word(o);
}

/* Bytes [from, SCRATCH_HEAD) and the last page still hold the fill. */
static void scratch_check(uint64_t from)
{
    for (uint64_t o = from; o < SCRATCH_HEAD; o += 8)
        CHECK(scratch[o / 8] == scratch_word(o), "scratch memory changed", SCRATCH + o);
    for (uint64_t o = SCRATCH_LEN - PAGE; o < SCRATCH_LEN; o += 8)
        CHECK(scratch[o / 8] == scratch_word(o), "scratch memory changed", SCRATCH + o);
}

/* --- virtio-mmio (virtio 1.x, 4.2.2) --- */

#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEVICE_FEATURES 0x010
#define R_DEVICE_FEATURES_SEL 0x014
#define R_DRIVER_FEATURES 0x020
#define R_DRIVER_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INTERRUPT_STATUS 0x060
#define R_INTERRUPT_ACK 0x064
#define R_STATUS 0x070
#define R_QUEUE_DESC 0x080
#define R_QUEUE_DRIVER 0x090
#define R_QUEUE_DEVICE 0x0a0
#define R_QUEUE_RESET 0x0c0
#define R_CONFIG 0x100

#define S_ACK 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u
#define S_NEEDS_RESET 64u
#define S_READY (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)

#define INT_USED 1u
#define INT_CONFIG 2u

#define F_INDIRECT (1ULL << 28)
#define F_EVENT_IDX (1ULL << 29)
#define F_VERSION_1 (1ULL << 32)
#define F_RING_RESET (1ULL << 40)
#define STD_FEATURES (F_VERSION_1 | F_INDIRECT)

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

#define BLK_IN 0
#define BLK_OUT 1
#define BLK_GET_ID 8
#define BLK_DISCARD 11
#define BLK_WRITE_ZEROES 13
#define F_BLK_DISCARD (1ULL << 13)
#define F_BLK_WRITE_ZEROES (1ULL << 14)
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define STATUS_UNTOUCHED 0xee

#define QSIZE 16

struct vdev {
    const char *name;
    uintptr_t base;
    uint32_t id;
    uint16_t avail_idx; /* next free slot of the driver ring */
};

static struct vdev rng = { "rng", VIRTIO_BASE + 0x0000, 4, 0 };
static struct vdev blk = { "blk", VIRTIO_BASE + 0x1000, 2, 0 };

/* Every register access the guest makes, and the QueueNotify writes among
 * them: the host compares them with the engine's MMIO exit count (on kvm
 * the notifies are ioeventfds and never reach user space). */
static unsigned mmio_accesses, notify_writes;

static uint32_t vr(const struct vdev *d, unsigned off)
{
    mmio_accesses++;
    return *(volatile uint32_t *)(d->base + off);
}

static void vw(const struct vdev *d, unsigned off, uint32_t v)
{
    mmio_accesses++;
    notify_writes += off == R_QUEUE_NOTIFY;
    barrier();
    *(volatile uint32_t *)(d->base + off) = v;
}

static uint64_t dev_offered(const struct vdev *d)
{
    vw(d, R_DEVICE_FEATURES_SEL, 1);
    uint64_t hi = vr(d, R_DEVICE_FEATURES);
    vw(d, R_DEVICE_FEATURES_SEL, 0);
    return hi << 32 | vr(d, R_DEVICE_FEATURES);
}

static void dev_reset(struct vdev *d)
{
    vw(d, R_STATUS, 0);
    CHECK(vr(d, R_STATUS) == 0, "status after a reset", vr(d, R_STATUS));
    CHECK(vr(d, R_INTERRUPT_STATUS) == 0, "interrupt status after a reset",
          vr(d, R_INTERRUPT_STATUS));
    d->avail_idx = 0;
}

/* Reset, ACKNOWLEDGE, DRIVER; returns the offered features. */
static uint64_t dev_start(struct vdev *d)
{
    dev_reset(d);
    vw(d, R_STATUS, S_ACK);
    vw(d, R_STATUS, S_ACK | S_DRIVER);
    return dev_offered(d);
}

/* Accepts `want` and sets FEATURES_OK; returns the status read back. */
static uint32_t dev_accept(struct vdev *d, uint64_t want)
{
    vw(d, R_DRIVER_FEATURES_SEL, 0);
    vw(d, R_DRIVER_FEATURES, (uint32_t)want);
    vw(d, R_DRIVER_FEATURES_SEL, 1);
    vw(d, R_DRIVER_FEATURES, (uint32_t)(want >> 32));
    vw(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    return vr(d, R_STATUS);
}

/* Zeroes the ring headers the device reads or the driver polls. */
static void rings_init(void)
{
    g16(AT(P_AVAIL, 0), 0);
    g16(AT(P_AVAIL, 2), 0);
    g16(AT(P_USED, 0), 0);
    g16(AT(P_USED, 2), 0);
}

static void queue_program_at(struct vdev *d, uint32_t num, uint64_t desc, uint64_t drv,
                             uint64_t dev)
{
    vw(d, R_QUEUE_SEL, 0);
    CHECK(vr(d, R_QUEUE_READY) == 0, "queue ready before setup", vr(d, R_QUEUE_READY));
    CHECK(vr(d, R_QUEUE_NUM_MAX) >= QSIZE, "QueueNumMax", vr(d, R_QUEUE_NUM_MAX));
    vw(d, R_QUEUE_NUM, num);
    vw(d, R_QUEUE_DESC, (uint32_t)desc);
    vw(d, R_QUEUE_DESC + 4, (uint32_t)(desc >> 32));
    vw(d, R_QUEUE_DRIVER, (uint32_t)drv);
    vw(d, R_QUEUE_DRIVER + 4, (uint32_t)(drv >> 32));
    vw(d, R_QUEUE_DEVICE, (uint32_t)dev);
    vw(d, R_QUEUE_DEVICE + 4, (uint32_t)(dev >> 32));
}

static void queue_program(struct vdev *d, uint32_t num)
{
    queue_program_at(d, num, GPA(AT(P_DESC, 0)), GPA(AT(P_AVAIL, 0)), GPA(AT(P_USED, 0)));
}

static void driver_ok(struct vdev *d)
{
    vw(d, R_STATUS, S_READY);
}

/* The well-formed initialisation (3.1.1) with queue 0 of QSIZE entries, up
 * to FEATURES_OK; `want` is masked with what the device offers. */
static void setup_features(struct vdev *d, uint64_t want)
{
    uint64_t offered = dev_start(d);
    CHECK(offered & F_VERSION_1, "VERSION_1 not offered", offered);
    uint32_t st = dev_accept(d, offered & want);
    CHECK(st & S_FEATURES_OK, "FEATURES_OK refused for offered features", st);
    rings_init();
    queue_program(d, QSIZE);
    vw(d, R_QUEUE_READY, 1);
    CHECK(vr(d, R_QUEUE_READY) == 1, "queue not ready", vr(d, R_QUEUE_READY));
}

static void setup(struct vdev *d, uint64_t want)
{
    setup_features(d, want);
    driver_ok(d);
    CHECK(vr(d, R_STATUS) == S_READY, "status after DRIVER_OK", vr(d, R_STATUS));
}

static void set_desc(void *table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    uint8_t *e = (uint8_t *)table + 16 * i;
    g64(e, addr);
    g32(e + 8, len);
    g16(e + 12, flags);
    g16(e + 14, next);
}

#define DESC AT(P_DESC, 0)

/* Makes chain `head` available (2.7.13). */
static void post(struct vdev *d, uint16_t head)
{
    g16(AT(P_AVAIL, 4 + 2 * (d->avail_idx % QSIZE)), head);
    barrier();
    g16(AT(P_AVAIL, 2), ++d->avail_idx);
    barrier();
}

static void notify(struct vdev *d) { vw(d, R_QUEUE_NOTIFY, 0); }

static uint16_t used_idx(void) { return *(volatile uint16_t *)AT(P_USED, 2); }
static uint32_t used_id(unsigned n) { return *(volatile uint32_t *)AT(P_USED, 4 + 8 * (n % QSIZE)); }
static uint32_t used_len(unsigned n) { return *(volatile uint32_t *)AT(P_USED, 8 + 8 * (n % QSIZE)); }

/* The device may write the used ring's index and elements. */
static void allow_used(void) { allow(AT(P_USED, 2), 2 + 8 * QSIZE); }

static int wait_used(uint16_t n)
{
    uint64_t t0 = ticks();
    while (used_idx() != n)
        if (ticks() - t0 > WAIT_MS * TICKS_PER_MS)
            return 0;
    barrier();
    return 1;
}

/* Waits for the n-th used element (1-based) and checks it names `head`
 * with `len` bytes written. */
static void expect_used(uint16_t n, uint16_t head, uint32_t len)
{
    CHECK(wait_used(n), "request not completed", used_idx());
    CHECK(used_id(n - 1) == head, "used element names another chain", used_id(n - 1));
    CHECK(used_len(n - 1) == len, "used length", used_len(n - 1));
}

/* The device refused the chain: NEEDS_RESET (with the configuration-change
 * interrupt when DRIVER_OK was set, 2.1.2), nothing used, nothing written. */
static void expect_needs_reset(struct vdev *d, int live)
{
    uint64_t t0 = ticks();
    while (!(vr(d, R_STATUS) & S_NEEDS_RESET))
        CHECK(ticks() - t0 < WAIT_MS * TICKS_PER_MS, "DEVICE_NEEDS_RESET not set",
              vr(d, R_STATUS));
    /* The interrupt may follow the status bit by a moment: a driver taking
     * it reads the status after, which is the order that matters. */
    while (live && !(vr(d, R_INTERRUPT_STATUS) & INT_CONFIG))
        CHECK(ticks() - t0 < WAIT_MS * TICKS_PER_MS,
              "no configuration-change interrupt with NEEDS_RESET", vr(d, R_INTERRUPT_STATUS));
    quiet(QUIET_MS);
    uint32_t isr = vr(d, R_INTERRUPT_STATUS);
    CHECK(!(isr & INT_USED), "used-buffer interrupt for a refused chain", isr);
    CHECK(used_idx() == 0, "a refused chain was used", used_idx());
    arena_check();
}

/* Nothing happens: no status change, nothing used, nothing written. */
static void expect_nothing(struct vdev *d, uint32_t status)
{
    quiet(QUIET_MS);
    CHECK(vr(d, R_STATUS) == status, "device status changed", vr(d, R_STATUS));
    CHECK(used_idx() == 0, "a buffer was used", used_idx());
    CHECK(vr(d, R_INTERRUPT_STATUS) == 0, "an interrupt was raised", vr(d, R_INTERRUPT_STATUS));
    arena_check();
}

/* --- virtio-blk requests (5.2.6) --- */

static int sector5_written;

static uint8_t expected_disk_byte(uint64_t s, unsigned i)
{
    static const char magic[] = HOSTILE_MAGIC;
    if (s == 0 && i < sizeof(magic) - 1)
        return (uint8_t)magic[i];
    if (s == HOSTILE_WRITE_SECTOR && sector5_written)
        return hostile_guest_byte(i);
    return hostile_disk_byte(s, i);
}

static void expect_sector(const uint8_t *p, uint64_t s)
{
    for (unsigned i = 0; i < 512; i++)
        CHECK(p[i] == expected_disk_byte(s, i), "sector data differs from the disk image",
              s << 16 | i);
}

static void blk_hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
    g32(h, type);
    g32(h + 4, 0);
    g64(h + 8, sector);
}

/* Fills [p, p + len) of the arena (both copies) with a byte. */
static void gfill(uint8_t *p, uint8_t v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        g8(p + i, v);
}

/* Descriptors 0..2 of table `t`: header, data (`len` bytes: DATA,
 * device-writable, for IN; OUTBUF, device-readable, otherwise), status. */
static void blk_chain3(void *t, uint32_t type, uint64_t sector, uint32_t len)
{
    blk_hdr(HDR, type, sector);
    int in = type != BLK_OUT;
    set_desc(t, 0, GPA(HDR), 16, D_NEXT, 1);
    set_desc(t, 1, GPA(in ? DATA : OUTBUF), len, D_NEXT | (in ? D_WRITE : 0), 2);
    set_desc(t, 2, GPA(STATUS), 1, D_WRITE, 0);
    g8(STATUS, STATUS_UNTOUCHED);
}

/* A read of sector `s` on a live blk queue: the n-th request. */
static void blk_read_ok(uint64_t s)
{
    uint16_t n = (uint16_t)(blk.avail_idx + 1);
    gfill(DATA, 0, 512);
    blk_chain3(DESC, BLK_IN, s, 512);
    allow(DATA, 512);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    notify(&blk);
    expect_used(n, 0, 513);
    CHECK(*STATUS == BLK_S_OK, "read status", *STATUS);
    expect_sector(DATA, s);
}

/* A request on descriptors 0..2 that must fail with `status`, touching only
 * its status byte and the used ring. */
static void blk_expect_status(uint32_t type, uint64_t sector, uint32_t len, uint8_t status)
{
    uint16_t n = (uint16_t)(blk.avail_idx + 1);
    blk_chain3(DESC, type, sector, len);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    notify(&blk);
    expect_used(n, 0, 1);
    CHECK(*STATUS == status, "status byte", *STATUS);
    g8(STATUS, STATUS_UNTOUCHED); /* keep the shadow in step */
    arena_check();
    CHECK(!(vr(&blk, R_STATUS) & S_NEEDS_RESET), "NEEDS_RESET for a request error",
          vr(&blk, R_STATUS));
}

/* A request with a device-readable payload of `len` bytes at OUTBUF that
 * must fail with `status` (discard / write zeroes segments). */
static void blk_expect_payload_status(uint32_t type, uint32_t len, uint8_t status)
{
    uint16_t n = (uint16_t)(blk.avail_idx + 1);
    blk_hdr(HDR, type, 0);
    set_desc(DESC, 0, GPA(HDR), 16, D_NEXT, 1);
    set_desc(DESC, 1, GPA(OUTBUF), len, D_NEXT, 2);
    set_desc(DESC, 2, GPA(STATUS), 1, D_WRITE, 0);
    g8(STATUS, STATUS_UNTOUCHED);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    notify(&blk);
    expect_used(n, 0, 1);
    CHECK(*STATUS == status, "status byte", *STATUS);
    g8(STATUS, STATUS_UNTOUCHED);
    arena_check();
    CHECK(!(vr(&blk, R_STATUS) & S_NEEDS_RESET), "NEEDS_RESET for a request error",
          vr(&blk, R_STATUS));
}

/* Discard / write-zeroes segment i at OUTBUF. */
static void blk_segment(unsigned i, uint64_t sector, uint32_t nsec, uint32_t flags)
{
    g64(OUTBUF + 16 * i, sector);
    g32(OUTBUF + 16 * i + 8, nsec);
    g32(OUTBUF + 16 * i + 12, flags);
}

/* --- virtio-rng requests (5.4) --- */

/* Reads `len` random bytes into DATA; checks the length and that the
 * buffer changed. */
static void rng_read_ok(uint32_t len)
{
    uint16_t n = (uint16_t)(rng.avail_idx + 1);
    gfill(DATA, 0, len);
    set_desc(DESC, 0, GPA(DATA), len, D_WRITE, 0);
    allow(DATA, len);
    allow_used();
    post(&rng, 0);
    notify(&rng);
    expect_used(n, 0, len);
    unsigned nonzero = 0;
    for (unsigned i = 0; i < len; i++)
        nonzero += DATA[i] != 0;
    CHECK(nonzero > len / 2, "rng bytes look unwritten", nonzero);
}

/* --- case bookkeeping --- */

static struct vdev *case_dev;

static void case_begin(unsigned id, const char *name, struct vdev *d)
{
    case_id = id;
    case_name = name;
    case_dev = d;
    arena_fill();
}

/* After a case: nothing outside the allowed ranges changed; the device,
 * reset and set up afresh, works again. */
static void case_end(void)
{
    arena_check();
    far_check();
    CHECK(image_checksum() == code_sum, "the guest's code or read-only data changed", 0);
    dev_reset(&blk);
    dev_reset(&rng);
    arena_fill();
    setup(case_dev, STD_FEATURES);
    if (case_dev == &blk)
        blk_read_ok(0);
    else
        rng_read_ok(64);
    arena_check();
    dev_reset(case_dev);
    puts_("case ");
    putdec(case_id);
    puts_(" ");
    puts_(case_name);
    puts_(": ok\n");
    cases_passed++;
}

/* --- well-formed requests --- */

static void case_identify(void)
{
    case_begin(1, "identify-devices", &blk);
    static struct vdev *const devs[] = { &rng, &blk };
    for (unsigned i = 0; i < 2; i++) {
        CHECK(vr(devs[i], R_MAGIC) == 0x74726976, "magic", vr(devs[i], R_MAGIC));
        CHECK(vr(devs[i], R_VERSION) == 2, "version", vr(devs[i], R_VERSION));
        CHECK(vr(devs[i], R_DEVICE_ID) == devs[i]->id, "device id", vr(devs[i], R_DEVICE_ID));
    }
    uint64_t cap = vr(&blk, R_CONFIG) | (uint64_t)vr(&blk, R_CONFIG + 4) << 32;
    CHECK(cap == HOSTILE_DISK_SECTORS, "disk capacity", cap);
    case_end();
}

static void case_blk_read(void)
{
    case_begin(2, "blk-read-sector-0", &blk);
    setup(&blk, STD_FEATURES);
    blk_read_ok(0);
    CHECK(vr(&blk, R_INTERRUPT_STATUS) & INT_USED, "no used-buffer interrupt",
          vr(&blk, R_INTERRUPT_STATUS));
    vw(&blk, R_INTERRUPT_ACK, INT_USED);
    CHECK(vr(&blk, R_INTERRUPT_STATUS) == 0, "interrupt not acknowledged",
          vr(&blk, R_INTERRUPT_STATUS));
    blk_read_ok(1);
    blk_read_ok(HOSTILE_DISK_SECTORS - 1);
    case_end();
}

static void case_blk_write(void)
{
    case_begin(3, "blk-write-and-read-back", &blk);
    setup(&blk, STD_FEATURES);
    for (unsigned i = 0; i < 512; i++)
        g8(OUTBUF + i, hostile_guest_byte(i));
    blk_chain3(DESC, BLK_OUT, HOSTILE_WRITE_SECTOR, 512);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    notify(&blk);
    expect_used(1, 0, 1);
    CHECK(*STATUS == BLK_S_OK, "write status", *STATUS);
    sector5_written = 1;
    blk_read_ok(HOSTILE_WRITE_SECTOR);
    case_end();
}

static void case_blk_get_id(void)
{
    case_begin(4, "blk-get-id", &blk);
    setup(&blk, STD_FEATURES);
    gfill(DATA, 0xff, 20);
    blk_chain3(DESC, BLK_GET_ID, 0, 20);
    allow(DATA, 20);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    notify(&blk);
    expect_used(1, 0, 21);
    CHECK(*STATUS == BLK_S_OK, "GET_ID status", *STATUS);
    static const char serial[] = HOSTILE_DISK_SERIAL;
    for (unsigned i = 0; i < 20; i++)
        CHECK(DATA[i] == (i < sizeof(serial) - 1 ? (uint8_t)serial[i] : 0), "serial byte",
              (uint64_t)i << 8 | DATA[i]);
    case_end();
}

static void case_rng_read(void)
{
    case_begin(5, "rng-read", &rng);
    setup(&rng, STD_FEATURES);
    rng_read_ok(64);
    /* Two writable buffers in one chain, with a guard between them. */
    uint16_t n = (uint16_t)(rng.avail_idx + 1);
    gfill(DATA, 0, 64);
    gfill(DATA + 512, 0, 64);
    set_desc(DESC, 0, GPA(DATA), 32, D_WRITE | D_NEXT, 1);
    set_desc(DESC, 1, GPA(DATA + 512), 32, D_WRITE, 0);
    allow(DATA, 32);
    allow(DATA + 512, 32);
    post(&rng, 0);
    notify(&rng);
    expect_used(n, 0, 64);
    case_end();
}

static void case_blk_read_indirect(void)
{
    case_begin(6, "blk-read-indirect", &blk);
    setup(&blk, STD_FEATURES);
    gfill(DATA, 0, 512);
    blk_chain3(TABLE, BLK_IN, 2, 512);
    set_desc(DESC, 0, GPA(TABLE), 48, D_INDIRECT, 0);
    allow(DATA, 512);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    notify(&blk);
    expect_used(1, 0, 513);
    CHECK(*STATUS == BLK_S_OK, "status", *STATUS);
    expect_sector(DATA, 2);
    /* Direct descriptors, then one indirect one (2.7.5.3.2). */
    gfill(DATA, 0, 512);
    blk_hdr(HDR, BLK_IN, 3);
    set_desc(DESC, 0, GPA(HDR), 16, D_NEXT, 1);
    set_desc(DESC, 1, GPA(TABLE), 32, D_INDIRECT, 0);
    set_desc(TABLE, 0, GPA(DATA), 512, D_WRITE | D_NEXT, 1);
    set_desc(TABLE, 1, GPA(STATUS), 1, D_WRITE, 0);
    g8(STATUS, STATUS_UNTOUCHED);
    post(&blk, 0);
    notify(&blk);
    expect_used(2, 0, 513);
    CHECK(*STATUS == BLK_S_OK, "status", *STATUS);
    expect_sector(DATA, 3);
    case_end();
}

/* Framing the device must not assume (2.6.4): a header split in two, data
 * and status in one buffer, an empty buffer at the end. */
static void case_blk_framing(void)
{
    case_begin(7, "blk-any-framing", &blk);
    setup(&blk, STD_FEATURES);
    gfill(DATA, 0, 513);
    blk_hdr(HDR, BLK_IN, 4);
    set_desc(DESC, 0, GPA(HDR), 8, D_NEXT, 1);
    set_desc(DESC, 1, GPA(HDR) + 8, 8, D_NEXT, 2);
    set_desc(DESC, 2, GPA(DATA), 512, D_WRITE | D_NEXT, 3);
    set_desc(DESC, 3, GPA(STATUS), 1, D_WRITE, 0);
    g8(STATUS, STATUS_UNTOUCHED);
    allow(DATA, 513);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    notify(&blk);
    expect_used(1, 0, 513);
    CHECK(*STATUS == BLK_S_OK, "split header: status", *STATUS);
    expect_sector(DATA, 4);

    gfill(DATA, 0, 513);
    blk_hdr(HDR, BLK_IN, 0);
    set_desc(DESC, 0, GPA(HDR), 16, D_NEXT, 1);
    set_desc(DESC, 1, GPA(DATA), 513, D_WRITE, 0);
    post(&blk, 0);
    notify(&blk);
    expect_used(2, 0, 513);
    CHECK(DATA[512] == BLK_S_OK, "data and status in one buffer: status", DATA[512]);
    expect_sector(DATA, 0);

    /* The status byte is the last byte the device may write: here the
     * data buffer's, since an empty buffer (at an address that is no RAM)
     * ends the chain. */
    gfill(DATA, 0, 513);
    set_desc(DESC, 0, GPA(HDR), 16, D_NEXT, 1);
    set_desc(DESC, 1, GPA(DATA), 513, D_WRITE | D_NEXT, 2);
    set_desc(DESC, 2, OUTSIDE_RAM, 0, D_WRITE, 0);
    post(&blk, 0);
    notify(&blk);
    expect_used(3, 0, 513);
    CHECK(DATA[512] == BLK_S_OK, "empty last buffer: status", DATA[512]);
    expect_sector(DATA, 0);
    case_end();
}

/* --- malformed chains: DEVICE_NEEDS_RESET --- */

/* Posts chain 0 on a freshly set-up device and expects NEEDS_RESET. */
static void post_expect_reset(struct vdev *d)
{
    post(d, 0);
    notify(d);
    expect_needs_reset(d, 1);
}

/* The usual read on descriptors 0..2 with descriptor 1 (the data buffer)
 * replaced: a malformed buffer. */
static void case_bad_data_buffer(unsigned id, const char *name, uint64_t addr, uint32_t len)
{
    case_begin(id, name, &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    set_desc(DESC, 1, addr, len, D_NEXT | D_WRITE, 2);
    post_expect_reset(&blk);
    case_end();
}

static void case_loop(void)
{
    case_begin(20, "descriptor-loop", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    set_desc(DESC, 2, GPA(STATUS), 1, D_WRITE | D_NEXT, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(21, "descriptor-loop-writable-only", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    set_desc(DESC, 2, GPA(STATUS), 1, D_WRITE | D_NEXT, 1);
    post_expect_reset(&blk);
    case_end();

    case_begin(22, "rng-descriptor-self-loop", &rng);
    setup(&rng, STD_FEATURES);
    set_desc(DESC, 0, GPA(DATA), 64, D_WRITE | D_NEXT, 0);
    post_expect_reset(&rng);
    case_end();
}

static void case_bad_indices(void)
{
    case_begin(23, "next-beyond-queue", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    set_desc(DESC, 1, GPA(DATA), 512, D_NEXT | D_WRITE, QSIZE);
    post_expect_reset(&blk);
    case_end();

    case_begin(24, "next-0xffff", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    set_desc(DESC, 0, GPA(HDR), 16, D_NEXT, 0xffff);
    post_expect_reset(&blk);
    case_end();

    case_begin(25, "head-beyond-queue", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    post(&blk, QSIZE);
    notify(&blk);
    expect_needs_reset(&blk, 1);
    case_end();

    case_begin(26, "driver-index-leaps-past-queue", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    g16(AT(P_AVAIL, 4), 0);
    barrier();
    g16(AT(P_AVAIL, 2), QSIZE + 1);
    notify(&blk);
    expect_needs_reset(&blk, 1);
    case_end();
}

static void case_bad_addresses(void)
{
    case_bad_data_buffer(30, "buffer-outside-ram", OUTSIDE_RAM, 512);
    case_bad_data_buffer(31, "buffer-across-end-of-ram", RAM_END - 256, 512);
    case_bad_data_buffer(32, "buffer-in-foreign-mmio", FOREIGN_MMIO, 8);
    case_bad_data_buffer(33, "buffer-in-the-device-itself", blk.base, 512);
    case_bad_data_buffer(34, "addr-plus-len-wraps-64-bits", 0xffffffffffffff00ULL, 0x200);
    case_bad_data_buffer(35, "len-4GiB-from-ram", RAM_BASE + (1UL << 20), 0xffffffffu);
    case_bad_data_buffer(36, "buffer-at-top-of-address-space", 0xffffffffffffffffULL, 1);

    case_begin(37, "header-outside-ram", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    set_desc(DESC, 0, OUTSIDE_RAM, 16, D_NEXT, 1);
    post_expect_reset(&blk);
    case_end();

    case_begin(38, "write-from-foreign-mmio", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_OUT, 7, 512);
    set_desc(DESC, 1, FOREIGN_MMIO, 512, D_NEXT, 2);
    post_expect_reset(&blk);
    case_end();

    case_begin(39, "rng-buffer-in-the-device-itself", &rng);
    setup(&rng, STD_FEATURES);
    set_desc(DESC, 0, rng.base, 64, D_WRITE, 0);
    post_expect_reset(&rng);
    case_end();

    case_begin(40, "rng-buffer-outside-ram", &rng);
    setup(&rng, STD_FEATURES);
    set_desc(DESC, 0, OUTSIDE_RAM, 64, D_WRITE, 0);
    post_expect_reset(&rng);
    case_end();
}

static void case_bad_indirect(void)
{
    case_begin(50, "nested-indirect-table", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(TABLE + 1024, BLK_IN, 0, 512);
    set_desc(TABLE, 0, GPA(TABLE + 1024), 48, D_INDIRECT, 0);
    set_desc(DESC, 0, GPA(TABLE), 16, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(51, "indirect-table-above-limit", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(TABLE, BLK_IN, 0, 512);
    set_desc(DESC, 0, GPA(TABLE), 1025 * 16, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(52, "indirect-length-not-multiple-of-16", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(TABLE, BLK_IN, 0, 512);
    set_desc(DESC, 0, GPA(TABLE), 40, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(53, "indirect-length-zero", &blk);
    setup(&blk, STD_FEATURES);
    set_desc(DESC, 0, GPA(TABLE), 0, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(54, "indirect-with-next", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(TABLE, BLK_IN, 0, 512);
    set_desc(DESC, 0, GPA(TABLE), 48, D_INDIRECT | D_NEXT, 1);
    set_desc(DESC, 1, GPA(STATUS2), 1, D_WRITE, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(55, "indirect-not-negotiated", &blk);
    setup(&blk, F_VERSION_1);
    blk_chain3(TABLE, BLK_IN, 0, 512);
    set_desc(DESC, 0, GPA(TABLE), 48, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(56, "indirect-next-beyond-table", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(TABLE, BLK_IN, 0, 512);
    set_desc(TABLE, 1, GPA(DATA), 512, D_NEXT | D_WRITE, 3);
    set_desc(DESC, 0, GPA(TABLE), 48, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(57, "indirect-loop", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(TABLE, BLK_IN, 0, 512);
    set_desc(TABLE, 2, GPA(STATUS), 1, D_WRITE | D_NEXT, 1);
    set_desc(DESC, 0, GPA(TABLE), 48, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(58, "indirect-table-outside-ram", &blk);
    setup(&blk, STD_FEATURES);
    set_desc(DESC, 0, OUTSIDE_RAM, 48, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(59, "indirect-table-in-the-device", &blk);
    setup(&blk, STD_FEATURES);
    set_desc(DESC, 0, blk.base, 48, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();
}

static void case_bad_blk_requests(void)
{
    case_begin(60, "readable-after-writable", &blk);
    setup(&blk, STD_FEATURES);
    for (unsigned i = 0; i < 512; i++)
        g8(OUTBUF + i, (uint8_t)~hostile_guest_byte(i));
    blk_hdr(HDR, BLK_OUT, 7);
    set_desc(DESC, 0, GPA(HDR), 16, D_NEXT, 1);
    set_desc(DESC, 1, GPA(STATUS2), 1, D_NEXT | D_WRITE, 2);
    set_desc(DESC, 2, GPA(OUTBUF), 512, D_NEXT, 3);
    set_desc(DESC, 3, GPA(STATUS), 1, D_WRITE, 0);
    g8(STATUS, STATUS_UNTOUCHED);
    g8(STATUS2, STATUS_UNTOUCHED);
    post_expect_reset(&blk);
    case_end();

    case_begin(61, "blk-no-status-byte", &blk);
    setup(&blk, STD_FEATURES);
    blk_hdr(HDR, BLK_IN, 0);
    set_desc(DESC, 0, GPA(HDR), 16, 0, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(62, "blk-write-without-status-byte", &blk);
    setup(&blk, STD_FEATURES);
    for (unsigned i = 0; i < 512; i++)
        g8(OUTBUF + i, (uint8_t)~hostile_guest_byte(i));
    blk_hdr(HDR, BLK_OUT, 7);
    set_desc(DESC, 0, GPA(HDR), 16, D_NEXT, 1);
    set_desc(DESC, 1, GPA(OUTBUF), 512, 0, 0);
    post_expect_reset(&blk);
    case_end();

    case_begin(63, "blk-short-header", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    set_desc(DESC, 0, GPA(HDR), 8, D_NEXT, 1);
    post_expect_reset(&blk);
    case_end();

    case_begin(64, "blk-header-only-writable", &blk);
    setup(&blk, STD_FEATURES);
    blk_chain3(DESC, BLK_IN, 0, 512);
    set_desc(DESC, 0, GPA(HDR), 16, D_NEXT | D_WRITE, 1);
    post_expect_reset(&blk);
    case_end();
}

/* --- transport rules --- */

/* QueueNum / ring addresses the device must refuse at QueueReady: the queue
 * stays not ready, the device NEEDS_RESET, and a driver that carries on
 * gets nothing done. */
static void case_bad_queue(unsigned id, const char *name, uint32_t num, uint64_t desc,
                           uint64_t drv, uint64_t dev)
{
    case_begin(id, name, &blk);
    uint64_t offered = dev_start(&blk);
    CHECK(dev_accept(&blk, offered & STD_FEATURES) & S_FEATURES_OK, "FEATURES_OK", 0);
    rings_init();
    queue_program_at(&blk, num, desc, drv, dev);
    vw(&blk, R_QUEUE_READY, 1);
    CHECK(vr(&blk, R_QUEUE_READY) == 0, "the queue went ready", vr(&blk, R_QUEUE_READY));
    CHECK(vr(&blk, R_STATUS) & S_NEEDS_RESET, "NEEDS_RESET not set", vr(&blk, R_STATUS));
    driver_ok(&blk);
    blk_chain3(DESC, BLK_IN, 0, 512);
    post(&blk, 0);
    notify(&blk);
    expect_nothing(&blk, S_READY | S_NEEDS_RESET);
    case_end();
}

static void case_transport(void)
{
    uint64_t desc = GPA(AT(P_DESC, 0)), drv = GPA(AT(P_AVAIL, 0)), dev = GPA(AT(P_USED, 0));
    case_bad_queue(70, "queue-size-3", 3, desc, drv, dev);
    case_bad_queue(71, "queue-size-0", 0, desc, drv, dev);
    case_bad_queue(72, "queue-size-above-max", 0x10000, desc, drv, dev);
    case_bad_queue(73, "queue-size-max-plus-power", 2048, desc, drv, dev);
    case_bad_queue(74, "descriptor-table-outside-ram", QSIZE, OUTSIDE_RAM, drv, dev);
    case_bad_queue(75, "driver-ring-in-mmio", QSIZE, desc, FOREIGN_MMIO, dev);
    case_bad_queue(76, "device-ring-across-end-of-ram", QSIZE, desc, drv, RAM_END - 64);
    case_bad_queue(77, "device-ring-misaligned", QSIZE, desc, drv, dev + 2);
    case_bad_queue(78, "descriptor-table-misaligned", QSIZE, desc + 8, drv, dev);

    /* Notifications before DRIVER_OK are not acted on; the same request
     * goes through once DRIVER_OK is set and the driver notifies again. */
    case_begin(79, "notify-before-driver-ok", &blk);
    setup_features(&blk, STD_FEATURES);
    gfill(DATA, 0, 512);
    blk_chain3(DESC, BLK_IN, 0, 512);
    post(&blk, 0);
    notify(&blk);
    notify(&blk);
    expect_nothing(&blk, S_ACK | S_DRIVER | S_FEATURES_OK);
    driver_ok(&blk);
    allow(DATA, 512);
    allow(STATUS, 1);
    allow_used();
    notify(&blk);
    expect_used(1, 0, 513);
    CHECK(*STATUS == BLK_S_OK, "status", *STATUS);
    expect_sector(DATA, 0);
    case_end();

    case_begin(80, "rng-notify-before-features-ok", &rng);
    dev_start(&rng);
    rings_init();
    set_desc(DESC, 0, GPA(DATA), 64, D_WRITE, 0);
    post(&rng, 0);
    notify(&rng);
    expect_nothing(&rng, S_ACK | S_DRIVER);
    case_end();

    /* A notification naming a queue the device does not have: the request
     * may or may not be looked at (the ioeventfd on kvm wakes the worker
     * for any value), but nothing breaks and a proper one completes it. */
    case_begin(81, "notify-nonexistent-queue", &blk);
    setup(&blk, STD_FEATURES);
    gfill(DATA, 0, 512);
    blk_chain3(DESC, BLK_IN, 0, 512);
    allow(DATA, 512);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    vw(&blk, R_QUEUE_NOTIFY, 7);
    vw(&blk, R_QUEUE_NOTIFY, 0xffffffffu);
    quiet(QUIET_MS);
    CHECK(!(vr(&blk, R_STATUS) & S_NEEDS_RESET), "NEEDS_RESET", vr(&blk, R_STATUS));
    notify(&blk);
    expect_used(1, 0, 513);
    expect_sector(DATA, 0);
    case_end();

    /* Registers of a queue that does not exist read as zero and ignore
     * writes. */
    case_begin(82, "select-nonexistent-queue", &blk);
    dev_start(&blk);
    vw(&blk, R_QUEUE_SEL, 5);
    CHECK(vr(&blk, R_QUEUE_NUM_MAX) == 0, "QueueNumMax of queue 5", vr(&blk, R_QUEUE_NUM_MAX));
    vw(&blk, R_QUEUE_NUM, 8);
    vw(&blk, R_QUEUE_READY, 1);
    CHECK(vr(&blk, R_QUEUE_READY) == 0, "queue 5 ready", vr(&blk, R_QUEUE_READY));
    case_end();
}

static uint8_t mmio_r8(uintptr_t a) { mmio_accesses++; return *(volatile uint8_t *)a; }
static uint16_t mmio_r16(uintptr_t a) { mmio_accesses++; return *(volatile uint16_t *)a; }

static void mmio_w8(uintptr_t a, uint8_t v)
{
    mmio_accesses++;
    *(volatile uint8_t *)a = v;
}

static void mmio_w16(uintptr_t a, uint16_t v)
{
    mmio_accesses++;
    *(volatile uint16_t *)a = v;
}

static void case_registers(void)
{
    /* Config space: reads past its end are zero, the read-only fields
     * ignore writes. */
    case_begin(83, "config-space-bounds", &blk);
    setup(&blk, STD_FEATURES);
    CHECK(vr(&blk, R_CONFIG + 58) == 0, "read across the end of config space",
          vr(&blk, R_CONFIG + 58));
    CHECK(vr(&blk, R_CONFIG + 0xefc) == 0, "read at the end of the window",
          vr(&blk, R_CONFIG + 0xefc));
    CHECK(mmio_r8(blk.base + 0xfff) == 0, "last byte of the window", 0);
    vw(&blk, R_CONFIG, 0xffffffffu);
    mmio_w8(blk.base + R_CONFIG + 1, 0xff);
    CHECK(vr(&blk, R_CONFIG) == HOSTILE_DISK_SECTORS, "capacity after writes", vr(&blk, R_CONFIG));
    CHECK(mmio_r8(blk.base + R_CONFIG) == HOSTILE_DISK_SECTORS, "capacity, one byte", 0);
    CHECK(vr(&rng, R_CONFIG) == 0, "rng has no config space", vr(&rng, R_CONFIG));
    blk_read_ok(0);
    case_end();

    /* Registers are 32-bit: narrower writes do nothing (not even a reset
     * through Status), narrower reads see nothing, unknown offsets and
     * read-only registers ignore writes, selectors out of range read 0. */
    case_begin(84, "register-widths-and-offsets", &blk);
    setup(&blk, STD_FEATURES);
    mmio_w8(blk.base + R_STATUS, 0);
    mmio_w16(blk.base + R_STATUS, 0);
    CHECK(vr(&blk, R_STATUS) == S_READY, "status after narrow writes", vr(&blk, R_STATUS));
    CHECK(mmio_r16(blk.base + R_MAGIC) == 0, "16-bit read of the magic", 0);
    vw(&blk, R_MAGIC, 0);
    vw(&blk, R_DEVICE_ID, 7);
    vw(&blk, R_QUEUE_NUM_MAX, 1);
    vw(&blk, 0x0fc, 0x1234);
    vw(&blk, 0x0f0, 0xffffffffu);
    vw(&blk, 0x0ffc, 0xffffffffu);
    CHECK(vr(&blk, R_MAGIC) == 0x74726976, "magic after a write", vr(&blk, R_MAGIC));
    CHECK(vr(&blk, R_DEVICE_ID) == 2, "device id after a write", vr(&blk, R_DEVICE_ID));
    vw(&blk, R_DEVICE_FEATURES_SEL, 2);
    CHECK(vr(&blk, R_DEVICE_FEATURES) == 0, "features word 2", vr(&blk, R_DEVICE_FEATURES));
    vw(&blk, R_DEVICE_FEATURES_SEL, 0xffffffffu);
    CHECK(vr(&blk, R_DEVICE_FEATURES) == 0, "features word ~0", vr(&blk, R_DEVICE_FEATURES));
    vw(&blk, R_DRIVER_FEATURES_SEL, 0xffffffffu);
    vw(&blk, R_DRIVER_FEATURES, 0xffffffffu);
    vw(&blk, R_QUEUE_SEL, 0xffffffffu);
    CHECK(vr(&blk, R_QUEUE_NUM_MAX) == 0, "QueueNumMax of queue ~0", vr(&blk, R_QUEUE_NUM_MAX));
    vw(&blk, R_QUEUE_SEL, 0);
    /* A live queue's layout cannot change. */
    vw(&blk, R_QUEUE_NUM, 2);
    vw(&blk, R_QUEUE_DESC, (uint32_t)OUTSIDE_RAM);
    vw(&blk, R_QUEUE_DEVICE, (uint32_t)FOREIGN_MMIO);
    CHECK(vr(&blk, R_STATUS) == S_READY, "status after the register writes", vr(&blk, R_STATUS));
    blk_read_ok(0);
    blk_read_ok(1);
    blk_read_ok(2);
    case_end();
}

static void case_features(void)
{
    uint64_t offered;

    case_begin(90, "feature-not-offered-low", &blk);
    offered = dev_start(&blk);
    CHECK(!(offered & 2), "bit 1 offered", offered);
    CHECK(!(dev_accept(&blk, (offered & STD_FEATURES) | 2) & S_FEATURES_OK),
          "FEATURES_OK stuck with bit 1", vr(&blk, R_STATUS));
    case_end();

    case_begin(91, "feature-not-offered-high", &blk);
    offered = dev_start(&blk);
    CHECK(!(offered & 1ULL << 63), "bit 63 offered", offered);
    CHECK(!(dev_accept(&blk, (offered & STD_FEATURES) | 1ULL << 63) & S_FEATURES_OK),
          "FEATURES_OK stuck with bit 63", vr(&blk, R_STATUS));
    case_end();

    case_begin(92, "features-without-version-1", &blk);
    offered = dev_start(&blk);
    CHECK(!(dev_accept(&blk, offered & F_INDIRECT) & S_FEATURES_OK),
          "FEATURES_OK stuck without VERSION_1", vr(&blk, R_STATUS));
    case_end();

    case_begin(93, "rng-feature-not-offered", &rng);
    offered = dev_start(&rng);
    CHECK(!(offered & 1), "rng offers bit 0", offered);
    CHECK(!(dev_accept(&rng, (offered & STD_FEATURES) | 1) & S_FEATURES_OK),
          "FEATURES_OK stuck with bit 0", vr(&rng, R_STATUS));
    case_end();

    /* Features written after FEATURES_OK are not taken: INDIRECT_DESC
     * accepted late is not negotiated. */
    case_begin(94, "features-after-features-ok", &blk);
    setup_features(&blk, F_VERSION_1);
    vw(&blk, R_DRIVER_FEATURES_SEL, 0);
    vw(&blk, R_DRIVER_FEATURES, (uint32_t)F_INDIRECT);
    driver_ok(&blk);
    blk_chain3(TABLE, BLK_IN, 0, 512);
    set_desc(DESC, 0, GPA(TABLE), 48, D_INDIRECT, 0);
    post_expect_reset(&blk);
    case_end();
}

/* --- request errors: IOERR, the device stays usable --- */

static void case_blk_errors(void)
{
    case_begin(100, "blk-beyond-capacity", &blk);
    setup(&blk, STD_FEATURES);
    blk_expect_status(BLK_IN, HOSTILE_DISK_SECTORS, 512, BLK_S_IOERR);
    blk_expect_status(BLK_IN, HOSTILE_DISK_SECTORS - 1, 1024, BLK_S_IOERR);
    blk_expect_status(BLK_IN, ~0ULL, 512, BLK_S_IOERR);
    blk_expect_status(BLK_IN, 1ULL << 55, 512, BLK_S_IOERR); /* sector * 512 wraps */
    blk_expect_status(BLK_IN, 0, 100, BLK_S_IOERR);          /* not whole sectors */
    blk_expect_status(BLK_OUT, HOSTILE_DISK_SECTORS, 512, BLK_S_IOERR);
    blk_expect_status(BLK_OUT, ~0ULL, 512, BLK_S_IOERR);
    blk_expect_status(0x55, 0, 512, BLK_S_UNSUPP);
    blk_read_ok(0); /* the same queue, no reset: the device is fine */
    case_end();

    /* Discard and write zeroes outside the disk or malformed: refused, the
     * image untouched (the host checks it). */
    case_begin(105, "blk-discard-out-of-range", &blk);
    setup(&blk, STD_FEATURES | F_BLK_DISCARD | F_BLK_WRITE_ZEROES);
    blk_segment(0, HOSTILE_DISK_SECTORS, 1, 0);
    blk_expect_payload_status(BLK_DISCARD, 16, BLK_S_IOERR);
    blk_segment(0, HOSTILE_DISK_SECTORS - 1, 2, 0);
    blk_expect_payload_status(BLK_WRITE_ZEROES, 16, BLK_S_IOERR);
    blk_segment(0, ~0ULL, 1, 0);
    blk_expect_payload_status(BLK_WRITE_ZEROES, 16, BLK_S_IOERR);
    blk_segment(0, 8, 0xffffffffu, 0);
    blk_expect_payload_status(BLK_DISCARD, 16, BLK_S_IOERR);
    blk_segment(0, 8, 1, 2); /* a flag that does not exist */
    blk_expect_payload_status(BLK_DISCARD, 16, BLK_S_IOERR);
    blk_segment(0, 8, 1, 0); /* good segment, bad one second: nothing done */
    blk_segment(1, HOSTILE_DISK_SECTORS, 1, 0);
    blk_expect_payload_status(BLK_WRITE_ZEROES, 32, BLK_S_IOERR);
    blk_expect_payload_status(BLK_DISCARD, 8, BLK_S_UNSUPP); /* not whole segments */
    blk_expect_payload_status(BLK_DISCARD, 0, BLK_S_UNSUPP);
    for (unsigned i = 0; i < 33; i++)
        blk_segment(i, 8, 1, 0);
    blk_expect_payload_status(BLK_DISCARD, 33 * 16, BLK_S_UNSUPP); /* above max_discard_seg */
    blk_read_ok(8);
    case_end();

    /* 256 readable buffers of 16 MiB plus 512 bytes: 2^32 + 512 bytes to
     * write, 512 if the sum were kept in 32 bits. */
    case_begin(101, "blk-write-lengths-wrap-32-bits", &blk);
    setup(&blk, STD_FEATURES);
    scratch_fill();
    for (unsigned i = 0; i < 512; i++)
        g8(OUTBUF + i, (uint8_t)~hostile_guest_byte(i));
    blk_hdr(HDR, BLK_OUT, 6);
    set_desc(TABLE, 0, GPA(HDR), 16, D_NEXT, 1);
    for (unsigned i = 1; i <= 256; i++)
        set_desc(TABLE, i, SCRATCH, SCRATCH_LEN, D_NEXT, (uint16_t)(i + 1));
    set_desc(TABLE, 257, GPA(OUTBUF), 512, D_NEXT, 258);
    set_desc(TABLE, 258, GPA(STATUS), 1, D_WRITE, 0);
    set_desc(DESC, 0, GPA(TABLE), 259 * 16, D_INDIRECT, 0);
    g8(STATUS, STATUS_UNTOUCHED);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    notify(&blk);
    expect_used(1, 0, 1);
    CHECK(*STATUS == BLK_S_IOERR, "status", *STATUS);
    scratch_check(0);
    blk_read_ok(6); /* sector 6 still holds the image's bytes */
    case_end();

    /* The same with writable buffers for a read. */
    case_begin(102, "blk-read-lengths-wrap-32-bits", &blk);
    setup(&blk, STD_FEATURES);
    scratch_fill();
    blk_hdr(HDR, BLK_IN, 0);
    set_desc(TABLE, 0, GPA(HDR), 16, D_NEXT, 1);
    for (unsigned i = 1; i <= 256; i++)
        set_desc(TABLE, i, SCRATCH, SCRATCH_LEN, D_NEXT | D_WRITE, (uint16_t)(i + 1));
    set_desc(TABLE, 257, GPA(DATA), 512, D_NEXT | D_WRITE, 258);
    set_desc(TABLE, 258, GPA(STATUS), 1, D_WRITE, 0);
    set_desc(DESC, 0, GPA(TABLE), 259 * 16, D_INDIRECT, 0);
    g8(STATUS, STATUS_UNTOUCHED);
    allow(STATUS, 1);
    allow_used();
    post(&blk, 0);
    notify(&blk);
    expect_used(1, 0, 1);
    CHECK(*STATUS == BLK_S_IOERR, "status", *STATUS);
    scratch_check(0);
    case_end();

    /* rng: 257 writable buffers of 16 MiB. The device fills at most its
     * per-request limit (64 KiB) into the first and says so. */
    case_begin(103, "rng-lengths-wrap-32-bits", &rng);
    setup(&rng, STD_FEATURES);
    scratch_fill();
    for (unsigned i = 0; i < 257; i++)
        set_desc(TABLE, i, SCRATCH, SCRATCH_LEN, i < 256 ? D_NEXT | D_WRITE : D_WRITE,
                 (uint16_t)(i + 1));
    set_desc(DESC, 0, GPA(TABLE), 257 * 16, D_INDIRECT, 0);
    allow_used();
    post(&rng, 0);
    notify(&rng);
    CHECK(wait_used(1), "rng request not completed", used_idx());
    CHECK(used_len(0) == 65536, "rng used length", used_len(0));
    scratch_check(65536);
    case_end();

    /* rng given only a device-readable buffer: nothing to fill. */
    case_begin(104, "rng-readable-buffer", &rng);
    setup(&rng, STD_FEATURES);
    set_desc(DESC, 0, GPA(DATA), 64, 0, 0);
    allow_used();
    post(&rng, 0);
    notify(&rng);
    expect_used(1, 0, 0);
    case_end();
}

/* --- the driver pulls the queue away while the device's worker walks it --- */

/* Each round waits 0..63 steps before pulling the queue, a step being about
 * a microsecond or two: the worker wakes somewhere in that range. */
#if defined(__riscv)
#define RACE_ROUNDS 4000
#define RACE_STEP 64
#else
#define RACE_ROUNDS 400 /* every register access is an exit here */
#define RACE_STEP 1     /* and every guest instruction is emulated */
#endif

/* Chain 0: QSIZE device-readable 4-byte buffers (nothing for the rng to
 * fill, so it answers at once), made available QSIZE times: the worker
 * spends its time walking descriptors. */
static void race_post_round(void)
{
    for (unsigned i = 0; i < QSIZE; i++)
        set_desc(DESC, i, GPA(DATA + 8 * i), 4, i + 1 < QSIZE ? D_NEXT : 0, (uint16_t)(i + 1));
    for (unsigned i = 0; i < QSIZE; i++)
        g16(AT(P_AVAIL, 4 + 2 * i), 0);
    barrier();
    rng.avail_idx = (uint16_t)(rng.avail_idx + QSIZE);
    g16(AT(P_AVAIL, 2), rng.avail_idx);
    notify(&rng);
}

static void race_setup(uint64_t features)
{
    arena_fill();
    allow(DATA, 8 * QSIZE);
    allow_used();
    allow(AT(P_USED, 4 + 8 * QSIZE), 2); /* avail_event (EVENT_IDX) */
    setup(&rng, features);
}

static void race_spin(unsigned n)
{
    for (volatile unsigned k = 0; k < n; k++)
        ;
}

static void case_races(void)
{
    /* QueueReset (VIRTIO_F_RING_RESET) at any moment; the queue set up
     * again at once. */
    case_begin(110, "queue-reset-under-the-worker", &rng);
    race_setup(STD_FEATURES | F_RING_RESET | F_EVENT_IDX);
    unsigned resets = 0;
    for (unsigned r = 0; r < RACE_ROUNDS; r++) {
        race_post_round();
        race_spin(r % 64 * RACE_STEP);
        vw(&rng, R_QUEUE_SEL, 0);
        vw(&rng, R_QUEUE_RESET, 1);
        CHECK(vr(&rng, R_QUEUE_READY) == 0, "queue ready after QueueReset",
              vr(&rng, R_QUEUE_READY));
        rings_init();
        rng.avail_idx = 0;
        queue_program(&rng, QSIZE);
        vw(&rng, R_QUEUE_READY, 1);
        if (vr(&rng, R_STATUS) & S_NEEDS_RESET) {
            resets++;
            race_setup(STD_FEATURES | F_RING_RESET | F_EVENT_IDX);
        }
    }
    case_end();

    /* QueueReady 0, then QueueNum 0 and back, then QueueReady 1. */
    case_begin(111, "queue-off-and-resized-under-the-worker", &rng);
    race_setup(STD_FEATURES | F_EVENT_IDX);
    for (unsigned r = 0; r < RACE_ROUNDS; r++) {
        race_post_round();
        race_spin(r % 64 * RACE_STEP);
        vw(&rng, R_QUEUE_READY, 0);
        vw(&rng, R_QUEUE_NUM, 0);
        vw(&rng, R_QUEUE_NUM, 64);
        vw(&rng, R_QUEUE_NUM, QSIZE);
        vw(&rng, R_QUEUE_READY, 1);
        if (vr(&rng, R_STATUS) & S_NEEDS_RESET) {
            resets++;
            race_setup(STD_FEATURES | F_EVENT_IDX);
        }
    }
    case_end();
    (void)resets;
}

void hostile_main(void)
{
    puts_("hostile: start\n");
    code_sum = image_checksum();
    far_fill();

    case_identify();
    case_blk_read();
    case_blk_write();
    case_blk_get_id();
    case_rng_read();
    case_blk_read_indirect();
    case_blk_framing();

    case_loop();
    case_bad_indices();
    case_bad_addresses();
    case_bad_indirect();
    case_bad_blk_requests();
    case_transport();
    case_registers();
    case_features();
    case_blk_errors();
    case_races();

    /* Both devices, set up once more, side by side. */
    case_id = 126;
    case_name = "final";
    arena_fill();
    setup(&blk, STD_FEATURES);
    blk_read_ok(HOSTILE_WRITE_SECTOR);
    far_check();
    dev_reset(&blk);
    unsigned accesses = mmio_accesses, notifies = notify_writes;
    puts_("hostile: ");
    putdec(cases_passed);
    puts_(" cases passed\nhostile: ");
    putdec(accesses);
    puts_(" register accesses, ");
    putdec(notifies);
    puts_(" of them notifies\nhostile: PASS\n");
    guest_exit(0);
}
