/* Saving and loading a hart's architectural state (snapshots, migration).
 *
 * Guest time is one clock for the whole machine, as on a board with one
 * mtime. Linux relies on it: the hart that accumulates time remembers the
 * `time` value it read, and a hart whose clock is behind that value gets a
 * negative interval, which timekeeping_advance() takes for an unsigned
 * count of ~2^64 ticks and works through one second at a time, for ever,
 * with interrupts off (a restored 2-hart guest whose idle hart hung there
 * ran its shell loop on but never took console input again). The harts of
 * a running machine share one base (cpu.c); a save and a load keep it one:
 * every hart records the same time, and every load re-bases all harts
 * (a state stream's hart sections load at the latest of their times:
 * hart_component.c, rv_hart_peers_stop_time).
 */
#include <string.h>
#include <time.h>

#include "backend/soft/cpu.h"
#include "util/error.h"

/* The i-th other hart of h's machine, or NULL (h itself, a vCPU without a
 * hart, or h has no machine). The harts are the machine's vCPUs' engine
 * state (engine.c). Only while no hart runs: reads and writes their time
 * fields. */
static struct rv_hart *clock_peer(struct rv_hart *h, unsigned i)
{
    if (!h->m || !h->m->vcpus || i >= h->m->nr_vcpus)
        return NULL;
    struct rv_hart *p = h->m->vcpus[i].engine;
    return p && p != h && p->cpu && p->m == h->m ? p : NULL;
}

static unsigned nr_clock_peers(const struct rv_hart *h)
{
    return h->m && h->m->vcpus ? h->m->nr_vcpus : 0;
}

/* Guest time when h stopped (paused VM). A hart that did not leave a run
 * for the pause stops here, now: one whose slice ended (time up, or WFI)
 * just before the pause request, which the scheduler then parks without
 * running it again (core/sched.c slice_end), or one that never ran. Its
 * clock would otherwise go on between the saves of one pause, and its
 * peers' saves, earlier or later, would record another time than its own. */
static uint64_t stop_time(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    if (!c->time_stopped_valid) {
        c->time_stopped = rv_hart_time(h);
        c->time_stopped_valid = 1;
    }
    return c->time_stopped;
}

/* The machine's time at the pause, the same for each hart's save: the
 * harts stop one after the other (a running hart at its next block end, a
 * hart blocked in WFI once woken for the pause, a hart parked between two
 * slices only at the save: stop_time), the more so on a loaded host, so
 * each one's stop time differs. The latest of them: no hart's clock goes
 * back on a load; the others skip the moments between their own stop and
 * it, as if paused that much longer. Deterministic time is the machine's
 * already (retired instructions), and stays as it is. */
static uint64_t machine_stop_time(struct rv_hart *h)
{
    if (h->deterministic) {
        const struct rv_cpu *c = rv_cpu(h);
        return c->time_stopped_valid ? c->time_stopped : rv_hart_time(h);
    }
    uint64_t t = stop_time(h);
    for (unsigned i = 0; i < nr_clock_peers(h); i++) {
        struct rv_hart *p = clock_peer(h, i);
        if (p && !p->deterministic) {
            uint64_t pt = stop_time(p);
            if (pt > t)
                t = pt;
        }
    }
    return t;
}

uint64_t rv_hart_peers_stop_time(struct rv_hart *h)
{
    uint64_t t = 0;
    for (unsigned i = 0; !h->deterministic && i < nr_clock_peers(h); i++) {
        struct rv_hart *p = clock_peer(h, i);
        if (p && !p->deterministic && rv_cpu(p)->time_stopped_valid &&
            rv_cpu(p)->time_stopped > t)
            t = rv_cpu(p)->time_stopped;
    }
    return t;
}

void rv_hart_save(struct rv_hart *h, struct rv_hart_state *out)
{
    const struct rv_cpu *c = rv_cpu(h);
    memset(out, 0, sizeof(*out));
    memcpy(out->x, h->x, sizeof(out->x));
    out->x[0] = 0;
    memcpy(out->f, h->f, sizeof(out->f));
    out->pc = h->pc;
    out->priv = h->priv;
    out->sbi_in_vmm = h->sbi_in_vmm;
    out->mstatus = c->mstatus;
    out->medeleg = c->medeleg;
    out->mideleg = c->mideleg;
    out->mie = c->mie;
    out->mip = c->mip;
    out->mtvec = c->mtvec;
    out->stvec = c->stvec;
    out->mepc = c->mepc;
    out->sepc = c->sepc;
    out->mcause = c->mcause;
    out->scause = c->scause;
    out->mtval = c->mtval;
    out->stval = c->stval;
    out->mscratch = c->mscratch;
    out->sscratch = c->sscratch;
    out->satp = c->satp;
    out->mcounteren = c->mcounteren;
    out->scounteren = c->scounteren;
    out->fflags = c->fflags;
    out->frm = c->frm;
    out->mip_ext = atomic_load(&h->mip_ext);
    out->mtimecmp = atomic_load(&h->mtimecmp);
    out->sbi_timecmp = atomic_load(&h->sbi_timecmp);
    out->hsm_state = atomic_load(&h->hsm_state);
    out->hsm_start_pc = h->hsm_start_pc;
    out->hsm_start_opaque = h->hsm_start_opaque;
    out->time = machine_stop_time(h);
    out->instret = rv_cpu_instret(h);
    out->mcycle_offset = c->mcycle_off;
    out->minstret_offset = c->minstret_off;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int rv_hart_load(struct rv_hart *h, const struct rv_hart_state *s)
{
    struct rv_cpu *c = rv_cpu(h);
    unsigned mode = (unsigned)(s->satp >> 60);
    if (s->priv != RV_PRIV_U && s->priv != RV_PRIV_S && s->priv != RV_PRIV_M)
        return vmm_error(VMM_EINVAL, "hart %u state: privilege %d is not 0, 1 or 3", h->hartid,
                         s->priv);
    if (mode != 0 && mode != 8 && mode != 9)
        return vmm_error(VMM_EINVAL, "hart %u state: satp mode %u is not bare, Sv39 or Sv48",
                         h->hartid, mode);
    if (s->hsm_state < 0 || s->hsm_state > 2)
        return vmm_error(VMM_EINVAL, "hart %u state: HSM state %d is not 0..2", h->hartid,
                         s->hsm_state);
    if (((s->mstatus >> MSTATUS_MPP_SHIFT) & 3) == 2)
        return vmm_error(VMM_EINVAL, "hart %u state: mstatus.MPP is the reserved value 2",
                         h->hartid);
    if (s->frm > 7 || s->fflags > 0x1f)
        return vmm_error(VMM_EINVAL, "hart %u state: frm %u / fflags 0x%x out of range",
                         h->hartid, s->frm, s->fflags);

    memcpy(h->x, s->x, sizeof(s->x));
    h->x[0] = 0;
    memcpy(h->f, s->f, sizeof(h->f));
    h->pc = s->pc & ~1ULL;
    h->priv = s->priv;
    h->sbi_in_vmm = s->sbi_in_vmm != 0;
    /* Only the bits the CSR writes would accept. */
    const uint64_t mstatus_bits = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE |
                                  MSTATUS_SPP | MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV |
                                  MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW |
                                  MSTATUS_TSR;
    const uint64_t s_irqs = RV_IRQ_SSIP | RV_IRQ_STIP | RV_IRQ_SEIP;
    const uint64_t all_irqs = s_irqs | RV_IRQ_MSIP | RV_IRQ_MTIP | RV_IRQ_MEIP;
    c->mstatus = s->mstatus & mstatus_bits;
    c->medeleg = s->medeleg & 0xb3ffULL;
    c->mideleg = s->mideleg & s_irqs;
    c->mie = s->mie & all_irqs;
    c->mip = s->mip & s_irqs;
    c->mtvec = (s->mtvec & 3) > 1 ? (s->mtvec & ~3ULL) : s->mtvec;
    c->stvec = (s->stvec & 3) > 1 ? (s->stvec & ~3ULL) : s->stvec;
    c->mepc = s->mepc & ~1ULL;
    c->sepc = s->sepc & ~1ULL;
    c->mcause = s->mcause;
    c->scause = s->scause;
    c->mtval = s->mtval;
    c->stval = s->stval;
    c->mscratch = s->mscratch;
    c->sscratch = s->sscratch;
    c->satp = s->satp & ((0xfULL << 60) | (0xffffULL << 44) | ((1ULL << 44) - 1));
    c->mcounteren = s->mcounteren & 0xffffffffULL;
    c->scounteren = s->scounteren & 0xffffffffULL;
    c->fflags = s->fflags;
    c->frm = s->frm;
    atomic_store(&h->mip_ext, s->mip_ext & all_irqs);
    atomic_store(&h->mtimecmp, s->mtimecmp);
    atomic_store(&h->sbi_timecmp, s->sbi_timecmp);
    atomic_store(&h->hsm_state, s->hsm_state);
    h->hsm_start_pc = s->hsm_start_pc;
    h->hsm_start_opaque = s->hsm_start_opaque;

    /* Time continues from the saved value; a guest's writes of mcycle /
     * minstret are offsets from the instructions retired. */
    MACHINE_VCPU_STAT_SET(h->vcpu, instructions, s->instret);
    c->pending_insns = 0;
    c->mcycle_off = s->mcycle_offset;
    c->minstret_off = s->minstret_offset;
    if (h->deterministic && h->det_peers) {
        /* Every hart saved the machine's clock: the last one loaded leaves
         * the shared idle ticks right for the whole machine. */
        uint64_t from_insns = rv_hart_time(h) - *h->det_idle_ticks;
        *h->det_idle_ticks = s->time > from_insns ? s->time - from_insns : 0;
    } else if (h->deterministic) {
        uint64_t from_insns = s->instret / 10;
        c->idle_ticks = s->time > from_insns ? s->time - from_insns : 0;
    } else {
        const uint64_t ns_per_tick = 1000000000ULL / RV_TIMEBASE_HZ;
        /* modular arithmetic: correct even when the guest has been up
         * longer than this host (rv_hart_time subtracts modulo 2^64) */
        uint64_t base = mono_ns() - s->time * ns_per_tick;
        c->time_base_ns = base;
        /* One clock: the other harts take the same base, or the time
         * between their loads would put them apart. A save records one
         * time for all harts, so the last load sets what every hart's
         * section says. */
        for (unsigned i = 0; i < nr_clock_peers(h); i++) {
            struct rv_hart *p = clock_peer(h, i);
            if (p && !p->deterministic) {
                rv_cpu(p)->time_base_ns = base;
                rv_cpu(p)->time_stopped = s->time;
                rv_cpu(p)->time_stopped_valid = 1;
            }
        }
    }
    c->time_stopped = s->time; /* a save before it runs records the same */
    c->time_stopped_valid = 1;

    c->res_valid = 0;
    rv_tlb_flush_everything(h);
    rv_cpu_flush_icache(h);
    rv_cpu_update_ctx(h);
    return 0;
}
