/* Debian's x86 Linux (linux-image-cloud-amd64, fetched to
 * ~/.cache/libvmm/x86/vmlinuz by the project's script; LIBVMM_X86_KERNEL
 * overrides the path) booted through the public API on the kvm engine.
 *
 * Two paths, chosen by the host and printed:
 *  - kvm_pvm (no VT-x): Linux cannot finish booting there (cmpxchg16b /
 *    xrstor at CPL0 are not emulated), so the test asserts the early boot
 *    console: the banner, the command line, the e820 map libvmm built and
 *    the ACPI MADT it found; then stops the VM.
 *  - VT-x / AMD-V (kvm_intel or kvm_amd loaded): a full boot to a busybox
 *    /init in an initramfs the test writes (newc cpio of /bin/busybox),
 *    which prints a marker.
 * Skips (77) when the kernel is not cached or /dev/kvm is missing, unless
 * CI=true, where that fails.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vmm/vmm.h>

#include "../core/guest_harness.h"

#define MiB (1024ULL * 1024ULL)
#define INIT_MARKER "LIBVMM-INIT-OK"

static char kernel[1024];
static int full_boot;
static char initrd[1100];

/* --- a newc cpio writer for the VT-x path's initramfs ----------------- */

static void cpio_pad(FILE *f)
{
    while (ftell(f) % 4)
        fputc(0, f);
}

static void cpio_entry(FILE *f, const char *name, unsigned mode, const void *data, size_t len,
                       unsigned rmaj, unsigned rmin)
{
    static unsigned ino = 1;
    fprintf(f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ino++, mode, 0, 0,
            1, 0, len, 0, 0, rmaj, rmin, strlen(name) + 1, 0);
    fwrite(name, 1, strlen(name) + 1, f);
    cpio_pad(f);
    if (len)
        fwrite(data, 1, len, f);
    cpio_pad(f);
}

static int write_initramfs(const char *path)
{
    FILE *bb = fopen("/bin/busybox", "rb");
    if (!bb)
        return -1;
    fseek(bb, 0, SEEK_END);
    long n = ftell(bb);
    fseek(bb, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, bb) != (size_t)n) {
        fclose(bb);
        free(buf);
        return -1;
    }
    fclose(bb);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return -1;
    }
    static const char init[] = "#!/bin/busybox sh\n"
                               "/bin/busybox echo " INIT_MARKER "\n"
                               "/bin/busybox poweroff -f\n";
    cpio_entry(f, "bin", 040755, NULL, 0, 0, 0);
    cpio_entry(f, "dev", 040755, NULL, 0, 0, 0);
    cpio_entry(f, "dev/console", 020600, NULL, 0, 5, 1);
    cpio_entry(f, "bin/busybox", 0100755, buf, (size_t)n, 0, 0);
    cpio_entry(f, "init", 0100755, init, sizeof(init) - 1, 0, 0);
    cpio_entry(f, "TRAILER!!!", 0, NULL, 0, 0, 0);
    free(buf);
    return fclose(f);
}

/* --- the test --------------------------------------------------------- */

static int early_boot_done(struct guest_run *r, const void *unused)
{
    (void)unused;
    return harness_is_final(r, NULL) ||
           (strstr(r->console, "BIOS-e820: [mem 0x0000000000100000-") &&
            strstr(r->console, "ACPI: APIC"));
}

static int init_ran(struct guest_run *r, const void *unused)
{
    (void)unused;
    return harness_is_final(r, NULL) || strstr(r->console, INIT_MARKER "\n");
}

static int has(struct guest_run *r, const char *needle)
{
    int ok = strstr(r->console, needle) != NULL;
    if (!ok)
        fprintf(stderr, "\n  console lacks \"%s\"; it has:\n%s\n", needle, r->console);
    return ok;
}

static void test_linux_boots(void)
{
    static struct guest_run r;
    memset(&r, 0, sizeof(r));
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    vmm_config_set_engine(cfg, VMM_ENGINE_KVM);
    vmm_config_set_memory(cfg, 256 * MiB);
    vmm_config_set_vcpus(cfg, 2);
    vmm_config_set_kernel(cfg, kernel);
    if (full_boot) {
        vmm_config_set_initrd(cfg, initrd);
        vmm_config_set_cmdline(cfg, "console=ttyS0 earlyprintk=ttyS0 rdinit=/init panic=-1");
    } else {
        vmm_config_set_cmdline(cfg, "console=ttyS0 earlyprintk=ttyS0");
    }
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r.host, NULL), 0);
    int rc = vmm_vm_create(r.host, cfg, &r.vm);
    vmm_config_free(cfg);
    if (rc != 0)
        fprintf(stderr, "vmm_vm_create: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    vmm_vm_set_event_cb(r.vm, harness_on_event, &r);
    CU_ASSERT_EQUAL(vmm_vm_start(r.vm), 0);
    if (full_boot) {
        CU_ASSERT_TRUE(harness_run_until(&r, init_ran, NULL, 180000));
        CU_ASSERT(has(&r, INIT_MARKER "\n"));
    } else {
        CU_ASSERT_TRUE(harness_run_until(&r, early_boot_done, NULL, 120000));
    }
    CU_ASSERT(has(&r, "Linux version "));
    CU_ASSERT(has(&r, "Command line: console=ttyS0 earlyprintk=ttyS0"));
    CU_ASSERT(has(&r, "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"));
    CU_ASSERT(has(&r, "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved"));
    CU_ASSERT(has(&r, "BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable"));
    CU_ASSERT(has(&r, "BIOS-e820: [mem 0x00000000c0000000-0x00000000ffffffff] reserved"));
    CU_ASSERT(has(&r, "ACPI: APIC"));
    vmm_outcome_t o;
    vmm_vm_outcome(r.vm, &o);
    if (o.kind == VMM_OUTCOME_CRASH)
        printf("\n  guest crashed: %s\n", o.reason);
    vmm_vm_destroy(r.vm);
    vmm_host_free(r.host);
}

int main(void)
{
    const char *k = getenv("LIBVMM_X86_KERNEL");
    const char *home = getenv("HOME");
    if (k)
        snprintf(kernel, sizeof(kernel), "%s", k);
    else
        snprintf(kernel, sizeof(kernel), "%s/.cache/libvmm/x86/vmlinuz", home ? home : "/root");
    if (access(kernel, R_OK) != 0) {
        char why[1200];
        snprintf(why, sizeof(why), "x86 kernel %s: %s (fetch it with the project's guest script)",
                 kernel, strerror(errno));
        return harness_skip(why);
    }
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        char why[128];
        snprintf(why, sizeof(why), "/dev/kvm: %s", strerror(errno));
        return harness_skip(why);
    }
    struct stat st;
    full_boot = stat("/sys/module/kvm_intel", &st) == 0 || stat("/sys/module/kvm_amd", &st) == 0;
    char tmp[] = "/tmp/test_x86_linux.XXXXXX";
    if (full_boot) {
        if (!mkdtemp(tmp))
            return 1;
        snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio", tmp);
        if (write_initramfs(initrd) != 0)
            return harness_skip("cannot build the initramfs from /bin/busybox (busybox-static)");
    }
    printf("path: %s\n", full_boot ? "VT-x/AMD-V: full boot to a busybox /init"
                                   : "kvm_pvm (no VT-x): early boot console only");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("x86_linux", NULL, NULL);
    CU_add_test(s, full_boot ? "Linux boots to init" : "Linux early boot console",
                test_linux_boots);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    if (full_boot) {
        unlink(initrd);
        rmdir(tmp);
    }
    return failed ? 1 : 0;
}
