/* The RV64GC CPU core's private state (struct rv_hart.cpu) and the
 * functions its files share: exec.c (interpreter), csr.c (CSRs, traps,
 * interrupts), mmu.c (shadow page table, guest page walks, memory and
 * atomics), fpu.c (F and D), cpu.c (the hart API of hart.h).
 *
 * Nothing here is used outside backend/soft/, except RV_CPU_MAX_HOST_BYTES
 * (below): what the host pool charges for each soft-engine vCPU.
 */
#ifndef LIBVMM_BACKEND_SOFT_CPU_H
#define LIBVMM_BACKEND_SOFT_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "backend/soft/decode.h"
#include "backend/soft/hart.h"

#define RV_LIKELY(x) __builtin_expect(!!(x), 1)
#define RV_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* --- exception causes --- */
#define RV_EXC_INSN_MISALIGNED 0
#define RV_EXC_INSN_ACCESS 1
#define RV_EXC_ILLEGAL 2
#define RV_EXC_BREAKPOINT 3
#define RV_EXC_LOAD_MISALIGNED 4
#define RV_EXC_LOAD_ACCESS 5
#define RV_EXC_STORE_MISALIGNED 6
#define RV_EXC_STORE_ACCESS 7
#define RV_EXC_ECALL_U 8
#define RV_EXC_ECALL_S 9
#define RV_EXC_ECALL_M 11
#define RV_EXC_INSN_PAGE 12
#define RV_EXC_LOAD_PAGE 13
#define RV_EXC_STORE_PAGE 15
#define RV_CAUSE_INTR (1ULL << 63)

/* --- mstatus bits --- */
#define MSTATUS_SIE (1ULL << 1)
#define MSTATUS_MIE (1ULL << 3)
#define MSTATUS_SPIE (1ULL << 5)
#define MSTATUS_MPIE (1ULL << 7)
#define MSTATUS_SPP (1ULL << 8)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP (3ULL << 11)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_FS (3ULL << 13)
#define MSTATUS_MPRV (1ULL << 17)
#define MSTATUS_SUM (1ULL << 18)
#define MSTATUS_MXR (1ULL << 19)
#define MSTATUS_TVM (1ULL << 20)
#define MSTATUS_TW (1ULL << 21)
#define MSTATUS_TSR (1ULL << 22)
#define MSTATUS_UXL (2ULL << 32)
#define MSTATUS_SXL (2ULL << 34)
#define MSTATUS_SD (1ULL << 63)

/* --- the shadow page table (software TLB) --- */
#define RV_TLB_BITS 8
#define RV_TLB_SIZE (1u << RV_TLB_BITS)
#define RV_SUPER_2M_BITS 4096 /* rv_cpu.super_2m */
#define RV_TLB_INVALID (~0ULL) /* never equals a page tag (tags have bits 11..3 clear) */
/* Set in the tag of a store entry whose page has decoded instructions: the
 * inline compare then fails, and the slow path finds the entry by
 * tag ^ RV_TLB_CODE, stores and resets the decoded slots it overwrote. */
#define RV_TLB_CODE 0x800ULL

enum rv_access { RV_ACC_FETCH = 0, RV_ACC_LOAD = 1, RV_ACC_STORE = 2 };

/* Translation contexts: a TLB set per context, so a privilege change (every
 * trap and return) or a toggle of SUM (every copy_to_user) switches sets
 * instead of flushing. M is physical and never depends on satp. */
enum rv_ctx { RV_CTX_U = 0, RV_CTX_S = 1, RV_CTX_S_SUM = 2, RV_CTX_M = 3, RV_NCTX = 4 };

/* Load/store entry: a hit is tag compare + add. The tag is the virtual page
 * (low 12 bits clear); a lookup compares it against vaddr masked with
 * ~0xfff | (size - 1), so a misaligned access never hits. */
struct rv_tlbe {
    uint64_t tag;
    uintptr_t addend; /* host address = addend + vaddr */
};

/* Fetch entry: the page's host address and guest-physical page, the key of
 * the decoded-instruction cache, and that page's decoded copy, valid while
 * gen equals rv_cpu.icache_gen (a decoded page evicted from the cache
 * invalidates the entries pointing to it). Entering a page thus reads this
 * entry only, not the decoded page's header 16 KiB away from its slots. */
struct rv_dpage;
struct rv_ftlbe {
    uint64_t tag;
    const uint8_t *host;
    uint64_t gpage; /* guest-physical address of the page */
    struct rv_dpage *dp;
    uint64_t gen;
};

/* --- the decoded-instruction cache --- */
#define RV_PAGE_INSNS 2048 /* 4096 / 2 */
#define RV_DC_SLOTS 1024   /* direct-mapped by guest-physical page number */

/* A decoded page's slot holds its RV_PAGE_INSNS decoded instructions and
 * nothing else (16 KiB, page-aligned), then a guard page never written:
 * the step past a page's last instruction reads a zero there,
 * RV_OP_DECODE, which the interpreter takes for the page's end. The
 * slot's header lives in rv_cpu.dpages, so a code page whose instructions
 * sit in a quarter of it commits one host page of the cache, not that one
 * plus a page for the header and one for end marks. */
#define RV_DC_SLOT_BYTES ((size_t)RV_PAGE_INSNS * 8)
#define RV_DC_STRIDE (RV_DC_SLOT_BYTES + 4096)
#define RV_DC_BYTES ((size_t)RV_DC_SLOTS * RV_DC_STRIDE) /* the mapping */

struct rv_dpage {
    uint64_t key; /* guest-physical page address | 1 when valid, 0 when not */
    uint64_t gen; /* valid only while equal to rv_cpu.icache_gen */
    const uint8_t *host;
    struct rv_insn *insn; /* its slot in rv_cpu.dinsn */
    /* which of the slot's four host pages decoding wrote since the cache's
     * memory was last given back (rv_dc_note); a property of the slot, not
     * of the guest page it holds */
    uint8_t touched;
};

/* The decode cache gives its memory back (MADV_DONTNEED of every slot:
 * they read as RV_OP_DECODE again, and the pages they hold stay decoded
 * pages as far as validity and store tracking go) once decoding has
 * written this many of its host pages since the last time: what a hart
 * keeps resident for decoded instructions stays near 3 MiB instead of
 * growing with all the code it ever ran (6.5 MiB in a Linux boot, whose
 * code mostly runs a few times; a slot's host page holds 1 KiB of guest
 * code, and a kernel runs a little of most of them). Code that keeps
 * running is decoded again at its next interpretation; translated code
 * does not read the cache. Smaller budgets cost time: 2 MiB gave a Linux
 * boot 17 releases and 16 % more time, mostly page faults; 3 MiB, 3
 * releases and no measurable cost. The release happens between runs (in
 * rv_exec, or between blocks in the translator's loop), where no decoded
 * instruction is in use. */
#define RV_DC_RESIDENT_PAGES 768

/* Outcome of an out-of-line instruction helper. */
enum rv_res {
    RV_RES_OK = 0,   /* done, continue with the next instruction */
    RV_RES_TRAP = 1, /* exception in cpu->trap_cause / trap_tval */
    RV_RES_SYNC = 2, /* done; h->pc is the next pc and the interpreter must
                      * re-read its cached state and check interrupts */
};

struct rv_cpu {
    /* Current TLB sets (pointers into tlb[][]), chosen by privilege, MPRV/MPP
     * and SUM; kept up to date by rv_cpu_update_ctx(). */
    struct rv_tlbe *ltlb, *stlb;
    uint64_t *sgpage; /* guest-physical page of each stlb entry */
    struct rv_ftlbe *ftlb;
    uint64_t tlb_hits, tlb_misses, tlb_flushes; /* folded into stats at block ends */

    /* CSRs. */
    uint64_t mstatus; /* without SD, UXL, SXL (added on read) */
    uint64_t medeleg, mideleg, mie, mip; /* mip: software-written bits only */
    uint64_t mtvec, stvec, mepc, sepc, mcause, scause, mtval, stval;
    uint64_t mscratch, sscratch, satp, mcounteren, scounteren, menvcfg, senvcfg;
    uint32_t fflags, frm;
    /* fpu.c on x86-64: 1 while the host's MXCSR holds the guest's state
     * (round to nearest, flags accumulating) instead of the host's own,
     * saved in host_mxcsr; rv_fpu_sync() folds and restores. */
    int fp_live;
    unsigned host_mxcsr;

    /* Pending exception of the current instruction. */
    uint64_t trap_cause, trap_tval;

    /* LR/SC reservation: host address and the value LR read. */
    void *res_ptr;
    uint64_t res_val;
    int res_valid;

    /* Instructions the interpreter retired but has not yet added to
     * stats.instructions (read by instret/cycle/time). */
    uint64_t pending_insns;
    /* mcycle / minstret minus the instructions retired (rv_cpu_instret):
     * a write of either counter moves only its offset, so the host's
     * instruction count and the deterministic guest time it drives are
     * untouched. cycle and instret read the same values. */
    uint64_t mcycle_off, minstret_off;
    /* Deterministic time: ticks WFI skipped (fast-forward). */
    uint64_t idle_ticks;
    /* Guest time when the hart last stopped for a pause or stop (valid
     * while it does not run): what a save records, so two saves of one
     * paused VM are the same bytes, as KVM's frozen TSC gives. */
    uint64_t time_stopped;
    int time_stopped_valid;

    /* Cross-thread requests. */
    _Atomic int flush_req;      /* RV_FLUSH_* bits, honoured at block ends */
    _Atomic uint64_t flush_seq; /* bumped by each request */
    _Atomic uint64_t flush_ack; /* last request seq honoured */
    _Atomic int kicked;
    _Atomic int parked; /* sleeping in WFI / HSM stop */

    /* A scheduled run (rv_hart_run_slice): the slice rv_cpu_check ends the
     * run at, NULL under rv_hart_run. WFI and HSM-stop then set `blocked`
     * (and the timer deadline in slice->wake_ns) instead of sleeping. */
    struct engine_slice *slice;
    int blocked;

    struct rv_insn cross_insn[3]; /* an instruction spanning two pages (+ end marks) */
    uint64_t icache_gen;          /* bumping it empties the decode cache (fence.i) */
    uint64_t fence_foreign;       /* guest_mem.foreign_writes at the last emptying by fence.i */
    uint64_t fences_kept;         /* fence.i that found nothing to drop (rv_cpu_fence_i) */
    uint64_t time_base_ns;        /* CLOCK_MONOTONIC at machine start */
    int owns_vcpu;                /* h->vcpu was allocated here (no machine_vcpu) */

    struct rv_tlbe tlb[RV_NCTX][2][RV_TLB_SIZE]; /* [ctx][0 load, 1 store] */
    struct rv_ftlbe itlb[RV_NCTX][RV_TLB_SIZE];
    uint64_t store_gpage[RV_NCTX][RV_TLB_SIZE]; /* beside tlb[ctx][1] */
    struct rv_dpage dpages[RV_DC_SLOTS]; /* direct-mapped by guest-physical page */
    uint8_t *dinsn; /* their slots: one anonymous mapping of RV_DC_BYTES the
                     * OS backs lazily (only the instructions are written) */
    unsigned dc_touched;     /* slot host pages written since the last release */
    uint64_t dc_releases;    /* times the decode cache gave its memory back */
    size_t host_bytes;       /* what rv_hart_init allocated for this hart */
    /* Largest superpage mask cached since the last full flush: sfence.vma
     * of one address must drop every 4 KiB entry taken from the superpage
     * containing it (0: only 4 KiB pages cached). */
    uint64_t super_mask;
    /* Where those entries came from, hashed (rv_mmu's super_bit): for each
     * entry taken from a 2 MiB page a bit for its 2 MiB region, from a 1 GiB
     * page one for its 1 GiB region. sfence.vma of an address none of whose
     * bits is set drops only its own entries instead of scanning the TLB:
     * Linux's linear map is made of superpages, its user pages are not. */
    uint64_t super_2m[RV_SUPER_2M_BITS / 64];
    uint64_t super_1g;
    struct rv_jit *jit; /* the translator's state, made on first use (jit/jit.h) */
    int interp_at_limit; /* rv_interp stopped for its limit (not a trap or sync) */
};

#define RV_FLUSH_TLB 1
#define RV_FLUSH_ICACHE 2

/* --- host memory of one hart's CPU core: a fixed bound ---
 *
 * Everything rv_hart_init allocates, allocated once and never grown:
 *   - struct rv_cpu (CSRs, the shadow TLB: RV_NCTX contexts x RV_TLB_SIZE
 *     load, store and fetch entries, and the decode cache's slot headers:
 *     about 110 KiB);
 *   - the decoded-instruction cache: RV_DC_SLOTS slots in one anonymous
 *     mapping, direct-mapped by guest-physical page number, so a new code
 *     page evicts the page in its slot instead of adding memory. Each slot
 *     is 2048 8-byte decoded instructions, 16 KiB, and a guard page that is
 *     only ever read (it stays the kernel's zero page): at most 16 MiB
 *     written. The OS backs only the parts decoding touched, so this is
 *     what a hart may hold at most, not what it holds at first;
 *   - a struct machine_vcpu for the counters, only when the hart has no
 *     machine vCPU to use (unit tests).
 * RV_CPU_MAX_HOST_BYTES is their sum, about 16.1 MiB (16.9 MB) a hart: what the
 * host pool must reserve per soft-engine vCPU for the engine's caches. No
 * other allocation happens while a hart runs. rv_cpu_host_bytes() says
 * what a given hart allocated (always <= this bound). */
#define RV_PAGE_ROUND(n) (((size_t)(n) + 4095) & ~(size_t)4095)
#define RV_CPU_MAX_HOST_BYTES \
    (sizeof(struct rv_cpu) + RV_DC_SLOTS * RV_DC_SLOT_BYTES + sizeof(struct machine_vcpu))
/* A change that grows the bound should be a decision, not an accident. */
_Static_assert(RV_CPU_MAX_HOST_BYTES <= (17u << 20), "per-hart host memory above 17 MiB");

static inline struct rv_cpu *rv_cpu(const struct rv_hart *h)
{
    return (struct rv_cpu *)h->cpu;
}

/* Decoding is about to write the entry for byte offset off of dp's
 * page: counts the slot's host page if it is the first write there since
 * the last release (RV_DC_RESIDENT_PAGES). */
static inline void rv_dc_note(struct rv_cpu *c, struct rv_dpage *dp, unsigned off)
{
    unsigned bit = 1u << (off >> 10); /* 1 KiB of code -> one 4 KiB host page */
    if (RV_UNLIKELY(!(dp->touched & bit))) {
        dp->touched |= (uint8_t)bit;
        c->dc_touched++;
    }
}

/* Before the first read of the entry for byte offset off of dp's page:
 * if that entry's host page has not been written since the last release,
 * write it first. A read of a never-written anonymous page maps the
 * kernel's shared zero page, and the decode that follows then takes a
 * copy-on-write fault whose TLB flush interrupts every CPU running one of
 * the VM's threads (on a 2-hart Linux boot those flushes were 6 % of the
 * time); written first, the page is simply allocated. */
static inline void rv_dc_prefault(struct rv_cpu *c, struct rv_dpage *dp, unsigned off)
{
    if (RV_UNLIKELY(!(dp->touched & (1u << (off >> 10))))) {
        *(volatile uint8_t *)&dp->insn[off >> 1].disp = 0; /* it reads 0: RV_OP_DECODE */
        rv_dc_note(c, dp, off);
    }
}

/* mmu.c: gives the decode cache's memory back when decoding has written
 * RV_DC_RESIDENT_PAGES of it since the last time (called between runs). */
void rv_dc_trim(struct rv_cpu *c);

/* --- exec.c --- */
/* Runs instructions until a check is due; returns after folding counters. */
void rv_exec(struct rv_hart *h);
/* The interpreter: runs until at least `lim` instructions retired and a
 * jump or page change comes (then sets interp_at_limit), or a trap or an
 * instruction that needs the run loop's checks. */
void rv_interp(struct rv_hart *h, uint64_t lim);

/* --- cpu.c --- */
/* Block-boundary work: counters, flush requests, HSM, interrupts, exit.
 * Returns 1 when rv_hart_run must return. */
int rv_cpu_check(struct rv_hart *h);
/* WFI: parks until an interrupt is pending or a kick. */
void rv_cpu_wfi(struct rv_hart *h);
/* Instructions retired so far, including the interpreter's pending ones. */
uint64_t rv_cpu_instret(const struct rv_hart *h);
/* Empties the decoded-instruction cache and makes every translation prove
 * itself again (state loads, resets). */
void rv_cpu_flush_icache(struct rv_hart *h);
/* The guest's fence.i (local, or a remote one it asked for through SBI).
 * This hart sees its own stores into code pages as they happen (decoded
 * slots reset, translations dropped: mmu.c code_store), so the flush is
 * needed only for writes it could not see: another hart's (any machine with
 * more than one hart flushes) or a foreign write to guest RAM (devices'
 * DMA, the VMM: guest_mem.foreign_writes) since its last flush. Linux runs
 * one for every page of user code it maps; on one hart almost all find
 * nothing to drop. */
void rv_cpu_fence_i(struct rv_hart *h);
/* Host bytes the CPU core allocated for h (<= RV_CPU_MAX_HOST_BYTES). */
size_t rv_cpu_host_bytes(const struct rv_hart *h);

/* --- csr.c --- */
/* CSR instruction (csrrw/s/c[i]). */
enum rv_res rv_csr_exec(struct rv_hart *h, const struct rv_insn *in);
/* Takes a trap: exception (cause) or interrupt (RV_CAUSE_INTR | irq). */
void rv_trap(struct rv_hart *h, uint64_t cause, uint64_t tval);
/* mret / sret / wfi / sfence.vma (pc is the instruction's address). */
enum rv_res rv_sys_exec(struct rv_hart *h, const struct rv_insn *in, uint64_t pc);
/* mip as the guest sees it (software bits | device lines | timers). */
uint64_t rv_csr_mip(struct rv_hart *h);
/* The interrupt to take now (RV_CAUSE_INTR | n) or 0. */
uint64_t rv_irq_pending(struct rv_hart *h);
/* Re-selects the TLB sets after a privilege / mstatus change. */
void rv_cpu_update_ctx(struct rv_hart *h);
/* trap_tval of an illegal instruction: rv_trap replaces it with the
 * instruction's bits, read back from guest memory at the trapping pc (the
 * decoded-instruction cache does not keep them). No instruction has these
 * bits: they are wider than 32. */
#define RV_TVAL_INSN (~0ULL)
/* Illegal-instruction helper: sets trap_cause / trap_tval. */
static inline enum rv_res rv_illegal(struct rv_hart *h)
{
    rv_cpu(h)->trap_cause = RV_EXC_ILLEGAL;
    rv_cpu(h)->trap_tval = RV_TVAL_INSN;
    return RV_RES_TRAP;
}

/* --- mmu.c --- */
/* Slow paths of loads and stores (TLB miss, MMIO, misaligned, code page).
 * Return 0, or 1 with the exception in trap_cause / trap_tval. */
int rv_mmu_load_slow(struct rv_hart *h, uint64_t va, unsigned size, uint64_t *val);
int rv_mmu_store_slow(struct rv_hart *h, uint64_t va, unsigned size, uint64_t val);
/* Looks up the decoded page holding pc (filling fetch TLB and decode
 * cache). Returns the page or NULL with the exception set. *vbase receives
 * the virtual page address. */
struct rv_dpage *rv_mmu_fetch_page(struct rv_hart *h, uint64_t pc, uint64_t *vbase);
/* Reads the 16-bit parcel at va for an instruction crossing a page. */
int rv_mmu_fetch16(struct rv_hart *h, uint64_t va, uint16_t *out);
/* The bits of the instruction at va (16 or 32 of them), for the tval of
 * an illegal-instruction trap; 0 when va no longer fetches (the hart
 * fetched it a moment ago: only another hart's change of the mapping gets
 * there). Leaves trap_cause / trap_tval as they were. */
uint32_t rv_mmu_insn_bits(struct rv_hart *h, uint64_t va);
/* LR, SC and AMOs. */
enum rv_res rv_amo_exec(struct rv_hart *h, const struct rv_insn *in);
/* TLB maintenance. */
void rv_tlb_flush_all(struct rv_hart *h);      /* every context but M */
void rv_tlb_flush_page(struct rv_hart *h, uint64_t va);
void rv_tlb_flush_everything(struct rv_hart *h); /* including M */
void rv_tlb_flush_stores(struct rv_hart *h);     /* store entries only */

/* --- fpu.c --- */
enum rv_res rv_fpu_exec(struct rv_hart *h, const struct rv_insn *in);
/* Folds the exception flags the host FPU accumulated for the guest into
 * fflags and gives the host back its own FP state. Needed before fflags is
 * read or written and before rv_exec returns; on the hart's thread. */
void rv_fpu_sync_slow(struct rv_cpu *c);
static inline void rv_fpu_sync(struct rv_cpu *c)
{
    if (RV_UNLIKELY(c->fp_live))
        rv_fpu_sync_slow(c);
}
/* The opposite: puts the host FPU in the guest's state (fp_live), as
 * translated F/D code needs it; 1 when it is (x86-64 hosts). */
int rv_fpu_live(struct rv_cpu *c);

/* Marks the FP state dirty (any write of f[] or fcsr). */
static inline void rv_fs_dirty(struct rv_cpu *c)
{
    c->mstatus |= MSTATUS_FS;
}

#endif
