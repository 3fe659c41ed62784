/* The bare-metal x86 guests booted through the public API on the kvm
 * engine with the board's real devices (16550 on COM1, debug-exit on
 * 0xf4): console output and outcome of each.
 *
 * argv[1]: directory of the built guests. Needs /dev/kvm
 * (harness_need_kvm): skips (77) when the host has none, also under
 * CI=true; fails under CI=true when it is there but unusable.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmm/vmm.h>

#include "../core/guest_harness.h"

#define MiB (1024ULL * 1024ULL)

static const char *guest_dir;
static char tmpdir[] = "/tmp/test_x86_guests.XXXXXX";
static char initrd_path[600];

struct result {
    struct guest_run r;
    vmm_outcome_t outcome;
    vmm_vcpu_stats_t stats;
    double seconds;
    int created;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Boots guest `name` and runs it to its end (or `timeout_ms`). */
static struct result *run(const char *name, uint64_t mem, unsigned vcpus, const char *cmdline,
                          const char *initrd, unsigned timeout_ms)
{
    struct result *res = calloc(1, sizeof(*res));
    char kernel[1024];
    snprintf(kernel, sizeof(kernel), "%s/%s", guest_dir, name);
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    CU_ASSERT_EQUAL(vmm_config_set_engine(cfg, VMM_ENGINE_KVM), 0);
    CU_ASSERT_EQUAL(vmm_config_set_memory(cfg, mem), 0);
    CU_ASSERT_EQUAL(vmm_config_set_vcpus(cfg, vcpus), 0);
    CU_ASSERT_EQUAL(vmm_config_set_kernel(cfg, kernel), 0);
    if (cmdline)
        CU_ASSERT_EQUAL(vmm_config_set_cmdline(cfg, cmdline), 0);
    if (initrd)
        CU_ASSERT_EQUAL(vmm_config_set_initrd(cfg, initrd), 0);
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&res->r.host, NULL), 0);
    int rc = vmm_vm_create(res->r.host, cfg, &res->r.vm);
    vmm_config_free(cfg);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "vmm_vm_create(%s): %s\n", name, vmm_last_error());
        return res;
    }
    res->created = 1;
    vmm_vm_set_event_cb(res->r.vm, harness_on_event, &res->r);
    double t0 = now();
    CU_ASSERT_EQUAL(vmm_vm_start(res->r.vm), 0);
    CU_ASSERT_TRUE(harness_run_until(&res->r, (int (*)(struct guest_run *, const void *))harness_is_final,
                                     NULL, timeout_ms));
    res->seconds = now() - t0;
    if (!harness_is_final(&res->r, NULL))
        vmm_vm_stop(res->r.vm);
    /* Let the last console events through. */
    harness_run_until(&res->r, (int (*)(struct guest_run *, const void *))harness_is_final, NULL, 100);
    res->outcome.size = sizeof(res->outcome);
    vmm_vm_outcome(res->r.vm, &res->outcome);
    res->stats.size = sizeof(res->stats);
    vmm_vm_vcpu_stats(res->r.vm, 0, &res->stats);
    return res;
}

static void done(struct result *res)
{
    if (res->created)
        vmm_vm_destroy(res->r.vm);
    if (res->r.host)
        vmm_host_free(res->r.host);
    free(res);
}

static int has(struct result *res, const char *needle)
{
    int ok = strstr(res->r.console, needle) != NULL;
    if (!ok)
        fprintf(stderr, "\n  console lacks \"%s\"; it has:\n%s\n  outcome %d (%s)\n", needle,
                res->r.console, res->outcome.kind, res->outcome.reason);
    return ok;
}

static void expect_exit(struct result *res, int value)
{
    CU_ASSERT_EQUAL(res->outcome.kind, VMM_OUTCOME_DEBUG_EXIT);
    CU_ASSERT_EQUAL(res->outcome.exit_code, (value << 1) | 1);
    CU_ASSERT_EQUAL(vmm_vm_state(res->r.vm), VMM_STATE_SHUTOFF);
}

static void test_protected_mode_guest(void)
{
    struct result *res = run("pm32.elf", 64 * MiB, 2, NULL, NULL, 20000);
    if (res->created) {
        expect_exit(res, 0x10);
        CU_ASSERT(has(res, "pm32: hello from 32-bit protected mode\n"));
        CU_ASSERT(has(res, "pm32: cr0.pe=00000001 cr0.pg=00000000\n"));
        CU_ASSERT(has(res, "pm32: mp cpus=00000002\n"));
        CU_ASSERT(res->stats.io_exits > 40);
    }
    done(res);
}

static void test_long_mode_guest(void)
{
    struct result *res = run("long64.elf", 64 * MiB, 1, NULL, NULL, 20000);
    if (res->created) {
        expect_exit(res, 0x11);
        CU_ASSERT(has(res, "long64: hello from 64-bit long mode\n"));
        CU_ASSERT(has(res, "long64: efer.lma=0000000000000001\n"));
        CU_ASSERT(has(res, "long64: sum=0123457789abcdef\n"));
        vmm_vcpu_regs_t regs = {.size = sizeof(regs)};
        CU_ASSERT_EQUAL(vmm_vm_vcpu_regs(res->r.vm, 0, &regs), 0);
        CU_ASSERT_EQUAL(regs.mode, 64);
    }
    done(res);
}

static void test_real_mode_guest(void)
{
    struct result *res = run("realmode.elf", 64 * MiB, 1, NULL, NULL, 20000);
    if (res->created) {
        expect_exit(res, 0x12);
        CU_ASSERT(has(res, "realmode: leaving protected mode\n"));
        CU_ASSERT(has(res, "realmode: hello from real mode\n"));
        CU_ASSERT(has(res, "realmode: segment arithmetic ok\n"));
        vmm_vcpu_regs_t regs = {.size = sizeof(regs)};
        CU_ASSERT_EQUAL(vmm_vm_vcpu_regs(res->r.vm, 0, &regs), 0);
        CU_ASSERT_EQUAL(regs.mode, 16);
    }
    done(res);
}

static void test_port_io_and_unmapped_mmio(void)
{
    struct result *res = run("io.elf", 64 * MiB, 1, NULL, NULL, 20000);
    if (res->created) {
        expect_exit(res, 0x13);
        CU_ASSERT(has(res, "io: rep outsb string\n"));
        CU_ASSERT(has(res, "io: unmapped port reads 000000ff 0000ffff ffffffff\n"));
        CU_ASSERT(has(res, "io: unmapped mmio reads ffffffff 000000ff\n"));
        CU_ASSERT(res->stats.mmio_exits >= 3);
        printf("\n  io guest: %llu I/O exits, %llu MMIO exits in %.1f ms (%.1f us per exit, "
               "CPL0 emulation included)\n",
               (unsigned long long)res->stats.io_exits, (unsigned long long)res->stats.mmio_exits,
               res->seconds * 1e3,
               res->seconds * 1e6 / (double)(res->stats.io_exits + res->stats.mmio_exits));
    }
    done(res);
}

static void test_paging_guest(void)
{
    struct result *res = run("paging.elf", 64 * MiB, 1, NULL, NULL, 20000);
    if (res->created) {
        expect_exit(res, 0x14);
        CU_ASSERT(has(res, "paging: physical 0x400010 holds 00000000cafef00d\n"));
        CU_ASSERT(has(res, "paging: alias ok\n"));
    }
    done(res);
}

static uint64_t xorshift_rounds(uint64_t x, unsigned rounds)
{
    for (unsigned i = 0; i < rounds; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

static void test_user_mode_compute(void)
{
    struct result *res = run("user64.elf", 64 * MiB, 1, NULL, NULL, 60000);
    if (res->created) {
        expect_exit(res, 0x15);
        char want[64];
        snprintf(want, sizeof(want), "user64: xorshift=%016llx\n",
                 (unsigned long long)xorshift_rounds(0x9e3779b97f4a7c15ULL, 100000000));
        CU_ASSERT(has(res, "user64: running at cpl=0000000000000003\n"));
        CU_ASSERT(has(res, want));
        CU_ASSERT(has(res, "user64: primes below 100000=0000000000002578\n"));
        printf("\n  user64: 1e8 xorshift rounds + primes below 1e5 at CPL3 in %.3f s\n",
               res->seconds);
    }
    done(res);
}

static void check_multiboot(const char *name, int exit_value)
{
    struct result *res = run(name, 64 * MiB, 1, "console=ttyS0 mb-test", initrd_path, 20000);
    if (res->created) {
        expect_exit(res, exit_value);
        CU_ASSERT(has(res, "multiboot: magic ok\n"));
        CU_ASSERT(has(res, "multiboot: cmdline=console=ttyS0 mb-test\n"));
        CU_ASSERT(has(res, "multiboot: mem_lower=0000027f mem_upper=0000fc00\n"));
        CU_ASSERT(has(res, "multiboot: mmap entries=00000004\n"));
        CU_ASSERT(has(res, "multiboot: module=INITRD-FOR-X86-GUESTS\n"));
    }
    done(res);
}

static void test_multiboot_elf_kernel(void)
{
    check_multiboot("mb_elf.elf", 0x16);
}

static void test_multiboot_aout_kludge_kernel(void)
{
    check_multiboot("mb_aout.bin", 0x17);
}

static void test_pvh_entry(void)
{
    struct result *res = run("pvh.elf", 64 * MiB, 1, "pvh args", initrd_path, 20000);
    if (res->created) {
        expect_exit(res, 0x18);
        CU_ASSERT(has(res, "pvh: start info ok\n"));
        CU_ASSERT(has(res, "pvh: cmdline=pvh args\n"));
        CU_ASSERT(has(res, "pvh: memmap entries=00000004\n"));
        CU_ASSERT(has(res, "pvh: module=INITRD-FOR-X86-GUESTS\n"));
    }
    done(res);
}

static void test_triple_fault_crashes_the_vm(void)
{
    struct result *res = run("triple.elf", 64 * MiB, 1, NULL, NULL, 20000);
    if (res->created) {
        CU_ASSERT(has(res, "triple: faulting now\n"));
        CU_ASSERT_EQUAL(res->outcome.kind, VMM_OUTCOME_CRASH);
        CU_ASSERT_EQUAL(vmm_vm_state(res->r.vm), VMM_STATE_CRASHED);
        CU_ASSERT_PTR_NOT_NULL(strstr(res->outcome.reason, "triple fault"));
        CU_ASSERT_PTR_NOT_NULL(strstr(res->outcome.reason, "0f 0b")); /* ud2 */
    }
    done(res);
}

static void test_flat_binary_is_refused(void)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/flat.bin", tmpdir);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 10000; i++)
        fputc(0xf4, f);
    fclose(f);
    vmm_host_t *host;
    vmm_config_t *cfg;
    vmm_vm_t *vm = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&host, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    vmm_config_set_engine(cfg, VMM_ENGINE_KVM);
    vmm_config_set_kernel(cfg, path);
    CU_ASSERT_EQUAL(vmm_vm_create(host, cfg, &vm), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "not a kernel"));
    vmm_config_free(cfg);
    vmm_vm_destroy(vm);
    vmm_host_free(host);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s GUEST_DIR\n", argv[0]);
        return 1;
    }
    guest_dir = argv[1];
    int no_kvm = harness_need_kvm();
    if (no_kvm)
        return no_kvm;
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(initrd_path, sizeof(initrd_path), "%s/initrd.img", tmpdir);
    FILE *f = fopen(initrd_path, "wb");
    if (!f)
        return 1;
    fputs("INITRD-FOR-X86-GUESTS", f);
    fclose(f);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("x86_guests", NULL, NULL);
    CU_add_test(s, "protected mode guest", test_protected_mode_guest);
    CU_add_test(s, "long mode guest", test_long_mode_guest);
    CU_add_test(s, "real mode guest", test_real_mode_guest);
    CU_add_test(s, "port I/O and unmapped MMIO", test_port_io_and_unmapped_mmio);
    CU_add_test(s, "paging guest", test_paging_guest);
    CU_add_test(s, "user-mode compute", test_user_mode_compute);
    CU_add_test(s, "Multiboot ELF kernel", test_multiboot_elf_kernel);
    CU_add_test(s, "Multiboot a.out-kludge kernel", test_multiboot_aout_kludge_kernel);
    CU_add_test(s, "PVH entry", test_pvh_entry);
    CU_add_test(s, "triple fault crashes the VM", test_triple_fault_crashes_the_vm);
    CU_add_test(s, "flat binary is refused", test_flat_binary_is_refused);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed ? 1 : 0;
}
