/* The small calls vm_hooks.h offers the control socket beside the
 * observers (vm_data.c) and the reset (vm.c). Loop thread. */
#include "core/vm_hooks.h"

#include <time.h>

#include "config/config.h"
#include "core/vm.h"
#include "util/error.h"

int vm_power_button(struct vmm_vm *vm)
{
    int state = atomic_load(&vm->state);
    if (state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running or paused", vm->cfg->name);
    struct machine *m = &vm->m;
    if (!m->power_button.press)
        return vmm_error(VMM_ENOTSUP,
                         "the %s board of VM '%s' has no power button the guest could see "
                         "(no ACPI or other standard button on this machine)",
                         vm->platform->arch, vm->cfg->name);
    return m->power_button.press(m->power_button.opaque);
}

int vm_vcpu_thread_id(struct vmm_vm *vm, unsigned index)
{
    if (index >= vm->m.nr_vcpus)
        return 0;
    int *tid = &vm->m.vcpus[index].host_tid;
    int state = atomic_load(&vm->state);
    /* A thread vcpu_threads_start() created may not have run yet: give it
     * up to ~50 ms to store its id. */
    for (int i = 0; i < 500 && index < vm->nr_threads && !__atomic_load_n(tid, __ATOMIC_RELAXED) &&
                    (state == VMM_STATE_RUNNING || state == VMM_STATE_PAUSED);
         i++) {
        struct timespec ts = { 0, 100000 };
        nanosleep(&ts, NULL);
    }
    return __atomic_load_n(tid, __ATOMIC_RELAXED);
}

const char *vm_arch(const struct vmm_vm *vm)
{
    return vm->platform->arch;
}
