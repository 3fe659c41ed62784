/* Misaligned loads and stores of every width, within a page and across a
 * page boundary, complete with the right values (S-mode Linux relies on it:
 * no M-mode firmware emulates them); misaligned LR/AMO raise an exception
 * (address-misaligned or access fault, both allowed by the spec). */
#include "common.h"

    .text
    .globl test_main
test_main:
    la t0, skip_trap
    csrw mtvec, t0
    la s0, buf
    /* bytes 0x00 0x11 0x22 ... 0xff repeated over 32 bytes */
    li t1, 0
1:  add t2, s0, t1
    slli t3, t1, 4
    or t3, t3, t1
    andi t3, t3, 0xff
    sb t3, 0(t2)
    addi t1, t1, 1
    li t2, 32
    bltu t1, t2, 1b

    NO_TRAP 1, lh t1, 1(s0)
    CHECK t1, 0x2211, 2
    lhu t1, 15(s0)
    CHECK t1, 0x10ff, 3
    lh t1, 15(s0)
    CHECK t1, 0x10ff, 4
    lh t1, 14(s0)
    CHECK t1, 0xffffffffffffffee, 5
    lw t1, 3(s0)
    CHECK t1, 0x66554433, 6
    lw t1, 13(s0)
    CHECK t1, 0x10ffeedd, 7
    lwu t1, 13(s0)
    CHECK t1, 0x10ffeedd, 8
    ld t1, 5(s0)
    CHECK t1, 0xccbbaa9988776655, 9

    /* stores */
    li t1, 0x0807060504030201
    sd t1, 1(s0)
    ld t2, 1(s0)
    CHECK t2, 0x0807060504030201, 10
    lbu t2, 0(s0)
    CHECK t2, 0x00, 11
    lbu t2, 9(s0)
    CHECK t2, 0x99, 12
    li t1, 0xa1b2c3d4
    sw t1, 10(s0)
    lwu t2, 10(s0)
    CHECK t2, 0xa1b2c3d4, 13
    li t1, 0xbeef
    sh t1, 21(s0)
    lhu t2, 21(s0)
    CHECK t2, 0xbeef, 14

    /* across a page boundary */
    la s1, page_end
    addi s1, s1, -3              /* 3 bytes in one page, 5 in the next */
    li t1, 0x1122334455667788
    sd t1, 0(s1)
    ld t2, 0(s1)
    CHECK t2, 0x1122334455667788, 20
    lbu t2, 3(s1)
    CHECK t2, 0x55, 21
    lw t2, 1(s1)
    CHECK t2, 0x44556677, 22
    /* FP loads and stores too */
    fld ft0, 0(s1)
    fsd ft0, 9(s0)
    ld t2, 9(s0)
    CHECK t2, 0x1122334455667788, 23

    /* misaligned atomics trap */
    la t5, trap_count
    sd zero, 0(t5)
    addi s2, s0, 2
    li t1, 1
    amoadd.w t2, t1, (s2)
    ld t3, trap_count
    CHECK t3, 1, 30
    ld t3, trap_cause
    addi t3, t3, -4
    sltiu t4, t3, 4              /* cause 6 or 7 (QEMU 7.2 says 4) */
    CHECK t4, 1, 31
    sd zero, 0(t5)
    addi s2, s0, 4
    lr.d t2, (s2)
    ld t3, trap_count
    CHECK t3, 1, 32
    ld t3, trap_cause
    addi t3, t3, -4
    sltiu t4, t3, 2              /* cause 4 or 5 */
    CHECK t4, 1, 33

    li a0, 0
    ret

    .data
    .align 3
buf: .zero 64
    .align 12
    .zero 4096 - 16
page_end:                         /* a page boundary */
    .zero 16
