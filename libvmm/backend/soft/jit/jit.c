/* The translator's dispatcher and block table (design: doc/jit.md).
 *
 * rv_jit_exec runs the hart for up to RV_JIT_BUDGET instructions, like one
 * rv_exec of the interpreter: it finds the block for h->pc (fetch TLB ->
 * guest-physical page -> hash of (virtual pc, physical page)), translates
 * it if there is none, links the jump that led there when that jump asked
 * for it, and enters it. Translated code comes back here only on a jump it
 * could not follow by itself, at the end of the budget, or when a helper
 * ended the run (trap, CSR or system instruction, device stop, a store
 * into translated code); the last two return to rv_hart_run, which checks
 * interrupts, flush requests and the run request as for the interpreter.
 *
 * Validity: a translation lives as long as the decoded page it was made
 * from (mmu.c calls rv_jit_page_evict / rv_jit_code_store), and all of
 * them go when icache_gen moves (fence.i, remote fences, state loads) or
 * the code cache, block table or instruction pool is full. A dropped
 * block's entry is overwritten with a jump to its "dead" stub, so jumps
 * already linked to it return to the lookup instead of running stale code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend/soft/jit/emit.h"
#include "backend/soft/jit/jit_internal.h"
#include "util/log.h"

int rv_jit_supported(void)
{
    return 1;
}

int rv_jit_default(void)
{
    const char *e = getenv("LIBVMM_SOFT_JIT");
    if (e && !strcmp(e, "0"))
        return 0;
    if (e && !strcmp(e, "all"))
        return 2; /* translate even code that runs once (tests) */
    return 1;
}

/* Zeroed memory the OS backs only where it is touched: the block table
 * and instruction pool are sized for the worst case and mostly unused (a
 * calloc may clear them eagerly, e.g. under MALLOC_PERTURB_). */
static void *lazy_zalloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, size, MADV_NOHUGEPAGE); /* lazy by 4 KiB pages, whatever the THP setting */
    return p;
}

static void lazy_free(void *p, size_t size)
{
    if (p)
        munmap(p, size);
}

#define BLOCKS_BYTES ((size_t)RV_JIT_MAX_BLOCKS * sizeof(struct rv_jblock))
#define POOL_BYTES ((size_t)RV_JIT_INSN_POOL * sizeof(struct rv_insn))

static void jit_free(struct rv_jit *j)
{
    if (!j)
        return;
    rv_jcache_destroy(&j->cache);
    lazy_free(j->blocks, BLOCKS_BYTES);
    lazy_free(j->insn_pool, POOL_BYTES);
    lazy_free(j->cold, RV_JIT_COLD_BYTES);
    lazy_free(j->tr, rv_jit_tr_size());
    lazy_free(j, sizeof(*j));
}

static struct rv_jit *jit_create(void)
{
    struct rv_jit *j = lazy_zalloc(sizeof(*j));
    if (!j)
        return NULL;
    j->cache.fd = -1;
    for (unsigned i = 0; i < RV_JIT_JC_SIZE; i++)
        j->jc[i].vpc = ~0ULL;
    j->blocks = lazy_zalloc(BLOCKS_BYTES);
    j->insn_pool = lazy_zalloc(POOL_BYTES);
    j->cold = lazy_zalloc(RV_JIT_COLD_BYTES);
    j->tr = lazy_zalloc(rv_jit_tr_size());
    const char *prof = getenv("LIBVMM_SOFT_JIT_PROFILE");
    j->profile = prof && !strcmp(prof, "1");
    if (!j->blocks || !j->insn_pool || !j->cold || !j->tr || rv_jcache_init(&j->cache, RV_JIT_CODE_BYTES)) {
        jit_free(j);
        return NULL;
    }
    return j;
}

size_t rv_jit_max_host_bytes(void)
{
    /* Everything jit_create maps, page-rounded: the bound a hart's
     * translator may commit (code cache included). */
    return RV_PAGE_ROUND(sizeof(struct rv_jit)) + RV_PAGE_ROUND(BLOCKS_BYTES) +
           RV_PAGE_ROUND(POOL_BYTES) + RV_PAGE_ROUND(RV_JIT_COLD_BYTES) +
           RV_PAGE_ROUND(rv_jit_tr_size()) + RV_PAGE_ROUND(RV_JIT_CODE_BYTES);
}

void rv_jit_destroy(struct rv_cpu *c)
{
    if (c->jit && c->jit->profile) {
        const struct rv_jit_stats *s = &c->jit->stats;
        fprintf(stderr, "libvmm: jit profile: blocks %llu translate %.1f ms code %llu B flushes %llu "
                 "invalidations %llu chain_patches %llu dispatches %llu fallbacks %llu "
                 "block_runs %llu unchains %llu rechecks_failed %llu interpreted %llu fast_links %llu "
                 "fp_calls %llu dc_releases %llu",
                 (unsigned long long)s->blocks, s->translate_ns / 1e6,
                 (unsigned long long)s->code_bytes, (unsigned long long)s->flushes,
                 (unsigned long long)s->invalidations, (unsigned long long)s->chain_patches,
                 (unsigned long long)s->dispatches, (unsigned long long)s->fallbacks,
                 (unsigned long long)s->block_runs, (unsigned long long)s->unchains,
                 (unsigned long long)s->rechecks_failed, (unsigned long long)s->interpreted,
                 (unsigned long long)s->fast_links, (unsigned long long)s->fp_calls,
                 (unsigned long long)c->dc_releases);
        fputc('\n', stderr);
    }
    jit_free(c->jit);
    c->jit = NULL;
}

static void flush_all(struct rv_jit *j)
{
    memset(j->hash, 0, sizeof(j->hash));
    memset(j->page_head, 0, sizeof(j->page_head));
    memset(j->code_mask, 0, sizeof(j->code_mask));
    memset(j->hot, 0, sizeof(j->hot));
    memset(j->jc, 0, sizeof(j->jc)); /* vpc 0 never matches a live entry's code */
    for (unsigned i = 0; i < RV_JIT_JC_SIZE; i++)
        j->jc[i].vpc = ~0ULL; /* an odd pc: no jump target */
    j->nblocks = 0;
    j->nlinked = 0;
    j->link_overflow = 0;
    j->ninsn = 0;
    j->patch_site = 0;
    rv_jcache_reset(&j->cache);
    j->stats.flushes++;
}

static unsigned hash_of(uint64_t vpc, uint64_t gpage)
{
    uint64_t k = (vpc >> 1) ^ (gpage >> 12) * 0x9e3779b97f4a7c15ULL;
    return (unsigned)(k ^ (k >> 29)) & (RV_JIT_HASH - 1);
}

/* The 64-byte chunks of a page that bytes [lo, hi) touch, as a mask. */
static uint64_t chunks(unsigned lo, unsigned hi)
{
    unsigned first = lo >> 6, last = (hi - 1) >> 6;
    uint64_t upto = last >= 63 ? ~0ULL : (2ULL << last) - 1;
    return upto & ~((1ULL << first) - 1);
}

static struct rv_jblock *lookup(struct rv_jit *j, uint64_t vpc, uint64_t gpage)
{
    for (struct rv_jblock *b = j->hash[hash_of(vpc, gpage)]; b; b = b->hnext)
        if (b->vpc == vpc && b->gpage == gpage)
            return b;
    return NULL;
}

struct rv_jblock *rv_jit_lookup(struct rv_jit *j, uint64_t vpc, uint64_t gpage)
{
    return lookup(j, vpc, gpage);
}

static void insert(struct rv_jit *j, struct rv_jblock *b)
{
    unsigned h = hash_of(b->vpc, b->gpage);
    b->hnext = j->hash[h];
    j->hash[h] = b;
    unsigned slot = (unsigned)(b->gpage >> 12) & (RV_DC_SLOTS - 1);
    b->pnext = j->page_head[slot];
    j->page_head[slot] = b;
    j->code_mask[slot] |= chunks(b->start, b->end);
}

/* Removes b from the lookup and sends its entry to its dead stub. */
static void drop_block(struct rv_jit *j, struct rv_jblock *b)
{
    struct rv_jblock **pp = &j->hash[hash_of(b->vpc, b->gpage)];
    while (*pp && *pp != b)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = b->hnext;
    b->alive = 0;
    b->entry_rw[0] = 0xe9; /* jmp rel32: the entry's 8 bytes leave room */
    jx_patch_rel32(b->entry_rw + 1, b->dead_rw);
    rv_jcache_patched(&j->cache, b->entry_rw, 5);
    if (b->fast_rw != b->entry_rw) { /* at least 5 bytes further on */
        b->fast_rw[0] = 0xe9;
        jx_patch_rel32(b->fast_rw + 1, b->dead_rw);
        rv_jcache_patched(&j->cache, b->fast_rw, 5);
    }
    j->stats.invalidations++;
}

/* Drops the blocks of guest-physical page gpage covering bytes [lo, hi). */
static int drop_range(struct rv_jit *j, uint64_t gpage, unsigned lo, unsigned hi)
{
    int dropped = 0;
    unsigned slot = (unsigned)(gpage >> 12) & (RV_DC_SLOTS - 1);
    if (!(j->code_mask[slot] & chunks(lo, hi)))
        return 0; /* data beside code: no block there */
    if (lo == 0 && hi == 4096)
        j->code_mask[slot] = 0; /* the whole page goes */
    struct rv_jblock **pp = &j->page_head[slot];
    while (*pp) {
        struct rv_jblock *b = *pp;
        if (b->gpage == gpage && b->start < hi && lo < b->end) {
            *pp = b->pnext;
            drop_block(j, b);
            dropped = 1;
        } else {
            pp = &b->pnext;
        }
    }
    return dropped;
}

void rv_jit_code_store(struct rv_cpu *c, uint64_t gpa, unsigned size)
{
    struct rv_jit *j = c->jit;
    if (!j)
        return;
    unsigned off = (unsigned)(gpa & 0xfff);
    unsigned end = off + size > 4096 ? 4096 : off + size;
    if (drop_range(j, gpa & ~0xfffULL, off, end))
        j->smc = 1; /* the running block may be one of them: leave it */
}

void rv_jit_page_evict(struct rv_cpu *c, uint64_t gpage)
{
    if (c->jit)
        drop_range(c->jit, gpage, 0, 4096);
}

void rv_jit_get_stats(const struct rv_hart *h, struct rv_jit_stats *out)
{
    const struct rv_jit *j = rv_cpu(h)->jit;
    if (j)
        *out = j->stats;
    else
        memset(out, 0, sizeof(*out));
}

static uint64_t hot_key(uint64_t vpc, uint64_t gpage)
{
    return vpc ^ (gpage << 16) ^ 1; /* never 0, the empty slot */
}

static unsigned hot_slot(uint64_t vpc, uint64_t gpage)
{
    return (unsigned)((vpc >> 1) ^ (gpage >> 12)) & (RV_JIT_HOT_SIZE - 1);
}

/* A sighting of a block start whose counter says it has no translation
 * (and will not get one at this sighting): counted, 1. Else 0, counting
 * nothing. */
static int still_cold(struct rv_jit *j, uint64_t vpc, uint64_t gpage)
{
    unsigned i = hot_slot(vpc, gpage);
    if (j->hot[i].key != hot_key(vpc, gpage) || j->hot[i].count + 1 >= RV_JIT_HOT_AFTER)
        return 0;
    j->hot[i].count++;
    return 1;
}

/* Is the block at (vpc, gpage) worth translating yet? Counts a sighting. */
static int hot_enough(struct rv_jit *j, uint64_t vpc, uint64_t gpage)
{
    uint64_t key = hot_key(vpc, gpage);
    unsigned i = hot_slot(vpc, gpage);
    if (j->hot[i].key != key) {
        j->hot[i].key = key;
        j->hot[i].count = 0;
    }
    return ++j->hot[i].count >= RV_JIT_HOT_AFTER;
}

/* Runs one cold stretch (to the first taken jump or page change) in the
 * interpreter, keeping the instruction count exact across the switch.
 * Returns 1 when the run must go back to rv_hart_run. */
static int interpret_cold(struct rv_hart *h, struct rv_jit *j)
{
    struct rv_cpu *c = rv_cpu(h);
    MACHINE_VCPU_STAT_ADD(h->vcpu, instructions, (uint64_t)(j->lim - j->budget));
    uint64_t before = h->vcpu->stats.instructions;
    c->interp_at_limit = 0;
    rv_interp(h, 1);
    j->budget -= (int64_t)(h->vcpu->stats.instructions - before);
    j->lim = j->budget; /* all retired so far is in the stats */
    j->stats.interpreted++;
    return !c->interp_at_limit;
}

/* fence.i (or a remote one, or a state load): unlink every chained jump
 * and empty the jump cache, so each block is entered through the lookup
 * once more and checks its guest bytes there (struct rv_jblock). */
static void unchain_all(struct rv_jit *j)
{
    if (j->link_overflow) {
        for (unsigned i = 0; i < j->nblocks; i++) {
            struct rv_jblock *b = &j->blocks[i];
            for (unsigned k = 0; b->alive && k < b->nsites; k++) {
                jx_patch_rel32(b->site_rw[k], b->stub_rw[k]);
                rv_jcache_patched(&j->cache, b->site_rw[k], 4);
            }
        }
    } else {
        /* a dropped block's sites may be among them: its code stays
         * until a flush (which empties the log), so the write is harmless */
        for (unsigned i = 0; i < j->nlinked; i++) {
            jx_patch_rel32(j->linked[i].site_rw, j->linked[i].stub_rw);
            rv_jcache_patched(&j->cache, j->linked[i].site_rw, 4);
        }
    }
    j->nlinked = 0;
    j->link_overflow = 0;
    for (unsigned i = 0; i < RV_JIT_JC_SIZE; i++)
        j->jc[i].vpc = ~0ULL;
    j->patch_site = 0;
    j->stats.unchains++;
}

/* An instruction whose second half is on the next page: run by the step
 * helper from the dispatcher. Returns 1 when the run must end. */
static int step_cross(struct rv_hart *h, struct rv_jit *j, const struct rv_dpage *dp)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t pc = h->pc;
    uint16_t lo, hi;
    memcpy(&lo, dp->host + 4094, 2);
    if (rv_mmu_fetch16(h, pc + 2, &hi)) {
        rv_trap(h, c->trap_cause, c->trap_tval);
        return 1;
    }
    struct rv_insn in;
    rv_decode(lo | (uint32_t)hi << 16, &in);
    c->pending_insns = (uint64_t)(j->lim - j->budget);
    enum rv_step r = rv_jit_step_insn(h, &in, pc);
    c->pending_insns = 0;
    j->smc = 0;
    if (r == RV_STEP_TRAP) {
        h->pc = pc;
        rv_trap(h, c->trap_cause, c->trap_tval);
        return 1;
    }
    j->budget--;
    if (r == RV_STEP_EXIT)
        return 1;
    h->pc = pc + 4;
    return 0;
}

/* Deterministic mode: the run returns to rv_hart_run (where interrupts
 * are taken and pause points checked) after exactly RV_JIT_BUDGET
 * instructions, or at an instruction that needs it, never at a point that
 * depends on what happens to be translated (a block that does not fit in
 * what is left of the budget leaves at its start). So a run restored from
 * a snapshot, whose code is not translated yet, takes its interrupts at
 * the same instructions as the run it continues. What remains of the
 * budget is run one instruction at a time. Returns 1 when the run ends. */
static int step_to_budget(struct rv_hart *h, struct rv_jit *j)
{
    struct rv_cpu *c = rv_cpu(h);
    while (j->budget > 0) {
        uint64_t pc = h->pc, vbase;
        struct rv_dpage *dp = rv_mmu_fetch_page(h, pc, &vbase);
        if (!dp) {
            rv_trap(h, c->trap_cause, c->trap_tval);
            return 1;
        }
        const struct rv_insn *at = rv_jit_insn_at(c, dp, (unsigned)(pc & 0xfff));
        if (!at) {
            if (step_cross(h, j, dp))
                return 1;
            continue;
        }
        struct rv_insn in = *at; /* a store may reset the decoded slot */
        c->pending_insns = (uint64_t)(j->lim - j->budget);
        enum rv_step r = rv_jit_step_insn(h, &in, pc);
        c->pending_insns = 0;
        j->smc = 0;
        j->stats.fallbacks++;
        if (r == RV_STEP_TRAP) {
            h->pc = pc;
            rv_trap(h, c->trap_cause, c->trap_tval);
            return 1;
        }
        j->budget--;
        if (r == RV_STEP_EXIT)
            return 1;
        h->pc = pc + rv_insn_len(&in);
    }
    return 1;
}

int rv_jit_exec(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    struct rv_jit *j = c->jit;
    if (!h->jit)
        return 0;
    if (!j) {
        j = c->jit = jit_create();
        if (!j) {
            log_warn("soft engine: hart %u: no code cache for the translator, interpreting",
                     h->hartid);
            h->jit = 0;
            return 0;
        }
    }
    if (j->stats.blocks == 0 && j->nblocks == 0)
        j->gen = c->icache_gen; /* nothing translated yet: nothing to check */
    j->lim = j->budget = RV_JIT_BUDGET;
    j->smc = 0;
    j->patch_site = 0;
    uint64_t flushes = j->stats.flushes;
    /* A guest using its FPU (FS dirty) gets the host FPU in its state for
     * the run, so that translated F/D code takes its inline path from the
     * first instruction on (it checks; rv_fpu_sync below restores). */
    if ((c->mstatus & MSTATUS_FS) == MSTATUS_FS)
        rv_fpu_live(c);
    while (j->budget > 0) {
        if (RV_UNLIKELY(c->dc_touched >= RV_DC_RESIDENT_PAGES))
            rv_dc_trim(c); /* (between blocks: no decoded instruction in use) */
        if (j->gen != c->icache_gen) {
            unchain_all(j);
            j->gen = c->icache_gen;
        }
        uint64_t pc = h->pc;
        const struct rv_ftlbe *fe = &c->ftlb[(pc >> 12) & (RV_TLB_SIZE - 1)];
        struct rv_dpage *dp = fe->dp;
        if (RV_UNLIKELY(fe->tag != (pc & ~0xfffULL) || fe->gen != c->icache_gen)) {
            uint64_t vbase;
            dp = rv_mmu_fetch_page(h, pc, &vbase);
            if (!dp) {
                rv_trap(h, c->trap_cause, c->trap_tval);
                break;
            }
        }
        uint64_t gpage = dp->key & ~1ULL;
        /* Known cold: its counter is still below the mark, so it was never
         * translated (translation happens only here, once the count gets
         * there; a flush zeroes both): interpret without walking the block
         * table, which for such code always misses. */
        if (h->jit == 1 && !h->deterministic && still_cold(j, pc, gpage)) {
            j->patch_site = 0;
            if (interpret_cold(h, j))
                break;
            continue;
        }
        struct rv_jblock *b = lookup(j, pc, gpage);
        if (b && RV_UNLIKELY(b->vgen != j->gen)) { /* made before a fence.i */
            if (rv_jit_hash(dp->host + b->start, b->end - b->start) == b->hash) {
                b->vgen = j->gen;
            } else {
                drop_range(j, gpage, b->start, b->end);
                j->stats.rechecks_failed++;
                b = NULL;
            }
        }
        /* (deterministic mode translates at once: the interpreter's
         * stretches end at points of their own) */
        if (!b && h->jit == 1 && !h->deterministic && !hot_enough(j, pc, gpage)) {
            j->patch_site = 0;
            if (interpret_cold(h, j))
                break;
            continue;
        }
        if (!b) {
            int cross;
            uint64_t hint = j->patch_site ? j->xstate : ~0ULL;
            b = rv_jit_translate(h, j, pc, gpage, dp, &cross, hint);
            if (!b && cross) {
                j->patch_site = 0;
                if (step_cross(h, j, dp))
                    break;
                continue;
            }
            if (!b) { /* full: start over with an empty cache */
                flush_all(j);
                b = rv_jit_translate(h, j, pc, gpage, dp, &cross, hint);
                if (!b)
                    break; /* cannot happen with an empty cache; never loop */
            }
            insert(j, b);
        }
        if (j->patch_site && j->stats.flushes == flushes) {
            uint8_t *site = j->cache.rw + (j->patch_site - (uintptr_t)j->cache.rx);
            if (j->nlinked < RV_JIT_LINK_LOG) {
                /* an unlinked site holds the jump to its stub */
                int32_t rel;
                memcpy(&rel, site, 4);
                j->linked[j->nlinked].site_rw = site;
                j->linked[j->nlinked++].stub_rw = site + 4 + rel;
            } else {
                j->link_overflow = 1;
            }
            uint8_t *to = rv_jit_link_target(j, j->xstate, b);
            jx_patch_rel32(site, to);
            rv_jcache_patched(&j->cache, site, 4);
            j->stats.fast_links += to != b->entry_rw;
            j->stats.chain_patches++;
        }
        j->patch_site = 0;
        flushes = j->stats.flushes;
        j->stats.dispatches++;
        struct rv_jc_entry *jc = &j->jc[(pc >> 1) & (RV_JIT_JC_SIZE - 1)];
        jc->vpc = pc;
        jc->gpage = gpage;
        jc->code_rx = rv_jcache_rx(&j->cache, b->entry_rw);
        uint64_t why = j->cache.enter(h, rv_jcache_rx(&j->cache, b->entry_rw));
        if (why == RV_JIT_EXIT_BUDGET && h->deterministic && j->budget > 0) {
            step_to_budget(h, j);
            break;
        }
        if (why == RV_JIT_EXIT_HELPER || why == RV_JIT_EXIT_BUDGET)
            break;
        if (why != RV_JIT_EXIT_CHAIN)
            j->patch_site = 0;
    }
    rv_fpu_sync(c);
    rv_jcache_trim(&j->cache);
    c->pending_insns = 0;
    c->tlb_hits += j->memops;
    j->memops = 0;
    j->stats.block_runs += j->runs;
    j->runs = 0;
    struct machine_vcpu *v = h->vcpu;
    MACHINE_VCPU_STAT_SET(v, jit_blocks, j->stats.blocks);
    MACHINE_VCPU_STAT_SET(v, jit_translate_ns, j->stats.translate_ns);
    MACHINE_VCPU_STAT_SET(v, jit_code_bytes, j->stats.code_bytes);
    MACHINE_VCPU_STAT_SET(v, jit_flushes, j->stats.flushes);
    MACHINE_VCPU_STAT_SET(v, jit_block_runs, j->stats.block_runs);
    MACHINE_VCPU_STAT_SET(v, jit_lookups, j->stats.dispatches);
    MACHINE_VCPU_STAT_ADD(h->vcpu, instructions, (uint64_t)(j->lim - j->budget));
    return 1;
}
