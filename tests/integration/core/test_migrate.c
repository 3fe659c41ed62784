/* Live migration through the public API:
 *   test_migrate ENGINE GUEST
 * The source VM runs the counting echo guest (tests/guest/core/echo-*.S)
 * while a host thread keeps rewriting 64 MiB of its RAM, so every round has
 * dirty pages; the destination is a child process reading the stream from
 * a socket. The guest must go on counting and echoing there, with the
 * memory as the source last wrote it. Then: a guest that itself rewrites
 * 64 MiB as fast as it runs ('d' in the echo guest) over a link too slow
 * for it converges by throttling and lands with every page right; a
 * bandwidth too small to converge (the dirtier is a host thread, which no
 * throttle slows) fails cleanly with the VM still running, and a cancel
 * leaves it running too. */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "guest_harness.h"

static const char *engine;
static const char *guest;
static uint64_t counter_gpa, scratch_gpa, spin_gpa;
static unsigned counter_size;
#define SCRATCH (64u << 20)

static vmm_config_t *make_config(void)
{
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    CU_ASSERT_EQUAL(vmm_config_set_engine(cfg, engine), 0);
    CU_ASSERT_EQUAL(vmm_config_set_kernel(cfg, guest), 0);
    CU_ASSERT_EQUAL(vmm_config_set_memory(cfg, 128 << 20), 0);
    return cfg;
}

static uint64_t counter(vmm_vm_t *vm)
{
    uint64_t v = 0;
    vmm_vm_read_phys(vm, counter_gpa, &v, counter_size);
    return v;
}

/* Keeps rewriting the scratch area with a generation number. */
struct dirtier {
    vmm_vm_t *vm;
    atomic_int stop;
    atomic_uint generation;
    atomic_uint sweeps; /* whole sweeps done */
    unsigned pause_us;
};

static void *dirtier_main(void *arg)
{
    struct dirtier *d = arg;
    static uint8_t page[65536];
    while (!atomic_load(&d->stop)) {
        unsigned g = atomic_fetch_add(&d->generation, 1) + 1;
        memset(page, (int)(g & 0xff), sizeof(page));
        for (uint64_t off = 0; off < SCRATCH; off += sizeof(page)) /* whole sweeps only */
            vmm_vm_write_phys(d->vm, scratch_gpa + off, page, sizeof(page));
        atomic_fetch_add(&d->sweeps, 1);
        if (d->pause_us)
            usleep(d->pause_us);
    }
    return NULL;
}

#define SCRATCH_PAGES (SCRATCH / 4096)

/* The echo guest in dirty mode stores count n at page n mod 16384 before
 * the counter: with the counter at c, page j must hold the count in
 * (c - 16384, c + 1] that is j mod 16384 (c + 1: stored, counter not yet).
 * Returns the first page that does not, or -1. */
static long guest_scratch_bad_page(vmm_vm_t *vm, uint64_t c)
{
    for (uint64_t j = 0; j < SCRATCH_PAGES; j++) {
        uint64_t v = 0;
        vmm_vm_read_phys(vm, scratch_gpa + j * 4096, &v, counter_size);
        if (v % SCRATCH_PAGES != j || v > c + 1 || v + SCRATCH_PAGES <= c)
            return (long)j;
    }
    return -1;
}

/* The destination: reads the stream, runs the guest, checks it continues
 * from `min_counter` and echoes, and that the scratch area holds one
 * generation's byte throughout (a host dirtier) or the guest's own pattern
 * (`guest_dirty`). Exit status 0 when all holds. */
static int destination(int fd, uint64_t min_counter, int guest_dirty)
{
    struct guest_run r;
    memset(&r, 0, sizeof(r));
    if (vmm_host_new(&r.host, NULL))
        return 10;
    /* No CUnit here: this runs in a process of its own, outside any test. */
    vmm_config_t *expect = NULL;
    if (vmm_config_new(&expect) || vmm_config_set_engine(expect, engine) ||
        vmm_config_set_kernel(expect, guest) || vmm_config_set_memory(expect, 128 << 20))
        return 19;
    int rc = vmm_vm_incoming(r.host, fd, expect, &r.vm);
    vmm_config_free(expect);
    if (rc) {
        printf("destination: %s\n", vmm_last_error());
        return 11;
    }
    uint8_t first, byte;
    vmm_vm_read_phys(r.vm, scratch_gpa, &first, 1);
    if (guest_dirty) {
        long bad = guest_scratch_bad_page(r.vm, counter(r.vm));
        if (bad >= 0) {
            uint64_t v = 0;
            vmm_vm_read_phys(r.vm, scratch_gpa + (uint64_t)bad * 4096, &v, counter_size);
            printf("destination: scratch page %ld holds %llu, counter %llu\n", bad,
                   (unsigned long long)v, (unsigned long long)counter(r.vm));
            return 18;
        }
    }
    for (uint64_t off = 0; !guest_dirty && off < SCRATCH; off += 4096) {
        vmm_vm_read_phys(r.vm, scratch_gpa + off, &byte, 1);
        if (byte != first) {
            printf("destination: scratch page at +0x%llx is %u, the first %u\n",
                   (unsigned long long)off, byte, first);
            return 12;
        }
    }
    uint64_t c0 = counter(r.vm);
    if (c0 < min_counter) {
        printf("destination: counter %llu below the %llu seen before migrating\n",
               (unsigned long long)c0, (unsigned long long)min_counter);
        return 13;
    }
    vmm_vm_set_event_cb(r.vm, harness_on_event, &r);
    if (vmm_vm_start(r.vm))
        return 14;
    /* The loop's clock is as old as the last turn, before the stream. */
    uv_update_time(vmm_host_loop(r.host));
    uint64_t wait_ms = 20000;
    uint64_t deadline = uv_now(vmm_host_loop(r.host)) + wait_ms;
    while (counter(r.vm) < c0 + 1000 && uv_now(vmm_host_loop(r.host)) < deadline) {
        uv_run(vmm_host_loop(r.host), UV_RUN_NOWAIT);
        usleep(1000);
        uv_update_time(vmm_host_loop(r.host));
    }
    printf("(destination: +%llu in %llu ms) ", (unsigned long long)(counter(r.vm) - c0),
           (unsigned long long)(uv_now(vmm_host_loop(r.host)) + wait_ms - deadline));
    if (counter(r.vm) < c0 + 1000) {
        vmm_vcpu_stats_t st = { .size = sizeof(st) };
        vmm_vm_vcpu_stats(r.vm, 0, &st);
        printf("destination: counter %llu after %llu s, %llu at the start; %llu exits, %llu "
               "I/O, %llu halts\n", (unsigned long long)counter(r.vm),
               (unsigned long long)(wait_ms / 1000), (unsigned long long)c0,
               (unsigned long long)st.exits, (unsigned long long)st.io_exits,
               (unsigned long long)st.halts);
        return 15;
    }
    vmm_vm_console_write(r.vm, "xy", 2);
    if (!harness_run_until(&r, harness_console_has, "XY", 20000))
        return 16;
    if (strstr(r.console, "ready"))
        return 17; /* it booted again instead of continuing */
    vmm_vm_stop(r.vm);
    vmm_vm_destroy(r.vm);
    vmm_host_free(r.host);
    return 0;
}

static const char *self_path;

/* The destination runs in a new process image (fork + exec of this test):
 * a child forked from a process with running vCPU threads may inherit a
 * lock one of them held, and hang on it. */
static pid_t spawn_destination(int fd, uint64_t min_counter, int guest_dirty)
{
    char fd_s[16], min_s[32], mode_s[4];
    snprintf(fd_s, sizeof(fd_s), "%d", fd);
    snprintf(min_s, sizeof(min_s), "%llu", (unsigned long long)min_counter);
    snprintf(mode_s, sizeof(mode_s), "%d", guest_dirty);
    pid_t child = fork();
    if (child == 0) { /* only async-signal-safe calls until exec */
        fcntl(fd, F_SETFD, 0); /* keep it across exec */
        execl(self_path, self_path, engine, guest, "destination", fd_s, min_s, mode_s,
              (char *)NULL);
        _exit(127);
    }
    return child;
}

struct done {
    int called, status;
};

static void on_done(vmm_vm_t *vm, int status, void *opaque)
{
    struct done *d = opaque;
    d->called = 1;
    d->status = status;
}

static int done_called(struct guest_run *r, const void *arg)
{
    return ((const struct done *)arg)->called;
}

static struct guest_run *boot(void)
{
    struct guest_run *r = calloc(1, sizeof(*r));
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
    vmm_config_t *cfg = make_config();
    CU_ASSERT_EQUAL_FATAL(vmm_vm_create(r->host, cfg, &r->vm), 0);
    vmm_config_free(cfg);
    vmm_vm_set_event_cb(r->vm, harness_on_event, r);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(r->vm), 0);
    CU_ASSERT_TRUE_FATAL(harness_run_until(r, harness_console_has, "ready\n", 20000));
    return r;
}

static void finish(struct guest_run *r)
{
    vmm_vm_destroy(r->vm);
    CU_ASSERT_EQUAL(vmm_host_free(r->host), 0);
    free(r);
}

static void test_the_guest_continues_on_the_destination(void)
{
    struct guest_run *r = boot();
    int sv[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct dirtier d = { .vm = r->vm, .pause_us = 2000 };
    pthread_t t;
    pthread_create(&t, NULL, dirtier_main, &d);
    usleep(100000);
    uint64_t before = counter(r->vm);
    pid_t child = spawn_destination(sv[1], before, 0);
    close(sv[1]);
    struct done done = { 0 };
    vmm_migrate_params_t p = { .size = sizeof(p), .downtime_limit_ms = 200 };
    CU_ASSERT_EQUAL_FATAL(vmm_vm_migrate_start(r->vm, sv[0], &p, on_done, &done), 0);
    /* Stop dirtying once the first rounds went, so it converges. */
    usleep(300000);
    atomic_store(&d.stop, 1);
    pthread_join(t, NULL);
    CU_ASSERT_TRUE(harness_run_until(r, done_called, &done, 60000));
    CU_ASSERT_EQUAL(done.status, 0);
    if (done.status)
        printf("migrate: %s\n", vmm_last_error());
    vmm_migrate_stats_t st = { .size = sizeof(st) };
    CU_ASSERT_EQUAL(vmm_vm_migrate_stats(r->vm, &st), 0);
    CU_ASSERT_EQUAL(st.status, VMM_MIGRATE_COMPLETED);
    printf("(%u rounds, %llu MB sent, downtime %llu ms, total %llu ms) ", st.rounds,
           (unsigned long long)(st.bytes_sent >> 20), (unsigned long long)st.downtime_ms,
           (unsigned long long)st.total_ms);
    CU_ASSERT(st.ram_transferred >= SCRATCH);
    harness_run_until(r, harness_is_final, NULL, 20000);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_SHUTOFF);
    vmm_outcome_t out = { .size = sizeof(out) };
    vmm_vm_outcome(r->vm, &out);
    CU_ASSERT_STRING_EQUAL(out.reason, "migrated");
    close(sv[0]);
    int status = -1;
    waitpid(child, &status, 0);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        printf("destination exit status %d\n", WEXITSTATUS(status));
    finish(r);
}

static int counter_reached(struct guest_run *r, const void *arg)
{
    return counter(r->vm) >= *(const uint64_t *)arg;
}

static void *drain_main(void *arg);

static int ms_elapsed(struct guest_run *r, const void *arg)
{
    return uv_now(vmm_host_loop(r->host)) >= *(const uint64_t *)arg;
}

/* Counts a second the dirty-mode guest does with `spin` at SPIN. */
static double dirty_rate(struct guest_run *r, uint64_t spin)
{
    vmm_vm_write_phys(r->vm, spin_gpa, &spin, counter_size);
    uint64_t settle = uv_now(vmm_host_loop(r->host)) + 50;
    harness_run_until(r, ms_elapsed, &settle, 1000);
    uint64_t c0 = counter(r->vm), t0 = uv_now(vmm_host_loop(r->host));
    uint64_t until = t0 + 300;
    harness_run_until(r, ms_elapsed, &until, 1000);
    uint64_t c1 = counter(r->vm), t1 = uv_now(vmm_host_loop(r->host));
    return (double)(c1 - c0) * 1000.0 / (double)(t1 - t0 + 1);
}

/* Sets the guest's spin so it dirties about `target` pages a second (or
 * as many as it can) and returns the rate it then measures. */
static double dirty_rate_set(struct guest_run *r, double target)
{
    double r0 = dirty_rate(r, 0), r1 = dirty_rate(r, 2000);
    double per_spin = (1.0 / r1 - 1.0 / r0) / 2000.0; /* seconds */
    uint64_t spin = 0;
    if (r0 > target && per_spin > 0)
        spin = (uint64_t)((1.0 / target - 1.0 / r0) / per_spin);
    return dirty_rate(r, spin);
}

static void test_a_dirtying_guest_converges_by_throttling(void)
{
    struct guest_run *r = boot();
    vmm_vm_console_write(r->vm, "d", 1);
    CU_ASSERT_TRUE_FATAL(harness_run_until(r, harness_console_has, "dirty\n", 20000));
    /* At most 160k pages a second (640 MB/s), over a link carrying a tenth
     * of that: without a throttle above 90 % it cannot converge. */
    double rate = dirty_rate_set(r, 160000.0);
    uint64_t bandwidth = (uint64_t)(rate * 4096.0 / 10.0);
    printf("(guest dirties %.0f pages/s, link %llu KB/s) ", rate,
           (unsigned long long)(bandwidth >> 10));
    /* Once around the scratch area, so every page holds the pattern. */
    uint64_t lap = counter(r->vm) + 2 * SCRATCH_PAGES;
    CU_ASSERT_TRUE_FATAL(harness_run_until(r, counter_reached, &lap, 60000));
    int sv[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    uint64_t before = counter(r->vm);
    pid_t child = spawn_destination(sv[1], before, 1);
    close(sv[1]);
    struct done done = { 0 };
    vmm_migrate_params_t p = { .size = sizeof(p), .max_bandwidth = bandwidth,
                               .downtime_limit_ms = 100, .throttle_initial = 50,
                               .throttle_increment = 20 };
    CU_ASSERT_EQUAL_FATAL(vmm_vm_migrate_start(r->vm, sv[0], &p, on_done, &done), 0);
    CU_ASSERT_TRUE(harness_run_until(r, done_called, &done, 120000));
    CU_ASSERT_EQUAL(done.status, 0);
    if (done.status)
        printf("migrate: %s\n", vmm_last_error());
    vmm_migrate_stats_t st = { .size = sizeof(st) };
    CU_ASSERT_EQUAL(vmm_vm_migrate_stats(r->vm, &st), 0);
    CU_ASSERT_EQUAL(st.status, VMM_MIGRATE_COMPLETED);
    CU_ASSERT(st.throttle_max_reached >= 50);
    CU_ASSERT_EQUAL(st.throttle_pct, 0);
    printf("(%u rounds, throttled up to %u%%, downtime %llu ms, total %llu ms) ", st.rounds,
           st.throttle_max_reached, (unsigned long long)st.downtime_ms,
           (unsigned long long)st.total_ms);
    harness_run_until(r, harness_is_final, NULL, 20000);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_SHUTOFF);
    close(sv[0]);
    int status = -1;
    waitpid(child, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        printf("destination exit status %d\n", WEXITSTATUS(status));
    finish(r);
}

/* Without auto-converge the same guest cannot converge: the migration
 * fails cleanly and the guest, never throttled, runs on. */
static void test_without_auto_converge_a_dirtying_guest_fails_cleanly(void)
{
    struct guest_run *r = boot();
    vmm_vm_console_write(r->vm, "d", 1);
    CU_ASSERT_TRUE_FATAL(harness_run_until(r, harness_console_has, "dirty\n", 20000));
    double rate = dirty_rate_set(r, 160000.0);
    int sv[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pthread_t reader;
    pthread_create(&reader, NULL, drain_main, &sv[1]);
    struct done done = { 0 };
    vmm_migrate_params_t p = { .size = sizeof(p), .max_bandwidth = (uint64_t)(rate * 4096 / 10),
                               .downtime_limit_ms = 20, .max_rounds = 4, .auto_converge = -1 };
    CU_ASSERT_EQUAL_FATAL(vmm_vm_migrate_start(r->vm, sv[0], &p, on_done, &done), 0);
    CU_ASSERT_TRUE(harness_run_until(r, done_called, &done, 120000));
    CU_ASSERT_EQUAL(done.status, VMM_EBUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "did not converge"));
    vmm_migrate_stats_t st = { .size = sizeof(st) };
    vmm_vm_migrate_stats(r->vm, &st);
    CU_ASSERT_EQUAL(st.throttle_max_reached, 0);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    uint64_t c = counter(r->vm);
    for (int i = 0; i < 500 && counter(r->vm) == c; i++)
        usleep(10000);
    CU_ASSERT(counter(r->vm) > c);
    /* A bad percentage is refused with the value and the limit. */
    vmm_migrate_params_t bad = { .size = sizeof(bad), .throttle_max = 100 };
    CU_ASSERT_EQUAL(vmm_vm_migrate_configure(r->vm, &bad), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "throttle_max 100%: limit 1..99"));
    close(sv[0]);
    pthread_join(reader, NULL);
    close(sv[1]);
    vmm_vm_stop(r->vm);
    finish(r);
}

/* A reader that drains the stream and discards it. */
static void *drain_main(void *arg)
{
    int fd = *(int *)arg;
    char buf[65536];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    return NULL;
}

static void test_a_guest_that_outruns_the_link_fails_cleanly(void)
{
    struct guest_run *r = boot();
    int sv[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pthread_t reader;
    pthread_create(&reader, NULL, drain_main, &sv[1]);
    struct dirtier d = { .vm = r->vm };
    pthread_t t;
    pthread_create(&t, NULL, dirtier_main, &d);
    /* The dirtier is going before the migration starts: on a loaded host
     * its thread may not have run yet, and a migration of a still-zero
     * scratch area converges at once (seen once in a parallel test run). */
    for (int i = 0; i < 3000 && atomic_load(&d.sweeps) == 0; i++)
        usleep(1000);
    CU_ASSERT_FATAL(atomic_load(&d.sweeps) > 0);
    struct done done = { 0 };
    /* 32 MB/s against a guest rewriting 64 MiB all the time. */
    vmm_migrate_params_t p = { .size = sizeof(p), .max_bandwidth = 32u << 20,
                               .downtime_limit_ms = 50, .max_rounds = 3 };
    CU_ASSERT_EQUAL_FATAL(vmm_vm_migrate_start(r->vm, sv[0], &p, on_done, &done), 0);
    CU_ASSERT_TRUE(harness_run_until(r, done_called, &done, 60000));
    CU_ASSERT_EQUAL(done.status, VMM_EBUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "did not converge"));
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    vmm_migrate_stats_t st = { .size = sizeof(st) };
    vmm_vm_migrate_stats(r->vm, &st);
    CU_ASSERT_EQUAL(st.status, VMM_MIGRATE_FAILED);
    if (done.status != VMM_EBUSY)
        printf("(status %d: %s; %llu rounds, %llu MB sent, dirtier sweeps %u) ", done.status,
               vmm_last_error(), (unsigned long long)st.rounds,
               (unsigned long long)(st.bytes_sent >> 20), atomic_load(&d.generation));
    atomic_store(&d.stop, 1);
    pthread_join(t, NULL);
    /* The source VM is fine: it still counts. */
    uint64_t c = counter(r->vm);
    for (int i = 0; i < 500 && counter(r->vm) == c; i++)
        usleep(10000);
    CU_ASSERT(counter(r->vm) > c);
    close(sv[0]);
    pthread_join(reader, NULL);
    close(sv[1]);
    vmm_vm_stop(r->vm);
    finish(r);
}

static void test_cancel_leaves_the_source_running(void)
{
    struct guest_run *r = boot();
    int sv[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pthread_t reader;
    pthread_create(&reader, NULL, drain_main, &sv[1]);
    struct dirtier d = { .vm = r->vm };
    pthread_t t;
    pthread_create(&t, NULL, dirtier_main, &d);
    struct done done = { 0 };
    vmm_migrate_params_t p = { .size = sizeof(p), .max_bandwidth = 16u << 20 };
    CU_ASSERT_EQUAL_FATAL(vmm_vm_migrate_start(r->vm, sv[0], &p, on_done, &done), 0);
    usleep(200000);
    CU_ASSERT_EQUAL(vmm_vm_migrate_cancel(r->vm), 0);
    CU_ASSERT_TRUE(harness_run_until(r, done_called, &done, 60000));
    CU_ASSERT_EQUAL(done.status, VMM_ECANCELED);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    atomic_store(&d.stop, 1);
    pthread_join(t, NULL);
    close(sv[0]);
    pthread_join(reader, NULL);
    close(sv[1]);
    vmm_vm_stop(r->vm);
    finish(r);
}

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 7 && strcmp(argv[3], "destination") == 0)) {
        fprintf(stderr, "usage: %s ENGINE GUEST [destination FD MIN_COUNTER GUEST_DIRTY]\n",
                argv[0]);
        return 2;
    }
    self_path = "/proc/self/exe";
    engine = argv[1];
    guest = argv[2];
    if (strcmp(engine, "kvm") == 0) {
        int rc = harness_need_kvm();
        if (rc)
            return rc;
        counter_gpa = 0x300000;
        spin_gpa = 0x300020;
        counter_size = 4;
        scratch_gpa = 0x1000000;
    } else {
        counter_gpa = 0x80100000;
        spin_gpa = 0x80100020;
        counter_size = 8;
        scratch_gpa = 0x81000000;
    }
    if (argc == 7)
        return destination(atoi(argv[4]), strtoull(argv[5], NULL, 10), atoi(argv[6]));
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite(engine, NULL, NULL);
    CU_add_test(s, "the guest continues on the destination",
                test_the_guest_continues_on_the_destination);
    CU_add_test(s, "a guest that outruns the link fails cleanly",
                test_a_guest_that_outruns_the_link_fails_cleanly);
    CU_add_test(s, "cancel leaves the source running", test_cancel_leaves_the_source_running);
    CU_add_test(s, "a guest dirtying faster than the link converges by throttling",
                test_a_dirtying_guest_converges_by_throttling);
    CU_add_test(s, "without auto-converge a dirtying guest fails cleanly",
                test_without_auto_converge_a_dirtying_guest_fails_cleanly);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
