/* The translator's private state, shared by jit.c (dispatcher, block
 * table, invalidation), translate.c (code generation), helpers.c (the C
 * functions translated code calls) and cache.c (the code cache).
 */
#ifndef LIBVMM_BACKEND_SOFT_JIT_INTERNAL_H
#define LIBVMM_BACKEND_SOFT_JIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/soft/cpu.h"
#include "backend/soft/jit/jit.h"

/* Why translated code returned to the dispatcher (in eax). */
enum rv_jit_exit {
    RV_JIT_EXIT_HELPER = 1, /* a helper ended the run (trap, CSR/system op,
                             * MMIO stop, code store): h->pc and the budget
                             * are final; back to rv_hart_run */
    RV_JIT_EXIT_BUDGET = 2, /* the instruction budget ran out at a block entry */
    RV_JIT_EXIT_LOOKUP = 3, /* next block at h->pc: look it up */
    RV_JIT_EXIT_CHAIN = 4,  /* same, and link jit.patch_site to it */
};

#define RV_JIT_BLOCK_INSNS 64    /* guest instructions per block at most */
#define RV_JIT_BUDGET 4096       /* instructions per rv_exec, as the interpreter */
#define RV_JIT_CODE_BYTES (8u << 20)
#define RV_JIT_MAX_BLOCKS 32768
#define RV_JIT_HASH 8192
#define RV_JIT_INSN_POOL 65536   /* rv_insn copies the step helper reads */
#define RV_JIT_COLD_BYTES 65536  /* one block's out-of-line code, before copying */
#define RV_JIT_JC_SIZE 1024      /* jump cache entries (indirect and cross-page jumps) */
#define RV_JIT_HOT_SIZE 4096     /* block starts seen but not translated yet */
#define RV_JIT_HOT_AFTER 64      /* translate a block when it starts this often */
#define RV_JIT_LINK_LOG 4096     /* chains made since the last fence.i, to undo */

/* The code cache: one memfd mapped twice, read-write for the translator
 * and read-execute for the CPU, never both on one mapping (cache.c). */
struct tr; /* translate.c */

struct rv_jcache {
    int fd;
    uint8_t *rw, *rx;
    size_t size, used, fixed; /* [0, fixed): the entry/exit trampoline, kept on flush */
    size_t trimmed_at;        /* `used` when the write view was last unmapped */
    /* pages of older code patched through the write view since then
     * (rv_jcache_patched), and how many: what rv_jcache_trim weighs */
    uint64_t patched[RV_JIT_CODE_BYTES / 4096 / 64];
    unsigned npatched;
    uint64_t (*enter)(struct rv_hart *h, const uint8_t *code); /* in rx */
    uint8_t *exit_rw; /* the shared exit sequence (eax = reason) */
    uint8_t *ijmp_rw; /* the shared indirect jump (rax = guest target pc) */
    /* Shared pieces the blocks' out-of-line code goes through, so that
     * each block carries only what differs (cache.c says how each is
     * entered): the slow paths of loads and stores (called; they keep the
     * guest registers held in caller-saved host registers), and the exits
     * that ask for a link, for the lookup and for the end of the budget
     * (jumped to, or called with their data after the call). */
    uint8_t *load_rw, *store_rw, *chain_rw, *lookup_rw, *budget_rw;
};

/* Jump cache: guest virtual pc -> block entry, for jumps whose target the
 * translator does not know or that leave the page. Translated code takes
 * an entry only if the fetch TLB (current context) still maps pc's page
 * to the entry's guest-physical page; a dropped block's entry leads to its
 * dead stub; a flush empties the cache. */
struct rv_jc_entry {
    uint64_t vpc, gpage;
    const uint8_t *code_rx;
    uint64_t pad;
};

struct rv_jblock {
    uint64_t vpc, gpage;      /* key: virtual pc and guest-physical page */
    uint8_t *entry_rw;        /* block code in the rw view (rx = + delta) */
    /* Past the loads of the registers the block reads first: a chained
     * jump comes here when it leaves each of them in the host register
     * the loads would (entry_state: byte i = the guest register pool
     * register i must hold, 0xff for any; translate.c). */
    uint8_t *fast_rw;
    uint64_t entry_state;
    /* the entry's loads in order (pool slots), 4 bytes each: a jump that
     * lacks only the last few enters among them (0: not allowed) */
    uint8_t load_slot[8], nloads;
    uint8_t *dead_rw;         /* where the entry jumps once the block is dropped */
    uint16_t start, end;      /* guest bytes [start, end) of the page it covers */
    uint16_t ninsns;
    uint8_t alive;
    uint8_t nsites;
    struct rv_jblock *hnext;  /* hash chain */
    struct rv_jblock *pnext;  /* blocks of the same decode-cache slot */
    /* fence.i does not drop translations: it unlinks every chain and makes
     * each block prove, at its next lookup, that the guest bytes it was
     * made from are unchanged (hash), since another hart may have written
     * them without this hart seeing the store. vgen: the icache_gen it was
     * last proven under. */
    uint64_t hash, vgen;
    uint8_t *site_rw[2];      /* its chainable jumps' rel32 fields */
    uint8_t *stub_rw[2];      /* and where they go when not linked */
};

/* The hash a block's guest bytes are checked against (FNV-1a). */
static inline uint64_t rv_jit_hash(const uint8_t *p, unsigned n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

struct rv_jit {
    /* --- read and written by translated code (through rv_cpu.jit) --- */
    int64_t budget;       /* instructions left in this rv_exec; a block
                           * entry subtracts its length first */
    uint64_t patch_site;  /* rx address of a rel32 to link (EXIT_CHAIN) */
    uint64_t memops;      /* loads and stores entered inline: TLB hits once
                           * the helpers take out those that missed */
    uint64_t runs;        /* block entries (stats.block_runs) */
    uint64_t xstate;      /* with patch_site: the registers the jump leaves
                           * in host registers (rv_jblock.entry_state) */
    struct rv_jc_entry jc[RV_JIT_JC_SIZE];
    /* --- C only --- */
    int64_t lim;          /* budget at the start of this rv_exec */
    uint64_t gen;         /* icache_gen the translations were made under */
    int smc;              /* a store dropped translations: leave the block */
    int profile;          /* LIBVMM_SOFT_JIT_PROFILE=1: count block runs */
    struct rv_jcache cache;
    struct rv_jblock *blocks;
    unsigned nblocks;
    struct rv_jblock *hash[RV_JIT_HASH];
    struct rv_jblock *page_head[RV_DC_SLOTS];
    /* Per decode-cache slot: which 64-byte chunks of its page some block
     * covers (or covered: bits are only cleared with the whole page), so a
     * store to data sharing a page with code skips the block list. */
    uint64_t code_mask[RV_DC_SLOTS];
    /* The chained jumps linked since the last unchain_all, so a fence.i
     * undoes those instead of walking every block (Linux runs one for each
     * page of user code it maps: hundreds a boot). Past RV_JIT_LINK_LOG
     * links the walk is used. */
    struct {
        uint8_t *site_rw, *stub_rw;
    } linked[RV_JIT_LINK_LOG];
    unsigned nlinked;
    int link_overflow;
    struct rv_insn *insn_pool;
    unsigned ninsn;
    uint8_t *cold;        /* scratch for a block's out-of-line code */
    struct tr *tr;        /* the translator's working state (translate.c) */
    /* Cold code is interpreted: a block is translated only once it has
     * been reached RV_JIT_HOT_AFTER times through the lookup (boot code
     * mostly runs once, and translating costs far more than interpreting
     * once). Direct-mapped counters; a collision only makes a guess worse. */
    struct {
        uint64_t key;
        uint32_t count;
    } hot[RV_JIT_HOT_SIZE];
    struct rv_jit_stats stats;
};

#define RV_JIT_BUDGET_OFF 0
#define RV_JIT_PATCH_OFF 8
#define RV_JIT_MEMOPS_OFF 16
#define RV_JIT_RUNS_OFF 24
#define RV_JIT_XSTATE_OFF 32
#define RV_JIT_JC_OFF 40
/* Translated code's view of the hart: rbx points X_BIAS bytes into h->x
 * (every x[i] a one-byte displacement), r12 at struct rv_cpu. */
#define X_BIAS 128
#define JIT_OFF ((int32_t)offsetof(struct rv_cpu, jit))
#define PC_OFF ((int32_t)offsetof(struct rv_hart, pc) - X_BIAS)

/* The `adj` argument of the helpers: instructions from the current one to
 * the block's end, and inline loads/stores after the current one. */
#define RV_JIT_ADJ(insns, memops) ((uint64_t)(insns) | (uint64_t)(memops) << 32)

static inline struct rv_jit *rv_jit_of(const struct rv_hart *h)
{
    return rv_cpu(h)->jit;
}

/* jit.c: the live block at (vpc, gpage), or NULL (the translator reads
 * the entry state of blocks its jumps go to). */
struct rv_jblock *rv_jit_lookup(struct rv_jit *j, uint64_t vpc, uint64_t gpage);

/* cache.c */
int rv_jcache_init(struct rv_jcache *cc, size_t size);
void rv_jcache_destroy(struct rv_jcache *cc);
void rv_jcache_reset(struct rv_jcache *cc);
/* Emits a call of a helper of helpers.c (arguments already in place):
 * the budget and memops counters, which translated code keeps in r15 and
 * r14, go to struct rv_jit for it to read and correct, and come back from
 * there; rax holds the helper's answer. */
struct jx_buf;
void rv_jcache_emit_helper_call(struct jx_buf *b, const void *fn);
/* Unmaps the write view when enough was written since the last time
 * (cache.c); the dispatcher calls it at the end of each run. */
void rv_jcache_trim(struct rv_jcache *cc);
/* Notes a write of n bytes at rw into code already in the cache (a link,
 * a dropped block's entry): its pages are mapped in the write view now. */
static inline void rv_jcache_patched(struct rv_jcache *cc, const uint8_t *rw, size_t n)
{
    size_t first = (size_t)(rw - cc->rw) >> 12, last = (size_t)(rw + n - 1 - cc->rw) >> 12;
    for (size_t pg = first; pg <= last; pg++) {
        uint64_t bit = 1ULL << (pg & 63);
        if (!(cc->patched[pg >> 6] & bit)) {
            cc->patched[pg >> 6] |= bit;
            cc->npatched++;
        }
    }
}
static inline uint8_t *rv_jcache_rx(const struct rv_jcache *cc, const uint8_t *rw)
{
    return cc->rx + (rw - cc->rw);
}

/* translate.c: translates the block at vpc (guest-physical page gpage,
 * decoded copy dp) into the code cache. Returns the block, or NULL when
 * the code cache, block table or instruction pool is full (the caller
 * flushes and retries) or the first instruction crosses the page end
 * (*cross set: the caller steps it). hint: the registers the jump that
 * led here leaves in host registers (pack_state), or ~0: the block's entry
 * loads put those it reads where they are, so the link keeps them. */
size_t rv_jit_tr_size(void);
/* Where a chained jump leaving registers `have` should enter block b
 * (its fast entry, a register-moving stub before it, or its full entry). */
uint8_t *rv_jit_link_target(struct rv_jit *j, uint64_t have, const struct rv_jblock *b);
/* The decoded instruction at byte offset off of a decoded page (decoding it
 * into the shared decode cache if needed); NULL for one that crosses into
 * the next page. */
const struct rv_insn *rv_jit_insn_at(struct rv_cpu *c, struct rv_dpage *dp, unsigned off);
struct rv_jblock *rv_jit_translate(struct rv_hart *h, struct rv_jit *j, uint64_t vpc,
                                   uint64_t gpage, struct rv_dpage *dp, int *cross, uint64_t hint);

/* helpers.c: called from translated code. Each takes `adj`, the number of
 * instructions of the block from the current one to its end: the budget
 * already counts them as retired, and the helper corrects it when the
 * block ends early (likewise the inline memory-access count, memops). They return 0 to continue, 1 (RV_JIT_EXIT_HELPER)
 * when the run must end with h->pc and the budget already set. */
uint64_t rv_jh_step(struct rv_hart *h, const struct rv_insn *in, uint64_t pc, uint64_t adj);
uint64_t rv_jh_load(struct rv_hart *h, uint64_t va, uint64_t info, uint64_t pc);
uint64_t rv_jh_store(struct rv_hart *h, uint64_t va, uint64_t val, uint64_t info, uint64_t pc);
uint64_t rv_jh_muldiv(uint64_t a, uint64_t b, uint64_t op);
/* An F/D arithmetic instruction (RV_OP_FP): straight to the FPU. */
uint64_t rv_jh_fp(struct rv_hart *h, const struct rv_insn *in, uint64_t pc, uint64_t adj);
/* info of rv_jh_load/rv_jh_store, one 32-bit immediate for the block's
 * out-of-line code to pass: `adj` (instructions to the block's end, and
 * inline accesses after this one: 64 at most each), the access's size and
 * sign, the instruction's length and (loads) rd. */
#define RV_JH_INFO(adj, size, sign, len, rd)                                            \
    ((uint32_t)(adj) | (uint32_t)((adj) >> 32) << 7 | (uint32_t)(size) << 14 |          \
     (uint32_t)(sign) << 18 | (uint32_t)(len) << 19 | (uint32_t)(rd) << 22)
#define RV_JH_INFO_ADJ(info) RV_JIT_ADJ((info) & 127, (info) >> 7 & 127)
#define RV_JH_INFO_SIZE(info) ((unsigned)((info) >> 14 & 15))
#define RV_JH_INFO_SIGN(info) ((unsigned)((info) >> 18 & 1))
#define RV_JH_INFO_LEN(info) ((unsigned)((info) >> 19 & 7))
#define RV_JH_INFO_RD(info) ((unsigned)((info) >> 22 & 63))

/* step.c: runs one decoded instruction at pc, as the interpreter would.
 * Returns RV_STEP_NEXT (continue at pc + len), RV_STEP_TRAP (exception in
 * trap_cause/trap_tval, nothing changed) or RV_STEP_EXIT (done, h->pc is
 * the next pc, and the run must return to rv_hart_run). Needs
 * c->pending_insns to hold the instructions retired before this one. */
enum rv_step { RV_STEP_NEXT = 0, RV_STEP_TRAP = 1, RV_STEP_EXIT = 2 };
enum rv_step rv_jit_step_insn(struct rv_hart *h, const struct rv_insn *in, uint64_t pc);

#endif
