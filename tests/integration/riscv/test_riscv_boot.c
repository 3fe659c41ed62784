/* How the riscv64 platform boots, through the public API (VMs are created,
 * not run): initial hart state for firmware ELF and Linux Image, the device
 * tree handed in a1, and clear errors for bad kernels, initrds and command
 * lines.   test_riscv_boot HELLO.elf SBI.Image */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vmm/vmm.h>

static const char *elf_path, *image_path;
static vmm_host_t *host;

struct spec {
    const char *engine, *kernel, *initrd, *cmdline;
    uint64_t memory;
    unsigned vcpus;
};

static int create(const struct spec *s, vmm_vm_t **vm)
{
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    CU_ASSERT_EQUAL(vmm_config_set_engine(cfg, s->engine ? s->engine : "soft"), 0);
    CU_ASSERT_EQUAL(vmm_config_set_kernel(cfg, s->kernel), 0);
    CU_ASSERT_EQUAL(vmm_config_set_memory(cfg, s->memory ? s->memory : 64 << 20), 0);
    CU_ASSERT_EQUAL(vmm_config_set_vcpus(cfg, s->vcpus ? s->vcpus : 1), 0);
    if (s->initrd)
        CU_ASSERT_EQUAL(vmm_config_set_initrd(cfg, s->initrd), 0);
    if (s->cmdline)
        CU_ASSERT_EQUAL(vmm_config_set_cmdline(cfg, s->cmdline), 0);
    *vm = NULL;
    int rc = vmm_vm_create(host, cfg, vm);
    vmm_config_free(cfg);
    return rc;
}

/* A temporary file of `len` bytes from `data` (NULL: zeroes). */
static char *temp_file(const void *data, size_t len)
{
    char *path = strdup("/tmp/rv-boot-XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    void *zero = calloc(1, len ? len : 1);
    ssize_t n = write(fd, data ? data : zero, len);
    CU_ASSERT_EQUAL(n, (ssize_t)len);
    free(zero);
    close(fd);
    return path;
}

static int has(const char *needle)
{
    int ok = strstr(vmm_last_error(), needle) != NULL;
    if (!ok)
        printf("\nmessage '%s' lacks '%s'\n", vmm_last_error(), needle);
    return ok;
}

static void test_elf_firmware_starts_every_hart_in_m_mode(void)
{
    struct spec s = { .engine = "auto", .kernel = elf_path, .vcpus = 2 };
    vmm_vm_t *vm;
    CU_ASSERT_EQUAL_FATAL(create(&s, &vm), 0);
    CU_ASSERT_STRING_EQUAL(vmm_vm_engine(vm), "soft"); /* picked from the ELF */
    for (unsigned i = 0; i < 2; i++) {
        vmm_vcpu_regs_t r = {.size = sizeof(r)};
        CU_ASSERT_EQUAL(vmm_vm_vcpu_regs(vm, i, &r), 0);
        CU_ASSERT_EQUAL(r.pc, 0x80000000ULL);
        CU_ASSERT_EQUAL(r.mode, 3);
        CU_ASSERT_EQUAL(r.gpr[10], i); /* a0 = hartid */
        uint32_t magic = 0;
        CU_ASSERT_EQUAL(vmm_vm_read_phys(vm, r.gpr[11], &magic, 4), 0);
        CU_ASSERT_EQUAL(magic, 0xedfe0dd0u); /* a1 = the device tree */
    }
    vmm_vm_destroy(vm);
}

static void test_image_boots_hart0_in_s_mode_with_dtb(void)
{
    struct spec s = { .engine = "auto", .kernel = image_path, .vcpus = 2,
                      .cmdline = "console=ttyS0" };
    vmm_vm_t *vm;
    CU_ASSERT_EQUAL_FATAL(create(&s, &vm), 0);
    vmm_vcpu_regs_t r = {.size = sizeof(r)};
    CU_ASSERT_EQUAL(vmm_vm_vcpu_regs(vm, 0, &r), 0);
    CU_ASSERT_EQUAL(r.pc, 0x80200000ULL); /* RAM + text_offset */
    CU_ASSERT_EQUAL(r.mode, 1);
    CU_ASSERT_EQUAL(r.gpr[10], 0);
    uint64_t dtb = r.gpr[11];
    CU_ASSERT(dtb >= 0x80000000ULL && dtb < 0x80000000ULL + (64 << 20));
    CU_ASSERT_EQUAL(dtb % 8, 0);
    uint32_t magic = 0;
    CU_ASSERT_EQUAL(vmm_vm_read_phys(vm, dtb, &magic, 4), 0);
    CU_ASSERT_EQUAL(magic, 0xedfe0dd0u);
    /* the command line is in the tree */
    static char blob[65536];
    CU_ASSERT_EQUAL(vmm_vm_read_phys(vm, dtb, blob, 4096), 0);
    int found = 0;
    for (size_t i = 0; i + 13 < 4096; i++)
        if (memcmp(blob + i, "console=ttyS0", 13) == 0)
            found = 1;
    CU_ASSERT_TRUE(found);
    vmm_vm_destroy(vm);
}

static void test_initrd_lands_in_ram_below_the_dtb(void)
{
    char data[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7);
    char *initrd = temp_file(data, sizeof(data));
    struct spec s = { .kernel = image_path, .initrd = initrd };
    vmm_vm_t *vm;
    CU_ASSERT_EQUAL_FATAL(create(&s, &vm), 0);
    vmm_vcpu_regs_t r = {.size = sizeof(r)};
    CU_ASSERT_EQUAL(vmm_vm_vcpu_regs(vm, 0, &r), 0);
    /* find the initrd just below the device tree, page aligned */
    uint64_t start = (r.gpr[11] - sizeof(data)) & ~4095ULL;
    static char back[10000];
    CU_ASSERT_EQUAL(vmm_vm_read_phys(vm, start, back, sizeof(back)), 0);
    CU_ASSERT_EQUAL(memcmp(back, data, sizeof(data)), 0);
    vmm_vm_destroy(vm);
    unlink(initrd);
    free(initrd);
}

static void test_truncated_kernel_is_eformat_naming_file_and_size(void)
{
    char *k = temp_file(NULL, 40);
    struct spec s = { .kernel = k };
    vmm_vm_t *vm;
    CU_ASSERT_EQUAL(create(&s, &vm), VMM_EFORMAT);
    CU_ASSERT_PTR_NULL(vm);
    CU_ASSERT_TRUE(has(k));
    CU_ASSERT_TRUE(has("40 bytes"));
    unlink(k);
    free(k);
}

static void test_image_larger_than_ram_is_erange(void)
{
    uint8_t hdr[64] = { 0 };
    hdr[8 + 2] = 0x20;            /* text_offset 0x200000 */
    hdr[16 + 3] = 0x40;           /* image_size 1 GiB */
    memcpy(hdr + 0x38, "RSC\x05", 4);
    char *k = temp_file(hdr, sizeof(hdr));
    struct spec s = { .kernel = k, .memory = 16 << 20 };
    vmm_vm_t *vm;
    CU_ASSERT_EQUAL(create(&s, &vm), VMM_ERANGE);
    CU_ASSERT_TRUE(has("1073741824"));
    CU_ASSERT_TRUE(has("16777216"));
    unlink(k);
    free(k);
}

static void test_initrd_that_does_not_fit_is_erange_naming_sizes(void)
{
    char *initrd = temp_file(NULL, 15 << 20);
    struct spec s = { .kernel = image_path, .initrd = initrd, .memory = 16 << 20 };
    vmm_vm_t *vm;
    CU_ASSERT_EQUAL(create(&s, &vm), VMM_ERANGE);
    CU_ASSERT_TRUE(has(initrd));
    CU_ASSERT_TRUE(has("15728640"));
    unlink(initrd);
    free(initrd);
}

static void test_missing_initrd_is_enoent(void)
{
    struct spec s = { .kernel = image_path, .initrd = "/nonexistent/initrd.gz" };
    vmm_vm_t *vm;
    CU_ASSERT_EQUAL(create(&s, &vm), VMM_ENOENT);
    CU_ASSERT_TRUE(has("/nonexistent/initrd.gz"));
}

static void test_too_long_cmdline_is_erange_naming_both_lengths(void)
{
    char line[2001];
    memset(line, 'a', 2000);
    line[2000] = '\0';
    struct spec s = { .kernel = image_path, .cmdline = line };
    vmm_vm_t *vm;
    CU_ASSERT_EQUAL(create(&s, &vm), VMM_ERANGE);
    CU_ASSERT_TRUE(has("2000"));
    CU_ASSERT_TRUE(has("1023"));
}

static void test_too_many_vcpus_for_the_soft_engine_is_einval(void)
{
    struct spec s = { .kernel = elf_path, .vcpus = 33 };
    vmm_vm_t *vm;
    CU_ASSERT_EQUAL(create(&s, &vm), VMM_EINVAL);
    CU_ASSERT_TRUE(has("33"));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HELLO.elf SBI.Image\n", argv[0]);
        return 2;
    }
    elf_path = argv[1];
    image_path = argv[2];
    if (vmm_host_new(&host, NULL) != 0)
        return 1;
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        { "ELF firmware starts every hart in M-mode", test_elf_firmware_starts_every_hart_in_m_mode },
        { "Image boots hart 0 in S-mode with the dtb", test_image_boots_hart0_in_s_mode_with_dtb },
        { "initrd lands in RAM below the dtb", test_initrd_lands_in_ram_below_the_dtb },
        { "truncated kernel is EFORMAT naming file and size", test_truncated_kernel_is_eformat_naming_file_and_size },
        { "Image larger than RAM is ERANGE", test_image_larger_than_ram_is_erange },
        { "initrd that does not fit is ERANGE naming sizes", test_initrd_that_does_not_fit_is_erange_naming_sizes },
        { "missing initrd is ENOENT", test_missing_initrd_is_enoent },
        { "too long cmdline is ERANGE naming both lengths", test_too_long_cmdline_is_erange_naming_both_lengths },
        { "too many vCPUs for the soft engine is EINVAL", test_too_many_vcpus_for_the_soft_engine_is_einval },
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite("riscv-boot", NULL, NULL);
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        CU_add_test(suite, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    vmm_host_free(host);
    return failures ? 1 : 0;
}
