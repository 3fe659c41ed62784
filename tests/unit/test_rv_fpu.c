/* F and D on the soft engine's CPU core: conversions under every rounding
 * mode, NaN boxing and the canonical NaN, fmin/fmax NaN rules, exact
 * fflags, compares, fclass, fused multiply-add, fcsr and FS=Off. */
#include <math.h>
#include <stdio.h>

#include "rv_rig.h"

#define HANDLER (RAM_BASE + 0x1000)
#define NX 0x01
#define UF 0x02
#define OF 0x04
#define DZ 0x08
#define NV 0x10

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static uint64_t sbox(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return 0xffffffff00000000ULL | u;
}

static void rig_fp(struct rig *r)
{
    rig_init(r);
    rv_cpu(&r->h)->mstatus |= 1ULL << MSTATUS_FS_SHIFT;
    rv_cpu(&r->h)->mtvec = HANDLER;
    uint64_t save = r->at;
    r->at = HANDLER;
    emit_exit(r);
    r->at = save;
}

/* Runs one FP instruction with the given f1, f2, f3 and frm; returns fflags. */
static unsigned run1(uint32_t insn, double a, double b, uint64_t *xrd, uint64_t *frd, unsigned frm)
{
    struct rig r;
    rig_fp(&r);
    r.h.f[1] = dbits(a);
    r.h.f[2] = dbits(b);
    rv_cpu(&r.h)->frm = frm;
    emit32(&r, insn);
    emit_exit(&r);
    rig_run(&r);
    if (xrd)
        *xrd = r.h.x[10];
    if (frd)
        *frd = r.h.f[10];
    unsigned fl = rv_cpu(&r.h)->fflags;
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, 0);
    rig_destroy(&r);
    return fl;
}

static void test_fcvt_w_d_honours_every_rounding_mode(void)
{
    static const double in[3] = { 2.5, -2.5, 1.5 };
    static const int64_t want[5][3] = {
        { 2, -2, 2 },  /* RNE */
        { 2, -2, 1 },  /* RTZ */
        { 2, -3, 1 },  /* RDN */
        { 3, -2, 2 },  /* RUP */
        { 3, -3, 2 },  /* RMM */
    };
    for (unsigned rm = 0; rm < 5; rm++) {
        for (int i = 0; i < 3; i++) {
            uint64_t x;
            unsigned fl = run1(FP(0x61, rm, 10, 1, 0), in[i], 0, &x, NULL, 0);
            CU_ASSERT_EQUAL((int64_t)x, want[rm][i]);
            CU_ASSERT_EQUAL(fl, NX);
            /* the same through frm (dynamic) */
            fl = run1(FP(0x61, 7, 10, 1, 0), in[i], 0, &x, NULL, rm);
            CU_ASSERT_EQUAL((int64_t)x, want[rm][i]);
        }
    }
}

static void test_fcvt_out_of_range_and_nan_saturate_with_nv(void)
{
    uint64_t x;
    CU_ASSERT_EQUAL(run1(FP(0x61, 1, 10, 1, 0), 1e10, 0, &x, NULL, 0), NV);
    CU_ASSERT_EQUAL(x, 0x7fffffffULL);
    CU_ASSERT_EQUAL(run1(FP(0x61, 1, 10, 1, 0), NAN, 0, &x, NULL, 0), NV);
    CU_ASSERT_EQUAL(x, 0x7fffffffULL);
    CU_ASSERT_EQUAL(run1(FP(0x61, 1, 10, 1, 0), -INFINITY, 0, &x, NULL, 0), NV);
    CU_ASSERT_EQUAL(x, 0xffffffff80000000ULL);
    CU_ASSERT_EQUAL(run1(FP(0x61, 1, 10, 1, 1), -1.0, 0, &x, NULL, 0), NV); /* wu */
    CU_ASSERT_EQUAL(x, 0);
    CU_ASSERT_EQUAL(run1(FP(0x61, 1, 10, 1, 1), -0.5, 0, &x, NULL, 0), NX); /* wu, rounds to 0 */
    CU_ASSERT_EQUAL(x, 0);
    CU_ASSERT_EQUAL(run1(FP(0x61, 1, 10, 1, 1), 4294967295.0, 0, &x, NULL, 0), 0);
    CU_ASSERT_EQUAL(x, ~0ULL); /* 0xffffffff sign-extended */
    CU_ASSERT_EQUAL(run1(FP(0x61, 1, 10, 1, 3), 18446744073709551616.0, 0, &x, NULL, 0), NV);
    CU_ASSERT_EQUAL(x, ~0ULL);
    CU_ASSERT_EQUAL(run1(FP(0x61, 1, 10, 1, 2), -9223372036854775808.0, 0, &x, NULL, 0), 0);
    CU_ASSERT_EQUAL(x, 0x8000000000000000ULL);
}

static void test_int_to_float_rounds_by_mode(void)
{
    /* 2^53 + 1 is a tie between 2^53 and 2^53 + 2 */
    uint64_t v = (1ULL << 53) + 1;
    static const double want[5] = { 9007199254740992.0, 9007199254740992.0, 9007199254740992.0,
                                    9007199254740994.0, 9007199254740994.0 };
    for (unsigned rm = 0; rm < 5; rm++) {
        struct rig r;
        rig_fp(&r);
        r.h.x[1] = v;
        emit32(&r, FP(0x69, rm, 10, 1, 2)); /* fcvt.d.l */
        emit_exit(&r);
        rig_run(&r);
        CU_ASSERT_EQUAL(r.h.f[10], dbits(want[rm]));
        CU_ASSERT_EQUAL(rv_cpu(&r.h)->fflags, NX);
        rig_destroy(&r);
    }
}

static void test_add_rounds_by_mode_including_rmm(void)
{
    double half_ulp = ldexp(1.0, -53);
    static const double up = 1.0000000000000002; /* 1 + 2^-52 */
    double want[5] = { 1.0, 1.0, 1.0, up, up };
    for (unsigned rm = 0; rm < 5; rm++) {
        uint64_t f;
        unsigned fl = run1(FP(0x01, rm, 10, 1, 2), 1.0, half_ulp, NULL, &f, 0);
        CU_ASSERT_EQUAL(f, dbits(want[rm]));
        CU_ASSERT_EQUAL(fl, NX);
    }
}

static void test_single_sub_rounds_ties_away_under_rmm(void)
{
    /* -1 - 2^-24 is a tie: RMM gives -(1 + 2^-23), RNE gives -1 */
    static const uint64_t want[5] = { 0xffffffffbf800000ULL, 0xffffffffbf800000ULL,
                                      0xffffffffbf800001ULL, 0xffffffffbf800000ULL,
                                      0xffffffffbf800001ULL };
    for (unsigned rm = 0; rm < 5; rm++) {
        struct rig r;
        rig_fp(&r);
        r.h.f[1] = sbox(-1.0f);
        r.h.f[2] = sbox(0x1p-24f);
        emit32(&r, FP(0x04, rm, 10, 1, 2)); /* fsub.s */
        emit_exit(&r);
        rig_run(&r);
        CU_ASSERT_EQUAL(r.h.f[10], want[rm]);
        CU_ASSERT_EQUAL(rv_cpu(&r.h)->fflags, NX);
        rig_destroy(&r);
    }
}

static void test_singles_must_be_nan_boxed(void)
{
    struct rig r;
    rig_fp(&r);
    r.h.f[1] = 0x000000003f800000ULL; /* 1.0f, not boxed */
    r.h.f[2] = sbox(-1.0f);
    emit32(&r, FP(0x00, 0, 10, 1, 1)); /* fadd.s f10, f1, f1 */
    emit32(&r, FP(0x70, 0, 11, 2, 0)); /* fmv.x.w x11, f2 */
    emit32(&r, FP(0x00, 0, 12, 2, 2)); /* fadd.s f12 = -2.0f */
    emit32(&r, FP(0x78, 0, 13, 11, 0)); /* fmv.w.x f13, x11 */
    emit32(&r, enc_i(8, 14, 2, 14, 0x07)); /* flw f14, 8(x14) */
    r.h.x[14] = RAM_BASE + 0x2000;
    put64(&r, RAM_BASE + 0x2008, 0x40400000); /* 3.0f */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.f[10], 0xffffffff7fc00000ULL);
    CU_ASSERT_EQUAL(r.h.x[11], 0xffffffffbf800000ULL);
    CU_ASSERT_EQUAL(r.h.f[12], sbox(-2.0f));
    CU_ASSERT_EQUAL(r.h.f[13], sbox(-1.0f));
    CU_ASSERT_EQUAL(r.h.f[14], sbox(3.0f));
    rig_destroy(&r);
}

static void test_fmin_fmax_follow_the_nan_and_zero_rules(void)
{
    uint64_t f;
    double snan = bitsd(0x7ff4000000000000ULL);
    CU_ASSERT_EQUAL(run1(FP(0x15, 0, 10, 1, 2), NAN, 1.0, NULL, &f, 0), 0);
    CU_ASSERT_EQUAL(f, dbits(1.0));
    CU_ASSERT_EQUAL(run1(FP(0x15, 1, 10, 1, 2), snan, 1.0, NULL, &f, 0), NV);
    CU_ASSERT_EQUAL(f, dbits(1.0));
    CU_ASSERT_EQUAL(run1(FP(0x15, 0, 10, 1, 2), NAN, snan, NULL, &f, 0), NV);
    CU_ASSERT_EQUAL(f, 0x7ff8000000000000ULL);
    run1(FP(0x15, 0, 10, 1, 2), 0.0, -0.0, NULL, &f, 0);
    CU_ASSERT_EQUAL(f, dbits(-0.0));
    run1(FP(0x15, 1, 10, 1, 2), -0.0, 0.0, NULL, &f, 0);
    CU_ASSERT_EQUAL(f, dbits(0.0));
    run1(FP(0x15, 1, 10, 1, 2), -3.0, 2.0, NULL, &f, 0);
    CU_ASSERT_EQUAL(f, dbits(2.0));
}

static void test_arithmetic_raises_exact_flags(void)
{
    uint64_t f;
    CU_ASSERT_EQUAL(run1(FP(0x0d, 0, 10, 1, 2), 1.0, 0.0, NULL, &f, 0), DZ);
    CU_ASSERT_EQUAL(f, dbits(INFINITY));
    CU_ASSERT_EQUAL(run1(FP(0x09, 0, 10, 1, 2), 1e308, 10.0, NULL, &f, 0), OF | NX);
    CU_ASSERT_EQUAL(run1(FP(0x09, 0, 10, 1, 2), 1e-308, 1e-10, NULL, &f, 0), UF | NX);
    CU_ASSERT_EQUAL(run1(FP(0x2d, 0, 10, 1, 0), -1.0, 0, NULL, &f, 0), NV);
    CU_ASSERT_EQUAL(f, 0x7ff8000000000000ULL); /* canonical NaN */
    CU_ASSERT_EQUAL(run1(FP(0x0d, 0, 10, 1, 2), 0.0, 0.0, NULL, &f, 0), NV);
    CU_ASSERT_EQUAL(f, 0x7ff8000000000000ULL);
    CU_ASSERT_EQUAL(run1(FP(0x0d, 0, 10, 1, 2), 1.0, 3.0, NULL, &f, 0), NX);
    CU_ASSERT_EQUAL(run1(FP(0x01, 0, 10, 1, 2), 1.0, 2.0, NULL, &f, 0), 0);
    CU_ASSERT_EQUAL(f, dbits(3.0));
    /* a NaN operand gives the canonical NaN, not the operand's payload */
    run1(FP(0x01, 0, 10, 1, 2), bitsd(0x7ff800000000abcdULL), 2.0, NULL, &f, 0);
    CU_ASSERT_EQUAL(f, 0x7ff8000000000000ULL);
}

static void test_compares_signal_as_specified(void)
{
    uint64_t x;
    double snan = bitsd(0x7ff4000000000000ULL);
    CU_ASSERT_EQUAL(run1(FP(0x51, 1, 10, 1, 2), NAN, 1.0, &x, NULL, 0), NV); /* flt */
    CU_ASSERT_EQUAL(x, 0);
    CU_ASSERT_EQUAL(run1(FP(0x51, 2, 10, 1, 2), NAN, 1.0, &x, NULL, 0), 0); /* feq quiet */
    CU_ASSERT_EQUAL(x, 0);
    CU_ASSERT_EQUAL(run1(FP(0x51, 2, 10, 1, 2), snan, 1.0, &x, NULL, 0), NV);
    CU_ASSERT_EQUAL(run1(FP(0x51, 0, 10, 1, 2), 1.0, 1.0, &x, NULL, 0), 0); /* fle */
    CU_ASSERT_EQUAL(x, 1);
    run1(FP(0x51, 2, 10, 1, 2), -0.0, 0.0, &x, NULL, 0);
    CU_ASSERT_EQUAL(x, 1);
}

/* As run1, after an exact fadd.d that leaves the guest's MXCSR live (its
 * flags accumulating in the host FPU): instructions that compute their own
 * flags must neither lose nor add one there. */
static unsigned run1_live(uint32_t insn, double a, double b, uint64_t *xrd, uint64_t *frd,
                          unsigned frm)
{
    struct rig r;
    rig_fp(&r);
    r.h.f[1] = dbits(a);
    r.h.f[2] = dbits(b);
    r.h.f[4] = dbits(1.0);
    rv_cpu(&r.h)->frm = frm;
    emit32(&r, FP(0x01, 0, 3, 4, 4)); /* fadd.d f3, f4, f4: 2.0, exact */
    emit32(&r, insn);
    emit_exit(&r);
    rig_run(&r);
    if (xrd)
        *xrd = r.h.x[10];
    if (frd)
        *frd = r.h.f[10];
    unsigned fl = rv_cpu(&r.h)->fflags;
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, 0);
    CU_ASSERT_EQUAL(r.h.f[3], dbits(2.0));
    rig_destroy(&r);
    return fl;
}

static void test_self_flagging_ops_are_exact_while_fp_state_is_live(void)
{
    uint64_t x, f;
    double snan = bitsd(0x7ff4000000000000ULL);
    CU_ASSERT_EQUAL(run1_live(FP(0x51, 2, 10, 1, 2), NAN, 1.0, &x, NULL, 0), 0); /* feq quiet */
    CU_ASSERT_EQUAL(run1_live(FP(0x51, 1, 10, 1, 2), NAN, 1.0, &x, NULL, 0), NV); /* flt */
    CU_ASSERT_EQUAL(run1_live(FP(0x51, 2, 10, 1, 2), snan, 1.0, &x, NULL, 0), NV);
    CU_ASSERT_EQUAL(run1_live(FP(0x51, 1, 10, 1, 2), 1.0, 2.0, &x, NULL, 0), 0);
    CU_ASSERT_EQUAL(x, 1);
    CU_ASSERT_EQUAL(run1_live(FP(0x15, 0, 10, 1, 2), NAN, 1.0, NULL, &f, 0), 0); /* fmin */
    CU_ASSERT_EQUAL(f, dbits(1.0));
    CU_ASSERT_EQUAL(run1_live(FP(0x15, 1, 10, 1, 2), snan, 1.0, NULL, &f, 0), NV); /* fmax */
    /* an invalid conversion of a non-integer raises NV alone, never NX too,
     * in every rounding mode (the host's floor and friends may raise
     * inexact: fpu.c must not use them) */
    for (unsigned rm = 0; rm <= 4; rm++) {
        CU_ASSERT_EQUAL(run1_live(FP(0x61, rm, 10, 1, 1), -2.5, 0, &x, NULL, 0), NV); /* wu */
        CU_ASSERT_EQUAL(x, 0);
        CU_ASSERT_EQUAL(run1_live(FP(0x61, rm, 10, 1, 0), 4294967295.6, 0, &x, NULL, 0), NV);
        CU_ASSERT_EQUAL(x, 0x7fffffffULL); /* w */
    }
    /* fcvt.w.d: inexact alone; out of range NV alone; NaN NV */
    CU_ASSERT_EQUAL(run1_live(FP(0x61, 1, 10, 1, 0), 2.5, 0, &x, NULL, 0), NX);
    CU_ASSERT_EQUAL(x, 2);
    CU_ASSERT_EQUAL(run1_live(FP(0x61, 1, 10, 1, 0), 1e30, 0, &x, NULL, 0), NV);
    CU_ASSERT_EQUAL(x, 0x7fffffffULL);
    CU_ASSERT_EQUAL(run1_live(FP(0x61, 1, 10, 1, 2), 1e30, 0, &x, NULL, 0), NV); /* fcvt.l.d */
    CU_ASSERT_EQUAL(run1_live(FP(0x61, 7, 10, 1, 1), -0.5, 0, &x, NULL, 0), NX); /* wu, dyn RNE */
    CU_ASSERT_EQUAL(x, 0);
    CU_ASSERT_EQUAL(run1_live(FP(0x61, 1, 10, 1, 0), NAN, 0, &x, NULL, 0), NV);
    /* fcvt.d.s: exact; NV only for a signaling NaN */
    struct rig r;
    rig_fp(&r);
    r.h.f[4] = dbits(1.0);
    r.h.f[1] = sbox(1.5f);
    r.h.f[2] = 0xffffffff7fa00000ULL; /* a boxed single sNaN */
    emit32(&r, FP(0x01, 0, 3, 4, 4));
    emit32(&r, FP(0x21, 0, 10, 1, 0)); /* fcvt.d.s f10, f1 */
    emit32(&r, CSRRS(5, 0x001, 0));    /* x5 = fflags: none */
    emit32(&r, FP(0x21, 0, 11, 2, 0)); /* fcvt.d.s f11, f2 */
    emit32(&r, CSRRS(6, 0x001, 0));    /* x6 = fflags: NV */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.f[10], dbits(1.5));
    CU_ASSERT_EQUAL(r.h.x[5], 0);
    CU_ASSERT_EQUAL(r.h.x[6], NV);
    CU_ASSERT_EQUAL(r.h.f[11], 0x7ff8000000000000ULL);
    rig_destroy(&r);
}

static void test_fclass_classifies(void)
{
    uint64_t x;
    run1(FP(0x71, 1, 10, 1, 0), -INFINITY, 0, &x, NULL, 0);
    CU_ASSERT_EQUAL(x, 1 << 0);
    run1(FP(0x71, 1, 10, 1, 0), -1.0, 0, &x, NULL, 0);
    CU_ASSERT_EQUAL(x, 1 << 1);
    run1(FP(0x71, 1, 10, 1, 0), 0.0, 0, &x, NULL, 0);
    CU_ASSERT_EQUAL(x, 1 << 4);
    run1(FP(0x71, 1, 10, 1, 0), bitsd(1), 0, &x, NULL, 0);
    CU_ASSERT_EQUAL(x, 1 << 5);
    run1(FP(0x71, 1, 10, 1, 0), bitsd(0x7ff4000000000000ULL), 0, &x, NULL, 0);
    CU_ASSERT_EQUAL(x, 1 << 8);
    run1(FP(0x71, 1, 10, 1, 0), NAN, 0, &x, NULL, 0);
    CU_ASSERT_EQUAL(x, 1 << 9);
}

static void test_fused_multiply_add_variants(void)
{
    /* rs3 = f3 */
    uint32_t base = (3u << 27) | (1u << 25) | (2u << 20) | (1u << 15) | (10u << 7);
    static const uint32_t ops[4] = { 0x43, 0x47, 0x4b, 0x4f };
    static const double want[4] = { 7.0, 5.0, -5.0, -7.0 }; /* 2*3+1, 2*3-1, -(2*3)+1, -(2*3)-1 */
    for (int i = 0; i < 4; i++) {
        struct rig r;
        rig_fp(&r);
        r.h.f[1] = dbits(2.0);
        r.h.f[2] = dbits(3.0);
        r.h.f[3] = dbits(1.0);
        emit32(&r, base | ops[i]);
        emit_exit(&r);
        rig_run(&r);
        CU_ASSERT_EQUAL(r.h.f[10], dbits(want[i]));
        rig_destroy(&r);
    }
}

static void test_double_single_conversions(void)
{
    uint64_t f;
    /* fcvt.s.d rounds; fcvt.d.s is exact; NaN becomes canonical */
    CU_ASSERT_EQUAL(run1(FP(0x20, 1, 10, 1, 1), 1.0 + ldexp(1.0, -30), 0, NULL, &f, 0), NX);
    CU_ASSERT_EQUAL(f, sbox(1.0f));
    CU_ASSERT_EQUAL(run1(FP(0x20, 3, 10, 1, 1), 1.0 + ldexp(1.0, -30), 0, NULL, &f, 0), NX);
    CU_ASSERT_EQUAL(f, sbox(1.0f + 0x1p-23f));
    run1(FP(0x20, 0, 10, 1, 1), NAN, 0, NULL, &f, 0);
    CU_ASSERT_EQUAL(f, 0xffffffff7fc00000ULL);
    struct rig r;
    rig_fp(&r);
    r.h.f[1] = sbox(1.5f);
    emit32(&r, FP(0x21, 0, 10, 1, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.f[10], dbits(1.5));
    rig_destroy(&r);
}

static void test_fcsr_frm_fflags_csrs(void)
{
    struct rig r;
    rig_fp(&r);
    r.h.x[1] = 0xff;
    emit32(&r, CSRRW(0, 0x003, 1));  /* fcsr = 0xff: frm 7, fflags 0x1f */
    emit32(&r, CSRRS(2, 0x002, 0));  /* frm */
    emit32(&r, CSRRS(3, 0x001, 0));  /* fflags */
    emit32(&r, CSRRWI(4, 0x001, 0)); /* clear flags, x4 = old */
    emit32(&r, CSRRS(5, 0x003, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[2], 7);
    CU_ASSERT_EQUAL(r.h.x[3], 0x1f);
    CU_ASSERT_EQUAL(r.h.x[4], 0x1f);
    CU_ASSERT_EQUAL(r.h.x[5], 0xe0);
    rig_destroy(&r);
}

static void test_fp_with_fs_off_is_illegal(void)
{
    struct rig r;
    rig_init(&r);
    rv_cpu(&r.h)->mtvec = HANDLER;
    r.at = HANDLER;
    emit_exit(&r);
    r.at = RAM_BASE;
    emit32(&r, FP(0x01, 0, 10, 1, 2));
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_ILLEGAL);
    rig_destroy(&r);

    rig_init(&r);
    rv_cpu(&r.h)->mtvec = HANDLER;
    r.at = HANDLER;
    emit_exit(&r);
    r.at = RAM_BASE;
    emit32(&r, CSRRS(1, 0x003, 0)); /* fcsr too */
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_ILLEGAL);
    rig_destroy(&r);
}

static void test_reserved_rounding_mode_is_illegal(void)
{
    struct rig r;
    rig_fp(&r);
    emit32(&r, FP(0x01, 5, 10, 1, 2));
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_ILLEGAL);
    rig_destroy(&r);

    rig_fp(&r);
    rv_cpu(&r.h)->frm = 6; /* invalid dynamic mode */
    emit32(&r, FP(0x01, 7, 10, 1, 2));
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_ILLEGAL);
    rig_destroy(&r);
}

static void test_fld_fsd_round_trip_and_dirty_fs(void)
{
    struct rig r;
    rig_fp(&r);
    r.h.x[1] = RAM_BASE + 0x3000;
    put64(&r, RAM_BASE + 0x3000, dbits(6.25));
    emit32(&r, enc_i(0, 1, 3, 5, 0x07));  /* fld f5, 0(x1) */
    emit32(&r, enc_s(8, 5, 1, 3, 0x27));  /* fsd f5, 8(x1) */
    emit16(&r, 0x2586); /* c.fldsp f11, 64(sp) */
    r.h.x[2] = RAM_BASE + 0x3000 - 64;
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(get64(&r, RAM_BASE + 0x3008), dbits(6.25));
    CU_ASSERT_EQUAL(r.h.f[11], dbits(6.25));
    CU_ASSERT_EQUAL((rv_cpu(&r.h)->mstatus & MSTATUS_FS) >> MSTATUS_FS_SHIFT, 3);
    rig_destroy(&r);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "fcvt.w.d honours every rounding mode", test_fcvt_w_d_honours_every_rounding_mode },
        { "fcvt out of range and NaN saturate with NV", test_fcvt_out_of_range_and_nan_saturate_with_nv },
        { "int to float rounds by mode", test_int_to_float_rounds_by_mode },
        { "add rounds by mode including RMM", test_add_rounds_by_mode_including_rmm },
        { "single sub rounds ties away under RMM", test_single_sub_rounds_ties_away_under_rmm },
        { "singles must be NaN boxed", test_singles_must_be_nan_boxed },
        { "fmin/fmax follow the NaN and zero rules", test_fmin_fmax_follow_the_nan_and_zero_rules },
        { "arithmetic raises exact flags", test_arithmetic_raises_exact_flags },
        { "compares signal as specified", test_compares_signal_as_specified },
        { "self-flagging ops are exact while FP state is live", test_self_flagging_ops_are_exact_while_fp_state_is_live },
        { "fclass classifies", test_fclass_classifies },
        { "fused multiply-add variants", test_fused_multiply_add_variants },
        { "double/single conversions", test_double_single_conversions },
        { "fcsr frm fflags CSRs", test_fcsr_frm_fflags_csrs },
        { "FP with FS off is illegal", test_fp_with_fs_off_is_illegal },
        { "reserved rounding mode is illegal", test_reserved_rounding_mode_is_illegal },
        { "fld/fsd round trip and dirty FS", test_fld_fsd_round_trip_and_dirty_fs },
        { NULL, NULL },
    };
    return unit_main("rv_fpu", tests);
}
