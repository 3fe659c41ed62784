/* Binary translation for the soft engine: guest RV64GC blocks become x86-64
 * host code (doc/jit.md has the design). What the rest of the CPU core
 * sees of it:
 *
 *  - rv_exec (exec.c) hands the hart to rv_jit_exec when h->jit is set;
 *    rv_jit_exec returns 0 when it cannot run (not an x86-64 host, or the
 *    code cache could not be made), and the interpreter runs instead;
 *  - mmu.c reports stores into decoded code pages (rv_jit_code_store) and
 *    decoded pages it evicts (rv_jit_page_evict): translations are valid
 *    exactly as long as the decoded page they were made from;
 *  - a bump of rv_cpu.icache_gen (fence.i, remote fences, state loads)
 *    drops every translation of the hart before its next block runs.
 *
 * Everything here runs on the thread running the hart at that moment; the
 * state is the hart's (rv_cpu.jit), never the thread's, so a hart may move
 * between host threads between two calls of rv_hart_run.
 */
#ifndef LIBVMM_BACKEND_SOFT_JIT_JIT_H
#define LIBVMM_BACKEND_SOFT_JIT_JIT_H

#include <stddef.h>
#include <stdint.h>

struct rv_hart;
struct rv_cpu;
struct rv_jit;

/* 1 when this build can translate (an x86-64 host). */
int rv_jit_supported(void);

/* The default of h->jit for new harts: on where supported (1: translate
 * code once it is hot, interpret it until then), unless the environment
 * says LIBVMM_SOFT_JIT=0 (interpret everything: a test suite can run the
 * whole soft engine in interpreter mode) or LIBVMM_SOFT_JIT=all (2:
 * translate every block the first time it runs, so tests exercise the
 * translator on all code). */
int rv_jit_default(void);

/* Runs the hart like rv_exec, in translated code. Returns 0 without doing
 * anything when translation is unavailable (the caller interprets). */
int rv_jit_exec(struct rv_hart *h);
/* The most host memory one hart's translator maps (code cache, block
 * table, instruction pool): charged to the host pool with the hart's other
 * caches. 0 where there is no translator. */
size_t rv_jit_max_host_bytes(void);

/* Frees the hart's translator state (rv_hart_destroy). */
void rv_jit_destroy(struct rv_cpu *c);

/* A store of `size` bytes at guest-physical gpa, into a page that has a
 * decoded copy: drops the translations covering those bytes. */
void rv_jit_code_store(struct rv_cpu *c, uint64_t gpa, unsigned size);

/* The decoded copy of guest-physical page gpage is evicted: drops the
 * page's translations (stores to it no longer take the slow path). */
void rv_jit_page_evict(struct rv_cpu *c, uint64_t gpage);

/* Counters of the translator, for benchmarks and tests. */
struct rv_jit_stats {
    uint64_t blocks;        /* blocks translated */
    uint64_t translate_ns;  /* time spent translating */
    uint64_t code_bytes;    /* host code emitted */
    uint64_t flushes;       /* whole code cache dropped (full or fence.i) */
    uint64_t invalidations; /* blocks dropped by stores into their code */
    uint64_t chain_patches; /* direct jumps linked block to block */
    uint64_t dispatches;    /* block entries through the lookup (not chained) */
    uint64_t fallbacks;     /* instructions run by the step helper */
    uint64_t block_runs;    /* blocks entered (chained or not); counted only
                             * with LIBVMM_SOFT_JIT_PROFILE=1 in the environment */
    uint64_t unchains;      /* fence.i: chains undone, blocks re-checked */
    uint64_t rechecks_failed; /* blocks found changed at that check */
    uint64_t interpreted;   /* cold blocks run by the interpreter instead */
    uint64_t fast_links;    /* chain_patches that enter past the target's
                             * register loads (registers kept in place) */
    uint64_t fp_calls;      /* F/D instructions run by fpu.c (not inline) */
};
void rv_jit_get_stats(const struct rv_hart *h, struct rv_jit_stats *out);

#endif
