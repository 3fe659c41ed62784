/* One RV64GC hart of the soft engine: the contract between the CPU core
 * (decode, execute, CSRs, traps, shadow MMU, FPU — backend/soft/cpu*.c,
 * mmu.c, fpu.c) and the rest of the engine (backend/soft/engine.c and the
 * riscv platform: CLINT, PLIC, SBI, boot — arch/riscv/).
 *
 * The CPU core may add fields to struct rv_hart; the functions and fields
 * named here are the interface and keep their meaning.
 */
#ifndef LIBVMM_BACKEND_SOFT_HART_H
#define LIBVMM_BACKEND_SOFT_HART_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "backend/machine.h"

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
     * (SRST) or start/stop other harts (HSM). */
    int (*sbi_call)(struct rv_hart *h);
    void *opaque; /* platform state (e.g. struct rv_platform *) */
};

struct rv_hart {
    /* --- architectural state --- */
    uint64_t x[32];        /* x[0] is always 0 */
    uint64_t pc;
    uint64_t f[32];        /* FP registers, NaN-boxed singles */
    int priv;              /* RV_PRIV_* */

    /* --- interrupt inputs, written by other threads (CLINT, PLIC, IPIs) --- */
    /* Bits OR'ed into mip by devices: MSIP (CLINT msip), MEIP/SEIP (PLIC).
     * Use rv_hart_set_irq(); the CPU core reads it at block boundaries. */
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
    int sbi_in_vmm;  /* 1: S-mode boot, ECALL from S is an SBI hypercall
                      * handled by hooks->sbi_call; 0: M-mode firmware runs */

    /* HSM: a stopped hart sleeps in rv_hart_run until started. */
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

/* Sets or clears `bits` in mip_ext and wakes the hart if it waits. Any thread. */
void rv_hart_set_irq(struct rv_hart *h, uint64_t bits, int level);

/* Wakes the hart from WFI / HSM-stop so it re-checks interrupts and the run
 * request. Any thread. */
void rv_hart_kick(struct rv_hart *h);

/* Current guest time in RV_TIMEBASE_HZ ticks: host monotonic clock, or, in
 * deterministic mode (h->m->deterministic), derived from instructions
 * retired by hart 0... (the CPU core defines the exact rule and documents it). */
uint64_t rv_hart_time(struct rv_hart *h);

/* Invalidates every hart's shadow TLB / decode cache entries for a change of
 * the guest-physical map or an RFENCE from another hart (called by SBI
 * RFENCE on the target harts' behalf: sets a flag each target honours at its
 * next block boundary). */
void rv_hart_request_flush(struct rv_hart *h, int icache);

/* Fills a public register view. */
void rv_hart_get_regs(const struct rv_hart *h, vmm_vcpu_regs_t *out);

#endif
