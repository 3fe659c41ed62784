/* Exceptions and their delegation: ecall from M/S/U with the right causes,
 * ebreak (32- and 16-bit), illegal instructions, xRET privilege and status
 * bits, medeleg to S-mode, U-mode CSR protection, and interrupts delegated
 * through mideleg (SSIP set by M, STIP injected by M). */
#include "common.h"

#define MSTATUS_MPP (3 << 11)
#define MSTATUS_SPP (1 << 8)
#define MSTATUS_SIE (1 << 1)
#define MSTATUS_SPIE (1 << 5)
#define ECALL_BACK_TO_M 0x99

    .text
    .globl test_main
test_main:
    la t0, m_trap
    csrw mtvec, t0
    la t0, s_trap
    csrw stvec, t0

    /* M-mode exceptions */
    la s1, 1f
    TRAPS 11, 1, 1: ecall
    ld t1, trap_epc
    CHECK_NE s1, 0, 2
    sub t1, t1, s1
    CHECK t1, 0, 3               /* mepc is the ecall itself */
    TRAPS 3, 4, ebreak
    TRAPS 3, 5, c.ebreak
    TRAPS 2, 6, unimp
    ld t1, trap_tval
    beqz t1, 2f                  /* mtval is 0 or the instruction bits */
    CHECK t1, 0xc0001073, 7
2:  TRAPS 2, 8, .word 0xffffffff

    /* into S-mode: mret with MPP = S */
    li t0, 0xb100 | (1 << 2)     /* delegate ecall-U, page faults, illegal */
    csrw medeleg, t0
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, s_code
    csrw mepc, t0
    mret
    li a0, 10                    /* mret fell through */
    j test_fail

s_code:
    /* after mret: MPP is the least-privileged mode (U) */
    csrr t1, sstatus             /* S may read sstatus */
    /* ecall from S is not delegated: cause 9 in M */
    la t5, trap_count
    sd zero, 0(t5)
    li a7, 0
    ecall
    ld t1, trap_cause
    CHECK t1, 9, 11
    /* illegal instruction is delegated: scause 2 in S, M untouched */
    la t5, trap_count
    sd zero, 0(t5)
    la t5, s_count
    sd zero, 0(t5)
    csrr t1, mstatus             /* M CSR from S */
    ld t1, s_cause
    CHECK t1, 2, 12
    ld t1, s_count
    CHECK t1, 1, 13
    ld t1, trap_count
    CHECK t1, 0, 14
    ld t1, s_tval                /* stval: 0 or the instruction bits */
    beqz t1, 1f
    CHECK t1, 0x30002373, 15
1:
    /* sret to U: SPP = 0, SPIE -> SIE */
    li t0, MSTATUS_SPP | MSTATUS_SIE
    csrc sstatus, t0
    li t0, MSTATUS_SPIE
    csrs sstatus, t0
    la t0, u_code
    csrw sepc, t0
    sret
    li a0, 16
    j test_fail

u_code:
    csrr t1, sstatus             /* S CSR from U: delegated illegal */
    rdcycle t2                   /* counters are not enabled for U: illegal */
    ecall                        /* delegated: scause 8, s_trap returns to S */
    li a0, 17
    j test_fail

s_after_u:
    ld t1, s_cause
    CHECK t1, 8, 18
    ld t1, s_count
    CHECK t1, 4, 19              /* illegal, illegal, ecall (+ the one above) */
    ld t1, s_status              /* sstatus as the trap left it */
    andi t2, t1, MSTATUS_SPP
    CHECK t2, 0, 20              /* the trap came from U */
    andi t2, t1, MSTATUS_SPIE
    CHECK t2, MSTATUS_SPIE, 21   /* SIE was 1 in U, saved in SPIE */
    andi t2, t1, MSTATUS_SIE
    CHECK t2, 0, 22

    /* back to M for the interrupt part */
    li a7, ECALL_BACK_TO_M
    ecall
    li a0, 23
    j test_fail

m_again:
    /* delegated interrupts: SSIP raised by M, taken in S */
    li t0, (1 << 1) | (1 << 5)
    csrw mideleg, t0
    csrw mie, t0                 /* SSIE | STIE */
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, s_irq
    csrw mepc, t0
    mret

s_irq:
    la t5, s_count
    sd zero, 0(t5)
    li t0, MSTATUS_SIE
    csrs sstatus, t0
    li t0, 2
    csrs sip, t0                 /* software interrupt to ourselves */
    nop
    nop
    ld t1, s_count
    CHECK t1, 1, 30
    ld t1, s_cause
    CHECK t1, CAUSE_INTR | 1, 31
    csrr t1, sip
    andi t1, t1, 2
    CHECK t1, 0, 32              /* the handler cleared it */
    /* STIP comes from M: ask M to raise it */
    li a7, 0x55
    ecall
    nop
    nop
    ld t1, s_count
    CHECK t1, 2, 33
    ld t1, s_cause
    CHECK t1, CAUSE_INTR | 5, 34
    /* with SIE clear, nothing is taken in S */
    li t0, MSTATUS_SIE
    csrc sstatus, t0
    li t0, 2
    csrs sip, t0
    nop
    ld t1, s_count
    CHECK t1, 2, 35
    csrs sstatus, MSTATUS_SIE    /* now it is */
    nop
    ld t1, s_count
    CHECK t1, 3, 36
    li a0, 0
    j test_pass

/* M-mode handler: skip_trap, plus two requests from S by ecall: a7 = 0x99
 * returns to M at m_again; a7 = 0x55 raises STIP. */
    .align 2
m_trap:
    csrw mscratch, t0
    csrr t0, mcause
    addi t0, t0, -9
    bnez t0, 2f
    li t0, ECALL_BACK_TO_M
    beq a7, t0, 1f
    li t0, 0x55
    bne a7, t0, 2f
    li t0, 1 << 5
    csrs mip, t0
    j 2f
1:  la t0, m_again
    csrw mepc, t0
    li t0, MSTATUS_MPP
    csrs mstatus, t0
    csrr t0, mscratch
    mret
2:  csrr t0, mscratch
    j skip_trap

/* S-mode handler: records scause/sepc/stval; skips exceptions; an ecall from
 * U returns to S at s_after_u; SSIP is cleared, STIP masked (S cannot clear it). */
    .align 2
s_trap:
    csrw sscratch, t0
    la t0, s_save
    sd t1, 0(t0)
    csrr t1, scause
    sd t1, 8(t0)
    csrr t1, stval
    sd t1, 16(t0)
    csrr t1, sstatus
    sd t1, 32(t0)
    ld t1, 24(t0)
    addi t1, t1, 1
    sd t1, 24(t0)
    csrr t1, scause
    bgez t1, 3f
    li t0, 2
    csrc sip, t0
    slli t1, t1, 1
    srli t1, t1, 1
    li t0, 5
    bne t1, t0, 5f
    li t0, 1 << 5
    csrc sie, t0
    j 5f
3:  li t0, 8
    bne t1, t0, 4f
    la t0, s_after_u
    csrw sepc, t0
    li t0, MSTATUS_SPP
    csrs sstatus, t0
    j 5f
4:  csrr t0, sepc
    addi t0, t0, 4               /* the delegated faults here are 32-bit */
    csrw sepc, t0
5:  la t0, s_save
    ld t1, 0(t0)
    csrr t0, sscratch
    sret

    .data
    .align 3
s_save: .dword 0
s_cause: .dword 0
s_tval: .dword 0
s_count: .dword 0
s_status: .dword 0
