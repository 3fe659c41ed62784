/* The riscv64 device tree, read back with libfdt. */
#include <libfdt.h>
#include <string.h>

#include "arch/riscv/dtb.h"
#include "unit.h"
#include "vmm/error.h"

static uint8_t blob[DTB_MAX_SIZE];

static struct dtb_params params(unsigned harts)
{
    return (struct dtb_params){
        .ram_base = 0x80000000ULL,
        .ram_size = 0x10000000ULL,
        .nr_harts = harts,
        .cmdline = "console=ttyS0 earlycon=sbi",
        .mmu_type = "riscv,sv48",
    };
}

static void build(const struct dtb_params *p)
{
    size_t size = 0;
    CU_ASSERT_EQUAL_FATAL(dtb_build(p, blob, sizeof(blob), &size), 0);
    CU_ASSERT_EQUAL_FATAL(fdt_check_header(blob), 0);
    CU_ASSERT_EQUAL(fdt_totalsize(blob), size);
}

static int node(const char *path)
{
    return fdt_path_offset(blob, path);
}

static const char *str(const char *path, const char *prop)
{
    int off = node(path);
    if (off < 0)
        return NULL;
    return fdt_getprop(blob, off, prop, NULL);
}

static uint32_t cell(const char *path, const char *prop, int i)
{
    int len = 0;
    const fdt32_t *v = fdt_getprop(blob, node(path), prop, &len);
    if (!v || len < (i + 1) * 4)
        return 0xdeadbeef;
    return fdt32_to_cpu(v[i]);
}

static uint64_t u64prop(const char *path, const char *prop)
{
    int len = 0;
    const void *v = fdt_getprop(blob, node(path), prop, &len);
    fdt64_t be; /* properties are only 4-byte aligned */
    if (!v || len != 8)
        return 0;
    memcpy(&be, v, sizeof(be));
    return fdt64_to_cpu(be);
}

static void test_memory_node_describes_ram(void)
{
    struct dtb_params p = params(1);
    build(&p);
    CU_ASSERT_STRING_EQUAL(str("/memory@80000000", "device_type"), "memory");
    CU_ASSERT_EQUAL(cell("/memory@80000000", "reg", 0), 0);
    CU_ASSERT_EQUAL(cell("/memory@80000000", "reg", 1), 0x80000000u);
    CU_ASSERT_EQUAL(cell("/memory@80000000", "reg", 2), 0);
    CU_ASSERT_EQUAL(cell("/memory@80000000", "reg", 3), 0x10000000u);
}

static void test_cpus_have_isa_mmu_and_intc(void)
{
    struct dtb_params p = params(2);
    build(&p);
    CU_ASSERT_EQUAL(cell("/cpus", "timebase-frequency", 0), 10000000u);
    CU_ASSERT_STRING_EQUAL(str("/cpus/cpu@1", "riscv,isa"), "rv64imafdc_zicsr_zifencei");
    CU_ASSERT_STRING_EQUAL(str("/cpus/cpu@1", "mmu-type"), "riscv,sv48");
    CU_ASSERT_STRING_EQUAL(str("/cpus/cpu@0", "device_type"), "cpu");
    CU_ASSERT_EQUAL(cell("/cpus/cpu@1", "reg", 0), 1);
    CU_ASSERT_EQUAL(cell("/cpus/cpu@1/interrupt-controller", "#interrupt-cells", 0), 1);
    CU_ASSERT_STRING_EQUAL(str("/cpus/cpu@1/interrupt-controller", "compatible"), "riscv,cpu-intc");
    CU_ASSERT(node("/cpus/cpu@2") < 0);
}

static void test_plic_contexts_are_m_then_s_per_hart(void)
{
    struct dtb_params p = params(2);
    build(&p);
    const char *plic = "/soc/plic@c000000";
    CU_ASSERT_EQUAL(cell(plic, "riscv,ndev", 0), 95);
    CU_ASSERT(fdt_node_check_compatible(blob, node(plic), "riscv,plic0") == 0);
    CU_ASSERT(fdt_node_check_compatible(blob, node(plic), "sifive,plic-1.0.0") == 0);
    uint32_t intc0 = fdt_get_phandle(blob, node("/cpus/cpu@0/interrupt-controller"));
    uint32_t intc1 = fdt_get_phandle(blob, node("/cpus/cpu@1/interrupt-controller"));
    CU_ASSERT(intc0 != 0 && intc1 != 0 && intc0 != intc1);
    uint32_t want[] = { intc0, 11, intc0, 9, intc1, 11, intc1, 9 };
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(cell(plic, "interrupts-extended", i), want[i]);
    uint32_t wclint[] = { intc0, 3, intc0, 7, intc1, 3, intc1, 7 };
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(cell("/soc/clint@2000000", "interrupts-extended", i), wclint[i]);
    CU_ASSERT(fdt_node_check_compatible(blob, node("/soc/clint@2000000"), "riscv,clint0") == 0);
}

static void test_uart_is_plic_source_10(void)
{
    struct dtb_params p = params(1);
    build(&p);
    const char *s = "/soc/serial@10000000";
    CU_ASSERT_STRING_EQUAL(str(s, "compatible"), "ns16550a");
    CU_ASSERT_EQUAL(cell(s, "interrupts", 0), 10);
    CU_ASSERT_EQUAL(cell(s, "clock-frequency", 0), 3686400);
    CU_ASSERT_EQUAL(cell(s, "interrupt-parent", 0),
                    fdt_get_phandle(blob, node("/soc/plic@c000000")));
    CU_ASSERT_EQUAL(cell(s, "reg", 1), 0x10000000u);
}

static void test_poweroff_and_reboot_point_at_the_test_device(void)
{
    struct dtb_params p = params(1);
    build(&p);
    uint32_t test = fdt_get_phandle(blob, node("/soc/test@100000"));
    CU_ASSERT(test != 0);
    CU_ASSERT(fdt_node_check_compatible(blob, node("/soc/test@100000"), "sifive,test0") == 0);
    CU_ASSERT(fdt_node_check_compatible(blob, node("/soc/test@100000"), "syscon") == 0);
    CU_ASSERT_STRING_EQUAL(str("/poweroff", "compatible"), "syscon-poweroff");
    CU_ASSERT_EQUAL(cell("/poweroff", "regmap", 0), test);
    CU_ASSERT_EQUAL(cell("/poweroff", "value", 0), 0x5555);
    CU_ASSERT_EQUAL(cell("/reboot", "regmap", 0), test);
    CU_ASSERT_EQUAL(cell("/reboot", "value", 0), 0x7777);
}

static void test_chosen_has_bootargs_stdout_and_initrd(void)
{
    struct dtb_params p = params(1);
    p.initrd_start = 0x8f000000ULL;
    p.initrd_end = 0x8f123456ULL;
    build(&p);
    CU_ASSERT_STRING_EQUAL(str("/chosen", "bootargs"), "console=ttyS0 earlycon=sbi");
    CU_ASSERT_STRING_EQUAL(str("/chosen", "stdout-path"), "/soc/serial@10000000");
    CU_ASSERT_EQUAL(u64prop("/chosen", "linux,initrd-start"), 0x8f000000ULL);
    CU_ASSERT_EQUAL(u64prop("/chosen", "linux,initrd-end"), 0x8f123456ULL);
}

static void test_no_initrd_means_no_initrd_properties(void)
{
    struct dtb_params p = params(1);
    p.cmdline = "";
    build(&p);
    CU_ASSERT_PTR_NULL(str("/chosen", "linux,initrd-start"));
    CU_ASSERT_PTR_NULL(str("/chosen", "bootargs"));
}

static void test_32_harts_fit(void)
{
    struct dtb_params p = params(32);
    build(&p);
    CU_ASSERT(node("/cpus/cpu@31") >= 0);
    CU_ASSERT_EQUAL(cell("/soc/plic@c000000", "interrupts-extended", 4 * 31 + 3), 9);
}

static void test_too_long_cmdline_is_erange_naming_both_lengths(void)
{
    static char longline[DTB_CMDLINE_MAX + 10];
    memset(longline, 'x', DTB_CMDLINE_MAX);
    longline[DTB_CMDLINE_MAX] = '\0';
    struct dtb_params p = params(1);
    p.cmdline = longline;
    size_t size;
    CU_ASSERT_EQUAL(dtb_build(&p, blob, sizeof(blob), &size), VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "1024"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "1023"));
    longline[DTB_CMDLINE_MAX - 1] = '\0'; /* 1023 bytes fit */
    CU_ASSERT_EQUAL(dtb_build(&p, blob, sizeof(blob), &size), 0);
}

static void test_small_buffer_is_erange(void)
{
    struct dtb_params p = params(1);
    size_t size;
    CU_ASSERT_EQUAL(dtb_build(&p, blob, 256, &size), VMM_ERANGE);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "memory node describes RAM", test_memory_node_describes_ram },
        { "cpus have isa, mmu and intc", test_cpus_have_isa_mmu_and_intc },
        { "plic contexts are M then S per hart", test_plic_contexts_are_m_then_s_per_hart },
        { "uart is PLIC source 10", test_uart_is_plic_source_10 },
        { "poweroff and reboot point at the test device", test_poweroff_and_reboot_point_at_the_test_device },
        { "chosen has bootargs, stdout and initrd", test_chosen_has_bootargs_stdout_and_initrd },
        { "no initrd means no initrd properties", test_no_initrd_means_no_initrd_properties },
        { "32 harts fit", test_32_harts_fit },
        { "too long cmdline is ERANGE naming both lengths", test_too_long_cmdline_is_erange_naming_both_lengths },
        { "small buffer is ERANGE", test_small_buffer_is_erange },
        { NULL, NULL },
    };
    return unit_main("riscv-dtb", tests);
}
