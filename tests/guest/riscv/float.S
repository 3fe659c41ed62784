/* The F and D extensions: static and dynamic rounding modes, conversions
 * with saturation, NaN boxing and canonical NaNs, the accrued exception
 * flags, min/max, classification, fused multiply-add. */
#include "common.h"

#define NX 0x01
#define UF 0x02
#define OF 0x04
#define DZ 0x08
#define NV 0x10

.macro FS reg, bits               /* single from its bit pattern */
    li t0, \bits
    fmv.w.x \reg, t0
.endm
.macro FD reg, bits               /* double from its bit pattern */
    li t0, \bits
    fmv.d.x \reg, t0
.endm
.macro CHECK_FS reg, bits, code   /* single result (sign-extended by fmv.x.w) */
    fmv.x.w t1, \reg
    li t2, \bits
    sext.w t2, t2
    beq t1, t2, 9997f
    li a0, \code
    mv a1, t1
    j test_fail
9997:
.endm
.macro CHECK_FD reg, bits, code
    fmv.x.d t1, \reg
    CHECK t1, \bits, \code
.endm
.macro CHECK_FLAGS bits, code     /* reads and clears fflags */
    fsflags t1, zero
    CHECK t1, \bits, \code
.endm

    .text
    .globl test_main
test_main:
    fsflags zero
    /* 1 + 2^-24 is exactly half an ulp above 1.0: each static mode */
    FS fa0, 0x3f800000
    FS fa1, 0x33800000
    fadd.s fa2, fa0, fa1, rne
    CHECK_FS fa2, 0x3f800000, 1
    fadd.s fa2, fa0, fa1, rmm
    CHECK_FS fa2, 0x3f800001, 2
    fadd.s fa2, fa0, fa1, rup
    CHECK_FS fa2, 0x3f800001, 3
    fadd.s fa2, fa0, fa1, rdn
    CHECK_FS fa2, 0x3f800000, 4
    fadd.s fa2, fa0, fa1, rtz
    CHECK_FS fa2, 0x3f800000, 5
    CHECK_FLAGS NX, 6
    /* -1 - 2^-24 */
    fneg.s fa3, fa0
    fsub.s fa2, fa3, fa1, rdn
    CHECK_FS fa2, 0xbf800001, 7
    fsub.s fa2, fa3, fa1, rup
    CHECK_FS fa2, 0xbf800000, 8
    fsub.s fa2, fa3, fa1, rmm
    CHECK_FS fa2, 0xbf800001, 9
    /* dynamic mode from frm */
    fsrmi 3                      /* RUP */
    frrm t1
    CHECK t1, 3, 10
    fadd.s fa2, fa0, fa1
    CHECK_FS fa2, 0x3f800001, 11
    fsrmi 0
    fadd.s fa2, fa0, fa1
    CHECK_FS fa2, 0x3f800000, 12
    frcsr t1                     /* fcsr = frm << 5 | fflags */
    CHECK t1, NX, 13
    CHECK_FLAGS NX, 14
    /* exact results raise no flag */
    FS fa1, 0x40000000
    fadd.s fa2, fa0, fa1
    CHECK_FS fa2, 0x40400000, 15
    CHECK_FLAGS 0, 16

    /* conversions to integers, each rounding mode, 2.5 and -2.5 */
    FS fa0, 0x40200000
    fcvt.w.s t3, fa0, rne
    CHECK t3, 2, 20
    fcvt.w.s t3, fa0, rmm
    CHECK t3, 3, 21
    fcvt.w.s t3, fa0, rdn
    CHECK t3, 2, 22
    fcvt.w.s t3, fa0, rup
    CHECK t3, 3, 23
    fcvt.w.s t3, fa0, rtz
    CHECK t3, 2, 24
    fneg.s fa0, fa0
    fcvt.w.s t3, fa0, rne
    CHECK t3, -2, 25
    fcvt.w.s t3, fa0, rmm
    CHECK t3, -3, 26
    fcvt.w.s t3, fa0, rdn
    CHECK t3, -3, 27
    fcvt.w.s t3, fa0, rup
    CHECK t3, -2, 28
    CHECK_FLAGS NX, 29
    /* saturation: NaN and too large give the maximum, NV */
    FS fa0, 0x7fc00000
    fcvt.w.s t3, fa0, rtz
    CHECK t3, 0x7fffffff, 30
    CHECK_FLAGS NV, 31
    FS fa0, 0x4f32d05e           /* 3e9 */
    fcvt.w.s t3, fa0, rtz
    CHECK t3, 0x7fffffff, 32
    fcvt.wu.s t3, fa0, rtz       /* fits unsigned; wu results sign-extend */
    CHECK t3, 0xffffffffb2d05e00, 33
    CHECK_FLAGS NV, 34
    FS fa0, 0xbf800000           /* -1.0 to unsigned */
    fcvt.wu.s t3, fa0, rtz
    CHECK t3, 0, 35
    CHECK_FLAGS NV, 36
    FD fa0, 0xfff0000000000000   /* -inf */
    fcvt.l.d t3, fa0, rtz
    CHECK t3, 0x8000000000000000, 37
    CHECK_FLAGS NV, 38
    FD fa0, 0xc00c000000000000   /* -3.5 */
    fcvt.l.d t3, fa0, rne
    CHECK t3, -4, 39
    CHECK_FLAGS NX, 40
    /* from integers */
    li t3, -7
    fcvt.s.l fa0, t3
    CHECK_FS fa0, 0xc0e00000, 41
    li t3, 0xffffffff
    fcvt.d.wu fa0, t3
    CHECK_FD fa0, 0x41efffffffe00000, 42
    li t3, 0x7fffffffffffffff    /* not exact in double */
    fcvt.d.l fa0, t3, rtz
    CHECK_FD fa0, 0x43dfffffffffffff, 43
    CHECK_FLAGS NX, 44

    /* NaN boxing: a single whose upper half is not all ones is a NaN */
    li t0, 0x3f800000
    fmv.d.x fa0, t0
    fadd.s fa1, fa0, fa0
    CHECK_FS fa1, 0x7fc00000, 50
    CHECK_FLAGS 0, 51            /* the canonical NaN is quiet: no NV */
    /* single results are boxed */
    FS fa0, 0x3f800000
    fadd.s fa1, fa0, fa0
    CHECK_FD fa1, 0xffffffff40000000, 52
    la s0, mem
    li t0, 0x40490fdb
    sw t0, 0(s0)
    flw fa2, 0(s0)
    CHECK_FD fa2, 0xffffffff40490fdb, 53
    fsw fa2, 4(s0)
    lwu t1, 4(s0)
    CHECK t1, 0x40490fdb, 54
    /* fmv.x.w sign-extends */
    FS fa0, 0x80000000
    fmv.x.w t1, fa0
    CHECK t1, 0xffffffff80000000, 55
    /* a double NaN widened from a single is the canonical double NaN */
    FS fa0, 0x7f800001           /* signalling */
    fcvt.d.s fa1, fa0
    CHECK_FD fa1, 0x7ff8000000000000, 56
    CHECK_FLAGS NV, 57

    /* flags: division by zero, invalid, overflow, underflow */
    FS fa0, 0x3f800000
    FS fa1, 0x00000000
    fdiv.s fa2, fa0, fa1
    CHECK_FS fa2, 0x7f800000, 60
    CHECK_FLAGS DZ, 61
    fdiv.s fa2, fa1, fa1
    CHECK_FS fa2, 0x7fc00000, 62
    CHECK_FLAGS NV, 63
    FS fa0, 0x7f7fffff
    fmul.s fa2, fa0, fa0
    CHECK_FS fa2, 0x7f800000, 64
    CHECK_FLAGS OF | NX, 65
    fmul.s fa2, fa0, fa0, rtz    /* overflow toward zero gives the max */
    CHECK_FS fa2, 0x7f7fffff, 66
    CHECK_FLAGS OF | NX, 67
    FD fa0, 0x0010000000000001
    fmul.d fa2, fa0, fa0
    CHECK_FD fa2, 0, 68
    CHECK_FLAGS UF | NX, 69
    FD fa0, 0xbff0000000000000
    fsqrt.d fa2, fa0
    CHECK_FD fa2, 0x7ff8000000000000, 70
    CHECK_FLAGS NV, 71
    FD fa0, 0x4000000000000000
    fsqrt.d fa2, fa0
    CHECK_FD fa2, 0x3ff6a09e667f3bcd, 72
    CHECK_FLAGS NX, 73
    /* flags accumulate until cleared */
    FS fa0, 0x3f800000
    FS fa1, 0x00000000
    fdiv.s fa2, fa0, fa1
    FS fa1, 0x33800000
    fadd.s fa2, fa0, fa1
    CHECK_FLAGS DZ | NX, 74

    /* comparisons: quiet compares of qNaN raise nothing, ordered ones NV */
    FS fa0, 0x7fc00000
    FS fa1, 0x3f800000
    feq.s t1, fa0, fa1
    CHECK t1, 0, 80
    CHECK_FLAGS 0, 81
    flt.s t1, fa0, fa1
    CHECK t1, 0, 82
    CHECK_FLAGS NV, 83
    FS fa0, 0x7f800001
    feq.s t1, fa0, fa1
    CHECK_FLAGS NV, 84
    FD fa0, 0xbff0000000000000
    FD fa1, 0x3ff0000000000000
    flt.d t1, fa0, fa1
    CHECK t1, 1, 85
    fle.d t1, fa1, fa1
    CHECK t1, 1, 86

    /* min/max: one NaN gives the other operand; -0 < +0 */
    FS fa0, 0x7fc00000
    FS fa1, 0x3f800000
    fmin.s fa2, fa0, fa1
    CHECK_FS fa2, 0x3f800000, 90
    CHECK_FLAGS 0, 91
    FS fa0, 0x7f800001
    fmax.s fa2, fa0, fa1
    CHECK_FS fa2, 0x3f800000, 92
    CHECK_FLAGS NV, 93
    fmax.s fa2, fa0, fa0
    CHECK_FS fa2, 0x7fc00000, 94
    FD fa0, 0x8000000000000000
    FD fa1, 0x0000000000000000
    fmin.d fa2, fa0, fa1
    CHECK_FD fa2, 0x8000000000000000, 95
    fmax.d fa2, fa0, fa1
    CHECK_FD fa2, 0, 96
    fsflags zero

    /* classification */
    FS fa0, 0xff800000
    fclass.s t1, fa0
    CHECK t1, 0x001, 100
    FS fa0, 0x80000001
    fclass.s t1, fa0
    CHECK t1, 0x004, 101
    FS fa0, 0x00000000
    fclass.s t1, fa0
    CHECK t1, 0x010, 102
    FS fa0, 0x7f800001
    fclass.s t1, fa0
    CHECK t1, 0x100, 103
    FS fa0, 0x7fc00000
    fclass.s t1, fa0
    CHECK t1, 0x200, 104
    FD fa0, 0x3ff0000000000000
    fclass.d t1, fa0
    CHECK t1, 0x040, 105
    li t0, 0x3ff0000000000000    /* an unboxed single classifies as qNaN */
    fmv.d.x fa0, t0
    fclass.s t1, fa0
    CHECK t1, 0x200, 106

    /* sign injection */
    FD fa0, 0x3ff0000000000000
    FD fa1, 0xc000000000000000
    fsgnj.d fa2, fa0, fa1
    CHECK_FD fa2, 0xbff0000000000000, 110
    fsgnjn.d fa2, fa0, fa1
    CHECK_FD fa2, 0x3ff0000000000000, 111
    fsgnjx.d fa2, fa1, fa1
    CHECK_FD fa2, 0x4000000000000000, 112
    fabs.s fa2, fa1              /* on an unboxed value: the canonical NaN */
    CHECK_FS fa2, 0x7fc00000, 113

    /* fused multiply-add rounds once: (1 + 2^-30)(1 - 2^-30) - 1 = -2^-60 */
    FD fa0, 0x3ff0000000400000
    FD fa1, 0x3fefffffff800000
    FD fa2, 0x3ff0000000000000
    fmsub.d fa3, fa0, fa1, fa2
    CHECK_FD fa3, 0xbc30000000000000, 120
    fmul.d fa4, fa0, fa1         /* unfused: the product rounds to 1.0 */
    fsub.d fa4, fa4, fa2
    CHECK_FD fa4, 0, 121
    FS fa0, 0x40000000
    FS fa1, 0x40400000
    FS fa2, 0x3f800000
    fmadd.s fa3, fa0, fa1, fa2
    CHECK_FS fa3, 0x40e00000, 122    /* 2*3+1 = 7 */
    fnmadd.s fa3, fa0, fa1, fa2
    CHECK_FS fa3, 0xc0e00000, 123    /* -(2*3)-1 */
    fnmsub.s fa3, fa0, fa1, fa2
    CHECK_FS fa3, 0xc0a00000, 124    /* -(2*3)+1 */
    /* narrowing rounds */
    FD fa0, 0x3ff0000010000001   /* just above 1 + 2^-24 */
    fcvt.s.d fa1, fa0
    CHECK_FS fa1, 0x3f800001, 125
    fcvt.s.d fa1, fa0, rtz
    CHECK_FS fa1, 0x3f800000, 126
    fsflags zero

    /* FP writes mark mstatus.FS dirty */
    csrr t1, mstatus
    srli t1, t1, 13
    andi t1, t1, 3
    CHECK t1, 3, 130
    li a0, 0
    ret

    .data
    .align 3
mem: .dword 0, 0
