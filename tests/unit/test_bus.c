#include <string.h>

#include "bus/bus.h"
#include "unit.h"
#include "vmm/error.h"

static uint64_t last_offset;
static uint64_t last_value;

static uint64_t dev_read(void *opaque, uint64_t offset, unsigned size)
{
    return (uintptr_t)opaque + offset;
}

static void dev_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    last_offset = offset;
    last_value = value;
}

static const struct bus_dev_ops ops = { dev_read, dev_write };

static void test_dispatches_to_the_range_with_offset(void)
{
    struct bus b;
    bus_init(&b, "test");
    CU_ASSERT_EQUAL(bus_register(&b, 0x1000, 0x100, &ops, (void *)0x500, "a"), 0);
    CU_ASSERT_EQUAL(bus_register(&b, 0x3000, 0x10, &ops, (void *)0x900, "b"), 0);
    uint64_t v = 0;
    CU_ASSERT_EQUAL(bus_read(&b, 0x1010, 4, &v), 0);
    CU_ASSERT_EQUAL(v, 0x510);
    CU_ASSERT_EQUAL(bus_read(&b, 0x300f, 1, &v), 0);
    CU_ASSERT_EQUAL(v, 0x90f);
    CU_ASSERT_EQUAL(bus_write(&b, 0x10ff, 2, 0xabcd), 0);
    CU_ASSERT_EQUAL(last_offset, 0xff);
    CU_ASSERT_EQUAL(last_value, 0xabcd);
    bus_destroy(&b);
}

static void test_unmapped_reads_all_ones_and_is_not_fatal(void)
{
    struct bus b;
    bus_init(&b, "test");
    uint64_t v = 0;
    CU_ASSERT_EQUAL(bus_read(&b, 0x42, 1, &v), 1);
    CU_ASSERT_EQUAL(v, 0xff);
    CU_ASSERT_EQUAL(bus_read(&b, 0x42, 2, &v), 1);
    CU_ASSERT_EQUAL(v, 0xffff);
    CU_ASSERT_EQUAL(bus_read(&b, 0x42, 8, &v), 1);
    CU_ASSERT_EQUAL(v, ~0ULL);
    CU_ASSERT_EQUAL(bus_write(&b, 0x42, 4, 1), 1);
    bus_destroy(&b);
}

static void test_overlapping_range_is_refused_with_both_names(void)
{
    struct bus b;
    bus_init(&b, "test");
    CU_ASSERT_EQUAL(bus_register(&b, 0x100, 0x10, &ops, NULL, "first"), 0);
    CU_ASSERT_EQUAL(bus_register(&b, 0x108, 0x10, &ops, NULL, "second"), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "first"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "second"));
    CU_ASSERT_EQUAL(bus_register(&b, 0xf8, 0x10, &ops, NULL, "third"), VMM_EINVAL);
    CU_ASSERT_EQUAL(bus_register(&b, 0x110, 0x10, &ops, NULL, "adjacent"), 0);
    CU_ASSERT_EQUAL(bus_register(&b, ~0ULL - 4, 0x10, &ops, NULL, "wraps"), VMM_EINVAL);
    CU_ASSERT_EQUAL(bus_register(&b, 0x500, 0, &ops, NULL, "empty"), VMM_EINVAL);
    bus_destroy(&b);
}

static void test_many_ranges_stay_sorted_for_lookup(void)
{
    struct bus b;
    bus_init(&b, "test");
    for (int i = 99; i >= 0; i--)
        CU_ASSERT_EQUAL(bus_register(&b, (uint64_t)i * 0x100, 0x80, &ops, (void *)(uintptr_t)(i << 12), "r"), 0);
    for (int i = 0; i < 100; i++) {
        uint64_t v;
        CU_ASSERT_EQUAL(bus_read(&b, (uint64_t)i * 0x100 + 4, 4, &v), 0);
        CU_ASSERT_EQUAL(v, ((uint64_t)i << 12) + 4);
        CU_ASSERT_EQUAL(bus_read(&b, (uint64_t)i * 0x100 + 0x80, 4, &v), 1);
    }
    bus_destroy(&b);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "dispatches to the range with offset", test_dispatches_to_the_range_with_offset },
        { "unmapped reads all-ones and is not fatal", test_unmapped_reads_all_ones_and_is_not_fatal },
        { "overlapping range is refused with both names", test_overlapping_range_is_refused_with_both_names },
        { "many ranges stay sorted for lookup", test_many_ranges_stay_sorted_for_lookup },
        { NULL, NULL },
    };
    return unit_main("bus", tests);
}
