/* kvm VMs' vCPU threads in a cgroup of their own (<cputune> on kvm):
 *   test_cgroup GUEST.elf      (tests/guest/core/echo-x86.S)
 * Needs /dev/kvm (harness_need_kvm) and a writable cpu cgroup hierarchy
 * (v2 with the cpu controller, else v1 cpu); skips naming what is missing.
 * The VMs' cgroups go under a parent directory the test makes and
 * removes (vmm_host_set_cgroup_parent). */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include "guest_harness.h"

static const char *guest;
static char parent[1200];
static int v2;

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The cpu hierarchy's mount point, as libvmm chooses it (core/cgroup.c). */
static int find_cpu_mount(char *out, size_t len)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return 0;
    char line[4096], v1[1024] = "", v2m[1024] = "";
    while (fgets(line, sizeof(line), f)) {
        char m[1024], fs[64], opts[1024];
        char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %1023s", m) != 1 ||
            sscanf(dash + 3, "%63s %*s %1023s", fs, opts) != 2)
            continue;
        if (!strcmp(fs, "cgroup2"))
            snprintf(v2m, sizeof(v2m), "%s", m);
        else if (!strcmp(fs, "cgroup") && (strstr(opts, ",cpu,") || !strncmp(opts, "cpu,", 4) ||
                                            strstr(opts, ",cpu") == opts + strlen(opts) - 4))
            snprintf(v1, sizeof(v1), "%s", m);
    }
    fclose(f);
    if (*v2m) {
        char ctl[1100], buf[512] = "";
        snprintf(ctl, sizeof(ctl), "%s/cgroup.controllers", v2m);
        FILE *c = fopen(ctl, "r");
        if (c) {
            if (!fgets(buf, sizeof(buf), c))
                buf[0] = '\0';
            fclose(c);
        }
        if (strstr(buf, "cpu ") || strstr(buf, "cpu\n") || !strcmp(buf, "cpu")) {
            v2 = 1;
            snprintf(out, len, "%s", v2m);
            return 1;
        }
    }
    if (*v1) {
        snprintf(out, len, "%s", v1);
        return 1;
    }
    return 0;
}

static long read_long(const char *dir, const char *file)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    long v = -999;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -998;
        fclose(f);
    }
    return v;
}

/* The one VM cgroup under the parent (libvmm-<pid>-<name>-<n>), or "". */
static void vm_dir(const char *name, char *out, size_t len)
{
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "libvmm-%d-%s-", (int)getpid(), name);
    out[0] = '\0';
    DIR *d = opendir(parent);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            snprintf(out, len, "%s/%s", parent, e->d_name);
    closedir(d);
}

/* utime + stime of a thread of ours, in clock ticks. */
static long thread_ticks(int tid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2)
        return -1;
    return ut + st;
}

static vmm_vm_t *boot(vmm_host_t *h, const char *name, unsigned shares, int64_t quota)
{
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    vmm_config_set_name(cfg, name);
    vmm_config_set_engine(cfg, "kvm");
    vmm_config_set_kernel(cfg, guest);
    vmm_config_set_memory(cfg, 64 << 20);
    if (shares)
        CU_ASSERT_EQUAL(vmm_config_set_cpu_shares(cfg, shares), 0);
    if (quota)
        CU_ASSERT_EQUAL(vmm_config_set_cpu_quota(cfg, 100000, quota), 0);
    vmm_vm_t *vm = NULL;
    int rc = vmm_vm_create(h, cfg, &vm);
    vmm_config_free(cfg);
    if (rc)
        printf("vmm_vm_create: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return vm;
}

static void test_tuned_vm_threads_run_in_their_cgroup(void)
{
    vmm_host_t *h;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&h, NULL), 0);
    CU_ASSERT_EQUAL(vmm_host_set_cgroup_parent(h, parent), 0);
    vmm_vm_t *vm = boot(h, "tuned", 512, 30000);
    int rc = vmm_vm_start(vm);
    if (rc)
        printf("vmm_vm_start: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    char dir[1600], vcpu[1700];
    vm_dir("tuned", dir, sizeof(dir));
    CU_ASSERT_FATAL(dir[0] != '\0');
    snprintf(vcpu, sizeof(vcpu), "%s/vcpu0", dir);
    /* The weight and the cap as libvirt writes them. */
    if (v2) {
        CU_ASSERT_EQUAL(read_long(dir, "cpu.weight"), 1 + (512 - 2) * 9999 / 262142);
    } else {
        CU_ASSERT_EQUAL(read_long(dir, "cpu.shares"), 512);
        CU_ASSERT_EQUAL(read_long(vcpu, "cpu.cfs_quota_us"), 30000);
        CU_ASSERT_EQUAL(read_long(vcpu, "cpu.cfs_period_us"), 100000);
    }
    /* Exactly the vCPU's thread, one of ours, is in vcpu0. */
    long tid = read_long(vcpu, v2 ? "cgroup.threads" : "tasks");
    CU_ASSERT(tid > 0);
    long t0 = thread_ticks((int)tid);
    CU_ASSERT(t0 >= 0);
    /* The cap holds: at most 30 % of a CPU over 2 s (+ a tick of slack). */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    sleep_ms(2000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long t1 = thread_ticks((int)tid);
    double secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    double used = (double)(t1 - t0) / sysconf(_SC_CLK_TCK) / secs;
    printf("\n    vCPU thread under quota 30%%: %.3f of a CPU ", used);
    CU_ASSERT(used <= 0.32);
    CU_ASSERT(used > 0.05);
    /* At run time. */
    CU_ASSERT_EQUAL(vmm_vm_set_cpu_shares(vm, 2048), 0);
    CU_ASSERT_EQUAL(vmm_vm_set_cpu_quota(vm, 50000, 10000), 0);
    if (v2) {
        CU_ASSERT_EQUAL(read_long(dir, "cpu.weight"), 1 + (2048 - 2) * 9999 / 262142);
    } else {
        CU_ASSERT_EQUAL(read_long(dir, "cpu.shares"), 2048);
        CU_ASSERT_EQUAL(read_long(vcpu, "cpu.cfs_quota_us"), 10000);
        CU_ASSERT_EQUAL(read_long(vcpu, "cpu.cfs_period_us"), 50000);
    }
    vmm_vm_destroy(vm);
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(dir, &st), 0); /* removed with the threads */
    uv_run(vmm_host_loop(h), UV_RUN_NOWAIT);
    CU_ASSERT_EQUAL(vmm_host_free(h), 0);
}

static void test_untuned_vm_gets_no_cgroup_until_asked(void)
{
    vmm_host_t *h;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&h, NULL), 0);
    CU_ASSERT_EQUAL(vmm_host_set_cgroup_parent(h, parent), 0);
    vmm_vm_t *vm = boot(h, "plain", 0, 0);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(vm), 0);
    char dir[1600];
    vm_dir("plain", dir, sizeof(dir));
    CU_ASSERT_STRING_EQUAL(dir, "");
    /* A setting at run time makes it and moves the running thread in. */
    CU_ASSERT_EQUAL(vmm_vm_set_cpu_shares(vm, 300), 0);
    vm_dir("plain", dir, sizeof(dir));
    CU_ASSERT(dir[0] != '\0');
    char vcpu[1700];
    snprintf(vcpu, sizeof(vcpu), "%s/vcpu0", dir);
    CU_ASSERT(read_long(vcpu, v2 ? "cgroup.threads" : "tasks") > 0);
    vmm_vm_destroy(vm);
    uv_run(vmm_host_loop(h), UV_RUN_NOWAIT);
    CU_ASSERT_EQUAL(vmm_host_free(h), 0);
}

static void test_unwritable_cgroup_fails_naming_the_path(void)
{
    vmm_host_t *h;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&h, NULL), 0);
    CU_ASSERT_EQUAL(vmm_host_set_cgroup_parent(h, "/proc/no-cgroup-here"), 0);
    vmm_vm_t *vm = boot(h, "denied", 512, 0);
    int rc = vmm_vm_start(vm);
    CU_ASSERT_NOT_EQUAL(rc, 0);
    printf("\n    %s ", vmm_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "cgroup: cannot create /proc/no-cgroup-here/libvmm-"));
    CU_ASSERT_EQUAL(vmm_vm_state(vm), VMM_STATE_DEFINED);
    /* Without tuning the same host starts it; a setting then fails the same way. */
    vmm_vm_t *vm2 = boot(h, "denied2", 0, 0);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(vm2), 0);
    CU_ASSERT_NOT_EQUAL(vmm_vm_set_cpu_quota(vm2, 100000, 20000), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "/proc/no-cgroup-here/libvmm-"));
    CU_ASSERT_EQUAL(vmm_config_cpu_quota(vmm_vm_config(vm2)), 0); /* unchanged */
    vmm_vm_destroy(vm2);
    vmm_vm_destroy(vm);
    uv_run(vmm_host_loop(h), UV_RUN_NOWAIT);
    CU_ASSERT_EQUAL(vmm_host_free(h), 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s GUEST.elf\n", argv[0]);
        return 2;
    }
    guest = argv[1];
    int rc = harness_need_kvm();
    if (rc)
        return rc;
    char mnt[1024];
    if (!find_cpu_mount(mnt, sizeof(mnt))) {
        printf("SKIP: no cgroup hierarchy with the cpu controller is mounted\n");
        return HARNESS_SKIP;
    }
    snprintf(parent, sizeof(parent), "%s/libvmm-test-%d", mnt, (int)getpid());
    if (mkdir(parent, 0755)) {
        printf("SKIP: cannot create %s: %s (cgroups not writable here)\n", parent, strerror(errno));
        return HARNESS_SKIP;
    }
    if (v2) {
        /* Let the parent hand the cpu controller down. */
        char p[1100];
        snprintf(p, sizeof(p), "%s/cgroup.subtree_control", mnt);
        FILE *f = fopen(p, "w");
        if (f) {
            fputs("+cpu", f);
            fclose(f);
        }
    }
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("kvm-cgroup", NULL, NULL);
    CU_add_test(s, "tuned VM threads run in their cgroup",
                test_tuned_vm_threads_run_in_their_cgroup);
    CU_add_test(s, "untuned VM gets no cgroup until asked",
                test_untuned_vm_gets_no_cgroup_until_asked);
    CU_add_test(s, "unwritable cgroup fails naming the path",
                test_unwritable_cgroup_fails_naming_the_path);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    rmdir(parent);
    return failed ? 1 : 0;
}
