/* A small x86-64 instruction encoder for the soft engine's translator
 * (translate.c): just the forms the translator uses, each named after the
 * instruction it encodes. Code goes into a struct jx_buf; running past its
 * end sets `overflow` instead of writing, so a caller checks once at the
 * end of a block rather than at every instruction.
 *
 * Registers are numbered as in the encoding (RAX = 0 .. R15 = 15). Memory
 * operands are [base + disp] or [base + index + disp] (scale 1).
 */
#ifndef LIBVMM_BACKEND_SOFT_JIT_EMIT_H
#define LIBVMM_BACKEND_SOFT_JIT_EMIT_H

#include <stddef.h>
#include <stdint.h>

enum jx_reg {
    RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
    R8, R9, R10, R11, R12, R13, R14, R15,
    JX_NOREG = -1,
};

/* Condition codes (the low nibble of Jcc / SETcc). */
enum jx_cc {
    CC_O = 0x0, CC_B = 0x2, CC_AE = 0x3, CC_E = 0x4, CC_NE = 0x5, CC_BE = 0x6, CC_A = 0x7,
    CC_S = 0x8, CC_P = 0xa, CC_NP = 0xb, CC_L = 0xc, CC_GE = 0xd,
};

/* Two-operand ALU operations: the /digit of opcode 0x81 (reg, imm) and
 * base opcode (digit * 8 + 1) of the (r/m, reg) form. */
enum jx_alu { ALU_ADD = 0, ALU_OR = 1, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7 };

/* Shift operations: the /digit of 0xC1 / 0xD3. */
enum jx_shift { SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

struct jx_buf {
    uint8_t *start, *p, *end;
    int overflow; /* something did not fit: the whole block is discarded */
};

static inline void jx_buf_init(struct jx_buf *b, uint8_t *start, size_t size)
{
    b->start = b->p = start;
    b->end = start + size;
    b->overflow = 0;
}

static inline size_t jx_pos(const struct jx_buf *b)
{
    return (size_t)(b->p - b->start);
}

static inline void jx_byte(struct jx_buf *b, uint8_t v)
{
    if (b->p < b->end)
        *b->p++ = v;
    else
        b->overflow = 1;
}

static inline void jx_u32(struct jx_buf *b, uint32_t v)
{
    if (b->end - b->p >= 4) {
        for (int i = 0; i < 4; i++)
            *b->p++ = (uint8_t)(v >> (8 * i));
    } else {
        b->overflow = 1;
    }
}

static inline void jx_u64(struct jx_buf *b, uint64_t v)
{
    jx_u32(b, (uint32_t)v);
    jx_u32(b, (uint32_t)(v >> 32));
}

/* mov r64, [base + disp] / mov [base + disp], r64 (w = 1) or their 32-bit
 * forms (w = 0: a 32-bit load zero-extends). */
void jx_load(struct jx_buf *b, int w, int reg, int base, int32_t disp);
void jx_store(struct jx_buf *b, int w, int base, int32_t disp, int reg);
/* Loads of `size` bytes at [base + index], sign- or zero-extended to 64 bits. */
void jx_load_ext(struct jx_buf *b, int reg, int base, int index, unsigned size, int sign);
/* Store of the low `size` bytes of reg at [base + index]. */
void jx_store_sized(struct jx_buf *b, int base, int index, unsigned size, int reg);
/* mov qword [base + disp], simm32 */
void jx_store_imm(struct jx_buf *b, int base, int32_t disp, int32_t imm);
/* mov reg, imm: the shortest encoding of the 64-bit value. */
void jx_mov_imm(struct jx_buf *b, int reg, uint64_t imm);
/* mov dst, src (64-bit) */
void jx_mov_rr(struct jx_buf *b, int dst, int src);
/* lea dst, [base + disp] */
void jx_lea(struct jx_buf *b, int dst, int base, int32_t disp);
/* lea dst, [base + index] (w: 64-bit, else 32-bit: the upper half cleared) */
void jx_lea_bi(struct jx_buf *b, int w, int dst, int base, int index);
/* rorx dst, src, n (BMI2; 64-bit): a rotate that leaves src and the flags */
void jx_rorx(struct jx_buf *b, int dst, int src, uint8_t n);
/* op dst, src (register, register) */
void jx_alu_rr(struct jx_buf *b, int w, enum jx_alu op, int dst, int src);
/* op reg, [base + disp] */
void jx_alu_rm(struct jx_buf *b, int w, enum jx_alu op, int reg, int base, int32_t disp);
/* op reg, simm32 (imm8 form when it fits) */
void jx_alu_ri(struct jx_buf *b, int w, enum jx_alu op, int reg, int32_t imm);
/* op qword [base + disp32], simm8 (always a 32-bit displacement: the block
 * entry that uses it must be at least 5 bytes long, to be patchable) */
void jx_alu_m32i8(struct jx_buf *b, enum jx_alu op, int base, int32_t disp, int8_t imm);
void jx_shift_ri(struct jx_buf *b, int w, enum jx_shift op, int reg, uint8_t n);
void jx_shift_rcl(struct jx_buf *b, int w, enum jx_shift op, int reg);
/* imul reg, [base + disp] */
void jx_imul_rm(struct jx_buf *b, int w, int reg, int base, int32_t disp);
/* imul reg, src (registers) */
void jx_imul_rr(struct jx_buf *b, int w, int reg, int src);
/* mul / imul src: rdx:rax = rax * src (64-bit) */
void jx_mul_r(struct jx_buf *b, int sign, int src);
/* div / idiv src: rdx:rax (w) or edx:eax by src; cqo / cdq before idiv */
void jx_div_r(struct jx_buf *b, int w, int sign, int src);
void jx_cqo(struct jx_buf *b, int w);
/* mul / imul qword [base + disp]: rdx:rax = rax * m */
void jx_mul_m(struct jx_buf *b, int sign, int base, int32_t disp);
/* SSE scalar with xmm and [base + disp]: `[prefix] 0F op` (prefix 0: none)
 * (F2 0F 10 movsd load, F2 0F 11 movsd store, F2 0F 58 addsd, 59 mulsd,
 * 5C subsd, 5E divsd; F3 for the single forms). */
void jx_sse_m(struct jx_buf *b, uint8_t prefix, uint8_t op, int xmm, int base, int32_t disp);
/* SSE with two xmm registers: `[prefix] 0F op` (prefix 0: none), e.g.
 * F2 0F 51 sqrtsd, F3 0F 5A cvtss2sd, F2 0F 5D minsd, 0F 54 andps,
 * 66 0F 2F comisd, 0F 2E ucomiss. */
void jx_sse_rr(struct jx_buf *b, uint8_t prefix, uint8_t op, int xdst, int xsrc);
/* SSE between an xmm and a general register: `prefix [REX.W] 0F op`, reg
 * field `r`, r/m field `m` (cvtsi2sd/ss xmm, r32/64: F2/F3 0F 2A with
 * r = xmm; cvt[t]sd2si / cvt[t]ss2si r, xmm: F2/F3 0F 2D (2C) with r =
 * the general register; movq xmm, r64: 66 0F 6E; movq r64, xmm: 66 0F 7E
 * with r = xmm). */
void jx_sse_gx(struct jx_buf *b, uint8_t prefix, uint8_t op, int w, int r, int m);
/* VEX-encoded FMA3, all xmm registers below 8: vfm*213s{s,d} dst, src2,
 * src3 (dst = src2 * dst + src3, one rounding): op A9 fmadd, AB fmsub,
 * AD fnmadd, AF fnmsub; w: double (1) or single (0). */
void jx_vfma213(struct jx_buf *b, uint8_t op, int w, int dst, int src2, int src3);
/* op dword/qword [base + disp], simm8 (w: qword) */
void jx_alu_mi8(struct jx_buf *b, int w, enum jx_alu op, int base, int32_t disp, int8_t imm);
/* mov dword [base + disp], imm32 */
void jx_store_imm32(struct jx_buf *b, int base, int32_t disp, uint32_t imm);
/* movsxd dst, src32 */
void jx_movsxd(struct jx_buf *b, int dst, int src);
/* setcc reg8 (reg must be RAX..RBX or use a REX-safe register) */
void jx_setcc(struct jx_buf *b, enum jx_cc cc, int reg);
/* test r64, r64 / test eax, eax (w = 0) */
void jx_test_rr(struct jx_buf *b, int w, int a, int c);
/* Jumps with a 32-bit displacement. They return the offset of the rel32
 * field, to be filled by jx_patch_rel32 once the target is known. */
size_t jx_jmp32(struct jx_buf *b);
size_t jx_jcc32(struct jx_buf *b, enum jx_cc cc);
/* call rel32: likewise */
size_t jx_call32(struct jx_buf *b);
/* imul dst32, src32, imm8 */
void jx_imul_ri8(struct jx_buf *b, int dst, int src, int8_t imm);
/* jmp qword [base + disp] */
void jx_jmp_m(struct jx_buf *b, int base, int32_t disp);
/* call reg / jmp reg */
void jx_call_r(struct jx_buf *b, int reg);
void jx_jmp_r(struct jx_buf *b, int reg);
void jx_push(struct jx_buf *b, int reg);
void jx_pop(struct jx_buf *b, int reg);
void jx_ret(struct jx_buf *b);

/* Writes into the rel32 field at `field` the displacement that makes the
 * jump containing it land on `target` (both addresses of the same view). */
static inline void jx_patch_rel32(uint8_t *field, const uint8_t *target)
{
    int32_t rel = (int32_t)(target - (field + 4));
    for (int i = 0; i < 4; i++)
        field[i] = (uint8_t)((uint32_t)rel >> (8 * i));
}

#endif
