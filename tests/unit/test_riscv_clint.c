/* CLINT register behaviour, with the harts replaced by recording callbacks. */
#include <string.h>

#include "arch/riscv/clint.h"
#include "unit.h"
#include "vmm/error.h"

static int msip_level[4];
static uint64_t timecmp[4];
static uint64_t now;
static int kicks;

static void set_msip(void *o, unsigned hart, int level)
{
    msip_level[hart] = level;
}
static uint64_t get_mtimecmp(void *o, unsigned hart)
{
    return timecmp[hart];
}
static void set_mtimecmp(void *o, unsigned hart, uint64_t v)
{
    timecmp[hart] = v;
    kicks++;
}
static uint64_t read_time(void *o)
{
    return now;
}
static const struct clint_ops ops = { set_msip, get_mtimecmp, set_mtimecmp, read_time };

static struct clint c;
static const struct bus_dev_ops *b = &clint_bus_ops;

static void setup(void)
{
    memset(msip_level, 0, sizeof(msip_level));
    memset(timecmp, 0xff, sizeof(timecmp));
    now = 0;
    kicks = 0;
    CU_ASSERT_EQUAL_FATAL(clint_init(&c, 2, &ops, NULL), 0);
}

static void test_msip_write_raises_and_reads_back_per_hart(void)
{
    setup();
    b->write(&c, 4, 4, 1);
    CU_ASSERT_EQUAL(msip_level[1], 1);
    CU_ASSERT_EQUAL(msip_level[0], 0);
    CU_ASSERT_EQUAL(b->read(&c, 4, 4), 1);
    CU_ASSERT_EQUAL(b->read(&c, 0, 4), 0);
    b->write(&c, 4, 4, 0xfffffffe); /* only bit 0 is implemented */
    CU_ASSERT_EQUAL(msip_level[1], 0);
    CU_ASSERT_EQUAL(b->read(&c, 4, 4), 0);
    clint_destroy(&c);
}

static void test_msip_beyond_last_hart_is_ignored(void)
{
    setup();
    b->write(&c, 8, 4, 1);
    CU_ASSERT_EQUAL(b->read(&c, 8, 4), 0);
    CU_ASSERT_EQUAL(msip_level[2], 0);
    clint_destroy(&c);
}

static void test_mtimecmp_64bit_and_32bit_halves(void)
{
    setup();
    b->write(&c, 0x4008, 8, 0x1122334455667788ULL);
    CU_ASSERT_EQUAL(timecmp[1], 0x1122334455667788ULL);
    CU_ASSERT_EQUAL(b->read(&c, 0x4008, 8), 0x1122334455667788ULL);
    b->write(&c, 0x4000, 4, 0xaabbccdd);
    b->write(&c, 0x4004, 4, 0x01020304);
    CU_ASSERT_EQUAL(timecmp[0], 0x01020304aabbccddULL);
    CU_ASSERT_EQUAL(b->read(&c, 0x4004, 4), 0x01020304);
    CU_ASSERT_EQUAL(b->read(&c, 0x4000, 4), 0xaabbccdd);
    CU_ASSERT(kicks >= 3);
    clint_destroy(&c);
}

static void test_mtime_reads_the_clock_in_halves(void)
{
    setup();
    now = 0x0000000500000007ULL;
    CU_ASSERT_EQUAL(b->read(&c, 0xbff8, 8), now);
    CU_ASSERT_EQUAL(b->read(&c, 0xbff8, 4), 7);
    CU_ASSERT_EQUAL(b->read(&c, 0xbffc, 4), 5);
    b->write(&c, 0xbff8, 8, 0); /* mtime is not writable here */
    CU_ASSERT_EQUAL(b->read(&c, 0xbff8, 8), now);
    clint_destroy(&c);
}

static void test_unknown_offsets_read_zero(void)
{
    setup();
    CU_ASSERT_EQUAL(b->read(&c, 0x4010, 8), 0); /* hart 2 does not exist */
    CU_ASSERT_EQUAL(b->read(&c, 0xc000, 4), 0);
    clint_destroy(&c);
}

static void test_init_rejects_zero_harts(void)
{
    struct clint z;
    CU_ASSERT_EQUAL(clint_init(&z, 0, &ops, NULL), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "0 harts"));
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "msip write raises and reads back per hart", test_msip_write_raises_and_reads_back_per_hart },
        { "msip beyond last hart is ignored", test_msip_beyond_last_hart_is_ignored },
        { "mtimecmp 64-bit and 32-bit halves", test_mtimecmp_64bit_and_32bit_halves },
        { "mtime reads the clock in halves", test_mtime_reads_the_clock_in_halves },
        { "unknown offsets read zero", test_unknown_offsets_read_zero },
        { "init rejects zero harts", test_init_rejects_zero_harts },
        { NULL, NULL },
    };
    return unit_main("riscv-clint", tests);
}
