/* What a program embedding libvmm relies on, on a real engine and guest:
 *   test_embed ENGINE GUEST.elf
 * asynchronous pause and stop with their completion callbacks, the VM's last
 * error, user data, sized structs filled for newer and older callers,
 * vmm_host_run() modes, and driving the host from a poll() loop through the
 * backend fd. The guest is tests/guest/core/echo-*.S (see test_lifecycle.c). */
#include <CUnit/Basic.h>
#include <poll.h>
#include <time.h>

#include "guest_harness.h"

static const char *engine;
static const char *guest;
static uint64_t counter_gpa;
static int crash_restarts; /* set by the crash-with-restart test */

static struct guest_run *create(void)
{
    struct guest_run *r = calloc(1, sizeof(*r));
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    CU_ASSERT_EQUAL(vmm_config_set_engine(cfg, engine), 0);
    CU_ASSERT_EQUAL(vmm_config_set_kernel(cfg, guest), 0);
    CU_ASSERT_EQUAL(vmm_config_set_memory(cfg, 64 << 20), 0);
    if (crash_restarts)
        CU_ASSERT_EQUAL(vmm_config_set_lifecycle(cfg, VMM_LIFECYCLE_CRASH, VMM_ACTION_RESTART), 0);
    int rc = vmm_vm_create(r->host, cfg, &r->vm);
    vmm_config_free(cfg);
    if (rc)
        printf("vmm_vm_create: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    vmm_vm_set_event_cb(r->vm, harness_on_event, r);
    return r;
}

static struct guest_run *boot(void)
{
    struct guest_run *r = create();
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(r->vm), 0);
    CU_ASSERT_TRUE(harness_run_until(r, harness_console_has, "ready\n", 20000));
    return r;
}

static void finish(struct guest_run *r)
{
    vmm_vm_destroy(r->vm);
    CU_ASSERT_EQUAL(vmm_host_free(r->host), 0);
    free(r);
}

static uint64_t counter(struct guest_run *r)
{
    uint64_t v = 0;
    CU_ASSERT_EQUAL(vmm_vm_read_phys(r->vm, counter_gpa, &v, engine[0] == 'k' ? 4 : 8), 0);
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* --- completions --- */

struct done {
    int calls;
    int status;
    vmm_state_t state_at_cb;  /* vmm_vm_state() inside the callback */
    vmm_state_t last_event;   /* the last state event seen before the callback */
    struct guest_run *r;
    int destroy_in_cb;
};

static void on_done(vmm_vm_t *vm, int status, void *opaque)
{
    struct done *d = opaque;
    d->calls++;
    d->status = status;
    d->state_at_cb = vmm_vm_state(vm);
    if (d->r)
        d->last_event = d->r->last_state;
    if (d->destroy_in_cb && status != VMM_ECANCELED) {
        vmm_vm_destroy(vm);
        d->r->vm = NULL;
    }
}

static int done_called(struct guest_run *r, const void *arg)
{
    (void)r;
    return ((const struct done *)arg)->calls > 0;
}

static void test_pause_async_completes_on_the_loop(void)
{
    struct guest_run *r = boot();
    struct done d = { .r = r };
    CU_ASSERT_EQUAL(vmm_vm_pause_async(r->vm, on_done, &d), 0);
    /* Never from inside the call, and the state changes only once parked. */
    CU_ASSERT_EQUAL(d.calls, 0);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    CU_ASSERT_TRUE(harness_run_until(r, done_called, &d, 20000));
    CU_ASSERT_EQUAL(d.calls, 1);
    CU_ASSERT_EQUAL(d.status, 0);
    CU_ASSERT_EQUAL(d.state_at_cb, VMM_STATE_PAUSED);
    CU_ASSERT_EQUAL(d.last_event, VMM_STATE_PAUSED); /* the event came first */
    uint64_t c1 = counter(r);
    sleep_ms(100);
    CU_ASSERT_EQUAL(counter(r), c1);
    CU_ASSERT_EQUAL(vmm_vm_resume(r->vm), 0);
    harness_run_until(r, harness_console_has, "never", 50);
    CU_ASSERT_EQUAL(d.calls, 1); /* exactly once */
    finish(r);
}

static void test_pause_async_twice_is_busy(void)
{
    struct guest_run *r = boot();
    struct done d = { .r = r }, d2 = { 0 };
    CU_ASSERT_EQUAL(vmm_vm_pause_async(r->vm, on_done, &d), 0);
    CU_ASSERT_EQUAL(vmm_vm_pause_async(r->vm, on_done, &d2), VMM_EBUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "already in progress"));
    CU_ASSERT_EQUAL(vmm_vm_pause(r->vm), VMM_ESTATE);
    CU_ASSERT_EQUAL(vmm_vm_resume(r->vm), VMM_ESTATE);
    CU_ASSERT_TRUE(harness_run_until(r, done_called, &d, 20000));
    CU_ASSERT_EQUAL(d.status, 0);
    CU_ASSERT_EQUAL(d2.calls, 0);
    finish(r);
}

static void test_async_calls_on_a_vm_not_running_are_refused(void)
{
    struct guest_run *r = create(); /* DEFINED */
    struct done d = { 0 };
    CU_ASSERT_EQUAL(vmm_vm_pause_async(r->vm, on_done, &d), VMM_ESTATE);
    CU_ASSERT_EQUAL(vmm_vm_stop_async(r->vm, on_done, &d), VMM_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "not running"));
    CU_ASSERT_EQUAL(d.calls, 0);
    const char *msg = NULL;
    CU_ASSERT_EQUAL(vmm_vm_last_error(r->vm, &msg), 0); /* refused, not failed later */
    CU_ASSERT_STRING_EQUAL(msg, "");
    finish(r);
}

static void test_stop_async_ends_the_run_as_stopped(void)
{
    struct guest_run *r = boot();
    struct done d = { .r = r }, d2 = { .r = r };
    CU_ASSERT_EQUAL(vmm_vm_stop_async(r->vm, on_done, &d), 0);
    CU_ASSERT_EQUAL(vmm_vm_stop_async(r->vm, on_done, &d2), 0); /* several may wait */
    CU_ASSERT_EQUAL(d.calls, 0);
    /* Run by the DEFAULT mode alone: pending stops keep it going. */
    CU_ASSERT_EQUAL(vmm_host_run(r->host, VMM_RUN_DEFAULT), 0);
    CU_ASSERT_EQUAL(d.calls, 1);
    CU_ASSERT_EQUAL(d2.calls, 1);
    CU_ASSERT_EQUAL(d.status, 0);
    CU_ASSERT_EQUAL(d.state_at_cb, VMM_STATE_SHUTOFF);
    CU_ASSERT_EQUAL(d.last_event, VMM_STATE_SHUTOFF);
    vmm_outcome_t o = {.size = sizeof(o)};
    CU_ASSERT_EQUAL(vmm_vm_outcome(r->vm, &o), 0);
    CU_ASSERT_EQUAL(o.kind, VMM_OUTCOME_STOPPED);
    finish(r);
}

static void test_stop_async_from_paused(void)
{
    struct guest_run *r = boot();
    CU_ASSERT_EQUAL(vmm_vm_pause(r->vm), 0);
    struct done d = { .r = r };
    CU_ASSERT_EQUAL(vmm_vm_stop_async(r->vm, on_done, &d), 0);
    CU_ASSERT_TRUE(harness_run_until(r, done_called, &d, 20000));
    CU_ASSERT_EQUAL(d.status, 0);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_SHUTOFF);
    finish(r);
}

static void test_pause_async_fails_when_the_run_ends_first(void)
{
    struct guest_run *r = boot();
    struct done d = { .r = r };
    CU_ASSERT_EQUAL(vmm_vm_pause_async(r->vm, on_done, &d), 0);
    /* The run ends before the loop ever saw the vCPUs parked. */
    CU_ASSERT_EQUAL(vmm_vm_stop(r->vm), 0);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_SHUTOFF);
    CU_ASSERT_EQUAL(d.calls, 0);
    CU_ASSERT_EQUAL(vmm_host_run(r->host, VMM_RUN_DEFAULT), 0);
    CU_ASSERT_EQUAL(d.calls, 1);
    CU_ASSERT_EQUAL(d.status, VMM_ESTATE);
    const char *msg = NULL;
    CU_ASSERT_EQUAL(vmm_vm_last_error(r->vm, &msg), VMM_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "stopped before the pause completed"));
    finish(r);
}

static void test_destroy_cancels_pending_operations(void)
{
    struct guest_run *r = boot();
    struct done p = { 0 }, s = { 0 };
    CU_ASSERT_EQUAL(vmm_vm_pause_async(r->vm, on_done, &p), 0);
    CU_ASSERT_EQUAL(vmm_vm_stop_async(r->vm, on_done, &s), 0);
    vmm_vm_destroy(r->vm);
    CU_ASSERT_EQUAL(p.calls, 1);
    CU_ASSERT_EQUAL(p.status, VMM_ECANCELED);
    CU_ASSERT_EQUAL(s.calls, 1);
    CU_ASSERT_EQUAL(s.status, VMM_ECANCELED);
    CU_ASSERT_EQUAL(vmm_host_run(r->host, VMM_RUN_NOWAIT), 0); /* nothing left */
    CU_ASSERT_EQUAL(vmm_host_free(r->host), 0);
    CU_ASSERT_EQUAL(p.calls, 1);
    free(r);
}

static void test_a_completion_may_destroy_the_vm(void)
{
    struct guest_run *r = boot();
    struct done d = { .r = r, .destroy_in_cb = 1 };
    CU_ASSERT_EQUAL(vmm_vm_pause_async(r->vm, on_done, &d), 0);
    CU_ASSERT_TRUE(harness_run_until(r, done_called, &d, 20000));
    CU_ASSERT_EQUAL(d.status, 0);
    CU_ASSERT_PTR_NULL(r->vm);
    CU_ASSERT_EQUAL(vmm_host_run(r->host, VMM_RUN_NOWAIT), 0);
    CU_ASSERT_EQUAL(vmm_host_free(r->host), 0);
    free(r);
}

/* --- data, errors, sized structs --- */

static void test_vm_data_round_trips(void)
{
    struct guest_run *r = create();
    CU_ASSERT_PTR_NULL(vmm_vm_get_data(r->vm));
    vmm_vm_set_data(r->vm, r);
    CU_ASSERT_PTR_EQUAL(vmm_vm_get_data(r->vm), r);
    vmm_vm_set_data(r->vm, NULL);
    CU_ASSERT_PTR_NULL(vmm_vm_get_data(r->vm));
    finish(r);
}

static size_t event_size_seen;
static size_t restart_outcome_size_seen;
static void sizing_event_cb(const vmm_event_t *ev, void *opaque)
{
    event_size_seen = ev->size;
    if (ev->type == VMM_EVENT_RESTART)
        restart_outcome_size_seen = ev->u.restart.previous.size;
    harness_on_event(ev, opaque);
}

static void test_events_carry_the_library_size(void)
{
    struct guest_run *r = create();
    vmm_vm_set_event_cb(r->vm, sizing_event_cb, r);
    event_size_seen = 0;
    CU_ASSERT_EQUAL(vmm_vm_start(r->vm), 0);
    CU_ASSERT_TRUE(harness_run_until(r, harness_console_has, "ready\n", 20000));
    CU_ASSERT_EQUAL(event_size_seen, sizeof(vmm_event_t));
    CU_ASSERT_EQUAL(event_size_seen, vmm_struct_size(VMM_STRUCT_EVENT));
    finish(r);
}

static void test_sized_reads_fill_no_more_than_asked(void)
{
    struct guest_run *r = boot();
    CU_ASSERT_EQUAL(vmm_vm_pause(r->vm), 0);
    /* A newer caller: the struct is larger than the library's. The library
     * fills its own part, says so in .size and leaves the rest alone. */
    struct {
        vmm_vcpu_stats_t s;
        uint64_t future[3];
    } big;
    memset(&big, 0x5a, sizeof(big));
    big.s.size = sizeof(big);
    CU_ASSERT_EQUAL(vmm_vm_vcpu_stats(r->vm, 0, &big.s), 0);
    CU_ASSERT_EQUAL(big.s.size, sizeof(vmm_vcpu_stats_t));
    CU_ASSERT_EQUAL(big.future[0], 0x5a5a5a5a5a5a5a5aULL);
    CU_ASSERT_TRUE(big.s.exits > 0 || big.s.instructions > 0);
    /* An older caller: only the counters it knows. */
    vmm_vcpu_stats_t part;
    memset(&part, 0x5a, sizeof(part));
    part.size = offsetof(vmm_vcpu_stats_t, halts);
    CU_ASSERT_EQUAL(vmm_vm_vcpu_stats(r->vm, 0, &part), 0);
    CU_ASSERT_EQUAL(part.size, offsetof(vmm_vcpu_stats_t, halts));
    CU_ASSERT_EQUAL(part.halts, 0x5a5a5a5a5a5a5a5aULL);
    /* A size never set: refused, naming the value and the limits. */
    vmm_vcpu_regs_t regs;
    memset(&regs, 0, sizeof(regs));
    CU_ASSERT_EQUAL(vmm_vm_vcpu_regs(r->vm, 0, &regs), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "vmm_vcpu_regs_t.size 0 is outside 8..65536"));
    regs.size = sizeof(regs);
    CU_ASSERT_EQUAL(vmm_vm_vcpu_regs(r->vm, 0, &regs), 0);
    CU_ASSERT_NOT_EQUAL(regs.pc, 0);
    vmm_outcome_t o;
    memset(&o, 0xff, sizeof(o));
    CU_ASSERT_EQUAL(vmm_vm_outcome(r->vm, &o), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "vmm_outcome_t.size 18446744073709551615"));
    /* A bad index names it and the count. */
    vmm_vcpu_stats_t s = {.size = sizeof(s)};
    CU_ASSERT_EQUAL(vmm_vm_vcpu_stats(r->vm, 7, &s), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "vCPU index 7 out of range (VM has 1)"));
    finish(r);
}

static void test_a_crash_is_the_vms_last_error(void)
{
    struct guest_run *r = boot();
    const char *msg = NULL;
    CU_ASSERT_EQUAL(vmm_vm_last_error(r->vm, &msg), 0);
    CU_ASSERT_STRING_EQUAL(msg, "");
    CU_ASSERT_EQUAL(vmm_vm_console_write(r->vm, "t", 1), 0);
    CU_ASSERT_TRUE(harness_run_until(r, harness_is_final, NULL, 20000));
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_CRASHED);
    vmm_outcome_t o = {.size = sizeof(o)};
    CU_ASSERT_EQUAL(vmm_vm_outcome(r->vm, &o), 0);
    CU_ASSERT_EQUAL(vmm_vm_last_error(r->vm, &msg), VMM_ECRASHED);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "guest crashed: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, o.reason));
    printf("(%s) ", msg);
    finish(r);
}

static void test_a_crash_that_restarts_is_still_recorded(void)
{
    crash_restarts = 1;
    struct guest_run *r = boot();
    crash_restarts = 0;
    CU_ASSERT_EQUAL(vmm_vm_console_write(r->vm, "t", 1), 0);
    CU_ASSERT_TRUE(harness_run_until(r, harness_console_has, "ready\nready\n", 20000));
    CU_ASSERT_EQUAL(r->restarts, 1);
    CU_ASSERT_EQUAL(r->restart_cause, VMM_OUTCOME_CRASH);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    const char *msg = NULL;
    CU_ASSERT_EQUAL(vmm_vm_last_error(r->vm, &msg), VMM_ECRASHED);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "guest crashed: "));
    finish(r);
}

/* --- running the loop --- */

static int nested_rc;
static void nesting_event_cb(const vmm_event_t *ev, void *opaque)
{
    struct guest_run *r = opaque;
    if (ev->type == VMM_EVENT_CONSOLE && nested_rc == 1)
        nested_rc = vmm_host_run(r->host, VMM_RUN_NOWAIT);
    harness_on_event(ev, opaque);
}

static void test_host_run_modes_report_what_is_left(void)
{
    struct guest_run *r = create();
    vmm_vm_set_event_cb(r->vm, nesting_event_cb, r);
    nested_rc = 1;
    CU_ASSERT_EQUAL(vmm_host_run(r->host, VMM_RUN_NOWAIT), 0); /* nothing runs yet */
    CU_ASSERT_EQUAL(vmm_vm_start(r->vm), 0);
    time_t deadline = time(NULL) + 20;
    int left = 1;
    while (!harness_console_has(r, "ready\n") && time(NULL) < deadline)
        left = vmm_host_run(r->host, VMM_RUN_ONCE); /* blocks until an event */
    CU_ASSERT_TRUE(harness_console_has(r, "ready\n"));
    CU_ASSERT_EQUAL(left, 1); /* one VM still running */
    /* A callback cannot run the loop it is called from. */
    CU_ASSERT_EQUAL(nested_rc, VMM_EBUSY);
    CU_ASSERT_EQUAL(vmm_vm_console_write(r->vm, "q", 1), 0);
    CU_ASSERT_EQUAL(vmm_host_run(r->host, VMM_RUN_DEFAULT), 0); /* until the guest ends */
    CU_ASSERT_TRUE(harness_is_final(r, NULL));
    CU_ASSERT_EQUAL(vmm_host_run(r->host, VMM_RUN_NOWAIT), 0);
    finish(r);
}

/* A program with its own poll() loop (no libuv of its own): the backend fd
 * and timeout are all it needs. */
static void test_a_poll_loop_drives_the_host_through_the_backend_fd(void)
{
    struct guest_run *r = create();
    int fd = vmm_host_backend_fd(r->host);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(vmm_vm_start(r->vm), 0);
    int sent = 0, polls = 0;
    time_t deadline = time(NULL) + 20;
    while (vmm_host_run(r->host, VMM_RUN_NOWAIT) > 0 && time(NULL) < deadline) {
        if (!sent && harness_console_has(r, "ready\n")) {
            CU_ASSERT_EQUAL(vmm_vm_console_write(r->vm, "q", 1), 0);
            sent = 1;
        }
        int timeout = -2;
        CU_ASSERT_EQUAL(vmm_host_backend_timeout(r->host, &timeout), 0);
        CU_ASSERT_TRUE(timeout >= -1);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        /* Cap the wait only so a broken library fails the test, not hangs it. */
        poll(&p, 1, timeout < 0 || timeout > 1000 ? 1000 : timeout);
        polls++;
    }
    CU_ASSERT_TRUE(sent);
    CU_ASSERT_TRUE(harness_is_final(r, NULL));
    printf("(%d polls) ", polls);
    finish(r);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ENGINE GUEST\n", argv[0]);
        return 2;
    }
    engine = argv[1];
    guest = argv[2];
    if (access(guest, R_OK) != 0)
        return harness_skip("the guest is not built");
    if (strcmp(engine, "kvm") == 0) {
        int rc = harness_need_kvm();
        if (rc)
            return rc;
        counter_gpa = 0x300000;
    } else {
        counter_gpa = 0x80100000;
    }
    printf("engine %s, guest %s\n", engine, guest);
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite(engine, NULL, NULL);
    CU_add_test(s, "pause_async completes on the loop", test_pause_async_completes_on_the_loop);
    CU_add_test(s, "pause_async twice is busy", test_pause_async_twice_is_busy);
    CU_add_test(s, "async calls on a VM not running are refused",
                test_async_calls_on_a_vm_not_running_are_refused);
    CU_add_test(s, "stop_async ends the run as stopped", test_stop_async_ends_the_run_as_stopped);
    CU_add_test(s, "stop_async from paused", test_stop_async_from_paused);
    CU_add_test(s, "pause_async fails when the run ends first",
                test_pause_async_fails_when_the_run_ends_first);
    CU_add_test(s, "destroy cancels pending operations", test_destroy_cancels_pending_operations);
    CU_add_test(s, "a completion may destroy the VM", test_a_completion_may_destroy_the_vm);
    CU_add_test(s, "VM data round trips", test_vm_data_round_trips);
    CU_add_test(s, "events carry the library size", test_events_carry_the_library_size);
    CU_add_test(s, "sized reads fill no more than asked", test_sized_reads_fill_no_more_than_asked);
    if (strcmp(engine, "kvm") == 0) {
        /* Only the x86 echo guest has a crash command ('t'). */
        CU_add_test(s, "a crash is the VM's last error", test_a_crash_is_the_vms_last_error);
        CU_add_test(s, "a crash that restarts is still recorded",
                    test_a_crash_that_restarts_is_still_recorded);
    }
    CU_add_test(s, "host run modes report what is left", test_host_run_modes_report_what_is_left);
    CU_add_test(s, "a poll loop drives the host through the backend fd",
                test_a_poll_loop_drives_the_host_through_the_backend_fd);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
