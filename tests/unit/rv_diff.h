/* Differential testing of the soft engine's translator against its
 * interpreter: a random RV64GC program (from a seed or from fuzzer bytes)
 * runs once on a hart that interprets and once on a hart that translates,
 * each on a machine of its own, and everything architectural must come out
 * identical: integer and FP registers, pc, privilege, the CSRs a program
 * can change, the instruction count, the data it wrote and its (possibly
 * self-modified) code.
 *
 * A program mixes every kind of instruction the translator treats
 * differently: RV64IM ALU and immediates (x0 included as source and
 * destination), the compressed forms, loads and stores of every width at
 * aligned and misaligned offsets (some crossing a page), forward branches
 * and jumps (JAL, JALR through a computed address, C.J, C.BEQZ/C.BNEZ),
 * loads through a random pointer (access faults), ECALL and EBREAK (traps),
 * CSR reads of minstret/mcycle (exact instruction count at that point),
 * fflags/frm, bursts of F/D instructions of every kind (operands at the
 * edges: NaNs, singles not NaN-boxed, limits) and FP loads/stores, AMOs and LR/SC (some
 * misaligned: traps), fence.i, and stores that patch instructions further
 * on (self-modifying code). The trap handler folds mcause, mepc, mtval and
 * minstret of every trap into x30, so the exact point of each trap is
 * compared too, not only the end state, and resumes after the trapping
 * instruction (2 or 4 bytes). Branches only go forward, so every
 * program ends (at a store to the rig's exit device).
 *
 * Register use: x2 and x28 point at the data page, x27 at the code, x26
 * and x29 are scratch of the templates and the trap handler, x30 the trap
 * digest, x31 the exit device; random instructions write x1 and x3..x25.
 */
#ifndef TESTS_UNIT_RV_DIFF_H
#define TESTS_UNIT_RV_DIFF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_rig.h"

#define DIFF_CODE RAM_BASE
#define DIFF_HANDLER (RAM_BASE + 0x8000)
#define DIFF_DATA (RAM_BASE + 0x10800) /* +-2 KiB around it: two pages */
#define DIFF_MAX_ITEMS 1024

/* The random stream: fuzzer bytes when given (then zeros), else xorshift. */
struct diff_src {
    const uint8_t *data;
    size_t len, pos;
    uint64_t s;
};

static inline uint64_t diff_next(struct diff_src *g)
{
    if (g->data) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | (g->pos < g->len ? g->data[g->pos++] : 0);
        return v;
    }
    g->s ^= g->s << 13;
    g->s ^= g->s >> 7;
    g->s ^= g->s << 17;
    return g->s;
}

static inline unsigned diff_below(struct diff_src *g, unsigned n)
{
    return (unsigned)(diff_next(g) % n);
}

/* One instruction of the program before layout. Jumps name the item they
 * go to; their offset is filled in once every item has its address. */
enum diff_fix { FIX_NONE, FIX_B, FIX_J, FIX_CB, FIX_CJ, FIX_ADDI_DELTA, FIX_STORE_AT };
struct diff_item {
    uint32_t word;
    unsigned len;
    enum diff_fix fix;
    unsigned target; /* item index */
    unsigned from;   /* FIX_ADDI_DELTA: the auipc item the delta is from */
    int interior;    /* not the first item of its template: never a jump target */
    uint64_t addr;
};

struct diff_prog {
    struct diff_item it[DIFF_MAX_ITEMS];
    unsigned n;
    uint64_t x[32], f[32];
    int fs_dirty;
};

static inline unsigned diff_rd(struct diff_src *g)
{
    unsigned r = 1 + diff_below(g, 25); /* x1..x25, not x2 */
    return r == 2 ? 1 : r;
}

static inline unsigned diff_rs(struct diff_src *g)
{
    return diff_below(g, 26); /* x0..x25 */
}

static inline void diff_put(struct diff_prog *p, uint32_t w, unsigned len, enum diff_fix fix,
                            unsigned target)
{
    if (p->n < DIFF_MAX_ITEMS)
        p->it[p->n++] = (struct diff_item){ w, len, fix, target, 0, 0, 0 };
}

/* Marks the items after `first` as the inside of one template. */
static inline void diff_interior(struct diff_prog *p, unsigned first)
{
    for (unsigned i = first + 1; i < p->n; i++)
        p->it[i].interior = 1;
}

/* A forward target: one of the next few items (or the exit, item n_total). */
static inline unsigned diff_fwd(struct diff_src *g, unsigned here, unsigned total)
{
    unsigned t = here + 1 + diff_below(g, 6);
    return t > total ? total : t;
}

/* C.* encodings for the compressed templates. */
#define C_ADDI(rd, imm) (uint32_t)(0x0001 | ((imm) & 0x20) << 7 | (rd) << 7 | ((imm) & 0x1f) << 2)
#define C_LI(rd, imm) (uint32_t)(0x4001 | ((imm) & 0x20) << 7 | (rd) << 7 | ((imm) & 0x1f) << 2)
#define C_MV(rd, rs) (uint32_t)(0x8002 | (rd) << 7 | (rs) << 2)
#define C_ADD(rd, rs) (uint32_t)(0x9002 | (rd) << 7 | (rs) << 2)
#define C_SLLI(rd, sh) (uint32_t)(0x0002 | ((sh) & 0x20) << 7 | (rd) << 7 | ((sh) & 0x1f) << 2)
/* C.SUB/XOR/OR/AND (f = 0..3) and C.SUBW/ADDW (f = 4, 5) on x8..x15 */
#define C_ARITH(f, rdp, rsp)                                                                     \
    (uint32_t)(0x8c01 | ((f) >> 2) << 12 | ((rdp) - 8) << 7 | ((f) & 3) << 5 | ((rsp) - 8) << 2)
#define C_SRLI(rdp, sh) (uint32_t)(0x8001 | ((sh) & 0x20) << 7 | ((rdp) - 8) << 7 | ((sh) & 0x1f) << 2)
#define C_SRAI(rdp, sh) (uint32_t)(0x8401 | ((sh) & 0x20) << 7 | ((rdp) - 8) << 7 | ((sh) & 0x1f) << 2)
#define C_ANDI(rdp, i) (uint32_t)(0x8801 | ((i) & 0x20) << 7 | ((rdp) - 8) << 7 | ((i) & 0x1f) << 2)
/* C.LDSP / C.SDSP (x2-relative, offset multiple of 8, < 512) */
#define C_LDSP(rd, off)                                                                          \
    (uint32_t)(0x6002 | ((off) & 0x20) << 7 | (rd) << 7 | ((off) & 0x18) << 2 | ((off) & 0x1c0) >> 4)
#define C_SDSP(rs, off) (uint32_t)(0xe002 | ((off) & 0x38) << 7 | ((off) & 0x1c0) << 1 | (rs) << 2)

/* One random F/D instruction of every kind the translator handles
 * (natively or through fpu.c): S and D arithmetic, square roots, fused
 * multiply-adds, sign injection, min/max, compares, classification, the
 * conversions and moves, under any rounding mode field (5 and 6 are
 * illegal: a trap). Integer results go to rd, integer sources are rd too. */
static inline uint32_t diff_fp_insn(struct diff_src *g, unsigned rd)
{
    unsigned fd = diff_below(g, 32), f1 = diff_below(g, 32), f2 = diff_below(g, 32);
    unsigned f3 = diff_below(g, 32), dbl = diff_below(g, 2), xs = diff_rs(g);
    unsigned rm = diff_below(g, 8), r4 = diff_below(g, 4), r3 = diff_below(g, 3);
    if (diff_below(g, 3))
        rm = rm & 1 ? 7 : 0; /* mostly RNE, static or dynamic */
    switch (diff_below(g, 12)) {
    case 0: case 1: case 2: /* add sub mul div */
        return FP((r4 << 2) | dbl, rm, fd, f1, f2);
    case 3: /* fmadd fmsub fnmsub fnmadd */
        return f3 << 27 | dbl << 25 | f2 << 20 | f1 << 15 | rm << 12 | fd << 7 |
               (0x43 + 4 * r4);
    case 4: return FP(0x2c | dbl, rm, fd, f1, r4 ? 0 : 1); /* fsqrt (rs2 != 0: illegal) */
    case 5: return FP(0x10 | dbl, r3, fd, f1, r4 ? f2 : f1); /* fsgnj, also fmv/fneg/fabs */
    case 6: return FP(0x14 | dbl, r4 & 1, fd, f1, f2); /* fmin fmax */
    case 7: return dbl ? FP(0x21, rm, fd, f1, 0) : FP(0x20, rm, fd, f1, 1);
    case 8: return FP(0x50 | dbl, r3, rd, f1, f2); /* fle flt feq */
    case 9: return FP(0x60 | dbl, rm, rd, f1, r4); /* fcvt.{w,wu,l,lu} */
    case 10: return FP(0x68 | dbl, rm, fd, xs, r4); /* fcvt from integers */
    default:
        switch (r3) {
        case 0: return FP(0x70 | dbl, 0, rd, f1, 0);   /* fmv.x */
        case 1: return FP(0x78 | dbl, 0, fd, xs, 0);   /* fmv from x */
        default: return FP(0x70 | dbl, 1, rd, f1, 0);  /* fclass */
        }
    }
}

/* An FP register's first value: raw bits, a double near 1, a boxed single,
 * or one at an edge (NaNs, infinities, zeros, integer limits). */
static inline uint64_t diff_fp_value(struct diff_src *g)
{
    static const uint64_t edge[] = {
        0x7ff8000000000000ULL, 0x7ff0000000000001ULL, 0x7ff0000000000000ULL,
        0xfff0000000000000ULL, 0, 0x8000000000000000ULL, 0x43e0000000000000ULL,
        0xc3e0000000000000ULL, 0x41f0000000000000ULL, 0x41dfffffffc00000ULL,
        0xffffffff7fc00000ULL, 0xffffffff7f800001ULL, 0xffffffff7f800000ULL,
        0xffffffff80000000ULL, 0xffffffff4f000000ULL, 0xffffffffcf000000ULL,
        0x0000000000000001ULL, 0xffffffff00000001ULL,
    };
    uint64_t bits = diff_next(g), sign = diff_below(g, 2), scale = diff_below(g, 32);
    switch (diff_below(g, 6)) {
    case 0: return bits;
    case 1: case 2: return sign << 63 | (0x3ff0000000000000ULL + (bits & 0xfffffffffULL));
    case 3: case 4: /* a boxed single, +-0.5 .. 2^31 */
        return 0xffffffff00000000ULL | sign << 31 |
               (0x3f000000u + (bits & 0x7fffffu) + (scale << 23));
    default: return edge[bits % (sizeof(edge) / sizeof(edge[0]))];
    }
}

static inline void diff_gen_one(struct diff_src *g, struct diff_prog *p, unsigned total)
{
    unsigned here = p->n;
    unsigned rd = diff_rd(g), a = diff_rs(g), b = diff_rs(g);
    int imm12 = (int)diff_below(g, 4096) - 2048;
    switch (diff_below(g, 24)) {
    case 0: case 1: case 2: { /* R-type, base and M */
        static const unsigned f3f7[][2] = { { 0, 0 }, { 0, 0x20 }, { 1, 0 }, { 2, 0 }, { 3, 0 },
                                            { 4, 0 }, { 5, 0 }, { 5, 0x20 }, { 6, 0 }, { 7, 0 },
                                            { 0, 1 }, { 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 1 },
                                            { 5, 1 }, { 6, 1 }, { 7, 1 } };
        unsigned k = diff_below(g, 18);
        diff_put(p, OP(f3f7[k][1], f3f7[k][0], rd, a, b), 4, FIX_NONE, 0);
        return;
    }
    case 3: { /* R-type W */
        static const unsigned f3f7[][2] = { { 0, 0 }, { 0, 0x20 }, { 1, 0 }, { 5, 0 },
                                            { 5, 0x20 }, { 0, 1 }, { 4, 1 }, { 5, 1 },
                                            { 6, 1 }, { 7, 1 } };
        unsigned k = diff_below(g, 10);
        diff_put(p, OP32(f3f7[k][1], f3f7[k][0], rd, a, b), 4, FIX_NONE, 0);
        return;
    }
    case 4: case 5: { /* I-type */
        unsigned f3 = diff_below(g, 8);
        uint32_t w = enc_i(imm12, a, f3, rd, 0x13);
        if (f3 == 1)
            w = enc_i((int)diff_below(g, 64), a, 1, rd, 0x13);
        else if (f3 == 5)
            w = enc_i((int)(diff_below(g, 64) | (diff_below(g, 2) ? 0x400 : 0)), a, 5, rd, 0x13);
        diff_put(p, w, 4, FIX_NONE, 0);
        return;
    }
    case 6: { /* I-type W */
        static const unsigned f3s[] = { 0, 1, 5, 5 };
        unsigned k = diff_below(g, 4);
        uint32_t w = k == 0 ? enc_i(imm12, a, 0, rd, 0x1b)
                            : enc_i((int)(diff_below(g, 32) | (k == 3 ? 0x400 : 0)), a, f3s[k], rd,
                                    0x1b);
        diff_put(p, w, 4, FIX_NONE, 0);
        return;
    }
    case 7:
        diff_put(p, diff_below(g, 2) ? LUI(rd, diff_below(g, 1u << 20))
                                     : AUIPC(rd, diff_below(g, 1u << 20)), 4, FIX_NONE, 0);
        return;
    case 8: case 9: { /* loads and stores near the data pointer, any alignment */
        unsigned f3 = diff_below(g, 7);
        if (diff_below(g, 2))
            diff_put(p, LOADI(f3 == 7 ? 6 : f3, rd, 28, imm12), 4, FIX_NONE, 0);
        else
            diff_put(p, STOREI(diff_below(g, 4), b, 28, imm12), 4, FIX_NONE, 0);
        return;
    }
    case 10: /* a load through a random pointer: usually an access fault */
        diff_put(p, LOADI(diff_below(g, 4), rd, a, 0), 4, FIX_NONE, 0);
        return;
    case 11: { /* conditional branch forward */
        static const unsigned f3s[] = { 0, 1, 4, 5, 6, 7 };
        diff_put(p, enc_b(0, b, a, f3s[diff_below(g, 6)]), 4, FIX_B, diff_fwd(g, here, total));
        return;
    }
    case 12: /* jal forward */
        diff_put(p, enc_j(0, diff_below(g, 2) ? rd : 0), 4, FIX_J, diff_fwd(g, here, total));
        return;
    case 13: /* jalr to a computed address: auipc x29; addi x29, x29, delta; jalr */
        diff_put(p, AUIPC(29, 0), 4, FIX_NONE, 0);
        diff_put(p, ADDI(29, 29, 0), 4, FIX_ADDI_DELTA, diff_fwd(g, here + 2, total));
        p->it[p->n - 1].from = here;
        diff_put(p, enc_i(0, 29, 0, diff_below(g, 2) ? rd : 0, 0x67), 4, FIX_NONE, 0);
        diff_interior(p, here);
        return;
    case 14: case 15: { /* compressed ALU */
        /* (the C_* macros use their arguments more than once: no calls in them) */
        unsigned rp = 8 + diff_below(g, 8), sp = 8 + diff_below(g, 8);
        unsigned f = diff_below(g, 6), off = diff_below(g, 64) * 8;
        int i6 = (int)diff_below(g, 64);
        switch (diff_below(g, 10)) {
        case 0: diff_put(p, C_ADDI(rd, i6 ? i6 : 1), 2, FIX_NONE, 0); break;
        case 1: diff_put(p, C_LI(rd, i6), 2, FIX_NONE, 0); break;
        case 2: diff_put(p, C_MV(rd, a ? a : 1), 2, FIX_NONE, 0); break;
        case 3: diff_put(p, C_ADD(rd, a ? a : 1), 2, FIX_NONE, 0); break;
        case 4: diff_put(p, C_SLLI(rd, i6 ? i6 : 1), 2, FIX_NONE, 0); break;
        case 5: diff_put(p, C_ARITH(f, rp, sp), 2, FIX_NONE, 0); break;
        case 6: diff_put(p, C_SRLI(rp, i6 ? i6 : 1), 2, FIX_NONE, 0); break;
        case 7: diff_put(p, C_SRAI(rp, i6 ? i6 : 1), 2, FIX_NONE, 0); break;
        case 8: diff_put(p, C_ANDI(rp, i6), 2, FIX_NONE, 0); break;
        default:
            if (diff_below(g, 2))
                diff_put(p, C_LDSP(rd, off), 2, FIX_NONE, 0);
            else
                diff_put(p, C_SDSP(a, off), 2, FIX_NONE, 0);
        }
        return;
    }
    case 16: /* compressed jumps: c.j, c.beqz, c.bnez */
        if (diff_below(g, 3) == 0)
            diff_put(p, 0xa001, 2, FIX_CJ, diff_fwd(g, here, total));
        else
            diff_put(p, (diff_below(g, 2) ? 0xc001u : 0xe001u) | (diff_below(g, 8) << 7), 2,
                     FIX_CB, diff_fwd(g, here, total));
        return;
    case 17: { /* CSRs: counters (exact count), scratch, FP status */
        static const unsigned csrs[] = { 0xb02, 0xb00, 0xc02, 0x340, 0x001, 0x002, 0x003 };
        unsigned csr = csrs[diff_below(g, 7)];
        unsigned f3 = 1 + diff_below(g, 3);
        if (csr >= 0xb00) /* counters: read only here */
            diff_put(p, enc_i((int)csr, 0, 2, rd, 0x73), 4, FIX_NONE, 0);
        else
            diff_put(p, enc_i((int)csr, a, f3, rd, 0x73), 4, FIX_NONE, 0);
        return;
    }
    case 18: { /* F/D: a burst of 1..4 (native runs of the translator) */
        unsigned burst = 1 + diff_below(g, 4);
        for (unsigned i = 0; i < burst; i++)
            diff_put(p, diff_fp_insn(g, rd), 4, FIX_NONE, 0);
        diff_interior(p, here);
        return;
    }
    case 19: { /* FP loads and stores */
        unsigned fr = diff_below(g, 32), f3 = 2 + diff_below(g, 2);
        if (diff_below(g, 2))
            diff_put(p, enc_i(imm12, 28, f3, fr, 0x07), 4, FIX_NONE, 0);
        else
            diff_put(p, enc_s(imm12, fr, 28, f3, 0x27), 4, FIX_NONE, 0);
        return;
    }
    case 20: { /* AMOs and LR/SC at data + small offset (misaligned: trap) */
        static const unsigned f5s[] = { 0x00, 0x01, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c };
        unsigned f3 = 2 + diff_below(g, 2);
        diff_put(p, ADDI(29, 28, (int)(diff_below(g, 8) * 4)), 4, FIX_NONE, 0);
        switch (diff_below(g, 3)) {
        case 0: diff_put(p, AMO(0x02, f3, rd, 29, 0), 4, FIX_NONE, 0); break;
        case 1: diff_put(p, AMO(0x03, f3, rd, 29, b), 4, FIX_NONE, 0); break;
        default: diff_put(p, AMO(f5s[diff_below(g, 9)], f3, rd, 29, b), 4, FIX_NONE, 0);
        }
        diff_interior(p, here);
        return;
    }
    case 21: /* traps */
        diff_put(p, diff_below(g, 2) ? ECALL : EBREAK, 4, FIX_NONE, 0);
        return;
    case 22: { /* self-modifying code: patch a later instruction to addi rd, rd, imm */
        uint32_t w = ADDI(rd, rd, (int)diff_below(g, 2048));
        int32_t lo = (int32_t)(w << 20) >> 20;
        uint32_t hi = (w - (uint32_t)lo) >> 12;
        diff_put(p, LUI(29, hi & 0xfffff), 4, FIX_NONE, 0);
        diff_put(p, ADDIW(29, 29, lo), 4, FIX_NONE, 0);
        diff_put(p, SW(29, 27, 0), 4, FIX_STORE_AT, diff_fwd(g, here + 2, total));
        diff_interior(p, here);
        return;
    }
    default:
        diff_put(p, diff_below(g, 4) ? 0x0ff0000fu /* fence */ : 0x0000100fu /* fence.i */, 4,
                 FIX_NONE, 0);
        return;
    }
}

/* Builds a program of about n_items items. */
static inline void diff_generate(struct diff_src *g, struct diff_prog *p, unsigned n_items)
{
    memset(p, 0, sizeof(*p));
    if (n_items > DIFF_MAX_ITEMS - 8)
        n_items = DIFF_MAX_ITEMS - 8;
    for (int i = 1; i < 32; i++)
        p->x[i] = diff_below(g, 4) ? diff_next(g) : diff_below(g, 64) - 32;
    for (int i = 0; i < 32; i++)
        p->f[i] = diff_fp_value(g);
    p->fs_dirty = diff_below(g, 4) != 0;
    while (p->n < n_items)
        diff_gen_one(g, p, n_items);
    if (p->n > n_items)
        p->n = n_items; /* a multi-item template cut short: still a valid program */
}

static inline int diff_fits(int64_t v, int bits)
{
    return v >= -(1LL << (bits - 1)) && v < (1LL << (bits - 1));
}

/* Lays the program out at DIFF_CODE and writes it into r's memory, with
 * the exit (item n) and the trap handler. Jumps out of reach become nops. */
static inline void diff_load(struct rig *r, struct diff_prog *p)
{
    uint64_t at = DIFF_CODE;
    for (unsigned i = 0; i < p->n; i++) {
        p->it[i].addr = at;
        at += p->it[i].len;
    }
    uint64_t exit_addr = at;
    for (unsigned i = 0; i < p->n; i++) {
        struct diff_item *it = &p->it[i];
        while (it->fix != FIX_NONE && it->target < p->n && p->it[it->target].interior)
            it->target++; /* into a template's middle: to the next start */
        uint64_t t = it->target >= p->n ? exit_addr : p->it[it->target].addr;
        int64_t off = (int64_t)(t - it->addr);
        uint32_t w = it->word;
        switch (it->fix) {
        case FIX_B: w = enc_b((int)off, (w >> 20) & 31, (w >> 15) & 31, (w >> 12) & 7); break;
        case FIX_J: w = enc_j((int)off, (w >> 7) & 31); break;
        case FIX_CB: {
            if (!diff_fits(off, 9)) {
                w = 0x0001; /* c.nop */
                break;
            }
            uint32_t u = (uint32_t)off;
            w = (w & 0xe383) | ((u >> 8) & 1) << 12 | ((u >> 3) & 3) << 10 | ((u >> 6) & 3) << 5 |
                ((u >> 1) & 3) << 3 | ((u >> 5) & 1) << 2;
            break;
        }
        case FIX_CJ: {
            if (!diff_fits(off, 12)) {
                w = 0x0001;
                break;
            }
            uint32_t u = (uint32_t)off;
            w = 0xa001 | ((u >> 11) & 1) << 12 | ((u >> 4) & 1) << 11 | ((u >> 8) & 3) << 9 |
                ((u >> 10) & 1) << 8 | ((u >> 6) & 1) << 7 | ((u >> 7) & 1) << 6 |
                ((u >> 1) & 7) << 3 | ((u >> 5) & 1) << 2;
            break;
        }
        case FIX_ADDI_DELTA:
            w = ADDI(29, 29, (int)(t - p->it[it->from].addr));
            break;
        case FIX_STORE_AT: {
            /* only a 4-byte target can take a 4-byte patch without
             * splitting another instruction; else store to the data page */
            int ok = it->target < p->n && p->it[it->target].len == 4 &&
                     t - DIFF_CODE < 2048 && p->it[it->target].fix == FIX_NONE &&
                     (it->target + 1 >= p->n || !p->it[it->target + 1].interior);
            w = ok ? SW(29, 27, (int)(t - DIFF_CODE)) : SW(29, 28, 0);
            break;
        }
        default: break;
        }
        uint8_t *dst = rig_ptr(r, it->addr);
        memcpy(dst, &w, it->len);
    }
    r->at = exit_addr;
    emit32(r, SW(0, 31, 0)); /* the exit device ends the run */

    /* trap handler: fold the trap into x30, resume after the instruction */
    r->at = DIFF_HANDLER;
    static const unsigned csrs[] = { 0x342, 0x341, 0x343, 0xb02 }; /* mcause mepc mtval minstret */
    for (unsigned i = 0; i < 4; i++) {
        emit32(r, CSRRS(29, csrs[i], 0));
        emit32(r, OP(0, 4, 30, 30, 29));                /* xor x30, x30, x29 */
        emit32(r, enc_i(7, 30, 1, 26, 0x13));           /* slli x26, x30, 7 */
        emit32(r, enc_i(57, 30, 5, 30, 0x13));          /* srli x30, x30, 57 */
        emit32(r, OP(0, 6, 30, 30, 26));                /* or x30, x30, x26 */
    }
    /* resume past the trapping instruction, whatever its length */
    emit32(r, CSRRS(29, 0x341, 0));
    emit32(r, LOADI(5, 26, 29, 0));          /* lhu x26, 0(x29) */
    emit32(r, enc_i(3, 26, 7, 26, 0x13));    /* andi x26, x26, 3 */
    emit32(r, ADDI(26, 26, -3));             /* 0 for a 4-byte instruction */
    emit32(r, ADDI(29, 29, 2));
    emit32(r, enc_b(8, 0, 26, 1));           /* bnez x26, +8 */
    emit32(r, ADDI(29, 29, 2));
    emit32(r, CSRRW(0, 0x341, 29));
    emit32(r, MRET);
}

/* rig_init without CUnit assertions (the fuzz target has no test run). */
static inline void diff_rig_init(struct rig *r)
{
    memset(r, 0, sizeof(*r));
    if (machine_init(&r->m, 1) || guest_mem_add_ram(&r->m.mem, RAM_BASE, RAM_SIZE) ||
        bus_register(&r->m.mmio, EXIT_ADDR, 0x1000, &rig_exit_ops, r, "exit") ||
        rv_hart_init(&r->h, &r->m, 0, &rig_hooks)) {
        fprintf(stderr, "rv_diff: cannot make a test machine\n");
        abort();
    }
    rv_hart_set_boot(&r->h, RAM_BASE, 0, 0, RV_PRIV_M, 0);
    r->at = RAM_BASE;
}

/* Sets up a rig for p with the translator on or off. */
static inline void diff_rig(struct rig *r, struct diff_prog *p, int jit)
{
    diff_rig_init(r);
    r->h.jit = jit ? 2 : 0; /* translate every block, even those run once */
    diff_load(r, p);
    memcpy(r->h.x, p->x, sizeof(p->x));
    r->h.x[0] = 0;
    r->h.x[2] = r->h.x[28] = DIFF_DATA;
    r->h.x[27] = DIFF_CODE;
    r->h.x[26] = r->h.x[29] = r->h.x[30] = 0;
    r->h.x[31] = EXIT_ADDR;
    memcpy(r->h.f, p->f, sizeof(p->f));
    struct rv_cpu *c = rv_cpu(&r->h);
    c->mtvec = DIFF_HANDLER;
    c->mstatus |= p->fs_dirty ? MSTATUS_FS : (1ULL << MSTATUS_FS_SHIFT);
    for (unsigned i = 0; i < 4096; i += 8) /* data: a known pattern */
        put64(r, DIFF_DATA - 2048 + i, 0x0123456789abcdefULL * (i + 1));
}

/* Runs the rig to its exit or the watchdog. */
static inline void diff_run(struct rig *r)
{
    rig_watchdog_seconds = 5; /* a program runs for milliseconds */
    struct rig_watch w = { r, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    pthread_t t;
    pthread_create(&t, NULL, rig_watchdog, &w);
    rv_hart_run(&r->h);
    pthread_mutex_lock(&w.lock);
    w.done = 1;
    pthread_cond_signal(&w.cond);
    pthread_mutex_unlock(&w.lock);
    pthread_join(t, NULL);
}

/* Compares the two runs; returns NULL when identical, else what differs
 * (written into buf). */
static inline const char *diff_compare(struct rig *a, struct rig *b, char *buf, size_t n)
{
    const struct rv_hart *x = &a->h, *y = &b->h;
    const struct rv_cpu *cx = rv_cpu(x), *cy = rv_cpu(y);
    if (a->m.outcome.kind != b->m.outcome.kind) {
        snprintf(buf, n, "outcome %d vs %d", a->m.outcome.kind, b->m.outcome.kind);
        return buf;
    }
    for (int i = 0; i < 32; i++) {
        if (x->x[i] != y->x[i]) {
            snprintf(buf, n, "x%d: %#llx vs %#llx", i, (unsigned long long)x->x[i],
                     (unsigned long long)y->x[i]);
            return buf;
        }
        if (x->f[i] != y->f[i]) {
            snprintf(buf, n, "f%d: %#llx vs %#llx", i, (unsigned long long)x->f[i],
                     (unsigned long long)y->f[i]);
            return buf;
        }
    }
#define DIFF_FIELD(name, vx, vy)                                                                   \
    if ((vx) != (vy)) {                                                                            \
        snprintf(buf, n, "%s: %#llx vs %#llx", name, (unsigned long long)(vx),                     \
                 (unsigned long long)(vy));                                                        \
        return buf;                                                                                \
    }
    DIFF_FIELD("pc", x->pc, y->pc);
    DIFF_FIELD("priv", x->priv, y->priv);
    DIFF_FIELD("mstatus", cx->mstatus, cy->mstatus);
    DIFF_FIELD("mepc", cx->mepc, cy->mepc);
    DIFF_FIELD("mcause", cx->mcause, cy->mcause);
    DIFF_FIELD("mtval", cx->mtval, cy->mtval);
    DIFF_FIELD("mscratch", cx->mscratch, cy->mscratch);
    DIFF_FIELD("fflags", cx->fflags, cy->fflags);
    DIFF_FIELD("frm", cx->frm, cy->frm);
    DIFF_FIELD("instret", x->vcpu->stats.instructions, y->vcpu->stats.instructions);
#undef DIFF_FIELD
    const uint8_t *dx = rig_ptr(a, DIFF_DATA - 2048), *dy = rig_ptr(b, DIFF_DATA - 2048);
    for (unsigned i = 0; i < 4096 + 8; i++)
        if (dx[i] != dy[i]) {
            snprintf(buf, n, "data byte at %#llx: %#x vs %#x",
                     (unsigned long long)(DIFF_DATA - 2048 + i), dx[i], dy[i]);
            return buf;
        }
    const uint8_t *kx = rig_ptr(a, DIFF_CODE), *ky = rig_ptr(b, DIFF_CODE);
    for (unsigned i = 0; i < 8192; i++)
        if (kx[i] != ky[i]) {
            snprintf(buf, n, "code byte at %#llx differs", (unsigned long long)(DIFF_CODE + i));
            return buf;
        }
    return NULL;
}

/* One program through both engines. Returns NULL or the difference. */
static inline const char *diff_one(struct diff_src *g, unsigned n_items, char *buf, size_t n)
{
    static struct diff_prog p; /* large: not on the stack */
    static struct rig ri, rj;
    diff_generate(g, &p, n_items);
    diff_rig(&ri, &p, 0);
    diff_rig(&rj, &p, 1);
    diff_run(&ri);
    diff_run(&rj);
    const char *why = diff_compare(&ri, &rj, buf, n);
    if (!why && ri.m.outcome.kind != VMM_OUTCOME_POWEROFF) {
        snprintf(buf, n, "did not reach the exit (outcome %d)", ri.m.outcome.kind);
        why = buf;
    }
    rig_destroy(&ri);
    rig_destroy(&rj);
    return why;
}

#endif
