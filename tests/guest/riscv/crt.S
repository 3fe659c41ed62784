/* Start-up code shared by every test guest: stacks, the default trap
 * handler, reporting (pass/fail) and console helpers. */
#include "common.h"

    .section .text.init
    .globl _start
_start:
    csrr t0, mhartid
    li t1, 4
    bgeu t0, t1, park          /* no stack for harts beyond the 4th */
    la sp, _stacks
    addi t1, t0, 1
    slli t1, t1, 13            /* 8 KiB per hart */
    add sp, sp, t1
    /* PMP: let S and U reach all memory (with no entry matching, an
     * implementation that has PMP denies them). Skipped where the PMP CSRs
     * trap. */
    la t1, 2f
    csrw mtvec, t1
    li t1, -1
    csrw pmpaddr0, t1
    li t1, 0x1f                /* NAPOT, RWX */
    csrw pmpcfg0, t1
    .align 2
2:  la t1, default_trap
    csrw mtvec, t1
    csrw mie, zero
    li t1, 1 << 13             /* mstatus.FS = Initial: FP usable */
    csrs mstatus, t1
    csrw fcsr, zero
    beqz t0, 1f
    call secondary_main
    j park
1:  PRINT "test: start\n"
    call test_main
    beqz a0, test_pass
    mv a1, zero
    j test_fail

park:
    wfi
    j park

    .text
    .weak secondary_main
secondary_main:
    j park

/* test_pass: reports success and stops. */
    .globl test_pass
test_pass:
    PRINT "test: PASS\n"
    li t0, TEST_BASE
    li t1, TEST_PASS
    sw t1, 0(t0)
1:  j 1b

/* test_fail(a0 = code, a1 = the offending value): reports and stops. */
    .globl test_fail
test_fail:
    mv s10, a0
    mv s11, a1
    PRINT "test: FAIL code "
    mv a0, s10
    call puthex
    PRINT " value "
    mv a0, s11
    call puthex
    PRINT "\n"
    li t0, TEST_BASE
    slli t1, s10, 16
    li t2, TEST_FAIL
    or t1, t1, t2
    sw t1, 0(t0)
1:  j 1b

/* Any trap a test did not expect: print the cause and fail with 0xfe. */
    .align 2
    .globl default_trap
default_trap:
    PRINT "test: unexpected trap mcause "
    csrr a0, mcause
    call puthex
    PRINT " mepc "
    csrr a0, mepc
    call puthex
    PRINT " mtval "
    csrr a0, mtval
    call puthex
    PRINT "\n"
    li a0, 0xfe
    csrr a1, mcause
    j test_fail

/* putc(a0): waits for the transmitter, sends one byte. Clobbers t0, t1. */
    .globl putc
putc:
    li t0, UART_BASE
1:  lbu t1, UART_LSR(t0)
    andi t1, t1, 0x20
    beqz t1, 1b
    sb a0, UART_THR(t0)
    ret

/* puts(a0 = NUL-terminated string). Clobbers t0-t2, a0. */
    .globl puts
puts:
    mv t2, a0
    li t0, UART_BASE
1:  lbu a0, 0(t2)
    beqz a0, 3f
2:  lbu t1, UART_LSR(t0)
    andi t1, t1, 0x20
    beqz t1, 2b
    sb a0, UART_THR(t0)
    addi t2, t2, 1
    j 1b
3:  ret

/* puthex(a0): "0x" and 16 hex digits. Clobbers t0-t4, a0. */
    .globl puthex
puthex:
    mv t3, a0
    li t4, 60
    li t0, UART_BASE
    li a0, '0'
    sb a0, UART_THR(t0)
    li a0, 'x'
    sb a0, UART_THR(t0)
1:  srl a0, t3, t4
    andi a0, a0, 15
    addi a0, a0, '0'
    li t1, '9'
    ble a0, t1, 2f
    addi a0, a0, 'a' - '9' - 1
2:  lbu t1, UART_LSR(t0)
    andi t1, t1, 0x20
    beqz t1, 2b
    sb a0, UART_THR(t0)
    addi t4, t4, -4
    bgez t4, 1b
    ret

/* skip_trap: an M-mode handler for tests that provoke exceptions. It records
 * mcause, mepc and mtval in trap_cause/trap_epc/trap_tval, counts in
 * trap_count, and resumes after the trapping instruction (interrupts resume
 * where they hit, with MIE left clear, i.e. taken once). Preserves every
 * register. */
    .align 2
    .globl skip_trap
skip_trap:
    csrw mscratch, t0
    la t0, trap_save
    sd t1, 0(t0)
    csrr t1, mcause
    sd t1, 8(t0)
    csrr t1, mepc
    sd t1, 16(t0)
    csrr t1, mtval
    sd t1, 24(t0)
    ld t1, 32(t0)
    addi t1, t1, 1
    sd t1, 32(t0)
    csrr t1, mcause
    bltz t1, 2f                /* interrupt: return to where it hit */
    csrr t1, mepc
    lhu t1, 0(t1)
    andi t1, t1, 3
    addi t1, t1, -3
    csrr t0, mepc
    addi t0, t0, 2
    bnez t1, 1f                /* a compressed instruction is 2 bytes */
    addi t0, t0, 2
1:  csrw mepc, t0
    j 3f
2:  li t1, 1 << 7              /* MPIE = 0: do not re-enable interrupts */
    csrc mstatus, t1
3:  la t0, trap_save
    ld t1, 0(t0)
    csrr t0, mscratch
    mret

    .data
    .align 3
trap_save: .dword 0
    .globl trap_cause, trap_epc, trap_tval, trap_count
trap_cause: .dword 0
trap_epc: .dword 0
trap_tval: .dword 0
trap_count: .dword 0
