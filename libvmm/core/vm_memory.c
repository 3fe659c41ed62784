/* Memory overcommit on the VM side: per-VM memory figures, the balloon's
 * target and statistics, per-VM limits, and the host pool's periodic
 * check that pauses the VMs asking for memory the pool does not have
 * (vmm/host.h: vmm_host_set_memory_overcommit()). */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/vm.h"
#include "devices/virtio/balloon.h"
#include "machine/component.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sized.h"
#include "vmm/memory.h"

#define BALLOON_PAGE 4096ULL

static struct virtio_balloon *balloon_of(const struct vmm_vm *vm)
{
    return virtio_balloon_of(machine_find_component((struct machine *)&vm->m, "balloon0"));
}

static int vm_live(const struct vmm_vm *vm)
{
    int s = atomic_load(&((struct vmm_vm *)vm)->state);
    return s == VMM_STATE_RUNNING || s == VMM_STATE_PAUSED;
}

static uint64_t vm_touched(const struct vmm_vm *vm)
{
    uint64_t t = 0;
    guest_mem_usage(&vm->m.mem, &t, NULL);
    return t;
}

static uint64_t vm_ballooned(const struct vmm_vm *vm)
{
    struct virtio_balloon *b = balloon_of(vm);
    if (!b)
        return 0;
    struct virtio_balloon_info info;
    virtio_balloon_info(b, &info);
    return (uint64_t)info.actual_pages * BALLOON_PAGE;
}

static void emit_memory(struct vmm_vm *vm, vmm_memory_event_t what, uint64_t touched,
                        uint64_t limit, uint64_t pool_touched)
{
    if (!vm->cb)
        return;
    vmm_event_t ev = { .type = VMM_EVENT_MEMORY, .vm = vm };
    ev.u.memory.what = what;
    ev.u.memory.touched = touched;
    ev.u.memory.limit = limit;
    ev.u.memory.pool_touched = pool_touched;
    ev.u.memory.ballooned = vm_ballooned(vm);
    vm->cb(&ev, vm->cb_opaque);
}

/* --- the pool check --- */

/* Pauses a running VM for want of memory and says why. */
static void pause_for_memory(struct vmm_vm *vm, vmm_memory_event_t what, uint64_t touched,
                             uint64_t limit, uint64_t pool_touched)
{
    if (atomic_load(&vm->state) != VMM_STATE_RUNNING)
        return;
    if (vmm_vm_pause(vm)) {
        log_warn("VM '%s': could not pause it for memory: %s", vm->cfg->name, vmm_last_error());
        return;
    }
    log_warn("VM '%s' paused: %llu MiB of guest RAM committed, above the %s limit of %llu MiB",
             vm->cfg->name, (unsigned long long)(touched >> 20),
             what == VMM_MEMORY_POOL_EXHAUSTED ? "host pool's" : "VM's",
             (unsigned long long)(limit >> 20));
    emit_memory(vm, what, touched, limit, pool_touched);
}

/* One check point: each running VM against its own limit, then all of
 * them against the pool's. `asker` (may be NULL) counts as grown: it just
 * took pages back from its balloon. */
static void pool_check(vmm_host_t *h, struct vmm_vm *asker)
{
    /* Without overcommit the admission check already keeps the VMs'
     * configured RAM, and so what they can commit, within the limit: only
     * per-VM limits need looking at (and only their VMs measuring). */
    int pool_matters = vmm_host_memory_overcommit(h) > 1.0;
    int any_limit = 0;
    for (struct vmm_vm *vm = h->vms; vm && !any_limit; vm = vm->host_next)
        any_limit = vm->mem_limit != 0;
    if (!pool_matters && !any_limit)
        return;
    enum { MAX_CHECKED = 256 };
    struct vmm_vm *grown[MAX_CHECKED];
    uint64_t grown_touched[MAX_CHECKED];
    unsigned nr_grown = 0;
    uint64_t total = 0;
    for (struct vmm_vm *vm = h->vms; vm; vm = vm->host_next) {
        if (!vm_live(vm) || (!pool_matters && !vm->mem_limit))
            continue;
        uint64_t t = vm_touched(vm);
        total += t;
        int grew = t > vm->mem_last_touched || vm == asker;
        vm->mem_last_touched = t;
        if (atomic_load(&vm->state) != VMM_STATE_RUNNING)
            continue;
        if (vm->mem_limit && t > vm->mem_limit) {
            pause_for_memory(vm, VMM_MEMORY_LIMIT_REACHED, t, vm->mem_limit, 0);
            continue;
        }
        if (grew && nr_grown < MAX_CHECKED) {
            grown[nr_grown] = vm;
            grown_touched[nr_grown++] = t;
        }
    }
    uint64_t limit = vmm_host_memory_limit(h);
    if (!pool_matters || total <= limit)
        return;
    for (unsigned i = 0; i < nr_grown; i++)
        pause_for_memory(grown[i], VMM_MEMORY_POOL_EXHAUSTED, grown_touched[i], limit, total);
}

static void on_mem_timer(uv_timer_t *t)
{
    pool_check(t->data, NULL);
}

static void on_mem_timer_closed(uv_handle_t *handle)
{
    free(handle);
}

int host_vm_add(vmm_host_t *h, struct vmm_vm *vm)
{
    if (!h->mem_timer) {
        uv_timer_t *t = calloc(1, sizeof(*t));
        if (!t)
            return vmm_error(VMM_ENOMEM, "the host memory pool's check timer");
        uv_timer_init(h->loop, t);
        t->data = h;
        uv_timer_start(t, on_mem_timer, VMM_MEMORY_CHECK_MS, VMM_MEMORY_CHECK_MS);
        uv_unref((uv_handle_t *)t); /* the check alone keeps no loop alive */
        h->mem_timer = t;
    }
    vm->host_next = h->vms;
    h->vms = vm;
    return 0;
}

void host_vm_remove(vmm_host_t *h, struct vmm_vm *vm)
{
    for (struct vmm_vm **p = &h->vms; *p; p = &(*p)->host_next)
        if (*p == vm) {
            *p = vm->host_next;
            break;
        }
}

void host_mem_timer_close(vmm_host_t *h)
{
    if (!h->mem_timer)
        return;
    uv_timer_stop(h->mem_timer);
    uv_close((uv_handle_t *)h->mem_timer, on_mem_timer_closed);
    h->mem_timer = NULL;
}

uint64_t vmm_host_memory_touched(const vmm_host_t *h)
{
    uint64_t total = 0;
    if (!h)
        return 0;
    for (struct vmm_vm *vm = h->vms; vm; vm = vm->host_next)
        total += vm_touched(vm);
    return total;
}

/* --- events from the balloon --- */

void vm_memory_changed(void *opaque, unsigned what)
{
    struct vmm_vm *vm = opaque;
    atomic_fetch_or(&vm->mem_events, what);
    uv_async_send(&vm->wakeup);
}

void vm_memory_on_wakeup(struct vmm_vm *vm)
{
    unsigned what = atomic_exchange(&vm->mem_events, 0);
    if (!what)
        return;
    if (what & MACHINE_MEM_BALLOON_ACTUAL)
        emit_memory(vm, VMM_MEMORY_BALLOON, vm_touched(vm), 0, 0);
    if (what & MACHINE_MEM_BALLOON_STATS)
        emit_memory(vm, VMM_MEMORY_STATS, vm_touched(vm), 0, 0);
    /* A guest taking pages back asks for memory: check now. */
    if (what & MACHINE_MEM_BALLOON_DEFLATE)
        pool_check(vm->host, vm);
}

/* --- public calls --- */

static uint64_t stat_or_unset(const struct virtio_balloon_info *info, unsigned tag)
{
    return info->stats_valid & (1u << tag) ? info->stats[tag] : VMM_MEMSTAT_UNSET;
}

int vmm_vm_memory_stats(vmm_vm_t *vm, vmm_memory_stats_t *out)
{
    if (!vm || !out)
        return vmm_error(VMM_EINVAL, "vmm_vm_memory_stats: vm and out are required");
    vmm_memory_stats_t s;
    memset(&s, 0, sizeof(s));
    s.configured = vm->cfg->memory;
    guest_mem_usage(&vm->m.mem, &s.touched, &s.resident);
    s.limit = vm->mem_limit;
    s.stats_age_ms = VMM_MEMSTAT_UNSET;
    uint64_t *guest[VIRTIO_BALLOON_S_NR] = { &s.swap_in,     &s.swap_out,      &s.major_faults,
                                             &s.minor_faults, &s.free,         &s.total,
                                             &s.available,    &s.disk_caches,  &s.hugetlb_allocs,
                                             &s.hugetlb_failures };
    for (unsigned t = 0; t < VIRTIO_BALLOON_S_NR; t++)
        *guest[t] = VMM_MEMSTAT_UNSET;
    struct virtio_balloon *b = balloon_of(vm);
    if (b) {
        struct virtio_balloon_info info;
        virtio_balloon_info(b, &info);
        s.has_balloon = 1;
        s.balloon_driver = info.driver_ok;
        s.balloon_target = (uint64_t)info.target_pages * BALLOON_PAGE;
        s.ballooned = (uint64_t)info.actual_pages * BALLOON_PAGE;
        s.inflated = info.inflated_pages * BALLOON_PAGE;
        s.deflated = info.deflated_pages * BALLOON_PAGE;
        s.reported = info.reported_bytes;
        s.balloon_errors = info.errors;
        s.stats_updates = info.stats_updates;
        if (info.stats_updated_ms)
            s.stats_age_ms = clock_monotonic_ms() - info.stats_updated_ms;
        for (unsigned t = 0; t < VIRTIO_BALLOON_S_NR; t++)
            *guest[t] = stat_or_unset(&info, t);
    }
    return sized_copy_out(out, &s, sizeof(s), "vmm_memory_stats_t");
}

int vmm_vm_set_balloon_target(vmm_vm_t *vm, uint64_t guest_bytes)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_set_balloon_target: vm is required");
    struct virtio_balloon *b = balloon_of(vm);
    if (!b)
        return vmm_error(VMM_ENOTSUP, "VM '%s' has no balloon (<memballoon model='virtio'>)",
                         vm->cfg->name);
    int s = atomic_load(&vm->state);
    if (s == VMM_STATE_SHUTOFF || s == VMM_STATE_CRASHED)
        return vmm_error(VMM_ESTATE, "VM '%s' has ended", vm->cfg->name);
    uint64_t ram = vm->cfg->memory;
    if (guest_bytes > ram)
        return vmm_error(VMM_EINVAL,
                         "balloon target %llu bytes is above VM '%s''s memory of %llu bytes",
                         (unsigned long long)guest_bytes, vm->cfg->name, (unsigned long long)ram);
    if (guest_bytes < VMM_BALLOON_MIN_TARGET)
        return vmm_error(VMM_EINVAL, "balloon target %llu bytes is below the minimum of %llu bytes",
                         (unsigned long long)guest_bytes,
                         (unsigned long long)VMM_BALLOON_MIN_TARGET);
    guest_bytes &= ~(BALLOON_PAGE - 1);
    virtio_balloon_set_target(b, (uint32_t)((ram - guest_bytes) / BALLOON_PAGE));
    return 0;
}

uint64_t vmm_vm_balloon_target(const vmm_vm_t *vm)
{
    struct virtio_balloon *b = vm ? balloon_of(vm) : NULL;
    if (!vm)
        return 0;
    if (!b)
        return vm->cfg->memory;
    struct virtio_balloon_info info;
    virtio_balloon_info(b, &info);
    return vm->cfg->memory - (uint64_t)info.target_pages * BALLOON_PAGE;
}

int vmm_vm_balloon_request_stats(vmm_vm_t *vm)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_balloon_request_stats: vm is required");
    struct virtio_balloon *b = balloon_of(vm);
    if (!b)
        return vmm_error(VMM_ENOTSUP, "VM '%s' has no balloon (<memballoon model='virtio'>)",
                         vm->cfg->name);
    virtio_balloon_request_stats(b);
    return 0;
}

int vmm_vm_set_memory_limit(vmm_vm_t *vm, uint64_t bytes)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_set_memory_limit: vm is required");
    if (bytes & (BALLOON_PAGE - 1))
        return vmm_error(VMM_EINVAL, "memory limit %llu bytes is not a multiple of 4096",
                         (unsigned long long)bytes);
    vm->mem_limit = bytes;
    return 0;
}
