/* virtio-net driven through its MMIO registers and rings as a (hostile)
 * guest would, on a backend of the test's own that records what it is asked
 * to send and delivers what the test gives it. No host network is touched.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/net/backend.h"
#include "devices/virtio/net.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "machine/machine.h"
#include "unit.h"

#define RAM 0x80000000ULL
#define RAM_SIZE (1u << 20)
#define BASE 0x10000000ULL
#define QSIZE 16
#define BUF (RAM + 0x10000) /* data buffers from here */

/* MMIO registers (virtio 1.x, 4.2.2). */
#define R_MAGIC 0x000
#define R_DEVICE_ID 0x008
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DESC_HI 0x084
#define R_AVAIL_LO 0x090
#define R_AVAIL_HI 0x094
#define R_USED_LO 0x0a0
#define R_USED_HI 0x0a4
#define R_CONFIG 0x100

/* --- a backend that records --- */

struct rec_be {
    struct net_backend be;
    pthread_mutex_t lock;
    unsigned sent;
    size_t last_len;
    uint8_t last[NET_HDR_LEN + NET_FRAME_MAX + 64];
};

static int rec_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    struct rec_be *r = (struct rec_be *)be;
    pthread_mutex_lock(&r->lock);
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (n + iov[i].iov_len <= sizeof(r->last))
            memcpy(r->last + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    r->last_len = n;
    r->sent++;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static int rec_prepare(struct net_backend *be, struct pollfd *p)
{
    p->fd = -1;
    return -1; /* nothing to read: the test delivers frames itself */
}

static void rec_service(struct net_backend *be, short revents) {}

static void rec_destroy(struct net_backend *be)
{
    struct rec_be *r = (struct rec_be *)be;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static const struct net_backend_ops rec_ops = {
    .name = "record", .send = rec_send, .prepare = rec_prepare, .service = rec_service,
    .destroy = rec_destroy,
};

/* --- a guest driver --- */

struct rig {
    struct machine m;
    struct rec_be *be;
    uint16_t avail_idx[2], used_seen[2];
    uint16_t next_desc[2];
};

static int no_irq(void *opaque, unsigned irq, int level) { return 0; }

static uint32_t rd(struct rig *g, uint64_t off)
{
    uint64_t v = 0;
    bus_read(&g->m.mmio, BASE + off, 4, &v);
    return (uint32_t)v;
}

static void wr(struct rig *g, uint64_t off, uint32_t v)
{
    bus_write(&g->m.mmio, BASE + off, 4, v);
}

static uint8_t *gpa(struct rig *g, uint64_t a)
{
    return guest_mem_ptr(&g->m.mem, a, 1);
}

static uint64_t q_desc(unsigned q) { return RAM + q * 0x1000; }
static uint64_t q_avail(unsigned q) { return RAM + q * 0x1000 + 0x400; }
static uint64_t q_used(unsigned q) { return RAM + q * 0x1000 + 0x800; }

static void rig_up(struct rig *g)
{
    memset(g, 0, sizeof(*g));
    CU_ASSERT_EQUAL_FATAL(machine_init(&g->m, 1), 0);
    g->m.irq = (struct machine_irq_controller){no_irq, NULL};
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&g->m.mem, RAM, RAM_SIZE), 0);
    g->be = calloc(1, sizeof(*g->be));
    CU_ASSERT_PTR_NOT_NULL_FATAL(g->be);
    pthread_mutex_init(&g->be->lock, NULL);
    CU_ASSERT_EQUAL_FATAL(net_backend_init(&g->be->be, &rec_ops), 0);
    snprintf(g->be->be.desc, sizeof(g->be->be.desc), "record");
    static const uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
    static const struct virtio_placement at = { .name = "net0", .base = BASE, .irq = 1 };
    CU_ASSERT_EQUAL_FATAL(virtio_net_create(&g->m, &at, mac, &g->be->be, NULL), 0);

    CU_ASSERT_EQUAL(rd(g, R_MAGIC), 0x74726976);
    CU_ASSERT_EQUAL(rd(g, R_DEVICE_ID), VIRTIO_ID_NET);
    wr(g, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(g, R_DEV_FEATURES_SEL, 0);
    uint32_t lo = rd(g, R_DEV_FEATURES);
    CU_ASSERT(lo & (1u << 5));   /* MAC */
    CU_ASSERT(lo & (1u << 16));  /* STATUS */
    CU_ASSERT(!(lo & 1u));       /* no CSUM on a backend without virtio headers */
    wr(g, R_DRV_FEATURES_SEL, 0);
    wr(g, R_DRV_FEATURES, (1u << 5) | (1u << 16));
    wr(g, R_DRV_FEATURES_SEL, 1);
    wr(g, R_DRV_FEATURES, 1); /* VERSION_1 */
    wr(g, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < 2; q++) {
        wr(g, R_QUEUE_SEL, q);
        wr(g, R_QUEUE_NUM, QSIZE);
        wr(g, R_DESC_LO, (uint32_t)q_desc(q));
        wr(g, R_DESC_HI, (uint32_t)(q_desc(q) >> 32));
        wr(g, R_AVAIL_LO, (uint32_t)q_avail(q));
        wr(g, R_AVAIL_HI, (uint32_t)(q_avail(q) >> 32));
        wr(g, R_USED_LO, (uint32_t)q_used(q));
        wr(g, R_USED_HI, (uint32_t)(q_used(q) >> 32));
        wr(g, R_QUEUE_READY, 1);
    }
    wr(g, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                        VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    CU_ASSERT_EQUAL(rd(g, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void rig_down(struct rig *g)
{
    machine_destroy(&g->m); /* the device and its backend with it */
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }

/* Makes a chain of `n` buffers (gpa, len, writable) available on queue q
 * and notifies. */
static void post(struct rig *g, unsigned q, unsigned n, const uint64_t *addr, const uint32_t *len,
                 int writable)
{
    uint16_t head = g->next_desc[q];
    for (unsigned i = 0; i < n; i++) {
        uint16_t d = (uint16_t)((head + i) % QSIZE);
        uint8_t *p = gpa(g, q_desc(q) + 16u * d);
        for (int b = 0; b < 8; b++)
            p[b] = (uint8_t)(addr[i] >> (8 * b));
        for (int b = 0; b < 4; b++)
            p[8 + b] = (uint8_t)(len[i] >> (8 * b));
        put16(p + 12, (uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
                                 (writable ? VIRTQ_DESC_F_WRITE : 0)));
        put16(p + 14, (uint16_t)((d + 1) % QSIZE));
    }
    g->next_desc[q] = (uint16_t)((head + n) % QSIZE);
    uint8_t *avail = gpa(g, q_avail(q));
    put16(avail + 4 + 2 * (g->avail_idx[q] % QSIZE), head);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    put16(avail + 2, ++g->avail_idx[q]);
    wr(g, R_QUEUE_NOTIFY, q);
}

/* Waits (up to 2 s) for the device to return one more chain on queue q;
 * returns its used length, or -1. */
static long used_next(struct rig *g, unsigned q)
{
    uint8_t *used = gpa(g, q_used(q));
    for (int i = 0; i < 2000; i++) {
        if (__atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE) != g->used_seen[q]) {
            uint8_t *e = used + 4 + 8 * (g->used_seen[q] % QSIZE);
            g->used_seen[q]++;
            return (long)get32(e + 4);
        }
        usleep(1000);
    }
    return -1;
}

static unsigned sent(struct rig *g)
{
    pthread_mutex_lock(&g->be->lock);
    unsigned n = g->be->sent;
    pthread_mutex_unlock(&g->be->lock);
    return n;
}

/* A header and a frame in two buffers: the backend gets the frame alone. */
static void test_tx_frame_reaches_the_backend_without_its_header(void)
{
    struct rig g;
    rig_up(&g);
    uint8_t *hdr = gpa(&g, BUF), *frame = gpa(&g, BUF + 0x100);
    memset(hdr, 0, NET_HDR_LEN);
    for (int i = 0; i < 60; i++)
        frame[i] = (uint8_t)(i + 1);
    post(&g, 1, 2, (uint64_t[]){BUF, BUF + 0x100}, (uint32_t[]){NET_HDR_LEN, 60}, 0);
    CU_ASSERT_EQUAL(used_next(&g, 1), 0);
    CU_ASSERT_EQUAL(sent(&g), 1);
    CU_ASSERT_EQUAL(g.be->last_len, 60);
    CU_ASSERT_EQUAL(memcmp(g.be->last, frame, 60), 0);
    rig_down(&g);
}

/* 70000 bytes after the header: above NET_FRAME_MAX, dropped, and the device
 * goes on working. */
static void test_tx_oversized_frame_is_dropped(void)
{
    struct rig g;
    rig_up(&g);
    memset(gpa(&g, BUF), 0, NET_HDR_LEN + 70000);
    post(&g, 1, 1, (uint64_t[]){BUF}, (uint32_t[]){NET_HDR_LEN + 70000}, 0);
    CU_ASSERT_EQUAL(used_next(&g, 1), 0);
    CU_ASSERT_EQUAL(sent(&g), 0);
    CU_ASSERT_EQUAL(rd(&g, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    /* Exactly the limit goes out. */
    post(&g, 1, 1, (uint64_t[]){BUF}, (uint32_t[]){NET_HDR_LEN + NET_FRAME_MAX}, 0);
    CU_ASSERT_EQUAL(used_next(&g, 1), 0);
    CU_ASSERT_EQUAL(sent(&g), 1);
    CU_ASSERT_EQUAL(g.be->last_len, NET_FRAME_MAX);
    rig_down(&g);
}

/* Less than an Ethernet header after the virtio header: dropped. */
static void test_tx_runt_frame_is_dropped(void)
{
    struct rig g;
    rig_up(&g);
    post(&g, 1, 1, (uint64_t[]){BUF}, (uint32_t[]){NET_HDR_LEN + 5}, 0);
    CU_ASSERT_EQUAL(used_next(&g, 1), 0);
    CU_ASSERT_EQUAL(sent(&g), 0);
    CU_ASSERT_EQUAL(rd(&g, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
    rig_down(&g);
}

/* Offloads that were not negotiated are refused frame by frame. */
static void test_tx_unnegotiated_offload_is_dropped(void)
{
    struct rig g;
    rig_up(&g);
    uint8_t *hdr = gpa(&g, BUF);
    memset(hdr, 0, NET_HDR_LEN + 100);
    hdr[1] = 1; /* GSO TCPv4 */
    post(&g, 1, 1, (uint64_t[]){BUF}, (uint32_t[]){NET_HDR_LEN + 100}, 0);
    CU_ASSERT_EQUAL(used_next(&g, 1), 0);
    CU_ASSERT_EQUAL(sent(&g), 0);
    rig_down(&g);
}

/* A transmit chain shorter than the header is a broken driver: the device
 * stops (NEEDS_RESET) instead of reading past the chain. */
static void test_tx_short_header_chain_breaks_the_device(void)
{
    struct rig g;
    rig_up(&g);
    post(&g, 1, 1, (uint64_t[]){BUF}, (uint32_t[]){8}, 0);
    for (int i = 0; i < 2000 && !(rd(&g, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET); i++)
        usleep(1000);
    CU_ASSERT(rd(&g, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
    CU_ASSERT_EQUAL(sent(&g), 0);
    rig_down(&g);
}

/* A frame from the backend lands in the guest's buffer behind a header with
 * num_buffers = 1, also when the buffer was posted before the frame came. */
static void test_rx_frame_lands_in_the_guest_buffer(void)
{
    struct rig g;
    rig_up(&g);
    memset(gpa(&g, BUF), 0xee, 2048);
    post(&g, 0, 1, (uint64_t[]){BUF}, (uint32_t[]){2048}, 1);
    uint8_t frame[100];
    for (int i = 0; i < 100; i++)
        frame[i] = (uint8_t)(0xa0 ^ i);
    net_backend_deliver(&g.be->be, frame, sizeof(frame));
    CU_ASSERT_EQUAL(used_next(&g, 0), NET_HDR_LEN + 100);
    uint8_t *b = gpa(&g, BUF);
    CU_ASSERT_EQUAL(b[0], 0);  /* flags */
    CU_ASSERT_EQUAL(b[1], 0);  /* gso none */
    CU_ASSERT_EQUAL(get16(b + 10), 1); /* num_buffers */
    CU_ASSERT_EQUAL(memcmp(b + NET_HDR_LEN, frame, 100), 0);
    /* A frame first, the buffer later (the ring was dry). */
    net_backend_deliver(&g.be->be, frame, 64);
    usleep(20000);
    post(&g, 0, 1, (uint64_t[]){BUF + 4096}, (uint32_t[]){2048}, 1);
    CU_ASSERT_EQUAL(used_next(&g, 0), NET_HDR_LEN + 64);
    rig_down(&g);
}

/* A receive buffer too small for header + frame gets nothing (used length
 * 0, which Linux counts as a length error), the frame is dropped, and the
 * next frame uses the next buffer. */
static void test_rx_buffer_too_small_gets_nothing(void)
{
    struct rig g;
    rig_up(&g);
    post(&g, 0, 1, (uint64_t[]){BUF}, (uint32_t[]){50}, 1);
    post(&g, 0, 1, (uint64_t[]){BUF + 4096}, (uint32_t[]){2048}, 1);
    uint8_t frame[100] = {0};
    net_backend_deliver(&g.be->be, frame, sizeof(frame));
    CU_ASSERT_EQUAL(used_next(&g, 0), 0);
    net_backend_deliver(&g.be->be, frame, 80);
    CU_ASSERT_EQUAL(used_next(&g, 0), NET_HDR_LEN + 80);
    /* A read-only chain on the receive queue: also nothing. */
    post(&g, 0, 1, (uint64_t[]){BUF}, (uint32_t[]){2048}, 0);
    net_backend_deliver(&g.be->be, frame, 80);
    CU_ASSERT_EQUAL(used_next(&g, 0), 0);
    rig_down(&g);
}

/* The config space holds the MAC and a link that is up. */
static void test_config_has_mac_and_link_up(void)
{
    struct rig g;
    rig_up(&g);
    uint8_t mac[6];
    for (int i = 0; i < 6; i++) {
        uint64_t v = 0;
        bus_read(&g.m.mmio, BASE + R_CONFIG + i, 1, &v);
        mac[i] = (uint8_t)v;
    }
    CU_ASSERT_EQUAL(memcmp(mac, (uint8_t[]){0x52, 0x54, 0, 1, 2, 3}, 6), 0);
    uint64_t st = 0;
    bus_read(&g.m.mmio, BASE + R_CONFIG + 6, 2, &st);
    CU_ASSERT_EQUAL(st, 1);
    rig_down(&g);
}

int main(void)
{
    static const struct unit_test tests[] = {
        {"config_has_mac_and_link_up", test_config_has_mac_and_link_up},
        {"tx_frame_reaches_the_backend_without_its_header",
         test_tx_frame_reaches_the_backend_without_its_header},
        {"tx_oversized_frame_is_dropped", test_tx_oversized_frame_is_dropped},
        {"tx_runt_frame_is_dropped", test_tx_runt_frame_is_dropped},
        {"tx_unnegotiated_offload_is_dropped", test_tx_unnegotiated_offload_is_dropped},
        {"tx_short_header_chain_breaks_the_device", test_tx_short_header_chain_breaks_the_device},
        {"rx_frame_lands_in_the_guest_buffer", test_rx_frame_lands_in_the_guest_buffer},
        {"rx_buffer_too_small_gets_nothing", test_rx_buffer_too_small_gets_nothing},
        {NULL, NULL},
    };
    return unit_main("virtio_net", tests);
}
