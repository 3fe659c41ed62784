/* The engine interface core drives. An engine runs vCPUs of one
 * architecture: "kvm" (x86-64 on /dev/kvm) or "soft" (RV64GC in software),
 * and nothing else: boards (arch/) place the devices and interrupt
 * controllers. An engine sees the machine (memory, buses) and never core,
 * devices or arch.
 *
 * Call order, all from the loop thread except vcpu_run/vcpu_kick:
 *   probe -> (arch lays out m->mem) -> vm_create -> vcpu_create x N
 *   -> (the board adds its components, arch loads the guest and sets vCPU
 *      state) -> vcpu_run on each vCPU thread, repeatedly (pause/resume)
 *   -> vm_destroy
 * Every vCPU is a component (machine/component.h) named "cpu<index>" that
 * vcpu_create adds; an engine's in-kernel interrupt controller is one too.
 */
#ifndef LIBVMM_BACKEND_BACKEND_H
#define LIBVMM_BACKEND_BACKEND_H

#include <stdint.h>

#include "machine/component.h"
#include "machine/machine.h"
#include "vmm/vcpu.h"

/* A CPUID bit the guest must not see (kvm; from <cpu><feature
 * policy='disable'>). reg: 0 EAX, 1 EBX, 2 ECX, 3 EDX. */
struct engine_cpuid_bit {
    uint32_t leaf;
    uint32_t subleaf;
    uint8_t reg;
    uint8_t bit;
};

#define ENGINE_MAX_CPUID_HIDE 64

/* What the configuration asks of an engine, typed per engine. */
struct engine_options {
    struct {
        /* Guest time follows retired instructions, so a run repeats. */
        int deterministic;
        /* Interpret instead of translating (vmm_config_set_jit(cfg, 0)). */
        int no_jit;
    } soft;
    struct {
        struct engine_cpuid_bit cpuid_hide[ENGINE_MAX_CPUID_HIDE];
        int nr_cpuid_hide;
    } kvm;
};

struct engine_ops {
    const char *name; /* "kvm", "soft" */

    /* Can this host run the engine? 0, or VMM_ENOTSUP / VMM_EACCES with a
     * message (e.g. "/dev/kvm: No such file or directory"). */
    int (*probe)(void);

    /* Most vCPUs one VM may have on this host. */
    unsigned (*max_vcpus)(void);

    /* Creates the engine's VM state once m->mem is laid out; maps every RAM
     * region (KVM memory slots) and, for kvm, creates the in-kernel
     * interrupt controllers (component "kvm-irqchip", installed as m->irq).
     * `opt` is copied. */
    int (*vm_create)(struct machine *m, const struct engine_options *opt);

    /* Host memory one vCPU costs beyond guest RAM at most (caches the
     * engine keeps per vCPU), so the host pool can count it. */
    uint64_t (*vcpu_overhead)(void);

    /* Creates vCPU `index` (m->vcpus[index].engine) and adds its component
     * "cpu<index>": reset = the state it had when created, save/load = every
     * architectural register. */
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

    /* Optional (engines that count instructions): asks vCPU `index` to set
     * the machine's run request to PAUSE at the first point where it checks
     * for interrupts with at least `instructions` retired (0: cancel). Any
     * thread; returns VMM_ENOTSUP when absent. */
    int (*vcpu_pause_at)(struct machine *m, unsigned index, uint64_t instructions);

    /* Frees everything vm_create/vcpu_create made. Threads have ended. */
    void (*vm_destroy)(struct machine *m);
};

extern const struct engine_ops engine_kvm;
extern const struct engine_ops engine_soft;

#endif
