/* The interpreter: threaded dispatch (computed goto) over the decoded-
 * instruction cache.
 *
 * The loop keeps the current code page in locals: `base` is the decoded
 * page (2048 slots, one per 2-byte offset), `vbase` its virtual address, so
 * the next instruction is `in + len/2` and a branch inside the page is
 * `base + (target - vbase) / 2`: no fetch translation, no decode and no
 * lookup per instruction. Slots start as RV_OP_DECODE and decode themselves
 * on first execution. The shadow TLB is consulted only when execution
 * leaves the page.
 *
 * rv_exec returns to rv_hart_run (which checks interrupts, flush requests,
 * HSM and the run request) after RV_BLOCK_INSNS instructions at the next
 * taken branch or page change, after any trap, and after every instruction
 * that may change interrupt enables or translation (CSR writes of that
 * kind, xRET, WFI, sfence.vma, fence.i, SBI calls).
 */
#include <string.h>

#include "backend/soft/cpu.h"

#if defined(__GNUC__) && !defined(__clang__)
/* Keep one dispatch jump per handler (threaded code): merged tails would
 * share a single, badly predicted indirect jump. */
#pragma GCC optimize("no-crossjumping")
#endif

#define RV_BLOCK_INSNS 4096

void rv_exec(struct rv_hart *h)
{
    static void *const labels[RV_OP_COUNT] = {
#define RV_LABEL(name) [RV_OP_##name] = &&op_##name,
        RV_OPS(RV_LABEL)
#undef RV_LABEL
    };
    struct rv_cpu *c = rv_cpu(h);
    uint64_t *const X = h->x;
    uint64_t pc = h->pc;
    uint64_t n = 0; /* instructions retired in this call */
    uint64_t lim = RV_BLOCK_INSNS;
    int stop = 0;      /* set when a device access asked the run to end */
    uint64_t hits = 0; /* TLB hits, a local so counting adds no memory traffic */
    struct rv_dpage *dp;
    struct rv_insn *base, *in;
    uint64_t vbase = 0;
    enum rv_res r;

#define DISPATCH() goto *labels[in->op]
#define NEXT()                                                                         \
    do {                                                                               \
        unsigned len_ = in->len;                                                       \
        pc += len_;                                                                    \
        in += len_ >> 1; /* past the page: a PAGEEND sentinel */                       \
        n++;                                                                           \
        DISPATCH();                                                                    \
    } while (0)
/* After an access that took the slow path (possibly MMIO). */
#define NEXT_MEM()                                                                     \
    do {                                                                               \
        if (RV_UNLIKELY(stop)) {                                                       \
            pc += in->len;                                                             \
            n++;                                                                       \
            goto out;                                                                  \
        }                                                                              \
        NEXT();                                                                        \
    } while (0)
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
                goto trap;                                                             \
            v_ = (T)t_;                                                                \
            if (RV_UNLIKELY(machine_should_exit(h->m)))                                \
                stop = 1; /* a device ended the run: stop after this instruction */    \
        }                                                                              \
        v_;                                                                            \
    })
#define STORE(T, addr, val)                                                            \
    do {                                                                               \
        uint64_t a_ = (addr);                                                          \
        struct rv_tlbe *e_ = &c->stlb[(a_ >> 12) & (RV_TLB_SIZE - 1)];                 \
        if (RV_LIKELY(e_->tag == (a_ & (~0xfffULL | (sizeof(T) - 1))))) {              \
            *(T *)(e_->addend + a_) = (T)(val);                                        \
            hits++;                                                                    \
        } else {                                                                       \
            if (rv_mmu_store_slow(h, a_, sizeof(T), (uint64_t)(T)(val)))               \
                goto trap;                                                             \
            /* a device ended the run, or code of this page changed */                \
            if (RV_UNLIKELY(c->code_written | machine_should_exit(h->m))) {            \
                c->code_written = 0;                                                   \
                stop = 1;                                                              \
            }                                                                          \
        }                                                                              \
    } while (0)
#define IMM ((int64_t)in->imm)
#define RS1 X[in->rs1]
#define RS2 X[in->rs2]
#define RD X[in->rd]
/* Writes rd for operations that may have rd = x0 (loads, jumps). */
#define WRD(v)                                                                         \
    do {                                                                               \
        X[in->rd] = (v);                                                               \
        X[0] = 0;                                                                      \
    } while (0)
#define SEXT32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))

newpage:
    if (n >= lim)
        goto out;
    {
        /* Fast path: fetch TLB hit and the page already decoded. */
        const struct rv_ftlbe *fe = &c->ftlb[(pc >> 12) & (RV_TLB_SIZE - 1)];
        vbase = pc & ~0xfffULL;
        dp = &c->dpages[(fe->gpage >> 12) & (RV_DC_SLOTS - 1)];
        if (RV_UNLIKELY(fe->tag != vbase || dp->key != (fe->gpage | 1) ||
                        dp->gen != c->icache_gen)) {
            dp = rv_mmu_fetch_page(h, pc, &vbase);
            if (!dp)
                goto trap;
        }
    }
    base = dp->insn;
    in = base + ((pc - vbase) >> 1);
    DISPATCH();

op_PAGEEND:
    goto newpage;

op_DECODE: {
    unsigned off = (unsigned)(in - base) * 2;
    uint16_t lo;
    memcpy(&lo, dp->host + off, 2);
    if ((lo & 3) != 3) {
        rv_decode(lo, in);
    } else if (off == 4094) {
        memset(in, 0, sizeof(*in));
        in->op = RV_OP_CROSS;
        in->len = 4;
        in->raw = lo;
    } else {
        uint32_t raw;
        memcpy(&raw, dp->host + off, 4);
        rv_decode(raw, in);
    }
    DISPATCH();
}
op_CROSS: {
    uint16_t hi;
    if (rv_mmu_fetch16(h, pc + 2, &hi))
        goto trap;
    rv_decode(in->raw | (uint32_t)hi << 16, &c->cross_insn[0]);
    c->cross_insn[1].op = RV_OP_PAGEEND; /* the next instruction is on the next page */
    c->cross_insn[2].op = RV_OP_PAGEEND;
    in = &c->cross_insn[0];
    lim = 0; /* and no jump may reuse `base`: end the block after it */
    DISPATCH();
}
op_ILLEGAL:
    c->trap_cause = RV_EXC_ILLEGAL;
    c->trap_tval = in->raw;
    goto trap;
op_NOP:
op_FENCE:
    NEXT();

op_LUI: RD = (uint64_t)IMM; NEXT();
op_AUIPC: RD = pc + IMM; NEXT();
op_JAL: {
    uint64_t t = pc + IMM;
    WRD(pc + in->len);
    JUMP(t);
}
op_JALR: {
    uint64_t t = (RS1 + IMM) & ~1ULL;
    WRD(pc + in->len);
    JUMP(t);
}
op_BEQ: if (RS1 == RS2) JUMP(pc + IMM); NEXT();
op_BNE: if (RS1 != RS2) JUMP(pc + IMM); NEXT();
op_BLT: if ((int64_t)RS1 < (int64_t)RS2) JUMP(pc + IMM); NEXT();
op_BGE: if ((int64_t)RS1 >= (int64_t)RS2) JUMP(pc + IMM); NEXT();
op_BLTU: if (RS1 < RS2) JUMP(pc + IMM); NEXT();
op_BGEU: if (RS1 >= RS2) JUMP(pc + IMM); NEXT();

op_LB: { uint64_t v = (uint64_t)(int64_t)LOAD(int8_t, RS1 + IMM); WRD(v); NEXT_MEM(); }
op_LH: { uint64_t v = (uint64_t)(int64_t)LOAD(int16_t, RS1 + IMM); WRD(v); NEXT_MEM(); }
op_LW: { uint64_t v = (uint64_t)(int64_t)LOAD(int32_t, RS1 + IMM); WRD(v); NEXT_MEM(); }
op_LD: { uint64_t v = LOAD(uint64_t, RS1 + IMM); WRD(v); NEXT_MEM(); }
op_LBU: { uint64_t v = LOAD(uint8_t, RS1 + IMM); WRD(v); NEXT_MEM(); }
op_LHU: { uint64_t v = LOAD(uint16_t, RS1 + IMM); WRD(v); NEXT_MEM(); }
op_LWU: { uint64_t v = LOAD(uint32_t, RS1 + IMM); WRD(v); NEXT_MEM(); }
op_SB: STORE(uint8_t, RS1 + IMM, RS2); NEXT_MEM();
op_SH: STORE(uint16_t, RS1 + IMM, RS2); NEXT_MEM();
op_SW: STORE(uint32_t, RS1 + IMM, RS2); NEXT_MEM();
op_SD: STORE(uint64_t, RS1 + IMM, RS2); NEXT_MEM();

op_ADDI: RD = RS1 + IMM; NEXT();
op_SLTI: RD = (int64_t)RS1 < IMM; NEXT();
op_SLTIU: RD = RS1 < (uint64_t)IMM; NEXT();
op_XORI: RD = RS1 ^ (uint64_t)IMM; NEXT();
op_ORI: RD = RS1 | (uint64_t)IMM; NEXT();
op_ANDI: RD = RS1 & (uint64_t)IMM; NEXT();
op_SLLI: RD = RS1 << in->imm; NEXT();
op_SRLI: RD = RS1 >> in->imm; NEXT();
op_SRAI: RD = (uint64_t)((int64_t)RS1 >> in->imm); NEXT();
op_ADD: RD = RS1 + RS2; NEXT();
op_SUB: RD = RS1 - RS2; NEXT();
op_SLL: RD = RS1 << (RS2 & 63); NEXT();
op_SLT: RD = (int64_t)RS1 < (int64_t)RS2; NEXT();
op_SLTU: RD = RS1 < RS2; NEXT();
op_XOR: RD = RS1 ^ RS2; NEXT();
op_SRL: RD = RS1 >> (RS2 & 63); NEXT();
op_SRA: RD = (uint64_t)((int64_t)RS1 >> (RS2 & 63)); NEXT();
op_OR: RD = RS1 | RS2; NEXT();
op_AND: RD = RS1 & RS2; NEXT();
op_ADDIW: RD = SEXT32(RS1 + IMM); NEXT();
op_SLLIW: RD = SEXT32((uint32_t)RS1 << in->imm); NEXT();
op_SRLIW: RD = SEXT32((uint32_t)RS1 >> in->imm); NEXT();
op_SRAIW: RD = (uint64_t)(int64_t)((int32_t)RS1 >> in->imm); NEXT();
op_ADDW: RD = SEXT32(RS1 + RS2); NEXT();
op_SUBW: RD = SEXT32(RS1 - RS2); NEXT();
op_SLLW: RD = SEXT32((uint32_t)RS1 << (RS2 & 31)); NEXT();
op_SRLW: RD = SEXT32((uint32_t)RS1 >> (RS2 & 31)); NEXT();
op_SRAW: RD = (uint64_t)(int64_t)((int32_t)RS1 >> (RS2 & 31)); NEXT();

op_MUL: RD = RS1 * RS2; NEXT();
op_MULH: RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)(int64_t)RS2) >> 64); NEXT();
op_MULHSU: RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)RS2) >> 64); NEXT();
op_MULHU: RD = (uint64_t)(((unsigned __int128)RS1 * RS2) >> 64); NEXT();
op_DIV: {
    int64_t a = (int64_t)RS1, b = (int64_t)RS2;
    RD = b == 0 ? ~0ULL : (a == INT64_MIN && b == -1) ? (uint64_t)a : (uint64_t)(a / b);
    NEXT();
}
op_DIVU: RD = RS2 == 0 ? ~0ULL : RS1 / RS2; NEXT();
op_REM: {
    int64_t a = (int64_t)RS1, b = (int64_t)RS2;
    RD = b == 0 ? (uint64_t)a : (a == INT64_MIN && b == -1) ? 0 : (uint64_t)(a % b);
    NEXT();
}
op_REMU: RD = RS2 == 0 ? RS1 : RS1 % RS2; NEXT();
op_MULW: RD = SEXT32(RS1 * RS2); NEXT();
op_DIVW: {
    int32_t a = (int32_t)RS1, b = (int32_t)RS2;
    RD = b == 0 ? ~0ULL : (a == INT32_MIN && b == -1) ? SEXT32(a) : SEXT32(a / b);
    NEXT();
}
op_DIVUW: {
    uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
    RD = b == 0 ? ~0ULL : SEXT32(a / b);
    NEXT();
}
op_REMW: {
    int32_t a = (int32_t)RS1, b = (int32_t)RS2;
    RD = b == 0 ? SEXT32(a) : (a == INT32_MIN && b == -1) ? 0 : SEXT32(a % b);
    NEXT();
}
op_REMUW: {
    uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
    RD = b == 0 ? SEXT32(a) : SEXT32(a % b);
    NEXT();
}

op_FENCE_I:
    rv_cpu_flush_icache(h);
    pc += in->len;
    n++;
    goto out;
op_ECALL:
    if (h->priv == RV_PRIV_S && h->sbi_in_vmm && h->hooks && h->hooks->sbi_call) {
        c->pending_insns = n;
        h->pc = pc;
        h->vcpu->stats.hypercalls++;
        int rc = h->hooks->sbi_call(h);
        X[0] = 0;
        pc = rc > 0 ? h->pc : pc + 4;
        n++;
        goto out;
    }
    c->trap_cause = h->priv == RV_PRIV_U ? RV_EXC_ECALL_U
                    : h->priv == RV_PRIV_S ? RV_EXC_ECALL_S : RV_EXC_ECALL_M;
    c->trap_tval = 0;
    goto trap;
op_EBREAK:
    c->trap_cause = RV_EXC_BREAKPOINT;
    c->trap_tval = pc;
    goto trap;
op_MRET:
op_SRET:
op_WFI:
op_SFENCE_VMA:
    c->pending_insns = n;
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
        goto trap;
    if (r == RV_RES_SYNC) {
        pc += in->len;
        n++;
        goto out;
    }
    NEXT();
op_AMO:
    if (rv_amo_exec(h, in) == RV_RES_TRAP)
        goto trap;
    NEXT();
op_FP:
    if (rv_fpu_exec(h, in) == RV_RES_TRAP)
        goto trap;
    NEXT();
op_FLW: {
    if (!(c->mstatus & MSTATUS_FS))
        goto op_ILLEGAL;
    uint64_t v = LOAD(uint32_t, RS1 + IMM);
    h->f[in->rd] = 0xffffffff00000000ULL | v;
    rv_fs_dirty(c);
    NEXT_MEM();
}
op_FLD: {
    if (!(c->mstatus & MSTATUS_FS))
        goto op_ILLEGAL;
    uint64_t v = LOAD(uint64_t, RS1 + IMM);
    h->f[in->rd] = v;
    rv_fs_dirty(c);
    NEXT_MEM();
}
op_FSW:
    if (!(c->mstatus & MSTATUS_FS))
        goto op_ILLEGAL;
    STORE(uint32_t, RS1 + IMM, h->f[in->rs2]);
    NEXT_MEM();
op_FSD:
    if (!(c->mstatus & MSTATUS_FS))
        goto op_ILLEGAL;
    STORE(uint64_t, RS1 + IMM, h->f[in->rs2]);
    NEXT_MEM();

trap:
    h->pc = pc;
    rv_trap(h, c->trap_cause, c->trap_tval);
    pc = h->pc;
out:
    h->pc = pc;
    c->pending_insns = 0;
    c->tlb_hits += hits;
    h->vcpu->stats.instructions += n;
}
