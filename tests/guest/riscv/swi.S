/* Machine software interrupts through the CLINT msip register. */
#include "common.h"

    .text
    .globl test_main
test_main:
    li s0, CLINT_BASE
    la t0, on_msi
    csrw mtvec, t0
    /* msip reads back and drives mip.MSIP */
    li t1, 1
    sw t1, 0(s0)
    lw t2, 0(s0)
    CHECK t2, 1, 1
    csrr t2, mip
    andi t2, t2, 1 << 3
    CHECK t2, 1 << 3, 2
    sw zero, 0(s0)
    csrr t2, mip
    andi t2, t2, 1 << 3
    CHECK t2, 0, 3
    /* taken when MSIE and MIE are set */
    li t0, 1 << 3
    csrw mie, t0
    csrsi mstatus, 8
    li t1, 1
    sw t1, 0(s0)
1:  ld t1, fired
    beqz t1, 1b
    ld t1, fired_cause
    CHECK t1, CAUSE_INTR | 3, 4
    lw t2, 0(s0)
    CHECK t2, 0, 5               /* the handler cleared msip */
    /* masked by MIE = 0: pending but not taken */
    csrci mstatus, 8
    la t0, fired
    sd zero, 0(t0)
    li t1, 1
    sw t1, 0(s0)
    nop
    nop
    ld t1, fired
    CHECK t1, 0, 6
    /* WFI wakes on a pending interrupt even with MIE = 0 */
    wfi
    csrsi mstatus, 8             /* now it is taken */
    nop
    ld t1, fired
    CHECK t1, 1, 7
    li a0, 0
    ret

    .align 2
on_msi:
    csrw mscratch, t0
    la t0, fired_save
    sd t1, 0(t0)
    csrr t1, mcause
    la t0, fired_cause
    sd t1, 0(t0)
    li t0, CLINT_BASE
    sw zero, 0(t0)
    la t0, fired
    li t1, 1
    sd t1, 0(t0)
    la t0, fired_save
    ld t1, 0(t0)
    csrr t0, mscratch
    mret

    .data
    .align 3
fired: .dword 0
fired_cause: .dword 0
fired_save: .dword 0
