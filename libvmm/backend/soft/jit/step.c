/* The translator's universal fallback: one decoded instruction run the way
 * the interpreter (exec.c) runs it, for every operation, so an instruction
 * the translator has no native code for is still exact. Translated code
 * reaches it through rv_jh_step (helpers.c) for CSRs, atomics, floating
 * point, system instructions and illegal encodings; the dispatcher uses it
 * for an instruction that crosses a page end.
 */
#include <string.h>

#include "backend/soft/jit/jit_internal.h"

#define SEXT32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))

/* A load as the interpreter does it: TLB hit inline, else the slow path. */
static int load(struct rv_hart *h, uint64_t va, unsigned size, uint64_t *v)
{
    struct rv_cpu *c = rv_cpu(h);
    const struct rv_tlbe *e = &c->ltlb[(va >> 12) & (RV_TLB_SIZE - 1)];
    if (e->tag == (va & (~0xfffULL | (size - 1)))) {
        const uint8_t *p = (const uint8_t *)(e->addend + va);
        uint64_t r = 0;
        memcpy(&r, p, size); /* little-endian host */
        *v = r;
        return 0;
    }
    return rv_mmu_load_slow(h, va, size, v);
}

static int store(struct rv_hart *h, uint64_t va, unsigned size, uint64_t v)
{
    struct rv_cpu *c = rv_cpu(h);
    const struct rv_tlbe *e = &c->stlb[(va >> 12) & (RV_TLB_SIZE - 1)];
    if (e->tag == (va & (~0xfffULL | (size - 1)))) {
        memcpy((uint8_t *)(e->addend + va), &v, size);
        return 0;
    }
    return rv_mmu_store_slow(h, va, size, v);
}

static uint64_t sext(uint64_t v, unsigned size)
{
    unsigned sh = 64 - 8 * size;
    return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* M extension (also used by translated code for division). */
uint64_t rv_jh_muldiv(uint64_t a, uint64_t b, uint64_t op)
{
    switch (op) {
    case RV_OP_MUL: return a * b;
    case RV_OP_MULH: return (uint64_t)(((__int128)(int64_t)a * (__int128)(int64_t)b) >> 64);
    case RV_OP_MULHSU: return (uint64_t)(((__int128)(int64_t)a * (__int128)b) >> 64);
    case RV_OP_MULHU: return (uint64_t)(((unsigned __int128)a * b) >> 64);
    case RV_OP_DIV:
        return b == 0 ? ~0ULL
               : ((int64_t)a == INT64_MIN && (int64_t)b == -1) ? a
                                                               : (uint64_t)((int64_t)a / (int64_t)b);
    case RV_OP_DIVU: return b == 0 ? ~0ULL : a / b;
    case RV_OP_REM:
        return b == 0 ? a
               : ((int64_t)a == INT64_MIN && (int64_t)b == -1) ? 0
                                                               : (uint64_t)((int64_t)a % (int64_t)b);
    case RV_OP_REMU: return b == 0 ? a : a % b;
    case RV_OP_MULW: return SEXT32(a * b);
    case RV_OP_DIVW: {
        int32_t x = (int32_t)a, y = (int32_t)b;
        return y == 0 ? ~0ULL : (x == INT32_MIN && y == -1) ? SEXT32(x) : SEXT32(x / y);
    }
    case RV_OP_DIVUW: {
        uint32_t x = (uint32_t)a, y = (uint32_t)b;
        return y == 0 ? ~0ULL : SEXT32(x / y);
    }
    case RV_OP_REMW: {
        int32_t x = (int32_t)a, y = (int32_t)b;
        return y == 0 ? SEXT32(x) : (x == INT32_MIN && y == -1) ? 0 : SEXT32(x % y);
    }
    default: { /* REMUW */
        uint32_t x = (uint32_t)a, y = (uint32_t)b;
        return y == 0 ? SEXT32(x) : SEXT32(x % y);
    }
    }
}

/* rd of a pure ALU operation (rd = x0 decodes to NOP, so rd != 0 here). */
static uint64_t alu(const struct rv_insn *in, uint64_t a, uint64_t b, uint64_t pc)
{
    int64_t imm = in->imm;
    switch (rv_insn_op(in)) {
    case RV_OP_LUI: return (uint64_t)imm;
    case RV_OP_AUIPC: return pc + (uint64_t)imm;
    case RV_OP_ADDI: return a + (uint64_t)imm;
    case RV_OP_SLTI: return (int64_t)a < imm;
    case RV_OP_SLTIU: return a < (uint64_t)imm;
    case RV_OP_XORI: return a ^ (uint64_t)imm;
    case RV_OP_ORI: return a | (uint64_t)imm;
    case RV_OP_ANDI: return a & (uint64_t)imm;
    case RV_OP_SLLI: return a << imm;
    case RV_OP_SRLI: return a >> imm;
    case RV_OP_SRAI: return (uint64_t)((int64_t)a >> imm);
    case RV_OP_ADD: return a + b;
    case RV_OP_SUB: return a - b;
    case RV_OP_SLL: return a << (b & 63);
    case RV_OP_SLT: return (int64_t)a < (int64_t)b;
    case RV_OP_SLTU: return a < b;
    case RV_OP_XOR: return a ^ b;
    case RV_OP_SRL: return a >> (b & 63);
    case RV_OP_SRA: return (uint64_t)((int64_t)a >> (b & 63));
    case RV_OP_OR: return a | b;
    case RV_OP_AND: return a & b;
    case RV_OP_ADDIW: return SEXT32(a + (uint64_t)imm);
    case RV_OP_SLLIW: return SEXT32((uint32_t)a << imm);
    case RV_OP_SRLIW: return SEXT32((uint32_t)a >> imm);
    case RV_OP_SRAIW: return (uint64_t)(int64_t)((int32_t)a >> imm);
    case RV_OP_ADDW: return SEXT32(a + b);
    case RV_OP_SUBW: return SEXT32(a - b);
    case RV_OP_SLLW: return SEXT32((uint32_t)a << (b & 31));
    case RV_OP_SRLW: return SEXT32((uint32_t)a >> (b & 31));
    case RV_OP_SRAW: return (uint64_t)(int64_t)((int32_t)a >> (b & 31));
    default: return rv_jh_muldiv(a, b, rv_insn_op(in));
    }
}

static enum rv_step jump(struct rv_hart *h, uint64_t target)
{
    h->pc = target;
    return RV_STEP_EXIT;
}

static int branch_taken(const struct rv_insn *in, uint64_t a, uint64_t b)
{
    switch (rv_insn_op(in)) {
    case RV_OP_BEQ: return a == b;
    case RV_OP_BNE: return a != b;
    case RV_OP_BLT: return (int64_t)a < (int64_t)b;
    case RV_OP_BGE: return (int64_t)a >= (int64_t)b;
    case RV_OP_BLTU: return a < b;
    default: return a >= b;
    }
}

/* After a slow memory access: a device may have asked the run to end, and
 * then the instruction completes and the next one does not start. */
static enum rv_step after_mem(struct rv_hart *h, const struct rv_insn *in, uint64_t pc)
{
    if (machine_should_exit(h->m))
        return jump(h, pc + rv_insn_len(in));
    return RV_STEP_NEXT;
}

static enum rv_step illegal(struct rv_cpu *c)
{
    c->trap_cause = RV_EXC_ILLEGAL;
    c->trap_tval = RV_TVAL_INSN; /* rv_trap reads the bits back */
    return RV_STEP_TRAP;
}

enum rv_step rv_jit_step_insn(struct rv_hart *h, const struct rv_insn *in, uint64_t pc)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t *X = h->x;
    uint64_t a = X[in->rs1], b = X[in->rs2], v;
    enum rv_res r;
    unsigned op = rv_insn_op(in);

    if ((op >= RV_OP_ADDI && op <= RV_OP_REMUW) || op == RV_OP_LUI || op == RV_OP_AUIPC) {
        X[in->rd] = alu(in, a, b, pc);
        X[0] = 0;
        return RV_STEP_NEXT;
    }
    if (op >= RV_OP_LB && op <= RV_OP_LWU) {
        static const unsigned size[] = { 1, 2, 4, 8, 1, 2, 4 };
        unsigned s = size[op - RV_OP_LB];
        if (load(h, a + (uint64_t)(int64_t)in->imm, s, &v))
            return RV_STEP_TRAP;
        X[in->rd] = op >= RV_OP_LBU || s == 8 ? v : sext(v, s);
        X[0] = 0;
        return after_mem(h, in, pc);
    }
    if (op >= RV_OP_SB && op <= RV_OP_SD) {
        unsigned s = 1u << (op - RV_OP_SB);
        if (store(h, a + (uint64_t)(int64_t)in->imm, s, b))
            return RV_STEP_TRAP;
        return after_mem(h, in, pc);
    }
    if (op >= RV_OP_BEQ && op <= RV_OP_BGEU)
        return jump(h, branch_taken(in, a, b) ? pc + (uint64_t)(int64_t)in->imm
                                              : pc + rv_insn_len(in));

    switch (op) {
    case RV_OP_NOP:
    case RV_OP_FENCE: return RV_STEP_NEXT;
    case RV_OP_JAL:
        X[in->rd] = pc + rv_insn_len(in);
        X[0] = 0;
        return jump(h, pc + (uint64_t)(int64_t)in->imm);
    case RV_OP_JALR: {
        uint64_t t = (a + (uint64_t)(int64_t)in->imm) & ~1ULL;
        X[in->rd] = pc + rv_insn_len(in);
        X[0] = 0;
        return jump(h, t);
    }
    case RV_OP_FENCE_I:
        rv_cpu_fence_i(h);
        return jump(h, pc + rv_insn_len(in));
    case RV_OP_ECALL:
        if (h->priv == RV_PRIV_S && h->sbi_in_vmm && h->hooks && h->hooks->sbi_call) {
            h->pc = pc;
            rv_fpu_sync(c); /* the platform's code runs with the host's FP state */
            MACHINE_VCPU_STAT_ADD(h->vcpu, hypercalls, 1);
            int rc = h->hooks->sbi_call(h);
            X[0] = 0;
            return jump(h, rc > 0 ? h->pc : pc + 4);
        }
        c->trap_cause = h->priv == RV_PRIV_U   ? RV_EXC_ECALL_U
                        : h->priv == RV_PRIV_S ? RV_EXC_ECALL_S
                                               : RV_EXC_ECALL_M;
        c->trap_tval = 0;
        return RV_STEP_TRAP;
    case RV_OP_EBREAK:
        c->trap_cause = RV_EXC_BREAKPOINT;
        c->trap_tval = pc;
        return RV_STEP_TRAP;
    case RV_OP_MRET:
    case RV_OP_SRET:
    case RV_OP_WFI:
    case RV_OP_SFENCE_VMA:
        h->pc = pc;
        r = rv_sys_exec(h, in, pc);
        if (r == RV_RES_TRAP)
            return RV_STEP_TRAP;
        return RV_STEP_EXIT; /* h->pc set by rv_sys_exec */
    case RV_OP_CSR:
        r = rv_csr_exec(h, in);
        if (r == RV_RES_TRAP)
            return RV_STEP_TRAP;
        if (r == RV_RES_SYNC)
            return jump(h, pc + rv_insn_len(in));
        return RV_STEP_NEXT;
    case RV_OP_AMO: return rv_amo_exec(h, in) == RV_RES_TRAP ? RV_STEP_TRAP : RV_STEP_NEXT;
    case RV_OP_FP: return rv_fpu_exec(h, in) == RV_RES_TRAP ? RV_STEP_TRAP : RV_STEP_NEXT;
    case RV_OP_FLW:
    case RV_OP_FLD: {
        if (!(c->mstatus & MSTATUS_FS))
            return illegal(c);
        unsigned s = op == RV_OP_FLW ? 4 : 8;
        if (load(h, a + (uint64_t)(int64_t)in->imm, s, &v))
            return RV_STEP_TRAP;
        h->f[in->rd] = s == 4 ? 0xffffffff00000000ULL | v : v;
        rv_fs_dirty(c);
        return after_mem(h, in, pc);
    }
    case RV_OP_FSW:
    case RV_OP_FSD: {
        if (!(c->mstatus & MSTATUS_FS))
            return illegal(c);
        unsigned s = op == RV_OP_FSW ? 4 : 8;
        if (store(h, a + (uint64_t)(int64_t)in->imm, s, h->f[in->rs2]))
            return RV_STEP_TRAP;
        return after_mem(h, in, pc);
    }
    default: /* ILLEGAL, and DECODE/CROSS/PAGEEND never reach here */
        return illegal(c);
    }
}
