/* One RV64GC hart of the soft engine: the contract between the CPU core
 * (decode, execute, CSRs, traps, shadow MMU, FPU — backend/soft/cpu*.c,
 * mmu.c, fpu.c) and the rest of the engine (backend/soft/engine.c and the
 * riscv platform: CLINT, PLIC, SBI, boot — arch/riscv/).
 *
 * The CPU core may add fields to struct rv_hart; the functions and fields
 * named here are the interface and keep their meaning.
 *
 * Inside the core (backend/soft/cpu.h): RV64IMAFDC + Zicsr + Zifencei with
 * M/S/U, Sv39/Sv48, a decoded-instruction cache keyed by guest-physical page
 * (exec.c) and the library's shadow page table — a per-hart software TLB
 * from guest-virtual pages to host pointers (mmu.c). Misaligned loads and
 * stores are performed, misaligned AMOs trap. ASIDs are 16 bits.
 */
#ifndef LIBVMM_BACKEND_SOFT_HART_H
#define LIBVMM_BACKEND_SOFT_HART_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "machine/machine.h"

/* Privilege levels. */
#define RV_PRIV_U 0
#define RV_PRIV_S 1
#define RV_PRIV_M 3

/* mip / mie bits. */
#define RV_IRQ_SSIP (1ULL << 1)
#define RV_IRQ_MSIP (1ULL << 3)
#define RV_IRQ_STIP (1ULL << 5)
#define RV_IRQ_MTIP (1ULL << 7)
#define RV_IRQ_SEIP (1ULL << 9)
#define RV_IRQ_MEIP (1ULL << 11)

/* Guest timebase: mtime / the `time` CSR tick at 10 MHz (as QEMU virt). */
#define RV_TIMEBASE_HZ 10000000ULL

struct rv_hart;

/* Hooks the platform provides (arch/riscv). All run on the hart's thread. */
struct rv_hart_hooks {
    /* ECALL from S-mode while hart->sbi_in_vmm is set: the guest's hypercall.
     * Reads a7/a6/a0.. from h->x[], writes a0/a1, and returns 0 (the CPU core
     * then advances pc past the ecall). It may call machine_set_outcome()
     * (SRST) or start/stop other harts (HSM). A positive return means the
     * hook set h->pc itself; negative values are treated like 0. After the
     * call the core re-checks HSM state, flush requests and interrupts. */
    int (*sbi_call)(struct rv_hart *h);
    void *opaque; /* platform state (e.g. struct rv_platform *) */
};

struct rv_hart {
    /* --- architectural state --- */
    uint64_t x[33];        /* x[0] is always 0; x[32] is not architectural: the
                            * interpreter's sink for results written to x0 */
    uint64_t pc;
    uint64_t f[32];        /* FP registers, NaN-boxed singles */
    int priv;              /* RV_PRIV_* */

    /* --- interrupt inputs, written by other threads (CLINT, PLIC, IPIs) --- */
    /* Bits OR'ed into mip by devices: MSIP (CLINT msip), MEIP/SEIP (PLIC).
     * Use rv_hart_set_irq(); the CPU core reads it at block boundaries.
     * SSIP is the exception: raising it (an SBI IPI) sets the guest's
     * software-writable mip.SSIP once, which the guest then clears itself
     * (csrc sip), as with an IPI delivered by M-mode firmware. */
    _Atomic uint64_t mip_ext;
    /* CLINT mtimecmp for this hart; MTIP is pending while time >= mtimecmp. */
    _Atomic uint64_t mtimecmp;
    /* SBI TIME timer (no M-mode firmware): STIP pending while time >= it. */
    _Atomic uint64_t sbi_timecmp;

    /* --- wiring --- */
    unsigned hartid;
    struct machine *m;              /* memory, buses, run request */
    struct machine_vcpu *vcpu;      /* stats (written by this thread only) */
    const struct rv_hart_hooks *hooks;
    int deterministic; /* guest time from retired instructions (engine option) */
    int jit;           /* 1: run translated code (backend/soft/jit), interpreting
                        * code until it proves hot; 2: translate all code at
                        * once (tests); 0: interpret; rv_hart_init sets the
                        * default (rv_jit_default) */
    /* Pause the machine at the first block end with this many instructions
     * retired (0: never); rv_hart_pause_at(). */
    _Atomic uint64_t pause_at;
    /* Deterministic mode with several harts: one clock for the machine,
     * from the instructions all of them retired (the scheduler runs them
     * one at a time, so the sum is the same at the same point of every
     * run) plus the ticks WFI skipped, kept in *det_idle_ticks. Set by the
     * engine; NULL for a single hart, whose clock is its own. */
    struct rv_hart *det_peers;
    unsigned det_nr_peers;
    uint64_t *det_idle_ticks;
    /* Deterministic SMP: waiting in WFI until this machine time (ticks;
     * UINT64_MAX: no timer), 0 while not waiting. Time jumps only when
     * every hart waits: a waiting hart must not race the clock ahead of
     * one that works. */
    uint64_t det_wait_until;
    int sbi_in_vmm;  /* 1: S-mode boot, ECALL from S is an SBI hypercall
                      * handled by hooks->sbi_call; 0: M-mode firmware runs */

    /* HSM: a stopped hart sleeps in rv_hart_run until started. Setting 2
     * (then rv_hart_kick) starts it at hsm_start_pc in S-mode with a0 =
     * hartid, a1 = hsm_start_opaque, satp = 0, SIE = 0; the core then sets 0. */
    _Atomic int hsm_state;  /* 0 started, 1 stopped, 2 start pending */
    uint64_t hsm_start_pc, hsm_start_opaque;

    /* WFI parking: the hart waits here until an interrupt or a kick. */
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;

    void *cpu; /* the CPU core's private state (decode cache, TLB, CSRs) */
};

/* Initialises a hart in reset state (M-mode, pc = 0x1000 like QEMU's reset
 * vector) for machine m. Returns 0 or VMM_ENOMEM. */
int rv_hart_init(struct rv_hart *h, struct machine *m, unsigned hartid,
                 const struct rv_hart_hooks *hooks);
void rv_hart_destroy(struct rv_hart *h);

/* Sets the boot state: pc, a0, a1, privilege (S for direct Linux boot with
 * sbi_in_vmm = 1; M for firmware with sbi_in_vmm = 0). */
void rv_hart_set_boot(struct rv_hart *h, uint64_t pc, uint64_t a0, uint64_t a1, int priv,
                      int sbi_in_vmm);

/* Runs the hart on the calling thread until machine_should_exit(h->m).
 * Parks in WFI (and while HSM-stopped) without spinning. Returns 0. */
int rv_hart_run(struct rv_hart *h);

/* Runs the hart for at most one scheduler slice (backend.h): until
 * slice->end_ns (re-read at block boundaries, so another thread may lower
 * it), slice->insn_end retired instructions, a WFI without a pending
 * interrupt or an HSM stop (ENGINE_YIELD_BLOCK, wake-up time in
 * slice->wake_ns), or machine_should_exit() (ENGINE_YIELD_EXIT). Never
 * sleeps. Returns an enum engine_yield. */
struct engine_slice;
int rv_hart_run_slice(struct rv_hart *h, struct engine_slice *slice);

/* Sets or clears `bits` in mip_ext and wakes the hart if it waits. Any thread. */
void rv_hart_set_irq(struct rv_hart *h, uint64_t bits, int level);

/* Wakes the hart from WFI / HSM-stop so it re-checks interrupts and the run
 * request. Any thread. */
void rv_hart_kick(struct rv_hart *h);
/* The hart pauses its machine (run request PAUSE; every hart is kicked) at
 * the first block end where it has retired at least `instructions`; 0
 * cancels. Block ends depend only on the instructions run, so in
 * deterministic mode the pause lands on the same instruction in every run,
 * and a run saved there and restored continues exactly as one that went
 * straight on (the interrupt check at that block end happens after the
 * restore, as it would have). Any thread. */
void rv_hart_pause_at(struct rv_hart *h, uint64_t instructions);

/* Current guest time in RV_TIMEBASE_HZ ticks: host CLOCK_MONOTONIC since
 * the machine's first hart was initialised, or, in deterministic mode
 * (h->deterministic), instructions retired by this hart / 10 plus the
 * ticks WFI skipped (WFI with an enabled timer jumps time to its deadline
 * instead of sleeping). Any thread (a racy but sane read from others). */
uint64_t rv_hart_time(struct rv_hart *h);

/* Invalidates every hart's shadow TLB / decode cache entries for a change of
 * the guest-physical map or an RFENCE from another hart (called by SBI
 * RFENCE on the target harts' behalf: sets a flag each target honours at its
 * next block boundary). The whole TLB is flushed; icache != 0 also empties
 * the decode cache. Called on another hart's thread (an SBI call), it
 * returns only once the target has flushed or is parked (WFI/stopped,
 * where it flushes before running again), so a remote fence is complete
 * when the SBI call returns. Called on the target's own thread it flushes
 * at once. Any thread. */
void rv_hart_request_flush(struct rv_hart *h, int icache);

/* Has hart h drop its whole shadow TLB and waits until it has (or is
 * parked: it flushes before it runs again). From a thread that is not a
 * hart's (dirty logging). */
void rv_hart_flush_wait(struct rv_hart *h);

/* Fills a public register view. */
void rv_hart_get_regs(const struct rv_hart *h, vmm_vcpu_regs_t *out);

/* Everything architectural about a hart, for snapshots and migration
 * (backend/soft/cpu_state.c). Plain integers only, so a snapshot writer can
 * serialise it field by field. Caches (shadow TLB, decoded instructions,
 * LR reservation) are not state: a load starts them empty. */
struct rv_hart_state {
    uint64_t x[32], f[32], pc;
    int32_t priv;        /* RV_PRIV_U/S/M */
    int32_t sbi_in_vmm;
    uint64_t mstatus, medeleg, mideleg, mie, mip; /* mip: software-set bits */
    uint64_t mtvec, stvec, mepc, sepc, mcause, scause, mtval, stval;
    uint64_t mscratch, sscratch, satp, mcounteren, scounteren;
    uint32_t fflags, frm;
    uint64_t mip_ext, mtimecmp, sbi_timecmp;
    int32_t hsm_state;
    uint64_t hsm_start_pc, hsm_start_opaque;
    uint64_t time;    /* rv_hart_time() when saved: a load continues from it */
    uint64_t instret; /* instructions retired (deterministic time) */
    uint64_t mcycle_offset, minstret_offset; /* guest writes of mcycle/minstret */
};

/* Copies the hart's state. The hart must not be running (PAUSED VM), nor
 * any other hart of its machine: out->time is the machine's time at the
 * pause, the same for every hart (the latest of their stop times). */
void rv_hart_save(struct rv_hart *h, struct rv_hart_state *out);

/* Replaces the hart's state with *s after checking it (privilege, satp
 * mode, HSM state): VMM_EINVAL naming the bad field, hart unchanged. Guest
 * time then continues from s->time, for every hart of the machine (guest
 * time is one clock; outside deterministic mode the load re-bases the
 * other harts too). No hart of the machine may be running. */
int rv_hart_load(struct rv_hart *h, const struct rv_hart_state *s);

/* The latest guest time another hart of h's machine stopped at or was
 * loaded with, 0 if none (or in deterministic mode). A state stream's
 * harts come one after the other: loading each at no earlier than this
 * leaves the machine's one clock at the latest of their times (hart
 * sections from before saves recorded one time differ). No hart of the
 * machine may be running. */
uint64_t rv_hart_peers_stop_time(struct rv_hart *h);

#endif
