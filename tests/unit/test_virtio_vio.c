/* virtio-console and virtio-vsock driven the way a guest driver would: a
 * machine with RAM, the device on the MMIO bus, and hand-made split rings
 * in guest memory. Besides the protocol, hostile input: short and unknown
 * control messages, vsock packets with bad lengths, foreign CIDs, unknown
 * ops — the device answers with RST or drops them and keeps working. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/console.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/vsock.h"
#include "machine/component.h"
#include "machine/machine.h"
#include "unit.h"
#include "vmm/error.h"

#define RAM 0x80000000ULL
#define RAM_SIZE (8u << 20)
#define BASE 0x10001000ULL
#define IRQ 5
#define QSIZE 16

/* A board slot for a device under test. */
static const struct virtio_placement *place(const char *name, uint64_t base, unsigned irq)
{
    static struct virtio_placement at[4];
    static unsigned n;
    struct virtio_placement *p = &at[n++ % 4];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->base = base;
    p->irq = irq;
    return p;
}

/* --- what the device did to the host side --- */

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static char console_rec[4096];
static size_t console_rec_len;
static char port_rec[4096];
static size_t port_rec_len;
static int port_open_rec = -1;

static void rec_console(void *opaque, const uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&rec_lock);
    if (console_rec_len + len < sizeof(console_rec)) {
        memcpy(console_rec + console_rec_len, buf, len);
        console_rec_len += len;
    }
    pthread_mutex_unlock(&rec_lock);
}

static int rec_port_out(void *opaque, unsigned index, const uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&rec_lock);
    if (index == 0 && port_rec_len + len < sizeof(port_rec)) {
        memcpy(port_rec + port_rec_len, buf, len);
        port_rec_len += len;
    }
    pthread_mutex_unlock(&rec_lock);
    return 0;
}

static void rec_port_state(void *opaque, unsigned index, int open)
{
    pthread_mutex_lock(&rec_lock);
    if (index == 0)
        port_open_rec = open;
    pthread_mutex_unlock(&rec_lock);
}

static int rec_irq(void *opaque, unsigned irq, int level) { return 0; }

static const struct machine_host_ops host_ops = {
    .console_out = rec_console,
    .port_out = rec_port_out,
    .port_state = rec_port_state,
};

/* --- a tiny virtio driver --- */

struct dq {
    uint64_t desc, avail, used;
    uint16_t avail_idx, used_seen, next_desc;
    uint64_t buf_of[QSIZE]; /* gpa of the buffer each head points at */
};

struct drv {
    struct machine m;
    struct dq q[VIRTIO_MMIO_MAX_QUEUES];
    unsigned nq;
    uint64_t brk;
};

static void *gp(struct drv *d, uint64_t gpa, size_t len)
{
    void *p = guest_mem_ptr(&d->m.mem, gpa, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

static uint64_t galloc(struct drv *d, size_t len, size_t align)
{
    d->brk = (d->brk + align - 1) & ~(uint64_t)(align - 1);
    uint64_t at = d->brk;
    d->brk += len;
    CU_ASSERT_FATAL(d->brk <= RAM + RAM_SIZE);
    memset(gp(d, at, len), 0, len);
    return at;
}

static void wr(struct drv *d, uint64_t off, uint32_t v) { bus_write(&d->m.mmio, BASE + off, 4, v); }

static uint32_t rd(struct drv *d, uint64_t off)
{
    uint64_t v = 0;
    bus_read(&d->m.mmio, BASE + off, 4, &v);
    return (uint32_t)v;
}

static void machine_up(struct drv *d)
{
    memset(d, 0, sizeof(*d));
    CU_ASSERT_EQUAL_FATAL(machine_init(&d->m, 1), 0);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&d->m.mem, RAM, RAM_SIZE), 0);
    d->m.host = &host_ops;
    d->m.irq = (struct machine_irq_controller){ rec_irq, NULL };
    d->brk = RAM;
    console_rec_len = port_rec_len = 0;
    port_open_rec = -1;
}

/* Feature negotiation (VERSION_1 + dev_features) and nq queues of QSIZE. */
static void driver_up(struct drv *d, unsigned nq, uint32_t dev_features)
{
    CU_ASSERT_EQUAL(rd(d, 0x000), 0x74726976);
    wr(d, 0x070, 1 | 2);
    wr(d, 0x024, 0);
    wr(d, 0x020, dev_features);
    wr(d, 0x024, 1);
    wr(d, 0x020, 1); /* VERSION_1 */
    wr(d, 0x070, 1 | 2 | 8);
    CU_ASSERT_EQUAL_FATAL(rd(d, 0x070) & 8, 8);
    d->nq = nq;
    for (unsigned i = 0; i < nq; i++) {
        struct dq *q = &d->q[i];
        q->desc = galloc(d, 16 * QSIZE, 16);
        q->avail = galloc(d, 6 + 2 * QSIZE, 2);
        q->used = galloc(d, 6 + 8 * QSIZE, 4);
        wr(d, 0x030, i);
        CU_ASSERT_FATAL(rd(d, 0x034) >= QSIZE);
        wr(d, 0x038, QSIZE);
        wr(d, 0x080, (uint32_t)q->desc);
        wr(d, 0x084, (uint32_t)(q->desc >> 32));
        wr(d, 0x090, (uint32_t)q->avail);
        wr(d, 0x094, (uint32_t)(q->avail >> 32));
        wr(d, 0x0a0, (uint32_t)q->used);
        wr(d, 0x0a4, (uint32_t)(q->used >> 32));
        wr(d, 0x044, 1);
    }
    wr(d, 0x070, 1 | 2 | 8 | 4);
}

static int needs_reset(struct drv *d) { return (rd(d, 0x070) & 64) != 0; }

/* Makes one buffer available: device-readable (write=0) or -writable. */
static void post(struct drv *d, unsigned qi, uint64_t gpa, uint32_t len, int write)
{
    struct dq *q = &d->q[qi];
    uint16_t head = q->next_desc++ % QSIZE;
    uint8_t *desc = gp(d, q->desc + 16 * head, 16);
    memcpy(desc, &gpa, 8);
    memcpy(desc + 8, &len, 4);
    uint16_t flags = write ? 2 : 0, next = 0;
    memcpy(desc + 12, &flags, 2);
    memcpy(desc + 14, &next, 2);
    q->buf_of[head] = gpa;
    uint8_t *avail = gp(d, q->avail, 6 + 2 * QSIZE);
    memcpy(avail + 4 + 2 * (q->avail_idx % QSIZE), &head, 2);
    q->avail_idx++;
    __atomic_store_n((uint16_t *)(void *)(avail + 2), q->avail_idx, __ATOMIC_RELEASE);
    wr(d, 0x050, qi);
}

/* Device-readable bytes in a fresh buffer. */
static void gsend(struct drv *d, unsigned qi, const void *data, uint32_t len)
{
    uint64_t at = galloc(d, len ? len : 1, 8);
    memcpy(gp(d, at, len ? len : 1), data, len);
    post(d, qi, at, len, 0);
}

/* An empty device-writable buffer. */
static void give(struct drv *d, unsigned qi, uint32_t len)
{
    post(d, qi, galloc(d, len, 8), len, 1);
}

/* Waits up to 2 s for the next used buffer of queue qi: its bytes (NULL on
 * timeout) and length. */
static const uint8_t *used(struct drv *d, unsigned qi, uint32_t *len)
{
    struct dq *q = &d->q[qi];
    uint8_t *u = gp(d, q->used, 6 + 8 * QSIZE);
    for (int i = 0; i < 2000; i++) {
        uint16_t idx = __atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE);
        if (idx != q->used_seen) {
            uint32_t id, l;
            memcpy(&id, u + 4 + 8 * (q->used_seen % QSIZE), 4);
            memcpy(&l, u + 8 + 8 * (q->used_seen % QSIZE), 4);
            q->used_seen++;
            *len = l;
            return id < QSIZE ? gp(d, q->buf_of[id], l ? l : 1) : NULL;
        }
        usleep(1000);
    }
    return NULL;
}

/* Nothing more arrives on qi within 100 ms. */
static int quiet(struct drv *d, unsigned qi)
{
    usleep(100000);
    uint8_t *u = gp(d, d->q[qi].used, 6 + 8 * QSIZE);
    return __atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE) == d->q[qi].used_seen;
}

static int wait_for(int (*cond)(void *), void *arg)
{
    for (int i = 0; i < 2000; i++) {
        if (cond(arg))
            return 1;
        usleep(1000);
    }
    return 0;
}

/* --- virtio-console --- */

#define CQ_RX0 0
#define CQ_TX0 1
#define CQ_CRX 2
#define CQ_CTX 3
#define CQ_RX1 4
#define CQ_TX1 5

static void ctrl(struct drv *d, uint32_t id, uint16_t event, uint16_t value)
{
    uint8_t msg[8];
    memcpy(msg, &id, 4);
    memcpy(msg + 4, &event, 2);
    memcpy(msg + 6, &value, 2);
    gsend(d, CQ_CTX, msg, 8);
}

/* The next control message from the device: its event and id (-1 none). */
static int next_ctrl(struct drv *d, uint32_t *id, uint16_t *value, char *name, size_t name_len)
{
    uint32_t len;
    const uint8_t *m = used(d, CQ_CRX, &len);
    if (!m || len < 8)
        return -1;
    uint16_t event;
    memcpy(id, m, 4);
    memcpy(&event, m + 4, 2);
    memcpy(value, m + 6, 2);
    if (name) {
        size_t n = len - 8 < name_len - 1 ? len - 8 : name_len - 1;
        memcpy(name, m + 8, n);
        name[n] = 0;
    }
    return event;
}

static struct virtio_console *console_up(struct drv *d)
{
    static const char *const names[] = { "org.libvmm.test" };
    struct virtio_console *con = NULL;
    machine_up(d);
    CU_ASSERT_EQUAL_FATAL(virtio_console_create(&d->m, place("console0", BASE, IRQ), 1, names, 1, &con),
                          0);
    CU_ASSERT_EQUAL(rd(d, 0x008), 3);
    uint64_t cfg = 0;
    bus_read(&d->m.mmio, BASE + 0x100 + 4, 4, &cfg);
    CU_ASSERT_EQUAL(cfg, 2); /* max_nr_ports: the console and one named port */
    driver_up(d, 6, 1u << 1 /* MULTIPORT */);
    for (int i = 0; i < 8; i++)
        give(d, CQ_CRX, 128);
    return con;
}

static int port_is_open(void *arg)
{
    pthread_mutex_lock(&rec_lock);
    int open = port_open_rec == *(int *)arg;
    pthread_mutex_unlock(&rec_lock);
    return open;
}

static int console_has(void *arg)
{
    pthread_mutex_lock(&rec_lock);
    int ok = console_rec_len == strlen(arg) && !memcmp(console_rec, arg, console_rec_len);
    pthread_mutex_unlock(&rec_lock);
    return ok;
}

static int port_has(void *arg)
{
    pthread_mutex_lock(&rec_lock);
    int ok = port_rec_len == strlen(arg) && !memcmp(port_rec, arg, port_rec_len);
    pthread_mutex_unlock(&rec_lock);
    return ok;
}

static void test_console_announces_ports_and_moves_bytes(void)
{
    struct drv d;
    console_up(&d);
    uint32_t id;
    uint16_t value;
    char name[80];
    ctrl(&d, 0, 0 /* DEVICE_READY */, 1);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 1 /* PORT_ADD */);
    CU_ASSERT_EQUAL(id, 0);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 1);
    CU_ASSERT_EQUAL(id, 1);

    ctrl(&d, 0, 3 /* PORT_READY */, 1);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 4 /* CONSOLE_PORT */);
    CU_ASSERT_EQUAL(id, 0);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 6 /* PORT_OPEN */);
    CU_ASSERT_EQUAL(value, 1);
    ctrl(&d, 1, 3, 1);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, name, sizeof(name)), 7 /* PORT_NAME */);
    CU_ASSERT_EQUAL(id, 1);
    CU_ASSERT_STRING_EQUAL(name, "org.libvmm.test");
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 6);
    CU_ASSERT_EQUAL(id, 1);

    /* Output: port 0 is the console, port 1 goes to the port hook. */
    gsend(&d, CQ_TX0, "hello", 5);
    CU_ASSERT(wait_for(console_has, "hello"));
    gsend(&d, CQ_TX1, "data", 4);
    CU_ASSERT(wait_for(port_has, "data"));

    /* Input waits until a guest program opens the port. */
    CU_ASSERT_EQUAL(d.m.ports.receive(d.m.ports.opaque, 0, (const uint8_t *)"ping", 4), 4);
    give(&d, CQ_RX1, 64);
    CU_ASSERT(quiet(&d, CQ_RX1));
    ctrl(&d, 1, 6 /* PORT_OPEN */, 1);
    int want = 1;
    CU_ASSERT(wait_for(port_is_open, &want));
    uint32_t len;
    const uint8_t *got = used(&d, CQ_RX1, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(len, 4);
    CU_ASSERT_NSTRING_EQUAL(got, "ping", 4);

    /* The console's input (machine_console_receive) reaches port 0 once
     * hvc opened it. */
    ctrl(&d, 0, 6, 1);
    CU_ASSERT_EQUAL(machine_console_receive(&d.m, (const uint8_t *)"ls\n", 3), 3);
    give(&d, CQ_RX0, 64);
    got = used(&d, CQ_RX0, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(len, 3);

    /* A device reset tells the host the port closed. */
    wr(&d, 0x070, 0);
    want = 0;
    CU_ASSERT(wait_for(port_is_open, &want));
    machine_destroy(&d.m);
}

static void test_console_ignores_hostile_control_messages(void)
{
    struct drv d;
    console_up(&d);
    uint8_t junk[4] = { 0xff, 0xff, 0xff, 0xff };
    gsend(&d, CQ_CTX, junk, sizeof(junk));      /* shorter than a header */
    gsend(&d, CQ_CTX, junk, 0);                 /* empty */
    ctrl(&d, 1000, 3, 1);                      /* PORT_READY for no such port */
    ctrl(&d, 0xffffffff, 6, 1);                /* PORT_OPEN for no such port */
    ctrl(&d, 1, 99, 1);                        /* unknown event */
    ctrl(&d, 1, 3, 1);                         /* PORT_READY before DEVICE_READY */
    ctrl(&d, 0, 0, 0);                         /* DEVICE_READY failed */
    ctrl(&d, 0, 7, 1);                         /* PORT_NAME is the device's to send */
    uint8_t big[3000];
    memset(big, 0x41, sizeof(big));
    gsend(&d, CQ_CTX, big, sizeof(big));        /* oversized */
    uint32_t id;
    uint16_t value;
    /* A port announced before the device was ready still gets its name
     * (PORT_READY was taken), nothing else came out. */
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 7);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 6);
    CU_ASSERT(quiet(&d, CQ_CRX));
    CU_ASSERT_FALSE(needs_reset(&d));
    /* DEVICE_READY repeated announces the ports once. */
    ctrl(&d, 0, 0, 1);
    ctrl(&d, 0, 0, 1);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 1);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 1);
    CU_ASSERT(quiet(&d, CQ_CRX));
    /* Port 0 becomes ready late: the console announcement follows. */
    ctrl(&d, 0, 3, 1);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 4);
    CU_ASSERT_FALSE(needs_reset(&d));
    /* Output to a port is still passed on. */
    gsend(&d, CQ_TX1, "still", 5);
    CU_ASSERT(wait_for(port_has, "still"));
    machine_destroy(&d.m);
}

static void test_console_state_round_trips(void)
{
    struct drv d;
    struct virtio_console *con = console_up(&d);
    (void)con;
    ctrl(&d, 0, 0, 1);
    uint32_t id;
    uint16_t value;
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 1);
    CU_ASSERT_EQUAL(next_ctrl(&d, &id, &value, NULL, 0), 1);
    d.m.ports.receive(d.m.ports.opaque, 0, (const uint8_t *)"kept", 4);
    struct component *c = machine_find_component(&d.m, "console0");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    struct state_buffer buf = { 0 };
    CU_ASSERT_EQUAL_FATAL(component_save_to_buffer(c, &buf), 0);
    CU_ASSERT_EQUAL(component_load_from_buffer(c, &buf), 0);
    /* Damaged: every truncation is refused, not a crash. */
    size_t full = buf.len;
    for (size_t cut = 0; cut < full; cut += 7) {
        buf.len = cut;
        buf.pos = 0;
        CU_ASSERT_NOT_EQUAL(component_load_from_buffer(c, &buf), 0);
    }
    state_buffer_free(&buf);
    machine_destroy(&d.m);
}

/* --- virtio-vsock --- */

#define VQ_RX 0
#define VQ_TX 1
#define VQ_EV 2
#define GUEST_CID 3
#define PKT 44

struct pkt {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port, len;
    uint16_t type, op;
    uint32_t flags, buf_alloc, fwd_cnt;
};

static void pkt_put(uint8_t *h, const struct pkt *p)
{
    memcpy(h + 0, &p->src_cid, 8);
    memcpy(h + 8, &p->dst_cid, 8);
    memcpy(h + 16, &p->src_port, 4);
    memcpy(h + 20, &p->dst_port, 4);
    memcpy(h + 24, &p->len, 4);
    memcpy(h + 28, &p->type, 2);
    memcpy(h + 30, &p->op, 2);
    memcpy(h + 32, &p->flags, 4);
    memcpy(h + 36, &p->buf_alloc, 4);
    memcpy(h + 40, &p->fwd_cnt, 4);
}

static void pkt_get(const uint8_t *h, struct pkt *p)
{
    memcpy(&p->src_cid, h + 0, 8);
    memcpy(&p->dst_cid, h + 8, 8);
    memcpy(&p->src_port, h + 16, 4);
    memcpy(&p->dst_port, h + 20, 4);
    memcpy(&p->len, h + 24, 4);
    memcpy(&p->type, h + 28, 2);
    memcpy(&p->op, h + 30, 2);
    memcpy(&p->flags, h + 32, 4);
    memcpy(&p->buf_alloc, h + 36, 4);
    memcpy(&p->fwd_cnt, h + 40, 4);
}

/* A guest packet: header `p` (len taken as given) and `payload_len`
 * payload bytes actually in the buffer. */
static void vsend(struct drv *d, const struct pkt *p, const void *payload, uint32_t payload_len)
{
    uint8_t buf[PKT + 256];
    CU_ASSERT_FATAL(payload_len <= 256);
    pkt_put(buf, p);
    if (payload_len)
        memcpy(buf + PKT, payload, payload_len);
    gsend(d, VQ_TX, buf, PKT + payload_len);
}

static struct pkt guest_pkt(uint32_t src_port, uint32_t dst_port, uint16_t op)
{
    return (struct pkt){ .src_cid = GUEST_CID, .dst_cid = 2, .src_port = src_port,
                         .dst_port = dst_port, .type = 1, .op = op, .buf_alloc = 65536 };
}

/* The next packet the device sent; 0 on timeout. */
static int vrecv(struct drv *d, struct pkt *p, uint8_t *payload, size_t cap)
{
    uint32_t len;
    const uint8_t *b = used(d, VQ_RX, &len);
    if (!b || len < PKT)
        return 0;
    pkt_get(b, p);
    if (payload)
        memcpy(payload, b + PKT, len - PKT < cap ? len - PKT : cap);
    give(d, VQ_RX, PKT + 4096); /* keep the receive queue stocked */
    return 1;
}

static char sock_dir[64];
static char sock_path[128];

static void vsock_up(struct drv *d)
{
    machine_up(d);
    snprintf(sock_dir, sizeof(sock_dir), "/tmp/vio-test-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(sock_dir));
    snprintf(sock_path, sizeof(sock_path), "%s/v.sock", sock_dir);
    CU_ASSERT_EQUAL_FATAL(virtio_vsock_create(&d->m, place("vsock0", BASE, IRQ), GUEST_CID, sock_path,
                                              NULL), 0);
    CU_ASSERT_EQUAL(rd(d, 0x008), 19);
    uint64_t cid = 0;
    bus_read(&d->m.mmio, BASE + 0x100, 8, &cid);
    CU_ASSERT_EQUAL(cid, GUEST_CID);
    driver_up(d, 3, 1);
    for (int i = 0; i < 8; i++)
        give(d, VQ_RX, PKT + 4096);
}

static void vsock_down(struct drv *d)
{
    machine_destroy(&d->m);
    CU_ASSERT_EQUAL(access(sock_path, F_OK), -1); /* the socket went with the device */
    rmdir(sock_dir);
}

static int listen_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    CU_ASSERT_FATAL(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path));
    CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    CU_ASSERT_EQUAL(listen(fd, 4), 0);
    return fd;
}

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    CU_ASSERT_FATAL(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path));
    CU_ASSERT_EQUAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Reads exactly n bytes within 2 s; returns how many arrived. */
static size_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 2000) <= 0)
            break;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* 1 when the peer closed within 2 s: read gives EOF, or ECONNRESET when
 * the peer closed with bytes of ours unread. */
static int sees_eof(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char c;
    if (poll(&p, 1, 2000) != 1)
        return 0;
    ssize_t n = read(fd, &c, 1);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_vsock_hostile_packets_get_rst_or_are_dropped(void)
{
    struct drv d;
    vsock_up(&d);
    struct pkt p, r;
    uint8_t junk[10] = { 0 };
    gsend(&d, VQ_TX, junk, sizeof(junk)); /* shorter than a header: dropped */
    p = guest_pkt(1000, 80, 1);
    p.src_cid = 99;                     /* spoofed source: dropped */
    vsend(&d, &p, NULL, 0);
    CU_ASSERT(quiet(&d, VQ_RX));

    p = guest_pkt(1001, 80, 1);
    p.dst_cid = 7;                      /* another VM: refused */
    vsend(&d, &p, NULL, 0);
    CU_ASSERT_FATAL(vrecv(&d, &r, NULL, 0));
    CU_ASSERT_EQUAL(r.op, 3);
    CU_ASSERT_EQUAL(r.dst_port, 1001);
    CU_ASSERT_EQUAL(r.src_port, 80);
    CU_ASSERT_EQUAL(r.dst_cid, GUEST_CID);

    p = guest_pkt(1002, 80, 1);
    p.type = 2;                         /* seqpacket is not offered */
    vsend(&d, &p, NULL, 0);
    CU_ASSERT(vrecv(&d, &r, NULL, 0) && r.op == 3 && r.dst_port == 1002);

    p = guest_pkt(1003, 80, 42);        /* unknown op */
    vsend(&d, &p, NULL, 0);
    CU_ASSERT(vrecv(&d, &r, NULL, 0) && r.op == 3 && r.dst_port == 1003);

    p = guest_pkt(1004, 80, 5);         /* data for no connection */
    p.len = 3;
    vsend(&d, &p, "abc", 3);
    CU_ASSERT(vrecv(&d, &r, NULL, 0) && r.op == 3 && r.dst_port == 1004);

    p = guest_pkt(1005, 80, 5);         /* a length beyond the buffer */
    p.len = 100000;
    vsend(&d, &p, "abc", 3);
    CU_ASSERT(vrecv(&d, &r, NULL, 0) && r.op == 3 && r.dst_port == 1005);

    p = guest_pkt(1006, 80, 3);         /* RST for nothing: no answer */
    vsend(&d, &p, NULL, 0);
    p = guest_pkt(1007, 80, 0);         /* INVALID op */
    vsend(&d, &p, NULL, 0);
    CU_ASSERT(vrecv(&d, &r, NULL, 0) && r.op == 3 && r.dst_port == 1007);

    p = guest_pkt(1008, 4321, 1);       /* REQUEST, nothing listens on PATH_4321 */
    vsend(&d, &p, NULL, 0);
    CU_ASSERT(vrecv(&d, &r, NULL, 0) && r.op == 3 && r.dst_port == 1008);

    /* Receive buffers too small for a header go back empty. */
    give(&d, VQ_RX, 8);
    CU_ASSERT(quiet(&d, VQ_RX));
    CU_ASSERT_FALSE(needs_reset(&d));
    vsock_down(&d);
}

static void test_vsock_guest_connects_to_a_host_listener(void)
{
    struct drv d;
    vsock_up(&d);
    char lpath[160];
    snprintf(lpath, sizeof(lpath), "%s_5000", sock_path);
    int lfd = listen_unix(lpath);
    struct pkt p = guest_pkt(2000, 5000, 1), r;
    p.buf_alloc = 8; /* a tiny receive window */
    vsend(&d, &p, NULL, 0);
    CU_ASSERT_FATAL(vrecv(&d, &r, NULL, 0));
    CU_ASSERT_EQUAL(r.op, 2 /* RESPONSE */);
    CU_ASSERT_EQUAL(r.src_port, 5000);
    CU_ASSERT_EQUAL(r.dst_port, 2000);
    CU_ASSERT_EQUAL(r.buf_alloc, VSOCK_BUF_ALLOC);
    int cfd = accept(lfd, NULL, NULL);
    CU_ASSERT_FATAL(cfd >= 0);

    /* guest -> host */
    p = guest_pkt(2000, 5000, 5);
    p.buf_alloc = 8;
    p.len = 5;
    vsend(&d, &p, "hello", 5);
    char buf[64];
    CU_ASSERT_EQUAL(read_full(cfd, buf, 5), 5);
    CU_ASSERT_NSTRING_EQUAL(buf, "hello", 5);

    /* host -> guest, within the guest's 8-byte credit */
    CU_ASSERT_EQUAL(write(cfd, "0123456789abcdef", 16), 16);
    uint8_t payload[64];
    size_t total = 0;
    while (total < 8 && vrecv(&d, &r, payload + total, sizeof(payload) - total)) {
        if (r.op == 5)
            total += r.len;
        CU_ASSERT(r.op == 5 || r.op == 6);
    }
    CU_ASSERT_EQUAL(total, 8);
    CU_ASSERT(quiet(&d, VQ_RX)); /* no more until the guest frees credit */
    p = guest_pkt(2000, 5000, 6 /* CREDIT_UPDATE */);
    p.buf_alloc = 8;
    p.fwd_cnt = 8;
    vsend(&d, &p, NULL, 0);
    while (total < 16 && vrecv(&d, &r, payload + total, sizeof(payload) - total))
        if (r.op == 5)
            total += r.len;
    CU_ASSERT_EQUAL(total, 16);
    CU_ASSERT_NSTRING_EQUAL(payload, "0123456789abcdef", 16);

    /* The guest stops sending: the host reads EOF and can still answer. */
    p = guest_pkt(2000, 5000, 4);
    p.flags = 2; /* SEND */
    p.fwd_cnt = 16;
    vsend(&d, &p, NULL, 0);
    CU_ASSERT(sees_eof(cfd));
    CU_ASSERT_EQUAL(write(cfd, "late", 4), 4);
    total = 0;
    while (total < 4 && vrecv(&d, &r, payload, sizeof(payload)))
        if (r.op == 5)
            total += r.len;
    CU_ASSERT_EQUAL(total, 4);
    CU_ASSERT_NSTRING_EQUAL(payload, "late", 4);

    /* The guest closes both ways: the device answers RST, the host sees EOF. */
    p = guest_pkt(2000, 5000, 4);
    p.flags = 3;
    vsend(&d, &p, NULL, 0);
    int saw_rst = 0;
    while (!saw_rst && vrecv(&d, &r, NULL, 0))
        saw_rst = r.op == 3;
    CU_ASSERT(saw_rst);
    CU_ASSERT(sees_eof(cfd));
    close(cfd);
    close(lfd);
    unlink(lpath);
    vsock_down(&d);
}

/* A guest that sends beyond the credit the device gave it is reset; the
 * device never buffers more than its buf_alloc for a connection. */
static void test_vsock_guest_beyond_credit_is_reset(void)
{
    struct drv d;
    vsock_up(&d);
    char lpath[160];
    snprintf(lpath, sizeof(lpath), "%s_6000", sock_path);
    int lfd = listen_unix(lpath);
    struct pkt p = guest_pkt(3000, 6000, 1), r;
    vsend(&d, &p, NULL, 0);
    CU_ASSERT_FATAL(vrecv(&d, &r, NULL, 0) && r.op == 2);
    int cfd = accept(lfd, NULL, NULL); /* and never read: the socket fills */
    CU_ASSERT_FATAL(cfd >= 0);
    static uint8_t big[PKT + 65536];
    int reset = 0;
    for (int i = 0; i < 32 && !reset; i++) {
        p = guest_pkt(3000, 6000, 5);
        p.len = 65536;
        pkt_put(big, &p);
        gsend(&d, VQ_TX, big, sizeof(big));
        /* Take what the device says meanwhile (credit updates, the RST). */
        for (;;) {
            uint8_t *u = gp(&d, d.q[VQ_RX].used, 6 + 8 * QSIZE);
            usleep(20000);
            if (__atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE) ==
                d.q[VQ_RX].used_seen)
                break;
            CU_ASSERT_FATAL(vrecv(&d, &r, NULL, 0));
            if (r.op == 3 && r.dst_port == 3000)
                reset = 1;
        }
        /* The ring is small: reuse it once the device took the packets. */
        if (d.brk > RAM + RAM_SIZE - 2 * sizeof(big))
            break;
    }
    CU_ASSERT(reset);
    CU_ASSERT_FALSE(needs_reset(&d));
    close(cfd);
    close(lfd);
    unlink(lpath);
    vsock_down(&d);
}

static void test_vsock_host_connect_handshake(void)
{
    struct drv d;
    vsock_up(&d);
    int fd = connect_unix(sock_path);
    CU_ASSERT_EQUAL(write(fd, "CONNECT 52\n", 11), 11);
    struct pkt r;
    CU_ASSERT_FATAL(vrecv(&d, &r, NULL, 0));
    CU_ASSERT_EQUAL(r.op, 1 /* REQUEST */);
    CU_ASSERT_EQUAL(r.dst_port, 52);
    CU_ASSERT_EQUAL(r.dst_cid, GUEST_CID);
    struct pkt p = guest_pkt(52, r.src_port, 2 /* RESPONSE */);
    vsend(&d, &p, NULL, 0);
    char line[32] = { 0 };
    char want[32];
    snprintf(want, sizeof(want), "OK %u\n", r.src_port);
    CU_ASSERT_EQUAL(read_full(fd, line, strlen(want)), strlen(want));
    CU_ASSERT_STRING_EQUAL(line, want);
    /* the stream: host -> guest */
    CU_ASSERT_EQUAL(write(fd, "xyz", 3), 3);
    uint8_t payload[8];
    CU_ASSERT(vrecv(&d, &r, payload, sizeof(payload)) && r.op == 5 && r.len == 3);
    CU_ASSERT_NSTRING_EQUAL(payload, "xyz", 3);
    /* the guest resets: the host socket closes */
    p = guest_pkt(52, r.src_port, 3);
    vsend(&d, &p, NULL, 0);
    CU_ASSERT(sees_eof(fd));
    close(fd);

    /* A malformed request line closes the connection without a REQUEST. */
    fd = connect_unix(sock_path);
    CU_ASSERT_EQUAL(write(fd, "CONNECT x52\n", 12), 12);
    CU_ASSERT(sees_eof(fd));
    close(fd);
    fd = connect_unix(sock_path);
    CU_ASSERT_EQUAL(write(fd, "CONNECT 99999999999999999999999999999999", 40), 40);
    CU_ASSERT(sees_eof(fd));
    close(fd);
    CU_ASSERT(quiet(&d, VQ_RX));
    vsock_down(&d);
}

static void test_vsock_refuses_a_live_socket_path(void)
{
    struct drv d;
    machine_up(&d);
    snprintf(sock_dir, sizeof(sock_dir), "/tmp/vio-test-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(sock_dir));
    snprintf(sock_path, sizeof(sock_path), "%s/v.sock", sock_dir);
    int lfd = listen_unix(sock_path);
    CU_ASSERT_EQUAL(virtio_vsock_create(&d.m, place("vsock0", BASE, IRQ), GUEST_CID, sock_path, NULL),
                    VMM_EBUSY);
    close(lfd); /* now stale: replaced */
    CU_ASSERT_EQUAL(virtio_vsock_create(&d.m, place("vsock0", BASE, IRQ), GUEST_CID, sock_path, NULL), 0);
    CU_ASSERT_EQUAL(virtio_vsock_create(&d.m, place("vsock1", BASE + 0x1000, IRQ + 1), 2, NULL, NULL),
                    VMM_EINVAL);
    machine_destroy(&d.m);
    rmdir(sock_dir);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "console announces ports and moves bytes both ways",
          test_console_announces_ports_and_moves_bytes },
        { "console ignores hostile control messages",
          test_console_ignores_hostile_control_messages },
        { "console state round-trips, damage refused", test_console_state_round_trips },
        { "vsock: hostile packets get RST or are dropped",
          test_vsock_hostile_packets_get_rst_or_are_dropped },
        { "vsock: guest connects to a host listener, credit both ways",
          test_vsock_guest_connects_to_a_host_listener },
        { "vsock: a guest beyond its credit is reset", test_vsock_guest_beyond_credit_is_reset },
        { "vsock: host CONNECT handshake", test_vsock_host_connect_handshake },
        { "vsock: a live socket path is refused, a stale one replaced",
          test_vsock_refuses_a_live_socket_path },
        { NULL, NULL },
    };
    return unit_main("virtio-console and vsock", tests);
}
