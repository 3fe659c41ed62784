/* The engine interface core drives. An engine runs vCPUs of one
 * architecture: "kvm" (x86-64 on /dev/kvm) or "soft" (RV64GC in software).
 * An engine sees the machine (memory, buses) and never core.
 *
 * Call order, all from the loop thread except vcpu_run/vcpu_kick/set_irq:
 *   probe -> (arch lays out m->mem) -> vm_create -> vcpu_create x N
 *   -> (core adds devices, arch loads the guest and sets vCPU state)
 *   -> vcpu_run on each vCPU thread, repeatedly (pause/resume)
 *   -> vm_destroy
 */
#ifndef LIBVMM_BACKEND_BACKEND_H
#define LIBVMM_BACKEND_BACKEND_H

#include "machine/machine.h"
#include "vmm/vcpu.h"

struct engine_ops {
    const char *name; /* "kvm", "soft" */

    /* Can this host run the engine? 0, or VMM_ENOTSUP / VMM_EACCES with a
     * message (e.g. "/dev/kvm: No such file or directory"). */
    int (*probe)(void);

    /* Most vCPUs one VM may have on this host. */
    unsigned (*max_vcpus)(void);

    /* Creates the engine's VM state once m->mem is laid out; maps every RAM
     * region (KVM memory slots) and creates the interrupt controller. */
    int (*vm_create)(struct machine *m);

    /* Creates vCPU `index` (m->vcpus[index].engine). */
    int (*vcpu_create)(struct machine *m, unsigned index);

    /* Runs the vCPU on the calling thread, dispatching I/O to m->pio /
     * m->mmio, until machine_should_exit(m). Returns 0; on a guest or engine
     * failure records a CRASH outcome with machine_set_outcome() first. */
    int (*vcpu_run)(struct machine *m, unsigned index);

    /* Makes vcpu_run() re-check machine_should_exit() promptly, even when
     * the vCPU is in guest mode or halted. Any thread. */
    void (*vcpu_kick)(struct machine *m, unsigned index);

    /* Reads registers of a vCPU that is not running. */
    int (*vcpu_get_regs)(struct machine *m, unsigned index, vmm_vcpu_regs_t *out);

    /* Drives interrupt line `irq` to `level` (0/1). Any thread. */
    int (*set_irq)(struct machine *m, unsigned irq, int level);

    /* Frees everything vm_create/vcpu_create made. Threads have ended. */
    void (*vm_destroy)(struct machine *m);
};

extern const struct engine_ops engine_kvm;
extern const struct engine_ops engine_soft;

#endif
