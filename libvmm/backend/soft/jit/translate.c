/* The translator: one guest basic block (straight-line code up to a branch
 * or jump, an instruction that always ends the run, the end of the page or
 * RV_JIT_BLOCK_INSNS instructions) becomes one piece of x86-64 code.
 *
 * Register use in translated code:
 *   rbx  = &h->x[16]: guest x[i] is [rbx + 8*i - 128], one-byte offsets
 *   r12  = the CPU core's state (struct rv_cpu: TLB set pointers; its
 *          `jit` field leads to the translator's state, struct rv_jit:
 *          patch site, jump cache, the counters while C runs)
 *   r15  = the instruction budget, r14 = inline memory accesses (both kept
 *          in struct rv_jit while C runs: trampoline, exits, helper calls)
 *   rbp, r13, r8..r11, rdi = guest registers cached in host registers
 *          (write-through), kept across chained jumps (see "registers
 *          across blocks" below and doc/jit.md)
 *   rax, rcx, rdx, rsi = scratch; helpers are plain C calls (rdi, the
 *          first argument, is set last from pool registers, or after the
 *          others are read).
 * Guest registers live in struct rv_hart whenever anything can look, so
 * every exit, helper call and trap sees them as the interpreter leaves
 * them (a store may be put off only within a run of pure instructions).
 *
 * Layout of a block: the hot path (entry, the instructions, the exits as
 * patchable jumps) first, then its out-of-line code (TLB-miss calls, exit
 * stubs), written into a scratch buffer while the hot path is emitted and
 * copied after it, with the jumps between them fixed up at the end.
 *
 * Entry: loads of the registers the block reads first (its entry state),
 * then the fast entry, `sub r15, N; js out-of-budget`, where chained jumps
 * that leave those registers in place come in. The budget is charged for
 * the whole block up front; a helper that ends the block early gives back
 * what did not run (jit_internal.h). Each entry has at least 5 bytes
 * before the next, so a dropped block can have both overwritten by a
 * 5-byte jump to its "dead" stub, which sends whoever still jumps there
 * back to the lookup.
 *
 * Exits: a direct jump or branch to the same guest virtual page is a
 * `jmp/jcc rel32` to a stub that asks the dispatcher to translate the
 * target and patch the rel32 to it (chaining). Targets on other pages and
 * indirect jumps go through the jump cache (cache.c's shared probe, which
 * checks the fetch TLB still maps the target's page to the entry's
 * physical page) or else the dispatcher's lookup, so a chain never
 * survives a change of page mapping.
 */
#include <string.h>
#include <time.h>

#include "backend/soft/jit/emit.h"
#include "backend/soft/jit/jit_internal.h"

#define XOFF(i) ((int32_t)(8 * (int)(i)) - X_BIAS)
#define FOFF(i) ((int32_t)(offsetof(struct rv_hart, f) + 8 * (size_t)(i)) - X_BIAS)

/* What a fixup's rel32 field leads to: a position of the hot path, of the
 * out-of-line part, an absolute rw address; or (TO_SITE) not a jump but
 * the chain exit's data word: the hot-path position's offset from the
 * data that starts 8 bytes before the field (exit_stub). */
enum { TO_MAIN, TO_COLD, TO_ABS, TO_SITE };

struct fixup {
    uint8_t from_cold, to;
    uint32_t pos;    /* rel32 field in its buffer */
    uintptr_t target; /* offset in the target buffer, or an rw address */
};

#define MAX_FIXUPS 640

struct tr {
    struct rv_hart *h;
    struct rv_jit *j;
    struct jx_buf m, c; /* hot path (in the cache), out-of-line (scratch) */
    struct fixup fx[MAX_FIXUPS];
    unsigned nfx;
    int full;
    uint64_t vpage, vpc, gpage;
    /* chainable exits: rel32 field in the hot path, stub in the cold part */
    size_t site[2], stub[2];
    unsigned nsites;
    /* the register cache: guest register -> host register and back */
    int8_t host_of[33], guest_in[16];
    uint32_t last_use[16], stamp;
    /* the block's instructions and the one being emitted (for eviction) */
    const struct rv_insn *const *ins;
    unsigned n, k;
    /* the registers the block loads at its entry: guest register in pool
     * register i (-1: none); a jump whose registers match enters past the
     * loads (the block's fast entry). loops: the block ends with a jump
     * back to its own start. */
    int8_t entry_g[8];
    int loops;
    int8_t pref[33]; /* the host register a guest register goes to first */
    uint8_t dirty[16]; /* holds a value not stored to h->x yet (store_dead) */
    uint8_t load_slot[8], nloads; /* the entry's loads, in order: pool slots */
    int bmi2;         /* the host has rorx */
    int fma;          /* the host has FMA3 (translate_fp.inc) */
    int fs_dirty; /* mstatus.FS is known dirty here (checked, not changed since) */
    /* FP registers holding a double also kept in xmm4..xmm15 (write-through,
     * translate_fp.inc): which xmm holds f[i] (-1: none), and back */
    int8_t fx_of[32], fx_reg[16];
    uint32_t fx_use[16];
    /* the run of native F/D instructions being emitted (translate_fp.inc):
     * its end, the conditions it needs, its checks' jumps, and the
     * arguments of fpu.c calls for its out-of-line copy */
    unsigned fp_end, fp_need, fp_nchecks, fp_nrun;
    size_t fp_checks[3];
    const struct rv_insn *fp_copy[RV_JIT_BLOCK_INSNS];
    uint64_t fp_pc[RV_JIT_BLOCK_INSNS], fp_adj[RV_JIT_BLOCK_INSNS];
};

static void fix(struct tr *t, int from_cold, size_t pos, int to, uintptr_t target)
{
    if (t->nfx == MAX_FIXUPS) {
        t->full = 1;
        return;
    }
    t->fx[t->nfx++] = (struct fixup){ (uint8_t)from_cold, (uint8_t)to, (uint32_t)pos, target };
}

/* --- guest registers cached in host registers ---
 *
 * Guest registers read or written are kept in a pool of host registers,
 * write-through: every result is also stored to h->x at once, so the
 * memory copy is exact wherever something can look (a trap, a helper or
 * an exit never needs a write-back) while the chain of dependent
 * instructions runs register to register. A block's full entry loads the
 * registers it reads first; chained jumps that leave them in place enter
 * past those loads (registers across blocks: rv_jit_link_target). After a
 * helper call the registers it may have changed or clobbered are reloaded
 * or forgotten.
 */
static const int pool[] = { RBP, R13, R8, R9, R10, R11, RDI }; /* r14, r15: counters */
#define NPOOL ((int)(sizeof(pool) / sizeof(pool[0])))
_Static_assert(NPOOL <= 8, "a register state packs into 64 bits");

/* The integer registers an instruction reads and writes, for the
 * allocator's look-ahead (an approximation only costs speed: what is
 * emitted never depends on it for correctness). */
static void insn_regs(const struct rv_insn *in, unsigned *r1, unsigned *r2, unsigned *w)
{
    *r1 = *r2 = *w = 0;
    switch (rv_insn_op(in)) {
    case RV_OP_NOP: case RV_OP_FENCE: case RV_OP_LUI: case RV_OP_AUIPC: case RV_OP_JAL:
        break;
    case RV_OP_FP: { /* its rs1/rs2/rd are mostly FP registers */
        unsigned f7 = rv_insn_bits(in) >> 25;
        if ((rv_insn_bits(in) & 0x7f) != 0x53)
            return;
        if (f7 == 0x68 || f7 == 0x69 || f7 == 0x78 || f7 == 0x79) /* from x[rs1] */
            *r1 = in->rs1;
        else if (f7 == 0x50 || f7 == 0x51 || f7 == 0x60 || f7 == 0x61 || f7 == 0x70 ||
                 f7 == 0x71) /* to x[rd] */
            *w = in->rd;
        return;
    }
    case RV_OP_FLW: case RV_OP_FLD: case RV_OP_FSW: case RV_OP_FSD:
        *r1 = in->rs1;
        return;
    case RV_OP_BEQ: case RV_OP_BNE: case RV_OP_BLT: case RV_OP_BGE: case RV_OP_BLTU:
    case RV_OP_BGEU: case RV_OP_SB: case RV_OP_SH: case RV_OP_SW: case RV_OP_SD:
        *r1 = in->rs1;
        *r2 = in->rs2;
        return;
    default:
        *r1 = in->rs1;
        *r2 = in->rs2;
        break;
    }
    *w = in->rd < 32 ? in->rd : 0;
}

/* Operations translated inline with no call and no out-of-line path:
 * nothing can leave the block or read h->x while they run. */
static int pure_op(unsigned op)
{
    switch (op) {
    case RV_OP_NOP: case RV_OP_FENCE: case RV_OP_LUI: case RV_OP_AUIPC:
    case RV_OP_ADDI: case RV_OP_XORI: case RV_OP_ORI: case RV_OP_ANDI: case RV_OP_SLTI:
    case RV_OP_SLTIU: case RV_OP_SLLI: case RV_OP_SRLI: case RV_OP_SRAI: case RV_OP_ADD:
    case RV_OP_SUB: case RV_OP_XOR: case RV_OP_OR: case RV_OP_AND: case RV_OP_SLL:
    case RV_OP_SRL: case RV_OP_SRA: case RV_OP_SLT: case RV_OP_SLTU: case RV_OP_ADDIW:
    case RV_OP_SLLIW: case RV_OP_SRLIW: case RV_OP_SRAIW: case RV_OP_ADDW: case RV_OP_SUBW:
    case RV_OP_SLLW: case RV_OP_SRLW: case RV_OP_SRAW: case RV_OP_MUL: case RV_OP_MULW:
    case RV_OP_MULH: case RV_OP_MULHU:
        return 1;
    }
    return 0;
}

/* May the current instruction's write of guest register g skip its store
 * to h->x? Only when a later instruction overwrites g and everything up
 * to it is pure: nothing can observe h->x[g] in between (no exit, trap,
 * helper or out-of-line reload), so the memory copy is exact again at
 * every point something could look. The value stays in its host register,
 * marked dirty: evicting it stores it first. */
static int store_dead(const struct tr *t, unsigned g)
{
    if (g == 0 || g >= 32)
        return 0;
    switch (rv_insn_op(t->ins[t->k])) {
    case RV_OP_LB: case RV_OP_LH: case RV_OP_LW: case RV_OP_LD: case RV_OP_LBU:
    case RV_OP_LHU: case RV_OP_LWU: /* (its slow path stores rd itself) */
        break;
    default:
        if (!pure_op(rv_insn_op(t->ins[t->k])))
            return 0;
    }
    for (unsigned k = t->k + 1; k < t->n; k++) {
        if (!pure_op(rv_insn_op(t->ins[k])))
            return 0;
        unsigned r1, r2, w;
        insn_regs(t->ins[k], &r1, &r2, &w);
        if (w == g)
            return 1;
    }
    return 0;
}

#define NEVER 0xffffu

/* Where guest register g is next read after the current instruction
 * (NEVER: not before it is overwritten, or not in this block; a loop's
 * entry registers are read again at its start). */
static unsigned next_read(const struct tr *t, int g)
{
    for (unsigned k = t->k + 1; k < t->n; k++) {
        unsigned r1, r2, w;
        insn_regs(t->ins[k], &r1, &r2, &w);
        if ((int)r1 == g || (int)r2 == g)
            return k;
        if ((int)w == g)
            return NEVER;
    }
    if (t->loops)
        for (int i = 0; i < NPOOL; i++)
            if (t->entry_g[i] == g)
                return t->n;
    return NEVER;
}

/* The register state as a jump leaves it: byte i = guest register in
 * pool[i], 0xff for none (what rv_jblock.entry_state is matched with). */
static uint64_t pack_state(const struct tr *t)
{
    uint64_t v = ~0ULL;
    for (int i = 0; i < NPOOL; i++) {
        int g = t->guest_in[pool[i]];
        if (g >= 0) {
            v &= ~(0xffULL << (8 * i));
            v |= (uint64_t)(uint8_t)g << (8 * i);
        }
    }
    return v;
}

static int callee_saved(int r)
{
    return r == RBP || r == R13;
}

static void cache_reset(struct tr *t)
{
    for (int g = 0; g < 33; g++)
        t->host_of[g] = -1;
    for (int r = 0; r < 16; r++) {
        t->guest_in[r] = -1;
        t->last_use[r] = 0;
        t->dirty[r] = 0;
    }
    for (int g = 0; g < 33; g++)
        t->pref[g] = (int8_t)pool[g % NPOOL];
    for (int i = 0; i < 8; i++)
        t->entry_g[i] = -1;
}

/* A pool register for guest register g: its preferred one if that is
 * free, else a free one, else the preferred one if its value is dead, else the one (not used by the
 * current instruction) whose value is needed furthest ahead (nothing to
 * write back: the memory copy is exact). Keeping each guest register in
 * the same host register makes the state at a block's jumps match the
 * entry state of the block it goes to more often. */
static int alloc_reg(struct tr *t, unsigned g)
{
    int best = -1;
    int pr = t->pref[g];
    if (t->guest_in[pr] < 0)
        best = pr;
    for (int i = 0; best < 0 && i < NPOOL; i++)
        if (t->guest_in[pool[i]] < 0)
            best = pool[i];
    /* a dead value: gone only when nothing is free, since the next block
     * may want it where it is */
    if (best < 0 && t->last_use[pr] != t->stamp && next_read(t, t->guest_in[pr]) == NEVER)
        best = pr;
    if (best < 0) { /* (an instruction uses 3 at most: some candidate remains) */
        unsigned far = 0;
        for (int i = 0; i < NPOOL; i++) {
            int r = pool[i];
            if (t->last_use[r] == t->stamp)
                continue;
            unsigned d = next_read(t, t->guest_in[r]);
            if (best < 0 || d > far) {
                best = r;
                far = d;
            }
        }
    }
    if (t->guest_in[best] >= 0) {
        if (t->dirty[best]) /* its store was put off: do it now */
            jx_store(&t->m, 1, RBX, XOFF(t->guest_in[best]), best);
        t->host_of[t->guest_in[best]] = -1;
    }
    t->dirty[best] = 0;
    t->guest_in[best] = (int8_t)g;
    t->host_of[g] = (int8_t)best;
    t->last_use[best] = t->stamp;
    return best;
}

/* The host register holding guest register g (g != 0), loading it. */
static int get(struct tr *t, unsigned g)
{
    int r = t->host_of[g];
    if (r < 0) {
        r = alloc_reg(t, g);
        jx_load(&t->m, 1, r, RBX, XOFF(g));
    }
    t->last_use[r] = t->stamp;
    return r;
}

/* The block's entry: loads the registers it reads before writing them
 * (first read first, as many as the pool holds), each into its preferred
 * host register when free, and remembers where (entry_g, pref). */
static void preload(struct tr *t, uint64_t hint)
{
    uint64_t written = 0, seen = 0;
    unsigned list[NPOOL];
    int nload = 0;
    for (unsigned k = 0; k < t->n && nload < NPOOL; k++) {
        unsigned r[2], w;
        insn_regs(t->ins[k], &r[0], &r[1], &w);
        for (int i = 0; i < 2 && nload < NPOOL; i++) {
            unsigned g = r[i];
            if (g == 0 || (written >> g & 1) || (seen >> g & 1))
                continue;
            seen |= 1ULL << g;
            list[nload++] = g;
        }
        written |= 1ULL << w;
    }
    /* first those the jump that led here holds (they stay in place), then
     * the others: their preferred register unless that one is taken or
     * holds a register the jump leaves, else any free one */
    int held[16] = { 0 };
    for (int i = 0; i < NPOOL; i++)
        if ((hint >> (8 * i) & 0xff) != 0xff)
            held[pool[i]] = 1;
    for (int pass = 0; pass < 2; pass++)
        for (int n = 0; n < nload; n++) {
            unsigned g = list[n];
            int h = -1;
            for (int i = 0; i < NPOOL; i++)
                if ((hint >> (8 * i) & 0xff) == g)
                    h = pool[i];
            if ((h >= 0) != (pass == 0) || t->host_of[g] >= 0)
                continue;
            if (h < 0) {
                h = t->pref[g];
                if (t->guest_in[h] >= 0 || held[h]) {
                    h = -1;
                    for (int p = 0; p < NPOOL && h < 0; p++)
                        if (t->guest_in[pool[p]] < 0 && !held[pool[p]])
                            h = pool[p];
                    for (int p = 0; p < NPOOL && h < 0; p++)
                        if (t->guest_in[pool[p]] < 0)
                            h = pool[p];
                }
            }
            t->guest_in[h] = (int8_t)g;
            t->host_of[g] = (int8_t)h;
            t->pref[g] = (int8_t)h;
            for (int i = 0; i < NPOOL; i++)
                if (pool[i] == h)
                    t->load_slot[t->nloads++] = (uint8_t)i;
            jx_load(&t->m, 1, h, RBX, XOFF(g)); /* 4 bytes: rv_jit_link_target */
        }
    for (int i = 0; i < NPOOL; i++)
        t->entry_g[i] = t->guest_in[pool[i]];
}

/* Stores every value whose store was put off (store_dead). Run before
 * any instruction that is not pure and at the block's end: by the way
 * store_dead decides, there is none then; this keeps it so regardless. */
static void flush_dirty(struct tr *t)
{
    for (int i = 0; i < NPOOL; i++) {
        int r = pool[i];
        if (t->dirty[r] && t->guest_in[r] >= 0)
            jx_store(&t->m, 1, RBX, XOFF(t->guest_in[r]), r);
        t->dirty[r] = 0;
    }
}

/* Before a jump: bring the registers to the entry state `want` of the
 * block it goes to (from memory, which is exact, or another host
 * register), so the link enters past that block's loads with no stub. */
static void restore_to(struct tr *t, const int8_t *want)
{
    for (int i = 0; i < NPOOL; i++) {
        int g = want[i], r = pool[i];
        if (g < 0 || t->guest_in[r] == g)
            continue;
        if (t->guest_in[r] >= 0)
            t->host_of[t->guest_in[r]] = -1;
        int from = t->host_of[g];
        if (from >= 0) {
            jx_mov_rr(&t->m, r, from);
            t->guest_in[from] = -1;
        } else {
            jx_load(&t->m, 1, r, RBX, XOFF(g));
        }
        t->guest_in[r] = (int8_t)g;
        t->host_of[g] = (int8_t)r;
    }
}

/* The entry state of the block a direct jump to `target` enters, when
 * known now: this block's own (a loop) or that of a block of this page
 * already translated (a later link to another block of that address
 * still checks). Returns 0 when unknown. */
static int target_state(struct tr *t, uint64_t target, int8_t *want)
{
    if ((target & ~0xfffULL) != t->vpage)
        return 0; /* not chained: through the jump cache */
    if (target == t->vpc && t->loops) {
        memcpy(want, t->entry_g, sizeof(t->entry_g));
        return 1;
    }
    const struct rv_jblock *b = rv_jit_lookup(t->j, target, t->gpage);
    if (!b)
        return 0;
    for (int i = 0; i < 8; i++) {
        unsigned g = (unsigned)(b->entry_state >> (8 * i) & 0xff);
        want[i] = g == 0xff ? -1 : (int8_t)g;
    }
    return 1;
}

/* Guest register g read once, without taking a pool register: its host
 * register, or `scratch` loaded (cleared for x0). */
static int peek(struct tr *t, unsigned g, int scratch)
{
    if (g == 0) {
        jx_alu_rr(&t->m, 0, ALU_XOR, scratch, scratch);
        return scratch;
    }
    if (t->host_of[g] >= 0)
        return t->host_of[g];
    jx_load(&t->m, 1, scratch, RBX, XOFF(g));
    return scratch;
}

/* Guest register g as an operand: its host register, or `zero` cleared for x0. */
static int opnd(struct tr *t, unsigned g, int zero)
{
    if (g == 0) {
        jx_alu_rr(&t->m, 0, ALU_XOR, zero, zero);
        return zero;
    }
    return get(t, g);
}

/* rd = src: stored to h->x and kept in rd's host register. */
static void commit(struct tr *t, unsigned g, int src)
{
    int dead = store_dead(t, g);
    if (!dead)
        jx_store(&t->m, 1, RBX, XOFF(g), src);
    if (g == RV_REG_SINK)
        return;
    int r = t->host_of[g];
    if (r < 0)
        r = alloc_reg(t, g);
    t->last_use[r] = t->stamp;
    jx_mov_rr(&t->m, r, src);
    t->dirty[r] = (uint8_t)dead;
}

/* The host register rd's new value is computed in (rax for the sink):
 * rd's own if cached, else a newly allocated one. Take the operands
 * first (they are then safe from eviction), and commit_dst after. */
static int dest(struct tr *t, unsigned g)
{
    if (g == 0 || g == RV_REG_SINK)
        return RAX;
    int r = t->host_of[g];
    if (r < 0)
        r = alloc_reg(t, g);
    t->last_use[r] = t->stamp;
    return r;
}

/* rd's new value, already in its host register d, goes to h->x. */
static void commit_dst(struct tr *t, unsigned g, int d)
{
    if (d != RAX && store_dead(t, g)) {
        t->dirty[d] = 1;
        return;
    }
    jx_store(&t->m, 1, RBX, XOFF(g == 0 ? RV_REG_SINK : g), d);
    t->dirty[d] = 0;
}

/* After a call: forget what the callee may have clobbered (all = 1: and
 * what it may have written to h->x, i.e. everything). */
static void cache_forget(struct tr *t, int all)
{
    for (int i = 0; i < NPOOL; i++) {
        int r = pool[i];
        if (t->guest_in[r] >= 0 && (all || !callee_saved(r))) {
            t->host_of[t->guest_in[r]] = -1;
            t->guest_in[r] = -1;
        }
    }
}

/* Out of line, after a helper call that returns to the hot path: reload
 * every cached register (FP ones too: the call clobbered every xmm), so
 * the hot path's cache state holds again. */
static void cache_reload_fp_cold(struct tr *t)
{
    for (int x = 0; x < 16; x++)
        if (t->fx_reg[x] >= 0) /* movsd xmm, [f] */
            jx_sse_m(&t->c, 0xf2, 0x10, x, RBX, FOFF(t->fx_reg[x]));
}

static void cache_reload_cold(struct tr *t)
{
    for (int i = 0; i < NPOOL; i++) {
        int r = pool[i];
        if (t->guest_in[r] >= 0)
            jx_load(&t->c, 1, r, RBX, XOFF(t->guest_in[r]));
    }
    cache_reload_fp_cold(t);
}

static void call_fn(struct jx_buf *b, const void *fn)
{
    jx_mov_imm(b, RAX, (uint64_t)(uintptr_t)fn);
    jx_call_r(b, RAX);
}

/* test eax, eax; jnz exit (the helper ended the run; eax is the reason). */
static void exit_if_nonzero(struct tr *t, int cold)
{
    struct jx_buf *b = cold ? &t->c : &t->m;
    jx_test_rr(b, 0, RAX, RAX);
    fix(t, cold, jx_jcc32(b, CC_NE), TO_ABS, (uintptr_t)t->j->cache.exit_rw);
}

/* An out-of-line stub that leaves for guest pc `target`; the hot-path
 * rel32 at `field` jumps to it. Same-page targets ask to be chained. */
static void exit_stub(struct tr *t, size_t field, uint64_t target)
{
    int chain = (target & ~0xfffULL) == t->vpage;
    size_t stub = jx_pos(&t->c);
    fix(t, 0, field, TO_COLD, stub);
    jx_mov_imm(&t->c, RAX, target);
    if (!chain) { /* another page: through the jump cache */
        fix(t, 1, jx_jmp32(&t->c), TO_ABS, (uintptr_t)t->j->cache.ijmp_rw);
        return;
    }
    if (t->nsites < 2) {
        t->site[t->nsites] = field;
        t->stub[t->nsites++] = stub;
    } else {
        t->full = 1;
    }
    /* the shared chain exit reads what follows the call: the registers the
     * jump leaves (which entry the link may take) and the patch site */
    fix(t, 1, jx_call32(&t->c), TO_ABS, (uintptr_t)t->j->cache.chain_rw);
    jx_u64(&t->c, pack_state(t));
    fix(t, 1, jx_pos(&t->c), TO_SITE, field);
    jx_u32(&t->c, 0);
}

static void goto_pc(struct tr *t, uint64_t target)
{
    exit_stub(t, jx_jmp32(&t->m), target);
}

/* rdi = h */
static void arg_h(struct jx_buf *b)
{
    jx_lea(b, RDI, RBX, -X_BIAS);
}

/* A copy of *in the step helper can read as long as the block lives. */
static const struct rv_insn *insn_copy(struct tr *t, const struct rv_insn *in)
{
    struct rv_jit *j = t->j;
    if (j->ninsn == RV_JIT_INSN_POOL) {
        t->full = 1;
        return in;
    }
    struct rv_insn *copy = &j->insn_pool[j->ninsn++];
    *copy = *in;
    return copy;
}

/* The universal path: the step helper runs the instruction. */
static void emit_step(struct tr *t, const struct rv_insn *in, uint64_t pc, uint64_t adj)
{
    const struct rv_insn *copy = insn_copy(t, in);
    arg_h(&t->m);
    jx_mov_imm(&t->m, RSI, (uint64_t)(uintptr_t)copy);
    jx_mov_imm(&t->m, RDX, pc);
    jx_mov_imm(&t->m, RCX, adj);
    rv_jcache_emit_helper_call(&t->m, (const void *)rv_jh_step);
    cache_forget(t, 1);
    exit_if_nonzero(t, 0);
}

#include "backend/soft/jit/translate_fp.inc"

/* Effective address rs1 + imm into *va (rs1's own host register when imm
 * is 0, else rsi), and the TLB entry for it into rax (from the set at
 * rv_cpu offset `set_off`); compares the tag and returns the jump taken
 * when it does not match. rax ends as the entry's addend. The slow paths
 * move *va to rsi (before rdi, which may be *va, is written). */
static size_t emit_tlb_probe(struct tr *t, const struct rv_insn *in, unsigned size,
                             int32_t set_off, int *va)
{
    struct jx_buf *b = &t->m;
    int a = RSI;
    if (in->rs1 == 0)
        jx_mov_imm(b, RSI, (uint64_t)(int64_t)in->imm);
    else if (in->imm == 0)
        a = get(t, in->rs1);
    else
        jx_lea(b, RSI, get(t, in->rs1), in->imm);
    *va = a;
    /* (va >> 12 & (RV_TLB_SIZE - 1)) * sizeof(struct rv_tlbe) */
    if (t->bmi2) { /* one instruction less than a copy and a shift */
        jx_rorx(b, RAX, a, 12 - 4);
    } else {
        jx_mov_rr(b, RAX, a);
        jx_shift_ri(b, 0, SH_SHR, RAX, 12 - 4);
    }
    jx_alu_ri(b, 0, ALU_AND, RAX, (RV_TLB_SIZE - 1) << 4);
    jx_alu_rm(b, 1, ALU_ADD, RAX, R12, set_off);
    jx_mov_rr(b, RDX, a);
    jx_alu_ri(b, 1, ALU_AND, RDX, (int32_t)(~0xfffLL | (int64_t)(size - 1)));
    jx_alu_rm(b, 1, ALU_CMP, RDX, RAX, 0);
    size_t miss = jx_jcc32(b, CC_NE);
    jx_load(b, 1, RAX, RAX, 8); /* addend */
    return miss;
}

_Static_assert(sizeof(struct rv_tlbe) == 16, "TLB entry is 16 bytes");
_Static_assert(offsetof(struct rv_jit, budget) == RV_JIT_BUDGET_OFF &&
                   offsetof(struct rv_jit, patch_site) == RV_JIT_PATCH_OFF &&
                   offsetof(struct rv_jit, memops) == RV_JIT_MEMOPS_OFF &&
                   offsetof(struct rv_jit, runs) == RV_JIT_RUNS_OFF &&
                   offsetof(struct rv_jit, xstate) == RV_JIT_XSTATE_OFF &&
                   offsetof(struct rv_jit, jc) == RV_JIT_JC_OFF && sizeof(struct rv_jc_entry) == 32,
               "translated code's view of struct rv_jit");

/* FLW/FLD/FSW/FSD: inline when the FP state is already dirty (else the
 * step helper sets it, or raises illegal-instruction) and the TLB hits;
 * everything else out of line through the step helper. */
static void emit_fmem(struct tr *t, const struct rv_insn *in, uint64_t pc, uint64_t adj,
                      unsigned size, int store)
{
    const struct rv_insn *copy = insn_copy(t, in);
    struct jx_buf *b = &t->m;
    if (in->rs1)
        get(t, in->rs1); /* loaded before the branches: both paths have it */
    size_t not_dirty = 0;
    if (!t->fs_dirty) {
        jx_load(b, 0, RAX, R12, (int32_t)offsetof(struct rv_cpu, mstatus));
        jx_alu_ri(b, 0, ALU_AND, RAX, (int32_t)MSTATUS_FS);
        jx_alu_ri(b, 0, ALU_CMP, RAX, (int32_t)MSTATUS_FS);
        not_dirty = jx_jcc32(b, CC_NE);
        /* dirty after a load on both paths (the step helper on the other
         * makes it so, or traps); a store leaves FS as it was */
        t->fs_dirty = !store;
    }
    if (store)
        jx_load(b, 1, RCX, RBX, FOFF(in->rs2));
    int va;
    size_t miss = emit_tlb_probe(t, in, size,
                                 (int32_t)(store ? offsetof(struct rv_cpu, stlb)
                                                 : offsetof(struct rv_cpu, ltlb)), &va);
    if (store) {
        jx_store_sized(b, RAX, va, size, RCX);
    } else {
        jx_load_ext(b, RAX, RAX, va, size, 0);
        if (size == 4) { /* NaN-boxed single */
            jx_mov_imm(b, RCX, 0xffffffff00000000ULL);
            jx_alu_rr(b, 1, ALU_OR, RAX, RCX);
        }
        jx_store(b, 1, RBX, FOFF(in->rd), RAX);
        if (size == 8) /* a double: kept in an xmm too (translate_fp.inc) */
            fx_keep_gpr(t, in->rd, RAX);
        else
            fx_drop(t, in->rd);
    }
    size_t back = jx_pos(b);
    size_t cold = jx_pos(&t->c);
    if (not_dirty)
        fix(t, 0, not_dirty, TO_COLD, cold);
    fix(t, 0, miss, TO_COLD, cold);
    arg_h(&t->c);
    jx_mov_imm(&t->c, RSI, (uint64_t)(uintptr_t)copy);
    jx_mov_imm(&t->c, RDX, pc);
    jx_mov_imm(&t->c, RCX, adj);
    rv_jcache_emit_helper_call(&t->c, (const void *)rv_jh_step);
    exit_if_nonzero(t, 1);
    cache_reload_cold(t);
    fix(t, 1, jx_jmp32(&t->c), TO_MAIN, back);
}

static void emit_load(struct tr *t, const struct rv_insn *in, uint64_t pc, uint64_t adj,
                      unsigned size, int sign)
{
    int va;
    size_t miss = emit_tlb_probe(t, in, size, (int32_t)offsetof(struct rv_cpu, ltlb), &va);
    int d = dest(t, in->rd);
    jx_load_ext(&t->m, d, RAX, va, size, sign);
    commit_dst(t, in->rd, d);
    size_t back = jx_pos(&t->m);
    /* miss, MMIO, misaligned: the shared slow path (cache.c), which
     * keeps the other registers; the helper wrote rd to h->x */
    fix(t, 0, miss, TO_COLD, jx_pos(&t->c));
    if (va != RSI)
        jx_mov_rr(&t->c, RSI, va);
    jx_mov_imm(&t->c, RCX, pc);
    jx_mov_imm(&t->c, RAX, RV_JH_INFO(adj, size, sign, rv_insn_len(in), in->rd));
    fix(t, 1, jx_call32(&t->c), TO_ABS, (uintptr_t)t->j->cache.load_rw);
    if (d != RAX)
        jx_load(&t->c, 1, d, RBX, XOFF(in->rd));
    cache_reload_fp_cold(t);
    fix(t, 1, jx_jmp32(&t->c), TO_MAIN, back);
}

static void emit_store(struct tr *t, const struct rv_insn *in, uint64_t pc, uint64_t adj,
                       unsigned size)
{
    /* the value first: the out-of-line path needs it loaded too */
    int v = opnd(t, in->rs2, RCX);
    int va;
    size_t miss = emit_tlb_probe(t, in, size, (int32_t)offsetof(struct rv_cpu, stlb), &va);
    jx_store_sized(&t->m, RAX, va, size, v);
    size_t back = jx_pos(&t->m);
    /* miss, MMIO, misaligned, a page holding code: the shared slow path */
    fix(t, 0, miss, TO_COLD, jx_pos(&t->c));
    if (in->rs2 == 0)
        jx_alu_rr(&t->c, 0, ALU_XOR, RDX, RDX);
    else
        jx_mov_rr(&t->c, RDX, v); /* before rsi (maybe v) is written */
    if (va != RSI)
        jx_mov_rr(&t->c, RSI, va);
    jx_mov_imm(&t->c, RCX, pc);
    jx_mov_imm(&t->c, RAX, RV_JH_INFO(adj, size, 0, rv_insn_len(in), 0));
    fix(t, 1, jx_call32(&t->c), TO_ABS, (uintptr_t)t->j->cache.store_rw);
    cache_reload_fp_cold(t);
    fix(t, 1, jx_jmp32(&t->c), TO_MAIN, back);
}

/* rax = guest register g (0 for x0) */
static void to_rax(struct tr *t, unsigned g)
{
    if (g == 0)
        jx_alu_rr(&t->m, 0, ALU_XOR, RAX, RAX);
    else
        jx_mov_rr(&t->m, RAX, get(t, g));
}

/* rd = rs1 OP imm (64-bit), computed in rd's host register */
static void emit_alu_imm(struct tr *t, const struct rv_insn *in, enum jx_alu op)
{
    if (in->rs1 == 0) { /* li and friends: a constant */
        int64_t imm = in->imm;
        uint64_t v = op == ALU_AND ? 0 : (uint64_t)imm;
        int d = dest(t, in->rd);
        jx_mov_imm(&t->m, d, v);
        commit_dst(t, in->rd, d);
        return;
    }
    int a = get(t, in->rs1);
    int d = dest(t, in->rd);
    if (op == ALU_ADD) {
        if (d != a || in->imm)
            jx_lea(&t->m, d, a, in->imm);
    } else {
        if (d != a)
            jx_mov_rr(&t->m, d, a);
        jx_alu_ri(&t->m, 1, op, d, in->imm);
    }
    commit_dst(t, in->rd, d);
}

static void emit_alu_reg(struct tr *t, const struct rv_insn *in, enum jx_alu op, int w)
{
    int commutes = op == ALU_ADD || op == ALU_OR || op == ALU_XOR || op == ALU_AND;
    if (w && in->rs1 == 0 && op != ALU_SUB && op != ALU_AND) { /* mv: rd = 0 op rs2 */
        int b = opnd(t, in->rs2, RCX);
        int d = dest(t, in->rd);
        if (d != b)
            jx_mov_rr(&t->m, d, b);
        commit_dst(t, in->rd, d);
        return;
    }
    int b = opnd(t, in->rs2, RCX);
    int a = opnd(t, in->rs1, RAX);
    if (op == ALU_ADD) { /* lea: three operands, no copy first */
        int d = dest(t, in->rd);
        if (w) {
            jx_lea_bi(&t->m, 1, d, a, b);
        } else {
            jx_lea_bi(&t->m, 0, RAX, a, b);
            jx_movsxd(&t->m, d, RAX);
        }
        commit_dst(t, in->rd, d);
        return;
    }
    if (w) {
        int d = dest(t, in->rd);
        if (d == b && d != a) {
            if (commutes) {
                jx_alu_rr(&t->m, 1, op, d, a);
            } else {
                jx_mov_rr(&t->m, RAX, a);
                jx_alu_rr(&t->m, 1, op, RAX, b);
                jx_mov_rr(&t->m, d, RAX);
            }
        } else {
            if (d != a)
                jx_mov_rr(&t->m, d, a);
            jx_alu_rr(&t->m, 1, op, d, b);
        }
        commit_dst(t, in->rd, d);
        return;
    }
    if (a != RAX)
        jx_mov_rr(&t->m, RAX, a);
    jx_alu_rr(&t->m, 0, op, RAX, b);
    int d = dest(t, in->rd);
    jx_movsxd(&t->m, d, RAX);
    commit_dst(t, in->rd, d);
}

static void emit_shift_imm(struct tr *t, const struct rv_insn *in, enum jx_shift op, int w)
{
    int a = opnd(t, in->rs1, RAX);
    if (w) {
        int d = dest(t, in->rd);
        if (d != a)
            jx_mov_rr(&t->m, d, a);
        jx_shift_ri(&t->m, 1, op, d, (uint8_t)in->imm);
        commit_dst(t, in->rd, d);
        return;
    }
    if (a != RAX)
        jx_mov_rr(&t->m, RAX, a);
    jx_shift_ri(&t->m, 0, op, RAX, (uint8_t)in->imm);
    int d = dest(t, in->rd);
    jx_movsxd(&t->m, d, RAX);
    commit_dst(t, in->rd, d);
}

static void emit_shift_reg(struct tr *t, const struct rv_insn *in, enum jx_shift op, int w)
{
    int b = opnd(t, in->rs2, RCX);
    if (b != RCX)
        jx_mov_rr(&t->m, RCX, b);
    to_rax(t, in->rs1);
    jx_shift_rcl(&t->m, w, op, RAX); /* x86 masks the count as RISC-V does */
    if (!w)
        jx_movsxd(&t->m, RAX, RAX);
    commit(t, in->rd, RAX);
}

static void emit_set(struct tr *t, const struct rv_insn *in, enum jx_cc cc, int imm)
{
    int a = opnd(t, in->rs1, RAX);
    int b = imm ? -1 : opnd(t, in->rs2, RDX);
    jx_alu_rr(&t->m, 0, ALU_XOR, RCX, RCX);
    if (imm)
        jx_alu_ri(&t->m, 1, ALU_CMP, a, in->imm);
    else
        jx_alu_rr(&t->m, 1, ALU_CMP, a, b);
    jx_setcc(&t->m, cc, RCX);
    commit(t, in->rd, RCX);
}

static void emit_muldiv_call(struct tr *t, const struct rv_insn *in)
{
    int a = opnd(t, in->rs1, RAX);
    int b = opnd(t, in->rs2, RSI);
    if (b != RSI) /* before rdi (maybe b: a pool register) is written */
        jx_mov_rr(&t->m, RSI, b);
    if (a != RDI)
        jx_mov_rr(&t->m, RDI, a);
    jx_mov_imm(&t->m, RDX, rv_insn_op(in));
    call_fn(&t->m, (const void *)rv_jh_muldiv);
    cache_forget(t, 0);
    commit(t, in->rd, RAX);
}

/* DIV/DIVU/REM/REMU and their W forms on the host's divider; a zero
 * divisor and -1 (signed: the one overflow case) take the C helper. */
static void emit_div(struct tr *t, const struct rv_insn *in)
{
    unsigned op = rv_insn_op(in);
    int w = op == RV_OP_DIV || op == RV_OP_DIVU || op == RV_OP_REM || op == RV_OP_REMU;
    int sign = op == RV_OP_DIV || op == RV_OP_REM || op == RV_OP_DIVW || op == RV_OP_REMW;
    int rem = op == RV_OP_REM || op == RV_OP_REMU || op == RV_OP_REMW || op == RV_OP_REMUW;
    struct jx_buf *b = &t->m;
    int a = opnd(t, in->rs1, RAX); /* both loaded before the branches */
    int d = opnd(t, in->rs2, RSI);
    jx_mov_rr(b, RCX, d);
    jx_test_rr(b, w, RCX, RCX);
    size_t zero = jx_jcc32(b, CC_E), minus1 = 0;
    if (sign) {
        jx_alu_ri(b, w, ALU_CMP, RCX, -1);
        minus1 = jx_jcc32(b, CC_E);
    }
    jx_mov_rr(b, RAX, a);
    if (sign)
        jx_cqo(b, w);
    else
        jx_alu_rr(b, 0, ALU_XOR, RDX, RDX);
    jx_div_r(b, w, sign, RCX);
    int res = rem ? RDX : RAX;
    if (!w)
        jx_movsxd(b, res, res);
    commit(t, in->rd, res);
    size_t back = jx_pos(b);
    size_t cold = jx_pos(&t->c);
    fix(t, 0, zero, TO_COLD, cold);
    if (sign)
        fix(t, 0, minus1, TO_COLD, cold);
    jx_mov_rr(&t->c, RSI, RCX); /* the divisor, before rdi (maybe d) is written */
    if (a != RDI)
        jx_mov_rr(&t->c, RDI, a);
    jx_mov_imm(&t->c, RDX, op);
    call_fn(&t->c, (const void *)rv_jh_muldiv);
    jx_store(&t->c, 1, RBX, XOFF(in->rd), RAX);
    cache_reload_cold(t);
    fix(t, 1, jx_jmp32(&t->c), TO_MAIN, back);
}

static void emit_branch(struct tr *t, const struct rv_insn *in, uint64_t pc, enum jx_cc cc)
{
    uint64_t to = pc + (uint64_t)(int64_t)in->imm, next = pc + rv_insn_len(in);
    int8_t want[8];
    /* a loop's back edge is the hot side: its moves go before the compare
     * (both sides); the fall-through side's go after the jcc (its own) */
    if (t->loops && to == t->vpc)
        restore_to(t, t->entry_g);
    int a = peek(t, in->rs1, RAX); /* the block ends: no point caching them */
    if (in->rs2 == 0 && in->rs1 != 0) { /* flags of a - 0: those of a test */
        jx_test_rr(&t->m, 1, a, a);
    } else {
        int b = peek(t, in->rs2, RDX);
        jx_alu_rr(&t->m, 1, ALU_CMP, a, b);
    }
    exit_stub(t, jx_jcc32(&t->m, cc), to);
    if (target_state(t, next, want))
        restore_to(t, want);
    exit_stub(t, jx_jmp32(&t->m), next);
}

/* Does this operation always end the run (the step helper returns 1)? */
static int ends_run(unsigned op)
{
    switch (op) {
    case RV_OP_ILLEGAL: case RV_OP_ECALL: case RV_OP_EBREAK: case RV_OP_MRET:
    case RV_OP_SRET: case RV_OP_WFI: case RV_OP_SFENCE_VMA: case RV_OP_FENCE_I:
        return 1;
    }
    return 0;
}

static int is_memop(unsigned op)
{
    return op >= RV_OP_LB && op <= RV_OP_SD;
}

static int is_jump(unsigned op)
{
    return (op >= RV_OP_JAL && op <= RV_OP_BGEU);
}

/* Emits one instruction; returns 1 when it ended the block (a jump). */
static int emit_insn(struct tr *t, const struct rv_insn *in, uint64_t pc, uint64_t adj)
{
    struct jx_buf *b = &t->m;
    int8_t want[8];
    t->stamp++;
    if (!pure_op(rv_insn_op(in)))
        flush_dirty(t);
    if (!keeps_fs_dirty(t, in)) { /* (and no C call on the hot path) */
        t->fs_dirty = 0;
        fx_reset(t);
    }
    switch (rv_insn_op(in)) {
    case RV_OP_NOP:
    case RV_OP_FENCE: return 0;
    case RV_OP_LUI:
        jx_mov_imm(b, RAX, (uint64_t)(int64_t)in->imm);
        commit(t, in->rd, RAX);
        return 0;
    case RV_OP_AUIPC:
        jx_mov_imm(b, RAX, pc + (uint64_t)(int64_t)in->imm);
        commit(t, in->rd, RAX);
        return 0;
    case RV_OP_JAL:
        if (in->rd != RV_REG_SINK) {
            jx_mov_imm(b, RAX, pc + rv_insn_len(in));
            commit(t, in->rd, RAX);
        }
        if (target_state(t, pc + (uint64_t)(int64_t)in->imm, want))
            restore_to(t, want);
        goto_pc(t, pc + (uint64_t)(int64_t)in->imm);
        return 1;
    case RV_OP_JALR:
        to_rax(t, in->rs1);
        if (in->imm)
            jx_alu_ri(b, 1, ALU_ADD, RAX, in->imm);
        jx_alu_ri(b, 1, ALU_AND, RAX, -2);
        if (in->rd != RV_REG_SINK) {
            jx_mov_imm(b, RCX, pc + rv_insn_len(in));
            commit(t, in->rd, RCX);
        }
        fix(t, 0, jx_jmp32(b), TO_ABS, (uintptr_t)t->j->cache.ijmp_rw); /* stores pc */
        return 1;
    case RV_OP_BEQ: emit_branch(t, in, pc, CC_E); return 1;
    case RV_OP_BNE: emit_branch(t, in, pc, CC_NE); return 1;
    case RV_OP_BLT: emit_branch(t, in, pc, CC_L); return 1;
    case RV_OP_BGE: emit_branch(t, in, pc, CC_GE); return 1;
    case RV_OP_BLTU: emit_branch(t, in, pc, CC_B); return 1;
    case RV_OP_BGEU: emit_branch(t, in, pc, CC_AE); return 1;
    case RV_OP_LB: emit_load(t, in, pc, adj, 1, 1); return 0;
    case RV_OP_LH: emit_load(t, in, pc, adj, 2, 1); return 0;
    case RV_OP_LW: emit_load(t, in, pc, adj, 4, 1); return 0;
    case RV_OP_LD: emit_load(t, in, pc, adj, 8, 0); return 0;
    case RV_OP_LBU: emit_load(t, in, pc, adj, 1, 0); return 0;
    case RV_OP_LHU: emit_load(t, in, pc, adj, 2, 0); return 0;
    case RV_OP_LWU: emit_load(t, in, pc, adj, 4, 0); return 0;
    case RV_OP_SB: emit_store(t, in, pc, adj, 1); return 0;
    case RV_OP_SH: emit_store(t, in, pc, adj, 2); return 0;
    case RV_OP_SW: emit_store(t, in, pc, adj, 4); return 0;
    case RV_OP_SD: emit_store(t, in, pc, adj, 8); return 0;
    case RV_OP_ADDI: emit_alu_imm(t, in, ALU_ADD); return 0;
    case RV_OP_XORI: emit_alu_imm(t, in, ALU_XOR); return 0;
    case RV_OP_ORI: emit_alu_imm(t, in, ALU_OR); return 0;
    case RV_OP_ANDI: emit_alu_imm(t, in, ALU_AND); return 0;
    case RV_OP_SLTI: emit_set(t, in, CC_L, 1); return 0;
    case RV_OP_SLTIU: emit_set(t, in, CC_B, 1); return 0;
    case RV_OP_SLLI: emit_shift_imm(t, in, SH_SHL, 1); return 0;
    case RV_OP_SRLI: emit_shift_imm(t, in, SH_SHR, 1); return 0;
    case RV_OP_SRAI: emit_shift_imm(t, in, SH_SAR, 1); return 0;
    case RV_OP_ADD: emit_alu_reg(t, in, ALU_ADD, 1); return 0;
    case RV_OP_SUB: emit_alu_reg(t, in, ALU_SUB, 1); return 0;
    case RV_OP_XOR: emit_alu_reg(t, in, ALU_XOR, 1); return 0;
    case RV_OP_OR: emit_alu_reg(t, in, ALU_OR, 1); return 0;
    case RV_OP_AND: emit_alu_reg(t, in, ALU_AND, 1); return 0;
    case RV_OP_SLL: emit_shift_reg(t, in, SH_SHL, 1); return 0;
    case RV_OP_SRL: emit_shift_reg(t, in, SH_SHR, 1); return 0;
    case RV_OP_SRA: emit_shift_reg(t, in, SH_SAR, 1); return 0;
    case RV_OP_SLT: emit_set(t, in, CC_L, 0); return 0;
    case RV_OP_SLTU: emit_set(t, in, CC_B, 0); return 0;
    case RV_OP_ADDIW: {
        int a = opnd(t, in->rs1, RAX);
        if (in->imm) {
            jx_lea(b, RAX, a, in->imm); /* the upper half is dropped next */
            a = RAX;
        }
        int d = dest(t, in->rd);
        jx_movsxd(b, d, a);
        commit_dst(t, in->rd, d);
        return 0;
    }
    case RV_OP_SLLIW: emit_shift_imm(t, in, SH_SHL, 0); return 0;
    case RV_OP_SRLIW: emit_shift_imm(t, in, SH_SHR, 0); return 0;
    case RV_OP_SRAIW: emit_shift_imm(t, in, SH_SAR, 0); return 0;
    case RV_OP_ADDW: emit_alu_reg(t, in, ALU_ADD, 0); return 0;
    case RV_OP_SUBW: emit_alu_reg(t, in, ALU_SUB, 0); return 0;
    case RV_OP_SLLW: emit_shift_reg(t, in, SH_SHL, 0); return 0;
    case RV_OP_SRLW: emit_shift_reg(t, in, SH_SHR, 0); return 0;
    case RV_OP_SRAW: emit_shift_reg(t, in, SH_SAR, 0); return 0;
    case RV_OP_MUL:
    case RV_OP_MULW: {
        int w = rv_insn_op(in) == RV_OP_MUL;
        int m = opnd(t, in->rs2, RCX);
        to_rax(t, in->rs1);
        jx_imul_rr(b, w, RAX, m);
        if (!w)
            jx_movsxd(b, RAX, RAX);
        commit(t, in->rd, RAX);
        return 0;
    }
    case RV_OP_MULH:
    case RV_OP_MULHU: {
        int m = opnd(t, in->rs2, RCX);
        to_rax(t, in->rs1);
        jx_mul_r(b, rv_insn_op(in) == RV_OP_MULH, m);
        commit(t, in->rd, RDX);
        return 0;
    }
    case RV_OP_MULHSU:
        emit_muldiv_call(t, in);
        return 0;
    case RV_OP_DIV: case RV_OP_DIVU: case RV_OP_REM: case RV_OP_REMU:
    case RV_OP_DIVW: case RV_OP_DIVUW: case RV_OP_REMW: case RV_OP_REMUW:
        emit_div(t, in);
        return 0;
    case RV_OP_FP: emit_fp(t, in, pc, adj); return 0;
    case RV_OP_FLW: emit_fmem(t, in, pc, adj, 4, 0); return 0;
    case RV_OP_FLD: emit_fmem(t, in, pc, adj, 8, 0); return 0;
    case RV_OP_FSW: emit_fmem(t, in, pc, adj, 4, 1); return 0;
    case RV_OP_FSD: emit_fmem(t, in, pc, adj, 8, 1); return 0;
    default:
        emit_step(t, in, pc, adj);
        return 0;
    }
}

/* The decoded instruction at byte offset off of the page, decoding it into
 * the shared decode cache if needed (as the interpreter's DECODE does).
 * NULL for an instruction that crosses into the next page. */
const struct rv_insn *rv_jit_insn_at(struct rv_cpu *c, struct rv_dpage *dp, unsigned off)
{
    struct rv_insn *in = &dp->insn[off >> 1];
    rv_dc_prefault(c, dp, off); /* (counts the host page for the budget) */
    if (rv_insn_op(in) == RV_OP_DECODE) {
        uint16_t lo;
        memcpy(&lo, dp->host + off, 2);
        if ((lo & 3) != 3) {
            rv_decode(lo, in);
        } else if (off == 4094) {
            return NULL;
        } else {
            uint32_t raw;
            memcpy(&raw, dp->host + off, 4);
            rv_decode(raw, in);
        }
    }
    return rv_insn_op(in) == RV_OP_CROSS ? NULL : in;
}

/* A link from a jump leaving registers `have` (pack_state) to block b:
 * where the jump should go. b's fast entry when the registers are where
 * b's loads would put them; else a short stub, written now, that moves
 * (or, when moved away, loads: memory is exact) each one b wants into
 * place and then jumps to the fast entry; b's full entry when the code
 * cache has no room for the stub. */
uint8_t *rv_jit_link_target(struct rv_jit *j, uint64_t have, const struct rv_jblock *b)
{
    int src[NPOOL], todo = 0; /* slot to move from, -1: load, -2: nothing */
    int want[NPOOL];
    for (int i = 0; i < NPOOL; i++) {
        want[i] = (int)(b->entry_state >> (8 * i) & 0xff);
        src[i] = -2;
        if (want[i] == 0xff || (int)(have >> (8 * i) & 0xff) == want[i])
            continue;
        src[i] = -1;
        for (int k = 0; k < NPOOL; k++)
            if ((int)(have >> (8 * k) & 0xff) == want[i])
                src[i] = k;
        todo++;
    }
    if (!todo)
        return b->fast_rw;
    /* only loads missing, and all of them among the last of the block's
     * entry loads (those the jump that led to its translation did not
     * hold come last): enter in the middle of them. Not within the first
     * 8 bytes, which a dropped block's jump overwrites (the rest of the
     * loads then run into the fast entry's jump to the dead stub). */
    int moves = 0, first = b->nloads;
    for (int i = 0; i < NPOOL; i++)
        moves += src[i] >= 0;
    for (int n = b->nloads; n-- > 0;)
        if (src[b->load_slot[n]] == -1)
            first = n;
    if (!moves && first >= 2)
        return b->entry_rw + 4 * first;
    struct rv_jcache *cc = &j->cache;
    size_t at = (cc->used + 15) & ~(size_t)15;
    if (at + 64 > cc->size)
        return b->entry_rw;
    struct jx_buf m;
    jx_buf_init(&m, cc->rw + at, 64);
    while (todo) {
        int done = 0;
        for (int i = 0; i < NPOOL; i++) {
            if (src[i] == -2)
                continue;
            int read_later = 0; /* does a pending move still read slot i? */
            for (int k = 0; k < NPOOL; k++)
                if (k != i && src[k] == i)
                    read_later = 1;
            if (read_later)
                continue;
            if (src[i] >= 0)
                jx_mov_rr(&m, pool[i], pool[src[i]]);
            else
                jx_load(&m, 1, pool[i], RBX, XOFF(want[i]));
            src[i] = -2;
            todo--;
            done = 1;
        }
        if (!done) /* a cycle of moves: one of them loads instead */
            for (int i = 0; i < NPOOL; i++)
                if (src[i] >= 0) {
                    src[i] = -1;
                    break;
                }
    }
    jx_patch_rel32(m.start + jx_jmp32(&m), b->fast_rw);
    cc->used = at + jx_pos(&m);
    j->stats.code_bytes += jx_pos(&m);
    return m.start;
}

size_t rv_jit_tr_size(void)
{
    return sizeof(struct tr);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct rv_jblock *rv_jit_translate(struct rv_hart *h, struct rv_jit *j, uint64_t vpc,
                                   uint64_t gpage, struct rv_dpage *dp, int *cross, uint64_t hint)
{
    uint64_t t0 = now_ns();
    *cross = 0;
    const struct rv_insn *ins[RV_JIT_BLOCK_INSNS];
    unsigned n = 0, off = (unsigned)(vpc & 0xfff), start = off;
    while (off < 4096 && n < RV_JIT_BLOCK_INSNS) {
        const struct rv_insn *in = rv_jit_insn_at(rv_cpu(h), dp, off);
        if (!in)
            break;
        ins[n++] = in;
        off += rv_insn_len(in);
        if (is_jump(rv_insn_op(in)) || ends_run(rv_insn_op(in)))
            break;
    }
    if (n == 0) {
        *cross = 1;
        return NULL;
    }
    if (j->nblocks == RV_JIT_MAX_BLOCKS)
        return NULL;

    struct rv_jcache *cc = &j->cache;
    size_t at = (cc->used + 15) & ~(size_t)15;
    if (at + 256 > cc->size)
        return NULL;
    /* only the fields below need a start value (the fixup array is big) */
    struct tr *t = j->tr;
    t->nfx = 0;
    t->full = 0;
    t->nsites = 0;
    t->stamp = 0;
    t->h = h;
    t->j = j;
    t->vpage = vpc & ~0xfffULL;
    t->vpc = vpc;
    t->gpage = gpage;
    t->nloads = 0;
    t->bmi2 = __builtin_cpu_supports("bmi2");
    t->fma = __builtin_cpu_supports("fma");
    t->fp_end = 0;
    t->fs_dirty = 0;
    t->ins = ins;
    t->n = n;
    t->k = 0;
    const struct rv_insn *last = ins[n - 1];
    uint64_t last_pc = vpc + (off - start) - rv_insn_len(last);
    unsigned last_op = rv_insn_op(last);
    t->loops = (last_op == RV_OP_JAL || (last_op >= RV_OP_BEQ && last_op <= RV_OP_BGEU)) &&
               last_pc + (uint64_t)(int64_t)last->imm == vpc;
    cache_reset(t);
    fx_reset(t);
    jx_buf_init(&t->m, cc->rw + at, cc->size - at);
    jx_buf_init(&t->c, j->cold, RV_JIT_COLD_BYTES);
    unsigned ninsn_before = j->ninsn;

    /* inline loads and stores after each instruction */
    unsigned memrem[RV_JIT_BLOCK_INSNS], mem = 0;
    for (unsigned k = n; k-- > 0;) {
        memrem[k] = mem;
        mem += is_memop(rv_insn_op(ins[k]));
    }

    /* entry: load the registers the block reads first; the fast entry,
     * for jumps that leave them in place, follows. A dropped block has
     * both entries overwritten by a 5-byte jump: keep them that far apart. */
    preload(t, hint);
    while (jx_pos(&t->m) > 0 && jx_pos(&t->m) < 5)
        jx_byte(&t->m, 0x90);
    size_t fast = jx_pos(&t->m);
    /* fast entry: charge the budget (r15) for the whole block; count its
     * inline memory accesses (r14) */
    jx_alu_ri(&t->m, 1, ALU_SUB, R15, (int32_t)n);
    size_t broke = jx_jcc32(&t->m, CC_S);
    if (mem)
        jx_alu_ri(&t->m, 1, ALU_ADD, R14, (int32_t)mem);
    if (j->profile) { /* counting block runs costs a memory increment each */
        jx_load(&t->m, 1, RAX, R12, JIT_OFF);
        jx_alu_m32i8(&t->m, ALU_ADD, RAX, RV_JIT_RUNS_OFF, 1);
    }

    uint64_t pc = vpc;
    int ended = 0;
    for (unsigned k = 0; k < n; k++) {
        t->k = k;
        ended = emit_insn(t, ins[k], pc, RV_JIT_ADJ(n - k, memrem[k]));
        pc += rv_insn_len(ins[k]);
    }
    if (!ended) {
        int8_t want[8];
        flush_dirty(t);
        if (target_state(t, pc, want))
            restore_to(t, want);
        goto_pc(t, pc);
    }

    /* out of budget: give it back and leave at the block's start */
    fix(t, 0, broke, TO_COLD, jx_pos(&t->c));
    jx_alu_ri(&t->c, 1, ALU_ADD, R15, (int32_t)n);
    jx_mov_imm(&t->c, RAX, vpc);
    fix(t, 1, jx_jmp32(&t->c), TO_ABS, (uintptr_t)cc->budget_rw);
    /* dropped: back to the lookup, which finds the new translation */
    size_t dead = jx_pos(&t->c);
    jx_mov_imm(&t->c, RAX, vpc);
    fix(t, 1, jx_jmp32(&t->c), TO_ABS, (uintptr_t)cc->lookup_rw);

    /* the out-of-line part goes right after the hot path */
    size_t mlen = jx_pos(&t->m), clen = jx_pos(&t->c);
    if (t->full || t->m.overflow || t->c.overflow || mlen + clen > cc->size - at) {
        j->ninsn = ninsn_before;
        return NULL;
    }
    uint8_t *mstart = t->m.start, *cstart = mstart + mlen;
    memcpy(cstart, t->c.start, clen);
    for (unsigned i = 0; i < t->nfx; i++) {
        const struct fixup *f = &t->fx[i];
        uint8_t *field = (f->from_cold ? cstart : mstart) + f->pos;
        if (f->to == TO_SITE) {
            uint32_t rel = (uint32_t)((mstart + f->target) - (field - 8));
            memcpy(field, &rel, 4);
            continue;
        }
        const uint8_t *target = f->to == TO_MAIN   ? mstart + f->target
                                : f->to == TO_COLD ? cstart + f->target
                                                   : (const uint8_t *)f->target;
        jx_patch_rel32(field, target);
    }
    cc->used = at + mlen + clen;

    struct rv_jblock *blk = &j->blocks[j->nblocks++];
    blk->vpc = vpc;
    blk->gpage = gpage;
    blk->entry_rw = mstart;
    blk->fast_rw = mstart + fast;
    /* the loads are 4 bytes each (mov r64, [rbx + disp8]); else no entry
     * in their middle */
    blk->nloads = fast == 4u * t->nloads ? t->nloads : 0;
    memcpy(blk->load_slot, t->load_slot, sizeof(blk->load_slot));
    blk->entry_state = 0;
    for (int i = NPOOL - 1; i >= 0; i--)
        blk->entry_state = blk->entry_state << 8 | (uint8_t)t->entry_g[i];
    for (int i = NPOOL; i < 8; i++)
        blk->entry_state |= 0xffULL << (8 * i);
    blk->dead_rw = cstart + dead;
    blk->start = (uint16_t)start;
    blk->end = (uint16_t)off;
    blk->ninsns = (uint16_t)n;
    blk->alive = 1;
    blk->hash = rv_jit_hash(dp->host + start, off - start);
    blk->vgen = j->gen;
    blk->nsites = (uint8_t)t->nsites;
    for (unsigned i = 0; i < t->nsites; i++) {
        blk->site_rw[i] = mstart + t->site[i];
        blk->stub_rw[i] = cstart + t->stub[i];
    }
    j->stats.blocks++;
    j->stats.code_bytes += mlen + clen;
    j->stats.translate_ns += now_ns() - t0;
    return blk;
}
