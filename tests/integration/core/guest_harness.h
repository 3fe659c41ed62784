/* Helpers for integration tests that drive guests through the public API:
 * console capture, waiting on the loop with a deadline, engine skips. */
#ifndef TESTS_INTEGRATION_GUEST_HARNESS_H
#define TESTS_INTEGRATION_GUEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vmm/vmm.h>

#define HARNESS_SKIP 77

struct guest_run {
    vmm_host_t *host;
    vmm_vm_t *vm;
    char console[65536];
    size_t console_len;
    int state_events;
    vmm_state_t last_state;
    unsigned restarts;
    vmm_outcome_kind_t restart_cause;
};

/* Exit code for "cannot run here": 77 (skip) normally, 1 (fail) under CI=true. */
static inline int harness_skip(const char *why)
{
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) {
        printf("FAIL (CI=true, must run): %s\n", why);
        return 1;
    }
    printf("SKIP: %s\n", why);
    return HARNESS_SKIP;
}

static inline void harness_on_event(const vmm_event_t *ev, void *opaque)
{
    struct guest_run *r = opaque;
    if (ev->type == VMM_EVENT_CONSOLE) {
        size_t room = sizeof(r->console) - 1 - r->console_len;
        size_t n = ev->u.console.len < room ? ev->u.console.len : room;
        memcpy(r->console + r->console_len, ev->u.console.data, n);
        r->console_len += n;
        r->console[r->console_len] = '\0';
    } else if (ev->type == VMM_EVENT_RESTART) {
        r->restarts = ev->u.restart.count;
        r->restart_cause = ev->u.restart.previous.kind;
    } else if (ev->type == VMM_EVENT_STATE) {
        r->state_events++;
        r->last_state = ev->u.state.new_state;
    }
}

static inline void harness_timer_cb(uv_timer_t *t) { (void)t; }

/* Runs the loop until pred(r) holds or timeout_ms passes; returns pred(r). */
static inline int harness_run_until(struct guest_run *r, int (*pred)(struct guest_run *, const void *),
                                    const void *arg, unsigned timeout_ms)
{
    uv_loop_t *loop = vmm_host_loop(r->host);
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, harness_timer_cb, 10, 10);
    uint64_t deadline = uv_now(loop) + timeout_ms;
    while (!pred(r, arg) && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred(r, arg);
}

static inline int harness_console_has(struct guest_run *r, const void *needle)
{
    return strstr(r->console, (const char *)needle) != NULL;
}

static inline int harness_is_final(struct guest_run *r, const void *unused)
{
    (void)unused;
    vmm_state_t s = vmm_vm_state(r->vm);
    return s == VMM_STATE_SHUTOFF || s == VMM_STATE_CRASHED;
}

#endif
