/* Virtual memory in S-mode, Sv39 (LEVELS=3) or Sv48 (LEVELS=4): page
 * faults with their causes and stval, permission bits (R/W/X, U with SUM,
 * execute-only with MXR), reserved encodings, misaligned superpages,
 * non-canonical addresses, accessed/dirty bits and sfence.vma.
 * Faults go to M (skip_trap, or a retry after setting A/D for the Svade
 * behaviour: either hardware updating A/D or a fault is allowed). */
#include "common.h"

#ifndef LEVELS
#define LEVELS 3
#endif
#if LEVELS == 3
#define SATP_MODE (8 << 60)
#else
#define SATP_MODE (9 << 60)
#endif

#define V 0x01
#define R 0x02
#define W 0x04
#define X 0x08
#define U 0x10
#define A 0x40
#define D 0x80

#define VA 0x40000000            /* the test pages: VA + n * 4096 */
#define T_ROOT 0x0000            /* offsets in _free */
#define T_L1 0x1000
#define T_L0 0x2000
#define T_ROOT48 0x3000
#define PG(n) (0x4000 + (n) * 0x1000)

/* leaf/pointer PTE for physical _free + off */
.macro PTE_FREE dst, off, flags
    la \dst, _free
    li t6, \off
    add \dst, \dst, t6
    srli \dst, \dst, 12
    slli \dst, \dst, 10
    ori \dst, \dst, \flags
.endm
/* store PTE into table at _free + toff, index idx */
.macro SET_PTE toff, idx, pte
    la t4, _free
    li t6, \toff + 8 * \idx
    add t4, t4, t6
    sd \pte, 0(t4)
.endm
.macro LOAD_PTE dst, idx           /* level-0 PTE of test page idx */
    la t4, _free
    li t6, T_L0 + 8 * \idx
    add t4, t4, t6
    ld \dst, 0(t4)
.endm

    .text
    .globl test_main
test_main:
    /* zero the tables and pages */
    la t0, _free
    li t1, PG(8)
    add t1, t0, t1
1:  sd zero, 0(t0)
    addi t0, t0, 8
    bltu t0, t1, 1b
    /* a marker in each data page: 0x1000 + n */
    la t0, _free
    li t1, PG(0)
    add t0, t0, t1
    li t2, 0
2:  li t3, 0x1000
    add t3, t3, t2
    sd t3, 0(t0)
    li t3, 4096
    add t0, t0, t3
    addi t2, t2, 1
    li t3, 8
    bltu t2, t3, 2b
    /* page 3 holds code: ret */
    la t0, _free
    li t1, PG(3)
    add t0, t0, t1
    li t1, 0x00008067
    sw t1, 0(t0)
    fence.i

    /* root: gigapages for devices (0) and RAM (2), a pointer at 1 */
    li t0, (0 >> 12 << 10) | V | R | W | A | D
    SET_PTE T_ROOT, 0, t0
    li t0, (0x80000000 >> 12 << 10) | V | R | W | X | A | D
    SET_PTE T_ROOT, 2, t0
    PTE_FREE t0, T_L1, V
    SET_PTE T_ROOT, 1, t0
    /* level 1: a pointer for 0x40000000, a misaligned 2 MiB leaf at 0x40200000 */
    PTE_FREE t0, T_L0, V
    SET_PTE T_L1, 0, t0
    PTE_FREE t0, PG(0), V | R | W | A | D
    SET_PTE T_L1, 1, t0
    /* level 0: the test pages */
    PTE_FREE t0, PG(0), V | R | W | A | D        /* 0: read/write */
    SET_PTE T_L0, 0, t0
    PTE_FREE t0, PG(1), V | R | A | D            /* 1: read-only */
    SET_PTE T_L0, 1, t0
    /* 2: invalid (zero) */
    PTE_FREE t0, PG(3), V | X | A                /* 3: execute-only */
    SET_PTE T_L0, 3, t0
    PTE_FREE t0, PG(4), V | R | W                /* 4: A = D = 0 */
    SET_PTE T_L0, 4, t0
    PTE_FREE t0, PG(5), V | R | W | U | A | D    /* 5: user */
    SET_PTE T_L0, 5, t0
    PTE_FREE t0, PG(6), V | R | W | A | D        /* 6: no execute */
    SET_PTE T_L0, 6, t0
    PTE_FREE t0, PG(7), V | W | A | D            /* 7: reserved W without R */
    SET_PTE T_L0, 7, t0
#if LEVELS == 4
    PTE_FREE t0, T_ROOT, V                       /* 512 GiB -> the Sv39 root */
    SET_PTE T_ROOT48, 0, t0
    la t0, _free
    li t1, T_ROOT48
    add t0, t0, t1
#else
    la t0, _free
#endif
    srli t0, t0, 12
    li t1, SATP_MODE
    or t0, t0, t1
    csrw satp, t0
    csrr t1, satp
    sub t1, t1, t0
    CHECK t1, 0, 60              /* the mode is supported */
    sfence.vma
    la t0, vm_trap
    csrw mtvec, t0
    csrw medeleg, zero
    li t0, 3 << 11
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, s_main
    csrw mepc, t0
    mret

s_main:
    li s0, VA
    li s1, 4096
    /* 0: read and write */
    NO_TRAP 1, ld t1, 0(s0)
    CHECK t1, 0x1000, 2
    NO_TRAP 3, sd t1, 8(s0)
    /* 1: read-only: store page fault with stval = the address */
    add s2, s0, s1
    NO_TRAP 4, ld t1, 0(s2)
    CHECK t1, 0x1001, 5
    TRAPS 15, 6, sd t1, 16(s2)
    ld t1, trap_tval
    addi t2, s2, 16
    sub t1, t1, t2
    CHECK t1, 0, 7
    TRAPS 15, 8, amoadd.d t1, t1, (s2)   /* AMOs need write permission */
    /* 2: invalid */
    add s2, s2, s1
    TRAPS 13, 10, ld t1, 0(s2)
    ld t1, trap_tval
    sub t1, t1, s2
    CHECK t1, 0, 11
    TRAPS 15, 12, sw t1, 4(s2)
    /* 3: execute-only: loads fault unless MXR; fetch works */
    add s2, s2, s1
    TRAPS 13, 13, lw t1, 0(s2)
    li t0, 1 << 19
    csrs sstatus, t0
    NO_TRAP 14, lw t1, 0(s2)
    CHECK t1, 0x00008067, 15
    csrc sstatus, t0
    NO_TRAP 16, jalr ra, 0(s2)
    /* 4: accessed/dirty bits */
    add s2, s2, s1
    ld t1, 0(s2)
    CHECK t1, 0x1004, 20
    LOAD_PTE t1, 4
    andi t2, t1, A
    CHECK t2, A, 21
    andi t2, t1, D
    CHECK t2, 0, 22              /* a load does not set D */
    sd t1, 8(s2)
    LOAD_PTE t1, 4
    andi t2, t1, D
    CHECK t2, D, 23
    /* 5: user page: S needs SUM to load, and never executes it */
    add s2, s2, s1
    TRAPS 13, 30, ld t1, 0(s2)
    li t0, 1 << 18
    csrs sstatus, t0
    NO_TRAP 31, ld t1, 0(s2)
    CHECK t1, 0x1005, 32
    TRAPS 12, 33, jalr ra, 0(s2)
    csrc sstatus, t0
    /* 6: no execute */
    add s2, s2, s1
    TRAPS 12, 34, jalr ra, 0(s2)
    ld t1, trap_tval
    sub t1, t1, s2
    CHECK t1, 0, 35
    /* 7: W without R is reserved: loads and stores fault */
    add s2, s2, s1
    TRAPS 13, 36, ld t1, 0(s2)
    TRAPS 15, 37, sd t1, 0(s2)
    /* a 2 MiB leaf whose PPN is not 2 MiB aligned */
    li s2, VA + 0x200000
    TRAPS 13, 40, ld t1, 0(s2)
    /* non-canonical (Sv39) / unmapped (Sv48) */
    li s2, 0x4000000000
    TRAPS 13, 41, ld t1, 0(s2)
    li s2, 0x800000000000
    TRAPS 13, 42, ld t1, 0(s2)
    /* sfence.vma makes a changed mapping visible: page 0 -> page 2 */
    ld t1, 0(s0)
    CHECK t1, 0x1000, 50
    PTE_FREE t0, PG(2), V | R | W | A | D
    SET_PTE T_L0, 0, t0
    sfence.vma s0, zero
    ld t1, 0(s0)
    CHECK t1, 0x1002, 51
    sfence.vma

    li a0, 0
    j test_pass

/* M handler: an instruction page fault returns to ra; a fault on page 4
 * (A/D not set by hardware) sets A (and D for a store) and retries. */
    .align 2
vm_trap:
    csrw mscratch, t0
    csrr t0, mcause
    addi t0, t0, -12
    beqz t0, 3f
    la t0, ad_save
    sd t1, 0(t0)
    sd t2, 8(t0)
    csrr t1, mtval
    srli t1, t1, 12
    li t2, (VA >> 12) + 4
    bne t1, t2, 4f
    la t0, _free
    li t1, T_L0 + 8 * 4
    add t0, t0, t1
    ld t1, 0(t0)
    ori t1, t1, A
    csrr t2, mcause
    addi t2, t2, -15
    bnez t2, 1f
    ori t1, t1, D
1:  sd t1, 0(t0)
    sfence.vma
    la t0, ad_save
    ld t1, 0(t0)
    ld t2, 8(t0)
    csrr t0, mscratch
    mret
4:  ld t1, 0(t0)
    ld t2, 8(t0)
2:  csrr t0, mscratch
    j skip_trap
3:  csrr t0, mscratch           /* fetch fault: record, go back to ra */
    csrw mscratch, t1
    la t1, trap_cause
    csrr t0, mcause
    sd t0, 0(t1)
    csrr t0, mtval
    sd t0, 16(t1)
    ld t0, 24(t1)
    addi t0, t0, 1
    sd t0, 24(t1)
    csrw mepc, ra
    csrr t1, mscratch
    mret

    .data
    .align 3
ad_save: .dword 0, 0
