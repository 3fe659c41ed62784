/* CPU tuning of a VM at run time (vmm_vm_set_cpu_*): the VM's config takes
 * the new values (its checks are the API's), then the scheduler group
 * (soft) or the cgroup (kvm) applies them. A value the cgroup refuses
 * leaves the config as it was. Loop thread. */
#include "config/config.h"
#include "core/cgroup.h"
#include "core/sched.h"
#include "core/vm.h"
#include "util/error.h"

/* kvm: the running VM's cgroup takes the config (made now if the VM had
 * no tuning before). */
static int apply_cgroup(struct vmm_vm *vm)
{
    if (vm->cgroup)
        return vm_cgroup_apply(vm->cgroup, vm->cfg);
    int rc = vcpu_threads_cgroup(vm);
    if (rc) {
        vm_cgroup_destroy(vm->cgroup);
        vm->cgroup = NULL;
    }
    return rc;
}

int vmm_vm_set_cpu_shares(vmm_vm_t *vm, unsigned shares)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_set_cpu_shares: vm is NULL");
    unsigned old = vmm_config_cpu_shares(vm->cfg);
    int rc = vmm_config_set_cpu_shares(vm->cfg, shares);
    if (!rc && (rc = apply_cgroup(vm)))
        vmm_config_set_cpu_shares(vm->cfg, old);
    if (!rc && vm->sched)
        sched_group_set_shares(vm->sched, shares);
    return rc;
}

int vmm_vm_set_cpu_quota(vmm_vm_t *vm, uint64_t period_us, int64_t quota_us)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_set_cpu_quota: vm is NULL");
    uint64_t old_p = vmm_config_cpu_period(vm->cfg);
    int64_t old_q = vmm_config_cpu_quota(vm->cfg);
    int rc = vmm_config_set_cpu_quota(vm->cfg, period_us, quota_us);
    if (!rc && (rc = apply_cgroup(vm)))
        vmm_config_set_cpu_quota(vm->cfg, old_p, old_q);
    if (!rc && vm->sched)
        sched_group_set_quota(vm->sched, period_us, quota_us);
    return rc;
}

int vmm_vm_set_cpu_global_quota(vmm_vm_t *vm, uint64_t period_us, int64_t quota_us)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_set_cpu_global_quota: vm is NULL");
    uint64_t old_p = vmm_config_cpu_global_period(vm->cfg);
    int64_t old_q = vmm_config_cpu_global_quota(vm->cfg);
    int rc = vmm_config_set_cpu_global_quota(vm->cfg, period_us, quota_us);
    if (!rc && (rc = apply_cgroup(vm)))
        vmm_config_set_cpu_global_quota(vm->cfg, old_p, old_q);
    if (!rc && vm->sched)
        sched_group_set_global_quota(vm->sched, period_us, quota_us);
    return rc;
}
