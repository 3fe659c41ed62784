/* A kvm VM's vCPU threads in a cgroup of their own, so the host kernel's
 * scheduler applies the VM's <cputune> (the soft engine has its own
 * scheduler, core/sched.h). Laid out as libvirt does:
 *
 *   <parent>/libvmm-<pid>-<vm name>-<n>/        weight (shares), global cap
 *   <parent>/libvmm-<pid>-<vm name>-<n>/vcpu<i>/ per-vCPU cap, thread i
 *
 * cgroup v2 when its hierarchy has the cpu controller (threaded subtree:
 * cpu.weight, cpu.max), else the v1 cpu hierarchy (cpu.shares,
 * cpu.cfs_period_us, cpu.cfs_quota_us). <parent> is the process's own
 * cgroup in that hierarchy unless the host program chose another
 * (vmm_host_set_cgroup_parent). Every failure names the path it could not
 * create or write; nothing is silently ignored. Loop thread. */
#ifndef LIBVMM_CORE_CGROUP_H
#define LIBVMM_CORE_CGROUP_H

#include "vmm/config.h"

struct vm_cgroup;

/* True when the config asks for anything a cgroup must enforce. */
int vm_cgroup_wanted(const vmm_config_t *cfg);

/* Creates the VM's cgroup and its vCPU children and applies the config.
 * parent NULL: the process's own cgroup. VMM_ENOTSUP when no hierarchy
 * has the cpu controller, VMM_EACCES / VMM_EIO naming the path otherwise. */
int vm_cgroup_create(const char *parent, const char *vm_name, unsigned nr_vcpus,
                     const vmm_config_t *cfg, struct vm_cgroup **out);
/* Moves thread `tid` (vCPU `vcpu`'s) into the VM's cgroup. */
int vm_cgroup_add_thread(struct vm_cgroup *cg, unsigned vcpu, int tid);
/* Writes shares, quota and global quota from the config. */
int vm_cgroup_apply(struct vm_cgroup *cg, const vmm_config_t *cfg);
/* The VM's cgroup directory. */
const char *vm_cgroup_path(const struct vm_cgroup *cg);
/* Removes the directories (the threads must have ended) and frees. */
void vm_cgroup_destroy(struct vm_cgroup *cg);

#endif
