/* The memory commands of the control socket, on vmm/memory.h:
 *   balloon {"value": BYTES}   QEMU's: the guest memory size the balloon
 *                              aims at (vmm_vm_set_balloon_target())
 *   query-balloon              QEMU's BalloonInfo {"actual": BYTES}: guest
 *                              memory now, i.e. RAM minus the balloon
 *   x-query-memory-stats       libvmm's own: the VM's memory figures
 *                              (configured, touched, resident, limit, the
 *                              balloon's counters) and the guest's
 *                              statistics under QEMU's guest-stats names
 *                              (-1 where the guest gave none, as QEMU)
 * Both balloon commands answer DeviceNotActive without a balloon, as QEMU.
 * The events (qmp_events.c): BALLOON_CHANGE {"actual"} when the guest's
 * driver moves, and libvmm's MEMORY_POOL_EXHAUSTED / MEMORY_LIMIT_REACHED
 * when the VM was paused for memory.
 */
#include <string.h>

#include "control/qmp_cmds.h"
#include "util/error.h"
#include "vmm/memory.h"

static int memory_stats(struct qmp_call *call, vmm_memory_stats_t *s)
{
    s->size = sizeof(*s);
    int rc = vmm_vm_memory_stats(call->ctl->vm, s);
    if (rc)
        qmp_error(call, "GenericError", "%s", vmm_last_error());
    return rc;
}

static int need_balloon(struct qmp_call *call, const vmm_memory_stats_t *s)
{
    if (s->has_balloon)
        return 0;
    qmp_error(call, "DeviceNotActive", "No balloon device has been activated");
    return -1;
}

static void cmd_balloon(struct qmp_call *call, json_t *args)
{
    vmm_memory_stats_t s;
    if (memory_stats(call, &s) || need_balloon(call, &s))
        return;
    json_t *value = json_object_get(args, "value");
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        if (strcmp(key, "value")) {
            qmp_error(call, "GenericError", "Parameter '%s' is unexpected", key);
            return;
        }
    }
    if (!value) {
        qmp_error(call, "GenericError", "Parameter 'value' is missing");
        return;
    }
    if (!json_is_integer(value) || json_integer_value(value) <= 0) {
        qmp_error(call, "GenericError", "Parameter 'value' expects a size in bytes above 0");
        return;
    }
    if (vmm_vm_set_balloon_target(call->ctl->vm, (uint64_t)json_integer_value(value))) {
        qmp_error(call, "GenericError", "%s", vmm_last_error());
        return;
    }
    qmp_return(call, NULL);
}

static void cmd_query_balloon(struct qmp_call *call, json_t *args)
{
    vmm_memory_stats_t s;
    if (memory_stats(call, &s) || need_balloon(call, &s))
        return;
    qmp_return(call, json_pack("{s:I}", "actual", (json_int_t)(s.configured - s.ballooned)));
}

static json_t *stat_value(uint64_t v)
{
    return json_integer(v == VMM_MEMSTAT_UNSET ? -1 : (json_int_t)v);
}

static void cmd_query_memory_stats(struct qmp_call *call, json_t *args)
{
    vmm_memory_stats_t s;
    if (memory_stats(call, &s))
        return;
    json_t *r = json_pack("{s:I,s:I,s:I,s:I}", "configured", (json_int_t)s.configured, "touched",
                          (json_int_t)s.touched, "resident", (json_int_t)s.resident, "limit",
                          (json_int_t)s.limit);
    if (!r) {
        qmp_error(call, "GenericError", "out of memory");
        return;
    }
    if (s.has_balloon) {
        json_object_set_new(
            r, "balloon",
            json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "driver", s.balloon_driver, "target",
                      (json_int_t)(s.configured - s.balloon_target), "actual",
                      (json_int_t)(s.configured - s.ballooned), "inflated", (json_int_t)s.inflated,
                      "deflated", (json_int_t)s.deflated, "reported", (json_int_t)s.reported,
                      "errors", (json_int_t)s.balloon_errors));
        json_t *st = json_object();
        json_object_set_new(st, "stat-swap-in", stat_value(s.swap_in));
        json_object_set_new(st, "stat-swap-out", stat_value(s.swap_out));
        json_object_set_new(st, "stat-major-faults", stat_value(s.major_faults));
        json_object_set_new(st, "stat-minor-faults", stat_value(s.minor_faults));
        json_object_set_new(st, "stat-free-memory", stat_value(s.free));
        json_object_set_new(st, "stat-total-memory", stat_value(s.total));
        json_object_set_new(st, "stat-available-memory", stat_value(s.available));
        json_object_set_new(st, "stat-disk-caches", stat_value(s.disk_caches));
        json_object_set_new(st, "stat-htlb-pgalloc", stat_value(s.hugetlb_allocs));
        json_object_set_new(st, "stat-htlb-pgfail", stat_value(s.hugetlb_failures));
        json_object_set_new(r, "stats", st);
        json_object_set_new(r, "stats-age-ms", stat_value(s.stats_age_ms));
        /* Asking is the refresh: the next call sees the guest's answer. */
        vmm_vm_balloon_request_stats(call->ctl->vm);
    }
    qmp_return(call, r);
}

const struct qmp_command qmp_balloon_commands[] = {
    { "balloon", cmd_balloon, 0 },
    { "query-balloon", cmd_query_balloon, QMP_NO_ARGS },
    { "x-query-memory-stats", cmd_query_memory_stats, QMP_NO_ARGS },
    { NULL, NULL, 0 },
};
