/* QMP events from the VM's events (vmm/event.h):
 *   STATE -> PAUSED            STOP
 *   STATE -> RUNNING           RESUME (after a pause, or the first start)
 *   STATE -> SHUTOFF|CRASHED   SHUTDOWN {"guest", "reason"} from the outcome
 *   RESTART                    RESET {"guest", "reason"}; a restart after a
 *                              guest poweroff is SHUTDOWN then RESET
 *   MEMORY BALLOON             BALLOON_CHANGE {"actual": guest memory bytes}
 *   MEMORY POOL_EXHAUSTED      MEMORY_POOL_EXHAUSTED {"touched", "limit",
 *                              "pool-touched"} (libvmm's own; STOP came first)
 *   MEMORY LIMIT_REACHED       MEMORY_LIMIT_REACHED {"touched", "limit"}
 * POWERDOWN is emitted by system_powerdown itself (qmp_cmds.c). The
 * reasons are QEMU's ShutdownCause values. */
#include <string.h>
#include <time.h>

#include "control/control.h"
#include "core/vm_hooks.h"

void qmp_event_emit(struct vmm_control *ctl, const char *name, json_t *data)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *msg = json_pack("{s:s}", "event", name);
    if (msg && data)
        json_object_set_new(msg, "data", data);
    else
        json_decref(data);
    if (!msg)
        return;
    json_object_set_new(msg, "timestamp",
                        json_pack("{s:I,s:I}", "seconds", (json_int_t)ts.tv_sec, "microseconds",
                                  (json_int_t)(ts.tv_nsec / 1000)));
    control_broadcast(ctl, msg);
    json_decref(msg);
}

static void emit_cause(struct vmm_control *ctl, const char *name, int guest, const char *reason)
{
    qmp_event_emit(ctl, name, json_pack("{s:b,s:s}", "guest", guest, "reason", reason));
}

/* How a run that ended with `o` reads as a QEMU ShutdownCause. */
static const char *cause_of(const struct vmm_control *ctl, const vmm_outcome_t *o, int *guest)
{
    *guest = 1;
    switch (o->kind) {
    case VMM_OUTCOME_POWEROFF:
    case VMM_OUTCOME_DEBUG_EXIT: return "guest-shutdown";
    case VMM_OUTCOME_RESET:
        if (strcmp(o->reason, VM_HOST_RESET_REASON) == 0) {
            *guest = 0;
            return "host-qmp-system-reset";
        }
        return "guest-reset";
    case VMM_OUTCOME_CRASH: return "guest-panic";
    case VMM_OUTCOME_STOPPED:
        *guest = 0;
        /* the program's own vmm_vm_stop() reads as a signal to QEMU */
        return ctl->quit_requested ? "host-qmp-quit" : "host-signal";
    default: *guest = 0; return "none";
    }
}

void qmp_events_on_vm_event(struct vmm_control *ctl, const vmm_event_t *ev)
{
    int guest;
    const char *reason;
    switch (ev->type) {
    case VMM_EVENT_STATE:
        switch (ev->u.state.new_state) {
        case VMM_STATE_PAUSED: qmp_event_emit(ctl, "STOP", NULL); break;
        case VMM_STATE_RUNNING: qmp_event_emit(ctl, "RESUME", NULL); break;
        case VMM_STATE_SHUTOFF:
        case VMM_STATE_CRASHED: {
            vmm_outcome_t o = { .size = sizeof(o) };
            vmm_vm_outcome(ev->vm, &o);
            reason = cause_of(ctl, &o, &guest);
            emit_cause(ctl, "SHUTDOWN", guest, reason);
            break;
        }
        default: break;
        }
        break;
    case VMM_EVENT_RESTART:
        reason = cause_of(ctl, &ev->u.restart.previous, &guest);
        if (ev->u.restart.previous.kind != VMM_OUTCOME_RESET)
            emit_cause(ctl, "SHUTDOWN", guest, reason);
        emit_cause(ctl, "RESET", guest, reason);
        break;
    case VMM_EVENT_MEMORY: {
        const uint64_t ram = vmm_config_memory(vmm_vm_config(ev->vm));
        switch (ev->u.memory.what) {
        case VMM_MEMORY_BALLOON:
            qmp_event_emit(ctl, "BALLOON_CHANGE",
                           json_pack("{s:I}", "actual", (json_int_t)(ram - ev->u.memory.ballooned)));
            break;
        case VMM_MEMORY_POOL_EXHAUSTED:
            qmp_event_emit(ctl, "MEMORY_POOL_EXHAUSTED",
                           json_pack("{s:I,s:I,s:I}", "touched", (json_int_t)ev->u.memory.touched,
                                     "limit", (json_int_t)ev->u.memory.limit, "pool-touched",
                                     (json_int_t)ev->u.memory.pool_touched));
            break;
        case VMM_MEMORY_LIMIT_REACHED:
            qmp_event_emit(ctl, "MEMORY_LIMIT_REACHED",
                           json_pack("{s:I,s:I}", "touched", (json_int_t)ev->u.memory.touched,
                                     "limit", (json_int_t)ev->u.memory.limit));
            break;
        default: break;
        }
        break;
    }
    default: break;
    }
}
