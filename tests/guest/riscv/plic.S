/* An external interrupt end to end: the UART's transmitter-empty interrupt
 * (source 10) through the PLIC to hart 0's M-mode context: pending bits,
 * threshold, claim, the device acknowledge, complete. */
#include "common.h"

#define PLIC_PENDING (PLIC_BASE + 0x1000)
#define PLIC_ENABLE0 (PLIC_BASE + 0x2000)
#define PLIC_THRESHOLD0 (PLIC_BASE + 0x200000)
#define PLIC_CLAIM0 (PLIC_BASE + 0x200004)
#define UART_IRQ 10

    .text
    .globl test_main
test_main:
    la t0, on_mei
    csrw mtvec, t0
    li s0, UART_BASE
    li t0, PLIC_BASE + 4 * UART_IRQ
    li t1, 1
    sw t1, 0(t0)                 /* priority 1 */
    lw t2, 0(t0)
    CHECK t2, 1, 1
    li t0, PLIC_ENABLE0
    li t1, 1 << UART_IRQ
    sw t1, 0(t0)
    li t0, PLIC_THRESHOLD0
    li t1, 1
    sw t1, 0(t0)                 /* threshold 1 masks priority 1 */

    /* transmitter-empty interrupt enable: the line rises at once */
    li t1, 0x02
    sb t1, UART_IER(s0)
    li t0, PLIC_PENDING
    lw t1, 0(t0)
    andi t1, t1, 1 << UART_IRQ
    CHECK t1, 1 << UART_IRQ, 2
    csrr t1, mip
    li t2, 1 << 11
    and t1, t1, t2
    CHECK t1, 0, 3               /* masked by the threshold */
    li t0, PLIC_THRESHOLD0
    sw zero, 0(t0)
    csrr t1, mip
    and t1, t1, t2
    CHECK t1, 1 << 11, 4         /* MEIP now */

    /* WFI returns at once for a pending interrupt, even with MIE clear;
     * setting MIE then takes it */
    li t0, 1 << 11
    csrw mie, t0
    wfi
    csrsi mstatus, 8
1:  ld t1, fired
    beqz t1, 1b
    csrci mstatus, 8
    ld t1, fired_cause
    CHECK t1, CAUSE_INTR | 11, 5
    ld t1, fired_claim
    CHECK t1, UART_IRQ, 6
    ld t1, fired_iir
    andi t1, t1, 0x0f
    CHECK t1, 0x02, 7            /* IIR: THR empty */
    /* the handler disabled the source in the UART: nothing left */
    li t0, PLIC_CLAIM0
    lw t1, 0(t0)
    CHECK t1, 0, 8
    csrr t1, mip
    li t2, 1 << 11
    and t1, t1, t2
    CHECK t1, 0, 9
    li a0, 0
    ret

    .align 2
on_mei:
    csrw mscratch, t0
    la t0, fired_save
    sd t1, 0(t0)
    csrr t1, mcause
    la t0, fired_cause
    sd t1, 0(t0)
    li t0, PLIC_CLAIM0
    lw t1, 0(t0)
    la t0, fired_claim
    sd t1, 0(t0)
    li t0, UART_BASE
    lbu t1, UART_IIR(t0)
    sb zero, UART_IER(t0)        /* acknowledge in the device */
    la t0, fired_iir
    sd t1, 0(t0)
    ld t1, fired_claim
    li t0, PLIC_CLAIM0
    sw t1, 0(t0)                 /* complete */
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
fired_claim: .dword 0
fired_iir: .dword 0
fired_save: .dword 0
