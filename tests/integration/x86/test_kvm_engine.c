/* The kvm engine and the x86 platform below core: a machine built by hand
 * with a minimal COM1 and debug-exit device, the bare-metal guests booted
 * through platform_x86_64 and run on this thread with engine_kvm.
 *
 * Needs /dev/kvm (harness_need_kvm): skips (77) when the host has none,
 * also under CI=true; fails under CI=true when it is there but unusable.
 * X86_GUEST_DIR names the directory of the built guests.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/platform.h"
#include "backend/backend.h"
#include "backend/kvm/kvm.h"
#include "util/error.h"

#include "../core/guest_harness.h"

#define MiB (1024ULL * 1024ULL)

static const char *guest_dir;

/* --- a tiny board: COM1 transmit and the debug-exit port ------------- */

struct board {
    struct machine *m;
    pthread_mutex_t lock;
    char out[16384];
    size_t len;
};

static uint64_t uart_read(void *opaque, uint64_t off, unsigned size)
{
    (void)opaque;
    (void)size;
    return off == 5 ? 0x60 : 0; /* LSR: transmitter empty */
}

static void uart_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
    struct board *b = opaque;
    (void)size;
    if (off != 0)
        return;
    pthread_mutex_lock(&b->lock);
    if (b->len + 1 < sizeof(b->out))
        b->out[b->len++] = (char)v;
    b->out[b->len] = '\0';
    pthread_mutex_unlock(&b->lock);
}

static const struct bus_dev_ops uart_ops = { uart_read, uart_write };

static void exit_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
    struct board *b = opaque;
    (void)off;
    (void)size;
    machine_set_outcome(b->m, VMM_OUTCOME_DEBUG_EXIT, (int)((v << 1) | 1), "debug-exit");
}

static const struct bus_dev_ops exit_ops = { NULL, exit_write };

/* --- running a guest ------------------------------------------------ */

struct run {
    struct machine m;
    struct board b;
    int created;
};

static char *guest_path(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s/%s", guest_dir, name);
    return buf;
}

/* Builds the machine up to a booted vCPU 0. Returns the boot() result. */
static int run_setup(struct run *r, const char *kernel, uint64_t ram, unsigned vcpus,
                     const char *cmdline, const char *initrd)
{
    memset(r, 0, sizeof(*r));
    CU_ASSERT_FATAL(machine_init(&r->m, vcpus) == 0);
    r->b.m = &r->m;
    pthread_mutex_init(&r->b.lock, NULL);
    CU_ASSERT_FATAL(platform_x86_64.layout_memory(&r->m, ram) == 0);
    struct engine_options opt;
    memset(&opt, 0, sizeof(opt));
    CU_ASSERT_FATAL(engine_kvm.vm_create(&r->m, &opt) == 0);
    r->created = 1;
    for (unsigned i = 0; i < vcpus; i++)
        CU_ASSERT_FATAL(engine_kvm.vcpu_create(&r->m, i) == 0);
    CU_ASSERT_FATAL(bus_register(&r->m.pio, 0x3f8, 8, &uart_ops, &r->b, "com1") == 0);
    CU_ASSERT_FATAL(bus_register(&r->m.pio, 0xf4, 1, &exit_ops, &r->b, "debug-exit") == 0);
    struct boot_spec spec = { .kernel = kernel, .initrd = initrd,
                              .cmdline = cmdline ? cmdline : "", .ram_size = ram,
                              .nr_vcpus = vcpus };
    return platform_x86_64.boot(&r->m, &spec);
}

static void run_teardown(struct run *r)
{
    machine_destroy_components(&r->m);
    if (r->created)
        engine_kvm.vm_destroy(&r->m);
    machine_destroy(&r->m);
    pthread_mutex_destroy(&r->b.lock);
}

struct watchdog {
    struct machine *m;
    double seconds;
    pthread_t t;
    int fired;
    volatile int done;
};

static void *watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    for (double waited = 0; waited < w->seconds && !w->done; waited += 0.01)
        usleep(10000);
    if (!w->done) {
        w->fired = 1;
        atomic_store(&w->m->request, MACHINE_STOP);
        engine_kvm.vcpu_kick(w->m, 0);
    }
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs vCPU 0 until an outcome, or stops it after `seconds`. Returns the
 * seconds it took; *fired tells whether the watchdog had to stop it. */
static double run_vcpu0(struct run *r, double seconds, int *fired)
{
    struct watchdog w = { .m = &r->m, .seconds = seconds };
    pthread_create(&w.t, NULL, watchdog_main, &w);
    double t0 = now();
    engine_kvm.vcpu_run(&r->m, 0);
    double t = now() - t0;
    w.done = 1;
    pthread_join(w.t, NULL);
    if (fired)
        *fired = w.fired;
    return t;
}

static int boot_and_run(struct run *r, const char *name, uint64_t ram, unsigned vcpus,
                        const char *cmdline, const char *initrd)
{
    int rc = run_setup(r, guest_path(name), ram, vcpus, cmdline, initrd);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "boot %s: %s\n", name, vmm_last_error());
        return rc;
    }
    int fired;
    run_vcpu0(r, 20, &fired);
    CU_ASSERT_FALSE(fired);
    if (r->m.outcome.kind != VMM_OUTCOME_DEBUG_EXIT)
        fprintf(stderr, "%s: outcome %d (%s), output:\n%s\n", name, r->m.outcome.kind,
                r->m.outcome.reason, r->b.out);
    return 0;
}

/* --- tests ---------------------------------------------------------- */

static void test_probe_finds_kvm_api_12(void)
{
    CU_ASSERT_EQUAL(engine_kvm.probe(), 0);
    CU_ASSERT(engine_kvm.max_vcpus() >= 1);
}

static void test_pm32_guest_prints_and_exits(void)
{
    struct run r;
    if (boot_and_run(&r, "pm32.elf", 32 * MiB, 2, NULL, NULL) == 0) {
        CU_ASSERT_EQUAL(r.m.outcome.kind, VMM_OUTCOME_DEBUG_EXIT);
        CU_ASSERT_EQUAL(r.m.outcome.exit_code, (0x10 << 1) | 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.b.out, "pm32: hello from 32-bit protected mode\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(r.b.out, "pm32: cr0.pe=00000001 cr0.pg=00000000\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(r.b.out, "pm32: mp cpus=00000002\n"));
        CU_ASSERT(r.m.vcpus[0].stats.io_exits > 10);
        CU_ASSERT(r.m.vcpus[0].stats.exits >= r.m.vcpus[0].stats.io_exits);
    }
    run_teardown(&r);
}

static void test_long64_guest_runs_in_long_mode(void)
{
    struct run r;
    if (boot_and_run(&r, "long64.elf", 32 * MiB, 1, NULL, NULL) == 0) {
        CU_ASSERT_EQUAL(r.m.outcome.exit_code, (0x11 << 1) | 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.b.out, "long64: efer.lma=0000000000000001\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(r.b.out, "long64: sum=0123457789abcdef\n"));
        vmm_vcpu_regs_t regs = {.size = sizeof(regs)};
        CU_ASSERT_EQUAL(engine_kvm.vcpu_get_regs(&r.m, 0, &regs), 0);
        CU_ASSERT_EQUAL(regs.mode, 64);
    }
    run_teardown(&r);
}

static void test_io_guest_string_io_and_unmapped_reads(void)
{
    struct run r;
    if (boot_and_run(&r, "io.elf", 32 * MiB, 1, NULL, NULL) == 0) {
        CU_ASSERT_EQUAL(r.m.outcome.exit_code, (0x13 << 1) | 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.b.out, "io: rep outsb string\n"));
        CU_ASSERT_PTR_NOT_NULL(
            strstr(r.b.out, "io: unmapped port reads 000000ff 0000ffff ffffffff\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(r.b.out, "io: unmapped mmio reads ffffffff 000000ff\n"));
        CU_ASSERT(r.m.vcpus[0].stats.mmio_exits >= 3);
    }
    run_teardown(&r);
}

static void test_triple_fault_is_a_crash(void)
{
    struct run r;
    if (boot_and_run(&r, "triple.elf", 32 * MiB, 1, NULL, NULL) == 0) {
        CU_ASSERT_EQUAL(r.m.outcome.kind, VMM_OUTCOME_CRASH);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.b.out, "triple: faulting now\n"));
        fprintf(stderr, "  triple fault reason: %s\n", r.m.outcome.reason);
    }
    run_teardown(&r);
}

/* A kick gets the vCPU out of a guest that never exits by itself. */
static void check_kick(const char *name)
{
    struct run r;
    CU_ASSERT_EQUAL_FATAL(run_setup(&r, guest_path(name), 32 * MiB, 1, NULL, NULL), 0);
    int fired;
    double t = run_vcpu0(&r, 0.5, &fired);
    CU_ASSERT_TRUE(fired);
    CU_ASSERT(t < 2.0);
    CU_ASSERT_EQUAL(r.m.outcome.kind, VMM_OUTCOME_NONE);
    CU_ASSERT(strlen(r.b.out) > 0);
    /* Resumable: a second run returns on the next kick as well. */
    atomic_store(&r.m.request, MACHINE_RUN);
    t = run_vcpu0(&r, 0.2, &fired);
    CU_ASSERT_TRUE(fired);
    CU_ASSERT(t < 2.0);
    run_teardown(&r);
}

static void test_kick_stops_a_spinning_vcpu(void)
{
    check_kick("spin.elf");
}

static void test_kick_stops_a_halted_vcpu(void)
{
    check_kick("halt.elf");
}

int main(void)
{
    int no_kvm = harness_need_kvm();
    if (no_kvm)
        return no_kvm;
    guest_dir = getenv("X86_GUEST_DIR");
    if (!guest_dir) {
        printf("X86_GUEST_DIR is not set (run through meson test)\n");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("kvm_engine", NULL, NULL);
    CU_add_test(s, "probe finds KVM API 12", test_probe_finds_kvm_api_12);
    CU_add_test(s, "pm32 guest prints and exits", test_pm32_guest_prints_and_exits);
    CU_add_test(s, "long64 guest runs in long mode", test_long64_guest_runs_in_long_mode);
    CU_add_test(s, "io guest: string I/O and unmapped reads",
                test_io_guest_string_io_and_unmapped_reads);
    CU_add_test(s, "triple fault is a crash", test_triple_fault_is_a_crash);
    CU_add_test(s, "kick stops a spinning vCPU", test_kick_stops_a_spinning_vcpu);
    CU_add_test(s, "kick stops a halted vCPU", test_kick_stops_a_halted_vcpu);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
