/* F and D extensions on the host FPU.
 *
 * Arithmetic runs on the host (IEEE 754 binary32/binary64, as RISC-V) under
 * the guest's rounding mode (fesetround) and the host's exception flags
 * (fetestexcept) become fflags; both x86 SSE and RISC-V detect tininess
 * after rounding, so UF matches. Results that are NaN are replaced by the
 * canonical NaN. Comparisons, min/max, classification and conversions to
 * integers compute their flags themselves.
 *
 * On x86-64 the common case, round to nearest-even, touches MXCSR not per
 * instruction but per run of FP instructions: the first one saves the
 * host's MXCSR and loads a clean one (nearest, no flags); following ones
 * just compute, the flags they raise accumulating in MXCSR (they are
 * sticky, as fflags are); rv_fpu_sync() (at the end of rv_exec, before
 * fflags is read or written, and before an FP instruction that computes
 * its flags itself or needs another rounding mode) ORs them into fflags
 * and restores the host's MXCSR; also before MMIO device and SBI calls, so
 * that only guest instructions ever run in the guest's state (the
 * interpreter itself does no floating point).
 *
 * Translated code (jit/translate_fp.inc) runs F/D instructions inline on
 * the same live MXCSR and calls rv_fpu_exec() only for what it leaves to
 * it; rv_fpu_live() enters live mode for it.
 *
 * RMM (round to nearest, ties to max magnitude) has no host mode: it is
 * computed exactly for conversions and for add/sub/mul (from the exact
 * rounding error), and by nearest-even for the fused multiply-adds (they
 * differ only on an exact tie of the fused result).
 */
#include <fenv.h>
#include <math.h>
#include <string.h>

#include "backend/soft/cpu.h"

#define FFLAG_NX 0x01
#define FFLAG_UF 0x02
#define FFLAG_OF 0x04
#define FFLAG_DZ 0x08
#define FFLAG_NV 0x10

#define RM_RNE 0
#define RM_RTZ 1
#define RM_RDN 2
#define RM_RUP 3
#define RM_RMM 4

#define CANON_S 0x7fc00000u
#define CANON_D 0x7ff8000000000000ull
#define BOX 0xffffffff00000000ull

/* --- register access --- */

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float f32_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static inline double f64_of(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* A single is valid only when NaN-boxed; anything else reads as canonical NaN. */
static inline uint32_t rs_bits(const struct rv_hart *h, unsigned r)
{
    uint64_t v = h->f[r];
    return (v >> 32) == 0xffffffffu ? (uint32_t)v : CANON_S;
}

static inline float rs(const struct rv_hart *h, unsigned r)
{
    return f32_of(rs_bits(h, r));
}

static inline double rd_(const struct rv_hart *h, unsigned r)
{
    return f64_of(h->f[r]);
}

static inline void ws_bits(struct rv_hart *h, unsigned r, uint32_t v)
{
    h->f[r] = BOX | v;
}

static inline void ws(struct rv_hart *h, unsigned r, float f)
{
    ws_bits(h, r, isnan(f) ? CANON_S : f32_bits(f));
}

static inline void wd(struct rv_hart *h, unsigned r, double d)
{
    h->f[r] = isnan(d) ? CANON_D : f64_bits(d);
}

static inline int snan_s(uint32_t u)
{
    return (u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) && !(u & 0x00400000u);
}

static inline int snan_d(uint64_t u)
{
    return (u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (u & 0x000fffffffffffffull) &&
           !(u & 0x0008000000000000ull);
}

/* --- host rounding and flags --- */

#if defined(__x86_64__) && defined(__SSE2_MATH__)
/* x86-64: guest FP runs on SSE, so MXCSR alone holds the rounding mode and
 * the flags; reading and writing it directly is far cheaper than fenv. */
#define MXCSR_FLAGS 0x3f
#define MXCSR_RC_SHIFT 13
#define FP_LIVE (~0u) /* fp_begin_raw's answer in live (accumulating) mode */
static const unsigned mxcsr_round[5] = { 0, 3, 1, 2, 0 }; /* RNE RTZ RDN RUP RMM->RNE */

static inline uint32_t mxcsr_fflags(unsigned now)
{
    uint32_t f = 0;
    if (now & 0x01)
        f |= FFLAG_NV;
    if (now & 0x04)
        f |= FFLAG_DZ;
    if (now & 0x08)
        f |= FFLAG_OF;
    if (now & 0x10)
        f |= FFLAG_UF;
    if (now & 0x20)
        f |= FFLAG_NX;
    return f;
}

void rv_fpu_sync_slow(struct rv_cpu *c)
{
    unsigned now = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr(c->host_mxcsr);
    c->fflags |= mxcsr_fflags(now);
    c->fp_live = 0;
}

static inline unsigned fp_begin_raw(struct rv_cpu *c, int rm)
{
    if (rm == RM_RNE) {
        if (!c->fp_live) {
            unsigned host = __builtin_ia32_stmxcsr();
            c->host_mxcsr = host;
            __builtin_ia32_ldmxcsr(host & ~(MXCSR_FLAGS | (3u << MXCSR_RC_SHIFT)));
            c->fp_live = 1;
        }
        return FP_LIVE;
    }
    rv_fpu_sync(c);
    unsigned saved = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr((saved & ~(MXCSR_FLAGS | (3u << MXCSR_RC_SHIFT))) |
                           mxcsr_round[rm] << MXCSR_RC_SHIFT);
    return saved;
}

static inline uint32_t fp_end_raw(unsigned saved)
{
    if (saved == FP_LIVE)
        return 0; /* the flags stay in MXCSR until rv_fpu_sync */
    unsigned now = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr(saved);
    return mxcsr_fflags(now);
}
#else
void rv_fpu_sync_slow(struct rv_cpu *c)
{
    c->fp_live = 0; /* never set: every operation brackets itself */
}

static const int host_round[5] = { FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD,
                                   FE_TONEAREST };

static inline unsigned fp_begin_raw(struct rv_cpu *c, int rm)
{
    (void)c;
    feclearexcept(FE_ALL_EXCEPT);
    fesetround(host_round[rm]);
    return 0;
}

static inline uint32_t fp_end_raw(unsigned saved)
{
    (void)saved;
    int e = fetestexcept(FE_ALL_EXCEPT);
    fesetround(FE_TONEAREST);
    uint32_t f = 0;
    if (e & FE_INVALID)
        f |= FFLAG_NV;
    if (e & FE_DIVBYZERO)
        f |= FFLAG_DZ;
    if (e & FE_OVERFLOW)
        f |= FFLAG_OF;
    if (e & FE_UNDERFLOW)
        f |= FFLAG_UF;
    if (e & FE_INEXACT)
        f |= FFLAG_NX;
    return f;
}
#endif

/* For translated code (jit/translate_fp.inc): puts the host FPU in the
 * guest's state, as the first round-to-nearest operation of a run does,
 * so that the inline SSE code after it computes exactly what this file
 * would. Returns whether it is (never on hosts without the live mode). */
int rv_fpu_live(struct rv_cpu *c)
{
#if defined(__x86_64__) && defined(__SSE2_MATH__)
    fp_begin_raw(c, RM_RNE);
    return 1;
#else
    (void)c;
    return 0;
#endif
}

/* Brackets one host operation: the guest rounding mode in force, the
 * host's exception flags collected into fflags. */
#define fp_begin(rm) unsigned fp_saved_ = fp_begin_raw(c, rm)
#define fp_end(c, rm) ((c)->fflags |= fp_end_raw(fp_saved_))

/* RMM from a nearest-even result r and the exact error err = exact - r:
 * they differ only on a tie that nearest-even resolved toward zero. */
#define RMM_FIX(T, NEXT, INF, r, err)                                                  \
    do {                                                                               \
        if ((err) != 0 && !isnan(r) && !isinf(r) && !signbit(err) == !signbit(r)) {   \
            T mag_ = (r) < 0 ? -(r) : (r);                                             \
            T up_ = NEXT(mag_, INF);                                                   \
            T e_ = (err) < 0 ? -(err) : (err);                                         \
            if (e_ * 2 == up_ - mag_)                                                  \
                (r) = (r) < 0 ? -up_ : up_;                                            \
        }                                                                              \
    } while (0)

/* --- arithmetic --- */

enum arith { A_ADD, A_SUB, A_MUL, A_DIV, A_SQRT };

static float arith_s(struct rv_cpu *c, enum arith op, float a, float b, int rm)
{
    volatile float va = a, vb = b;
    volatile float r;
    fp_begin(rm);
    switch (op) {
    case A_ADD: r = va + vb; break;
    case A_SUB: r = va - vb; break;
    case A_MUL: r = va * vb; break;
    case A_DIV: r = va / vb; break;
    default: r = sqrtf(va); break;
    }
    fp_end(c, rm);
    float res = r;
    if (rm == RM_RMM && (op == A_ADD || op == A_SUB || op == A_MUL)) {
        /* float products are exact in double; sums by TwoSum in double */
        double exact_err;
        if (op == A_MUL)
            exact_err = (double)a * (double)b - (double)res;
        else {
            float bb = op == A_SUB ? -b : b;
            float s = res, bv = s - a, av = s - bv;
            exact_err = (double)((a - av) + (bb - bv));
        }
        float before = res;
        RMM_FIX(float, nextafterf, INFINITY, res, exact_err);
        if (isinf(res) && !isinf(before))
            c->fflags |= FFLAG_OF | FFLAG_NX;
    }
    return res;
}

static double arith_d(struct rv_cpu *c, enum arith op, double a, double b, int rm)
{
    volatile double va = a, vb = b;
    volatile double r;
    fp_begin(rm);
    switch (op) {
    case A_ADD: r = va + vb; break;
    case A_SUB: r = va - vb; break;
    case A_MUL: r = va * vb; break;
    case A_DIV: r = va / vb; break;
    default: r = sqrt(va); break;
    }
    fp_end(c, rm);
    double res = r;
    if (rm == RM_RMM && (op == A_ADD || op == A_SUB || op == A_MUL)) {
        double err;
        if (op == A_MUL)
            err = fma(a, b, -res);
        else {
            double bb = op == A_SUB ? -b : b;
            double bv = res - a, av = res - bv;
            err = (a - av) + (bb - bv);
        }
        double before = res;
        RMM_FIX(double, nextafter, INFINITY, res, err);
        if (isinf(res) && !isinf(before))
            c->fflags |= FFLAG_OF | FFLAG_NX;
    }
    return res;
}

static float fma_s(struct rv_cpu *c, float a, float b, float d, int rm)
{
    volatile float va = a, vb = b, vd = d;
    volatile float r;
    fp_begin(rm);
    r = fmaf(va, vb, vd);
    fp_end(c, rm);
    if ((isinf(a) && b == 0) || (a == 0 && isinf(b)))
        c->fflags |= FFLAG_NV;
    return r;
}

static double fma_d(struct rv_cpu *c, double a, double b, double d, int rm)
{
    volatile double va = a, vb = b, vd = d;
    volatile double r;
    fp_begin(rm);
    r = fma(va, vb, vd);
    fp_end(c, rm);
    if ((isinf(a) && b == 0) || (a == 0 && isinf(b)))
        c->fflags |= FFLAG_NV;
    return r;
}

/* --- conversions to integers (flags computed here) ---
 *
 * Flags computed here: comparisons, min/max, fcvt.d.s and the conversions
 * to integers set fflags themselves, and run without rv_fpu_sync() even
 * while the guest's MXCSR is live (its flags accumulating), because every
 * flag the host raises on their way is one RISC-V raises too: the NaN
 * tests (ucomis) raise invalid only for a signaling NaN, which makes all of
 * them NV; the ordered compares (comis) and conversions run only on
 * numbers; the rounding to an integer (round_rm) and the final integer
 * conversion are exact. (The denormal
 * flag has no fflags bit.) A sync costs two MXCSR writes, and the next
 * arithmetic two more: a compare in an FP loop paid four. */

/* x truncated toward zero, by its bits: no host operation, so no flag
 * (glibc's floor, ceil, trunc and round may raise inexact, which an
 * invalid conversion must not add to NV). */
static double trunc_quiet(double x)
{
    uint64_t u = f64_bits(x);
    int e = (int)((u >> 52) & 0x7ff) - 1023;
    if (e >= 52)
        return x; /* an integer already (or inf / NaN) */
    if (e < 0)
        return f64_of(u & (1ULL << 63)); /* +-0 */
    return f64_of(u & ~((1ULL << (52 - e)) - 1));
}

/* x rounded to an integer by rm; raises nothing: every operation below is
 * exact (x minus its integer part, that part plus or minus 1 below 2^52). */
static double round_rm(double x, int rm)
{
    double t = trunc_quiet(x);
    if (t == x)
        return x; /* (inf too: x - t would be NaN) */
    double frac = x - t, one = signbit(x) ? -1.0 : 1.0, a = fabs(frac);
    switch (rm) {
    case RM_RTZ: return t;
    case RM_RDN: return frac < 0 ? t - 1.0 : t;
    case RM_RUP: return frac > 0 ? t + 1.0 : t;
    case RM_RMM: return a >= 0.5 ? t + one : t;
    default: return a > 0.5 || (a == 0.5 && fmod(t, 2.0) != 0) ? t + one : t;
    }
}

/* x (exact, as double) to a `bits`-wide signed or unsigned integer. */
static uint64_t cvt_to_int(struct rv_cpu *c, double x, int rm, int bits, int is_unsigned)
{
    uint64_t maxv = is_unsigned ? (bits == 64 ? ~0ULL : (1ULL << bits) - 1)
                                : (1ULL << (bits - 1)) - 1;
    uint64_t minv = is_unsigned ? 0 : ~((1ULL << (bits - 1)) - 1); /* -2^(bits-1) */
    if (isnan(x)) {
        c->fflags |= FFLAG_NV;
        return maxv;
    }
    double r = round_rm(x, rm);
    double lim = ldexp(1.0, is_unsigned ? bits : bits - 1); /* first value out of range */
    if (r >= lim) {
        c->fflags |= FFLAG_NV;
        return maxv;
    }
    if (is_unsigned ? (r < 0) : (r < -lim)) {
        c->fflags |= FFLAG_NV;
        return minv;
    }
    if (r != x)
        c->fflags |= FFLAG_NX;
    if (is_unsigned)
        return (uint64_t)r;
    return (uint64_t)(int64_t)r;
}

static uint64_t sext32(uint64_t v)
{
    return (uint64_t)(int64_t)(int32_t)(uint32_t)v;
}

/* --- conversions from integers --- */

/* Converts integer v (signed value `s` or unsigned `u`) with rounding rm. */
static double cvt_from_int_d(struct rv_cpu *c, int is_unsigned, int64_t s, uint64_t u, int rm)
{
    volatile int64_t vs = s;
    volatile uint64_t vu = u;
    volatile double r;
    int hrm = rm == RM_RMM ? RM_RTZ : rm;
    fp_begin(hrm);
    r = is_unsigned ? (double)vu : (double)vs;
    fp_end(c, hrm);
    double res = r;
    if (rm == RM_RMM) {
        __int128 exact = is_unsigned ? (__int128)u : (__int128)s;
        __int128 t = (__int128)res; /* |t| <= |exact|: truncated toward zero */
        if (t != exact) {
            double away = nextafter(res, exact < 0 ? -INFINITY : INFINITY);
            __int128 a = (__int128)away;
            __int128 d1 = exact - t, d2 = a - exact;
            if (d1 < 0) {
                d1 = -d1;
                d2 = -d2;
            }
            if (d2 <= d1)
                res = away;
        }
    }
    return res;
}

static float cvt_from_int_s(struct rv_cpu *c, int is_unsigned, int64_t s, uint64_t u, int rm)
{
    volatile int64_t vs = s;
    volatile uint64_t vu = u;
    volatile float r;
    int hrm = rm == RM_RMM ? RM_RTZ : rm;
    fp_begin(hrm);
    r = is_unsigned ? (float)vu : (float)vs;
    fp_end(c, hrm);
    float res = r;
    if (rm == RM_RMM) {
        __int128 exact = is_unsigned ? (__int128)u : (__int128)s;
        __int128 t = (__int128)res;
        if (t != exact) {
            float away = nextafterf(res, exact < 0 ? -INFINITY : INFINITY);
            __int128 a = (__int128)away;
            __int128 d1 = exact - t, d2 = a - exact;
            if (d1 < 0) {
                d1 = -d1;
                d2 = -d2;
            }
            if (d2 <= d1)
                res = away;
        }
    }
    return res;
}

/* double -> float with rounding (RMM from the exact error). */
static float d_to_s(struct rv_cpu *c, double x, int rm)
{
    volatile double vx = x;
    volatile float r;
    fp_begin(rm);
    r = (float)vx;
    fp_end(c, rm);
    float res = r;
    if (rm == RM_RMM && !isnan(x) && !isinf(res)) {
        double err = x - (double)res; /* exact: within float's spacing */
        float before = res;
        RMM_FIX(float, nextafterf, INFINITY, res, err);
        if (isinf(res) && !isinf(before))
            c->fflags |= FFLAG_OF | FFLAG_NX;
    }
    return res;
}

/* --- min / max / compare / classify --- */

static uint64_t minmax_d(struct rv_cpu *c, uint64_t a, uint64_t b, int is_max)
{
    double x = f64_of(a), y = f64_of(b);
    if (snan_d(a) || snan_d(b))
        c->fflags |= FFLAG_NV;
    if (isnan(x) && isnan(y))
        return CANON_D;
    if (isnan(x))
        return b;
    if (isnan(y))
        return a;
    if (x == y) /* equal, or +0 and -0: -0 is the smaller */
        return is_max ? (a & b) : (a | b);
    return (is_max ? x > y : x < y) ? a : b;
}

static uint32_t minmax_s(struct rv_cpu *c, uint32_t a, uint32_t b, int is_max)
{
    float x = f32_of(a), y = f32_of(b);
    if (snan_s(a) || snan_s(b))
        c->fflags |= FFLAG_NV;
    if (isnan(x) && isnan(y))
        return CANON_S;
    if (isnan(x))
        return b;
    if (isnan(y))
        return a;
    if (x == y)
        return is_max ? (a & b) : (a | b);
    return (is_max ? x > y : x < y) ? a : b;
}

/* cmp: 0 fle, 1 flt, 2 feq. */
static uint64_t compare(struct rv_cpu *c, double x, double y, int sx, int sy, int cmp)
{
    if (isnan(x) || isnan(y)) {
        if (cmp != 2 || sx || sy)
            c->fflags |= FFLAG_NV;
        return 0;
    }
    return cmp == 0 ? x <= y : cmp == 1 ? x < y : x == y;
}

static uint64_t classify(int neg, int is_inf, int is_zero, int is_sub, int is_nan, int is_snan)
{
    if (is_nan)
        return is_snan ? 1u << 8 : 1u << 9;
    if (is_inf)
        return neg ? 1u << 0 : 1u << 7;
    if (is_zero)
        return neg ? 1u << 3 : 1u << 4;
    if (is_sub)
        return neg ? 1u << 2 : 1u << 5;
    return neg ? 1u << 1 : 1u << 6;
}

static uint64_t fclass_s(uint32_t u)
{
    uint32_t e = (u >> 23) & 0xff, m = u & 0x7fffff;
    return classify(u >> 31, e == 0xff && !m, e == 0 && !m, e == 0 && m, e == 0xff && m, snan_s(u));
}

static uint64_t fclass_d(uint64_t u)
{
    uint64_t e = (u >> 52) & 0x7ff, m = u & 0xfffffffffffffull;
    return classify((int)(u >> 63), e == 0x7ff && !m, e == 0 && !m, e == 0 && m, e == 0x7ff && m,
                    snan_d(u));
}

/* --- the instruction --- */

enum rv_res rv_fpu_exec(struct rv_hart *h, const struct rv_insn *in)
{
    struct rv_cpu *c = rv_cpu(h);
    uint32_t raw = rv_insn_bits(in);
    unsigned opc = raw & 0x7f, f7 = raw >> 25, rm = (raw >> 12) & 7;
    unsigned rd = in->rd, r1 = in->rs1, r2 = in->rs2, r3 = raw >> 27;
    int dyn = rm == 7 ? (int)c->frm : (int)rm; /* rounding for ops that round */

    if (!(c->mstatus & MSTATUS_FS))
        return rv_illegal(h);

    if (opc != 0x53) { /* fused multiply-add family */
        unsigned fmt = (raw >> 25) & 3;
        if (fmt > 1 || dyn > 4)
            return rv_illegal(h);
        int neg_prod = opc == 0x4b || opc == 0x4f, neg_add = opc == 0x47 || opc == 0x4f;
        if (fmt == 0) {
            float a = rs(h, r1), b = rs(h, r2), d = rs(h, r3);
            ws(h, rd, fma_s(c, neg_prod ? -a : a, b, neg_add ? -d : d, dyn));
        } else {
            double a = rd_(h, r1), b = rd_(h, r2), d = rd_(h, r3);
            wd(h, rd, fma_d(c, neg_prod ? -a : a, b, neg_add ? -d : d, dyn));
        }
        rv_fs_dirty(c);
        return RV_RES_OK;
    }

    int is_d = f7 & 1;
    switch (f7) {
    case 0x00: case 0x01: case 0x04: case 0x05: case 0x08: case 0x09: case 0x0c: case 0x0d:
    case 0x2c: case 0x2d: {
        static const enum arith ops[] = { A_ADD, A_SUB, A_MUL, A_DIV };
        enum arith op = f7 >= 0x2c ? A_SQRT : ops[f7 >> 2];
        if (dyn > 4 || (op == A_SQRT && r2 != 0))
            return rv_illegal(h);
        if (is_d)
            wd(h, rd, arith_d(c, op, rd_(h, r1), rd_(h, r2), dyn));
        else
            ws(h, rd, arith_s(c, op, rs(h, r1), rs(h, r2), dyn));
        break;
    }
    case 0x10: case 0x11: { /* fsgnj, fsgnjn, fsgnjx */
        if (rm > 2)
            return rv_illegal(h);
        if (is_d) {
            uint64_t a = h->f[r1], b = h->f[r2], sign = 1ULL << 63;
            uint64_t s = rm == 0 ? (b & sign) : rm == 1 ? (~b & sign) : ((a ^ b) & sign);
            h->f[rd] = (a & ~sign) | s;
        } else {
            uint32_t a = rs_bits(h, r1), b = rs_bits(h, r2), sign = 1u << 31;
            uint32_t s = rm == 0 ? (b & sign) : rm == 1 ? (~b & sign) : ((a ^ b) & sign);
            ws_bits(h, rd, (a & ~sign) | s);
        }
        break;
    }
    case 0x14: case 0x15:
        if (rm > 1)
            return rv_illegal(h);
        if (is_d) /* no sync: see "Flags computed here" above */
            h->f[rd] = minmax_d(c, h->f[r1], h->f[r2], rm);
        else
            ws_bits(h, rd, minmax_s(c, rs_bits(h, r1), rs_bits(h, r2), rm));
        break;
    case 0x20: /* fcvt.s.d */
        if (r2 != 1 || dyn > 4)
            return rv_illegal(h);
        ws(h, rd, d_to_s(c, rd_(h, r1), dyn));
        break;
    case 0x21: { /* fcvt.d.s: exact */
        if (r2 != 0)
            return rv_illegal(h);
        uint32_t a = rs_bits(h, r1);
        if (snan_s(a))
            c->fflags |= FFLAG_NV;
        wd(h, rd, (double)f32_of(a));
        break;
    }
    case 0x50: case 0x51: {
        if (rm > 2)
            return rv_illegal(h);
        uint64_t v;
        if (is_d)
            v = compare(c, rd_(h, r1), rd_(h, r2), snan_d(h->f[r1]), snan_d(h->f[r2]), (int)rm);
        else
            v = compare(c, rs(h, r1), rs(h, r2), snan_s(rs_bits(h, r1)), snan_s(rs_bits(h, r2)),
                        (int)rm);
        if (rd)
            h->x[rd] = v;
        break; /* NV may have been raised */
    }
    case 0x60: case 0x61: { /* fcvt.{w,wu,l,lu}.{s,d} */
        if (r2 > 3 || dyn > 4)
            return rv_illegal(h);
        double x = is_d ? rd_(h, r1) : (double)rs(h, r1);
        int bits = r2 < 2 ? 32 : 64, uns = r2 & 1;
        uint64_t v = cvt_to_int(c, x, dyn, bits, uns);
        if (bits == 32)
            v = sext32(v);
        if (rd)
            h->x[rd] = v;
        break; /* fflags may have changed */
    }
    case 0x68: case 0x69: { /* fcvt.{s,d}.{w,wu,l,lu} */
        if (r2 > 3 || dyn > 4)
            return rv_illegal(h);
        uint64_t x = h->x[r1];
        int64_t s = r2 == 0 ? (int64_t)(int32_t)x : (int64_t)x;
        uint64_t u = r2 == 1 ? (uint32_t)x : x;
        int uns = r2 & 1;
        if (is_d)
            wd(h, rd, cvt_from_int_d(c, uns, s, u, dyn));
        else
            ws(h, rd, cvt_from_int_s(c, uns, s, u, dyn));
        break;
    }
    case 0x70: case 0x71:
        if (r2 != 0 || rm > 1)
            return rv_illegal(h);
        if (rd) {
            if (rm == 0)
                h->x[rd] = is_d ? h->f[r1] : sext32(h->f[r1]);
            else
                h->x[rd] = is_d ? fclass_d(h->f[r1]) : fclass_s(rs_bits(h, r1));
        }
        return RV_RES_OK; /* writes no FP state */
    case 0x78: /* fmv.w.x */
        if (r2 != 0 || rm != 0)
            return rv_illegal(h);
        ws_bits(h, rd, (uint32_t)h->x[r1]);
        break;
    case 0x79: /* fmv.d.x */
        if (r2 != 0 || rm != 0)
            return rv_illegal(h);
        h->f[rd] = h->x[r1];
        break;
    default:
        return rv_illegal(h);
    }
    rv_fs_dirty(c);
    return RV_RES_OK;
}
