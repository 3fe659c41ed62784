/* A bare-metal balloon driver for both boards (riscv64 on the soft engine,
 * x86_64 on kvm, where x86 Linux does not finish booting on kvm_pvm hosts),
 * run by bindings/python/tests/test_balloon.py (BareMetalBalloonTest). The
 * host configures 64 MiB of RAM and a virtio-balloon alone, so the device
 * sits in virtio slot 0. The guest, talking to the host through the
 * console lines and the balloon's config space:
 *
 *   1. sets the device up (VERSION_1, STATS_VQ; queues 0 inflate, 1
 *      deflate, 2 stats), posts a statistics buffer (MEMFREE, MEMTOT);
 *   2. writes ARENA_PAGES pages ("balloon-guest: touched");
 *   3. waits for the host's target (num_pages >= ARENA_PAGES), inflates
 *      with the arena's PFNs plus two hostile ones (beyond RAM, the largest
 *      PFN), sets actual ("balloon-guest: inflated");
 *   4. waits for the target 0 (the host measured meanwhile: reading a
 *      punched page of a shared memfd commits it again), checks the arena
 *      reads zero: the pages went back to the host ("balloon-guest: ok
 *      pages gone");
 *   5. deflates, sets actual 0, writes the arena again and reads it back
 *      ("balloon-guest: PASS", exit 0).
 * A failure prints "balloon-guest: FAIL <what> <value>" and exits with 1.
 */
#include <stddef.h>
#include <stdint.h>

#include "hostile.h"

#if defined(__riscv)
#define RAM_BASE 0x80000000UL
#define VIRTIO_BASE 0x10001000UL
#define UART_BASE 0x10000000UL
#define TEST_DEVICE 0x100000UL
#define TICKS_PER_MS 10000ULL

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
#define COM1 0x3f8
#define DEBUG_EXIT 0xf4
#define TICKS_PER_MS 4000000ULL /* a TSC of at most 4 GHz: waits only get longer */

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
#error "balloon guest: riscv64 or x86_64 only"
#endif

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

static void say(const char *s)
{
    while (*s)
        console_putc(*s++);
}

static void puthex(uint64_t v)
{
    char buf[16];
    int n = 0;
    do {
        unsigned d = v & 15;
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v >>= 4;
    } while (v);
    say("0x");
    while (n)
        console_putc(buf[--n]);
}

static __attribute__((noreturn)) void fail(const char *what, uint64_t value)
{
    say("balloon-guest: FAIL ");
    say(what);
    say(" ");
    puthex(value);
    say("\n");
    guest_exit(1);
}

#define CHECK(cond, what, value)                                                                   \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(what, value);                                                                     \
    } while (0)

/* The riscv start code's trap vector lands here: any trap is a failure. */
void hostile_trap(uint64_t cause, uint64_t pc, uint64_t tval);
void hostile_trap(uint64_t cause, uint64_t pc, uint64_t tval)
{
    say("balloon-guest: trap at ");
    puthex(pc);
    say(" tval ");
    puthex(tval);
    say("\n");
    fail("trap cause", cause);
}

/* --- virtio-mmio --- */

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
#define R_STATUS 0x070
#define R_QUEUE_DESC 0x080
#define R_QUEUE_DRIVER 0x090
#define R_QUEUE_DEVICE 0x0a0
#define R_CONFIG 0x100

#define F_STATS_VQ (1u << 1)
#define QSIZE 8
#define NQUEUES 3
#define ARENA_PAGES 64
#define PAGE 4096UL

static uint32_t vr(unsigned off)
{
    barrier();
    return *(volatile uint32_t *)(VIRTIO_BASE + off);
}

static void vw(unsigned off, uint32_t v)
{
    barrier();
    *(volatile uint32_t *)(VIRTIO_BASE + off) = v;
}

struct ring {
    uint8_t desc[16 * QSIZE] __attribute__((aligned(16)));
    uint16_t avail[3 + QSIZE] __attribute__((aligned(4)));
    volatile uint16_t used[2 + 4 * QSIZE + 1] __attribute__((aligned(8)));
    uint16_t next, seen;
};

static struct ring rings[NQUEUES];
static uint8_t arena[ARENA_PAGES * PAGE] __attribute__((aligned(4096)));
static uint32_t pfns[ARENA_PAGES + 2];
static uint8_t stats[2 * 10];

/* Makes one device-readable buffer available on queue q and waits (up to
 * 10 s) until the device has used it. */
static void send(unsigned q, const void *buf, uint32_t len, int wait)
{
    struct ring *r = &rings[q];
    uint16_t head = r->next % QSIZE;
    uint8_t *d = r->desc + 16 * head;
    uint64_t addr = (uintptr_t)buf;
    uint16_t flags = 0, next = 0;
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    r->avail[2 + r->next % QSIZE] = head;
    barrier();
    r->avail[1] = ++r->next;
    barrier();
    vw(R_QUEUE_NOTIFY, q);
    if (!wait)
        return;
    uint64_t until = ticks() + 10000 * TICKS_PER_MS;
    while (r->used[1] == r->seen)
        CHECK(ticks() < until, "no used buffer on queue", q);
    r->seen++;
}

/* Waits up to 60 s for config num_pages to satisfy `want_at_least`
 * (1: >= n, 0: == n). */
static void wait_target(uint32_t n, int at_least)
{
    uint64_t until = ticks() + 60000 * TICKS_PER_MS;
    for (;;) {
        uint32_t t = vr(R_CONFIG);
        if (at_least ? t >= n : t == n)
            return;
        CHECK(ticks() < until, "the host never set num_pages, now", t);
    }
}

static void put_stat(uint8_t *rec, uint16_t tag, uint64_t val)
{
    memcpy(rec, &tag, 2);
    memcpy(rec + 2, &val, 8);
}

void hostile_main(void);
void hostile_main(void)
{
    CHECK(vr(R_MAGIC) == 0x74726976, "magic", vr(R_MAGIC));
    CHECK(vr(R_VERSION) == 2, "version", vr(R_VERSION));
    CHECK(vr(R_DEVICE_ID) == 5, "device id (a balloon in slot 0)", vr(R_DEVICE_ID));
    vw(R_STATUS, 0);
    vw(R_STATUS, 1 | 2);
    vw(R_DEVICE_FEATURES_SEL, 0);
    uint32_t lo = vr(R_DEVICE_FEATURES);
    CHECK(lo & F_STATS_VQ, "STATS_VQ not offered", lo);
    vw(R_DRIVER_FEATURES_SEL, 0);
    vw(R_DRIVER_FEATURES, F_STATS_VQ);
    vw(R_DRIVER_FEATURES_SEL, 1);
    vw(R_DRIVER_FEATURES, 1); /* VERSION_1 */
    vw(R_STATUS, 1 | 2 | 8);
    CHECK(vr(R_STATUS) & 8, "FEATURES_OK refused", vr(R_STATUS));
    for (unsigned q = 0; q < NQUEUES; q++) {
        vw(R_QUEUE_SEL, q);
        CHECK(vr(R_QUEUE_NUM_MAX) >= QSIZE, "QueueNumMax", vr(R_QUEUE_NUM_MAX));
        vw(R_QUEUE_NUM, QSIZE);
        uint64_t a[3] = { (uintptr_t)rings[q].desc, (uintptr_t)rings[q].avail,
                          (uintptr_t)rings[q].used };
        for (unsigned i = 0; i < 3; i++) {
            vw(R_QUEUE_DESC + 0x10 * i, (uint32_t)a[i]);
            vw(R_QUEUE_DESC + 0x10 * i + 4, (uint32_t)(a[i] >> 32));
        }
        vw(R_QUEUE_READY, 1);
    }
    vw(R_STATUS, 1 | 2 | 8 | 4);

    /* Statistics: the device keeps the buffer (no wait). */
    put_stat(stats, 4, 12345 * PAGE);           /* MEMFREE */
    put_stat(stats + 10, 5, HOSTILE_MEM_SIZE);  /* MEMTOT */
    send(2, stats, sizeof(stats), 0);

    for (size_t i = 0; i < sizeof(arena); i++)
        arena[i] = (uint8_t)(i * 7 + 1);
    say("balloon-guest: touched\n");

    wait_target(ARENA_PAGES, 1);
    for (unsigned i = 0; i < ARENA_PAGES; i++)
        pfns[i] = (uint32_t)(((uintptr_t)arena >> 12) + i);
    pfns[ARENA_PAGES] = (uint32_t)((RAM_BASE + HOSTILE_MEM_SIZE) >> 12); /* past RAM */
    pfns[ARENA_PAGES + 1] = 0xffffffffu;                                 /* the largest */
    send(0, pfns, sizeof(pfns), 1);
    vw(R_CONFIG + 4, ARENA_PAGES); /* actual */
    say("balloon-guest: inflated\n");

    wait_target(0, 0);
    for (size_t i = 0; i < sizeof(arena); i++)
        CHECK(((volatile uint8_t *)arena)[i] == 0, "inflated page still holds data at", i);
    say("balloon-guest: ok pages gone\n");
    send(1, pfns, ARENA_PAGES * sizeof(uint32_t), 1);
    vw(R_CONFIG + 4, 0);
    for (size_t i = 0; i < sizeof(arena); i++)
        arena[i] = (uint8_t)(i * 3 + 2);
    for (size_t i = 0; i < sizeof(arena); i++)
        CHECK(((volatile uint8_t *)arena)[i] == (uint8_t)(i * 3 + 2), "deflated page lost a write at",
              i);
    say("balloon-guest: PASS\n");
    guest_exit(0);
}
