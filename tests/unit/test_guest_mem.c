#include <string.h>

#include "mem/guest_mem.h"
#include "unit.h"
#include "vmm/error.h"

static void test_ram_is_zeroed_and_addressable(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL(guest_mem_add_ram(&gm, 0, 1 << 20), 0);
    uint8_t *p = guest_mem_ptr(&gm, 0x1000, 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p[0], 0);
    CU_ASSERT_EQUAL(gm.ram_bytes, 1 << 20);
    guest_mem_destroy(&gm);
}

static void test_ptr_refuses_ranges_that_leave_ram(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL(guest_mem_add_ram(&gm, 0x10000, 0x10000), 0);
    CU_ASSERT_PTR_NULL(guest_mem_ptr(&gm, 0xffff, 1));
    CU_ASSERT_PTR_NULL(guest_mem_ptr(&gm, 0x1ffff, 2));
    CU_ASSERT_PTR_NULL(guest_mem_ptr(&gm, 0x10000, ~0ULL));
    CU_ASSERT_PTR_NULL(guest_mem_ptr(&gm, ~0ULL, 1));
    CU_ASSERT_PTR_NOT_NULL(guest_mem_ptr(&gm, 0x1ffff, 1));
    guest_mem_destroy(&gm);
}

static void test_copy_spans_adjacent_regions(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL(guest_mem_add_ram(&gm, 0, 0x1000), 0);
    CU_ASSERT_EQUAL(guest_mem_add_ram(&gm, 0x1000, 0x1000), 0);
    const char msg[] = "across the boundary";
    CU_ASSERT_EQUAL(guest_mem_write(&gm, 0xff8, msg, sizeof(msg)), 0);
    char back[sizeof(msg)];
    CU_ASSERT_EQUAL(guest_mem_read(&gm, 0xff8, back, sizeof(back)), 0);
    CU_ASSERT_STRING_EQUAL(back, msg);
    CU_ASSERT_EQUAL(guest_mem_read(&gm, 0x1ff8, back, sizeof(back)), VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "0x2000"));
    guest_mem_destroy(&gm);
}

static void test_bad_regions_are_refused(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL(guest_mem_add_ram(&gm, 0x123, 0x1000), VMM_EINVAL);
    CU_ASSERT_EQUAL(guest_mem_add_ram(&gm, 0, 0), VMM_EINVAL);
    CU_ASSERT_EQUAL(guest_mem_add_ram(&gm, 0, 0x2000), 0);
    CU_ASSERT_EQUAL(guest_mem_add_ram(&gm, 0x1000, 0x2000), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "overlaps"));
    CU_ASSERT_EQUAL(guest_mem_add_ram(&gm, 0xfffffffffffff000ULL, 0x2000), VMM_ERANGE);
    guest_mem_destroy(&gm);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "RAM is zeroed and addressable", test_ram_is_zeroed_and_addressable },
        { "ptr refuses ranges that leave RAM", test_ptr_refuses_ranges_that_leave_ram },
        { "copy spans adjacent regions", test_copy_spans_adjacent_regions },
        { "bad regions are refused", test_bad_regions_are_refused },
        { NULL, NULL },
    };
    return unit_main("guest_mem", tests);
}
