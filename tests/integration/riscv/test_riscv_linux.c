/* Linux 6.1 on the soft engine, through the public API: the riscv64 Image
 * and busybox initramfs built by scripts/guest (cached in
 * ${LIBVMM_CACHE:-~/.cache/libvmm}/riscv) boot straight into S-mode with the
 * VMM as SBI firmware, reach the shell, and end in each of the guest's ways.
 *   test_riscv_linux VCPUS
 * Skips (77) when the cached kernel has not been built, and fails then
 * under CI=true, where scripts/test.sh must have built it. */
#include <CUnit/Basic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/guest_harness.h"

#define BOOT_MS 60000

static unsigned vcpus;
static char kernel[4096], initrd[4096];

static unsigned failures_before;
static int deterministic; /* boot() sets the config's deterministic mode */

static struct guest_run *boot(const char *cmdline)
{
    failures_before = CU_get_number_of_failures();
    struct guest_run *r = calloc(1, sizeof(*r));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    CU_ASSERT_EQUAL(vmm_config_set_engine(cfg, "auto"), 0);
    CU_ASSERT_EQUAL(vmm_config_set_kernel(cfg, kernel), 0);
    CU_ASSERT_EQUAL(vmm_config_set_initrd(cfg, initrd), 0);
    CU_ASSERT_EQUAL(vmm_config_set_cmdline(cfg, cmdline), 0);
    CU_ASSERT_EQUAL(vmm_config_set_memory(cfg, 256 << 20), 0);
    CU_ASSERT_EQUAL(vmm_config_set_vcpus(cfg, vcpus), 0);
    CU_ASSERT_EQUAL(vmm_config_set_deterministic(cfg, deterministic), 0);
    int rc = vmm_vm_create(r->host, cfg, &r->vm);
    vmm_config_free(cfg);
    if (rc)
        printf("vmm_vm_create: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(vmm_vm_engine(r->vm), "soft");
    vmm_vm_set_event_cb(r->vm, harness_on_event, r);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(r->vm), 0);
    return r;
}

static void finish(struct guest_run *r)
{
    if (!harness_is_final(r, NULL))
        vmm_vm_stop(r->vm);
    vmm_outcome_t o = {.size = sizeof(o)};
    vmm_vm_outcome(r->vm, &o);
    if (CU_get_number_of_failures() != failures_before)
        printf("\n--- console ---\n%s\n--- outcome %d code %d: %s\n", r->console, o.kind,
               o.exit_code, o.reason);
    vmm_vm_destroy(r->vm);
    CU_ASSERT_EQUAL(vmm_host_free(r->host), 0);
    free(r);
}


static vmm_outcome_t outcome(struct guest_run *r);

/* Deterministic mode: guest time follows retired instructions, so the same
 * kernel, initrd and command line print the same bytes twice — kernel
 * timestamps and /init's uptime (both timer-driven) included. */
static void test_deterministic_mode_repeats_the_run_byte_for_byte(void)
{
    char *runs[2];
    for (int i = 0; i < 2; i++) {
        deterministic = 1;
        struct guest_run *r = boot("console=ttyS0 libvmm.test=poweroff");
        deterministic = 0;
        CU_ASSERT_TRUE(harness_run_until(r, harness_is_final, NULL, BOOT_MS));
        CU_ASSERT_EQUAL(outcome(r).kind, VMM_OUTCOME_POWEROFF);
        runs[i] = strdup(r->console);
        finish(r);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(runs[0], "libvmm-guest: uptime "));
    /* Every hart came up (on 2 harts: both ran, interleaved). */
    char want[64];
    snprintf(want, sizeof(want), "libvmm-guest: cpus %u", vcpus);
    CU_ASSERT_PTR_NOT_NULL(strstr(runs[0], want));
    /* Time really moved: a late kernel line has a non-zero timestamp. */
    const char *late = strstr(runs[0], "Run /init as init process");
    CU_ASSERT_PTR_NOT_NULL(late);
    if (late) {
        const char *stamp = late;
        while (stamp > runs[0] && *stamp != '[')
            stamp--;
        CU_ASSERT_NOT_EQUAL(strncmp(stamp, "[    0.000000]", 14), 0);
    }
    CU_ASSERT_STRING_EQUAL(runs[0], runs[1]);
    if (strcmp(runs[0], runs[1]) != 0)
        printf("\n--- first run ---\n%s\n--- second run ---\n%s\n", runs[0], runs[1]);
    free(runs[0]);
    free(runs[1]);
}

struct paused {
    int called, status;
};

static void on_paused(vmm_vm_t *vm, int status, void *opaque)
{
    struct paused *p = opaque;
    (void)vm;
    p->called = 1;
    p->status = status;
}

static int pause_done(struct guest_run *r, const void *arg)
{
    (void)r;
    return ((const struct paused *)arg)->called;
}

static uint64_t instructions(vmm_vm_t *vm)
{
    vmm_vcpu_stats_t st = { .size = sizeof(st) };
    vmm_vm_vcpu_stats(vm, 0, &st);
    return st.instructions;
}

/* The continuation, in a process of its own: restores SNAP, runs the guest
 * to its end and writes the console to OUT. Exit 0 when it powered off. */
static int continue_in_this_process(const char *snap, const char *out)
{
    struct guest_run r;
    memset(&r, 0, sizeof(r));
    if (vmm_host_new(&r.host, NULL) || vmm_vm_restore(r.host, snap, NULL, 0, &r.vm)) {
        fprintf(stderr, "continue: %s\n", vmm_last_error());
        return 10;
    }
    vmm_vm_set_event_cb(r.vm, harness_on_event, &r);
    if (vmm_vm_start(r.vm))
        return 11;
    uv_loop_t *loop = vmm_host_loop(r.host);
    uint64_t deadline = uv_now(loop) + BOOT_MS;
    while (!harness_is_final(&r, NULL) && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    vmm_outcome_t o = { .size = sizeof(o) };
    vmm_vm_outcome(r.vm, &o);
    FILE *f = fopen(out, "wb");
    if (!f)
        return 12;
    fwrite(r.console, 1, r.console_len, f);
    fclose(f);
    vmm_vm_destroy(r.vm);
    vmm_host_free(r.host);
    return o.kind == VMM_OUTCOME_POWEROFF ? 0 : 13;
}

/* The "stop at instruction N": a deterministic run paused halfway,
 * saved, and continued from the file by another process prints exactly
 * what a run that went straight through prints. */
static void test_a_run_paused_saved_and_continued_elsewhere_is_the_same_run(void)
{
    deterministic = 1;
    struct guest_run *r = boot("console=ttyS0 libvmm.test=poweroff");
    CU_ASSERT_TRUE(harness_run_until(r, harness_is_final, NULL, BOOT_MS));
    CU_ASSERT_EQUAL(outcome(r).kind, VMM_OUTCOME_POWEROFF);
    char *straight = strdup(r->console);
    uint64_t total = instructions(r->vm);
    finish(r);

    r = boot("console=ttyS0 libvmm.test=poweroff");
    deterministic = 0;
    struct paused p = { 0 };
    uint64_t n = total / 2;
    CU_ASSERT_EQUAL(vmm_vm_pause_at(r->vm, instructions(r->vm), NULL, NULL), VMM_EINVAL);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_pause_at(r->vm, n, on_paused, &p), 0);
    CU_ASSERT_EQUAL(vmm_vm_pause_at(r->vm, n, on_paused, &p), VMM_EBUSY);
    CU_ASSERT_TRUE_FATAL(harness_run_until(r, pause_done, &p, BOOT_MS));
    CU_ASSERT_EQUAL(p.status, 0);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_PAUSED);
    uint64_t at = instructions(r->vm);
    CU_ASSERT(at >= n && at < n + 100000);
    if (getenv("DBG_RESUME")) {
        vmm_vm_resume(r->vm);
        harness_run_until(r, harness_is_final, NULL, BOOT_MS);
        printf("resume-only same: %d\n", strcmp(r->console, straight) == 0);
        if (strcmp(r->console, straight))
            printf("%s\n", r->console + 5000);
    }
    char snap[] = "/tmp/libvmm-detsnap-XXXXXX";
    int fd = mkstemp(snap);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_EQUAL(vmm_vm_save(r->vm, snap, VMM_SAVE_STOP), 0);
    char *prefix = strdup(r->console);
    finish(r);

    char out[sizeof(snap) + 8];
    snprintf(out, sizeof(out), "%s.out", snap);
    pid_t child = fork();
    if (child == 0) {
        execl("/proc/self/exe", "test_riscv_linux", "1", "continue", snap, out, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    waitpid(child, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char rest[sizeof(r->console)] = "";
    FILE *f = fopen(out, "rb");
    if (f) {
        rest[fread(rest, 1, sizeof(rest) - 1, f)] = '\0';
        fclose(f);
    }
    size_t plen = strlen(prefix);
    char *joined = malloc(plen + strlen(rest) + 1);
    memcpy(joined, prefix, plen);
    strcpy(joined + plen, rest);
    printf("(paused at %llu of %llu instructions, %zu + %zu console bytes) ",
           (unsigned long long)at, (unsigned long long)total, plen, strlen(rest));
    CU_ASSERT(plen > 0 && strlen(rest) > 0);
    CU_ASSERT_STRING_EQUAL(joined, straight);
    if (strcmp(joined, straight) != 0)
        printf("\n--- straight ---\n%s\n--- paused + continued ---\n%s\n", straight, joined);
    unlink(snap);
    unlink(out);
    free(joined);
    free(prefix);
    free(straight);
}

static vmm_outcome_t outcome(struct guest_run *r)
{
    vmm_outcome_t o = {.size = sizeof(o)};
    vmm_vm_outcome(r->vm, &o);
    return o;
}

static void test_shell_runs_commands_and_powers_off(void)
{
    struct guest_run *r = boot("console=ttyS0 earlycon=sbi libvmm.test=shell");
    CU_ASSERT_TRUE(harness_run_until(r, harness_console_has, "libvmm-guest: shell", BOOT_MS));
    char want[64], want_cr[64]; /* the tty may end lines with \r\n */
    snprintf(want, sizeof(want), "libvmm-guest: cpus %u\n", vcpus);
    snprintf(want_cr, sizeof(want_cr), "libvmm-guest: cpus %u\r", vcpus);
    CU_ASSERT_TRUE(harness_console_has(r, want) || harness_console_has(r, want_cr));
    CU_ASSERT_TRUE(harness_console_has(r, "SBI specification v2.0 detected"));
    const char *cmd = "echo marker-$((6*7)); poweroff -f\n";
    CU_ASSERT_EQUAL(vmm_vm_console_write(r->vm, cmd, strlen(cmd)), 0);
    CU_ASSERT_TRUE(harness_run_until(r, harness_is_final, NULL, 60000));
    CU_ASSERT_TRUE(harness_console_has(r, "marker-42"));
    CU_ASSERT_EQUAL(outcome(r).kind, VMM_OUTCOME_POWEROFF);
    vmm_vcpu_stats_t st = {.size = sizeof(st)};
    CU_ASSERT_EQUAL(vmm_vm_vcpu_stats(r->vm, 0, &st), 0);
    CU_ASSERT(st.hypercalls > 0);
    CU_ASSERT(st.tlb_misses > 0);
    finish(r);
}

static void test_exit_code_goes_through_the_test_device_in_the_dtb(void)
{
    struct guest_run *r = boot("console=ttyS0 libvmm.test=exitcode=7");
    CU_ASSERT_TRUE(harness_run_until(r, harness_is_final, NULL, BOOT_MS));
    vmm_outcome_t o = outcome(r);
    CU_ASSERT_EQUAL(o.kind, VMM_OUTCOME_DEBUG_EXIT);
    CU_ASSERT_EQUAL(o.exit_code, 7);
    finish(r);
}

static void test_reboot_ends_the_run_with_reset(void)
{
    struct guest_run *r = boot("console=ttyS0 libvmm.test=reboot");
    CU_ASSERT_TRUE(harness_run_until(r, harness_is_final, NULL, BOOT_MS));
    CU_ASSERT_EQUAL(outcome(r).kind, VMM_OUTCOME_RESET);
    finish(r);
}

int main(int argc, char **argv)
{
    vcpus = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    if (argc == 5 && strcmp(argv[2], "continue") == 0)
        return continue_in_this_process(argv[3], argv[4]);
    const char *cache = getenv("LIBVMM_CACHE");
    char dir[2048];
    if (cache && *cache)
        snprintf(dir, sizeof(dir), "%s/riscv", cache);
    else
        snprintf(dir, sizeof(dir), "%s/.cache/libvmm/riscv", getenv("HOME") ? getenv("HOME") : "/root");
    snprintf(kernel, sizeof(kernel), "%s/Image", dir);
    snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio.gz", dir);
    struct stat st;
    if (stat(kernel, &st) != 0 || stat(initrd, &st) != 0) {
        char why[2300];
        snprintf(why, sizeof(why), "no riscv64 Linux in %s (build it with scripts/guest/all.sh)", dir);
        return harness_skip(why); /* a failure under CI=true */
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("riscv-linux", NULL, NULL);
    CU_add_test(s, "shell runs commands and powers off", test_shell_runs_commands_and_powers_off);
    /* With 2 harts too: the scheduler interleaves them by fixed instruction
     * quanta in a fixed order, on one machine clock. */
    CU_add_test(s, "deterministic mode repeats the run byte for byte",
                test_deterministic_mode_repeats_the_run_byte_for_byte);
    if (vcpus == 1)
        CU_add_test(s, "a run paused, saved and continued elsewhere is the same run",
                    test_a_run_paused_saved_and_continued_elsewhere_is_the_same_run);
    CU_add_test(s, "exit code goes through the test device in the dtb",
                test_exit_code_goes_through_the_test_device_in_the_dtb);
    CU_add_test(s, "reboot ends the run with reset", test_reboot_ends_the_run_with_reset);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
