/* virtio-balloon driven the way a guest driver would: a machine with RAM,
 * the device on the MMIO bus, hand-made split rings in guest memory. The
 * protocol (inflate punches pages out of the memfd, deflate, statistics,
 * free page reporting, the target and actual in config space) and hostile
 * input: PFNs outside RAM, buffers that are not whole PFNs, stats records
 * cut short or with unknown tags, reported buffers that are not whole
 * pages. The device skips and counts what it refuses and keeps working. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/balloon.h"
#include "devices/virtio/mmio.h"
#include "machine/component.h"
#include "machine/machine.h"
#include "unit.h"
#include "vmm/error.h"

#define RAM 0x80000000ULL
#define RAM_SIZE (8u << 20)
#define BASE 0x10001000ULL
#define IRQ 5
#define QSIZE 16
#define PAGE 4096u
/* Pages the tests give up and report, far above what the rings use. */
#define VICTIM (RAM + (4u << 20))

/* --- what the device told the host side --- */

static unsigned mem_changes;

static void rec_memory(void *opaque, unsigned what)
{
    __atomic_fetch_or(&mem_changes, what, __ATOMIC_SEQ_CST);
}

static int rec_irq(void *opaque, unsigned irq, int level) { return 0; }

static const struct machine_host_ops host_ops = {
    .memory_changed = rec_memory,
};

/* --- a tiny virtio driver --- */

struct dq {
    uint64_t desc, avail, used;
    uint16_t avail_idx, used_seen, next_desc;
};

struct drv {
    struct machine m;
    struct dq q[4];
    uint64_t brk;
    struct virtio_balloon *b;
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
    CU_ASSERT_FATAL(d->brk <= VICTIM);
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

static int needs_reset(struct drv *d) { return (rd(d, 0x070) & 64) != 0; }

/* A machine with RAM and a balloon offering `opt`; the driver accepts
 * `features` (balloon bits) and sets up nq queues. */
static void up(struct drv *d, const struct virtio_balloon_options *opt, uint32_t features,
               unsigned nq)
{
    memset(d, 0, sizeof(*d));
    CU_ASSERT_EQUAL_FATAL(machine_init(&d->m, 1), 0);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&d->m.mem, RAM, RAM_SIZE), 0);
    d->m.host = &host_ops;
    d->m.irq = (struct machine_irq_controller){ rec_irq, NULL };
    d->brk = RAM;
    mem_changes = 0;
    struct virtio_placement at = { .name = "balloon0", .base = BASE, .irq = IRQ };
    CU_ASSERT_EQUAL_FATAL(virtio_balloon_create(&d->m, &at, opt), 0);
    d->b = virtio_balloon_of(machine_find_component(&d->m, "balloon0"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d->b);

    CU_ASSERT_EQUAL(rd(d, 0x000), 0x74726976);
    CU_ASSERT_EQUAL(rd(d, 0x008), 5); /* device id: balloon */
    wr(d, 0x070, 1 | 2);
    wr(d, 0x024, 0);
    uint32_t offered = rd(d, 0x010);
    CU_ASSERT_EQUAL(offered & features, features);
    wr(d, 0x020, features);
    wr(d, 0x024, 1);
    wr(d, 0x020, 1); /* VERSION_1 */
    wr(d, 0x070, 1 | 2 | 8);
    CU_ASSERT_EQUAL_FATAL(rd(d, 0x070) & 8, 8);
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

static void down(struct drv *d)
{
    machine_destroy(&d->m);
}

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

/* Waits up to 2 s for the next used buffer of queue qi; 1 when it came. */
static int used(struct drv *d, unsigned qi)
{
    struct dq *q = &d->q[qi];
    uint8_t *u = gp(d, q->used, 6 + 8 * QSIZE);
    for (int i = 0; i < 2000; i++) {
        uint16_t idx = __atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE);
        if (idx != q->used_seen) {
            q->used_seen++;
            return 1;
        }
        usleep(1000);
    }
    return 0;
}

/* Nothing more arrives on qi within 100 ms. */
static int quiet(struct drv *d, unsigned qi)
{
    usleep(100000);
    uint8_t *u = gp(d, d->q[qi].used, 6 + 8 * QSIZE);
    return __atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE) == d->q[qi].used_seen;
}

static uint64_t touched(struct drv *d)
{
    uint64_t t = 0;
    guest_mem_usage(&d->m.mem, &t, NULL);
    return t;
}

/* Writes every page of [gpa, gpa + n pages) so the host commits it. */
static void dirty_pages(struct drv *d, uint64_t gpa, unsigned n)
{
    memset(gp(d, gpa, (size_t)n * PAGE), 0xa5, (size_t)n * PAGE);
}

static int all_zero(struct drv *d, uint64_t gpa, size_t len)
{
    const uint8_t *p = gp(d, gpa, len);
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

static struct virtio_balloon_info info_of(struct drv *d)
{
    struct virtio_balloon_info i;
    virtio_balloon_info(d->b, &i);
    return i;
}

static const struct virtio_balloon_options plain = { 0 };

/* --- tests --- */

static void test_inflated_pages_go_back_to_the_host(void)
{
    struct drv d;
    up(&d, &plain, 1u << VIRTIO_BALLOON_F_STATS_VQ, 3);
    dirty_pages(&d, VICTIM, 16);
    uint64_t before = touched(&d);
    uint32_t pfns[16];
    for (unsigned i = 0; i < 16; i++) /* out of order: the runs get split */
        pfns[i] = (uint32_t)((VICTIM >> 12) + (i ^ 5));
    gsend(&d, 0, pfns, sizeof(pfns));
    CU_ASSERT_TRUE(used(&d, 0));
    CU_ASSERT_EQUAL(before - touched(&d), 16u * PAGE);
    CU_ASSERT_TRUE(all_zero(&d, VICTIM, 16 * PAGE));
    struct virtio_balloon_info i = info_of(&d);
    CU_ASSERT_EQUAL(i.inflated_pages, 16);
    CU_ASSERT_EQUAL(i.errors, 0);
    /* The guest takes them back: counted, and the host is told. */
    gsend(&d, 1, pfns, sizeof(pfns));
    CU_ASSERT_TRUE(used(&d, 1));
    CU_ASSERT_EQUAL(info_of(&d).deflated_pages, 16);
    CU_ASSERT_TRUE(__atomic_load_n(&mem_changes, __ATOMIC_SEQ_CST) & MACHINE_MEM_BALLOON_DEFLATE);
    down(&d);
}

static void test_pfns_outside_ram_are_skipped_and_counted(void)
{
    struct drv d;
    up(&d, &plain, 1u << VIRTIO_BALLOON_F_STATS_VQ, 3);
    dirty_pages(&d, VICTIM, 1);
    dirty_pages(&d, RAM + RAM_SIZE - PAGE, 1);
    uint64_t before = touched(&d);
    uint32_t pfns[] = {
        0,                                   /* below RAM */
        (uint32_t)((RAM + RAM_SIZE) >> 12),  /* just past its end */
        0xffffffffu,                         /* the largest PFN */
        (uint32_t)(VICTIM >> 12),            /* a good one among them */
        (uint32_t)((RAM + RAM_SIZE - PAGE) >> 12), /* RAM's last page */
    };
    gsend(&d, 0, pfns, sizeof(pfns));
    CU_ASSERT_TRUE(used(&d, 0));
    struct virtio_balloon_info i = info_of(&d);
    CU_ASSERT_EQUAL(i.errors, 3);
    CU_ASSERT_EQUAL(i.inflated_pages, 2);
    CU_ASSERT_EQUAL(before - touched(&d), 2u * PAGE);
    CU_ASSERT_FALSE(needs_reset(&d));
    /* A buffer that is not whole PFNs: the whole ones count, the rest is
     * an error; the device keeps going. */
    uint8_t odd[7] = { 0 };
    uint32_t good = (uint32_t)(VICTIM >> 12) + 1;
    memcpy(odd, &good, 4);
    gsend(&d, 0, odd, sizeof(odd));
    CU_ASSERT_TRUE(used(&d, 0));
    CU_ASSERT_EQUAL(info_of(&d).inflated_pages, 3);
    CU_ASSERT_EQUAL(info_of(&d).errors, 4);
    /* An empty buffer and a PFN-less deflate do nothing. */
    gsend(&d, 1, odd, 0);
    CU_ASSERT_TRUE(used(&d, 1));
    CU_ASSERT_EQUAL(info_of(&d).deflated_pages, 0);
    CU_ASSERT_FALSE(needs_reset(&d));
    down(&d);
}

static void test_a_buffer_outside_ram_breaks_only_the_device(void)
{
    struct drv d;
    up(&d, &plain, 1u << VIRTIO_BALLOON_F_STATS_VQ, 3);
    post(&d, 0, RAM + RAM_SIZE - 2, 8, 0); /* runs off the end of RAM */
    CU_ASSERT_TRUE(quiet(&d, 0));
    CU_ASSERT_TRUE(needs_reset(&d));
    CU_ASSERT_EQUAL(info_of(&d).inflated_pages, 0);
    down(&d);
}

static void put_stat(uint8_t *rec, uint16_t tag, uint64_t val)
{
    memcpy(rec, &tag, 2);
    memcpy(rec + 2, &val, 8);
}

static void test_statistics_are_kept_and_asked_for_again(void)
{
    struct drv d;
    up(&d, &plain, 1u << VIRTIO_BALLOON_F_STATS_VQ, 3);
    CU_ASSERT_EQUAL(info_of(&d).stats_updates, 0);
    uint8_t recs[4 * 10 + 6];
    put_stat(recs, 4, 100u << 20);      /* MEMFREE */
    put_stat(recs + 10, 5, 256u << 20); /* MEMTOT */
    put_stat(recs + 20, 99, 7);         /* unknown tag: ignored */
    put_stat(recs + 30, 6, 120u << 20); /* AVAIL */
    memset(recs + 40, 0xff, 6);         /* a record cut short */
    gsend(&d, 2, recs, sizeof(recs));
    for (int i = 0; i < 2000 && info_of(&d).stats_updates == 0; i++)
        usleep(1000);
    struct virtio_balloon_info i = info_of(&d);
    CU_ASSERT_EQUAL(i.stats_updates, 1);
    CU_ASSERT_EQUAL(i.stats[4], 100u << 20);
    CU_ASSERT_EQUAL(i.stats[5], 256u << 20);
    CU_ASSERT_EQUAL(i.stats[6], 120u << 20);
    CU_ASSERT_EQUAL(i.stats_valid, (1u << 4) | (1u << 5) | (1u << 6));
    CU_ASSERT_EQUAL(i.errors, 1); /* the cut record */
    CU_ASSERT_TRUE(__atomic_load_n(&mem_changes, __ATOMIC_SEQ_CST) & MACHINE_MEM_BALLOON_STATS);
    /* The device holds the buffer until it wants fresh figures. */
    CU_ASSERT_TRUE(quiet(&d, 2));
    virtio_balloon_request_stats(d.b);
    CU_ASSERT_TRUE(used(&d, 2));
    virtio_balloon_request_stats(d.b); /* holding none now: nothing */
    CU_ASSERT_TRUE(quiet(&d, 2));
    down(&d);
}

static void test_stats_period_hands_the_buffer_back(void)
{
    struct drv d;
    struct virtio_balloon_options opt = { .stats_period = 1 };
    up(&d, &opt, 1u << VIRTIO_BALLOON_F_STATS_VQ, 3);
    uint8_t rec[10];
    put_stat(rec, 5, 1);
    gsend(&d, 2, rec, sizeof(rec));
    /* Within a period and a bit the buffer comes back on its own. */
    int back = 0;
    for (int i = 0; i < 3 && !back; i++)
        back = used(&d, 2);
    CU_ASSERT_TRUE(back);
    down(&d);
}

static void test_target_and_actual_in_config_space(void)
{
    struct drv d;
    struct virtio_balloon_options opt = { .target_pages = 1234 };
    up(&d, &opt, 1u << VIRTIO_BALLOON_F_STATS_VQ, 3);
    CU_ASSERT_EQUAL(rd(&d, 0x100), 1234);
    CU_ASSERT_EQUAL(rd(&d, 0x104), 0);
    uint32_t gen = rd(&d, 0x0fc);
    virtio_balloon_set_target(d.b, 512);
    CU_ASSERT_EQUAL(rd(&d, 0x100), 512);
    CU_ASSERT_NOT_EQUAL(rd(&d, 0x0fc), gen);
    CU_ASSERT_TRUE(rd(&d, 0x060) & VIRTIO_INT_CONFIG);
    wr(&d, 0x104, 512); /* the driver's actual */
    CU_ASSERT_EQUAL(info_of(&d).actual_pages, 512);
    CU_ASSERT_TRUE(__atomic_load_n(&mem_changes, __ATOMIC_SEQ_CST) & MACHINE_MEM_BALLOON_ACTUAL);
    wr(&d, 0x100, 7);  /* num_pages is the host's: ignored */
    wr(&d, 0x108, 9);  /* free_page_hint_cmd_id: read-only */
    CU_ASSERT_EQUAL(rd(&d, 0x100), 512);
    CU_ASSERT_EQUAL(rd(&d, 0x108), 0);
    /* A driver reset forgets actual, not the host's target. */
    wr(&d, 0x070, 0);
    CU_ASSERT_EQUAL(rd(&d, 0x104), 0);
    CU_ASSERT_EQUAL(rd(&d, 0x100), 512);
    down(&d);
}

static void test_reported_pages_go_back_whole_pages_only(void)
{
    struct drv d;
    struct virtio_balloon_options opt = { .free_page_reporting = 1 };
    /* Stats accepted: reporting is queue 3. */
    up(&d, &opt, (1u << VIRTIO_BALLOON_F_STATS_VQ) | (1u << VIRTIO_BALLOON_F_REPORTING), 4);
    dirty_pages(&d, VICTIM, 8);
    uint64_t before = touched(&d);
    post(&d, 3, VICTIM, 4 * PAGE, 1);
    CU_ASSERT_TRUE(used(&d, 3));
    CU_ASSERT_EQUAL(before - touched(&d), 4u * PAGE);
    CU_ASSERT_EQUAL(info_of(&d).reported_bytes, 4u * PAGE);
    /* Not page aligned: only the whole page inside goes; the partial
     * pages around it keep their bytes. */
    post(&d, 3, VICTIM + 4 * PAGE + 100, 2 * PAGE, 1);
    CU_ASSERT_TRUE(used(&d, 3));
    CU_ASSERT_EQUAL(info_of(&d).reported_bytes, 5u * PAGE);
    CU_ASSERT_EQUAL(info_of(&d).errors, 1);
    CU_ASSERT_EQUAL(*(uint8_t *)gp(&d, VICTIM + 4 * PAGE + 100, 1), 0xa5);
    CU_ASSERT_EQUAL(*(uint8_t *)gp(&d, VICTIM + 6 * PAGE + 99, 1), 0xa5);
    CU_ASSERT_TRUE(all_zero(&d, VICTIM + 5 * PAGE, PAGE));
    /* A device-readable buffer on the reporting queue is ignored. */
    post(&d, 3, VICTIM + 7 * PAGE, PAGE, 0);
    CU_ASSERT_TRUE(used(&d, 3));
    CU_ASSERT_EQUAL(info_of(&d).reported_bytes, 5u * PAGE);
    CU_ASSERT_FALSE(needs_reset(&d));
    down(&d);
}

static void test_queues_move_down_without_the_stats_feature(void)
{
    struct drv d;
    struct virtio_balloon_options opt = { .free_page_reporting = 1 };
    /* No STATS_VQ accepted: the reporting queue is index 2 (5.5.2). */
    up(&d, &opt, 1u << VIRTIO_BALLOON_F_REPORTING, 3);
    dirty_pages(&d, VICTIM, 2);
    post(&d, 2, VICTIM, 2 * PAGE, 1);
    CU_ASSERT_TRUE(used(&d, 2));
    CU_ASSERT_EQUAL(info_of(&d).reported_bytes, 2u * PAGE);
    CU_ASSERT_EQUAL(info_of(&d).stats_updates, 0);
    down(&d);
}

static void test_discard_refuses_ranges_outside_ram(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&gm, RAM, RAM_SIZE), 0);
    CU_ASSERT_EQUAL(guest_mem_discard(&gm, RAM - PAGE, PAGE), VMM_ERANGE);
    CU_ASSERT_EQUAL(guest_mem_discard(&gm, RAM + RAM_SIZE - PAGE, 2 * PAGE), VMM_ERANGE);
    CU_ASSERT_EQUAL(guest_mem_discard(&gm, RAM + 1, PAGE), VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "0x80000001"));
    CU_ASSERT_EQUAL(guest_mem_discard(&gm, RAM, RAM_SIZE), 0);
    guest_mem_destroy(&gm);
}

static void test_a_huge_pfn_buffer_is_cut_at_the_limit(void)
{
    struct drv d;
    up(&d, &plain, 1u << VIRTIO_BALLOON_F_STATS_VQ, 3);
    /* 2 MiB of PFNs (524288), all of RAM's first page: only the first
     * 65536 are looked at, and the chain comes back. */
    uint64_t buf = RAM + (6u << 20);
    uint32_t pfn = (uint32_t)(VICTIM >> 12);
    uint32_t *p = gp(&d, buf, 2u << 20);
    for (unsigned i = 0; i < (2u << 20) / 4; i++)
        p[i] = pfn;
    post(&d, 0, buf, 2u << 20, 0);
    CU_ASSERT_TRUE(used(&d, 0));
    CU_ASSERT_EQUAL(info_of(&d).inflated_pages, 65536);
    CU_ASSERT_EQUAL(info_of(&d).errors, 1);
    CU_ASSERT_FALSE(needs_reset(&d));
    down(&d);
}

static const struct unit_test tests[] = {
    { "inflated pages go back to the host", test_inflated_pages_go_back_to_the_host },
    { "PFNs outside RAM are skipped and counted", test_pfns_outside_ram_are_skipped_and_counted },
    { "a buffer outside RAM breaks only the device", test_a_buffer_outside_ram_breaks_only_the_device },
    { "statistics are kept and asked for again", test_statistics_are_kept_and_asked_for_again },
    { "stats period hands the buffer back", test_stats_period_hands_the_buffer_back },
    { "target and actual in config space", test_target_and_actual_in_config_space },
    { "reported pages go back, whole pages only", test_reported_pages_go_back_whole_pages_only },
    { "queues move down without the stats feature", test_queues_move_down_without_the_stats_feature },
    { "discard refuses ranges outside RAM", test_discard_refuses_ranges_outside_ram },
    { "a huge PFN buffer is cut at the limit", test_a_huge_pfn_buffer_is_cut_at_the_limit },
    { NULL, NULL },
};

int main(void)
{
    return unit_main("virtio-balloon", tests);
}
