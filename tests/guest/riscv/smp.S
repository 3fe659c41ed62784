/* Two harts (run with 2 vCPUs): both start in M-mode with a0 = hartid,
 * share memory coherently (AMO and LR/SC increments from both harts add up)
 * and hart 0 wakes hart 1 from WFI with a CLINT software interrupt. */
#include "common.h"

#define ROUNDS 20000

    .text
    .globl secondary_main
secondary_main:
    csrr t1, mhartid
    bne a0, t1, 9f               /* a0 = hartid */
    li t1, 1
    bne a0, t1, 9f
    beqz a1, 9f                  /* a1 = the device tree */
    la t0, on_msi
    csrw mtvec, t0
    la t0, up
    li t1, 1
    amoswap.d zero, t1, (t0)
    la s0, shared
    li s1, ROUNDS
1:  li t1, 1
    amoadd.d zero, t1, (s0)
    addi s1, s1, -1
    bnez s1, 1b
    fence
    la t0, done
    li t1, 1
    sd t1, 0(t0)
    li t0, 1 << 3
    csrw mie, t0
    csrsi mstatus, 8
2:  wfi
    j 2b
9:  la t0, up
    li t1, 2                     /* bad boot registers */
    sd t1, 0(t0)
3:  wfi
    j 3b

    .align 2
on_msi:
    li t0, CLINT_BASE + 4
    sw zero, 0(t0)
    la t0, woken
    li t1, 1
    sd t1, 0(t0)
    mret

    .globl test_main
test_main:
    li t0, CLINT_BASE + CLINT_MTIME
    ld s5, 0(t0)
    li t1, 50000000              /* 5 s of guest time */
    add s5, s5, t1
    /* hart 1 comes up */
1:  ld t1, up
    bnez t1, 2f
    call timeout
    j 1b
2:  CHECK t1, 1, 2
    /* both harts increment the counter */
    la s0, shared
    li s1, ROUNDS
3:  lr.d t1, (s0)
    addi t1, t1, 1
    sc.d t2, t1, (s0)
    bnez t2, 3b
    addi s1, s1, -1
    bnez s1, 3b
4:  ld t1, done
    bnez t1, 5f
    call timeout
    j 4b
5:  fence
    ld t1, shared
    CHECK t1, 2 * ROUNDS, 3
    /* wake hart 1 with an IPI */
    li t0, CLINT_BASE + 4
    li t1, 1
    sw t1, 0(t0)
6:  ld t1, woken
    bnez t1, 7f
    call timeout
    j 6b
7:  li a0, 0
    j test_pass

/* fails with code 1 once mtime passes s5 */
timeout:
    li t0, CLINT_BASE + CLINT_MTIME
    ld t0, 0(t0)
    bltu t0, s5, 1f
    li a0, 1
    j test_fail
1:  ret

    .data
    .align 6
up: .dword 0
    .align 6
shared: .dword 0
    .align 6
done: .dword 0
woken: .dword 0
