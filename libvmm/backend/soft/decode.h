/* RV64GC instruction decoding for the soft engine's decoded-instruction
 * cache: every instruction (32-bit or compressed) becomes one struct
 * rv_insn with an operation number and its operands already extracted, so
 * the interpreter (exec.c) never looks at instruction bits again.
 * Compressed instructions expand to the operation of their 32-bit form.
 */
#ifndef LIBVMM_BACKEND_SOFT_DECODE_H
#define LIBVMM_BACKEND_SOFT_DECODE_H

#include <stdint.h>

/* Operation numbers. RV_OP_DECODE must stay 0: a zeroed cache slot means
 * "not decoded yet". RV_OP_PAGEEND marks the slots past a page's end, so
 * stepping off the page needs no bounds check. The order is the order of
 * the interpreter's table. */
#define RV_OPS(X)                                                                     \
    X(DECODE) X(CROSS) X(PAGEEND) X(ILLEGAL) X(NOP)                                   \
    X(LUI) X(AUIPC) X(JAL) X(JALR)                                                    \
    X(BEQ) X(BNE) X(BLT) X(BGE) X(BLTU) X(BGEU)                                       \
    X(LB) X(LH) X(LW) X(LD) X(LBU) X(LHU) X(LWU)                                      \
    X(SB) X(SH) X(SW) X(SD)                                                           \
    X(ADDI) X(SLTI) X(SLTIU) X(XORI) X(ORI) X(ANDI) X(SLLI) X(SRLI) X(SRAI)           \
    X(ADD) X(SUB) X(SLL) X(SLT) X(SLTU) X(XOR) X(SRL) X(SRA) X(OR) X(AND)             \
    X(ADDIW) X(SLLIW) X(SRLIW) X(SRAIW) X(ADDW) X(SUBW) X(SLLW) X(SRLW) X(SRAW)       \
    X(MUL) X(MULH) X(MULHSU) X(MULHU) X(DIV) X(DIVU) X(REM) X(REMU)                   \
    X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW)                                         \
    X(FENCE) X(FENCE_I) X(ECALL) X(EBREAK) X(MRET) X(SRET) X(WFI) X(SFENCE_VMA)       \
    X(CSR)                                                                            \
    X(AMO)                                                                            \
    X(FLW) X(FLD) X(FSW) X(FSD) X(FP)

enum rv_op {
#define RV_OP_ENUM(name) RV_OP_##name,
    RV_OPS(RV_OP_ENUM)
#undef RV_OP_ENUM
    RV_OP_COUNT
};

/* One decoded instruction: 8 bytes, so a 4 KiB code page (2048 possible
 * 2-byte-aligned starts) decodes into a 16 KiB array. The operation and
 * the length live in `disp` (the interpreter's dispatch index); what an
 * operation without an immediate needs besides its registers lives in imm:
 *   CSR: imm = the CSR number, rs2 = funct3;
 *   AMO: imm = funct3 | funct5 << 3;
 *   FP (F/D arithmetic): imm = the instruction's 32 bits (the FPU decodes
 *     funct7, rs3 and rm from them);
 *   CROSS: imm = the low 16 bits of the instruction crossing the page.
 * The instruction's bits are not kept otherwise: an illegal-instruction
 * trap reads them back from guest memory (rv_trap, RV_TVAL_INSN). */
struct rv_insn {
    uint8_t disp; /* RV_DISP(op, len) */
    uint8_t rd, rs1, rs2;
    int32_t imm; /* sign-extended immediate, or as listed above */
};
_Static_assert(sizeof(struct rv_insn) == 8, "a decoded instruction is 8 bytes");

/* Dispatch index of an operation: each has a handler for its 2-byte and
 * its 4-byte form, so a handler steps to the next instruction by a
 * constant instead of through a load of the length. A zeroed slot has
 * index 0: RV_OP_DECODE, 2 bytes. */
#define RV_DISP(op, len) ((uint8_t)((op) * 2 + ((len) == 4)))
_Static_assert(RV_OP_COUNT * 2 <= 256, "dispatch index fits in 8 bits");

static inline unsigned rv_insn_op(const struct rv_insn *in) { return in->disp >> 1; }
static inline unsigned rv_insn_len(const struct rv_insn *in) { return 2u + 2u * (in->disp & 1u); }
/* The 32 bits of an RV_OP_FP instruction. */
static inline uint32_t rv_insn_bits(const struct rv_insn *in) { return (uint32_t)in->imm; }

/* Sets the operation and the length. */
static inline void rv_insn_set(struct rv_insn *in, unsigned op, unsigned len)
{
    in->disp = RV_DISP(op, len);
}
/* Sets the operation, keeping the length. */
static inline void rv_insn_set_op(struct rv_insn *in, unsigned op)
{
    rv_insn_set(in, op, rv_insn_len(in));
}

/* rd of an integer load or a jump whose destination is x0. */
#define RV_REG_SINK 32

/* Decodes `raw` (a 32-bit instruction, or a compressed one in the low 16
 * bits when raw & 3 != 3) into *out. Unknown encodings decode to
 * RV_OP_ILLEGAL; never fails. */
void rv_decode(uint32_t raw, struct rv_insn *out);

/* Name of an operation, for logs and tests. */
const char *rv_op_name(unsigned op);

#endif
