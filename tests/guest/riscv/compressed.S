/* The C extension: every RV64C instruction class, checked against the
 * result its 32-bit expansion must give. */
#include "common.h"

    .text
    .option push
    .option rvc
    .globl test_main
test_main:
    /* c.li, c.addi, c.addiw (sign extension), c.lui */
    c.li a0, -5
    CHECK a0, -5, 1
    c.addi a0, 7
    CHECK a0, 2, 2
    li a1, 0x7fffffff
    c.addiw a1, 1
    CHECK a1, 0xffffffff80000000, 3
    c.lui a2, 0x1f
    CHECK a2, 0x1f000, 4
    c.lui a2, 0xfffff            /* nzimm = -1 << 12 */
    CHECK a2, -4096, 5

    /* c.mv, c.add, c.sub, c.xor, c.or, c.and, c.addw, c.subw */
    li s0, 12
    li s1, 10
    c.mv a3, s0
    CHECK a3, 12, 6
    c.add a3, s1
    CHECK a3, 22, 7
    mv a4, s0
    c.sub a4, s1
    CHECK a4, 2, 8
    mv a4, s0
    c.xor a4, s1
    CHECK a4, 6, 9
    mv a4, s0
    c.or a4, s1
    CHECK a4, 14, 10
    mv a4, s0
    c.and a4, s1
    CHECK a4, 8, 11
    li a5, 0x7fffffff
    li s1, 1
    c.addw a5, s1
    CHECK a5, 0xffffffff80000000, 12
    li a5, 0
    c.subw a5, s1
    CHECK a5, -1, 13

    /* c.slli, c.srli, c.srai, c.andi */
    li a0, 1
    c.slli a0, 40
    CHECK a0, 0x10000000000, 14
    li a0, -64
    c.srai a0, 3
    CHECK a0, -8, 15
    li a0, -64
    c.srli a0, 60
    CHECK a0, 15, 16
    li a0, 0xff
    c.andi a0, -16
    CHECK a0, 0xf0, 17

    /* loads and stores: c.sw/c.lw (sign-extending), c.sd/c.ld, sp-relative */
    la s0, buf
    li a0, 0x80000001
    c.sw a0, 4(s0)
    c.lw a1, 4(s0)
    CHECK a1, 0xffffffff80000001, 18
    li a0, 0x123456789abcdef0
    c.sd a0, 8(s0)
    c.ld a2, 8(s0)
    CHECK a2, 0x123456789abcdef0, 19
    addi sp, sp, -32
    c.sdsp a0, 16(sp)
    c.ldsp a3, 16(sp)
    CHECK a3, 0x123456789abcdef0, 20
    c.swsp a0, 8(sp)
    c.lwsp a3, 8(sp)
    CHECK a3, 0xffffffff9abcdef0, 21
    c.addi16sp sp, 32
    c.addi4spn a4, sp, 16
    addi a4, a4, -16
    CHECK_NE a4, 0, 22
    sub a4, a4, sp
    CHECK a4, 0, 23

    /* FP compressed loads/stores */
    la s0, buf
    li a0, 0x400921fb54442d18    /* pi */
    sd a0, 16(s0)
    c.fld fa0, 16(s0)
    c.fsd fa0, 24(s0)
    ld a1, 24(s0)
    CHECK a1, 0x400921fb54442d18, 24
    addi sp, sp, -16
    c.fsdsp fa0, 0(sp)
    c.fldsp fa1, 0(sp)
    addi sp, sp, 16
    fmv.x.d a1, fa1
    CHECK a1, 0x400921fb54442d18, 25

    /* control flow: c.j, c.beqz, c.bnez, c.jal is RV32 only; c.jr, c.jalr */
    li a0, 0
    c.j 1f
    li a0, 99
1:  CHECK a0, 0, 26
    li s0, 0
    c.beqz s0, 2f
    li a0, 98
2:  CHECK a0, 0, 27
    li s0, 1
    c.bnez s0, 3f
    li a0, 97
3:  CHECK a0, 0, 28
    la t0, 4f
    c.jr t0
    li a0, 96
4:  CHECK a0, 0, 29
    mv s2, ra
    la t0, leaf
    c.jalr t0                    /* ra = address after the 2-byte jalr */
5:  mv ra, s2
    CHECK a0, 0x77, 30
    la t1, 5b
    CHECK_NE t1, 0, 31
    sub t1, a1, t1
    CHECK t1, 0, 32              /* leaf returned its ra in a1 */

    /* c.nop, c.ebreak is tested by the trap guest */
    c.nop
    li a0, 0
    ret

leaf:
    li a0, 0x77
    mv a1, ra
    ret
    .option pop

    .data
    .align 3
buf: .zero 64
