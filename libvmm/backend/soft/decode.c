#include "backend/soft/decode.h"

#include <string.h>

static const char *const rv_op_names[RV_OP_COUNT] = {
#define RV_OP_NAME(name) #name,
    RV_OPS(RV_OP_NAME)
#undef RV_OP_NAME
};

const char *rv_op_name(unsigned op)
{
    return op < RV_OP_COUNT ? rv_op_names[op] : "?";
}

static inline uint32_t bits(uint32_t v, int hi, int lo)
{
    return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static inline int32_t sext(uint32_t v, int width)
{
    return (int32_t)(v << (32 - width)) >> (32 - width);
}

static void set(struct rv_insn *o, unsigned op, unsigned rd, unsigned rs1, unsigned rs2, int32_t imm)
{
    rv_insn_set_op(o, op);
    o->rd = (uint8_t)rd;
    o->rs1 = (uint8_t)rs1;
    o->rs2 = (uint8_t)rs2;
    o->imm = imm;
}

static void decode32(uint32_t r, struct rv_insn *o)
{
    unsigned rd = bits(r, 11, 7), rs1 = bits(r, 19, 15), rs2 = bits(r, 24, 20);
    unsigned f3 = bits(r, 14, 12), f7 = bits(r, 31, 25);
    int32_t imm_i = (int32_t)r >> 20;
    int32_t imm_s = (int32_t)((r >> 25) << 5 | bits(r, 11, 7));
    imm_s = sext((uint32_t)imm_s, 12);
    int32_t imm_b = sext(bits(r, 31, 31) << 12 | bits(r, 7, 7) << 11 | bits(r, 30, 25) << 5 |
                             bits(r, 11, 8) << 1,
                         13);
    int32_t imm_u = (int32_t)(r & 0xfffff000u);
    int32_t imm_j = sext(bits(r, 31, 31) << 20 | bits(r, 19, 12) << 12 | bits(r, 20, 20) << 11 |
                             bits(r, 30, 21) << 1,
                         21);
    switch (bits(r, 6, 0)) {
    case 0x03: {
        static const uint16_t ops[8] = { RV_OP_LB, RV_OP_LH, RV_OP_LW, RV_OP_LD,
                                         RV_OP_LBU, RV_OP_LHU, RV_OP_LWU, RV_OP_ILLEGAL };
        set(o, ops[f3], rd, rs1, 0, imm_i);
        return;
    }
    case 0x07:
        if (f3 == 2)
            set(o, RV_OP_FLW, rd, rs1, 0, imm_i);
        else if (f3 == 3)
            set(o, RV_OP_FLD, rd, rs1, 0, imm_i);
        return;
    case 0x0f:
        if (f3 == 0)
            set(o, RV_OP_FENCE, 0, 0, 0, 0);
        else if (f3 == 1)
            set(o, RV_OP_FENCE_I, 0, 0, 0, 0);
        return;
    case 0x13:
        switch (f3) {
        case 0: set(o, RV_OP_ADDI, rd, rs1, 0, imm_i); return;
        case 1:
            if (bits(r, 31, 26) == 0)
                set(o, RV_OP_SLLI, rd, rs1, 0, (int32_t)bits(r, 25, 20));
            return;
        case 2: set(o, RV_OP_SLTI, rd, rs1, 0, imm_i); return;
        case 3: set(o, RV_OP_SLTIU, rd, rs1, 0, imm_i); return;
        case 4: set(o, RV_OP_XORI, rd, rs1, 0, imm_i); return;
        case 5:
            if (bits(r, 31, 26) == 0)
                set(o, RV_OP_SRLI, rd, rs1, 0, (int32_t)bits(r, 25, 20));
            else if (bits(r, 31, 26) == 0x10)
                set(o, RV_OP_SRAI, rd, rs1, 0, (int32_t)bits(r, 25, 20));
            return;
        case 6: set(o, RV_OP_ORI, rd, rs1, 0, imm_i); return;
        case 7: set(o, RV_OP_ANDI, rd, rs1, 0, imm_i); return;
        }
        return;
    case 0x17: set(o, RV_OP_AUIPC, rd, 0, 0, imm_u); return;
    case 0x1b:
        if (f3 == 0)
            set(o, RV_OP_ADDIW, rd, rs1, 0, imm_i);
        else if (f3 == 1 && f7 == 0)
            set(o, RV_OP_SLLIW, rd, rs1, 0, (int32_t)rs2);
        else if (f3 == 5 && f7 == 0)
            set(o, RV_OP_SRLIW, rd, rs1, 0, (int32_t)rs2);
        else if (f3 == 5 && f7 == 0x20)
            set(o, RV_OP_SRAIW, rd, rs1, 0, (int32_t)rs2);
        return;
    case 0x23: {
        static const uint16_t ops[8] = { RV_OP_SB, RV_OP_SH, RV_OP_SW, RV_OP_SD,
                                         RV_OP_ILLEGAL, RV_OP_ILLEGAL, RV_OP_ILLEGAL, RV_OP_ILLEGAL };
        set(o, ops[f3], 0, rs1, rs2, imm_s);
        return;
    }
    case 0x27:
        if (f3 == 2)
            set(o, RV_OP_FSW, 0, rs1, rs2, imm_s);
        else if (f3 == 3)
            set(o, RV_OP_FSD, 0, rs1, rs2, imm_s);
        return;
    case 0x2f: {
        unsigned f5 = bits(r, 31, 27);
        if (f3 != 2 && f3 != 3)
            return;
        switch (f5) {
        case 0x02:
            if (rs2 != 0)
                return;
            /* fall through */
        case 0x00: case 0x01: case 0x03: case 0x04: case 0x08: case 0x0c:
        case 0x10: case 0x14: case 0x18: case 0x1c:
            set(o, RV_OP_AMO, rd, rs1, rs2, (int32_t)(f3 | f5 << 3));
            return;
        }
        return;
    }
    case 0x33: {
        static const uint16_t base[8] = { RV_OP_ADD, RV_OP_SLL, RV_OP_SLT, RV_OP_SLTU,
                                          RV_OP_XOR, RV_OP_SRL, RV_OP_OR, RV_OP_AND };
        static const uint16_t mul[8] = { RV_OP_MUL, RV_OP_MULH, RV_OP_MULHSU, RV_OP_MULHU,
                                         RV_OP_DIV, RV_OP_DIVU, RV_OP_REM, RV_OP_REMU };
        if (f7 == 0)
            set(o, base[f3], rd, rs1, rs2, 0);
        else if (f7 == 1)
            set(o, mul[f3], rd, rs1, rs2, 0);
        else if (f7 == 0x20 && f3 == 0)
            set(o, RV_OP_SUB, rd, rs1, rs2, 0);
        else if (f7 == 0x20 && f3 == 5)
            set(o, RV_OP_SRA, rd, rs1, rs2, 0);
        return;
    }
    case 0x37: set(o, RV_OP_LUI, rd, 0, 0, imm_u); return;
    case 0x3b:
        if (f7 == 0 && f3 == 0)
            set(o, RV_OP_ADDW, rd, rs1, rs2, 0);
        else if (f7 == 0 && f3 == 1)
            set(o, RV_OP_SLLW, rd, rs1, rs2, 0);
        else if (f7 == 0 && f3 == 5)
            set(o, RV_OP_SRLW, rd, rs1, rs2, 0);
        else if (f7 == 0x20 && f3 == 0)
            set(o, RV_OP_SUBW, rd, rs1, rs2, 0);
        else if (f7 == 0x20 && f3 == 5)
            set(o, RV_OP_SRAW, rd, rs1, rs2, 0);
        else if (f7 == 1) {
            static const uint16_t mulw[8] = { RV_OP_MULW, RV_OP_ILLEGAL, RV_OP_ILLEGAL, RV_OP_ILLEGAL,
                                              RV_OP_DIVW, RV_OP_DIVUW, RV_OP_REMW, RV_OP_REMUW };
            set(o, mulw[f3], rd, rs1, rs2, 0);
        }
        return;
    case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
        /* The FPU decodes funct7, rs3 and rm from the bits; operands are here. */
        set(o, RV_OP_FP, rd, rs1, rs2, (int32_t)r);
        return;
    case 0x63: {
        static const uint16_t ops[8] = { RV_OP_BEQ, RV_OP_BNE, RV_OP_ILLEGAL, RV_OP_ILLEGAL,
                                         RV_OP_BLT, RV_OP_BGE, RV_OP_BLTU, RV_OP_BGEU };
        set(o, ops[f3], 0, rs1, rs2, imm_b);
        return;
    }
    case 0x67:
        if (f3 == 0)
            set(o, RV_OP_JALR, rd, rs1, 0, imm_i);
        return;
    case 0x6f: set(o, RV_OP_JAL, rd, 0, 0, imm_j); return;
    case 0x73:
        if (f3 == 0) {
            if (r == 0x00000073)
                set(o, RV_OP_ECALL, 0, 0, 0, 0);
            else if (r == 0x00100073)
                set(o, RV_OP_EBREAK, 0, 0, 0, 0);
            else if (r == 0x30200073)
                set(o, RV_OP_MRET, 0, 0, 0, 0);
            else if (r == 0x10200073)
                set(o, RV_OP_SRET, 0, 0, 0, 0);
            else if (r == 0x10500073)
                set(o, RV_OP_WFI, 0, 0, 0, 0);
            else if (f7 == 0x09 && rd == 0)
                set(o, RV_OP_SFENCE_VMA, 0, rs1, rs2, 0);
        } else if (f3 != 4) {
            set(o, RV_OP_CSR, rd, rs1, f3, (int32_t)bits(r, 31, 20));
        }
        return;
    }
}

static void decode16(uint32_t r, struct rv_insn *o)
{
    unsigned f3 = bits(r, 15, 13);
    unsigned rd = bits(r, 11, 7), rs2 = bits(r, 6, 2);
    unsigned rdp = bits(r, 4, 2) + 8, rs1p = bits(r, 9, 7) + 8;
    int32_t imm6 = sext(bits(r, 12, 12) << 5 | bits(r, 6, 2), 6);

    switch (bits(r, 1, 0) << 3 | f3) {
    case 000: { /* C.ADDI4SPN */
        uint32_t imm = bits(r, 12, 11) << 4 | bits(r, 10, 7) << 6 | bits(r, 6, 6) << 2 |
                       bits(r, 5, 5) << 3;
        if (imm)
            set(o, RV_OP_ADDI, rdp, 2, 0, (int32_t)imm);
        return;
    }
    case 001:
        set(o, RV_OP_FLD, rdp, rs1p, 0, (int32_t)(bits(r, 12, 10) << 3 | bits(r, 6, 5) << 6));
        return;
    case 002:
        set(o, RV_OP_LW, rdp, rs1p, 0,
            (int32_t)(bits(r, 12, 10) << 3 | bits(r, 6, 6) << 2 | bits(r, 5, 5) << 6));
        return;
    case 003:
        set(o, RV_OP_LD, rdp, rs1p, 0, (int32_t)(bits(r, 12, 10) << 3 | bits(r, 6, 5) << 6));
        return;
    case 005:
        set(o, RV_OP_FSD, 0, rs1p, rdp, (int32_t)(bits(r, 12, 10) << 3 | bits(r, 6, 5) << 6));
        return;
    case 006:
        set(o, RV_OP_SW, 0, rs1p, rdp,
            (int32_t)(bits(r, 12, 10) << 3 | bits(r, 6, 6) << 2 | bits(r, 5, 5) << 6));
        return;
    case 007:
        set(o, RV_OP_SD, 0, rs1p, rdp, (int32_t)(bits(r, 12, 10) << 3 | bits(r, 6, 5) << 6));
        return;

    case 010: set(o, RV_OP_ADDI, rd, rd, 0, imm6); return; /* C.ADDI / C.NOP */
    case 011:
        if (rd)
            set(o, RV_OP_ADDIW, rd, rd, 0, imm6);
        return;
    case 012: set(o, RV_OP_ADDI, rd, 0, 0, imm6); return; /* C.LI */
    case 013:
        if (rd == 2) {
            int32_t imm = sext(bits(r, 12, 12) << 9 | bits(r, 6, 6) << 4 | bits(r, 5, 5) << 6 |
                                   bits(r, 4, 3) << 7 | bits(r, 2, 2) << 5,
                               10);
            if (imm)
                set(o, RV_OP_ADDI, 2, 2, 0, imm);
        } else if (imm6) {
            set(o, RV_OP_LUI, rd, 0, 0, (int32_t)((uint32_t)imm6 << 12));
        }
        return;
    case 014:
        switch (bits(r, 11, 10)) {
        case 0:
            set(o, RV_OP_SRLI, rs1p, rs1p, 0, (int32_t)(bits(r, 12, 12) << 5 | bits(r, 6, 2)));
            return;
        case 1:
            set(o, RV_OP_SRAI, rs1p, rs1p, 0, (int32_t)(bits(r, 12, 12) << 5 | bits(r, 6, 2)));
            return;
        case 2: set(o, RV_OP_ANDI, rs1p, rs1p, 0, imm6); return;
        case 3: {
            static const uint16_t ops[8] = { RV_OP_SUB, RV_OP_XOR, RV_OP_OR, RV_OP_AND,
                                             RV_OP_SUBW, RV_OP_ADDW, RV_OP_ILLEGAL, RV_OP_ILLEGAL };
            set(o, ops[bits(r, 12, 12) << 2 | bits(r, 6, 5)], rs1p, rs1p, rdp, 0);
            return;
        }
        }
        return;
    case 015: { /* C.J */
        int32_t imm = sext(bits(r, 12, 12) << 11 | bits(r, 11, 11) << 4 | bits(r, 10, 9) << 8 |
                               bits(r, 8, 8) << 10 | bits(r, 7, 7) << 6 | bits(r, 6, 6) << 7 |
                               bits(r, 5, 3) << 1 | bits(r, 2, 2) << 5,
                           12);
        set(o, RV_OP_JAL, 0, 0, 0, imm);
        return;
    }
    case 016:
    case 017: {
        int32_t imm = sext(bits(r, 12, 12) << 8 | bits(r, 11, 10) << 3 | bits(r, 6, 5) << 6 |
                               bits(r, 4, 3) << 1 | bits(r, 2, 2) << 5,
                           9);
        set(o, f3 == 6 ? RV_OP_BEQ : RV_OP_BNE, 0, rs1p, 0, imm);
        return;
    }

    case 020:
        set(o, RV_OP_SLLI, rd, rd, 0, (int32_t)(bits(r, 12, 12) << 5 | bits(r, 6, 2)));
        return;
    case 021:
        set(o, RV_OP_FLD, rd, 2, 0,
            (int32_t)(bits(r, 12, 12) << 5 | bits(r, 6, 5) << 3 | bits(r, 4, 2) << 6));
        return;
    case 022:
        if (rd)
            set(o, RV_OP_LW, rd, 2, 0,
                (int32_t)(bits(r, 12, 12) << 5 | bits(r, 6, 4) << 2 | bits(r, 3, 2) << 6));
        return;
    case 023:
        if (rd)
            set(o, RV_OP_LD, rd, 2, 0,
                (int32_t)(bits(r, 12, 12) << 5 | bits(r, 6, 5) << 3 | bits(r, 4, 2) << 6));
        return;
    case 024:
        if (!bits(r, 12, 12)) {
            if (rs2 == 0) {
                if (rd)
                    set(o, RV_OP_JALR, 0, rd, 0, 0); /* C.JR */
            } else {
                set(o, RV_OP_ADD, rd, 0, rs2, 0); /* C.MV */
            }
        } else {
            if (rs2 == 0 && rd == 0)
                set(o, RV_OP_EBREAK, 0, 0, 0, 0);
            else if (rs2 == 0)
                set(o, RV_OP_JALR, 1, rd, 0, 0); /* C.JALR */
            else
                set(o, RV_OP_ADD, rd, rd, rs2, 0);
        }
        return;
    case 025:
        set(o, RV_OP_FSD, 0, 2, rs2, (int32_t)(bits(r, 12, 10) << 3 | bits(r, 9, 7) << 6));
        return;
    case 026:
        set(o, RV_OP_SW, 0, 2, rs2, (int32_t)(bits(r, 12, 9) << 2 | bits(r, 8, 7) << 6));
        return;
    case 027:
        set(o, RV_OP_SD, 0, 2, rs2, (int32_t)(bits(r, 12, 10) << 3 | bits(r, 9, 7) << 6));
        return;
    }
}

/* Operations with no effect but writing rd: with rd = x0 they are no-ops,
 * which saves the interpreter from re-zeroing x0 after them. */
static int pure_alu(unsigned op)
{
    return (op >= RV_OP_ADDI && op <= RV_OP_REMUW) || op == RV_OP_LUI || op == RV_OP_AUIPC;
}

void rv_decode(uint32_t raw, struct rv_insn *out)
{
    memset(out, 0, sizeof(*out));
    if ((raw & 3) == 3) {
        rv_insn_set(out, RV_OP_ILLEGAL, 4);
        decode32(raw, out);
    } else {
        rv_insn_set(out, RV_OP_ILLEGAL, 2);
        if ((raw & 0xffff) != 0)
            decode16(raw & 0xffff, out);
    }
    unsigned op = rv_insn_op(out);
    if (pure_alu(op) && out->rd == 0)
        op = RV_OP_NOP;
    /* Loads and jumps to x0 write the sink x[32] instead, so the
     * interpreter need not re-zero x0 after them. */
    if (out->rd == 0 &&
        ((op >= RV_OP_LB && op <= RV_OP_LWU) || op == RV_OP_JAL || op == RV_OP_JALR))
        out->rd = RV_REG_SINK;
    rv_insn_set_op(out, op);
}
