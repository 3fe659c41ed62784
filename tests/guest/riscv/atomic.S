/* The A extension: every AMO in .w and .d form (old value returned, new
 * value stored, .w sign-extended) and LR/SC success and failure. */
#include "common.h"

/* AMO op, width, initial memory, operand, expected old (rd), expected new memory, code */
.macro AMO_T op, ld, sd, init, opnd, new, code
    la s0, word
    li t0, \init
    \sd t0, 0(s0)
    li t1, \opnd
    \op t2, t1, (s0)
    li t3, \init
    .ifc \ld, lw
    sext.w t3, t3
    .endif
    bne t2, t3, 9f
    \ld t4, 0(s0)
    li t5, \new
    .ifc \ld, lw
    sext.w t5, t5
    .endif
    beq t4, t5, 8f
    li a0, \code + 100
    mv a1, t4
    j test_fail
9:  li a0, \code
    mv a1, t2
    j test_fail
8:
.endm

    .text
    .globl test_main
test_main:
    AMO_T amoswap.d, ld, sd, 0x1111, 0x2222, 0x2222, 1
    AMO_T amoadd.d, ld, sd, -5, 7, 2, 2
    AMO_T amoand.d, ld, sd, 0xff0, 0x0ff, 0x0f0, 3
    AMO_T amoor.d, ld, sd, 0xf00, 0x00f, 0xf0f, 4
    AMO_T amoxor.d, ld, sd, 0xff, 0x0f, 0xf0, 5
    AMO_T amomin.d, ld, sd, -3, 2, -3, 6
    AMO_T amomax.d, ld, sd, -3, 2, 2, 7
    AMO_T amominu.d, ld, sd, -3, 2, 2, 8
    AMO_T amomaxu.d, ld, sd, -3, 2, -3, 9
    AMO_T amoswap.w, lw, sw, 0x80000000, 0x7fffffff, 0x7fffffff, 11
    AMO_T amoadd.w, lw, sw, 0x7fffffff, 1, 0x80000000, 12
    AMO_T amoand.w, lw, sw, 0xf0f0f0f0, 0xff00ff00, 0xf000f000, 13
    AMO_T amoor.w, lw, sw, 0x0f0f0f0f, 0xf0000000, 0xff0f0f0f, 14
    AMO_T amoxor.w, lw, sw, 0xffffffff, 0x0000ffff, 0xffff0000, 15
    AMO_T amomin.w, lw, sw, 0x80000000, 1, 0x80000000, 16
    AMO_T amomax.w, lw, sw, 0x80000000, 1, 1, 17
    AMO_T amominu.w, lw, sw, 0x80000000, 1, 1, 18
    AMO_T amomaxu.w, lw, sw, 0x80000000, 1, 0x80000000, 19
    /* aq/rl forms decode too */
    AMO_T amoadd.d.aqrl, ld, sd, 40, 2, 42, 20

    /* the .w forms touch only their word */
    la s0, word
    li t0, -1
    sd t0, 0(s0)
    li t1, 0
    amoswap.w t2, t1, (s0)
    ld t3, 0(s0)
    CHECK t3, 0xffffffff00000000, 21

    /* LR/SC: success writes and returns 0 */
    la s0, word
    li t0, 100
    sd t0, 0(s0)
    lr.d t1, (s0)
    CHECK t1, 100, 30
    addi t1, t1, 1
    sc.d t2, t1, (s0)
    CHECK t2, 0, 31
    ld t3, 0(s0)
    CHECK t3, 101, 32
    /* a second SC without a new LR fails and does not write */
    li t1, 555
    sc.d t2, t1, (s0)
    CHECK_NE t2, 0, 33
    ld t3, 0(s0)
    CHECK t3, 101, 34
    /* LR.W sign-extends; SC.W stores 32 bits */
    li t0, 0x80000000
    sw t0, 0(s0)
    lr.w t1, (s0)
    CHECK t1, 0xffffffff80000000, 35
    li t1, 0x12345678
    sc.w t2, t1, (s0)
    CHECK t2, 0, 36
    lw t3, 0(s0)
    CHECK t3, 0x12345678, 37
    /* an SC to another address than the LR's fails */
    lr.d t1, (s0)
    addi s1, s0, 8
    sc.d t2, t1, (s1)
    CHECK_NE t2, 0, 38
    /* a CAS loop, the way locks use LR/SC */
    li t0, 7
    sd t0, 0(s0)
1:  lr.d.aq t1, (s0)
    addi t1, t1, 3
    sc.d.rl t2, t1, (s0)
    bnez t2, 1b
    ld t3, 0(s0)
    CHECK t3, 10, 40

    li a0, 0
    ret

    .data
    .align 3
word: .dword 0, 0
