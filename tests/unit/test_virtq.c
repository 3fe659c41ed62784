/* The split virtqueue (devices/virtio/queue.c) against rings laid out by
 * hand in guest memory: every rule virtq_pop() enforces on the guest's
 * descriptors, the used ring, event-index suppression, activation checks,
 * saved state and the chain copy helpers. One behaviour per test.
 *
 * Guest memory: RAM0 [0, 64 KiB), an MMIO hole [64 KiB, 128 KiB), and, in
 * the tests that want it, RAM1 [128 KiB, 144 KiB). The rings sit in RAM0.
 */
#include <string.h>

#include "devices/virtio/queue.h"
#include "machine/state.h"
#include "unit.h"
#include "util/error.h"

#define RAM0 0x0ULL
#define RAM0_SIZE 0x10000ULL
#define HOLE 0x10000ULL
#define RAM1 0x20000ULL
#define RAM1_SIZE 0x4000ULL

#define QSIZE 8
#define QMAX 256
#define DESC_GPA 0x1000ULL
#define AVAIL_GPA 0x2000ULL
#define USED_GPA 0x3000ULL
#define TABLE_GPA 0x4000ULL /* indirect tables */
#define DATA_GPA 0x8000ULL  /* buffers */

struct rig {
    struct guest_mem mem;
    struct virtq q;
    uint16_t avail_idx; /* the driver's next available index */
};

/* Big (iov[VIRTQ_MAX_SEGS]): one static chain for every test. */
static struct virtq_chain chain;

static void rig_init(struct rig *r, int two_regions)
{
    memset(r, 0, sizeof(*r));
    guest_mem_init(&r->mem);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&r->mem, RAM0, RAM0_SIZE), 0);
    if (two_regions)
        CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&r->mem, RAM1, RAM1_SIZE), 0);
    virtq_reset(&r->q, QMAX);
    r->q.size = QSIZE;
    r->q.desc_gpa = DESC_GPA;
    r->q.avail_gpa = AVAIL_GPA;
    r->q.used_gpa = USED_GPA;
    CU_ASSERT_EQUAL_FATAL(virtq_activate(&r->q, &r->mem), 0);
    memset(&chain, 0xa5, sizeof(chain));
}

static void rig_destroy(struct rig *r)
{
    guest_mem_destroy(&r->mem);
}

static void *host(struct rig *r, uint64_t gpa)
{
    return guest_mem_ptr(&r->mem, gpa, 1);
}

static void put16(struct rig *r, uint64_t gpa, uint16_t v)
{
    CU_ASSERT_EQUAL_FATAL(guest_mem_write(&r->mem, gpa, &v, 2), 0);
}

static uint16_t get16(struct rig *r, uint64_t gpa)
{
    uint16_t v = 0;
    CU_ASSERT_EQUAL_FATAL(guest_mem_read(&r->mem, gpa, &v, 2), 0);
    return v;
}

static uint32_t get32(struct rig *r, uint64_t gpa)
{
    uint32_t v = 0;
    CU_ASSERT_EQUAL_FATAL(guest_mem_read(&r->mem, gpa, &v, 4), 0);
    return v;
}

/* Descriptor `i` of the table at `table` (the ring's or an indirect one). */
static void put_desc_at(struct rig *r, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
                        uint16_t flags, uint16_t next)
{
    uint8_t d[16];
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    CU_ASSERT_EQUAL_FATAL(guest_mem_write(&r->mem, table + 16ULL * i, d, 16), 0);
}

static void put_desc(struct rig *r, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    put_desc_at(r, DESC_GPA, i, addr, len, flags, next);
}

/* The driver makes chain `head` available. */
static void offer(struct rig *r, uint16_t head)
{
    put16(r, AVAIL_GPA + 4 + 2ULL * (r->avail_idx % r->q.size), head);
    r->avail_idx++;
    put16(r, AVAIL_GPA + 2, r->avail_idx);
}

/* A pop that must be refused, consuming nothing, with a message. */
static void assert_refused(struct rig *r)
{
    uint16_t before = r->q.last_avail;
    vmm_error_clear();
    CU_ASSERT_EQUAL(virtq_pop(&r->q, &r->mem, &chain), VMM_EFORMAT);
    CU_ASSERT_NOT_EQUAL(vmm_last_error()[0], '\0');
    CU_ASSERT_EQUAL(r->q.last_avail, before);
}

/* --- well-formed chains --- */

static void test_well_formed_chain_pops_readable_then_writable(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc(&r, 2, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 5);
    put_desc(&r, 5, DATA_GPA + 0x100, 32, VIRTQ_DESC_F_NEXT, 0);
    put_desc(&r, 0, DATA_GPA + 0x200, 100, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 7);
    put_desc(&r, 7, DATA_GPA + 0x300, 4, VIRTQ_DESC_F_WRITE, 0);
    offer(&r, 2);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
    CU_ASSERT_EQUAL(chain.head, 2);
    CU_ASSERT_EQUAL(chain.nr_out, 2);
    CU_ASSERT_EQUAL(chain.nr_in, 2);
    CU_ASSERT_EQUAL(chain.out_len, 48);
    CU_ASSERT_EQUAL(chain.in_len, 104);
    CU_ASSERT_PTR_EQUAL(chain.iov[0].iov_base, host(&r, DATA_GPA));
    CU_ASSERT_EQUAL(chain.iov[0].iov_len, 16);
    CU_ASSERT_PTR_EQUAL(chain.iov[1].iov_base, host(&r, DATA_GPA + 0x100));
    CU_ASSERT_EQUAL(chain.iov[1].iov_len, 32);
    CU_ASSERT_PTR_EQUAL(chain.iov[2].iov_base, host(&r, DATA_GPA + 0x200));
    CU_ASSERT_EQUAL(chain.iov[2].iov_len, 100);
    CU_ASSERT_PTR_EQUAL(chain.iov[3].iov_base, host(&r, DATA_GPA + 0x300));
    CU_ASSERT_EQUAL(chain.iov[3].iov_len, 4);
    CU_ASSERT_EQUAL(r.q.last_avail, 1);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 0);
    rig_destroy(&r);
}

static void test_buffer_in_second_region_pops(void)
{
    struct rig r;
    rig_init(&r, 1);
    put_desc(&r, 0, RAM1 + RAM1_SIZE - 64, 64, VIRTQ_DESC_F_WRITE, 0);
    offer(&r, 0);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
    CU_ASSERT_PTR_EQUAL(chain.iov[0].iov_base, host(&r, RAM1 + RAM1_SIZE - 64));
    CU_ASSERT_EQUAL(chain.nr_in, 1);
    rig_destroy(&r);
}

static void test_chains_pop_in_ring_order_across_index_wrap(void)
{
    struct rig r;
    rig_init(&r, 0);
    /* Both sides near the end of the 16-bit index space. */
    r.avail_idx = 65534;
    r.q.last_avail = 65534;
    put16(&r, AVAIL_GPA + 2, r.avail_idx);
    for (uint16_t i = 0; i < 4; i++) {
        put_desc(&r, i, DATA_GPA + 0x100ULL * i, 8, 0, 0);
        offer(&r, i);
    }
    for (uint16_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
        CU_ASSERT_EQUAL(chain.head, i);
    }
    CU_ASSERT_EQUAL(r.q.last_avail, 2);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 0);
    rig_destroy(&r);
}

static void test_empty_ring_pops_nothing(void)
{
    struct rig r;
    rig_init(&r, 0);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 0);
    CU_ASSERT_EQUAL(r.q.last_avail, 0);
    rig_destroy(&r);
}

static void test_queue_not_ready_pops_nothing(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc(&r, 0, DATA_GPA, 8, 0, 0);
    offer(&r, 0);
    r.q.ready = 0;
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 0);
    rig_destroy(&r);
}

static void test_zero_length_buffer_is_accepted(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc(&r, 0, DATA_GPA, 0, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&r, 1, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    offer(&r, 0);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
    CU_ASSERT_EQUAL(chain.nr_out, 1);
    CU_ASSERT_EQUAL(chain.iov[0].iov_len, 0);
    CU_ASSERT_EQUAL(chain.out_len, 0);
    rig_destroy(&r);
}

/* --- the ring's own indices --- */

static void test_descriptor_loop_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc(&r, 1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 3);
    put_desc(&r, 3, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    offer(&r, 1);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_descriptor_pointing_at_itself_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc(&r, 4, DATA_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
    offer(&r, 4);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_chain_using_every_descriptor_pops(void)
{
    struct rig r;
    rig_init(&r, 0);
    for (unsigned i = 0; i < QSIZE; i++)
        put_desc(&r, i, DATA_GPA + 0x10ULL * i, 16, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0,
                 (uint16_t)(i + 1));
    offer(&r, 0);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
    CU_ASSERT_EQUAL(chain.nr_out, QSIZE);
    CU_ASSERT_EQUAL(chain.out_len, 16 * QSIZE);
    rig_destroy(&r);
}

static void test_next_beyond_queue_size_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc(&r, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE);
    offer(&r, 0);
    assert_refused(&r);
    put_desc(&r, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0xffff);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_head_beyond_queue_size_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    offer(&r, QSIZE);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_avail_index_ahead_by_more_than_queue_size_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    for (unsigned i = 0; i < QSIZE; i++)
        put_desc(&r, i, DATA_GPA, 8, 0, 0);
    put16(&r, AVAIL_GPA + 2, QSIZE + 1);
    assert_refused(&r);
    put16(&r, AVAIL_GPA + 2, 0xffff); /* "one behind" is 65535 ahead */
    assert_refused(&r);
    /* Exactly a full ring is fine. */
    put16(&r, AVAIL_GPA + 2, QSIZE);
    for (unsigned i = 0; i < QSIZE; i++)
        CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 0);
    rig_destroy(&r);
}

/* --- buffer addresses --- */

static void test_buffer_outside_ram_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc(&r, 0, 0x80000000ULL, 8, 0, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_buffer_in_mmio_hole_is_refused(void)
{
    struct rig r;
    rig_init(&r, 1);
    put_desc(&r, 0, HOLE + 0x100, 8, VIRTQ_DESC_F_WRITE, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_buffer_running_off_its_region_into_the_hole_is_refused(void)
{
    struct rig r;
    rig_init(&r, 1);
    /* Starts in RAM0 (ends 1 byte past it, in the hole). */
    put_desc(&r, 0, RAM0 + RAM0_SIZE - 8, 9, 0, 0);
    offer(&r, 0);
    assert_refused(&r);
    /* Starts in RAM0 and ends in RAM1: still not one region. */
    put_desc(&r, 0, RAM0 + RAM0_SIZE - 8, (uint32_t)(RAM1 - RAM0_SIZE + 16), 0, 0);
    assert_refused(&r);
    /* The last byte of the region is fine. */
    put_desc(&r, 0, RAM0 + RAM0_SIZE - 8, 8, 0, 0);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
    rig_destroy(&r);
}

static void test_buffer_address_plus_length_wrapping_2_64_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    /* 0xffff_ffff_ffff_f000 + 0x2000 wraps to 0x1000, inside RAM0. */
    put_desc(&r, 0, 0xfffffffffffff000ULL, 0x2000, 0, 0);
    offer(&r, 0);
    assert_refused(&r);
    put_desc(&r, 0, 0xffffffffffffffffULL, 2, VIRTQ_DESC_F_WRITE, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

/* --- directions --- */

static void test_readable_after_writable_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc(&r, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&r, 1, DATA_GPA + 0x100, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    put_desc(&r, 2, DATA_GPA + 0x200, 8, 0, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

/* --- indirect tables --- */

static void test_indirect_chain_pops_with_feature(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    put_desc_at(&r, TABLE_GPA, 0, DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 2);
    put_desc_at(&r, TABLE_GPA, 2, DATA_GPA + 0x100, 20, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    put_desc_at(&r, TABLE_GPA, 1, DATA_GPA + 0x200, 30, VIRTQ_DESC_F_WRITE, 0);
    /* A direct buffer may precede the indirect descriptor, which ends the chain. */
    put_desc(&r, 6, DATA_GPA + 0x300, 5, VIRTQ_DESC_F_NEXT, 3);
    put_desc(&r, 3, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 6);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
    CU_ASSERT_EQUAL(chain.head, 6);
    CU_ASSERT_EQUAL(chain.nr_out, 2);
    CU_ASSERT_EQUAL(chain.nr_in, 2);
    CU_ASSERT_EQUAL(chain.out_len, 15);
    CU_ASSERT_EQUAL(chain.in_len, 50);
    CU_ASSERT_PTR_EQUAL(chain.iov[0].iov_base, host(&r, DATA_GPA + 0x300));
    CU_ASSERT_PTR_EQUAL(chain.iov[1].iov_base, host(&r, DATA_GPA));
    CU_ASSERT_PTR_EQUAL(chain.iov[2].iov_base, host(&r, DATA_GPA + 0x100));
    CU_ASSERT_PTR_EQUAL(chain.iov[3].iov_base, host(&r, DATA_GPA + 0x200));
    rig_destroy(&r);
}

static void test_indirect_without_negotiated_feature_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc_at(&r, TABLE_GPA, 0, DATA_GPA, 10, 0, 0);
    put_desc(&r, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_indirect_with_next_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    put_desc_at(&r, TABLE_GPA, 0, DATA_GPA, 10, 0, 0);
    put_desc(&r, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    put_desc(&r, 1, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_nested_indirect_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    put_desc_at(&r, TABLE_GPA, 0, DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 1);
    put_desc_at(&r, TABLE_GPA, 1, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
    put_desc_at(&r, TABLE_GPA + 0x100, 0, DATA_GPA, 10, 0, 0);
    put_desc(&r, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_indirect_table_of_zero_bytes_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    put_desc(&r, 0, TABLE_GPA, 0, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_indirect_table_not_a_multiple_of_16_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    put_desc_at(&r, TABLE_GPA, 0, DATA_GPA, 10, 0, 0);
    put_desc(&r, 0, TABLE_GPA, 24, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    put_desc(&r, 0, TABLE_GPA, 15, VIRTQ_DESC_F_INDIRECT, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_indirect_table_over_the_limit_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    /* Zeroed entries: valid zero-length buffers; only the size is wrong. */
    put_desc(&r, 0, TABLE_GPA, (VIRTQ_MAX_SEGS + 1) * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    put_desc(&r, 0, TABLE_GPA, 0xfffffff0u, VIRTQ_DESC_F_INDIRECT, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_indirect_table_outside_ram_is_refused(void)
{
    struct rig r;
    rig_init(&r, 1);
    r.q.indirect = 1;
    put_desc(&r, 0, HOLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    put_desc(&r, 0, RAM0 + RAM0_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_indirect_loop_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    put_desc_at(&r, TABLE_GPA, 0, DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 1);
    put_desc_at(&r, TABLE_GPA, 1, DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 2);
    put_desc_at(&r, TABLE_GPA, 2, DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 0);
    put_desc(&r, 0, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_indirect_next_beyond_table_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    put_desc_at(&r, TABLE_GPA, 0, DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 2);
    put_desc_at(&r, TABLE_GPA, 2, DATA_GPA, 10, 0, 0); /* outside the 2-entry table */
    put_desc(&r, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_indirect_readable_after_writable_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    put_desc_at(&r, TABLE_GPA, 0, DATA_GPA, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    put_desc_at(&r, TABLE_GPA, 1, DATA_GPA, 10, 0, 0);
    put_desc(&r, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    /* Nor may a readable table follow a writable direct buffer. */
    put_desc_at(&r, TABLE_GPA, 0, DATA_GPA, 10, 0, 0);
    put_desc(&r, 1, DATA_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
    put_desc(&r, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
    put16(&r, AVAIL_GPA + 4, 1);
    assert_refused(&r);
    rig_destroy(&r);
}

/* A full table of 1-byte readable buffers, chained in order. */
static void fill_table(struct rig *r, unsigned entries)
{
    for (unsigned i = 0; i < entries; i++)
        put_desc_at(r, TABLE_GPA, i, DATA_GPA + i, 1, i + 1 < entries ? VIRTQ_DESC_F_NEXT : 0,
                    (uint16_t)(i + 1));
}

static void test_chain_of_max_segs_buffers_pops(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    fill_table(&r, VIRTQ_MAX_SEGS);
    put_desc(&r, 0, TABLE_GPA, VIRTQ_MAX_SEGS * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
    CU_ASSERT_EQUAL(chain.nr_out, VIRTQ_MAX_SEGS);
    CU_ASSERT_EQUAL(chain.out_len, VIRTQ_MAX_SEGS);
    rig_destroy(&r);
}

static void test_chain_of_more_than_max_segs_buffers_is_refused(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.indirect = 1;
    fill_table(&r, VIRTQ_MAX_SEGS);
    put_desc(&r, 0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&r, 1, TABLE_GPA, VIRTQ_MAX_SEGS * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(&r, 0);
    assert_refused(&r);
    rig_destroy(&r);
}

static void test_refused_chain_consumes_nothing(void)
{
    struct rig r;
    rig_init(&r, 0);
    put_desc(&r, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&r, 1, HOLE, 8, VIRTQ_DESC_F_WRITE, 0);
    offer(&r, 0);
    assert_refused(&r);
    CU_ASSERT_EQUAL(r.q.last_avail, 0);
    CU_ASSERT_EQUAL(r.q.used_idx, 0);
    CU_ASSERT_EQUAL(get16(&r, USED_GPA + 2), 0);
    /* The same chain is refused again: nothing moved past it. */
    assert_refused(&r);
    /* Once the driver mends it (after a reset, in real life) it pops. */
    put_desc(&r, 1, DATA_GPA + 0x100, 8, VIRTQ_DESC_F_WRITE, 0);
    CU_ASSERT_EQUAL(virtq_pop(&r.q, &r.mem, &chain), 1);
    CU_ASSERT_EQUAL(r.q.last_avail, 1);
    rig_destroy(&r);
}

/* --- the used ring --- */

static void test_push_writes_id_len_and_index(void)
{
    struct rig r;
    rig_init(&r, 0);
    virtq_push(&r.q, 5, 1234);
    CU_ASSERT_EQUAL(get32(&r, USED_GPA + 4), 5);
    CU_ASSERT_EQUAL(get32(&r, USED_GPA + 8), 1234);
    CU_ASSERT_EQUAL(get16(&r, USED_GPA + 2), 1);
    virtq_push(&r.q, 3, 0);
    CU_ASSERT_EQUAL(get32(&r, USED_GPA + 12), 3);
    CU_ASSERT_EQUAL(get32(&r, USED_GPA + 16), 0);
    CU_ASSERT_EQUAL(get16(&r, USED_GPA + 2), 2);
    rig_destroy(&r);
}

static void test_push_wraps_the_used_ring_and_index(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.used_idx = 65535; /* entry 65535 % 8 = 7, the last slot */
    virtq_push(&r.q, 1, 11);
    CU_ASSERT_EQUAL(get32(&r, USED_GPA + 4 + 8 * 7), 1);
    CU_ASSERT_EQUAL(get32(&r, USED_GPA + 4 + 8 * 7 + 4), 11);
    CU_ASSERT_EQUAL(get16(&r, USED_GPA + 2), 0);
    virtq_push(&r.q, 2, 22);
    CU_ASSERT_EQUAL(get32(&r, USED_GPA + 4), 2);
    CU_ASSERT_EQUAL(get16(&r, USED_GPA + 2), 1);
    /* The avail_event slot after the ring is untouched. */
    CU_ASSERT_EQUAL(get16(&r, USED_GPA + 4 + 8 * QSIZE), 0);
    rig_destroy(&r);
}

/* --- notification suppression --- */

#define USED_EVENT_GPA (AVAIL_GPA + 4 + 2 * QSIZE)
#define AVAIL_EVENT_GPA (USED_GPA + 4 + 8 * QSIZE)

static void test_should_notify_without_event_idx_honours_no_interrupt(void)
{
    struct rig r;
    rig_init(&r, 0);
    virtq_push(&r.q, 0, 0);
    CU_ASSERT_TRUE(virtq_should_notify(&r.q));
    put16(&r, AVAIL_GPA, 1); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    virtq_push(&r.q, 0, 0);
    CU_ASSERT_FALSE(virtq_should_notify(&r.q));
    put16(&r, USED_EVENT_GPA, 1); /* ignored without the feature */
    put16(&r, AVAIL_GPA, 0);
    virtq_push(&r.q, 0, 0);
    CU_ASSERT_TRUE(virtq_should_notify(&r.q));
    rig_destroy(&r);
}

static void test_should_notify_with_event_idx_ignores_no_interrupt(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.event_idx = 1;
    put16(&r, AVAIL_GPA, 1);
    put16(&r, USED_EVENT_GPA, 0);
    virtq_push(&r.q, 0, 0); /* used idx 1 passes event 0 */
    CU_ASSERT_TRUE(virtq_should_notify(&r.q));
    rig_destroy(&r);
}

static void test_should_notify_honours_used_event(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.event_idx = 1;
    put16(&r, USED_EVENT_GPA, 2); /* interrupt when used idx goes past 2 */
    virtq_push(&r.q, 0, 0);       /* 0 -> 1 */
    CU_ASSERT_TRUE(virtq_should_notify(&r.q)); /* the first one always does */
    virtq_push(&r.q, 0, 0);       /* 1 -> 2 */
    CU_ASSERT_FALSE(virtq_should_notify(&r.q));
    virtq_push(&r.q, 0, 0);       /* 2 -> 3: entry 2 is the one asked for */
    CU_ASSERT_TRUE(virtq_should_notify(&r.q));
    virtq_push(&r.q, 0, 0);       /* 3 -> 4: already past */
    CU_ASSERT_FALSE(virtq_should_notify(&r.q));
    /* A batch that jumps over the event still notifies. */
    put16(&r, USED_EVENT_GPA, 5);
    virtq_push(&r.q, 0, 0);
    virtq_push(&r.q, 0, 0);
    virtq_push(&r.q, 0, 0); /* 4 -> 7, covers entry 5 */
    CU_ASSERT_TRUE(virtq_should_notify(&r.q));
    rig_destroy(&r);
}

static void test_should_notify_event_idx_wraps_at_65535(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.event_idx = 1;
    r.q.used_idx = 65534;
    r.q.signalled_used = 65534;
    r.q.signalled_valid = 1;
    put16(&r, USED_EVENT_GPA, 65535);
    virtq_push(&r.q, 0, 0); /* 65534 -> 65535 */
    CU_ASSERT_FALSE(virtq_should_notify(&r.q));
    virtq_push(&r.q, 0, 0); /* 65535 -> 0: entry 65535 done */
    CU_ASSERT_TRUE(virtq_should_notify(&r.q));
    CU_ASSERT_EQUAL(r.q.used_idx, 0);
    /* Across the wrap with the event on the far side. */
    r.q.used_idx = 65533;
    r.q.signalled_used = 65533;
    put16(&r, USED_EVENT_GPA, 1);
    virtq_push(&r.q, 0, 0);
    virtq_push(&r.q, 0, 0); /* -> 65535 */
    CU_ASSERT_FALSE(virtq_should_notify(&r.q));
    virtq_push(&r.q, 0, 0);
    virtq_push(&r.q, 0, 0); /* -> 1 */
    CU_ASSERT_FALSE(virtq_should_notify(&r.q));
    virtq_push(&r.q, 0, 0); /* -> 2: entry 1 done */
    CU_ASSERT_TRUE(virtq_should_notify(&r.q));
    rig_destroy(&r);
}

static void test_update_avail_event_publishes_last_avail(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.last_avail = 77;
    virtq_update_avail_event(&r.q); /* no event idx: nothing */
    CU_ASSERT_EQUAL(get16(&r, AVAIL_EVENT_GPA), 0);
    r.q.event_idx = 1;
    virtq_update_avail_event(&r.q);
    CU_ASSERT_EQUAL(get16(&r, AVAIL_EVENT_GPA), 77);
    rig_destroy(&r);
}

/* --- activation --- */

static void test_activate_refuses_non_power_of_two_sizes(void)
{
    struct rig r;
    rig_init(&r, 0);
    struct virtq q = r.q;
    static const uint16_t bad[] = { 0, 3, 6, 100, 255 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        virtq_reset(&q, QMAX);
        q.size = bad[i];
        q.desc_gpa = DESC_GPA;
        q.avail_gpa = AVAIL_GPA;
        q.used_gpa = USED_GPA;
        CU_ASSERT_EQUAL(virtq_activate(&q, &r.mem), VMM_EINVAL);
        CU_ASSERT_FALSE(q.ready);
    }
    q.size = 1;
    CU_ASSERT_EQUAL(virtq_activate(&q, &r.mem), 0);
    CU_ASSERT_TRUE(q.ready);
    rig_destroy(&r);
}

static void test_activate_refuses_sizes_above_max(void)
{
    struct rig r;
    rig_init(&r, 0);
    struct virtq q;
    virtq_reset(&q, 16);
    q.size = 32;
    q.desc_gpa = DESC_GPA;
    q.avail_gpa = AVAIL_GPA;
    q.used_gpa = USED_GPA;
    CU_ASSERT_EQUAL(virtq_activate(&q, &r.mem), VMM_EINVAL);
    CU_ASSERT_FALSE(q.ready);
    q.size = 16;
    CU_ASSERT_EQUAL(virtq_activate(&q, &r.mem), 0);
    rig_destroy(&r);
}

static void test_activate_refuses_misaligned_rings(void)
{
    struct rig r;
    rig_init(&r, 0);
    static const uint64_t off[3][3] = { { 8, 0, 0 }, { 0, 1, 0 }, { 0, 0, 2 } };
    for (int i = 0; i < 3; i++) {
        struct virtq q;
        virtq_reset(&q, QMAX);
        q.size = QSIZE;
        q.desc_gpa = DESC_GPA + off[i][0];
        q.avail_gpa = AVAIL_GPA + off[i][1];
        q.used_gpa = USED_GPA + off[i][2];
        CU_ASSERT_EQUAL(virtq_activate(&q, &r.mem), VMM_EINVAL);
        CU_ASSERT_FALSE(q.ready);
    }
    rig_destroy(&r);
}

static void test_activate_refuses_rings_outside_ram(void)
{
    struct rig r;
    rig_init(&r, 1);
    /* Each ring in turn: in the hole, and running off the end of RAM0. */
    const uint64_t size = QSIZE;
    const uint64_t bad[3][2] = {
        { HOLE, RAM0 + RAM0_SIZE - 16 * size + 16 },
        { HOLE + 0x800, RAM0 + RAM0_SIZE - (4 + 2 * size + 2) + 2 },
        { HOLE + 0x1000, RAM0 + RAM0_SIZE - (4 + 8 * size + 2) + 2 }, /* 4-aligned */
    };
    for (int ring = 0; ring < 3; ring++) {
        for (int k = 0; k < 2; k++) {
            struct virtq q;
            virtq_reset(&q, QMAX);
            q.size = QSIZE;
            q.desc_gpa = ring == 0 ? bad[0][k] : DESC_GPA;
            q.avail_gpa = ring == 1 ? bad[1][k] : AVAIL_GPA;
            q.used_gpa = ring == 2 ? bad[2][k] : USED_GPA;
            CU_ASSERT_EQUAL(virtq_activate(&q, &r.mem), VMM_EINVAL);
            CU_ASSERT_FALSE(q.ready);
        }
    }
    /* The same rings ending at (or just before) the end of RAM0 are fine. */
    struct virtq q;
    virtq_reset(&q, QMAX);
    q.size = QSIZE;
    q.desc_gpa = RAM0 + RAM0_SIZE - 16 * size - 0x1000;
    q.avail_gpa = RAM0 + RAM0_SIZE - (4 + 2 * size + 2) - 0x800;
    q.used_gpa = RAM0 + RAM0_SIZE - (4 + 8 * size + 2) - 2; /* the last 4-aligned start */
    CU_ASSERT_EQUAL(virtq_activate(&q, &r.mem), 0);
    rig_destroy(&r);
}

static void test_failed_activate_keeps_the_rings_mapped(void)
{
    /* A worker may still be looking at the rings of a queue the driver is
     * re-programming: a refused setup must not leave NULL ring pointers. */
    struct rig r;
    rig_init(&r, 0);
    const uint8_t *desc = r.q.desc, *avail = r.q.avail;
    uint8_t *used = r.q.used;
    r.q.ready = 0;
    r.q.desc_gpa = HOLE;
    CU_ASSERT_EQUAL(virtq_activate(&r.q, &r.mem), VMM_EINVAL);
    CU_ASSERT_PTR_EQUAL(r.q.desc, desc);
    CU_ASSERT_PTR_EQUAL(r.q.avail, avail);
    CU_ASSERT_PTR_EQUAL(r.q.used, used);
    rig_destroy(&r);
}

/* --- saved state --- */

/* Saves q into a one-section stream in b. */
static void save_queue(const struct virtq *q, struct state_buffer *b)
{
    memset(b, 0, sizeof(*b));
    struct state_sink sink = state_buffer_sink(b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL(state_begin(w, "q", 1), 0);
    virtq_save(q, w);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_writer_finish(w), 0);
    state_writer_free(w);
}

/* Loads b's section into q; returns virtq_load's result. */
static int load_queue(struct virtq *q, struct state_buffer *b, const struct guest_mem *mem)
{
    b->pos = 0;
    struct state_source src = state_buffer_source(b);
    struct state_reader *rd;
    CU_ASSERT_EQUAL_FATAL(state_reader_new(&rd, &src), 0);
    const char *name;
    uint32_t version;
    CU_ASSERT_EQUAL_FATAL(state_next(rd, &name, &version), 1);
    int rc = virtq_load(q, rd, mem);
    if (rc == 0)
        CU_ASSERT_EQUAL(state_check_done(rd), 0);
    state_reader_free(rd);
    return rc;
}

/* A queue section written field by field (the layout virtq_save uses). */
static void craft_queue(struct state_buffer *b, uint16_t size, uint8_t ready, uint64_t desc,
                        uint64_t avail, uint64_t used)
{
    memset(b, 0, sizeof(*b));
    struct state_sink sink = state_buffer_sink(b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL(state_begin(w, "q", 1), 0);
    state_put_u16(w, size);
    state_put_u8(w, ready);
    state_put_u64(w, desc);
    state_put_u64(w, avail);
    state_put_u64(w, used);
    state_put_u16(w, 0);
    state_put_u16(w, 0);
    state_put_u16(w, 0);
    state_put_u8(w, 0);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_writer_finish(w), 0);
    state_writer_free(w);
}

static void test_save_load_round_trip_restores_and_reactivates(void)
{
    struct rig r;
    rig_init(&r, 0);
    r.q.last_avail = 300;
    r.q.used_idx = 299;
    r.q.signalled_used = 290;
    r.q.signalled_valid = 1;
    struct state_buffer b;
    save_queue(&r.q, &b);

    struct virtq q;
    virtq_reset(&q, QMAX);
    q.event_idx = 1; /* negotiated features survive a load */
    CU_ASSERT_EQUAL(load_queue(&q, &b, &r.mem), 0);
    CU_ASSERT_EQUAL(q.size, QSIZE);
    CU_ASSERT_EQUAL(q.max_size, QMAX);
    CU_ASSERT_TRUE(q.ready);
    CU_ASSERT_EQUAL(q.desc_gpa, DESC_GPA);
    CU_ASSERT_EQUAL(q.avail_gpa, AVAIL_GPA);
    CU_ASSERT_EQUAL(q.used_gpa, USED_GPA);
    CU_ASSERT_PTR_EQUAL(q.desc, r.q.desc);
    CU_ASSERT_PTR_EQUAL(q.avail, r.q.avail);
    CU_ASSERT_PTR_EQUAL(q.used, r.q.used);
    CU_ASSERT_EQUAL(q.last_avail, 300);
    CU_ASSERT_EQUAL(q.used_idx, 299);
    CU_ASSERT_EQUAL(q.signalled_used, 290);
    CU_ASSERT_TRUE(q.signalled_valid);
    CU_ASSERT_TRUE(q.event_idx);

    struct state_buffer b2;
    save_queue(&q, &b2);
    CU_ASSERT_EQUAL(b.len, b2.len);
    CU_ASSERT(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0);
    state_buffer_free(&b);
    state_buffer_free(&b2);
    rig_destroy(&r);
}

static void test_load_of_a_queue_not_ready_keeps_it_unmapped(void)
{
    struct rig r;
    rig_init(&r, 0);
    struct state_buffer b;
    craft_queue(&b, 3, 0, 0x1234, 0x9999999, 1); /* a driver half-way through setup */
    struct virtq q;
    virtq_reset(&q, QMAX);
    CU_ASSERT_EQUAL(load_queue(&q, &b, &r.mem), 0);
    CU_ASSERT_FALSE(q.ready);
    CU_ASSERT_EQUAL(q.size, 3);
    CU_ASSERT_EQUAL(q.desc_gpa, 0x1234);
    CU_ASSERT_PTR_NULL(q.desc);
    CU_ASSERT_EQUAL(virtq_pop(&q, &r.mem, &chain), 0);
    state_buffer_free(&b);
    rig_destroy(&r);
}

static void test_load_refuses_bad_sizes(void)
{
    struct rig r;
    rig_init(&r, 0);
    static const uint16_t bad[] = { 0, QMAX + 1, 0xffff };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct state_buffer b;
        craft_queue(&b, bad[i], 0, DESC_GPA, AVAIL_GPA, USED_GPA);
        struct virtq q;
        virtq_reset(&q, QMAX);
        CU_ASSERT_EQUAL(load_queue(&q, &b, &r.mem), VMM_EFORMAT);
        CU_ASSERT_FALSE(q.ready);
        state_buffer_free(&b);
    }
    /* Ready with a size that is not a power of two. */
    struct state_buffer b;
    craft_queue(&b, 12, 1, DESC_GPA, AVAIL_GPA, USED_GPA);
    struct virtq q;
    virtq_reset(&q, QMAX);
    CU_ASSERT_EQUAL(load_queue(&q, &b, &r.mem), VMM_EFORMAT);
    CU_ASSERT_FALSE(q.ready);
    state_buffer_free(&b);
    rig_destroy(&r);
}

static void test_load_refuses_bad_ready_values(void)
{
    struct rig r;
    rig_init(&r, 0);
    static const uint8_t bad[] = { 2, 0x80, 0xff };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct state_buffer b;
        craft_queue(&b, QSIZE, bad[i], DESC_GPA, AVAIL_GPA, USED_GPA);
        struct virtq q;
        virtq_reset(&q, QMAX);
        CU_ASSERT_EQUAL(load_queue(&q, &b, &r.mem), VMM_EFORMAT);
        CU_ASSERT_FALSE(q.ready);
        state_buffer_free(&b);
    }
    rig_destroy(&r);
}

static void test_load_refuses_ready_rings_outside_ram_and_says_why(void)
{
    struct rig r;
    rig_init(&r, 0);
    struct state_buffer b;
    craft_queue(&b, QSIZE, 1, DESC_GPA + 8, AVAIL_GPA, USED_GPA);
    struct virtq q;
    virtq_reset(&q, QMAX);
    CU_ASSERT_EQUAL(load_queue(&q, &b, &r.mem), VMM_EFORMAT);
    CU_ASSERT_FALSE(q.ready);
    /* The message keeps activation's reason after the prefix. */
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "virtqueue state: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "misaligned"));
    state_buffer_free(&b);

    craft_queue(&b, QSIZE, 1, DESC_GPA, HOLE, USED_GPA);
    virtq_reset(&q, QMAX);
    CU_ASSERT_EQUAL(load_queue(&q, &b, &r.mem), VMM_EFORMAT);
    CU_ASSERT_FALSE(q.ready);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "not in guest RAM"));
    state_buffer_free(&b);
    rig_destroy(&r);
}

static void test_load_refuses_a_truncated_section(void)
{
    struct rig r;
    rig_init(&r, 0);
    struct state_buffer b;
    memset(&b, 0, sizeof(b));
    struct state_sink sink = state_buffer_sink(&b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL(state_begin(w, "q", 1), 0);
    state_put_u16(w, QSIZE);
    state_put_u8(w, 1);
    state_put_u64(w, DESC_GPA);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_writer_finish(w), 0);
    state_writer_free(w);
    struct virtq q;
    virtq_reset(&q, QMAX);
    CU_ASSERT_EQUAL(load_queue(&q, &b, &r.mem), VMM_EFORMAT);
    CU_ASSERT_FALSE(q.ready);
    state_buffer_free(&b);
    rig_destroy(&r);
}

/* --- copying to and from a chain --- */

static void test_chain_read_and_write_cross_segments_with_offsets(void)
{
    struct rig r;
    rig_init(&r, 0);
    /* Readable: 3 + 5 + 4 bytes; writable: 2 + 6 bytes. */
    CU_ASSERT_EQUAL(guest_mem_write(&r.mem, DATA_GPA, "abc", 3), 0);
    CU_ASSERT_EQUAL(guest_mem_write(&r.mem, DATA_GPA + 0x100, "defgh", 5), 0);
    CU_ASSERT_EQUAL(guest_mem_write(&r.mem, DATA_GPA + 0x200, "ijkl", 4), 0);
    put_desc(&r, 0, DATA_GPA, 3, VIRTQ_DESC_F_NEXT, 1);
    put_desc(&r, 1, DATA_GPA + 0x100, 5, VIRTQ_DESC_F_NEXT, 2);
    put_desc(&r, 2, DATA_GPA + 0x200, 4, VIRTQ_DESC_F_NEXT, 3);
    put_desc(&r, 3, DATA_GPA + 0x300, 2, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
    put_desc(&r, 4, DATA_GPA + 0x400, 6, VIRTQ_DESC_F_WRITE, 0);
    offer(&r, 0);
    CU_ASSERT_EQUAL_FATAL(virtq_pop(&r.q, &r.mem, &chain), 1);

    char buf[32];
    memset(buf, 0, sizeof(buf));
    CU_ASSERT_EQUAL(virtq_chain_read(&chain, 0, buf, 12), 12);
    CU_ASSERT_NSTRING_EQUAL(buf, "abcdefghijkl", 12);
    memset(buf, 0, sizeof(buf));
    CU_ASSERT_EQUAL(virtq_chain_read(&chain, 2, buf, 8), 8); /* spans all three */
    CU_ASSERT_NSTRING_EQUAL(buf, "cdefghij", 8);
    memset(buf, 0, sizeof(buf));
    CU_ASSERT_EQUAL(virtq_chain_read(&chain, 3, buf, 5), 5); /* exactly segment 2 */
    CU_ASSERT_NSTRING_EQUAL(buf, "defgh", 5);
    memset(buf, 0, sizeof(buf));
    CU_ASSERT_EQUAL(virtq_chain_read(&chain, 9, buf, 10), 3); /* short at the end */
    CU_ASSERT_NSTRING_EQUAL(buf, "jkl", 3);
    CU_ASSERT_EQUAL(virtq_chain_read(&chain, 12, buf, 1), 0);
    CU_ASSERT_EQUAL(virtq_chain_read(&chain, 1000, buf, 1), 0);
    CU_ASSERT_EQUAL(virtq_chain_read(&chain, 0, buf, 0), 0);

    /* Writes go only to the writable buffers. */
    CU_ASSERT_EQUAL(virtq_chain_write(&chain, 1, "WXYZ", 4), 4);
    char out[8];
    CU_ASSERT_EQUAL(guest_mem_read(&r.mem, DATA_GPA + 0x300, out, 2), 0);
    CU_ASSERT_EQUAL(out[1], 'W');
    CU_ASSERT_EQUAL(guest_mem_read(&r.mem, DATA_GPA + 0x400, out, 6), 0);
    CU_ASSERT_NSTRING_EQUAL(out, "XYZ", 3);
    CU_ASSERT_EQUAL(virtq_chain_write(&chain, 6, "0123456789", 10), 2);
    CU_ASSERT_EQUAL(guest_mem_read(&r.mem, DATA_GPA + 0x400, out, 6), 0);
    CU_ASSERT(memcmp(out, "XYZ\0" "01", 6) == 0);
    CU_ASSERT_EQUAL(virtq_chain_write(&chain, 8, "z", 1), 0);
    /* The readable buffers are untouched. */
    CU_ASSERT_EQUAL(virtq_chain_read(&chain, 0, buf, 12), 12);
    CU_ASSERT_NSTRING_EQUAL(buf, "abcdefghijkl", 12);
    rig_destroy(&r);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "well-formed chain pops readable then writable",
          test_well_formed_chain_pops_readable_then_writable },
        { "buffer in a second region pops", test_buffer_in_second_region_pops },
        { "chains pop in ring order across the index wrap",
          test_chains_pop_in_ring_order_across_index_wrap },
        { "empty ring pops nothing", test_empty_ring_pops_nothing },
        { "queue not ready pops nothing", test_queue_not_ready_pops_nothing },
        { "zero-length buffer is accepted", test_zero_length_buffer_is_accepted },
        { "descriptor loop is refused", test_descriptor_loop_is_refused },
        { "descriptor pointing at itself is refused",
          test_descriptor_pointing_at_itself_is_refused },
        { "chain using every descriptor pops", test_chain_using_every_descriptor_pops },
        { "next beyond queue size is refused", test_next_beyond_queue_size_is_refused },
        { "head beyond queue size is refused", test_head_beyond_queue_size_is_refused },
        { "avail index ahead by more than queue size is refused",
          test_avail_index_ahead_by_more_than_queue_size_is_refused },
        { "buffer outside RAM is refused", test_buffer_outside_ram_is_refused },
        { "buffer in an MMIO hole is refused", test_buffer_in_mmio_hole_is_refused },
        { "buffer running off its region into the hole is refused",
          test_buffer_running_off_its_region_into_the_hole_is_refused },
        { "buffer address + length wrapping 2^64 is refused",
          test_buffer_address_plus_length_wrapping_2_64_is_refused },
        { "readable after writable is refused", test_readable_after_writable_is_refused },
        { "indirect chain pops with the feature", test_indirect_chain_pops_with_feature },
        { "indirect without the negotiated feature is refused",
          test_indirect_without_negotiated_feature_is_refused },
        { "indirect with NEXT is refused", test_indirect_with_next_is_refused },
        { "nested indirect is refused", test_nested_indirect_is_refused },
        { "indirect table of zero bytes is refused", test_indirect_table_of_zero_bytes_is_refused },
        { "indirect table not a multiple of 16 is refused",
          test_indirect_table_not_a_multiple_of_16_is_refused },
        { "indirect table over the limit is refused",
          test_indirect_table_over_the_limit_is_refused },
        { "indirect table outside RAM is refused", test_indirect_table_outside_ram_is_refused },
        { "indirect loop is refused", test_indirect_loop_is_refused },
        { "indirect next beyond the table is refused",
          test_indirect_next_beyond_table_is_refused },
        { "indirect readable after writable is refused",
          test_indirect_readable_after_writable_is_refused },
        { "chain of VIRTQ_MAX_SEGS buffers pops", test_chain_of_max_segs_buffers_pops },
        { "chain of more than VIRTQ_MAX_SEGS buffers is refused",
          test_chain_of_more_than_max_segs_buffers_is_refused },
        { "refused chain consumes nothing", test_refused_chain_consumes_nothing },
        { "push writes id, len and index", test_push_writes_id_len_and_index },
        { "push wraps the used ring and index", test_push_wraps_the_used_ring_and_index },
        { "should_notify without event idx honours NO_INTERRUPT",
          test_should_notify_without_event_idx_honours_no_interrupt },
        { "should_notify with event idx ignores NO_INTERRUPT",
          test_should_notify_with_event_idx_ignores_no_interrupt },
        { "should_notify honours used_event", test_should_notify_honours_used_event },
        { "should_notify event idx wraps at 65535", test_should_notify_event_idx_wraps_at_65535 },
        { "update_avail_event publishes last_avail", test_update_avail_event_publishes_last_avail },
        { "activate refuses non-power-of-two sizes", test_activate_refuses_non_power_of_two_sizes },
        { "activate refuses sizes above max", test_activate_refuses_sizes_above_max },
        { "activate refuses misaligned rings", test_activate_refuses_misaligned_rings },
        { "activate refuses rings outside RAM", test_activate_refuses_rings_outside_ram },
        { "failed activate keeps the rings mapped", test_failed_activate_keeps_the_rings_mapped },
        { "save/load round trip restores and re-activates",
          test_save_load_round_trip_restores_and_reactivates },
        { "load of a queue not ready keeps it unmapped",
          test_load_of_a_queue_not_ready_keeps_it_unmapped },
        { "load refuses bad sizes", test_load_refuses_bad_sizes },
        { "load refuses bad ready values", test_load_refuses_bad_ready_values },
        { "load refuses ready rings outside RAM and says why",
          test_load_refuses_ready_rings_outside_ram_and_says_why },
        { "load refuses a truncated section", test_load_refuses_a_truncated_section },
        { "chain_read and chain_write cross segments with offsets",
          test_chain_read_and_write_cross_segments_with_offsets },
        { NULL, NULL },
    };
    return unit_main("virtq", tests);
}
