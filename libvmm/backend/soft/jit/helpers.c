/* The C functions translated code calls: the step fallback and the slow
 * paths of loads and stores. They keep the interpreter's bookkeeping exact:
 * before anything that may read the instruction count (a CSR read of
 * instret/cycle/time, a device reading deterministic time) pending_insns
 * holds the instructions retired before this one, and when the block ends
 * early they give back to the budget what the block's entry charged for
 * instructions that did not run.
 */
#include "backend/soft/jit/jit_internal.h"

static inline void set_pending(struct rv_hart *h, const struct rv_jit *j, uint64_t adj)
{
    rv_cpu(h)->pending_insns = (uint64_t)(j->lim - j->budget) - (uint32_t)adj;
}

/* The instruction at pc trapped: it and the rest of the block did not retire. */
static uint64_t end_trap(struct rv_hart *h, struct rv_jit *j, uint64_t pc, uint64_t adj)
{
    struct rv_cpu *c = rv_cpu(h);
    j->budget += (int64_t)(uint32_t)adj;
    j->memops -= adj >> 32;
    c->pending_insns = 0;
    h->pc = pc;
    rv_trap(h, c->trap_cause, c->trap_tval);
    return RV_JIT_EXIT_HELPER;
}

/* The instruction retired and the run ends with h->pc as already set. */
static uint64_t end_after(struct rv_hart *h, struct rv_jit *j, uint64_t adj)
{
    j->budget += (int64_t)(uint32_t)adj - 1;
    j->memops -= adj >> 32;
    rv_cpu(h)->pending_insns = 0;
    return RV_JIT_EXIT_HELPER;
}

/* After a memory access on the slow path: a device asked the run to end,
 * or the store overwrote translated code (maybe this very block). */
static uint64_t after_slow(struct rv_hart *h, struct rv_jit *j, uint64_t next, uint64_t adj)
{
    if (j->smc || machine_should_exit(h->m)) {
        j->smc = 0;
        h->pc = next;
        return end_after(h, j, adj);
    }
    rv_cpu(h)->pending_insns = 0;
    return 0;
}

uint64_t rv_jh_step(struct rv_hart *h, const struct rv_insn *in, uint64_t pc, uint64_t adj)
{
    struct rv_jit *j = rv_jit_of(h);
    set_pending(h, j, adj);
    j->stats.fallbacks++;
    switch (rv_jit_step_insn(h, in, pc)) {
    case RV_STEP_TRAP: return end_trap(h, j, pc, adj);
    case RV_STEP_EXIT: j->smc = 0; return end_after(h, j, adj);
    default: return after_slow(h, j, pc + rv_insn_len(in), adj);
    }
}

uint64_t rv_jh_fp(struct rv_hart *h, const struct rv_insn *in, uint64_t pc, uint64_t adj)
{
    struct rv_jit *j = rv_jit_of(h);
    j->stats.fp_calls++;
    if (RV_LIKELY(rv_fpu_exec(h, in) != RV_RES_TRAP))
        return 0; /* no time, memory or control flow involved */
    set_pending(h, j, adj);
    return end_trap(h, j, pc, adj);
}

uint64_t rv_jh_load(struct rv_hart *h, uint64_t va, uint64_t info, uint64_t pc)
{
    struct rv_jit *j = rv_jit_of(h);
    unsigned size = RV_JH_INFO_SIZE(info), rd = RV_JH_INFO_RD(info);
    uint64_t adj = RV_JH_INFO_ADJ(info), v;
    set_pending(h, j, adj);
    j->memops--; /* not a hit */
    if (rv_mmu_load_slow(h, va, size, &v))
        return end_trap(h, j, pc, adj);
    if (RV_JH_INFO_SIGN(info) && size < 8) {
        unsigned sh = 64 - 8 * size;
        v = (uint64_t)((int64_t)(v << sh) >> sh);
    }
    h->x[rd] = v; /* never x0: loads to x0 write the sink x[32] */
    return after_slow(h, j, pc + RV_JH_INFO_LEN(info), adj);
}

uint64_t rv_jh_store(struct rv_hart *h, uint64_t va, uint64_t val, uint64_t info, uint64_t pc)
{
    struct rv_jit *j = rv_jit_of(h);
    uint64_t adj = RV_JH_INFO_ADJ(info);
    set_pending(h, j, adj);
    j->memops--; /* not a hit */
    if (rv_mmu_store_slow(h, va, RV_JH_INFO_SIZE(info), val))
        return end_trap(h, j, pc, adj);
    return after_slow(h, j, pc + RV_JH_INFO_LEN(info), adj);
}
