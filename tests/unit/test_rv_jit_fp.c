/* The translator's native F/D code (jit/translate_fp.inc) against the
 * interpreter, which runs every F/D instruction through fpu.c: each
 * instruction with operands chosen at the edges (NaNs quiet and
 * signalling, singles not NaN-boxed, +-0, infinities, subnormals,
 * overflow, integer limits of every conversion, exact ties) must leave the
 * same registers and the same fflags. Each case runs where the inline
 * path is taken (a warm-up instruction first puts the host FPU in the
 * guest's state, in a run of its own), and the translator's count of fpu.c
 * calls shows whether it was: numbers the host handles as RISC-V does
 * must stay inline, so these cases test the emitted code, not fpu.c.
 * Plus: fused multiply-adds under every rounding mode (static and
 * dynamic), and a change of frm between two passes of one translated
 * block.
 */
#include <math.h>
#include <stdio.h>

#include "rv_rig.h"

#include "backend/soft/jit/jit.h"

#define FMA_OP(opc, fmt, rm, rd, rs1, rs2, rs3)                                                    \
    ((uint32_t)(rs3) << 27 | (uint32_t)(fmt) << 25 | (uint32_t)(rs2) << 20 | (uint32_t)(rs1) << 15 | \
     (uint32_t)(rm) << 12 | (uint32_t)(rd) << 7 | (uint32_t)(opc))
/* (a constant expression, for the tables) */
#define FPI(f7, rm, rd, rs1, rs2)                                                                  \
    ((uint32_t)(f7) << 25 | (uint32_t)(rs2) << 20 | (uint32_t)(rs1) << 15 | (uint32_t)(rm) << 12 | \
     (uint32_t)(rd) << 7 | 0x53u)
#define FADD_D(rd, rs1, rs2) FPI(0x01, 7, rd, rs1, rs2)
#define FFLAGS 0x001
#define FRM 0x002

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static uint64_t sbox(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return 0xffffffff00000000ULL | u;
}

#define QNAN_D 0x7ff8000000000000ULL
#define SNAN_D 0x7ff0000000000001ULL
#define QNAN_S 0xffffffff7fc00000ULL
#define SNAN_S 0xffffffff7f800001ULL
#define UNBOXED 0x123456783f800000ULL /* 1.0f, but not NaN-boxed */

struct fp_out {
    uint64_t x[32], f[32];
    uint32_t fflags;
    uint64_t fp_calls;
};

/* Runs, on one engine: fflags cleared, a warm-up fadd.d (its own run of
 * native instructions: a nop follows), then `code`, then fflags read.
 * f1..f3 and x1 are the operands, f31 = 0 for the warm-up. */
static void fp_run(int jit, const uint32_t *code, unsigned n, const uint64_t f[3], uint64_t x1,
                   unsigned frm, struct fp_out *out)
{
    static struct rig r;
    rig_init(&r);
    r.h.jit = jit ? 2 : 0;
    rv_cpu(&r.h)->mstatus |= 3ULL << MSTATUS_FS_SHIFT;
    rv_cpu(&r.h)->frm = frm;
    for (int i = 0; i < 3; i++)
        r.h.f[1 + i] = f[i];
    r.h.f[31] = 0;
    r.h.x[1] = x1;
    r.h.x[10] = 0x5555; /* results land here: a stale value shows */
    emit32(&r, CSRRW(0, FFLAGS, 0));
    emit32(&r, FADD_D(31, 31, 31));
    emit32(&r, ADDI(0, 0, 0));
    for (unsigned i = 0; i < n; i++)
        emit32(&r, code[i]);
    emit32(&r, CSRRS(20, FFLAGS, 0));
    emit_exit(&r);
    rig_run(&r);
    memcpy(out->x, r.h.x, sizeof(out->x));
    memcpy(out->f, r.h.f, sizeof(out->f));
    out->fflags = rv_cpu(&r.h)->fflags;
    out->fp_calls = 0;
    if (jit && rv_jit_supported()) {
        struct rv_jit_stats st;
        rv_jit_get_stats(&r.h, &st);
        out->fp_calls = st.fp_calls;
    }
    rig_destroy(&r);
}

/* Both engines; 0 when they agree (else prints what differs). *calls:
 * fpu.c calls on the translator besides the warm-up's. */
static int fp_both(const uint32_t *code, unsigned n, const uint64_t f[3], uint64_t x1,
                   unsigned frm, uint64_t *calls)
{
    static struct fp_out a, b;
    fp_run(0, code, n, f, x1, frm, &a);
    fp_run(1, code, n, f, x1, frm, &b);
    *calls = b.fp_calls ? b.fp_calls - 1 : 0;
    int bad = 0;
    for (int i = 0; i < 32; i++)
        if (a.x[i] != b.x[i] || a.f[i] != b.f[i])
            bad = 1;
    if (a.fflags != b.fflags || a.x[20] != b.x[20])
        bad = 1;
    if (bad) {
        fprintf(stderr, "  %08x f1 %#llx f2 %#llx f3 %#llx x1 %#llx frm %u:", code[0],
                (unsigned long long)f[0], (unsigned long long)f[1], (unsigned long long)f[2],
                (unsigned long long)x1, frm);
        for (int i = 0; i < 32; i++) {
            if (a.x[i] != b.x[i])
                fprintf(stderr, " x%d %#llx vs %#llx", i, (unsigned long long)a.x[i],
                        (unsigned long long)b.x[i]);
            if (a.f[i] != b.f[i])
                fprintf(stderr, " f%d %#llx vs %#llx", i, (unsigned long long)a.f[i],
                        (unsigned long long)b.f[i]);
        }
        fprintf(stderr, " fflags %#x vs %#x\n", a.fflags, b.fflags);
    }
    return bad;
}

/* Every instruction with native code, rm = dynamic (frm = RNE) where it
 * rounds; results to f4 / x10. */
static const uint32_t native_ops[] = {
    FPI(0x01, 7, 4, 1, 2), FPI(0x05, 7, 4, 1, 2), FPI(0x09, 7, 4, 1, 2), FPI(0x0d, 7, 4, 1, 2),
    FPI(0x00, 7, 4, 1, 2), FPI(0x04, 7, 4, 1, 2), FPI(0x08, 7, 4, 1, 2), FPI(0x0c, 0, 4, 1, 2),
    FPI(0x2d, 7, 4, 1, 0), FPI(0x2c, 0, 4, 1, 0),                     /* fsqrt.d, fsqrt.s */
    FPI(0x11, 0, 4, 1, 2), FPI(0x11, 1, 4, 1, 2), FPI(0x11, 2, 4, 1, 2), /* fsgnj*.d */
    FPI(0x10, 0, 4, 1, 2), FPI(0x10, 1, 4, 1, 2), FPI(0x10, 2, 4, 1, 2), /* fsgnj*.s */
    FPI(0x15, 0, 4, 1, 2), FPI(0x15, 1, 4, 1, 2), FPI(0x14, 0, 4, 1, 2), FPI(0x14, 1, 4, 1, 2),
    FPI(0x20, 7, 4, 1, 1), FPI(0x21, 0, 4, 1, 0),                     /* fcvt.s.d, fcvt.d.s */
    FPI(0x51, 2, 10, 1, 2), FPI(0x51, 1, 10, 1, 2), FPI(0x51, 0, 10, 1, 2), /* feq flt fle .d */
    FPI(0x50, 2, 10, 1, 2), FPI(0x50, 1, 10, 1, 2), FPI(0x50, 0, 10, 1, 2),
    FPI(0x61, 7, 10, 1, 0), FPI(0x61, 1, 10, 1, 0), FPI(0x61, 7, 10, 1, 1), FPI(0x61, 1, 10, 1, 1),
    FPI(0x61, 7, 10, 1, 2), FPI(0x61, 1, 10, 1, 2), FPI(0x61, 0, 10, 1, 3), FPI(0x61, 1, 10, 1, 3),
    FPI(0x60, 7, 10, 1, 0), FPI(0x60, 1, 10, 1, 1), FPI(0x60, 1, 10, 1, 2), FPI(0x60, 7, 10, 1, 3),
    FPI(0x69, 7, 4, 1, 0), FPI(0x69, 7, 4, 1, 1), FPI(0x69, 7, 4, 1, 2), FPI(0x69, 7, 4, 1, 3),
    FPI(0x68, 7, 4, 1, 0), FPI(0x68, 7, 4, 1, 1), FPI(0x68, 7, 4, 1, 2), FPI(0x68, 0, 4, 1, 3),
    FPI(0x70, 0, 10, 1, 0), FPI(0x71, 0, 10, 1, 0), FPI(0x78, 0, 4, 1, 0), FPI(0x79, 0, 4, 1, 0),
    FMA_OP(0x43, 1, 7, 4, 1, 2, 3), FMA_OP(0x47, 1, 7, 4, 1, 2, 3), FMA_OP(0x4b, 1, 7, 4, 1, 2, 3),
    FMA_OP(0x4f, 1, 7, 4, 1, 2, 3), FMA_OP(0x43, 0, 7, 4, 1, 2, 3), FMA_OP(0x47, 0, 0, 4, 1, 2, 3),
    FMA_OP(0x4b, 0, 7, 4, 1, 2, 3), FMA_OP(0x4f, 0, 7, 4, 1, 2, 3),
    FPI(0x51, 2, 0, 1, 2), FPI(0x61, 1, 0, 1, 2), /* to x0: nothing written */
};

/* Operands of the usual kind (finite, boxed, conversions in range): the
 * host computes them as RISC-V does, so they must not go to fpu.c. */
static const struct {
    double a, b, c;
    uint64_t x1;
} plain[] = {
    { 1.5, 2.25, -0.75, 7 },                 /* exact */
    { 1.0 / 3.0, 3.0, 1e-3, (uint64_t)-5 }, /* inexact */
    { -2.5, 0.1, 10.0, 0x7fffffff },
    { 1e300, 1e10, 1.0, 1ULL << 62 },        /* overflow */
    { 1e-300, 1e-20, 0.0, 12345678901ULL },  /* underflow */
    { 5.0, 0.0, 2.0, 3 },                    /* divide by zero */
    { 0.0, -0.0, -0.0, 0 },                  /* signed zeros */
    { -0.0, 0.0, 0.0, (uint64_t)-1LL >> 1 },
    { 2147483647.4, 2147483647.6, 1.0, 0xffffffff },
    { -2147483648.4, -0.4, -0.6, 0x80000000 },
    { 4294967295.4, 0.5, 2.5, 1 },
    { 3.5, 2.5, -3.5, 2 },                   /* ties */
    { 4.9406564584124654e-324, 1.0, 0.5, 9 }, /* subnormal */
};

/* Operands the inline code must hand to fpu.c, or get right at the edges. */
static const uint64_t special[][3] = {
    { QNAN_D, 1, 0x3ff0000000000000ULL },
    { SNAN_D, 0x3ff0000000000000ULL, 0 },
    { 0x7ff0000000000000ULL, 0, 0x3ff0000000000000ULL }, /* inf * 0 */
    { 0xfff0000000000000ULL, 0x7ff0000000000000ULL, 0 },  /* -inf, inf */
    { 0xbff0000000000000ULL, 0, 0 },                      /* -1: sqrt, unsigned */
    { 0x43e0000000000000ULL, 0xc3e0000000000000ULL, 0 }, /* 2^63, -2^63 */
    { 0x41f0000000000000ULL, 0x41effffffff00000ULL, 0 }, /* 2^32, 2^32 - 0.5 */
    { 0xbfe0000000000000ULL, 0xbfe0000000000001ULL, 0 }, /* -0.5, below */
    { 0xc1e0000000100000ULL, 0x41dfffffffffffffULL, 0 }, /* around -2^31, 2^31 */
    { QNAN_S, SNAN_S, UNBOXED },
    { UNBOXED, 0xffffffff3f800000ULL, QNAN_S },
    { SNAN_S, 0xffffffff00000000ULL, 0xffffffff80000000ULL }, /* +0.0f, -0.0f */
    { 0xffffffff7f800000ULL, 0xffffffff00000000ULL, UNBOXED }, /* inf, +0 */
};

static const uint64_t special_x[] = { 0x8000000000000000ULL, 0xffffffffffffffffULL, 0x80000000,
                                      0xffffffff80000000ULL, 1ULL << 53 | 1 };

/* Whether instruction insn on plain operand set k (as singles or not)
 * has only operands and a result the host handles as RISC-V: the first
 * three sets, in the instruction's own width, except a square root or an
 * unsigned conversion of the negative a of set 2 and an unsigned 64-bit
 * conversion of the negative x1 of set 1. */
static int expect_inline(uint32_t insn, unsigned k, int single)
{
    unsigned f7 = insn >> 25, r2 = (insn >> 20) & 31;
    int reads_single;
    if ((insn & 0x7f) != 0x53)
        reads_single = !((insn >> 25) & 1);
    else if (f7 >= 0x68)
        reads_single = single; /* (no FP operand) */
    else
        reads_single = f7 == 0x21 || ((f7 & 1) == 0 && f7 != 0x20);
    if (k >= 3 || reads_single != single)
        return 0;
    if (k == 2 && (f7 == 0x2c || f7 == 0x2d || ((f7 == 0x60 || f7 == 0x61) && (r2 & 1))))
        return 0;
    if (k == 1 && (f7 == 0x68 || f7 == 0x69) && r2 == 3)
        return 0;
    return 1;
}

static void test_native_code_matches_fpu(void)
{
    int fma = __builtin_cpu_supports("fma");
    unsigned bad = 0, left_inline = 0, expected = 0;
    for (unsigned o = 0; o < sizeof(native_ops) / sizeof(native_ops[0]); o++) {
        uint32_t insn = native_ops[o];
        int is_fma = (insn & 0x7f) != 0x53;
        for (unsigned k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
            for (int single = 0; single <= 1; single++) {
                uint64_t f[3];
                if (single) {
                    f[0] = sbox((float)plain[k].a);
                    f[1] = sbox((float)plain[k].b);
                    f[2] = sbox((float)plain[k].c);
                } else {
                    f[0] = dbits(plain[k].a);
                    f[1] = dbits(plain[k].b);
                    f[2] = dbits(plain[k].c);
                }
                uint64_t calls;
                bad += (unsigned)fp_both(&insn, 1, f, plain[k].x1, 0, &calls);
                if (expect_inline(insn, k, single) && (!is_fma || fma)) {
                    expected++;
                    left_inline += calls == 0;
                    if (rv_jit_supported() && calls != 0)
                        fprintf(stderr, "  %08x on plain operands %u went to fpu.c\n", insn, k);
                    if (rv_jit_supported())
                        CU_ASSERT_EQUAL(calls, 0);
                }
            }
        }
        for (unsigned k = 0; k < sizeof(special) / sizeof(special[0]); k++) {
            uint64_t calls;
            bad += (unsigned)fp_both(&insn, 1, special[k], special_x[k % 5], 0, &calls);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    if (rv_jit_supported()) /* the inline code is what was compared */
        CU_ASSERT(expected > 150 && left_inline == expected);
}

/* Fused multiply-adds (both widths, the four signs) under each rounding
 * mode, static and dynamic, on operands whose product is inexact, so that
 * the modes give different results and flags. Only RNE has native code;
 * the others must reach fpu.c. */
static void test_fma_every_rounding_mode(void)
{
    static const double ops[][3] = {
        { 1.0 / 3.0, 3.0, -1.0 }, { 0.1, 0.2, 0.3 }, { 1e308, 10.0, -1e308 }, { -1.1, 1.3, 1e-310 },
    };
    unsigned bad = 0;
    for (unsigned opc = 0x43; opc <= 0x4f; opc += 4)
        for (unsigned fmt = 0; fmt <= 1; fmt++)
            for (unsigned rm = 0; rm <= 7; rm++) {
                if (rm == 5 || rm == 6)
                    continue;
                for (unsigned frm = 0; frm <= (rm == 7 ? 4u : 0u); frm++)
                    for (unsigned k = 0; k < 4; k++) {
                        uint64_t f[3], calls;
                        for (int i = 0; i < 3; i++)
                            f[i] = fmt ? dbits(ops[k][i]) : sbox((float)ops[k][i]);
                        uint32_t insn = FMA_OP(opc, fmt, rm, 4, 1, 2, 3);
                        bad += (unsigned)fp_both(&insn, 1, f, 0, frm, &calls);
                        int rne = rm == 0 || (rm == 7 && frm == 0);
                        if (rv_jit_supported() && !rne)
                            CU_ASSERT_EQUAL(calls, 1); /* fpu.c: the mode's rounding */
                    }
            }
    CU_ASSERT_EQUAL(bad, 0);
}

/* One translated block with dynamically rounded instructions, run three
 * times: frm = RNE on the first pass (inline), RUP on the second and RDN
 * on the third (the run's check must send them to fpu.c), with fflags and
 * each pass's results kept. */
static void run_frm_change(struct rig *r, int jit)
{
    rig_init(r);
    r->h.jit = jit;
    rv_cpu(&r->h)->mstatus |= 3ULL << MSTATUS_FS_SHIFT;
    r->h.f[1] = dbits(1.0 / 3.0);
    r->h.f[2] = dbits(3.1);
    r->h.f[3] = dbits(-0.7);
    r->h.x[5] = 3; /* passes */
    r->h.x[6] = RAM_BASE + 0x2000; /* results */
    emit32(r, FADD_D(31, 31, 31));                  /* 0: the host FPU live */
    emit32(r, ADDI(0, 0, 0));
    uint64_t loop = r->at;                          /* the block */
    emit32(r, FPI(0x01, 7, 4, 1, 2));                /* fadd.d f4 */
    emit32(r, FPI(0x0d, 7, 5, 1, 2));                /* fdiv.d f5 */
    emit32(r, FMA_OP(0x43, 0, 7, 6, 1, 2, 3));      /* fmadd.s of unboxed: NaN */
    emit32(r, FMA_OP(0x43, 1, 7, 7, 1, 2, 3));      /* fmadd.d f7 */
    emit32(r, FPI(0x61, 7, 8, 5, 2));                /* fcvt.l.d x8, f5 */
    emit32(r, FPI(0x20, 7, 9, 5, 1));                /* fcvt.s.d f9 */
    emit32(r, SD(8, 6, 0));
    emit32(r, enc_s(8, 4, 6, 3, 0x27));             /* fsd f4, 8(x6) */
    emit32(r, enc_s(16, 5, 6, 3, 0x27));
    emit32(r, enc_s(24, 7, 6, 3, 0x27));
    emit32(r, enc_s(32, 9, 6, 3, 0x27));
    emit32(r, ADDI(6, 6, 40));
    emit32(r, ADDI(5, 5, -1));
    emit32(r, ADDI(7, 5, 1));
    emit32(r, CSRRW(0, FRM, 7));                    /* frm = RUP, then RDN */
    emit32(r, enc_b((int)(loop - r->at), 0, 5, 1)); /* bnez x5, loop */
    emit32(r, CSRRS(20, FFLAGS, 0));
    emit_exit(r);
    rig_run(r);
}

static void test_frm_change_between_passes(void)
{
    static struct rig ref, r;
    run_frm_change(&ref, 0);
    run_frm_change(&r, 2);
    for (int i = 0; i < 32; i++) {
        CU_ASSERT_EQUAL(r.h.x[i], ref.h.x[i]);
        CU_ASSERT_EQUAL(r.h.f[i], ref.h.f[i]);
    }
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->fflags, rv_cpu(&ref.h)->fflags);
    for (uint64_t a = RAM_BASE + 0x2000; a < RAM_BASE + 0x2000 + 3 * 40; a += 8)
        CU_ASSERT_EQUAL(get64(&r, a), get64(&ref, a));
    /* the passes differ: RNE and RUP round some of the results apart */
    int differ = 0;
    for (uint64_t a = RAM_BASE + 0x2000; a < RAM_BASE + 0x2000 + 40; a += 8)
        differ |= get64(&ref, a) != get64(&ref, a + 40);
    CU_ASSERT(differ);
    rig_destroy(&r);
    rig_destroy(&ref);
}

/* mstatus.FS through a block of FP moves, loads and stores (which the
 * translator checks once and then knows dirty): off (the first traps),
 * initial, clean (fsd and fmv.x.d leave it so, the fld after them makes
 * it dirty)
 * and dirty, then set off by a CSR write in the block (the fld after it
 * traps); state, memory and the trap as the interpreter leaves them. */
static void run_fs_block(struct rig *r, int jit, unsigned fs)
{
    rig_init(r);
    r->h.jit = jit;
    struct rv_cpu *c = rv_cpu(&r->h);
    c->mstatus = (c->mstatus & ~MSTATUS_FS) | (uint64_t)fs << MSTATUS_FS_SHIFT;
    c->mtvec = RAM_BASE + 0x1000;
    r->h.f[1] = dbits(2.5);
    r->h.f[3] = sbox(-1.25f);
    r->h.x[6] = RAM_BASE + 0x2000;
    r->h.x[14] = MSTATUS_FS;
    put64(r, RAM_BASE + 0x2000, dbits(0.75));
    emit32(r, LD(13, 6, 16));               /* (the TLB then has the page: fld hits) */
    emit32(r, SD(0, 6, 24));                /* (and the store TLB) */
    emit32(r, enc_s(24, 1, 6, 3, 0x27));    /* fsd f1, 24(x6): leaves FS as it is */
    emit32(r, FPI(0x71, 0, 5, 1, 0));       /* fmv.x.d x5, f1: likewise */
    emit32(r, enc_i(0, 6, 3, 2, 0x07));     /* fld f2, 0(x6) */
    emit32(r, CSRRS(10, 0x300, 0));         /* mstatus: the fld made FS dirty */
    emit32(r, FPI(0x71, 0, 11, 1, 0));      /* fmv.x.d x11, f1 (FS known dirty now) */
    emit32(r, enc_i(0, 6, 3, 12, 0x07));    /* fld f12, 0(x6) */
    emit32(r, FPI(0x70, 0, 7, 3, 0));       /* fmv.x.w x7, f3 */
    emit32(r, enc_s(8, 2, 6, 3, 0x27));     /* fsd f2, 8(x6) */
    emit32(r, FADD_D(4, 1, 2));
    emit32(r, enc_i(0, 6, 2, 8, 0x07));     /* flw f8, 0(x6) */
    emit32(r, CSRRS(9, 0x300, 0));          /* mstatus */
    emit32(r, CSRRC(0, 0x300, 14));         /* FS = off ... */
    emit32(r, enc_i(0, 6, 3, 15, 0x07));    /* ... so this fld traps */
    emit_exit(r);
    r->at = RAM_BASE + 0x1000;
    emit32(r, CSRRS(20, 0x342, 0));         /* mcause */
    emit32(r, CSRRS(21, 0x341, 0));         /* mepc */
    emit_exit(r);
    rig_run(r);
}

static void test_fs_state_through_a_block(void)
{
    for (unsigned fs = 0; fs <= 3; fs++) {
        static struct rig ref, r;
        run_fs_block(&ref, 0, fs);
        run_fs_block(&r, 2, fs);
        for (int i = 0; i < 32; i++) {
            CU_ASSERT_EQUAL(r.h.x[i], ref.h.x[i]);
            CU_ASSERT_EQUAL(r.h.f[i], ref.h.f[i]);
        }
        CU_ASSERT_EQUAL(rv_cpu(&r.h)->mstatus, rv_cpu(&ref.h)->mstatus);
        CU_ASSERT_EQUAL(get64(&r, RAM_BASE + 0x2008), get64(&ref, RAM_BASE + 0x2008));
        CU_ASSERT_EQUAL(ref.h.x[20], 2u); /* FS off: illegal instruction */
        rig_destroy(&r);
        rig_destroy(&ref);
    }
}

/* Doubles the translator keeps in xmm registers within a block: every
 * way an FP register is written (D and S results, fld/flw, fmv.d.x and
 * fmv.w.x, sign injection, fpu.c out of line for a NaN) followed by reads
 * as a double and as bits; more live doubles than the 12 xmm registers;
 * a load that misses the TLB (its helper clobbers every xmm) and a C call
 * on the hot path (a division) between a write and its reads. */
static void run_xmm_block(struct rig *r, int jit)
{
    rig_init(r);
    r->h.jit = jit;
    rv_cpu(&r->h)->mstatus |= 3ULL << MSTATUS_FS_SHIFT;
    r->h.x[6] = RAM_BASE + 0x2000;
    r->h.x[7] = RAM_BASE + 0x3000; /* another page: a TLB miss */
    r->h.x[8] = 7;
    put64(r, RAM_BASE + 0x2000, dbits(0.75));
    put64(r, RAM_BASE + 0x2008, sbox(1.5f));
    put64(r, RAM_BASE + 0x3000, 12345);
    for (int i = 1; i < 32; i++)
        r->h.f[i] = dbits(1.0 + i / 8.0);
    r->h.f[30] = QNAN_D; /* f29 + f30 below: fpu.c */
    emit32(r, FADD_D(31, 31, 31));                 /* (live) */
    emit32(r, ADDI(0, 0, 0));
    /* a double in an xmm, then written otherwise, then read as bits */
    emit32(r, FPI(0x09, 7, 25, 25, 25));
    emit32(r, enc_i(8, 6, 2, 25, 0x07));           /* flw f25 */
    emit32(r, FPI(0x71, 0, 16, 25, 0));
    emit32(r, FPI(0x09, 7, 26, 26, 26));
    emit32(r, FPI(0x78, 0, 26, 8, 0));             /* fmv.w.x f26 */
    emit32(r, FPI(0x71, 0, 17, 26, 0));
    emit32(r, FPI(0x09, 7, 27, 27, 27));
    emit32(r, FPI(0x20, 7, 27, 3, 1));             /* fcvt.s.d f27 (inline) */
    emit32(r, FPI(0x71, 0, 18, 27, 0));
    emit32(r, FPI(0x09, 7, 28, 28, 28));
    emit32(r, OP(1, 4, 19, 8, 8));                 /* div: a C call */
    emit32(r, FPI(0x71, 0, 19, 28, 0));
    for (unsigned i = 1; i <= 14; i++)             /* 14 live doubles: evictions */
        emit32(r, FPI(0x09, 7, i, i, i + 1));      /* fmul.d fi, fi, fi+1 */
    emit32(r, FPI(0x01, 7, 15, 1, 14));            /* reads f1 (evicted) and f14 */
    emit32(r, FPI(0x00, 7, 2, 1, 1));              /* fadd.s f2: unboxed f1 (fpu.c) */
    emit32(r, FPI(0x71, 0, 9, 2, 0));              /* fmv.x.d x9, f2: the canonical NaN */
    emit32(r, FPI(0x01, 7, 16, 29, 30));           /* fadd.d f16 = f29 + NaN (fpu.c) */
    emit32(r, FPI(0x01, 7, 17, 3, 4));             /* after the out-of-line path */
    emit32(r, enc_i(0, 6, 3, 3, 0x07));            /* fld f3 */
    emit32(r, FPI(0x09, 7, 18, 3, 3));
    emit32(r, enc_i(8, 6, 2, 4, 0x07));            /* flw f4 */
    emit32(r, FPI(0x71, 0, 10, 4, 0));             /* fmv.x.d x10, f4: boxed bits */
    emit32(r, FPI(0x79, 0, 5, 8, 0));              /* fmv.d.x f5, x8 */
    emit32(r, FPI(0x01, 7, 19, 5, 6));
    emit32(r, FPI(0x78, 0, 6, 8, 0));              /* fmv.w.x f6, x8 */
    emit32(r, FPI(0x71, 0, 11, 6, 0));
    emit32(r, FPI(0x11, 1, 7, 7, 8));              /* fsgnjn.d f7 */
    emit32(r, FPI(0x09, 7, 20, 7, 9));
    emit32(r, FPI(0x10, 0, 8, 9, 9));              /* fsgnj.s f8 (unboxed: fpu.c) */
    emit32(r, FPI(0x71, 0, 12, 8, 0));
    emit32(r, FPI(0x01, 7, 21, 10, 11));           /* f10, f11 kept ... */
    emit32(r, LD(13, 7, 0));                       /* ... across a TLB miss */
    emit32(r, FPI(0x01, 7, 22, 10, 11));
    emit32(r, OP(1, 4, 14, 13, 8));                /* div: a C call */
    emit32(r, FPI(0x01, 7, 23, 12, 13));
    emit32(r, FPI(0x20, 7, 24, 23, 1));            /* fcvt.s.d f24 ... */
    emit32(r, FPI(0x71, 0, 15, 24, 0));            /* ... then read as bits */
    emit32(r, CSRRS(20, FFLAGS, 0));
    emit_exit(r);
    rig_run(r);
}

static void test_doubles_kept_in_xmm_registers(void)
{
    static struct rig ref, r;
    run_xmm_block(&ref, 0);
    run_xmm_block(&r, 2);
    for (int i = 0; i < 32; i++) {
        CU_ASSERT_EQUAL(r.h.x[i], ref.h.x[i]);
        CU_ASSERT_EQUAL(r.h.f[i], ref.h.f[i]);
        if (r.h.x[i] != ref.h.x[i] || r.h.f[i] != ref.h.f[i])
            fprintf(stderr, "  x%d %#llx vs %#llx, f%d %#llx vs %#llx\n", i,
                    (unsigned long long)ref.h.x[i], (unsigned long long)r.h.x[i], i,
                    (unsigned long long)ref.h.f[i], (unsigned long long)r.h.f[i]);
    }
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->fflags, rv_cpu(&ref.h)->fflags);
    CU_ASSERT_EQUAL(ref.h.x[10], sbox(1.5f));
    CU_ASSERT_EQUAL(ref.h.x[13], 12345);
    rig_destroy(&r);
    rig_destroy(&ref);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "native code matches fpu.c", test_native_code_matches_fpu },
        { "fma under every rounding mode", test_fma_every_rounding_mode },
        { "frm change between passes of a block", test_frm_change_between_passes },
        { "FS state through a block", test_fs_state_through_a_block },
        { "doubles kept in xmm registers", test_doubles_kept_in_xmm_registers },
        { NULL, NULL },
    };
    return unit_main("rv_jit_fp", tests);
}
