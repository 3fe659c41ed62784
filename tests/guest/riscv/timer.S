/* The CLINT timer: mtime advances (and matches the time CSR), MTIP follows
 * mtime >= mtimecmp, and a timer interrupt wakes WFI through a vectored
 * mtvec at entry 7. */
#include "common.h"

    .text
    .globl test_main
test_main:
    li s0, CLINT_BASE
    li t0, CLINT_MTIME
    add s1, s0, t0               /* &mtime */
    li t0, CLINT_MTIMECMP
    add s2, s0, t0               /* &mtimecmp[0] */
    li t0, -1
    sd t0, 0(s2)

    /* mtime moves, and the time CSR reads the same clock */
    ld t1, 0(s1)
    li t3, 100000
1:  addi t3, t3, -1
    bnez t3, 1b
    ld t2, 0(s1)
    bgtu t2, t1, 2f
    li a0, 1
    mv a1, t2
    j test_fail
2:  rdtime t3
    ld t4, 0(s1)
    sub t5, t4, t3               /* mtime read after rdtime: >= and close */
    bltz t5, 3f
    li t6, 10000000              /* within 1 s of guest time */
    bltu t5, t6, 4f
3:  li a0, 2
    mv a1, t5
    j test_fail
4:
    /* 32-bit halves of mtime agree with the 64-bit read */
    lwu t1, 4(s1)
    ld t2, 0(s1)
    srli t2, t2, 32
    sub t2, t2, t1
    sltiu t2, t2, 2
    CHECK t2, 1, 3

    /* MTIP is level: pending while mtime >= mtimecmp */
    sd zero, 0(s2)
    csrr t1, mip
    andi t1, t1, 1 << 7
    CHECK t1, 1 << 7, 10
    li t0, -1
    sd t0, 0(s2)
    csrr t1, mip
    andi t1, t1, 1 << 7
    CHECK t1, 0, 11
    ld t1, 0(s2)
    CHECK t1, -1, 12

    /* an interrupt 2 ms from now, taken through the vector table */
    la t0, vectors
    ori t0, t0, 1
    csrw mtvec, t0
    li t0, 1 << 7
    csrw mie, t0
    ld s3, 0(s1)
    li t0, 20000
    add t0, s3, t0
    sd t0, 0(s2)
    /* sleep with MIE clear (no race between the check and WFI), then
     * take the pending interrupt by setting MIE */
5:  wfi
    csrr t1, mip
    andi t1, t1, 1 << 7
    beqz t1, 5b
    csrsi mstatus, 8
7:  ld t1, fired
    beqz t1, 7b
    csrci mstatus, 8
    ld t1, fired_cause
    CHECK t1, CAUSE_INTR | 7, 20
    ld t1, fired_time
    sub t1, t1, s3
    li t2, 20000
    bgeu t1, t2, 6f              /* not before the deadline */
    li a0, 21
    j test_fail
6:  li a0, 0
    ret

    .align 8
    .option push
    .option norvc                /* 4-byte entries */
vectors:
    j vec_bad                    /* 0: exceptions */
    .rept 6
    j vec_bad
    .endr
    j vec_mti                    /* 7 */
    .rept 8
    j vec_bad
    .endr
    .option pop

vec_bad:
    j default_trap

vec_mti:
    csrw mscratch, t0
    la t0, fired_save
    sd t1, 0(t0)
    li t0, CLINT_BASE + CLINT_MTIME
    ld t1, 0(t0)
    la t0, fired_time
    sd t1, 0(t0)
    csrr t1, mcause
    la t0, fired_cause
    sd t1, 0(t0)
    li t1, -1                    /* acknowledge: next deadline never */
    li t0, CLINT_BASE + CLINT_MTIMECMP
    sd t1, 0(t0)
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
fired_time: .dword 0
fired_save: .dword 0
