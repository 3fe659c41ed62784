/* Start-up for the C bench guests: one hart, stack, FPU on, a trap handler
 * that skips a faulting instruction (so an unimplemented minstret reads 0
 * instead of hanging), main(), then poweroff through the SiFive test device
 * with main's return value as the status (0x5555 for 0, FAIL|code<<16
 * otherwise). */
#define TEST 0x100000

    .section .text.start
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    la sp, __stack_top
    la t0, trap
    csrw mtvec, t0
    li t0, (1 << 13)             /* mstatus.FS = Initial: enable F/D */
    csrs mstatus, t0
    call main
    li t0, TEST
    bnez a0, 1f
    li t1, 0x5555
    sw t1, 0(t0)
    j park
1:  slli a0, a0, 16
    li t1, 0x3333
    or t1, t1, a0
    sw t1, 0(t0)
park:
    wfi
    j park

    .align 4
trap:
    csrr t0, mepc
    lhu t1, 0(t0)
    andi t1, t1, 3
    li t2, 3
    addi t0, t0, 2               /* compressed instruction: 2 bytes */
    bne t1, t2, 2f
    addi t0, t0, 2               /* 32-bit instruction: 4 bytes */
2:  csrw mepc, t0
    li a0, 0
    mret
