/* The library's shadow page table for the soft engine: a per-hart software
 * TLB mapping guest-virtual pages to host pointers, with separate sets for
 * fetch, load and store and for each translation context (U, S, S with SUM,
 * M), filled by walking the guest's Sv39/Sv48 page tables and the machine's
 * guest-physical map. A hit costs one compare and one add (exec.c). MMIO
 * pages are never cached: every access to them goes through the MMIO bus.
 *
 * Invalidation: satp writes, sfence.vma (whole or by address), MXR changes
 * and rv_hart_request_flush(). Privilege, MPRV and SUM changes only switch
 * sets. ASIDs are stored in satp but not used as tags: every satp write
 * flushes, which is always correct.
 *
 * A/D bits are set in guest memory by an atomic compare-exchange on the
 * PTE (the hardware-updating scheme): A on any access, D on a store. A
 * store entry is only cached once D is set.
 *
 * Misaligned loads and stores are performed byte by byte (never trapped);
 * a misaligned store checks both pages it touches before writing a byte, so
 * one that faults on its second half has written nothing. Misaligned
 * LR/SC/AMOs raise the address-misaligned exception.
 *
 * Code pages: the store entry of a page with decoded instructions carries
 * RV_TLB_CODE, so every store to it takes the slow path, which performs it
 * and resets only the decoded slots the bytes written belong to (they
 * decode again when next executed). Self-modifying code thus works without
 * fence.i on the same hart, and data sharing a page with code costs a
 * slow-path store, not a re-decode of the page; another hart's change is
 * seen after fence.i, as the ISA requires.
 */
#include <string.h>
#include <sys/mman.h>

#include "backend/soft/cpu.h"
#include "backend/soft/jit/jit.h"

#define PTE_V (1ULL << 0)
#define PTE_R (1ULL << 1)
#define PTE_W (1ULL << 2)
#define PTE_X (1ULL << 3)
#define PTE_U (1ULL << 4)
#define PTE_A (1ULL << 6)
#define PTE_D (1ULL << 7)
#define PTE_PPN_MASK ((1ULL << 44) - 1)

static const uint64_t page_fault[3] = { RV_EXC_INSN_PAGE, RV_EXC_LOAD_PAGE, RV_EXC_STORE_PAGE };
static const uint64_t access_fault[3] = { RV_EXC_INSN_ACCESS, RV_EXC_LOAD_ACCESS,
                                          RV_EXC_STORE_ACCESS };

static int data_priv(const struct rv_hart *h)
{
    const struct rv_cpu *c = rv_cpu(h);
    if (h->priv == RV_PRIV_M && (c->mstatus & MSTATUS_MPRV))
        return (int)((c->mstatus >> MSTATUS_MPP_SHIFT) & 3);
    return h->priv;
}

/* Walks the guest page table for va. Returns 0 with *gpa, or the exception
 * cause. *super receives the size mask of a superpage leaf (0 for 4 KiB). */
static int code_store(struct rv_cpu *c, uint64_t gpa, unsigned size);

static uint64_t walk(struct rv_hart *h, uint64_t va, int acc, int priv, uint64_t *gpa,
                     uint64_t *super)
{
    struct rv_cpu *c = rv_cpu(h);
    unsigned mode = (unsigned)(c->satp >> 60);
    *super = 0;
    if (priv == RV_PRIV_M || mode == 0) {
        *gpa = va;
        return 0;
    }
    int levels = mode == 9 ? 4 : 3;
    int vabits = 12 + 9 * levels;
    if ((uint64_t)((int64_t)(va << (64 - vabits)) >> (64 - vabits)) != va)
        return page_fault[acc];

    uint64_t base = (c->satp & PTE_PPN_MASK) << 12;
    for (int i = levels - 1; i >= 0; i--) {
        uint64_t pte_addr = base + ((va >> (12 + 9 * i)) & 511) * 8;
        uint64_t *p = guest_mem_ptr(&h->m->mem, pte_addr, 8);
        if (!p)
            return access_fault[acc];
        uint64_t pte = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    again:
        if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte >> 54))
            return page_fault[acc];
        if (!(pte & (PTE_R | PTE_X))) {
            if (i == 0)
                return page_fault[acc];
            base = ((pte >> 10) & PTE_PPN_MASK) << 12;
            continue;
        }
        /* Leaf: permissions. */
        if (priv == RV_PRIV_U && !(pte & PTE_U))
            return page_fault[acc];
        if (priv == RV_PRIV_S && (pte & PTE_U) &&
            (acc == RV_ACC_FETCH || !(c->mstatus & MSTATUS_SUM)))
            return page_fault[acc];
        if (acc == RV_ACC_FETCH && !(pte & PTE_X))
            return page_fault[acc];
        if (acc == RV_ACC_LOAD &&
            !((pte & PTE_R) || ((c->mstatus & MSTATUS_MXR) && (pte & PTE_X))))
            return page_fault[acc];
        if (acc == RV_ACC_STORE && !(pte & PTE_W))
            return page_fault[acc];
        uint64_t ppn = (pte >> 10) & PTE_PPN_MASK;
        uint64_t lowmask = (1ULL << (9 * i)) - 1;
        if (ppn & lowmask)
            return page_fault[acc]; /* misaligned superpage */
        uint64_t need = PTE_A | (acc == RV_ACC_STORE ? PTE_D : 0);
        if ((pte & need) != need) {
            if (!__atomic_compare_exchange_n(p, &pte, pte | need, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE))
                goto again; /* another hart changed the PTE: re-check it */
            guest_mem_mark_dirty(&h->m->mem, pte_addr, 8);
            /* this hart's own write, as a store: seen by its code caches */
            code_store(c, pte_addr, 8);
        }
        uint64_t pmask = (1ULL << (12 + 9 * i)) - 1;
        *gpa = ((ppn << 12) & ~pmask) | (va & pmask);
        *super = i ? pmask : 0;
        return 0;
    }
    return page_fault[acc];
}

/* --- TLB maintenance --- */

static void flush_ctx(struct rv_cpu *c, int ctx)
{
    memset(c->tlb[ctx], 0xff, sizeof(c->tlb[ctx]));
    memset(c->itlb[ctx], 0xff, sizeof(c->itlb[ctx]));
}

/* Bit of a superpage region (va >> 21 or va >> 30) in its map. */
static unsigned super_bit(uint64_t region, unsigned bits_log2)
{
    return (unsigned)((region * 0x9e3779b97f4a7c15ULL) >> (64 - bits_log2));
}

#define SUPER_2M_LOG2 12 /* log2(RV_SUPER_2M_BITS) */
_Static_assert(RV_SUPER_2M_BITS == 1u << SUPER_2M_LOG2, "super_2m size");

/* A TLB entry of va is being taken from a superpage (offset mask `super`). */
static void note_super(struct rv_cpu *c, uint64_t va, uint64_t super)
{
    if (super > c->super_mask)
        c->super_mask = super;
    if (super == (1ULL << 21) - 1) {
        unsigned b = super_bit(va >> 21, SUPER_2M_LOG2);
        c->super_2m[b / 64] |= 1ULL << (b % 64);
    } else if (super == (1ULL << 30) - 1) {
        c->super_1g |= 1ULL << super_bit(va >> 30, 6);
    } /* larger: rv_tlb_flush_page empties everything */
}

/* May an entry taken from a superpage holding va be cached? */
static int super_may_hold(const struct rv_cpu *c, uint64_t va)
{
    unsigned b = super_bit(va >> 21, SUPER_2M_LOG2);
    return ((c->super_2m[b / 64] >> (b % 64)) & 1) || ((c->super_1g >> super_bit(va >> 30, 6)) & 1);
}

static void forget_supers(struct rv_cpu *c)
{
    c->super_mask = 0;
    memset(c->super_2m, 0, sizeof(c->super_2m));
    c->super_1g = 0;
}

void rv_tlb_flush_all(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    flush_ctx(c, RV_CTX_U);
    flush_ctx(c, RV_CTX_S);
    flush_ctx(c, RV_CTX_S_SUM);
    forget_supers(c);
}

void rv_tlb_flush_everything(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    for (int i = 0; i < RV_NCTX; i++)
        flush_ctx(c, i);
    forget_supers(c);
}

void rv_tlb_flush_page(struct rv_hart *h, uint64_t va)
{
    struct rv_cpu *c = rv_cpu(h);
    unsigned idx = (unsigned)(va >> 12) & (RV_TLB_SIZE - 1);
    if (c->super_mask > (1ULL << 30) - 1) { /* a 512 GiB page: not worth a scan */
        rv_tlb_flush_all(h);
        return;
    }
    int scan = c->super_mask && super_may_hold(c, va);
    for (int ctx = RV_CTX_U; ctx <= RV_CTX_S_SUM; ctx++) {
        if (scan) {
            /* Entries in the superpage-sized region around va may come from
             * a superpage holding va: drop them all (over-flushing is safe). */
            uint64_t region = va & ~c->super_mask;
            for (unsigned i = 0; i < RV_TLB_SIZE; i++) {
                if ((c->tlb[ctx][0][i].tag & ~c->super_mask) == region)
                    c->tlb[ctx][0][i].tag = RV_TLB_INVALID;
                if ((c->tlb[ctx][1][i].tag & ~c->super_mask) == region)
                    c->tlb[ctx][1][i].tag = RV_TLB_INVALID;
                if ((c->itlb[ctx][i].tag & ~c->super_mask) == region)
                    c->itlb[ctx][i].tag = RV_TLB_INVALID;
            }
            continue;
        }
        c->tlb[ctx][0][idx].tag = RV_TLB_INVALID;
        c->tlb[ctx][1][idx].tag = RV_TLB_INVALID;
        c->itlb[ctx][idx].tag = RV_TLB_INVALID;
    }
}

/* Marks the store entries that point into the host page `host` (it now
 * holds decoded instructions, so stores to it must take the slow path). */
static void mark_stores_to(struct rv_cpu *c, const uint8_t *host)
{
    for (int ctx = 0; ctx < RV_NCTX; ctx++) {
        struct rv_tlbe *t = c->tlb[ctx][1];
        for (unsigned i = 0; i < RV_TLB_SIZE; i++) {
            uint64_t tag = t[i].tag & ~RV_TLB_CODE;
            if (t[i].tag != RV_TLB_INVALID && (const uint8_t *)(t[i].addend + tag) == host)
                t[i].tag = tag | RV_TLB_CODE;
        }
    }
}

void rv_tlb_flush_stores(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    for (int ctx = 0; ctx < RV_NCTX; ctx++)
        memset(c->tlb[ctx][1], 0xff, sizeof(c->tlb[ctx][1]));
}

/* The decoded page for guest-physical page gpage if this hart has one. */
static struct rv_dpage *dcache_find(struct rv_cpu *c, uint64_t gpage)
{
    struct rv_dpage *d = &c->dpages[(gpage >> 12) & (RV_DC_SLOTS - 1)];
    return d->key == (gpage | 1) && d->gen == c->icache_gen ? d : NULL;
}

/* A store of `size` bytes at guest-physical gpa: resets the decoded slots
 * of every instruction that may cover those bytes (one starting up to 2
 * bytes before them). Returns 0 when gpa's page has no decoded copy. */
static int code_store(struct rv_cpu *c, uint64_t gpa, unsigned size)
{
    struct rv_dpage *d = dcache_find(c, gpa & ~0xfffULL);
    if (!d)
        return 0;
    unsigned off = (unsigned)(gpa & 0xfff);
    unsigned first = (off >= 2 ? off - 2 : 0) >> 1;
    unsigned last = (off + size - 1) >> 1;
    if (last >= RV_PAGE_INSNS) /* a misaligned store past the page: the caller splits those */
        last = RV_PAGE_INSNS - 1;
    for (unsigned i = first; i <= last; i++) {
        if (d->insn[i].disp == 0)
            continue; /* not decoded: no write (it could commit a page for nothing) */
        d->insn[i].disp = 0; /* RV_OP_DECODE */
    }
    if (c->jit)
        rv_jit_code_store(c, gpa, size);
    return 1;
}

/* Translates va for an access of type acc; on success fills *gpa and, when
 * the page is RAM, caches it. Returns 0 or 1 with the trap set. */
static int translate(struct rv_hart *h, uint64_t va, int acc, uint64_t *gpa, uint8_t **host)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t super;
    int priv = acc == RV_ACC_FETCH ? h->priv : data_priv(h);
    uint64_t cause = walk(h, va, acc, priv, gpa, &super);
    if (cause) {
        c->trap_cause = cause;
        c->trap_tval = va;
        return 1;
    }
    c->tlb_misses++;
    uint64_t gpage = *gpa & ~0xfffULL;
    uint8_t *page = guest_mem_ptr(&h->m->mem, gpage, 4096);
    *host = page ? page + (*gpa & 0xfff) : NULL;
    if (!page)
        return 0;
    if (super && priv != RV_PRIV_M && (c->satp >> 60))
        note_super(c, va, super);
    uint64_t vpage = va & ~0xfffULL;
    unsigned idx = (unsigned)(va >> 12) & (RV_TLB_SIZE - 1);
    if (acc == RV_ACC_FETCH) {
        struct rv_ftlbe *e = &c->ftlb[idx];
        e->tag = vpage;
        e->host = page;
        e->gpage = gpage;
        e->dp = NULL;
        e->gen = 0; /* no decoded page yet (rv_mmu_fetch_page sets it) */
    } else if (acc == RV_ACC_LOAD) {
        struct rv_tlbe *e = &c->ltlb[idx];
        e->tag = vpage;
        e->addend = (uintptr_t)page - (uintptr_t)vpage;
    } else {
        struct rv_tlbe *e = &c->stlb[idx];
        /* Every store reaches RAM through an entry made here: marking the
         * page at fill time is enough for dirty logging, because fetching
         * the log flushes the store entries (soft_dirty_sync). */
        guest_mem_mark_dirty(&h->m->mem, gpage, 4096);
        e->tag = vpage | (dcache_find(c, gpage) ? RV_TLB_CODE : 0);
        e->addend = (uintptr_t)page - (uintptr_t)vpage;
        c->sgpage[idx] = gpage;
    }
    return 0;
}

static int mmio_read(struct rv_hart *h, uint64_t gpa, uint64_t va, unsigned size, uint64_t *val,
                     int acc)
{
    struct rv_cpu *c = rv_cpu(h);
    if (acc == RV_ACC_LOAD && bus_find(&h->m->mmio, gpa)) {
        rv_fpu_sync(c); /* device code runs with the host's own FP state */
        MACHINE_VCPU_STAT_ADD(h->vcpu, mmio_exits, 1);
        bus_read(&h->m->mmio, gpa, size, val);
        return 0;
    }
    c->trap_cause = access_fault[acc];
    c->trap_tval = va;
    return 1;
}

static uint64_t host_read(const uint8_t *p, unsigned size)
{
    switch (size) {
    case 1: return *p;
    case 2: return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
    case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
    default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
    }
}

static void host_write(uint8_t *p, unsigned size, uint64_t v)
{
    switch (size) {
    case 1: *p = (uint8_t)v; break;
    case 2: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELAXED); break;
    case 4: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED); break;
    default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED); break;
    }
}

int rv_mmu_load_slow(struct rv_hart *h, uint64_t va, unsigned size, uint64_t *val)
{
    struct rv_cpu *c = rv_cpu(h);
    if (va & (size - 1)) {
        uint64_t v = 0;
        for (unsigned i = 0; i < size; i++) {
            uint64_t b;
            uint64_t a = va + i;
            struct rv_tlbe *e = &c->ltlb[(a >> 12) & (RV_TLB_SIZE - 1)];
            if (e->tag == (a & ~0xfffULL))
                b = *(const uint8_t *)(e->addend + a);
            else if (rv_mmu_load_slow(h, a, 1, &b))
                return 1;
            v |= b << (8 * i);
        }
        *val = v;
        return 0;
    }
    uint64_t gpa;
    uint8_t *host;
    if (translate(h, va, RV_ACC_LOAD, &gpa, &host))
        return 1;
    if (host) {
        *val = host_read(host, size);
        return 0;
    }
    return mmio_read(h, gpa, va, size, val, RV_ACC_LOAD);
}

/* An aligned store through a store entry marked RV_TLB_CODE, if va has
 * one: performs it and resets the decoded slots. Returns 1 when done. */
static int store_code_entry(struct rv_cpu *c, uint64_t va, unsigned size, uint64_t val)
{
    unsigned idx = (unsigned)(va >> 12) & (RV_TLB_SIZE - 1);
    struct rv_tlbe *e = &c->stlb[idx];
    if ((e->tag ^ RV_TLB_CODE) != (va & ~0xfffULL))
        return 0;
    host_write((uint8_t *)(e->addend + va), size, val);
    if (!code_store(c, c->sgpage[idx] | (va & 0xfff), size))
        e->tag &= ~RV_TLB_CODE; /* no decoded copy any more: fast stores again */
    return 1;
}

/* A misaligned store: up to two parts, one per page. Every byte's target
 * (RAM, or a device on the MMIO bus) is checked before the first byte is
 * written, so a store that faults anywhere writes nothing; mtval is then
 * the first address of the part that faulted. */
static int store_misaligned(struct rv_hart *h, uint64_t va, unsigned size, uint64_t val)
{
    struct rv_cpu *c = rv_cpu(h);
    struct {
        uint64_t va, gpa;
        uint8_t *host;
        unsigned len;
    } part[2];
    unsigned first = 4096 - (unsigned)(va & 0xfff);
    unsigned nparts = size > first ? 2 : 1;
    part[0].va = va;
    part[0].len = nparts == 2 ? first : size;
    part[1].va = va + part[0].len;
    part[1].len = size - part[0].len;

    for (unsigned p = 0; p < nparts; p++) {
        unsigned idx = (unsigned)(part[p].va >> 12) & (RV_TLB_SIZE - 1);
        const struct rv_tlbe *e = &c->stlb[idx];
        if (e->tag != RV_TLB_INVALID && (e->tag & ~RV_TLB_CODE) == (part[p].va & ~0xfffULL)) {
            part[p].host = (uint8_t *)(e->addend + part[p].va);
            part[p].gpa = c->sgpage[idx] | (part[p].va & 0xfff);
            continue;
        }
        if (translate(h, part[p].va, RV_ACC_STORE, &part[p].gpa, &part[p].host))
            return 1;
        if (part[p].host)
            continue;
        for (unsigned i = 0; i < part[p].len; i++) {
            if (!bus_find(&h->m->mmio, part[p].gpa + i)) {
                c->trap_cause = RV_EXC_STORE_ACCESS;
                c->trap_tval = part[p].va + i;
                return 1;
            }
        }
    }

    unsigned shift = 0;
    for (unsigned p = 0; p < nparts; p++) {
        for (unsigned i = 0; i < part[p].len; i++, shift += 8) {
            uint8_t b = (uint8_t)(val >> shift);
            if (part[p].host) {
                host_write(part[p].host + i, 1, b);
            } else {
                rv_fpu_sync(c); /* device code runs with the host's own FP state */
                h->vcpu->stats.mmio_exits++;
                bus_write(&h->m->mmio, part[p].gpa + i, 1, b);
            }
        }
        if (part[p].host)
            code_store(c, part[p].gpa, part[p].len);
    }
    return 0;
}

int rv_mmu_store_slow(struct rv_hart *h, uint64_t va, unsigned size, uint64_t val)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t gpa;
    uint8_t *host;
    if (va & (size - 1))
        return store_misaligned(h, va, size, val);
    if (store_code_entry(c, va, size, val))
        return 0;
    if (translate(h, va, RV_ACC_STORE, &gpa, &host))
        return 1;
    if (host) {
        host_write(host, size, val);
        code_store(c, gpa, size);
        return 0;
    }
    if (bus_find(&h->m->mmio, gpa)) {
        rv_fpu_sync(c); /* device code runs with the host's own FP state */
        MACHINE_VCPU_STAT_ADD(h->vcpu, mmio_exits, 1);
        bus_write(&h->m->mmio, gpa, size, val);
        return 0;
    }
    c->trap_cause = RV_EXC_STORE_ACCESS;
    c->trap_tval = va;
    return 1;
}

/* Invalidates the fetch entries whose decoded page is d (being evicted). */
static void unlink_fetch_entries(struct rv_cpu *c, const struct rv_dpage *d)
{
    for (int ctx = 0; ctx < RV_NCTX; ctx++)
        for (unsigned i = 0; i < RV_TLB_SIZE; i++)
            if (c->itlb[ctx][i].dp == d)
                c->itlb[ctx][i].gen = 0;
}

/* Fetch translation of the page holding va: host page and gpa page. */
static int fetch_lookup(struct rv_hart *h, uint64_t va, struct rv_ftlbe **out)
{
    struct rv_cpu *c = rv_cpu(h);
    struct rv_ftlbe *e = &c->ftlb[(va >> 12) & (RV_TLB_SIZE - 1)];
    if (RV_LIKELY(e->tag == (va & ~0xfffULL))) {
        c->tlb_hits++;
        *out = e;
        return 0;
    }
    uint64_t gpa;
    uint8_t *host;
    if (translate(h, va, RV_ACC_FETCH, &gpa, &host))
        return 1;
    if (!host) { /* no execution from MMIO or unmapped space */
        c->trap_cause = RV_EXC_INSN_ACCESS;
        c->trap_tval = va;
        return 1;
    }
    *out = e;
    return 0;
}

/* Zeroes d's decoded slots (RV_OP_DECODE everywhere), writing only the
 * host pages of them that hold something. A memset of all 16 KiB would
 * make the OS back every page of every slot ever reused (~7 MiB for a
 * kernel's boot on one hart), most of them never decoded into again. A
 * host page decoding has not written since the cache's memory was last
 * given back (rv_dpage.touched) is all zeros and is not even read: a read
 * would map the kernel's zero page there, a page fault for nothing (2000
 * of them in a 2-hart Linux boot, whose fence.i empties the cache often).
 * No system call: giving the pages back with madvise costs a TLB
 * shootdown across the VM's threads each time, and Linux on two harts,
 * which empties the cache at every fence.i, spent a third of its boot in
 * them. */
static void dpage_clear(struct rv_dpage *d)
{
    for (unsigned q = 0; q < RV_DC_SLOT_BYTES / 4096; q++) {
        if (!(d->touched & (1u << q)))
            continue;
        uint8_t *p = (uint8_t *)d->insn + 4096 * q;
        const uint64_t *w = (const uint64_t *)p, *we = (const uint64_t *)(p + 4096);
        uint64_t any = 0;
        for (; w + 8 <= we && !any; w += 8)
            any = w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7];
        if (any)
            memset(p, 0, 4096);
    }
}

void rv_dc_trim(struct rv_cpu *c)
{
    /* (one system call, and one TLB shootdown, per RV_DC_RESIDENT_PAGES
     * pages decoded: a few times in a Linux boot; see dpage_clear) */
    madvise(c->dinsn, RV_DC_BYTES, MADV_DONTNEED);
    for (unsigned i = 0; i < RV_DC_SLOTS; i++)
        c->dpages[i].touched = 0;
    c->dc_touched = 0;
    c->dc_releases++;
}

struct rv_dpage *rv_mmu_fetch_page(struct rv_hart *h, uint64_t pc, uint64_t *vbase)
{
    struct rv_cpu *c = rv_cpu(h);
    struct rv_ftlbe *e;
    if (fetch_lookup(h, pc, &e))
        return NULL;
    struct rv_dpage *d = &c->dpages[(e->gpage >> 12) & (RV_DC_SLOTS - 1)];
    if (d->key != (e->gpage | 1) || d->gen != c->icache_gen) {
        if (d->gen == c->icache_gen) {
            unlink_fetch_entries(c, d); /* evicting another page's copy */
            if (c->jit)
                rv_jit_page_evict(c, d->key & ~1ULL); /* and its translations */
        }
        /* All RV_OP_DECODE. A slot never used (gen 0) is still as mmap
         * left it, zero; a used one is zeroed where it is not. */
        if (d->gen != 0)
            dpage_clear(d);
        d->key = e->gpage | 1;
        d->gen = c->icache_gen;
        d->host = e->host;
        mark_stores_to(c, e->host);
    }
    e->dp = d;
    e->gen = c->icache_gen;
    *vbase = pc & ~0xfffULL;
    return d;
}

int rv_mmu_fetch16(struct rv_hart *h, uint64_t va, uint16_t *out)
{
    struct rv_ftlbe *e;
    if (fetch_lookup(h, va, &e))
        return 1;
    memcpy(out, e->host + (va & 0xfff), 2);
    return 0;
}

uint32_t rv_mmu_insn_bits(struct rv_hart *h, uint64_t va)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t cause = c->trap_cause, tval = c->trap_tval; /* a failed fetch sets them */
    uint16_t lo, hi;
    uint32_t bits = 0;
    if (!rv_mmu_fetch16(h, va, &lo)) {
        bits = lo;
        if ((lo & 3) == 3)
            bits = rv_mmu_fetch16(h, va + 2, &hi) ? 0 : bits | (uint32_t)hi << 16;
    }
    c->trap_cause = cause;
    c->trap_tval = tval;
    return bits;
}

/* Host address of an aligned atomic access of `size` bytes (RAM only). A
 * store's decoded slots are reset (the access writes, or may). */
static int amo_host(struct rv_hart *h, uint64_t va, unsigned size, int acc, uint8_t **host)
{
    struct rv_cpu *c = rv_cpu(h);
    unsigned idx = (unsigned)(va >> 12) & (RV_TLB_SIZE - 1);
    struct rv_tlbe *e = acc == RV_ACC_LOAD ? &c->ltlb[idx] : &c->stlb[idx];
    if (e->tag == (va & ~0xfffULL)) {
        *host = (uint8_t *)(e->addend + va);
        return 0;
    }
    if (acc == RV_ACC_STORE && (e->tag ^ RV_TLB_CODE) == (va & ~0xfffULL)) {
        *host = (uint8_t *)(e->addend + va);
        if (!code_store(c, c->sgpage[idx] | (va & 0xfff), size))
            e->tag &= ~RV_TLB_CODE;
        return 0;
    }
    uint64_t gpa;
    if (translate(h, va, acc, &gpa, host))
        return 1;
    if (!*host) {
        c->trap_cause = acc == RV_ACC_LOAD ? RV_EXC_LOAD_ACCESS : RV_EXC_STORE_ACCESS;
        c->trap_tval = va;
        return 1;
    }
    if (acc == RV_ACC_STORE)
        code_store(c, gpa, size);
    return 0;
}

#define AMO_CASE(T, f5, p, v, old)                                                     \
    switch (f5) {                                                                      \
    case 0x01: old = __atomic_exchange_n((T *)p, (T)v, __ATOMIC_SEQ_CST); break;       \
    case 0x00: old = __atomic_fetch_add((T *)p, (T)v, __ATOMIC_SEQ_CST); break;        \
    case 0x04: old = __atomic_fetch_xor((T *)p, (T)v, __ATOMIC_SEQ_CST); break;        \
    case 0x0c: old = __atomic_fetch_and((T *)p, (T)v, __ATOMIC_SEQ_CST); break;        \
    case 0x08: old = __atomic_fetch_or((T *)p, (T)v, __ATOMIC_SEQ_CST); break;         \
    default: {                                                                         \
        T cur = __atomic_load_n((T *)p, __ATOMIC_RELAXED), nv;                         \
        do {                                                                           \
            nv = amo_minmax_##T(f5, cur, (T)v);                                        \
        } while (!__atomic_compare_exchange_n((T *)p, &cur, nv, 0, __ATOMIC_SEQ_CST,   \
                                              __ATOMIC_RELAXED));                      \
        old = cur;                                                                     \
    }                                                                                  \
    }

static inline uint32_t amo_minmax_uint32_t(unsigned f5, uint32_t a, uint32_t b)
{
    switch (f5) {
    case 0x10: return (int32_t)a < (int32_t)b ? a : b;
    case 0x14: return (int32_t)a > (int32_t)b ? a : b;
    case 0x18: return a < b ? a : b;
    default: return a > b ? a : b;
    }
}

static inline uint64_t amo_minmax_uint64_t(unsigned f5, uint64_t a, uint64_t b)
{
    switch (f5) {
    case 0x10: return (int64_t)a < (int64_t)b ? a : b;
    case 0x14: return (int64_t)a > (int64_t)b ? a : b;
    case 0x18: return a < b ? a : b;
    default: return a > b ? a : b;
    }
}

enum rv_res rv_amo_exec(struct rv_hart *h, const struct rv_insn *in)
{
    struct rv_cpu *c = rv_cpu(h);
    unsigned size = (in->imm & 7) == 3 ? 8 : 4;
    unsigned f5 = (unsigned)in->imm >> 3;
    uint64_t va = h->x[in->rs1];
    uint8_t *p;

    if (va & (size - 1)) {
        c->trap_cause = f5 == 0x02 ? RV_EXC_LOAD_MISALIGNED : RV_EXC_STORE_MISALIGNED;
        c->trap_tval = va;
        return RV_RES_TRAP;
    }
    uint64_t result;
    if (f5 == 0x02) { /* LR */
        if (amo_host(h, va, size, RV_ACC_LOAD, &p))
            return RV_RES_TRAP;
        uint64_t v = size == 8 ? __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST)
                               : __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST);
        c->res_ptr = p;
        c->res_val = v;
        c->res_valid = (int)size;
        result = size == 8 ? v : (uint64_t)(int64_t)(int32_t)v;
    } else if (f5 == 0x03) { /* SC */
        if (amo_host(h, va, size, RV_ACC_STORE, &p))
            return RV_RES_TRAP;
        int ok = 0;
        if (c->res_valid == (int)size && c->res_ptr == p) {
            if (size == 8) {
                uint64_t exp = c->res_val;
                ok = __atomic_compare_exchange_n((uint64_t *)p, &exp, h->x[in->rs2], 0,
                                                 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
            } else {
                uint32_t exp = (uint32_t)c->res_val;
                ok = __atomic_compare_exchange_n((uint32_t *)p, &exp, (uint32_t)h->x[in->rs2], 0,
                                                 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
            }
        }
        c->res_valid = 0;
        result = !ok;
    } else {
        if (amo_host(h, va, size, RV_ACC_STORE, &p))
            return RV_RES_TRAP;
        uint64_t v = h->x[in->rs2];
        if (size == 8) {
            uint64_t old;
            AMO_CASE(uint64_t, f5, p, v, old);
            result = old;
        } else {
            uint32_t old;
            AMO_CASE(uint32_t, f5, p, v, old);
            result = (uint64_t)(int64_t)(int32_t)old;
        }
    }
    if (in->rd)
        h->x[in->rd] = result;
    return RV_RES_OK;
}
