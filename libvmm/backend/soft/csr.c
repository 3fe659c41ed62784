/* CSRs, traps, interrupts and the privileged instructions (mret, sret, wfi,
 * sfence.vma) of the RV64GC core, after the RISC-V privileged spec 1.12.
 */
#include <string.h>

#include "backend/soft/cpu.h"
#include "util/log.h"

#define MISA_VALUE                                                                      \
    ((2ULL << 62) | (1ULL << 0) /* A */ | (1ULL << 2) /* C */ | (1ULL << 3) /* D */ |   \
     (1ULL << 5) /* F */ | (1ULL << 8) /* I */ | (1ULL << 12) /* M */ |                 \
     (1ULL << 18) /* S */ | (1ULL << 20) /* U */)

#define MSTATUS_WMASK                                                                   \
    (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | \
     MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW |  \
     MSTATUS_TSR)
#define SSTATUS_MASK                                                                    \
    (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)

#define MEDELEG_MASK 0xb3ffULL /* every exception up to 15 but ecall-from-M and reserved */
#define S_IRQS (RV_IRQ_SSIP | RV_IRQ_STIP | RV_IRQ_SEIP)
#define ALL_IRQS (S_IRQS | RV_IRQ_MSIP | RV_IRQ_MTIP | RV_IRQ_MEIP)

#define SATP_MODE_SHIFT 60
#define SATP_ASID_MASK (0xffffULL << 44)
#define SATP_PPN_MASK ((1ULL << 44) - 1)

static int ctx_of(int priv, int sum)
{
    if (priv == RV_PRIV_M)
        return RV_CTX_M;
    if (priv == RV_PRIV_U)
        return RV_CTX_U;
    return sum ? RV_CTX_S_SUM : RV_CTX_S;
}

void rv_cpu_update_ctx(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    int sum = (c->mstatus & MSTATUS_SUM) != 0;
    int dpriv = h->priv;
    if (h->priv == RV_PRIV_M && (c->mstatus & MSTATUS_MPRV))
        dpriv = (int)((c->mstatus >> MSTATUS_MPP_SHIFT) & 3);
    int dctx = ctx_of(dpriv, sum);
    c->ltlb = c->tlb[dctx][0];
    c->stlb = c->tlb[dctx][1];
    c->sgpage = c->store_gpage[dctx];
    c->ftlb = c->itlb[ctx_of(h->priv, 0)];
}

static uint64_t mstatus_read(const struct rv_cpu *c)
{
    uint64_t v = c->mstatus | MSTATUS_UXL | MSTATUS_SXL;
    if ((c->mstatus & MSTATUS_FS) == MSTATUS_FS)
        v |= MSTATUS_SD;
    return v;
}

/* Writes the writable mstatus bits in `mask`; returns RV_RES_SYNC since
 * interrupt enables and translation may have changed. */
static enum rv_res mstatus_write(struct rv_hart *h, uint64_t val, uint64_t mask)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t old = c->mstatus;
    uint64_t nv = (old & ~mask) | (val & mask);
    if (((nv & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT) == 2) /* reserved: keep */
        nv = (nv & ~MSTATUS_MPP) | (old & MSTATUS_MPP);
    c->mstatus = nv;
    if ((old ^ nv) & MSTATUS_MXR)
        rv_tlb_flush_all(h); /* load permissions of cached pages changed */
    rv_cpu_update_ctx(h);
    return RV_RES_SYNC;
}

uint64_t rv_csr_mip(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t ext = atomic_load_explicit(&h->mip_ext, memory_order_relaxed);
    if (RV_UNLIKELY(ext & RV_IRQ_SSIP)) {
        /* An IPI sets the software-writable SSIP once; the guest clears it
         * (csrc sip) like any software-set bit. */
        atomic_fetch_and(&h->mip_ext, ~RV_IRQ_SSIP);
        c->mip |= RV_IRQ_SSIP;
        ext &= ~RV_IRQ_SSIP;
    }
    uint64_t mip = c->mip | ext;
    uint64_t t = rv_hart_time(h);
    if (t >= atomic_load_explicit(&h->mtimecmp, memory_order_relaxed))
        mip |= RV_IRQ_MTIP;
    if (h->sbi_in_vmm) {
        mip &= ~RV_IRQ_STIP;
        if (t >= atomic_load_explicit(&h->sbi_timecmp, memory_order_relaxed))
            mip |= RV_IRQ_STIP;
    }
    return mip;
}

uint64_t rv_irq_pending(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    if (!c->mie)
        return 0;
    uint64_t pend = rv_csr_mip(h) & c->mie;
    if (!pend)
        return 0;
    uint64_t m = 0, s = 0;
    if (h->priv < RV_PRIV_M || (c->mstatus & MSTATUS_MIE))
        m = pend & ~c->mideleg;
    if (h->priv < RV_PRIV_S || (h->priv == RV_PRIV_S && (c->mstatus & MSTATUS_SIE)))
        s = pend & c->mideleg;
    uint64_t en = m ? m : s;
    if (!en)
        return 0;
    /* Priority: MEI, MSI, MTI, SEI, SSI, STI. */
    static const int order[6] = { 11, 3, 7, 9, 1, 5 };
    for (int i = 0; i < 6; i++)
        if (en & (1ULL << order[i]))
            return RV_CAUSE_INTR | (uint64_t)order[i];
    return 0;
}

void rv_trap(struct rv_hart *h, uint64_t cause, uint64_t tval)
{
    struct rv_cpu *c = rv_cpu(h);
    int intr = (cause & RV_CAUSE_INTR) != 0;
    unsigned code = (unsigned)(cause & 63);
    uint64_t deleg = intr ? c->mideleg : c->medeleg;
    if (cause == RV_EXC_ILLEGAL && tval == RV_TVAL_INSN)
        tval = rv_mmu_insn_bits(h, h->pc); /* before the privilege changes */

    if (h->priv <= RV_PRIV_S && ((deleg >> code) & 1)) {
        c->scause = cause;
        c->sepc = h->pc;
        c->stval = tval;
        uint64_t s = c->mstatus & ~(MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_SPP);
        if (c->mstatus & MSTATUS_SIE)
            s |= MSTATUS_SPIE;
        if (h->priv == RV_PRIV_S)
            s |= MSTATUS_SPP;
        c->mstatus = s;
        h->priv = RV_PRIV_S;
        h->pc = (c->stvec & ~3ULL) + ((intr && (c->stvec & 3) == 1) ? 4ULL * code : 0);
    } else {
        if (h->sbi_in_vmm) {
            /* No M-mode firmware runs: a trap into M cannot be handled. */
            machine_set_outcome(h->m, VMM_OUTCOME_CRASH, 0,
                                "hart %u: unhandled %s %llu at pc 0x%llx (tval 0x%llx, priv %d)",
                                h->hartid, intr ? "interrupt" : "exception",
                                (unsigned long long)code, (unsigned long long)h->pc,
                                (unsigned long long)tval, h->priv);
            return;
        }
        c->mcause = cause;
        c->mepc = h->pc;
        c->mtval = tval;
        uint64_t s = c->mstatus & ~(MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_MPP);
        if (c->mstatus & MSTATUS_MIE)
            s |= MSTATUS_MPIE;
        s |= (uint64_t)h->priv << MSTATUS_MPP_SHIFT;
        c->mstatus = s;
        h->priv = RV_PRIV_M;
        h->pc = (c->mtvec & ~3ULL) + ((intr && (c->mtvec & 3) == 1) ? 4ULL * code : 0);
    }
    rv_cpu_update_ctx(h);
}

/* Counter access from S/U is gated by mcounteren (and scounteren for U). */
static int counter_allowed(struct rv_hart *h, unsigned csr)
{
    struct rv_cpu *c = rv_cpu(h);
    unsigned bit = csr & 31;
    if (h->priv < RV_PRIV_M && !((c->mcounteren >> bit) & 1))
        return 0;
    if (h->priv < RV_PRIV_S && !((c->scounteren >> bit) & 1))
        return 0;
    return 1;
}

/* Reads CSR `csr`; returns -1 when it does not exist or may not be read. */
static int csr_read(struct rv_hart *h, unsigned csr, uint64_t *v)
{
    struct rv_cpu *c = rv_cpu(h);
    switch (csr) {
    case 0x001: case 0x002: case 0x003:
        if (!(c->mstatus & MSTATUS_FS))
            return -1;
        rv_fpu_sync(c); /* flags the host FPU still holds */
        *v = csr == 1 ? c->fflags : csr == 2 ? c->frm : (c->frm << 5 | c->fflags);
        return 0;
    case 0xc00: case 0xc02:
        if (!counter_allowed(h, csr))
            return -1;
        *v = rv_cpu_instret(h) + (csr == 0xc00 ? c->mcycle_off : c->minstret_off);
        return 0;
    case 0xc01:
        if (!counter_allowed(h, csr))
            return -1;
        *v = rv_hart_time(h);
        return 0;
    case 0x100: *v = mstatus_read(c) & (SSTATUS_MASK | MSTATUS_UXL | MSTATUS_SD); return 0;
    case 0x104: *v = c->mie & c->mideleg; return 0;
    case 0x105: *v = c->stvec; return 0;
    case 0x106: *v = c->scounteren; return 0;
    case 0x10a: *v = c->senvcfg; return 0;
    case 0x140: *v = c->sscratch; return 0;
    case 0x141: *v = c->sepc; return 0;
    case 0x142: *v = c->scause; return 0;
    case 0x143: *v = c->stval; return 0;
    case 0x144: *v = rv_csr_mip(h) & c->mideleg; return 0;
    case 0x180:
        if (h->priv == RV_PRIV_S && (c->mstatus & MSTATUS_TVM))
            return -1;
        *v = c->satp;
        return 0;
    case 0xf11: case 0xf12: case 0xf13: case 0xf15: *v = 0; return 0;
    case 0xf14: *v = h->hartid; return 0;
    case 0x300: *v = mstatus_read(c); return 0;
    case 0x301: *v = MISA_VALUE; return 0;
    case 0x302: *v = c->medeleg; return 0;
    case 0x303: *v = c->mideleg; return 0;
    case 0x304: *v = c->mie; return 0;
    case 0x305: *v = c->mtvec; return 0;
    case 0x306: *v = c->mcounteren; return 0;
    case 0x30a: *v = c->menvcfg; return 0;
    case 0x340: *v = c->mscratch; return 0;
    case 0x341: *v = c->mepc; return 0;
    case 0x342: *v = c->mcause; return 0;
    case 0x343: *v = c->mtval; return 0;
    case 0x344: *v = rv_csr_mip(h); return 0;
    case 0xb00: *v = rv_cpu_instret(h) + c->mcycle_off; return 0;
    case 0xb02: *v = rv_cpu_instret(h) + c->minstret_off; return 0;
    /* Debug triggers (debug spec 0.13 / 1.0): this hart has none, which
     * the spec lets it say through the trigger CSRs themselves: tselect
     * holds only 0 (a write of another value reads back 0), tdata1 reads
     * type 0 ("no trigger"), tinfo reads 1 (only type 0 is supported),
     * tdata2/3, tcontrol and mcontext read 0; writes are ignored. */
    case 0x7a0: case 0x7a1: case 0x7a2: case 0x7a3: case 0x7a5: case 0x7a8:
        *v = 0;
        return 0;
    case 0x7a4: *v = 1; return 0;
    case 0x320: *v = 0; return 0; /* mcountinhibit */
    }
    if (csr >= 0xc03 && csr <= 0xc1f) { /* hpmcounterN: no events, read 0 */
        if (!counter_allowed(h, csr))
            return -1;
        *v = 0;
        return 0;
    }
    if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f) ||
        (csr >= 0x3a0 && csr <= 0x3ef)) { /* mhpm*, pmpcfg/pmpaddr: RAZ/WI */
        *v = 0;
        return 0;
    }
    return -1;
}

/* Writes CSR `csr`. Returns -1 (illegal), RV_RES_OK or RV_RES_SYNC. */
static int csr_write(struct rv_hart *h, unsigned csr, uint64_t v)
{
    struct rv_cpu *c = rv_cpu(h);
    switch (csr) {
    case 0x001:
        rv_fpu_sync(c);
        c->fflags = v & 0x1f;
        rv_fs_dirty(c);
        return RV_RES_OK;
    case 0x002: c->frm = v & 7; rv_fs_dirty(c); return RV_RES_OK;
    case 0x003:
        rv_fpu_sync(c);
        c->fflags = v & 0x1f;
        c->frm = (v >> 5) & 7;
        rv_fs_dirty(c);
        return RV_RES_OK;
    case 0x100: return mstatus_write(h, v, SSTATUS_MASK);
    case 0x104:
        c->mie = (c->mie & ~c->mideleg) | (v & c->mideleg & S_IRQS);
        return RV_RES_SYNC;
    case 0x105: c->stvec = (v & 3) > 1 ? (v & ~3ULL) : v; return RV_RES_OK;
    case 0x106: c->scounteren = v & 0xffffffffULL; return RV_RES_OK;
    case 0x10a: return RV_RES_OK; /* senvcfg: no optional features, RAZ/WI */
    case 0x140: c->sscratch = v; return RV_RES_OK;
    case 0x141: c->sepc = v & ~1ULL; return RV_RES_OK;
    case 0x142: c->scause = v; return RV_RES_OK;
    case 0x143: c->stval = v; return RV_RES_OK;
    case 0x144: {
        uint64_t w = RV_IRQ_SSIP & c->mideleg;
        c->mip = (c->mip & ~w) | (v & w);
        return RV_RES_SYNC;
    }
    case 0x180: {
        unsigned mode = (unsigned)(v >> SATP_MODE_SHIFT);
        if (h->priv == RV_PRIV_S && (c->mstatus & MSTATUS_TVM))
            return -1;
        if (mode != 0 && mode != 8 && mode != 9)
            return RV_RES_OK; /* unsupported mode: the write has no effect */
        c->satp = v & ((0xfULL << SATP_MODE_SHIFT) | SATP_ASID_MASK | SATP_PPN_MASK);
        rv_tlb_flush_all(h);
        c->tlb_flushes++;
        return RV_RES_SYNC;
    }
    case 0x300: return mstatus_write(h, v, MSTATUS_WMASK);
    case 0x301: return RV_RES_OK; /* misa: fixed */
    case 0x302: c->medeleg = v & MEDELEG_MASK; return RV_RES_OK;
    case 0x303: c->mideleg = v & S_IRQS; return RV_RES_SYNC;
    case 0x304: c->mie = v & ALL_IRQS; return RV_RES_SYNC;
    case 0x305: c->mtvec = (v & 3) > 1 ? (v & ~3ULL) : v; return RV_RES_OK;
    case 0x306: c->mcounteren = v & 0xffffffffULL; return RV_RES_OK;
    case 0x30a: return RV_RES_OK; /* menvcfg: no optional features, RAZ/WI */
    case 0x340: c->mscratch = v; return RV_RES_OK;
    case 0x341: c->mepc = v & ~1ULL; return RV_RES_OK;
    case 0x342: c->mcause = v; return RV_RES_OK;
    case 0x343: c->mtval = v; return RV_RES_OK;
    case 0x344: {
        uint64_t w = RV_IRQ_SSIP | RV_IRQ_SEIP | (h->sbi_in_vmm ? 0 : RV_IRQ_STIP);
        c->mip = (c->mip & ~w) | (v & w);
        return RV_RES_SYNC;
    }
    /* mcycle / minstret: the written value replaces this instruction's
     * own increment, so the next instruction reads exactly v. */
    case 0xb00: c->mcycle_off = v - (rv_cpu_instret(h) + 1); return RV_RES_OK;
    case 0xb02: c->minstret_off = v - (rv_cpu_instret(h) + 1); return RV_RES_OK;
    case 0x320: return RV_RES_OK; /* mcountinhibit: counters always count */
    case 0x7a0: case 0x7a1: case 0x7a2: case 0x7a3: case 0x7a4: case 0x7a5: case 0x7a8:
        return RV_RES_OK; /* trigger CSRs: no triggers, writes ignored */
    }
    if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f) ||
        (csr >= 0x3a0 && csr <= 0x3ef))
        return RV_RES_OK;
    return -1;
}

enum rv_res rv_csr_exec(struct rv_hart *h, const struct rv_insn *in)
{
    unsigned csr = (unsigned)in->imm & 0xfff;
    unsigned f3 = in->rs2;
    uint64_t src = (f3 & 4) ? in->rs1 : h->x[in->rs1];
    int writes = !((f3 & 3) != 1 && in->rs1 == 0); /* csrrs/c with x0 / 0 only read */

    if (((csr >> 8) & 3) > (unsigned)h->priv)
        return rv_illegal(h);
    if (writes && (csr >> 10) == 3)
        return rv_illegal(h);

    uint64_t old = 0;
    if (csr_read(h, csr, &old) < 0)
        return rv_illegal(h);
    int res = RV_RES_OK;
    if (writes) {
        uint64_t nv = (f3 & 3) == 1 ? src : (f3 & 3) == 2 ? (old | src) : (old & ~src);
        if (csr == 0x344 || csr == 0x144) /* read-modify-write sees only software bits */
            nv = (f3 & 3) == 1 ? src : (f3 & 3) == 2 ? (rv_cpu(h)->mip | src) : (rv_cpu(h)->mip & ~src);
        res = csr_write(h, csr, nv);
        if (res < 0)
            return rv_illegal(h);
    }
    if (in->rd)
        h->x[in->rd] = old;
    return (enum rv_res)res;
}

enum rv_res rv_sys_exec(struct rv_hart *h, const struct rv_insn *in, uint64_t pc)
{
    struct rv_cpu *c = rv_cpu(h);
    switch (rv_insn_op(in)) {
    case RV_OP_MRET: {
        if (h->priv != RV_PRIV_M)
            return rv_illegal(h);
        int mpp = (int)((c->mstatus >> MSTATUS_MPP_SHIFT) & 3);
        uint64_t s = c->mstatus & ~(MSTATUS_MIE | MSTATUS_MPP);
        if (c->mstatus & MSTATUS_MPIE)
            s |= MSTATUS_MIE;
        s |= MSTATUS_MPIE;
        if (mpp != RV_PRIV_M)
            s &= ~MSTATUS_MPRV;
        c->mstatus = s;
        h->priv = mpp;
        h->pc = c->mepc;
        rv_cpu_update_ctx(h);
        return RV_RES_SYNC;
    }
    case RV_OP_SRET: {
        if (h->priv == RV_PRIV_U || (h->priv == RV_PRIV_S && (c->mstatus & MSTATUS_TSR)))
            return rv_illegal(h);
        int spp = (c->mstatus & MSTATUS_SPP) ? RV_PRIV_S : RV_PRIV_U;
        uint64_t s = c->mstatus & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV);
        if (c->mstatus & MSTATUS_SPIE)
            s |= MSTATUS_SIE;
        s |= MSTATUS_SPIE;
        c->mstatus = s;
        h->priv = spp;
        h->pc = c->sepc;
        rv_cpu_update_ctx(h);
        return RV_RES_SYNC;
    }
    case RV_OP_WFI:
        if (h->priv == RV_PRIV_U || (h->priv == RV_PRIV_S && (c->mstatus & MSTATUS_TW)))
            return rv_illegal(h);
        h->pc = pc + rv_insn_len(in);
        rv_cpu_wfi(h);
        return RV_RES_SYNC;
    case RV_OP_SFENCE_VMA:
        if (h->priv == RV_PRIV_U || (h->priv == RV_PRIV_S && (c->mstatus & MSTATUS_TVM)))
            return rv_illegal(h);
        if (in->rs1)
            rv_tlb_flush_page(h, h->x[in->rs1]);
        else
            rv_tlb_flush_all(h);
        c->tlb_flushes++;
        h->pc = pc + rv_insn_len(in);
        return RV_RES_SYNC;
    default:
        return rv_illegal(h);
    }
}
