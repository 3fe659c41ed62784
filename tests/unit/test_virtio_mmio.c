/* The virtio-mmio transport (devices/virtio/mmio.c) driven as a guest
 * driver would, through virtio_mmio_ops.read/.write, with a small test
 * device behind it: 2 queues, 6 bytes of config space, and counters for
 * every callback the transport makes. The machine has 1 MiB of RAM at 0 and
 * an interrupt controller that records line levels.
 */
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/mmio.h"
#include "machine/component.h"
#include "machine/machine.h"
#include "machine/state.h"
#include "unit.h"
#include "util/error.h"

/* Register offsets (virtio 1.x, 4.2.2). */
#define MAGIC 0x000
#define VERSION 0x004
#define DEVICE_ID 0x008
#define VENDOR_ID 0x00c
#define DEVICE_FEATURES 0x010
#define DEVICE_FEATURES_SEL 0x014
#define DRIVER_FEATURES 0x020
#define DRIVER_FEATURES_SEL 0x024
#define QUEUE_SEL 0x030
#define QUEUE_NUM_MAX 0x034
#define QUEUE_NUM 0x038
#define QUEUE_READY 0x044
#define QUEUE_NOTIFY 0x050
#define INTERRUPT_STATUS 0x060
#define INTERRUPT_ACK 0x064
#define STATUS 0x070
#define QUEUE_DESC_LOW 0x080
#define QUEUE_DESC_HIGH 0x084
#define QUEUE_DRIVER_LOW 0x090
#define QUEUE_DRIVER_HIGH 0x094
#define QUEUE_DEVICE_LOW 0x0a0
#define QUEUE_DEVICE_HIGH 0x0a4
#define QUEUE_RESET 0x0c0
#define CONFIG_GENERATION 0x0fc
#define CONFIG 0x100

#define TEST_DEVICE_ID 42
#define TEST_FEATURE 3 /* a device feature bit the test device offers */
#define TEST_IRQ 5
#define MMIO_BASE 0x10000000ULL
#define RAM_SIZE (1ULL << 20)
#define QUEUE_MAX 16
#define CONFIG_SIZE 6

/* Ring layout the tests' driver uses for queue q. */
#define DESC(q) (0x10000ULL + 0x4000ULL * (q))
#define AVAIL(q) (DESC(q) + 0x1000)
#define USED(q) (DESC(q) + 0x2000)
#define DATA 0x40000ULL

struct tdev {
    struct virtio_dev vd;
    uint8_t config[CONFIG_SIZE];
    unsigned notified[2], queue_resets[2];
    unsigned resets, driver_oks;
    uint32_t extra; /* device state saved after the transport's */
};

static int line_level[64];
static unsigned line_changes;

static int record_irq(void *opaque, unsigned irq, int level)
{
    (void)opaque;
    if (irq < 64)
        line_level[irq] = level;
    line_changes++;
    return 0;
}

static void t_config_read(struct virtio_dev *vd, uint32_t offset, void *buf, uint32_t len)
{
    struct tdev *t = vd->priv;
    memcpy(buf, t->config + offset, len);
}

static void t_config_write(struct virtio_dev *vd, uint32_t offset, const void *buf, uint32_t len)
{
    struct tdev *t = vd->priv;
    memcpy(t->config + offset, buf, len);
}

static void t_queue_notify(struct virtio_dev *vd, unsigned q)
{
    struct tdev *t = vd->priv;
    if (q < 2)
        t->notified[q]++;
}

static void t_driver_ok(struct virtio_dev *vd)
{
    ((struct tdev *)vd->priv)->driver_oks++;
}

static void t_reset(struct virtio_dev *vd)
{
    ((struct tdev *)vd->priv)->resets++;
}

static void t_queue_reset(struct virtio_dev *vd, unsigned q)
{
    struct tdev *t = vd->priv;
    if (q < 2)
        t->queue_resets[q]++;
}

static int t_save(struct virtio_dev *vd, struct state_writer *w)
{
    struct tdev *t = vd->priv;
    state_put_u32(w, t->extra);
    state_put_bytes(w, t->config, CONFIG_SIZE);
    return 0;
}

static int t_load(struct virtio_dev *vd, struct state_reader *r, uint32_t version)
{
    struct tdev *t = vd->priv;
    (void)version;
    state_get_u32(r, &t->extra);
    return state_get_bytes(r, t->config, CONFIG_SIZE);
}

static void t_destroy(struct virtio_dev *vd)
{
    virtio_dev_release(vd);
    free(vd->priv);
}

static const struct virtio_device_ops test_ops = {
    .type = "virtio-test",
    .device_id = TEST_DEVICE_ID,
    .state_version = 1,
    .config_read = t_config_read,
    .config_write = t_config_write,
    .queue_notify = t_queue_notify,
    .driver_ok = t_driver_ok,
    .reset = t_reset,
    .queue_reset = t_queue_reset,
    .save = t_save,
    .load = t_load,
    .destroy = t_destroy,
};

struct rig {
    struct machine m;
    struct tdev *t;
    struct virtio_dev *vd;
};

static void rig_init(struct rig *r)
{
    memset(line_level, 0, sizeof(line_level));
    line_changes = 0;
    CU_ASSERT_EQUAL_FATAL(machine_init(&r->m, 1), 0);
    r->m.irq = (struct machine_irq_controller){ record_irq, NULL };
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&r->m.mem, 0, RAM_SIZE), 0);
    r->t = calloc(1, sizeof(*r->t));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->t);
    memcpy(r->t->config, "\x11\x22\x33\x44\x55\x66", CONFIG_SIZE);
    r->vd = &r->t->vd;
    CU_ASSERT_EQUAL_FATAL(virtio_dev_init(r->vd, &r->m, TEST_IRQ, &test_ops, r->t,
                                          VIRTIO_BIT(TEST_FEATURE), 2, QUEUE_MAX, CONFIG_SIZE),
                          0);
    struct virtio_placement at = { .name = "vio0", .base = MMIO_BASE, .irq = r->vd->irq };
    CU_ASSERT_EQUAL_FATAL(virtio_mmio_attach(&r->m, r->vd, &at), 0);
}

static void rig_destroy(struct rig *r)
{
    machine_destroy(&r->m);
}

static uint32_t rd(struct rig *r, uint64_t off)
{
    return (uint32_t)virtio_mmio_ops.read(r->vd, off, 4);
}

static void wr(struct rig *r, uint64_t off, uint32_t v)
{
    virtio_mmio_ops.write(r->vd, off, 4, v);
}

/* ACKNOWLEDGE, DRIVER, the driver's features, FEATURES_OK; returns the
 * status read back. */
static uint32_t negotiate(struct rig *r, uint64_t features)
{
    wr(r, STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    wr(r, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(r, DRIVER_FEATURES_SEL, 0);
    wr(r, DRIVER_FEATURES, (uint32_t)features);
    wr(r, DRIVER_FEATURES_SEL, 1);
    wr(r, DRIVER_FEATURES, (uint32_t)(features >> 32));
    wr(r, STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return rd(r, STATUS);
}

#define ALL_STATUS                                                                                 \
    (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |               \
     VIRTIO_STATUS_DRIVER_OK)

static void program_queue(struct rig *r, unsigned q, uint32_t size, uint64_t desc, uint64_t avail,
                          uint64_t used)
{
    wr(r, QUEUE_SEL, q);
    wr(r, QUEUE_NUM, size);
    wr(r, QUEUE_DESC_LOW, (uint32_t)desc);
    wr(r, QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    wr(r, QUEUE_DRIVER_LOW, (uint32_t)avail);
    wr(r, QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
    wr(r, QUEUE_DEVICE_LOW, (uint32_t)used);
    wr(r, QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
}

static void setup_queue(struct rig *r, unsigned q, uint32_t size)
{
    program_queue(r, q, size, DESC(q), AVAIL(q), USED(q));
    wr(r, QUEUE_READY, 1);
    CU_ASSERT_EQUAL(rd(r, QUEUE_READY), 1);
}

/* Negotiation with `features`, both queues of 8 entries, DRIVER_OK. */
static void bring_up(struct rig *r, uint64_t features)
{
    CU_ASSERT_TRUE_FATAL(negotiate(r, features) & VIRTIO_STATUS_FEATURES_OK);
    setup_queue(r, 0, 8);
    setup_queue(r, 1, 8);
    wr(r, STATUS, ALL_STATUS);
    CU_ASSERT_EQUAL(rd(r, STATUS), ALL_STATUS);
}

static void put16(struct rig *r, uint64_t gpa, uint16_t v)
{
    CU_ASSERT_EQUAL_FATAL(guest_mem_write(&r->m.mem, gpa, &v, 2), 0);
}

static uint16_t get16(struct rig *r, uint64_t gpa)
{
    uint16_t v = 0;
    CU_ASSERT_EQUAL_FATAL(guest_mem_read(&r->m.mem, gpa, &v, 2), 0);
    return v;
}

static void put_desc(struct rig *r, unsigned q, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    uint8_t d[16];
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    CU_ASSERT_EQUAL_FATAL(guest_mem_write(&r->m.mem, DESC(q) + 16ULL * i, d, 16), 0);
}

/* The driver makes chain `head` available in queue q (of size 8). */
static void offer(struct rig *r, unsigned q, uint16_t head)
{
    uint16_t idx = get16(r, AVAIL(q) + 2);
    put16(r, AVAIL(q) + 4 + 2ULL * (idx % 8), head);
    put16(r, AVAIL(q) + 2, (uint16_t)(idx + 1));
}

static const uint64_t VERSION_1 = VIRTIO_BIT(VIRTIO_F_VERSION_1);

/* --- identification and features --- */

static void test_identifies_as_virtio_mmio_version_2_with_device_id(void)
{
    struct rig r;
    rig_init(&r);
    CU_ASSERT_EQUAL(rd(&r, MAGIC), 0x74726976);
    CU_ASSERT_EQUAL(rd(&r, VERSION), 2);
    CU_ASSERT_EQUAL(rd(&r, DEVICE_ID), TEST_DEVICE_ID);
    CU_ASSERT_NOT_EQUAL(rd(&r, VENDOR_ID), 0);
    CU_ASSERT_EQUAL(rd(&r, STATUS), 0);
    /* Registers are 32 bits wide: other widths read nothing. */
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, MAGIC, 2), 0);
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, MAGIC, 1), 0);
    rig_destroy(&r);
}

static void test_offers_device_and_transport_features(void)
{
    struct rig r;
    rig_init(&r);
    wr(&r, DEVICE_FEATURES_SEL, 0);
    uint32_t lo = rd(&r, DEVICE_FEATURES);
    wr(&r, DEVICE_FEATURES_SEL, 1);
    uint32_t hi = rd(&r, DEVICE_FEATURES);
    wr(&r, DEVICE_FEATURES_SEL, 2);
    CU_ASSERT_EQUAL(rd(&r, DEVICE_FEATURES), 0);
    uint64_t f = (uint64_t)hi << 32 | lo;
    CU_ASSERT_TRUE((f & VIRTIO_BIT(TEST_FEATURE)) != 0);
    CU_ASSERT_TRUE((f & VERSION_1) != 0);
    CU_ASSERT_TRUE((f & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC)) != 0);
    CU_ASSERT_TRUE((f & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)) != 0);
    CU_ASSERT_TRUE((f & VIRTIO_BIT(VIRTIO_F_RING_RESET)) != 0);
    CU_ASSERT_FALSE((f & VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM)) != 0);
    rig_destroy(&r);
}

static void test_features_ok_refused_when_driver_accepts_unoffered_bits(void)
{
    struct rig r;
    rig_init(&r);
    CU_ASSERT_FALSE(negotiate(&r, VERSION_1 | VIRTIO_BIT(TEST_FEATURE) | VIRTIO_BIT(7)) &
                    VIRTIO_STATUS_FEATURES_OK);
    CU_ASSERT_FALSE(negotiate(&r, VERSION_1 | VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM)) &
                    VIRTIO_STATUS_FEATURES_OK);
    CU_ASSERT_FALSE(negotiate(&r, VERSION_1 | VIRTIO_BIT(63)) & VIRTIO_STATUS_FEATURES_OK);
    rig_destroy(&r);
}

static void test_features_ok_refused_without_version_1(void)
{
    struct rig r;
    rig_init(&r);
    CU_ASSERT_FALSE(negotiate(&r, VIRTIO_BIT(TEST_FEATURE)) & VIRTIO_STATUS_FEATURES_OK);
    CU_ASSERT_FALSE(negotiate(&r, 0) & VIRTIO_STATUS_FEATURES_OK);
    rig_destroy(&r);
}

static void test_features_ok_accepted_for_offered_features(void)
{
    struct rig r;
    rig_init(&r);
    uint64_t want = VERSION_1 | VIRTIO_BIT(TEST_FEATURE) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
    CU_ASSERT_TRUE(negotiate(&r, want) & VIRTIO_STATUS_FEATURES_OK);
    CU_ASSERT_TRUE(virtio_dev_has(r.vd, TEST_FEATURE));
    CU_ASSERT_TRUE(virtio_dev_has(r.vd, VIRTIO_F_RING_EVENT_IDX));
    CU_ASSERT_FALSE(virtio_dev_has(r.vd, VIRTIO_F_RING_INDIRECT_DESC));
    CU_ASSERT_TRUE(r.vd->queues[0].event_idx);
    CU_ASSERT_FALSE(r.vd->queues[1].indirect);
    /* Once FEATURES_OK is set, the features are fixed. */
    wr(&r, DRIVER_FEATURES_SEL, 0);
    wr(&r, DRIVER_FEATURES, 0xffffffff);
    CU_ASSERT_EQUAL(r.vd->driver_features, want);
    rig_destroy(&r);
}

/* --- queue setup --- */

static void test_queue_setup_only_while_not_ready(void)
{
    struct rig r;
    rig_init(&r);
    negotiate(&r, VERSION_1);
    wr(&r, QUEUE_SEL, 1);
    CU_ASSERT_EQUAL(rd(&r, QUEUE_NUM_MAX), QUEUE_MAX);
    CU_ASSERT_EQUAL(rd(&r, QUEUE_READY), 0);
    setup_queue(&r, 1, 4);
    struct virtq *q = &r.vd->queues[1];
    CU_ASSERT_EQUAL(q->size, 4);
    CU_ASSERT_EQUAL(q->desc_gpa, DESC(1));
    /* While ready, the layout stays. */
    program_queue(&r, 1, 8, 0x80000, 0x81000, 0x82000);
    CU_ASSERT_EQUAL(q->size, 4);
    CU_ASSERT_EQUAL(q->desc_gpa, DESC(1));
    CU_ASSERT_EQUAL(q->avail_gpa, AVAIL(1));
    CU_ASSERT_EQUAL(q->used_gpa, USED(1));
    CU_ASSERT_TRUE(q->ready);
    /* Not ready again: it may change. */
    wr(&r, QUEUE_READY, 0);
    CU_ASSERT_EQUAL(rd(&r, QUEUE_READY), 0);
    program_queue(&r, 1, 8, 0x80000, 0x81000, 0x82000);
    CU_ASSERT_EQUAL(q->size, 8);
    CU_ASSERT_EQUAL(q->desc_gpa, 0x80000);
    /* High halves land in the high 32 bits. */
    program_queue(&r, 1, 8, 0x100080000ULL, 0x81000, 0x82000);
    CU_ASSERT_EQUAL(q->desc_gpa, 0x100080000ULL);
    rig_destroy(&r);
}

static void test_queue_select_beyond_the_queues_reads_nothing_and_writes_nowhere(void)
{
    struct rig r;
    rig_init(&r);
    negotiate(&r, VERSION_1);
    wr(&r, QUEUE_SEL, 2);
    CU_ASSERT_EQUAL(rd(&r, QUEUE_NUM_MAX), 0);
    CU_ASSERT_EQUAL(rd(&r, QUEUE_READY), 0);
    program_queue(&r, 2, 4, DESC(0), AVAIL(0), USED(0));
    wr(&r, QUEUE_READY, 1);
    CU_ASSERT_EQUAL(rd(&r, QUEUE_READY), 0);
    wr(&r, QUEUE_SEL, 0xffffffff);
    wr(&r, QUEUE_NUM, 4);
    CU_ASSERT_EQUAL(r.vd->queues[0].size, QUEUE_MAX);
    CU_ASSERT_EQUAL(r.vd->queues[1].size, QUEUE_MAX);
    CU_ASSERT_FALSE(r.vd->queues[0].ready || r.vd->queues[1].ready);
    CU_ASSERT_FALSE(rd(&r, STATUS) & VIRTIO_STATUS_NEEDS_RESET);
    rig_destroy(&r);
}

static void test_queue_ready_with_bad_rings_sets_needs_reset(void)
{
    static const struct {
        uint32_t size;
        uint64_t desc, avail, used;
    } bad[] = {
        { 8, DESC(0) + 8, AVAIL(0), USED(0) },       /* misaligned descriptors */
        { 8, DESC(0), AVAIL(0) + 1, USED(0) },       /* misaligned driver ring */
        { 8, DESC(0), AVAIL(0), USED(0) + 2 },       /* misaligned device ring */
        { 8, RAM_SIZE, AVAIL(0), USED(0) },          /* descriptors outside RAM */
        { 8, DESC(0), AVAIL(0), RAM_SIZE - 16 },     /* device ring off the end */
        { 6, DESC(0), AVAIL(0), USED(0) },           /* not a power of two */
        { QUEUE_MAX * 2, DESC(0), AVAIL(0), USED(0) }, /* above QueueNumMax */
        { 0x10008, DESC(0), AVAIL(0), USED(0) },     /* above 16 bits */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rig r;
        rig_init(&r);
        negotiate(&r, VERSION_1);
        program_queue(&r, 0, bad[i].size, bad[i].desc, bad[i].avail, bad[i].used);
        wr(&r, QUEUE_READY, 1);
        CU_ASSERT_EQUAL(rd(&r, QUEUE_READY), 0);
        CU_ASSERT_TRUE(rd(&r, STATUS) & VIRTIO_STATUS_NEEDS_RESET);
        /* The driver writing its status does not clear it. */
        wr(&r, STATUS, ALL_STATUS);
        CU_ASSERT_TRUE(rd(&r, STATUS) & VIRTIO_STATUS_NEEDS_RESET);
        CU_ASSERT_FALSE(virtio_dev_queue_live(r.vd, 0));
        rig_destroy(&r);
    }
}

/* --- notifications --- */

static void test_notify_before_driver_ok_is_ignored(void)
{
    struct rig r;
    rig_init(&r);
    negotiate(&r, VERSION_1);
    setup_queue(&r, 0, 8);
    wr(&r, QUEUE_NOTIFY, 0);
    CU_ASSERT_EQUAL(r.t->notified[0], 0);
    wr(&r, STATUS, ALL_STATUS);
    CU_ASSERT_EQUAL(r.t->driver_oks, 1);
    wr(&r, QUEUE_NOTIFY, 0);
    CU_ASSERT_EQUAL(r.t->notified[0], 1);
    /* A queue that is not ready is not notified either. */
    wr(&r, QUEUE_NOTIFY, 1);
    CU_ASSERT_EQUAL(r.t->notified[1], 0);
    rig_destroy(&r);
}

static void test_notify_for_a_queue_that_does_not_exist_is_ignored(void)
{
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1);
    wr(&r, QUEUE_NOTIFY, 2);
    wr(&r, QUEUE_NOTIFY, VIRTIO_MMIO_MAX_QUEUES);
    wr(&r, QUEUE_NOTIFY, 0xffffffff);
    CU_ASSERT_EQUAL(r.t->notified[0] + r.t->notified[1], 0);
    wr(&r, QUEUE_NOTIFY, 1);
    CU_ASSERT_EQUAL(r.t->notified[1], 1);
    rig_destroy(&r);
}

static void test_notify_after_needs_reset_is_ignored(void)
{
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1);
    virtio_dev_fail(r.vd, "test");
    wr(&r, QUEUE_NOTIFY, 0);
    CU_ASSERT_EQUAL(r.t->notified[0], 0);
    rig_destroy(&r);
}

/* --- interrupts --- */

static void test_interrupt_raise_sets_the_line_and_ack_lowers_it(void)
{
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 0);
    virtio_dev_interrupt(r.vd, VIRTIO_INT_USED_RING);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 1);
    CU_ASSERT_EQUAL(rd(&r, INTERRUPT_STATUS), VIRTIO_INT_USED_RING);
    virtio_dev_interrupt(r.vd, VIRTIO_INT_CONFIG);
    CU_ASSERT_EQUAL(rd(&r, INTERRUPT_STATUS), VIRTIO_INT_USED_RING | VIRTIO_INT_CONFIG);
    wr(&r, INTERRUPT_ACK, VIRTIO_INT_USED_RING);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 1); /* config still pending */
    CU_ASSERT_EQUAL(rd(&r, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
    wr(&r, INTERRUPT_ACK, VIRTIO_INT_CONFIG);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 0);
    CU_ASSERT_EQUAL(rd(&r, INTERRUPT_STATUS), 0);
    rig_destroy(&r);
}

static void test_status_zero_resets_everything(void)
{
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1 | VIRTIO_BIT(TEST_FEATURE));
    virtio_dev_interrupt(r.vd, VIRTIO_INT_USED_RING);
    virtio_dev_fail(r.vd, "test");
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 1);
    wr(&r, QUEUE_SEL, 1);
    wr(&r, STATUS, 0);
    CU_ASSERT_EQUAL(r.t->resets, 1);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 0);
    CU_ASSERT_EQUAL(rd(&r, STATUS), 0);
    CU_ASSERT_EQUAL(rd(&r, INTERRUPT_STATUS), 0);
    CU_ASSERT_EQUAL(r.vd->driver_features, 0);
    CU_ASSERT_EQUAL(r.vd->queue_sel, 0);
    for (unsigned q = 0; q < 2; q++) {
        wr(&r, QUEUE_SEL, q);
        CU_ASSERT_EQUAL(rd(&r, QUEUE_READY), 0);
        CU_ASSERT_EQUAL(r.vd->queues[q].size, QUEUE_MAX);
        CU_ASSERT_EQUAL(r.vd->queues[q].desc_gpa, 0);
        CU_ASSERT_EQUAL(r.vd->queues[q].last_avail, 0);
        CU_ASSERT_FALSE(r.vd->queues[q].event_idx);
    }
    /* And the device can be brought up again. */
    bring_up(&r, VERSION_1);
    CU_ASSERT_TRUE(virtio_dev_queue_live(r.vd, 0));
    rig_destroy(&r);
}

static void test_queue_reset_resets_one_queue(void)
{
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1 | VIRTIO_BIT(VIRTIO_F_RING_RESET) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
    r.vd->queues[1].last_avail = 5;
    wr(&r, QUEUE_SEL, 1);
    wr(&r, QUEUE_RESET, 1);
    CU_ASSERT_EQUAL(rd(&r, QUEUE_RESET), 0); /* done */
    CU_ASSERT_EQUAL(r.t->queue_resets[1], 1);
    CU_ASSERT_EQUAL(r.t->queue_resets[0], 0);
    CU_ASSERT_EQUAL(r.t->resets, 0);
    CU_ASSERT_EQUAL(rd(&r, QUEUE_READY), 0);
    struct virtq *q1 = &r.vd->queues[1];
    CU_ASSERT_EQUAL(q1->size, QUEUE_MAX);
    CU_ASSERT_EQUAL(q1->desc_gpa, 0);
    CU_ASSERT_EQUAL(q1->last_avail, 0);
    CU_ASSERT_TRUE(q1->event_idx); /* negotiated features stay */
    /* The other queue and the device carry on. */
    CU_ASSERT_TRUE(virtio_dev_queue_live(r.vd, 0));
    CU_ASSERT_EQUAL(r.vd->queues[0].desc_gpa, DESC(0));
    CU_ASSERT_EQUAL(rd(&r, STATUS), ALL_STATUS);
    /* The queue can be set up again while the device runs. */
    setup_queue(&r, 1, 4);
    CU_ASSERT_TRUE(virtio_dev_queue_live(r.vd, 1));
    rig_destroy(&r);
}

static void test_queue_reset_without_ring_reset_feature_is_ignored(void)
{
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1);
    wr(&r, QUEUE_SEL, 1);
    wr(&r, QUEUE_RESET, 1);
    CU_ASSERT_EQUAL(r.t->queue_resets[1], 0);
    CU_ASSERT_EQUAL(rd(&r, QUEUE_READY), 1);
    CU_ASSERT_TRUE(virtio_dev_queue_live(r.vd, 1));
    rig_destroy(&r);
}

/* --- config space --- */

static void test_config_reads_within_the_config_size(void)
{
    struct rig r;
    rig_init(&r);
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, CONFIG, 1), 0x11);
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, CONFIG + 5, 1), 0x66);
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, CONFIG + 1, 2), 0x3322);
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, CONFIG + 2, 4), 0x66554433);
    virtio_mmio_ops.write(r.vd, CONFIG + 4, 2, 0xbeef);
    CU_ASSERT_EQUAL(r.t->config[4], 0xef);
    CU_ASSERT_EQUAL(r.t->config[5], 0xbe);
    rig_destroy(&r);
}

static void test_config_accesses_outside_the_config_size_do_nothing(void)
{
    struct rig r;
    rig_init(&r);
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, CONFIG + 6, 1), 0);
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, CONFIG + 4, 4), 0); /* straddles the end */
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, CONFIG + 0, 8), 0);
    CU_ASSERT_EQUAL(virtio_mmio_ops.read(r.vd, VIRTIO_MMIO_SIZE - 4, 4), 0);
    virtio_mmio_ops.write(r.vd, CONFIG + 5, 2, 0xffff);
    virtio_mmio_ops.write(r.vd, CONFIG + 6, 1, 0xff);
    CU_ASSERT(memcmp(r.t->config, "\x11\x22\x33\x44\x55\x66", CONFIG_SIZE) == 0);
    rig_destroy(&r);
}

static void test_config_generation_increments_on_config_change(void)
{
    struct rig r;
    rig_init(&r);
    uint32_t g0 = rd(&r, CONFIG_GENERATION);
    virtio_dev_config_changed(r.vd);
    CU_ASSERT_EQUAL(rd(&r, CONFIG_GENERATION), g0 + 1);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 0); /* no interrupt before DRIVER_OK */
    bring_up(&r, VERSION_1);
    virtio_dev_config_changed(r.vd);
    CU_ASSERT_EQUAL(rd(&r, CONFIG_GENERATION), g0 + 2);
    CU_ASSERT_EQUAL(rd(&r, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 1);
    rig_destroy(&r);
}

/* --- popping and pushing through the transport --- */

static struct virtq_chain chain;

static void test_pop_of_a_malformed_chain_sets_needs_reset_and_raises_config_interrupt(void)
{
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1);
    put_desc(&r, 0, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 0); /* loops on itself */
    offer(&r, 0, 0);
    CU_ASSERT_EQUAL(virtio_dev_pop(r.vd, 0, &chain), 0);
    CU_ASSERT_TRUE(rd(&r, STATUS) & VIRTIO_STATUS_NEEDS_RESET);
    CU_ASSERT_TRUE(rd(&r, INTERRUPT_STATUS) & VIRTIO_INT_CONFIG);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 1);
    /* Neither queue is used again until the driver resets the device. */
    CU_ASSERT_FALSE(virtio_dev_queue_live(r.vd, 0));
    CU_ASSERT_FALSE(virtio_dev_queue_live(r.vd, 1));
    put_desc(&r, 1, 0, DATA, 16, 0, 0);
    offer(&r, 1, 0);
    CU_ASSERT_EQUAL(virtio_dev_pop(r.vd, 1, &chain), 0);
    CU_ASSERT_EQUAL(r.vd->queues[1].last_avail, 0);
    wr(&r, STATUS, 0);
    CU_ASSERT_EQUAL(rd(&r, STATUS), 0);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 0);
    rig_destroy(&r);
}

static void test_pop_and_push_round_trip_raises_used_interrupt(void)
{
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1);
    put_desc(&r, 1, 3, DATA, 64, VIRTQ_DESC_F_WRITE, 0);
    offer(&r, 1, 3);
    CU_ASSERT_EQUAL(virtio_dev_pop(r.vd, 1, &chain), 1);
    CU_ASSERT_EQUAL(chain.head, 3);
    CU_ASSERT_EQUAL(chain.in_len, 64);
    CU_ASSERT_EQUAL(virtio_dev_pop(r.vd, 1, &chain), 0);
    virtio_dev_push(r.vd, 1, 3, 10);
    CU_ASSERT_EQUAL(get16(&r, USED(1) + 2), 1);
    CU_ASSERT_EQUAL(rd(&r, INTERRUPT_STATUS), VIRTIO_INT_USED_RING);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 1);
    rig_destroy(&r);
}

static void test_push_after_the_queue_was_reset_is_dropped(void)
{
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1 | VIRTIO_BIT(VIRTIO_F_RING_RESET));
    put_desc(&r, 0, 0, DATA, 64, VIRTQ_DESC_F_WRITE, 0);
    offer(&r, 0, 0);
    CU_ASSERT_EQUAL(virtio_dev_pop(r.vd, 0, &chain), 1);
    wr(&r, QUEUE_SEL, 0);
    wr(&r, QUEUE_RESET, 1);
    virtio_dev_push(r.vd, 0, 0, 10);
    CU_ASSERT_EQUAL(get16(&r, USED(0) + 2), 0);
    CU_ASSERT_EQUAL(rd(&r, INTERRUPT_STATUS), 0);
    rig_destroy(&r);
}

static void test_empty_pop_with_event_idx_asks_for_the_next_notify(void)
{
    /* With VIRTIO_F_RING_EVENT_IDX the driver notifies only when its new
     * avail index passes avail_event. When the device finds the ring empty,
     * avail_event must say so (= last_avail), or the next buffer comes
     * without a notify and the device sleeps on it for ever. */
    struct rig r;
    rig_init(&r);
    bring_up(&r, VERSION_1 | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
    const uint64_t avail_event = USED(0) + 4 + 8 * 8;
    for (uint16_t i = 0; i < 3; i++) {
        put_desc(&r, 0, i, DATA, 64, VIRTQ_DESC_F_WRITE, 0);
        offer(&r, 0, i);
    }
    while (virtio_dev_pop(r.vd, 0, &chain) == 1)
        virtio_dev_push(r.vd, 0, chain.head, 0);
    CU_ASSERT_EQUAL(r.vd->queues[0].last_avail, 3);
    CU_ASSERT_EQUAL(get16(&r, avail_event), 3);
    rig_destroy(&r);
}

/* --- saved state --- */

static struct component *component(struct rig *r)
{
    struct component *c = machine_find_component(&r->m, "vio0");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return c;
}

/* A device in the middle of its life: features, queues with indices,
 * a pending interrupt, a bumped generation, device state. */
static void busy_device(struct rig *r)
{
    bring_up(r, VERSION_1 | VIRTIO_BIT(TEST_FEATURE) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
                    VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC));
    put_desc(r, 0, 0, DATA, 64, VIRTQ_DESC_F_WRITE, 0);
    offer(r, 0, 0);
    CU_ASSERT_EQUAL(virtio_dev_pop(r->vd, 0, &chain), 1);
    virtio_dev_push(r->vd, 0, chain.head, 7);
    virtio_dev_config_changed(r->vd);
    wr(r, QUEUE_SEL, 1);
    wr(r, DEVICE_FEATURES_SEL, 1);
    r->t->extra = 0xdeadbeef;
}

static void test_state_save_load_save_gives_identical_bytes(void)
{
    struct rig r;
    rig_init(&r);
    busy_device(&r);
    struct state_buffer b1, b2;
    memset(&b1, 0, sizeof(b1));
    memset(&b2, 0, sizeof(b2));
    CU_ASSERT_EQUAL_FATAL(component_save_to_buffer(component(&r), &b1), 0);

    /* Into a fresh machine with the same device. */
    struct rig r2;
    rig_init(&r2);
    CU_ASSERT_EQUAL_FATAL(component_load_from_buffer(component(&r2), &b1), 0);
    CU_ASSERT_EQUAL_FATAL(component_save_to_buffer(component(&r2), &b2), 0);
    CU_ASSERT_EQUAL(b1.len, b2.len);
    CU_ASSERT(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);

    /* What the load restored works. */
    CU_ASSERT_EQUAL(rd(&r2, STATUS), ALL_STATUS);
    CU_ASSERT_EQUAL(rd(&r2, INTERRUPT_STATUS), VIRTIO_INT_USED_RING | VIRTIO_INT_CONFIG);
    CU_ASSERT_EQUAL(line_level[TEST_IRQ], 1);
    CU_ASSERT_EQUAL(rd(&r2, CONFIG_GENERATION), 1);
    CU_ASSERT_EQUAL(r2.t->extra, 0xdeadbeef);
    CU_ASSERT_EQUAL(r2.t->driver_oks, 1);
    CU_ASSERT_TRUE(r2.vd->queues[0].event_idx);
    CU_ASSERT_TRUE(r2.vd->queues[0].indirect);
    CU_ASSERT_TRUE(virtio_dev_queue_live(r2.vd, 0));
    CU_ASSERT_EQUAL(r2.vd->queues[0].last_avail, 1);
    CU_ASSERT_EQUAL(r2.vd->queues[0].used_idx, 1);
    wr(&r2, QUEUE_NOTIFY, 1);
    CU_ASSERT_EQUAL(r2.t->notified[1], 1);
    rig_destroy(&r2);

    /* And into the same machine. */
    CU_ASSERT_EQUAL(component_load_from_buffer(component(&r), &b1), 0);
    state_buffer_free(&b2);
    memset(&b2, 0, sizeof(b2));
    CU_ASSERT_EQUAL(component_save_to_buffer(component(&r), &b2), 0);
    CU_ASSERT(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    state_buffer_free(&b1);
    state_buffer_free(&b2);
    rig_destroy(&r);
}

static void test_corrupted_state_section_is_refused(void)
{
    struct rig r;
    rig_init(&r);
    busy_device(&r);
    struct state_buffer b;
    memset(&b, 0, sizeof(b));
    CU_ASSERT_EQUAL_FATAL(component_save_to_buffer(component(&r), &b), 0);
    /* Every byte of the section in turn (header 16, magic 4, name length 1,
     * name 4, version 4, length 8, then the payload): flipped, refused. */
    size_t first = 16 + 4, last = b.len - 12;
    for (size_t i = first; i < last; i++) {
        struct rig r2;
        rig_init(&r2);
        b.data[i] ^= 0x40;
        CU_ASSERT_NOT_EQUAL(component_load_from_buffer(component(&r2), &b), 0);
        b.data[i] ^= 0x40;
        rig_destroy(&r2);
    }
    /* Truncated. */
    struct rig r3;
    rig_init(&r3);
    size_t len = b.len;
    b.len = len - 20;
    CU_ASSERT_NOT_EQUAL(component_load_from_buffer(component(&r3), &b), 0);
    b.len = len;
    CU_ASSERT_EQUAL(component_load_from_buffer(component(&r3), &b), 0);
    rig_destroy(&r3);
    state_buffer_free(&b);
    rig_destroy(&r);
}

/* A transport section with a good checksum but chosen values. */
struct craft {
    uint64_t driver_features;
    uint32_t status, isr, nr_queues;
    uint16_t qsize;
    uint8_t qready;
    uint32_t dev_version;
};

static void craft_section(struct state_buffer *b, const struct craft *c)
{
    memset(b, 0, sizeof(*b));
    struct state_sink sink = state_buffer_sink(b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL(state_begin(w, "vio0", 1), 0);
    state_put_u64(w, c->driver_features);
    state_put_u32(w, c->status);
    state_put_u32(w, 0);
    state_put_u32(w, 0);
    state_put_u32(w, 0);
    state_put_u32(w, 0);
    state_put_u32(w, c->isr);
    state_put_u32(w, c->nr_queues);
    for (unsigned i = 0; i < c->nr_queues; i++) {
        state_put_u16(w, c->qsize);
        state_put_u8(w, c->qready);
        state_put_u64(w, DESC(i));
        state_put_u64(w, AVAIL(i));
        state_put_u64(w, USED(i));
        state_put_u16(w, 0);
        state_put_u16(w, 0);
        state_put_u16(w, 0);
        state_put_u8(w, 0);
    }
    state_put_u32(w, c->dev_version);
    state_put_u32(w, 0);
    state_put_bytes(w, "abcdef", CONFIG_SIZE);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_writer_finish(w), 0);
    state_writer_free(w);
}

static void test_state_with_impossible_values_is_refused(void)
{
    const struct craft good = { VERSION_1, ALL_STATUS, 0, 2, 8, 1, 1 };
    struct craft bad[7];
    for (int i = 0; i < 7; i++)
        bad[i] = good;
    bad[0].driver_features |= VIRTIO_BIT(50); /* never offered */
    bad[1].status = 0x100;
    bad[2].isr = 4;
    bad[3].nr_queues = 3;
    bad[4].qsize = QUEUE_MAX * 2;
    bad[5].qready = 2;
    bad[6].dev_version = 2; /* newer than the device reads */
    struct state_buffer b;
    craft_section(&b, &good);
    struct rig r;
    rig_init(&r);
    CU_ASSERT_EQUAL(component_load_from_buffer(component(&r), &b), 0);
    CU_ASSERT_TRUE(virtio_dev_queue_live(r.vd, 1));
    state_buffer_free(&b);
    rig_destroy(&r);
    for (int i = 0; i < 7; i++) {
        craft_section(&b, &bad[i]);
        rig_init(&r);
        CU_ASSERT_EQUAL(component_load_from_buffer(component(&r), &b), VMM_EFORMAT);
        state_buffer_free(&b);
        rig_destroy(&r);
    }
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "identifies as virtio-mmio version 2 with the device id",
          test_identifies_as_virtio_mmio_version_2_with_device_id },
        { "offers device and transport features", test_offers_device_and_transport_features },
        { "FEATURES_OK refused when the driver accepts unoffered bits",
          test_features_ok_refused_when_driver_accepts_unoffered_bits },
        { "FEATURES_OK refused without VERSION_1", test_features_ok_refused_without_version_1 },
        { "FEATURES_OK accepted for offered features",
          test_features_ok_accepted_for_offered_features },
        { "queue setup only while not ready", test_queue_setup_only_while_not_ready },
        { "queue select beyond the queues reads nothing and writes nowhere",
          test_queue_select_beyond_the_queues_reads_nothing_and_writes_nowhere },
        { "QueueReady with bad rings sets NEEDS_RESET",
          test_queue_ready_with_bad_rings_sets_needs_reset },
        { "notify before DRIVER_OK is ignored", test_notify_before_driver_ok_is_ignored },
        { "notify for a queue that does not exist is ignored",
          test_notify_for_a_queue_that_does_not_exist_is_ignored },
        { "notify after NEEDS_RESET is ignored", test_notify_after_needs_reset_is_ignored },
        { "interrupt raise sets the line and ACK lowers it",
          test_interrupt_raise_sets_the_line_and_ack_lowers_it },
        { "status 0 resets everything", test_status_zero_resets_everything },
        { "queue reset resets one queue", test_queue_reset_resets_one_queue },
        { "queue reset without VIRTIO_F_RING_RESET is ignored",
          test_queue_reset_without_ring_reset_feature_is_ignored },
        { "config reads within the config size", test_config_reads_within_the_config_size },
        { "config accesses outside the config size do nothing",
          test_config_accesses_outside_the_config_size_do_nothing },
        { "config generation increments on config change",
          test_config_generation_increments_on_config_change },
        { "pop of a malformed chain sets NEEDS_RESET and raises a config interrupt",
          test_pop_of_a_malformed_chain_sets_needs_reset_and_raises_config_interrupt },
        { "pop and push round trip raises the used interrupt",
          test_pop_and_push_round_trip_raises_used_interrupt },
        { "push after the queue was reset is dropped",
          test_push_after_the_queue_was_reset_is_dropped },
        { "empty pop with event idx asks for the next notify",
          test_empty_pop_with_event_idx_asks_for_the_next_notify },
        { "state save -> load -> save gives identical bytes",
          test_state_save_load_save_gives_identical_bytes },
        { "corrupted state section is refused", test_corrupted_state_section_is_refused },
        { "state with impossible values is refused", test_state_with_impossible_values_is_refused },
        { NULL, NULL },
    };
    return unit_main("virtio-mmio", tests);
}
