/* An S-mode guest in RISC-V Linux Image format that exercises the SBI the
 * way a kernel does: BASE (version, probe), DBCN or legacy console, TIME
 * (timer interrupt, STIP cleared by the next set_timer), IPI to itself
 * (SSIP cleared through sip), RFENCE, HSM (start/stop hart 1 when present),
 * error codes, and SRST shutdown at the end. Booted straight by libvmm
 * (the SBI is the VMM's) or on QEMU with its default OpenSBI firmware.
 * Failures are reported through the SiFive test device (code << 16 | 0x3333).
 * The boot hart is whichever one the SBI starts (libvmm: hart 0; OpenSBI on
 * QEMU: the winner of its boot lottery), so "self" is a0 at entry and the
 * other hart is self ^ 1. */
#include "common.h"

#define SBI_BASE 0x10
#define SBI_TIME 0x54494D45
#define SBI_IPI 0x735049
#define SBI_RFENCE 0x52464E43
#define SBI_HSM 0x48534D
#define SBI_SRST 0x53525354
#define SBI_DBCN 0x4442434E

.macro SBI eid, fid
    li a7, \eid
    li a6, \fid
    ecall
.endm

.macro S_CHECK reg, val, code
    li t6, \val
    beq \reg, t6, 9998f
    li a0, \code
    mv a1, \reg
    j s_fail
9998:
.endm

.macro SAY label                  /* prints a string via the SBI console */
    la a0, \label
    call sputs
.endm

    .section .text.init
    .option push
    .option norvc
    .globl _start
_start:
    j real_start                 /* code0 */
    .word 0                      /* code1 */
    .dword 0x200000              /* text_offset */
    .dword _end - _start         /* image_size */
    .dword 0                     /* flags: little-endian */
    .word 2                      /* header version 0.2 */
    .word 0
    .dword 0
    .ascii "RISCV\0\0\0"         /* magic (deprecated) */
    .ascii "RSC\x05"             /* magic2 */
    .word 0
    .option pop

real_start:
    la sp, stack_top
    mv s0, a0
    mv s1, a1
    la t0, s_trap
    csrw stvec, t0
    /* BASE: a DBCN console when the SBI has one */
    li a0, SBI_DBCN
    SBI SBI_BASE, 3
    la t0, have_dbcn
    sd a1, 0(t0)
    SAY msg_hello
    /* boot registers: a0 = the boot hart (0 or 1 here), a1 = a device tree */
    sltiu t1, s0, 2
    S_CHECK t1, 1, 1
    la t0, other_hart
    xori t1, s0, 1
    sd t1, 0(t0)
    lwu t1, 0(s1)
    S_CHECK t1, 0xedfe0dd0, 2    /* 0xd00dfeed, big-endian */

    SBI SBI_BASE, 0
    S_CHECK a0, 0, 3
    srli t1, a1, 24
    beqz t1, 1f                  /* major >= 1 */
    j 2f
1:  li a0, 4
    j s_fail
2:  li a0, SBI_TIME
    SBI SBI_BASE, 3
    S_CHECK a1, 1, 5
    li a0, 0x0badc0de
    SBI SBI_BASE, 3
    S_CHECK a1, 0, 6
    SBI 0x0badc0de, 0
    S_CHECK a0, -2, 7            /* SBI_ERR_NOT_SUPPORTED */
    SBI SBI_BASE, 4              /* mvendorid: any value, no error */
    S_CHECK a0, 0, 8

    /* TIME: an interrupt 10 ms from now; the handler pushes the timer out */
    li t0, 1 << 5
    csrs sie, t0
    rdtime t1
    li t2, 100000
    add a0, t1, t2
    SBI SBI_TIME, 0
    S_CHECK a0, 0, 10
1:  wfi                          /* SIE clear: no race with the check */
    csrr t1, sip
    andi t1, t1, 1 << 5
    beqz t1, 1b
    csrsi sstatus, 2
2:  ld t1, timer_hits
    beqz t1, 2b
    csrci sstatus, 2
    ld t1, last_cause
    S_CHECK t1, CAUSE_INTR | 5, 11
    csrr t1, sip
    andi t1, t1, 1 << 5
    S_CHECK t1, 0, 12            /* set_timer cleared STIP */
    SAY msg_timer

    /* IPI to ourselves: SSIP, cleared by the handler through sip */
    li t0, 1 << 1
    csrs sie, t0
    li a0, 1
    mv a1, s0                    /* hart mask base: ourselves */
    SBI SBI_IPI, 0
    S_CHECK a0, 0, 20
3:  csrr t1, sip
    andi t1, t1, 1 << 1
    beqz t1, 3b
    csrsi sstatus, 2
4:  ld t1, ipi_hits
    beqz t1, 4b
    nop
    nop
    csrci sstatus, 2
    ld t1, ipi_hits
    S_CHECK t1, 1, 21            /* taken once: the clear stuck */
    csrr t1, sip
    andi t1, t1, 1 << 1
    S_CHECK t1, 0, 22
    li a0, 1
    li a1, 100                   /* hart 100 does not exist */
    SBI SBI_IPI, 0
    S_CHECK a0, -3, 23           /* SBI_ERR_INVALID_PARAM */
    SAY msg_ipi

    /* RFENCE on every hart */
    li a0, 0
    li a1, -1
    SBI SBI_RFENCE, 0
    S_CHECK a0, 0, 30
    li a0, 1
    li a1, 0
    li a2, 0
    li a3, -1
    SBI SBI_RFENCE, 1
    S_CHECK a0, 0, 31

    /* HSM: we run; the other hart, when there is one, starts and stops */
    mv a0, s0
    SBI SBI_HSM, 2
    S_CHECK a0, 0, 40
    S_CHECK a1, 0, 41            /* STARTED */
    mv a0, s0
    la a1, hart1_entry
    li a2, 0
    SBI SBI_HSM, 0
    S_CHECK a0, -6, 42           /* SBI_ERR_ALREADY_AVAILABLE */
    ld a0, other_hart
    SBI SBI_HSM, 2
    bnez a0, 7f                  /* a single hart */
    S_CHECK a1, 1, 43            /* STOPPED */
    ld a0, other_hart
    la a1, hart1_entry
    li a2, 0xabcd
    SBI SBI_HSM, 0
    S_CHECK a0, 0, 44
    rdtime s2
    li t0, 200000000             /* 20 s: QEMU's TCG harts can starve on a busy host */
    add s2, s2, t0
5:  ld t1, hart1_seen
    bnez t1, 6f
    rdtime t2
    bltu t2, s2, 5b
    li a0, 45
    j s_fail
6:  S_CHECK t1, 0xabcd, 46       /* hart 1 got a0 = 1, a1 = opaque */
8:  ld a0, other_hart            /* it stops itself */
    SBI SBI_HSM, 2
    li t1, 1
    beq a1, t1, 9f
    rdtime t2
    bltu t2, s2, 8b
    li a0, 47
    j s_fail
9:  SAY msg_hsm
7:
    /* DBCN: a buffer outside RAM is refused */
    ld t1, have_dbcn
    beqz t1, 1f
    li a0, 4
    li a1, 0x1000
    li a2, 0
    SBI SBI_DBCN, 0
    S_CHECK a0, -3, 50
    li a0, '!'
    SBI SBI_DBCN, 2
    S_CHECK a0, 0, 51
    li a0, '\n'
    SBI SBI_DBCN, 2
1:
    SAY msg_done
    li a0, 0                     /* shutdown */
    li a1, 0                     /* no reason */
    SBI SBI_SRST, 0
    li a0, 60                    /* SRST returned */
    j s_fail

/* the other hart enters here in S-mode with a0 = its id, a1 = opaque */
hart1_entry:
    ld t0, other_hart
    bne a0, t0, 1f
    la t0, hart1_seen
    sd a1, 0(t0)
    SBI SBI_HSM, 1               /* hart_stop does not return */
1:  la t0, hart1_seen
    li t1, -1
    sd t1, 0(t0)
2:  j 2b

/* sputs(a0): DBCN console_write when present, else legacy putchar */
sputs:
    mv t3, a0
    ld t0, have_dbcn
    beqz t0, 2f
    mv t4, a0                    /* strlen */
1:  lbu t0, 0(t4)
    beqz t0, 3f
    addi t4, t4, 1
    j 1b
3:  sub a0, t4, t3
    mv a1, t3
    li a2, 0
    SBI SBI_DBCN, 0
    ret
2:  lbu a0, 0(t3)
    beqz a0, 4f
    SBI 0x01, 0
    addi t3, t3, 1
    j 2b
4:  ret

s_fail:
    li t0, TEST_BASE
    slli t1, a0, 16
    li t2, TEST_FAIL
    or t1, t1, t2
    sw t1, 0(t0)
1:  j 1b

    .align 2
s_trap:
    csrw sscratch, t0
    la t0, trap_save
    sd t1, 0(t0)
    sd a0, 8(t0)
    sd a1, 16(t0)
    sd a6, 24(t0)
    sd a7, 32(t0)
    csrr t1, scause
    la t0, last_cause
    sd t1, 0(t0)
    bgez t1, 9f                  /* no exception is expected */
    slli t1, t1, 1
    srli t1, t1, 1
    li t0, 5
    bne t1, t0, 1f
    li a0, -1                    /* timer: push it out, clearing STIP */
    SBI SBI_TIME, 0
    la t0, timer_hits
    j 2f
1:  li t0, 1
    bne t1, t0, 9f
    li t0, 1 << 1                /* IPI: clear SSIP */
    csrc sip, t0
    la t0, ipi_hits
2:  ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    la t0, trap_save
    ld t1, 0(t0)
    ld a0, 8(t0)
    ld a1, 16(t0)
    ld a6, 24(t0)
    ld a7, 32(t0)
    csrr t0, sscratch
    sret
9:  li a0, 99
    csrr a1, scause
    j s_fail

    .section .rodata
msg_hello: .asciz "sbi: hello from S-mode\n"
msg_timer: .asciz "sbi: timer ok\n"
msg_ipi: .asciz "sbi: ipi ok\n"
msg_hsm: .asciz "sbi: hsm ok\n"
msg_done: .asciz "sbi: all checks passed\n"

    .data
    .align 3
have_dbcn: .dword 0
timer_hits: .dword 0
ipi_hits: .dword 0
last_cause: .dword 0
hart1_seen: .dword 0
other_hart: .dword 1
trap_save: .dword 0, 0, 0, 0, 0
    .bss
    .align 4
    .zero 8192
stack_top:
