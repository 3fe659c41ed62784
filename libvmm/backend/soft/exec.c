/* The interpreter: threaded dispatch (computed goto) over the decoded-
 * instruction cache.
 *
 * The loop keeps the current code page in locals: `base` is the decoded
 * page (2048 slots, one per 2-byte offset), `vbase` its virtual address, so
 * the next instruction is `in + len/2` and a branch inside the page is
 * `base + (target - vbase) / 2`: no fetch translation, no decode and no
 * lookup per instruction. Slots start as RV_OP_DECODE and decode themselves
 * on first execution; a store over decoded code resets just the slots it
 * overwrote (mmu.c). The shadow TLB is consulted only when execution
 * leaves the page. The pc is not kept per instruction either: it is
 * vbase + 2 * (in - base) (PC()), computed by the few handlers that need
 * it; the local `pc` holds it only across page changes and exits.
 *
 * Every operation on the hot path has two handlers, one for its 2-byte
 * (compressed) and one for its 4-byte form (RV_DISP in decode.h): the step
 * to the next slot is then a constant, so the chain from one instruction
 * to the next is a single add instead of a load of `len`, and the host
 * can run ahead into the next handler while this one's loads complete.
 *
 * rv_exec returns to rv_hart_run (which checks interrupts, flush requests,
 * HSM and the run request) after RV_BLOCK_INSNS instructions at the next
 * taken branch or page change, after any trap, and after every instruction
 * that may change interrupt enables or translation (CSR writes of that
 * kind, xRET, WFI, sfence.vma, fence.i, SBI calls).
 */
#include <string.h>

#include "backend/soft/cpu.h"
#include "backend/soft/jit/jit.h"

#if defined(__GNUC__) && !defined(__clang__)
/* Keep one dispatch jump per handler (threaded code): merged tails would
 * share a single, badly predicted indirect jump. */
#pragma GCC optimize("no-crossjumping")
#endif

#define RV_BLOCK_INSNS 4096

/* Operations with a handler per length (H below) and those with one
 * handler for both (rare, or lengths handled inside). Together: every op. */
#define RV_OPS_BY_LEN(X)                                                              \
    X(NOP) X(LUI) X(AUIPC) X(JAL) X(JALR)                                             \
    X(BEQ) X(BNE) X(BLT) X(BGE) X(BLTU) X(BGEU)                                       \
    X(LB) X(LH) X(LW) X(LD) X(LBU) X(LHU) X(LWU)                                      \
    X(SB) X(SH) X(SW) X(SD)                                                           \
    X(ADDI) X(SLTI) X(SLTIU) X(XORI) X(ORI) X(ANDI) X(SLLI) X(SRLI) X(SRAI)           \
    X(ADD) X(SUB) X(SLL) X(SLT) X(SLTU) X(XOR) X(SRL) X(SRA) X(OR) X(AND)             \
    X(ADDIW) X(SLLIW) X(SRLIW) X(SRAIW) X(ADDW) X(SUBW) X(SLLW) X(SRLW) X(SRAW)       \
    X(MUL) X(MULH) X(MULHSU) X(MULHU) X(DIV) X(DIVU) X(REM) X(REMU)                   \
    X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW)                                         \
    X(FENCE) X(FLW) X(FLD) X(FSW) X(FSD)
#define RV_OPS_ANY_LEN(X)                                                             \
    X(DECODE) X(CROSS) X(PAGEEND) X(ILLEGAL)                                          \
    X(FENCE_I) X(ECALL) X(EBREAK) X(MRET) X(SRET) X(WFI) X(SFENCE_VMA)                \
    X(CSR) X(AMO) X(FP)

#define RV_COUNT_ONE(name) +1
_Static_assert(0 RV_OPS_BY_LEN(RV_COUNT_ONE) RV_OPS_ANY_LEN(RV_COUNT_ONE) == RV_OP_COUNT,
               "every operation has a handler");
#undef RV_COUNT_ONE

void rv_exec(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    if (RV_UNLIKELY(c->dc_touched >= RV_DC_RESIDENT_PAGES))
        rv_dc_trim(c);
    if (h->jit && rv_jit_exec(h))
        return; /* ran translated code (jit/jit.c) */
    rv_interp(h, RV_BLOCK_INSNS);
}

void rv_interp(struct rv_hart *h, uint64_t lim)
{
    static void *const labels[RV_OP_COUNT * 2] = {
#define RV_LABEL2(name) [RV_OP_##name * 2] = &&op_##name##_2, [RV_OP_##name * 2 + 1] = &&op_##name##_4,
#define RV_LABEL1(name) [RV_OP_##name * 2] = &&op_##name, [RV_OP_##name * 2 + 1] = &&op_##name,
        RV_OPS_BY_LEN(RV_LABEL2)
        RV_OPS_ANY_LEN(RV_LABEL1)
#undef RV_LABEL2
#undef RV_LABEL1
    };
    /* Dispatched through once a device access asked the run to end: the
     * instruction completes, the next one is not started. */
    static void *const stop_labels[RV_OP_COUNT * 2] = {
        [0 ... RV_OP_COUNT * 2 - 1] = &&stop_here,
    };
    void *const *tbl = labels;
    struct rv_cpu *c = rv_cpu(h);
    uint64_t *const X = h->x;
    uint64_t pc = h->pc;
    uint64_t n = 0; /* instructions retired in this call */
    uint64_t hits = 0; /* TLB hits, a local so counting adds no memory traffic */
    struct rv_dpage *dp;
    struct rv_insn *base, *in;
    uint64_t vbase = 0;
    enum rv_res r;

/* Offset in the page of the current instruction, and its address. */
#define SLOTOFF() ((uint64_t)(((uintptr_t)in - (uintptr_t)base) >> 2))
#define PC() (vbase + SLOTOFF())

#define DISPATCH() goto *tbl[in->disp]
/* Next instruction, in a handler of known length L (2 or 4). */
#define NEXT()                                                                         \
    do {                                                                               \
        in += L / 2; /* past the page: the slot's guard, read as DECODE */             \
        n++;                                                                           \
        DISPATCH();                                                                    \
    } while (0)
/* Next instruction, in a handler shared by both lengths. */
#define NEXT_ANY()                                                                     \
    do {                                                                               \
        in += rv_insn_len(in) / 2; /* 1 slot per 2 bytes */                            \
        n++;                                                                           \
        DISPATCH();                                                                    \
    } while (0)
/* After a load or store (a slow path may have set tbl = stop_labels). */
#define NEXT_MEM() NEXT()
#define JUMP(target)                                                                   \
    do {                                                                               \
        pc = (target);                                                                 \
        n++;                                                                           \
        uint64_t off_ = pc - vbase;                                                    \
        if (RV_LIKELY(off_ < 4096 && n < lim)) {                                      \
            in = base + (off_ >> 1);                                                   \
            DISPATCH();                                                                \
        }                                                                              \
        goto newpage;                                                                  \
    } while (0)
/* To pc-relative `target_off` (offset from this page's start): no pc needed. */
#define JUMP_REL(target_off)                                                           \
    do {                                                                               \
        uint64_t off_ = (target_off);                                                  \
        n++;                                                                           \
        if (RV_LIKELY(off_ < 4096 && n < lim)) {                                      \
            in = (struct rv_insn *)((uintptr_t)base + off_ * 4);                       \
            DISPATCH();                                                                \
        }                                                                              \
        pc = vbase + off_;                                                             \
        goto newpage;                                                                  \
    } while (0)
/* Taken branch or JAL. */
#define JUMP_PCREL() JUMP_REL(SLOTOFF() + IMM)
#define LOAD(T, addr)                                                                  \
    ({                                                                                 \
        uint64_t a_ = (addr);                                                          \
        struct rv_tlbe *e_ = &c->ltlb[(a_ >> 12) & (RV_TLB_SIZE - 1)];                 \
        T v_;                                                                          \
        if (RV_LIKELY(e_->tag == (a_ & (~0xfffULL | (sizeof(T) - 1))))) {              \
            v_ = *(const T *)(e_->addend + a_);                                        \
            hits++;                                                                    \
        } else {                                                                       \
            uint64_t t_;                                                               \
            if (rv_mmu_load_slow(h, a_, sizeof(T), &t_))                               \
                goto trap_in;                                                          \
            v_ = (T)t_;                                                                \
            if (RV_UNLIKELY(machine_should_exit(h->m)))                                \
                tbl = stop_labels; /* a device ended the run: stop after this one */   \
        }                                                                              \
        v_;                                                                            \
    })
/* A store to a page holding decoded code takes the slow path, which
 * resets just the slots it overwrites: the slots of this page stay valid,
 * so execution simply continues. */
#define STORE(T, addr, val)                                                            \
    do {                                                                               \
        uint64_t a_ = (addr);                                                          \
        struct rv_tlbe *e_ = &c->stlb[(a_ >> 12) & (RV_TLB_SIZE - 1)];                 \
        if (RV_LIKELY(e_->tag == (a_ & (~0xfffULL | (sizeof(T) - 1))))) {              \
            *(T *)(e_->addend + a_) = (T)(val);                                        \
            hits++;                                                                    \
        } else {                                                                       \
            if (rv_mmu_store_slow(h, a_, sizeof(T), (uint64_t)(T)(val)))               \
                goto trap_in;                                                          \
            if (RV_UNLIKELY(machine_should_exit(h->m)))                                \
                tbl = stop_labels; /* a device ended the run */                        \
        }                                                                              \
    } while (0)
#define IMM ((int64_t)in->imm)
#define RS1 X[in->rs1]
#define RS2 X[in->rs2]
#define RD X[in->rd]
/* Writes rd of a load or jump: never x0 (RV_REG_SINK instead). */
#define WRD(v) (X[in->rd] = (v))
#define SEXT32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))
/* A handler per length: the body sees the constant L. */
#define H(name, ...)                                                                   \
    op_##name##_2 : {                                                                  \
        enum { L = 2 };                                                                \
        __VA_ARGS__                                                                    \
    }                                                                                  \
    op_##name##_4 : {                                                                  \
        enum { L = 4 };                                                                \
        __VA_ARGS__                                                                    \
    }

newpage:
    if (n >= lim) {
        c->interp_at_limit = 1; /* stopped for the limit, at a jump or page end */
        goto out;
    }
    {
        /* Fast path: fetch TLB hit and the page already decoded. */
        const struct rv_ftlbe *fe = &c->ftlb[(pc >> 12) & (RV_TLB_SIZE - 1)];
        vbase = pc & ~0xfffULL;
        dp = fe->dp;
        if (RV_UNLIKELY(fe->tag != vbase || fe->gen != c->icache_gen)) {
            dp = rv_mmu_fetch_page(h, pc, &vbase);
            if (!dp)
                goto trap;
        }
    }
    base = dp->insn;
    rv_dc_prefault(c, dp, (unsigned)(pc - vbase));
    in = base + ((pc - vbase) >> 1);
    DISPATCH();

op_PAGEEND:
    pc = PC();
    goto newpage;

stop_here:
    pc = PC();
    goto out;

op_DECODE: {
    unsigned off = (unsigned)(in - base) * 2;
    if (off >= 4096) /* the zero past the slot's end (cpu.h, RV_DC_STRIDE) */
        goto op_PAGEEND;
    rv_dc_note(c, dp, off);
    /* over its budget: end this run at the next jump or page end so that
     * rv_exec gives the memory back (not in deterministic mode, where
     * a run ends must depend on the instructions alone) */
    if (RV_UNLIKELY(c->dc_touched >= RV_DC_RESIDENT_PAGES) && !h->deterministic)
        lim = 0;
    uint16_t lo;
    memcpy(&lo, dp->host + off, 2);
    if ((lo & 3) != 3) {
        rv_decode(lo, in);
    } else if (off == 4094) {
        memset(in, 0, sizeof(*in));
        rv_insn_set(in, RV_OP_CROSS, 4);
        in->imm = lo;
    } else {
        uint32_t raw;
        memcpy(&raw, dp->host + off, 4);
        rv_decode(raw, in);
    }
    DISPATCH();
}
op_CROSS: {
    uint16_t hi;
    if (rv_mmu_fetch16(h, PC() + 2, &hi))
        goto trap_in;
    rv_decode((uint32_t)in->imm | (uint32_t)hi << 16, &c->cross_insn[0]);
    /* the next instruction is on the next page */
    rv_insn_set(&c->cross_insn[1], RV_OP_PAGEEND, 2);
    rv_insn_set(&c->cross_insn[2], RV_OP_PAGEEND, 2);
    /* Run it from cross_insn[0]; `base` moves so PC() stays right (it no
     * longer points at the page: no jump may use it, so end the block). */
    base = (struct rv_insn *)((uintptr_t)c->cross_insn - (uintptr_t)in + (uintptr_t)base);
    in = &c->cross_insn[0];
    lim = 0;
    DISPATCH();
}
op_ILLEGAL:
    c->trap_cause = RV_EXC_ILLEGAL;
    c->trap_tval = RV_TVAL_INSN;
    goto trap_in;
H(NOP, NEXT();)
H(FENCE, NEXT();)

H(LUI, RD = (uint64_t)IMM; NEXT();)
H(AUIPC, RD = PC() + IMM; NEXT();)
H(JAL, {
    WRD(PC() + L);
    JUMP_PCREL();
})
H(JALR, {
    uint64_t t = (RS1 + IMM) & ~1ULL;
    WRD(PC() + L);
    JUMP(t);
})
H(BEQ, if (RS1 == RS2) JUMP_PCREL(); NEXT();)
H(BNE, if (RS1 != RS2) JUMP_PCREL(); NEXT();)
H(BLT, if ((int64_t)RS1 < (int64_t)RS2) JUMP_PCREL(); NEXT();)
H(BGE, if ((int64_t)RS1 >= (int64_t)RS2) JUMP_PCREL(); NEXT();)
H(BLTU, if (RS1 < RS2) JUMP_PCREL(); NEXT();)
H(BGEU, if (RS1 >= RS2) JUMP_PCREL(); NEXT();)

H(LB, { uint64_t v = (uint64_t)(int64_t)LOAD(int8_t, RS1 + IMM); WRD(v); NEXT_MEM(); })
H(LH, { uint64_t v = (uint64_t)(int64_t)LOAD(int16_t, RS1 + IMM); WRD(v); NEXT_MEM(); })
H(LW, { uint64_t v = (uint64_t)(int64_t)LOAD(int32_t, RS1 + IMM); WRD(v); NEXT_MEM(); })
H(LD, { uint64_t v = LOAD(uint64_t, RS1 + IMM); WRD(v); NEXT_MEM(); })
H(LBU, { uint64_t v = LOAD(uint8_t, RS1 + IMM); WRD(v); NEXT_MEM(); })
H(LHU, { uint64_t v = LOAD(uint16_t, RS1 + IMM); WRD(v); NEXT_MEM(); })
H(LWU, { uint64_t v = LOAD(uint32_t, RS1 + IMM); WRD(v); NEXT_MEM(); })
H(SB, STORE(uint8_t, RS1 + IMM, RS2); NEXT_MEM();)
H(SH, STORE(uint16_t, RS1 + IMM, RS2); NEXT_MEM();)
H(SW, STORE(uint32_t, RS1 + IMM, RS2); NEXT_MEM();)
H(SD, STORE(uint64_t, RS1 + IMM, RS2); NEXT_MEM();)

H(ADDI, RD = RS1 + IMM; NEXT();)
H(SLTI, RD = (int64_t)RS1 < IMM; NEXT();)
H(SLTIU, RD = RS1 < (uint64_t)IMM; NEXT();)
H(XORI, RD = RS1 ^ (uint64_t)IMM; NEXT();)
H(ORI, RD = RS1 | (uint64_t)IMM; NEXT();)
H(ANDI, RD = RS1 & (uint64_t)IMM; NEXT();)
H(SLLI, RD = RS1 << in->imm; NEXT();)
H(SRLI, RD = RS1 >> in->imm; NEXT();)
H(SRAI, RD = (uint64_t)((int64_t)RS1 >> in->imm); NEXT();)
H(ADD, RD = RS1 + RS2; NEXT();)
H(SUB, RD = RS1 - RS2; NEXT();)
H(SLL, RD = RS1 << (RS2 & 63); NEXT();)
H(SLT, RD = (int64_t)RS1 < (int64_t)RS2; NEXT();)
H(SLTU, RD = RS1 < RS2; NEXT();)
H(XOR, RD = RS1 ^ RS2; NEXT();)
H(SRL, RD = RS1 >> (RS2 & 63); NEXT();)
H(SRA, RD = (uint64_t)((int64_t)RS1 >> (RS2 & 63)); NEXT();)
H(OR, RD = RS1 | RS2; NEXT();)
H(AND, RD = RS1 & RS2; NEXT();)
H(ADDIW, RD = SEXT32(RS1 + IMM); NEXT();)
H(SLLIW, RD = SEXT32((uint32_t)RS1 << in->imm); NEXT();)
H(SRLIW, RD = SEXT32((uint32_t)RS1 >> in->imm); NEXT();)
H(SRAIW, RD = (uint64_t)(int64_t)((int32_t)RS1 >> in->imm); NEXT();)
H(ADDW, RD = SEXT32(RS1 + RS2); NEXT();)
H(SUBW, RD = SEXT32(RS1 - RS2); NEXT();)
H(SLLW, RD = SEXT32((uint32_t)RS1 << (RS2 & 31)); NEXT();)
H(SRLW, RD = SEXT32((uint32_t)RS1 >> (RS2 & 31)); NEXT();)
H(SRAW, RD = (uint64_t)(int64_t)((int32_t)RS1 >> (RS2 & 31)); NEXT();)

H(MUL, RD = RS1 * RS2; NEXT();)
H(MULH, RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)(int64_t)RS2) >> 64); NEXT();)
H(MULHSU, RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)RS2) >> 64); NEXT();)
H(MULHU, RD = (uint64_t)(((unsigned __int128)RS1 * RS2) >> 64); NEXT();)
H(DIV, {
    int64_t a = (int64_t)RS1, b = (int64_t)RS2;
    RD = b == 0 ? ~0ULL : (a == INT64_MIN && b == -1) ? (uint64_t)a : (uint64_t)(a / b);
    NEXT();
})
H(DIVU, RD = RS2 == 0 ? ~0ULL : RS1 / RS2; NEXT();)
H(REM, {
    int64_t a = (int64_t)RS1, b = (int64_t)RS2;
    RD = b == 0 ? (uint64_t)a : (a == INT64_MIN && b == -1) ? 0 : (uint64_t)(a % b);
    NEXT();
})
H(REMU, RD = RS2 == 0 ? RS1 : RS1 % RS2; NEXT();)
H(MULW, RD = SEXT32(RS1 * RS2); NEXT();)
H(DIVW, {
    int32_t a = (int32_t)RS1, b = (int32_t)RS2;
    RD = b == 0 ? ~0ULL : (a == INT32_MIN && b == -1) ? SEXT32(a) : SEXT32(a / b);
    NEXT();
})
H(DIVUW, {
    uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
    RD = b == 0 ? ~0ULL : SEXT32(a / b);
    NEXT();
})
H(REMW, {
    int32_t a = (int32_t)RS1, b = (int32_t)RS2;
    RD = b == 0 ? SEXT32(a) : (a == INT32_MIN && b == -1) ? 0 : SEXT32(a % b);
    NEXT();
})
H(REMUW, {
    uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
    RD = b == 0 ? SEXT32(a) : SEXT32(a % b);
    NEXT();
})

op_FENCE_I:
    rv_cpu_fence_i(h);
    pc = PC() + rv_insn_len(in);
    n++;
    goto out;
op_ECALL:
    if (h->priv == RV_PRIV_S && h->sbi_in_vmm && h->hooks && h->hooks->sbi_call) {
        pc = PC();
        c->pending_insns = n;
        h->pc = pc;
        rv_fpu_sync(c); /* the platform's code runs with the host's FP state */
        MACHINE_VCPU_STAT_ADD(h->vcpu, hypercalls, 1);
        int rc = h->hooks->sbi_call(h);
        X[0] = 0;
        pc = rc > 0 ? h->pc : pc + 4;
        n++;
        goto out;
    }
    c->trap_cause = h->priv == RV_PRIV_U ? RV_EXC_ECALL_U
                    : h->priv == RV_PRIV_S ? RV_EXC_ECALL_S : RV_EXC_ECALL_M;
    c->trap_tval = 0;
    goto trap_in;
op_EBREAK:
    c->trap_cause = RV_EXC_BREAKPOINT;
    c->trap_tval = PC();
    goto trap_in;
op_MRET:
op_SRET:
op_WFI:
op_SFENCE_VMA:
    c->pending_insns = n;
    pc = PC();
    h->pc = pc;
    r = rv_sys_exec(h, in, pc);
    if (r == RV_RES_TRAP)
        goto trap;
    pc = h->pc;
    n++;
    goto out;
op_CSR:
    c->pending_insns = n;
    r = rv_csr_exec(h, in);
    if (r == RV_RES_TRAP)
        goto trap_in;
    if (r == RV_RES_SYNC) {
        pc = PC() + rv_insn_len(in);
        n++;
        goto out;
    }
    NEXT_ANY();
op_AMO:
    if (rv_amo_exec(h, in) == RV_RES_TRAP)
        goto trap_in;
    NEXT_ANY();
op_FP:
    if (rv_fpu_exec(h, in) == RV_RES_TRAP)
        goto trap_in;
    NEXT_ANY();
H(FLW, {
    if (!(c->mstatus & MSTATUS_FS))
        goto op_ILLEGAL;
    uint64_t v = LOAD(uint32_t, RS1 + IMM);
    h->f[in->rd] = 0xffffffff00000000ULL | v;
    rv_fs_dirty(c);
    NEXT_MEM();
})
H(FLD, {
    if (!(c->mstatus & MSTATUS_FS))
        goto op_ILLEGAL;
    uint64_t v = LOAD(uint64_t, RS1 + IMM);
    h->f[in->rd] = v;
    rv_fs_dirty(c);
    NEXT_MEM();
})
H(FSW, {
    if (!(c->mstatus & MSTATUS_FS))
        goto op_ILLEGAL;
    STORE(uint32_t, RS1 + IMM, h->f[in->rs2]);
    NEXT_MEM();
})
H(FSD, {
    if (!(c->mstatus & MSTATUS_FS))
        goto op_ILLEGAL;
    STORE(uint64_t, RS1 + IMM, h->f[in->rs2]);
    NEXT_MEM();
})

trap_in: /* the current instruction traps */
    pc = PC();
trap: /* at pc */
    h->pc = pc;
    rv_trap(h, c->trap_cause, c->trap_tval);
    pc = h->pc;
out:
    rv_fpu_sync(c);
    h->pc = pc;
    c->pending_insns = 0;
    c->tlb_hits += hits;
    MACHINE_VCPU_STAT_ADD(h->vcpu, instructions, n);
}
