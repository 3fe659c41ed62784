/* `vmmctl run A.xml B.xml ...`: several domains in one libvmm host (one
 * scheduler pool, one memory pool). */
#ifndef VMMCTL_MULTI_H
#define VMMCTL_MULTI_H

#include <vmm/vmm.h>

/* Creates and starts a VM for every domain file (all or none start), shows
 * each console line on stdout prefixed "[NAME] ", and returns once every
 * VM has ended: the exit status of the first VM to end with a non-zero
 * one (status_of maps a VM's outcome to vmmctl's exit status), else 0.
 * workers: the scheduler pool's size (0: one per host CPU). Stdin is not
 * forwarded (several consoles). */
int vmmctl_run_many(char *const *paths, int n, unsigned workers, int (*status_of)(vmm_vm_t *vm));

#endif
