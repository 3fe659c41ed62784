/* The x86-64 encoder of emit.h. Every form goes through one of two
 * builders, mem_op (a ModRM memory operand, with SIB when needed) and
 * reg_op (register, register), so prefixes and ModRM are encoded in one
 * place.
 */
#include "backend/soft/jit/emit.h"

static int fits8(int32_t v)
{
    return v >= -128 && v <= 127;
}

/* Emits [66] [REX] opcode ModRM [SIB] [disp] for reg and [base + index + disp].
 * force_rex: a byte operation on SPL..DIL needs a REX prefix to mean them. */
static void mem_op(struct jx_buf *b, int w, int p66, const uint8_t *op, int oplen, int reg,
                   int base, int index, int32_t disp, int force_rex, int force_disp32)
{
    if (p66)
        jx_byte(b, 0x66);
    uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg >> 3) & 1) << 2 |
                            (index >= 0 ? ((index >> 3) & 1) << 1 : 0) | ((base >> 3) & 1));
    if (rex != 0x40 || force_rex)
        jx_byte(b, rex);
    for (int i = 0; i < oplen; i++)
        jx_byte(b, op[i]);
    int mod;
    if (force_disp32)
        mod = 2;
    else if (disp == 0 && (base & 7) != 5)
        mod = 0;
    else if (fits8(disp))
        mod = 1;
    else
        mod = 2;
    if (index >= 0) {
        jx_byte(b, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
        jx_byte(b, (uint8_t)((index & 7) << 3 | (base & 7)));
    } else {
        jx_byte(b, (uint8_t)(mod << 6 | (reg & 7) << 3 | (base & 7)));
        if ((base & 7) == 4)
            jx_byte(b, 0x24); /* SIB: no index, base rsp/r12 */
    }
    if (mod == 1)
        jx_byte(b, (uint8_t)disp);
    else if (mod == 2)
        jx_u32(b, (uint32_t)disp);
}

/* [REX] opcode ModRM(11, reg, rm). */
static void reg_op(struct jx_buf *b, int w, const uint8_t *op, int oplen, int reg, int rm,
                   int force_rex)
{
    uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg >> 3) & 1) << 2 | ((rm >> 3) & 1));
    if (rex != 0x40 || force_rex)
        jx_byte(b, rex);
    for (int i = 0; i < oplen; i++)
        jx_byte(b, op[i]);
    jx_byte(b, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

void jx_load(struct jx_buf *b, int w, int reg, int base, int32_t disp)
{
    static const uint8_t op[] = { 0x8b };
    mem_op(b, w, 0, op, 1, reg, base, -1, disp, 0, 0);
}

void jx_store(struct jx_buf *b, int w, int base, int32_t disp, int reg)
{
    static const uint8_t op[] = { 0x89 };
    mem_op(b, w, 0, op, 1, reg, base, -1, disp, 0, 0);
}

void jx_load_ext(struct jx_buf *b, int reg, int base, int index, unsigned size, int sign)
{
    static const uint8_t movzx8[] = { 0x0f, 0xb6 }, movzx16[] = { 0x0f, 0xb7 };
    static const uint8_t movsx8[] = { 0x0f, 0xbe }, movsx16[] = { 0x0f, 0xbf };
    static const uint8_t movsxd[] = { 0x63 }, mov[] = { 0x8b };
    switch (size) {
    case 1: mem_op(b, sign, 0, sign ? movsx8 : movzx8, 2, reg, base, index, 0, 0, 0); break;
    case 2: mem_op(b, sign, 0, sign ? movsx16 : movzx16, 2, reg, base, index, 0, 0, 0); break;
    case 4:
        if (sign)
            mem_op(b, 1, 0, movsxd, 1, reg, base, index, 0, 0, 0);
        else
            mem_op(b, 0, 0, mov, 1, reg, base, index, 0, 0, 0); /* zero-extends */
        break;
    default: mem_op(b, 1, 0, mov, 1, reg, base, index, 0, 0, 0); break;
    }
}

void jx_store_sized(struct jx_buf *b, int base, int index, unsigned size, int reg)
{
    static const uint8_t mov8[] = { 0x88 }, mov[] = { 0x89 };
    switch (size) {
    case 1: mem_op(b, 0, 0, mov8, 1, reg, base, index, 0, reg >= 4 && reg < 8, 0); break;
    case 2: mem_op(b, 0, 1, mov, 1, reg, base, index, 0, 0, 0); break;
    case 4: mem_op(b, 0, 0, mov, 1, reg, base, index, 0, 0, 0); break;
    default: mem_op(b, 1, 0, mov, 1, reg, base, index, 0, 0, 0); break;
    }
}

void jx_store_imm(struct jx_buf *b, int base, int32_t disp, int32_t imm)
{
    static const uint8_t op[] = { 0xc7 };
    mem_op(b, 1, 0, op, 1, 0, base, -1, disp, 0, 0);
    jx_u32(b, (uint32_t)imm);
}

void jx_mov_imm(struct jx_buf *b, int reg, uint64_t imm)
{
    if (imm <= 0xffffffffULL) { /* mov r32, imm32 zero-extends */
        if (reg >= 8)
            jx_byte(b, 0x41);
        jx_byte(b, (uint8_t)(0xb8 + (reg & 7)));
        jx_u32(b, (uint32_t)imm);
    } else if ((int64_t)imm == (int64_t)(int32_t)imm) { /* sign-extended imm32 */
        static const uint8_t op[] = { 0xc7 };
        reg_op(b, 1, op, 1, 0, reg, 0);
        jx_u32(b, (uint32_t)imm);
    } else {
        jx_byte(b, (uint8_t)(0x48 | (reg >> 3)));
        jx_byte(b, (uint8_t)(0xb8 + (reg & 7)));
        jx_u64(b, imm);
    }
}

void jx_mov_rr(struct jx_buf *b, int dst, int src)
{
    static const uint8_t op[] = { 0x89 };
    reg_op(b, 1, op, 1, src, dst, 0);
}

void jx_lea(struct jx_buf *b, int dst, int base, int32_t disp)
{
    static const uint8_t op[] = { 0x8d };
    mem_op(b, 1, 0, op, 1, dst, base, -1, disp, 0, 0);
}

void jx_lea_bi(struct jx_buf *b, int w, int dst, int base, int index)
{
    static const uint8_t op[] = { 0x8d };
    mem_op(b, w, 0, op, 1, dst, base, index, 0, 0, 0);
}

void jx_rorx(struct jx_buf *b, int dst, int src, uint8_t n)
{
    /* VEX.LZ.F2.0F3A.W1 F0 /r ib: the inverted R and B bits, map 0F3A */
    jx_byte(b, 0xc4);
    jx_byte(b, (uint8_t)((dst >= 8 ? 0 : 0x80) | 0x40 | (src >= 8 ? 0 : 0x20) | 0x03));
    jx_byte(b, 0xfb); /* W1, vvvv = 1111 (unused), L0, pp = F2 */
    jx_byte(b, 0xf0);
    jx_byte(b, (uint8_t)(0xc0 | (dst & 7) << 3 | (src & 7)));
    jx_byte(b, n);
}

void jx_alu_rr(struct jx_buf *b, int w, enum jx_alu op, int dst, int src)
{
    uint8_t opc[] = { (uint8_t)(op * 8 + 1) };
    reg_op(b, w, opc, 1, src, dst, 0);
}

void jx_alu_rm(struct jx_buf *b, int w, enum jx_alu op, int reg, int base, int32_t disp)
{
    uint8_t opc[] = { (uint8_t)(op * 8 + 3) };
    mem_op(b, w, 0, opc, 1, reg, base, -1, disp, 0, 0);
}

void jx_alu_ri(struct jx_buf *b, int w, enum jx_alu op, int reg, int32_t imm)
{
    if (fits8(imm)) {
        static const uint8_t opc[] = { 0x83 };
        reg_op(b, w, opc, 1, op, reg, 0);
        jx_byte(b, (uint8_t)imm);
    } else {
        static const uint8_t opc[] = { 0x81 };
        reg_op(b, w, opc, 1, op, reg, 0);
        jx_u32(b, (uint32_t)imm);
    }
}

void jx_alu_m32i8(struct jx_buf *b, enum jx_alu op, int base, int32_t disp, int8_t imm)
{
    static const uint8_t opc[] = { 0x83 };
    mem_op(b, 1, 0, opc, 1, op, base, -1, disp, 0, 1);
    jx_byte(b, (uint8_t)imm);
}

void jx_shift_ri(struct jx_buf *b, int w, enum jx_shift op, int reg, uint8_t n)
{
    static const uint8_t opc[] = { 0xc1 };
    reg_op(b, w, opc, 1, op, reg, 0);
    jx_byte(b, n);
}

void jx_shift_rcl(struct jx_buf *b, int w, enum jx_shift op, int reg)
{
    static const uint8_t opc[] = { 0xd3 };
    reg_op(b, w, opc, 1, op, reg, 0);
}

void jx_imul_rm(struct jx_buf *b, int w, int reg, int base, int32_t disp)
{
    static const uint8_t opc[] = { 0x0f, 0xaf };
    mem_op(b, w, 0, opc, 2, reg, base, -1, disp, 0, 0);
}

void jx_imul_rr(struct jx_buf *b, int w, int reg, int src)
{
    static const uint8_t opc[] = { 0x0f, 0xaf };
    reg_op(b, w, opc, 2, reg, src, 0);
}

void jx_mul_r(struct jx_buf *b, int sign, int src)
{
    static const uint8_t opc[] = { 0xf7 };
    reg_op(b, 1, opc, 1, sign ? 5 : 4, src, 0);
}

void jx_div_r(struct jx_buf *b, int w, int sign, int src)
{
    static const uint8_t opc[] = { 0xf7 };
    reg_op(b, w, opc, 1, sign ? 7 : 6, src, 0);
}

void jx_cqo(struct jx_buf *b, int w)
{
    if (w)
        jx_byte(b, 0x48);
    jx_byte(b, 0x99);
}

void jx_mul_m(struct jx_buf *b, int sign, int base, int32_t disp)
{
    static const uint8_t opc[] = { 0xf7 };
    mem_op(b, 1, 0, opc, 1, sign ? 5 : 4, base, -1, disp, 0, 0);
}

void jx_sse_m(struct jx_buf *b, uint8_t prefix, uint8_t op, int xmm, int base, int32_t disp)
{
    uint8_t opc[] = { 0x0f, op };
    if (prefix)
        jx_byte(b, prefix); /* before any REX */
    mem_op(b, 0, 0, opc, 2, xmm, base, -1, disp, 0, 0);
}

void jx_sse_rr(struct jx_buf *b, uint8_t prefix, uint8_t op, int xdst, int xsrc)
{
    uint8_t opc[] = { 0x0f, op };
    if (prefix)
        jx_byte(b, prefix);
    reg_op(b, 0, opc, 2, xdst, xsrc, 0);
}

void jx_sse_gx(struct jx_buf *b, uint8_t prefix, uint8_t op, int w, int r, int m)
{
    uint8_t opc[] = { 0x0f, op };
    jx_byte(b, prefix);
    reg_op(b, w, opc, 2, r, m, 0);
}

void jx_vfma213(struct jx_buf *b, uint8_t op, int w, int dst, int src2, int src3)
{
    /* C4, RXB inverted (all registers below 8) with map 0F38, then W,
     * the inverted vvvv (src2), L0, pp = 66 */
    jx_byte(b, 0xc4);
    jx_byte(b, 0xe2);
    jx_byte(b, (uint8_t)((w ? 0x80 : 0) | (~src2 & 15) << 3 | 0x01));
    jx_byte(b, op);
    jx_byte(b, (uint8_t)(0xc0 | (dst & 7) << 3 | (src3 & 7)));
}

void jx_alu_mi8(struct jx_buf *b, int w, enum jx_alu op, int base, int32_t disp, int8_t imm)
{
    static const uint8_t opc[] = { 0x83 };
    mem_op(b, w, 0, opc, 1, op, base, -1, disp, 0, 0);
    jx_byte(b, (uint8_t)imm);
}

void jx_store_imm32(struct jx_buf *b, int base, int32_t disp, uint32_t imm)
{
    static const uint8_t opc[] = { 0xc7 };
    mem_op(b, 0, 0, opc, 1, 0, base, -1, disp, 0, 0);
    jx_u32(b, imm);
}

void jx_movsxd(struct jx_buf *b, int dst, int src)
{
    static const uint8_t opc[] = { 0x63 };
    reg_op(b, 1, opc, 1, dst, src, 0);
}

void jx_setcc(struct jx_buf *b, enum jx_cc cc, int reg)
{
    uint8_t opc[] = { 0x0f, (uint8_t)(0x90 | cc) };
    reg_op(b, 0, opc, 2, 0, reg, reg >= 4 && reg < 8);
}

void jx_test_rr(struct jx_buf *b, int w, int a, int c)
{
    static const uint8_t opc[] = { 0x85 };
    reg_op(b, w, opc, 1, c, a, 0);
}

size_t jx_jmp32(struct jx_buf *b)
{
    jx_byte(b, 0xe9);
    size_t at = jx_pos(b);
    jx_u32(b, 0);
    return at;
}

size_t jx_call32(struct jx_buf *b)
{
    jx_byte(b, 0xe8);
    size_t at = jx_pos(b);
    jx_u32(b, 0);
    return at;
}

size_t jx_jcc32(struct jx_buf *b, enum jx_cc cc)
{
    jx_byte(b, 0x0f);
    jx_byte(b, (uint8_t)(0x80 | cc));
    size_t at = jx_pos(b);
    jx_u32(b, 0);
    return at;
}

void jx_imul_ri8(struct jx_buf *b, int dst, int src, int8_t imm)
{
    static const uint8_t opc[] = { 0x6b };
    reg_op(b, 0, opc, 1, dst, src, 0);
    jx_byte(b, (uint8_t)imm);
}

void jx_jmp_m(struct jx_buf *b, int base, int32_t disp)
{
    static const uint8_t opc[] = { 0xff };
    mem_op(b, 0, 0, opc, 1, 4, base, -1, disp, 0, 0);
}

void jx_call_r(struct jx_buf *b, int reg)
{
    static const uint8_t opc[] = { 0xff };
    reg_op(b, 0, opc, 1, 2, reg, 0);
}

void jx_jmp_r(struct jx_buf *b, int reg)
{
    static const uint8_t opc[] = { 0xff };
    reg_op(b, 0, opc, 1, 4, reg, 0);
}

void jx_push(struct jx_buf *b, int reg)
{
    if (reg >= 8)
        jx_byte(b, 0x41);
    jx_byte(b, (uint8_t)(0x50 + (reg & 7)));
}

void jx_pop(struct jx_buf *b, int reg)
{
    if (reg >= 8)
        jx_byte(b, 0x41);
    jx_byte(b, (uint8_t)(0x58 + (reg & 7)));
}

void jx_ret(struct jx_buf *b)
{
    jx_byte(b, 0xc3);
}
