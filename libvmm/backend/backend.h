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

#include <stdatomic.h>
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

/* One time slice of a vCPU on a scheduler worker (core/sched.c), for
 * engines that can give the thread back mid-run (vcpu_run_slice). */
struct engine_slice {
    /* in: CLOCK_MONOTONIC ns at which the slice ends. Other threads may
     * lower it while the vCPU runs (preemption); the engine re-reads it at
     * its block boundaries. */
    _Atomic uint64_t end_ns;
    /* in: retired-instruction count (the vCPU's stats.instructions) at which
     * the slice ends, 0 for none: the fixed quanta of deterministic mode. */
    uint64_t insn_end;
    /* out (ENGINE_YIELD_BLOCK): CLOCK_MONOTONIC ns at which a timer the
     * guest armed wakes the vCPU, UINT64_MAX for none. */
    uint64_t wake_ns;
};

/* Why vcpu_run_slice returned. */
enum engine_yield {
    ENGINE_YIELD_EXIT = 0,  /* machine_should_exit(m) */
    ENGINE_YIELD_SLICE = 1, /* end_ns or insn_end reached: runnable still */
    ENGINE_YIELD_BLOCK = 2, /* waiting for an interrupt (WFI, HSM-stopped) until wake_ns
                             * or machine_vcpu_wake() */
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

    /* Optional (soft): runs the vCPU on the calling thread for at most one
     * slice and returns an enum engine_yield, or a negative error after a
     * CRASH outcome. Instead of sleeping in WFI it returns BLOCK; the
     * engine calls machine_vcpu_wake() whenever a vCPU may have become
     * runnable (interrupt, IPI, kick). Engines with it are run by the
     * host's scheduler pool; the others get one thread per vCPU. */
    int (*vcpu_run_slice)(struct machine *m, unsigned index, struct engine_slice *slice);

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
