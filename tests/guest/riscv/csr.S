/* Machine and supervisor CSRs: identification, read/modify/write forms,
 * read-only and unknown CSRs, counters, the sstatus/sie views of mstatus/mie,
 * WARL fields (satp modes, mtvec modes). */
#include "common.h"

#define MISA_BITS ((1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20))

    .text
    .globl test_main
test_main:
    la t0, skip_trap
    csrw mtvec, t0

    /* identification */
    csrr t1, misa
    srli t2, t1, 62
    CHECK t2, 2, 1               /* MXL = 64 */
    li t3, MISA_BITS
    and t2, t1, t3
    CHECK t2, MISA_BITS, 2       /* I M A F D C S U */
    csrr t1, mhartid
    CHECK t1, 0, 3
    NO_TRAP 4, csrr t1, mvendorid
    NO_TRAP 5, csrr t1, marchid
    NO_TRAP 6, csrr t1, mimpid

    /* read/modify/write forms return the old value */
    li t1, 0x1234
    csrw mscratch, t1
    li t2, 0xff
    csrrs t3, mscratch, t2
    CHECK t3, 0x1234, 10
    csrr t3, mscratch
    CHECK t3, 0x12ff, 11
    li t2, 0x0f0
    csrrc t3, mscratch, t2
    CHECK t3, 0x12ff, 12
    csrr t3, mscratch
    CHECK t3, 0x120f, 13
    csrrwi t3, mscratch, 21
    CHECK t3, 0x120f, 14
    csrrsi t3, mscratch, 8
    CHECK t3, 21, 15
    csrrci t3, mscratch, 1
    CHECK t3, 29, 16
    csrr t3, mscratch
    CHECK t3, 28, 17

    /* read-only CSRs: reading is fine (csrrs/csrrc with x0 do not write),
     * writing is an illegal instruction; so is an unknown CSR */
    NO_TRAP 20, csrrs t1, mhartid, zero
    TRAPS 2, 21, csrw mhartid, t1
    TRAPS 2, 22, csrrsi t1, mhartid, 1
    TRAPS 2, 23, csrr t1, 0xbff
    TRAPS 2, 24, csrw cycle, zero

    /* counters move */
    rdinstret t1
    nop
    nop
    rdinstret t2
    sub t3, t2, t1
    CHECK_NE t3, 0, 30
    bltz t3, 1f
    rdcycle t1
    li t3, 1000
2:  addi t3, t3, -1
    bnez t3, 2b
    rdcycle t2
    bgtu t2, t1, 3f
1:  li a0, 31
    j test_fail
3:  csrr t1, minstret
    NO_TRAP 32, rdtime t1
    li t3, 200000
4:  addi t3, t3, -1
    bnez t3, 4b
    rdtime t2
    bgtu t2, t1, 5f
    li a0, 33
    mv a1, t2
    j test_fail
5:

    /* mstatus: XLEN fields, FS and SD */
    csrr t1, mstatus
    srli t2, t1, 32
    andi t2, t2, 0xf
    CHECK t2, 0xa, 40            /* UXL = SXL = 64 */
    fmv.d.x ft0, zero            /* make FS dirty */
    csrr t1, mstatus
    srli t2, t1, 63
    CHECK t2, 1, 41              /* SD */
    li t2, 3 << 13
    csrc mstatus, t2             /* FS = Off: FP instructions are illegal */
    TRAPS 2, 42, fadd.d ft0, ft0, ft0
    TRAPS 2, 43, csrr t1, fcsr
    li t2, 1 << 13
    csrs mstatus, t2
    NO_TRAP 44, fadd.d ft0, ft0, ft0

    /* sstatus is a restricted view of mstatus */
    li t2, 1 << 18               /* SUM */
    csrs sstatus, t2
    csrr t1, mstatus
    and t1, t1, t2
    CHECK t1, 1 << 18, 50
    csrc mstatus, t2
    csrr t1, sstatus
    and t1, t1, t2
    CHECK t1, 0, 51
    li t2, 1 << 11               /* MPP is not visible in sstatus */
    csrs mstatus, t2
    csrr t1, sstatus
    and t1, t1, t2
    CHECK t1, 0, 52

    /* sie/sip show only what mideleg delegates */
    li t2, 0x222
    csrw mideleg, t2
    csrr t1, mideleg
    and t1, t1, t2               /* the H extension may hard-wire more bits */
    CHECK t1, 0x222, 60
    csrw sie, t2
    csrr t1, mie
    and t1, t1, t2
    CHECK t1, 0x222, 61
    csrw mie, zero
    li t2, 0x2                   /* SSIP is writable through sip */
    csrs sip, t2
    csrr t1, mip
    andi t1, t1, 2
    CHECK t1, 2, 62
    csrc mip, t2
    csrr t1, sip
    andi t1, t1, 2
    CHECK t1, 0, 63
    csrw mideleg, zero
    csrr t1, sie
    andi t1, t1, 0x222
    CHECK t1, 0, 64
    li t2, 0xb109                /* usual Linux/OpenSBI exception delegation */
    csrw medeleg, t2
    csrr t1, medeleg
    CHECK t1, 0xb109, 65
    csrw medeleg, zero

    /* satp: an unsupported mode leaves it unchanged (WARL) */
    csrw satp, zero
    li t2, (8 << 60) | 0x1234    /* Sv39 */
    csrw satp, t2
    csrr t1, satp
    CHECK t1, (8 << 60) | 0x1234, 70
    li t2, (5 << 60) | 0x55      /* reserved mode */
    csrw satp, t2
    csrr t1, satp
    CHECK t1, (8 << 60) | 0x1234, 71
    csrw satp, zero

    /* mtvec: direct and vectored modes */
    la t2, skip_trap
    ori t3, t2, 1
    csrw mtvec, t3
    csrr t1, mtvec
    sub t1, t1, t3
    CHECK t1, 0, 80
    csrw mtvec, t2
    li a0, 0
    ret
