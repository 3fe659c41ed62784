/* The soft engine's per-VM state (m->engine_vm): the harts and the
 * interrupt controllers they share. The riscv platform (boot, SBI) reaches
 * the harts through it.
 */
#ifndef LIBVMM_BACKEND_SOFT_ENGINE_H
#define LIBVMM_BACKEND_SOFT_ENGINE_H

#include "arch/riscv/clint.h"
#include "arch/riscv/plic.h"
#include "backend/soft/hart.h"

#define SOFT_MAX_VCPUS 32

struct soft_vm {
    struct machine *m;
    unsigned nr_harts;
    struct rv_hart *harts;   /* nr_harts entries */
    unsigned char *hart_ok;  /* hart i was initialised by vcpu_create */
    struct clint clint;
    struct plic plic;
    struct rv_hart_hooks hooks;
    pthread_mutex_t hsm_lock; /* serialises SBI HSM start/stop */
};

/* The soft engine state of machine m (NULL when m runs another engine). */
struct soft_vm *soft_vm_of(struct machine *m);

/* Hart `id` of the VM, or NULL when id is out of range or not created. */
struct rv_hart *soft_vm_hart(struct soft_vm *sv, uint64_t id);

#endif
