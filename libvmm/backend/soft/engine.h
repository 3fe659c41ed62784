/* The soft engine's per-VM state (m->engine_vm): the RV64GC harts, one per
 * vCPU, and nothing of the board: the riscv board (arch/riscv/board.c)
 * places the CLINT and PLIC and installs the SBI handler through the calls
 * below (arch sits above backend and may call down here).
 */
#ifndef LIBVMM_BACKEND_SOFT_ENGINE_H
#define LIBVMM_BACKEND_SOFT_ENGINE_H

#include "backend/soft/hart.h"

#define SOFT_MAX_VCPUS 32

struct soft_vm {
    struct machine *m;
    unsigned nr_harts;
    struct rv_hart *harts;   /* nr_harts entries */
    unsigned char *hart_ok;  /* hart i was initialised by vcpu_create */
    struct rv_hart_state *reset_state; /* each hart as created: what reset restores */
    struct rv_hart_hooks hooks;
    int deterministic;
    int no_jit; /* interpret (engine option) */
    uint64_t det_idle_ticks; /* deterministic SMP: the machine clock's skipped ticks */
};

/* Hart `id` of machine m (which runs the soft engine), or NULL when id is
 * out of range or not created. */
struct rv_hart *soft_hart(struct machine *m, uint64_t id);

/* Installs the handler of S-mode ECALLs (the SBI) for every hart. Before
 * any vCPU runs. */
void soft_set_sbi_handler(struct machine *m, int (*sbi_call)(struct rv_hart *h), void *opaque);

/* The hart running on the calling thread, or NULL (a read of the timer on
 * behalf of the reading hart: each hart's clock is its own in deterministic
 * mode). */
struct rv_hart *soft_current_hart(void);

#endif
