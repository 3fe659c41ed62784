/* VM lifecycle: create, start, pause, resume, stop, destroy, and the loop
 * side of events. State changes happen on the loop thread only; vCPU threads
 * reach it through vm->wakeup. */
#include "core/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "core/vm_hooks.h"
#include "devices/host_device.h"
#include "config/cpu_features.h"
#include "config/cpuset.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sized.h"

static int is_final(int state)
{
    return state == VMM_STATE_SHUTOFF || state == VMM_STATE_CRASHED;
}

static void emit_state(struct vmm_vm *vm, vmm_state_t new_state)
{
    vmm_state_t old = (vmm_state_t)atomic_exchange(&vm->state, (int)new_state);
    if (old == new_state)
        return;
    if (!is_final(old) && is_final(new_state) && old != VMM_STATE_DEFINED) {
        vm->host->nr_active--;
        /* A VM that no longer runs must not keep the host's loop alive. */
        uv_unref((uv_handle_t *)&vm->wakeup);
    }
    if (vm->cb) {
        vmm_event_t ev = { .type = VMM_EVENT_STATE, .vm = vm };
        ev.u.state.old_state = old;
        ev.u.state.new_state = new_state;
        vm->cb(&ev, vm->cb_opaque);
    }
}

/* --- vCPU-thread side: console bytes and the outcome --- */

static void on_console_out(void *opaque, const uint8_t *buf, size_t len)
{
    struct vmm_vm *vm = opaque;
    if (vm->cfg->console == VMM_CONSOLE_NONE)
        return;
    pthread_mutex_lock(&vm->console_lock);
    if (vm->console_len + len > vm->console_cap) {
        size_t cap = vm->console_cap ? vm->console_cap : 4096;
        while (cap < vm->console_len + len)
            cap *= 2;
        /* Bound what a chatty guest can pile up while the loop is busy. */
        if (cap > (16u << 20)) {
            pthread_mutex_unlock(&vm->console_lock);
            return;
        }
        uint8_t *n = realloc(vm->console_buf, cap);
        if (!n) {
            pthread_mutex_unlock(&vm->console_lock);
            return;
        }
        vm->console_buf = n;
        vm->console_cap = cap;
    }
    memcpy(vm->console_buf + vm->console_len, buf, len);
    vm->console_len += len;
    pthread_mutex_unlock(&vm->console_lock);
    uv_async_send(&vm->wakeup);
}

static void on_outcome_set(void *opaque)
{
    struct vmm_vm *vm = opaque;
    pthread_mutex_lock(&vm->lock);
    pthread_cond_broadcast(&vm->cond); /* parked vCPUs must see STOP */
    pthread_mutex_unlock(&vm->lock);
    vcpu_threads_kick(vm);
    uv_async_send(&vm->wakeup);
}

static const struct machine_host_ops vm_host_ops = {
    .console_out = on_console_out,
    .outcome_set = on_outcome_set,
    .port_out = vm_ports_out,
    .port_state = vm_ports_state,
    .memory_changed = vm_memory_changed,
};

/* --- loop side --- */

static void flush_console(struct vmm_vm *vm)
{
    pthread_mutex_lock(&vm->console_lock);
    uint8_t *buf = vm->console_buf;
    size_t len = vm->console_len;
    vm->console_buf = NULL;
    vm->console_len = vm->console_cap = 0;
    pthread_mutex_unlock(&vm->console_lock);
    if (len && vm->cb) {
        vmm_event_t ev = { .type = VMM_EVENT_CONSOLE, .vm = vm };
        ev.u.console.data = buf;
        ev.u.console.len = len;
        vm->cb(&ev, vm->cb_opaque);
    }
    free(buf);
}

static int boot_guest(struct vmm_vm *vm);

/* The config's lifecycle action for how this run ended. */
static vmm_lifecycle_action_t action_for(const struct vmm_vm *vm, vmm_outcome_kind_t kind)
{
    switch (kind) {
    case VMM_OUTCOME_POWEROFF:
    case VMM_OUTCOME_DEBUG_EXIT: return vm->cfg->on_poweroff;
    case VMM_OUTCOME_RESET: return vm->cfg->on_reboot;
    case VMM_OUTCOME_CRASH: return vm->cfg->on_crash;
    default: return VMM_ACTION_DESTROY; /* the host's own stop is final */
    }
}

/* A restart is a reset of the same machine: every component (vCPUs,
 * interrupt controllers, devices) back to its power-on state, guest RAM
 * zeroed in place and the boot images loaded again, then new vCPU threads.
 * Memory stays mapped and the vCPU array stays allocated, so a thread
 * reading guest memory or vCPU counters meanwhile never touches freed
 * memory. With `paused` (a host reset of a paused VM) the new threads park
 * before running any guest code and the VM stays PAUSED. Returns 0, or an
 * error after which the VM is final (CRASHED with the reason). Loop
 * thread, every vCPU thread joined. */
static int restart_run(struct vmm_vm *vm, int paused)
{
    struct machine *m = &vm->m;
    vmm_outcome_t previous = m->outcome;
    vm->parked = vm->exited = 0;
    machine_clear_outcome(m);
    machine_reset_components(m);
    int rc = m->outcome_set ? vmm_error(VMM_EKVM, "%s", m->outcome.reason) : 0;
    if (!rc)
        rc = guest_mem_zero(&m->mem);
    if (!rc)
        rc = boot_guest(vm);
    if (!rc) {
        machine_vcpu_stats_clear(m);
        if (paused)
            atomic_store(&m->request, MACHINE_PAUSE);
        rc = vcpu_threads_start(vm);
    }
    if (!rc && paused) {
        /* PAUSED means every vCPU is parked: wait for the new threads. */
        pthread_mutex_lock(&vm->lock);
        while (vm->parked + vm->exited < vm->nr_threads)
            pthread_cond_wait(&vm->cond, &vm->lock);
        pthread_mutex_unlock(&vm->lock);
    }
    if (rc) {
        char why[256];
        snprintf(why, sizeof(why), "restart failed: %s", vmm_last_error());
        pthread_mutex_lock(&m->outcome_lock);
        m->outcome_set = 0; /* replace a reset failure's outcome with this one */
        pthread_mutex_unlock(&m->outcome_lock);
        machine_set_outcome(m, VMM_OUTCOME_CRASH, 0, "%s", why);
        vcpu_threads_join(vm);
        return rc;
    }
    vm->restarts++;
    if (vm->cb) {
        vmm_event_t ev = { .type = VMM_EVENT_RESTART, .vm = vm };
        ev.u.restart.previous = previous;
        ev.u.restart.count = vm->restarts;
        vm->cb(&ev, vm->cb_opaque);
    }
    return 0;
}

/* Once every vCPU thread has ended, the run is over: join, then restart or
 * go final as the config's lifecycle action says. */
static void finish_if_stopped(struct vmm_vm *vm)
{
    int state = atomic_load(&vm->state);
    if (state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return;
    pthread_mutex_lock(&vm->lock);
    int all_exited = vm->nr_threads && vm->exited == vm->nr_threads;
    pthread_mutex_unlock(&vm->lock);
    if (!all_exited)
        return;
    vcpu_threads_join(vm);
    flush_console(vm);
    int restart = state == VMM_STATE_RUNNING &&
                  action_for(vm, vm->m.outcome.kind) == VMM_ACTION_RESTART;
    /* A reset the host asked for (vm_reset) restarts whatever on_reboot says. */
    if (vm->host_reset && vm->m.outcome.kind == VMM_OUTCOME_RESET)
        restart = 1;
    vm->host_reset = 0;
    if (restart && restart_run(vm, state == VMM_STATE_PAUSED) == 0)
        return;
    emit_state(vm, vm->m.outcome.kind == VMM_OUTCOME_CRASH ? VMM_STATE_CRASHED
                                                            : VMM_STATE_SHUTOFF);
}

static void on_wakeup(uv_async_t *handle)
{
    struct vmm_vm *vm = handle->data;
    vm_embed_note_crash(vm); /* before a restart clears the outcome */
    flush_console(vm);
    vm_ports_flush(vm);
    vm_memory_on_wakeup(vm);
    finish_if_stopped(vm);
    vm_async_poll(vm);
}

/* --- create --- */

static int check_file(const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return vmm_error_errno(errno, "%s '%s'", what, path);
    if (!S_ISREG(st.st_mode))
        return vmm_error(VMM_EINVAL, "%s '%s' is not a regular file", what, path);
    return 0;
}

/* The VM's own config names its boot files by absolute path, as the host
 * process saw them when the VM was made: a later restart, snapshot or
 * domain XML does not depend on the working directory. */
static int absolute_paths(vmm_config_t *cfg)
{
    char **files[] = { &cfg->kernel, &cfg->initrd, &cfg->dtb, &cfg->loader };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *p = *files[i];
        if (!p || p[0] == '/')
            continue;
        char *abs = realpath(p, NULL);
        if (!abs)
            return vmm_error_errno(errno, "'%s'", p);
        free(p);
        *files[i] = abs;
    }
    return 0;
}

static int pick_platform(const vmm_config_t *cfg, const struct platform **out)
{
    if (strcmp(cfg->engine, VMM_ENGINE_KVM) == 0) {
        *out = &platform_x86_64;
    } else if (strcmp(cfg->engine, VMM_ENGINE_SOFT) == 0) {
        *out = &platform_riscv64;
    } else {
        *out = platform_for_kernel(cfg->kernel);
        if (!*out)
            return VMM_ENOENT;
    }
    return 0;
}

/* The engine's options from the config: <cpu><feature policy='disable'>
 * names become CPUID bits kvm hides; deterministic time for soft. */
static int engine_options_from(const vmm_config_t *cfg, struct engine_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->soft.deterministic = cfg->deterministic;
    opt->soft.no_jit = cfg->no_jit;
    unsigned n = vmm_config_cpu_disabled_count(cfg);
    for (unsigned i = 0; i < n; i++) {
        const char *name = vmm_config_cpu_disabled(cfg, i);
        const struct cpu_feature *f = cpu_feature_find(name);
        if (!f)
            return vmm_error(VMM_EINVAL, "CPU feature '%s' is unknown", name);
        if (opt->kvm.nr_cpuid_hide >= ENGINE_MAX_CPUID_HIDE)
            return vmm_error(VMM_EINVAL, "%u disabled CPU features exceed the limit of %d", n,
                             ENGINE_MAX_CPUID_HIDE);
        opt->kvm.cpuid_hide[opt->kvm.nr_cpuid_hide++] = (struct engine_cpuid_bit){
            f->leaf, f->subleaf, (uint8_t)f->reg, (uint8_t)f->bit };
    }
    return 0;
}

/* Loads the boot images into RAM and sets every vCPU's boot state. */
static int boot_guest(struct vmm_vm *vm)
{
    const vmm_config_t *cfg = vm->cfg;
    struct boot_spec spec = {
        .kernel = cfg->kernel,
        .initrd = cfg->initrd,
        .cmdline = cfg->cmdline ? cfg->cmdline : "",
        .firmware = cfg->loader,
        .dtb = cfg->dtb,
        .ram_size = cfg->memory,
        .nr_vcpus = cfg->vcpus,
    };
    return vm->platform->boot(&vm->m, &spec);
}

static int build_machine(struct vmm_vm *vm, const struct vm_restore_hooks *restore)
{
    const vmm_config_t *cfg = vm->cfg;
    const struct platform *p = vm->platform;
    const struct engine_ops *e = p->engine;
    struct machine *m = &vm->m;
    int rc;

    if ((rc = e->probe()))
        return rc;
    unsigned max = e->max_vcpus();
    if (cfg->vcpus > max)
        return vmm_error(VMM_EINVAL, "vcpus %u exceeds the %s engine's limit of %u on this host",
                         cfg->vcpus, e->name, max);
    struct engine_options opt;
    if ((rc = engine_options_from(cfg, &opt)))
        return rc;
    if ((rc = machine_init(m, cfg->vcpus)))
        return rc;
    m->ram_size = cfg->memory;
    m->host = &vm_host_ops;
    m->host_opaque = vm;
    if ((rc = p->layout_memory(m, cfg->memory)))
        return rc;
    /* A restore may back RAM by its file before the engine maps it. */
    if (restore && restore->memory && (rc = restore->memory(m, restore->ctx)))
        return rc;
    if ((rc = e->vm_create(m, &opt)))
        return rc;
    vm->engine_created = 1;
    for (unsigned i = 0; i < cfg->vcpus; i++)
        if ((rc = e->vcpu_create(m, i)))
            return rc;
    if ((rc = p->board_create(m, cfg)))
        return rc;
    /* The host program's own devices, after the board's so a clash names
     * the board device it hit. */
    for (unsigned i = 0; i < cfg->n_devices; i++)
        if ((rc = host_device_create(m, &cfg->devices[i])))
            return rc;
    /* A restored machine continues where it was saved instead of booting. */
    if (restore)
        return restore->load(m, restore->ctx);
    return boot_guest(vm);
}

/* Components first (they may reach the engine's state as they go), then
 * the engine, the board's own state, and memory and buses last. */
static void teardown_machine(struct vmm_vm *vm)
{
    struct machine *m = &vm->m;
    if (!m->vcpus)
        return;
    machine_destroy_components(m);
    if (vm->engine_created)
        vm->platform->engine->vm_destroy(m);
    vm->engine_created = 0;
    if (vm->platform->board_destroy)
        vm->platform->board_destroy(m);
    machine_destroy(m);
}

static void free_vm(struct vmm_vm *vm)
{
    vm_ports_set_live(vm, 0); /* devices going away deliver nothing more */
    teardown_machine(vm);
    vcpu_threads_release(vm);
    vm_ports_free(vm);
    pthread_mutex_destroy(&vm->lock);
    pthread_cond_destroy(&vm->cond);
    pthread_mutex_destroy(&vm->console_lock);
    free(vm->console_buf);
    vmm_config_free(vm->cfg);
    free(vm);
}

static void on_wakeup_closed(uv_handle_t *handle)
{
    free_vm(handle->data);
}

int vmm_vm_create(vmm_host_t *host, const vmm_config_t *cfg, vmm_vm_t **out)
{
    return vm_create_with(host, cfg, NULL, out);
}

int vm_create_with(vmm_host_t *host, const vmm_config_t *cfg, const struct vm_restore_hooks *restore,
                   vmm_vm_t **out)
{
    if (!host || !cfg || !out)
        return vmm_error(VMM_EINVAL, "vmm_vm_create: host, cfg and out are required");
    *out = NULL;
    if (!cfg->kernel)
        return vmm_error(VMM_EINVAL, "no kernel configured (vmm_config_set_kernel)");
    int rc = check_file(cfg->kernel, "kernel");
    if (rc)
        return rc;
    if (cfg->initrd && (rc = check_file(cfg->initrd, "initrd")))
        return rc;

    struct vmm_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return vmm_error(VMM_ENOMEM, "allocating a VM");
    vm->host = host;
    pthread_mutex_init(&vm->lock, NULL);
    pthread_cond_init(&vm->cond, NULL);
    pthread_mutex_init(&vm->console_lock, NULL);
    atomic_init(&vm->state, VMM_STATE_DEFINED);
    pthread_mutex_init(&vm->ports.lock, NULL);
    if ((rc = vmm_config_clone(cfg, &vm->cfg)) || (rc = absolute_paths(vm->cfg)) ||
        (rc = vm_ports_init(vm))) {
        free_vm(vm);
        return rc;
    }
    uint64_t hard_limit = vmm_config_memory_hard_limit(vm->cfg);
    if (hard_limit && vm->cfg->memory > hard_limit) {
        rc = vmm_error(VMM_ENOMEM,
                       "VM '%s' needs %llu bytes of RAM, above its memtune hard_limit of %llu bytes",
                       vm->cfg->name, (unsigned long long)vm->cfg->memory,
                       (unsigned long long)hard_limit);
        free_vm(vm);
        return rc;
    }
    if ((rc = pick_platform(vm->cfg, &vm->platform)) ||
        /* "auto" becomes the engine picked: the VM's config (its domain XML,
         * a snapshot's, a migration's) names the machine it really is. */
        (rc = config_set_string(&vm->cfg->engine, vm->platform->engine->name, "engine"))) {
        free_vm(vm);
        return rc;
    }
    uint64_t overhead = (uint64_t)vm->cfg->vcpus * vm->platform->engine->vcpu_overhead();
    if ((rc = host_pool_reserve(host, vm->cfg->memory, overhead, vm->cfg->name))) {
        free_vm(vm);
        return rc;
    }
    vm->pool_charge = vm->cfg->memory + overhead;
    if ((rc = build_machine(vm, restore))) {
        /* Keep the build error's message: freeing sets none. */
        host_pool_release(host, vm->pool_charge);
        free_vm(vm);
        return rc;
    }
    vm->mem_limit = hard_limit;
    if ((rc = host_vm_add(host, vm))) {
        host_pool_release(host, vm->pool_charge);
        free_vm(vm);
        return rc;
    }
    uv_async_init(host->loop, &vm->wakeup, on_wakeup);
    vm->wakeup.data = vm;
    vm_ports_set_live(vm, 1);
    uv_unref((uv_handle_t *)&vm->wakeup); /* only a running VM keeps the loop alive */
    host->nr_vms++;
    *out = vm;
    return 0;
}

/* --- lifecycle --- */

int vmm_vm_start(vmm_vm_t *vm)
{
    if (atomic_load(&vm->state) != VMM_STATE_DEFINED)
        return vmm_error(VMM_ESTATE, "VM '%s' can only be started once, from the defined state",
                         vm->cfg->name);
    if (vm->hold_paused)
        return vmm_error(VMM_EBUSY, "VM '%s' cannot start yet: %s", vm->cfg->name,
                         vm->hold_reason ? vm->hold_reason : "held");
    uv_ref((uv_handle_t *)&vm->wakeup);
    vm->host->nr_active++;
    int rc = vcpu_threads_start(vm);
    if (rc) {
        /* Threads already started must end before we report the failure. */
        machine_set_outcome(&vm->m, VMM_OUTCOME_CRASH, 0, "start failed: %s", vmm_last_error());
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", vmm_last_error());
        vcpu_threads_join(vm);
        vm->host->nr_active--;
        uv_unref((uv_handle_t *)&vm->wakeup);
        return vmm_error(rc, "%s", msg);
    }
    emit_state(vm, VMM_STATE_RUNNING);
    return 0;
}

int vmm_vm_pause(vmm_vm_t *vm)
{
    if (atomic_load(&vm->state) != VMM_STATE_RUNNING)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running", vm->cfg->name);
    pthread_mutex_lock(&vm->lock);
    if (!machine_request_pause(&vm->m)) {
        pthread_mutex_unlock(&vm->lock);
        return vmm_error(VMM_ESTATE, "VM '%s' is shutting down", vm->cfg->name);
    }
    pthread_cond_broadcast(&vm->cond); /* vCPUs held by a throttle see PAUSE */
    pthread_mutex_unlock(&vm->lock);
    vcpu_threads_kick(vm);
    pthread_mutex_lock(&vm->lock);
    while (vm->parked + vm->exited < vm->nr_threads)
        pthread_cond_wait(&vm->cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);
    if (atomic_load(&vm->m.request) != MACHINE_PAUSE)
        return vmm_error(VMM_ESTATE, "VM '%s' stopped while pausing", vm->cfg->name);
    emit_state(vm, VMM_STATE_PAUSED);
    return 0;
}

int vmm_vm_resume(vmm_vm_t *vm)
{
    if (atomic_load(&vm->state) != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is not paused", vm->cfg->name);
    if (vm->hold_paused)
        return vmm_error(VMM_EBUSY, "VM '%s' stays paused: %s", vm->cfg->name,
                         vm->hold_reason ? vm->hold_reason : "held");
    pthread_mutex_lock(&vm->lock);
    int expect = MACHINE_PAUSE;
    atomic_compare_exchange_strong(&vm->m.request, &expect, MACHINE_RUN);
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    vcpu_threads_resume(vm);
    emit_state(vm, VMM_STATE_RUNNING);
    /* If the guest ended while paused, the wakeup finishes the run. */
    finish_if_stopped(vm);
    return 0;
}

int vmm_vm_stop(vmm_vm_t *vm)
{
    int state = atomic_load(&vm->state);
    if (state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running or paused", vm->cfg->name);
    vm->host_reset = 0; /* a stop never restarts */
    machine_set_outcome(&vm->m, VMM_OUTCOME_STOPPED, 0, "stopped by the host");
    pthread_mutex_lock(&vm->lock);
    while (vm->exited < vm->nr_threads)
        pthread_cond_wait(&vm->cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);
    finish_if_stopped(vm);
    return 0;
}

void vmm_vm_destroy(vmm_vm_t *vm)
{
    if (!vm || vm_async_before_destroy(vm))
        return;
    for (int i = 0; i < VM_EXT_SLOTS; i++) {
        if (vm->ext[i].destroy)
            vm->ext[i].destroy(vm, vm->ext[i].opaque);
        vm->ext[i].destroy = NULL;
    }
    vm_observers_detach(vm); /* the control socket lets go of the VM */
    int state = atomic_load(&vm->state);
    if (state == VMM_STATE_RUNNING || state == VMM_STATE_PAUSED) {
        vm->cb = NULL; /* no events after destroy */
        vmm_vm_stop(vm);
    }
    host_pool_release(vm->host, vm->pool_charge);
    host_vm_remove(vm->host, vm);
    vm->host->nr_vms--;
    uv_close((uv_handle_t *)&vm->wakeup, on_wakeup_closed);
}

vmm_state_t vmm_vm_state(const vmm_vm_t *vm)
{
    return (vmm_state_t)atomic_load(&((vmm_vm_t *)vm)->state);
}

int vmm_vm_outcome(const vmm_vm_t *vm, vmm_outcome_t *out)
{
    if (!vm || !out)
        return vmm_error(VMM_EINVAL, "vmm_vm_outcome: vm and out are required");
    struct machine *m = (struct machine *)&vm->m;
    vmm_outcome_t full;
    pthread_mutex_lock(&m->outcome_lock);
    if (m->outcome_set && is_final(vmm_vm_state(vm)))
        full = m->outcome;
    else
        memset(&full, 0, sizeof(full));
    pthread_mutex_unlock(&m->outcome_lock);
    return sized_copy_out(out, &full, sizeof(full), "vmm_outcome_t");
}

int vmm_vm_console_write(vmm_vm_t *vm, const void *buf, size_t len)
{
    int state = atomic_load(&vm->state);
    if (state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running or paused", vm->cfg->name);
    if (!vm->m.console_in.receive)
        return vmm_error(VMM_ENOTSUP, "VM '%s' has no console device", vm->cfg->name);
    size_t n = machine_console_receive(&vm->m, buf, len);
    if (n < len)
        return vmm_error(VMM_EBUSY, "console input buffer full: %zu of %zu bytes taken (buffer %zu bytes)",
                         n, len, vm->m.console_in.buffer_size);
    return 0;
}

int vmm_vm_wait(vmm_vm_t *vm)
{
    while (!is_final(atomic_load(&vm->state))) {
        if (atomic_load(&vm->state) == VMM_STATE_DEFINED)
            return vmm_error(VMM_ESTATE, "VM '%s' was never started", vm->cfg->name);
        uv_run(vm->host->loop, UV_RUN_ONCE);
    }
    return (int)vm->m.outcome.kind;
}

const char *vmm_vm_engine(const vmm_vm_t *vm)
{
    return vm->platform->engine->name;
}

const vmm_config_t *vmm_vm_config(const vmm_vm_t *vm)
{
    return vm->cfg;
}

unsigned vmm_vm_vcpu_count(const vmm_vm_t *vm)
{
    return vm->m.nr_vcpus;
}

int vmm_vm_vcpu_stats(vmm_vm_t *vm, unsigned index, vmm_vcpu_stats_t *out)
{
    if (!vm || !out)
        return vmm_error(VMM_EINVAL, "vmm_vm_vcpu_stats: vm and out are required");
    if (index >= vm->m.nr_vcpus)
        return vmm_error(VMM_EINVAL, "vCPU index %u out of range (VM has %u)", index, vm->m.nr_vcpus);
    /* A full copy first (atomic loads), then as much of it as the caller's
     * struct holds. */
    vmm_vcpu_stats_t full;
    machine_vcpu_stats_read(&vm->m, index, &full);
    return sized_copy_out(out, &full, sizeof(full), "vmm_vcpu_stats_t");
}

int vmm_vm_vcpu_regs(vmm_vm_t *vm, unsigned index, vmm_vcpu_regs_t *out)
{
    if (!vm || !out)
        return vmm_error(VMM_EINVAL, "vmm_vm_vcpu_regs: vm and out are required");
    if (index >= vm->m.nr_vcpus)
        return vmm_error(VMM_EINVAL, "vCPU index %u out of range (VM has %u)", index, vm->m.nr_vcpus);
    if (atomic_load(&vm->state) == VMM_STATE_RUNNING)
        return vmm_error(VMM_ESTATE, "VM '%s' is running; pause it to read registers", vm->cfg->name);
    vmm_vcpu_regs_t full;
    memset(&full, 0, sizeof(full));
    int rc = vm->platform->engine->vcpu_get_regs(&vm->m, index, &full);
    return rc ? rc : sized_copy_out(out, &full, sizeof(full), "vmm_vcpu_regs_t");
}

int vmm_vm_vcpu_host_cpus(vmm_vm_t *vm, unsigned index, char *buf, size_t len)
{
    int state = atomic_load(&vm->state);
    if (state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running or paused", vm->cfg->name);
    cpu_set_t set;
    int rc = vcpu_thread_affinity(vm, index, &set);
    if (rc)
        return rc;
    config_cpuset_t cs;
    memset(&cs, 0, sizeof(cs));
    for (unsigned cpu = 0; cpu < VMM_CONFIG_MAX_HOST_CPUS && cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set))
            cs.bits[cpu / 64] |= 1ULL << (cpu % 64);
    char *text;
    if ((rc = cpuset_format(&cs, &text)))
        return rc;
    size_t need = strlen(text) + 1;
    if (need > len) {
        free(text);
        return vmm_error(VMM_ERANGE, "host CPU list needs %zu bytes, buffer has %zu", need, len);
    }
    memcpy(buf, text, need);
    free(text);
    return 0;
}

int vmm_vm_read_phys(vmm_vm_t *vm, uint64_t gpa, void *buf, size_t len)
{
    return guest_mem_read(&vm->m.mem, gpa, buf, len);
}

int vmm_vm_write_phys(vmm_vm_t *vm, uint64_t gpa, const void *buf, size_t len)
{
    return guest_mem_write(&vm->m.mem, gpa, buf, len);
}

/* vm_hooks.h: a reset the host asks for, through the restart path. */
int vm_reset(struct vmm_vm *vm)
{
    int state = atomic_load(&vm->state);
    if (state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running or paused", vm->cfg->name);
    int req = atomic_load(&vm->m.request);
    if (req == MACHINE_STOP)
        return vmm_error(VMM_ESTATE, "VM '%s' is shutting down", vm->cfg->name);
    if (vm->hold_paused) /* a restart zeroes the memory being read */
        return vmm_error(VMM_EBUSY, "VM '%s' cannot reset now: %s", vm->cfg->name,
                         vm->hold_reason ? vm->hold_reason : "held");
    vm->host_reset = 1;
    /* Wakes parked vCPUs and kicks running ones; the last one to end wakes
     * the loop, which restarts the run (finish_if_stopped). If the guest
     * recorded another outcome first, that one stands. */
    machine_set_outcome(&vm->m, VMM_OUTCOME_RESET, 0, VM_HOST_RESET_REASON);
    return 0;
}

/* For vm_async.c: the pause it completes changes the state like vmm_vm_pause(). */
void vm_emit_state(struct vmm_vm *vm, vmm_state_t new_state)
{
    emit_state(vm, new_state);
}
