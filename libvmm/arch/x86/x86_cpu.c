/* The boot vCPU's initial state for the two entry modes loaders ask for:
 * a boot GDT in guest memory (null, null, code at 0x10, data at 0x18, TSS at
 * 0x20) whose descriptors match the hidden segment state set through
 * KVM_SET_SREGS, and for long mode identity-mapped page tables for
 * 0-4 GiB with 2 MiB pages. Application processors stay in KVM's initial
 * wait-for-SIPI state (the in-kernel LAPIC) until the guest starts them.
 */
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "backend/kvm/kvm.h"
#include "util/error.h"

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

#define GDT_CODE32 0x00cf9b000000ffffULL
#define GDT_CODE64 0x00af9b000000ffffULL
#define GDT_DATA 0x00cf93000000ffffULL
#define GDT_TSS 0x00008b0000000067ULL
#define GDT_ENTRIES 5
#define SEL_TSS 0x20

static int cpu_write_gdt(struct machine *m, int long_mode)
{
    uint8_t *g = guest_mem_ptr(&m->mem, X86_GDT_ADDR, GDT_ENTRIES * 8);
    if (!g)
        return vmm_error(VMM_ERANGE, "boot GDT at 0x%llx is not RAM",
                         (unsigned long long)X86_GDT_ADDR);
    const uint64_t gdt[GDT_ENTRIES] = { 0, 0, long_mode ? GDT_CODE64 : GDT_CODE32, GDT_DATA,
                                        GDT_TSS };
    for (int i = 0; i < GDT_ENTRIES; i++)
        x86_wr64(g + 8 * i, gdt[i]);
    return 0;
}

static int cpu_write_page_tables(struct machine *m)
{
    uint8_t *pt = guest_mem_ptr(&m->mem, X86_PML4_ADDR, 6 * 4096);
    if (!pt)
        return vmm_error(VMM_ERANGE, "boot page tables at 0x%llx are not RAM",
                         (unsigned long long)X86_PML4_ADDR);
    memset(pt, 0, 6 * 4096);
    uint8_t *pml4 = pt, *pdpt = pt + 4096, *pd = pt + 2 * 4096;
    x86_wr64(pml4, X86_PDPT_ADDR | PTE_P | PTE_RW);
    for (uint64_t i = 0; i < 4; i++)
        x86_wr64(pdpt + 8 * i, (X86_PD_ADDR + 4096 * i) | PTE_P | PTE_RW);
    for (uint64_t i = 0; i < 4 * 512; i++)
        x86_wr64(pd + 8 * i, (i << 21) | PTE_P | PTE_RW | PTE_PS);
    return 0;
}

static struct kvm_segment flat_segment(uint16_t sel, uint8_t type, int code64)
{
    struct kvm_segment s = {
        .base = 0,
        .limit = 0xffffffff,
        .selector = sel,
        .type = type,
        .present = 1,
        .dpl = 0,
        .db = code64 ? 0 : 1,
        .s = 1,
        .l = code64 ? 1 : 0,
        .g = 1,
    };
    return s;
}

int x86_cpu_setup(struct machine *m, const struct x86_entry *e)
{
    int long_mode = e->mode == X86_ENTRY_LONG64;
    int rc = cpu_write_gdt(m, long_mode);
    if (rc == 0 && long_mode)
        rc = cpu_write_page_tables(m);
    struct kvm_sregs s;
    if (rc == 0)
        rc = kvm_vcpu_get_sregs(m, 0, &s);
    if (rc < 0)
        return rc;
    s.cs = flat_segment(X86_SEL_CODE, 0xb, long_mode);
    s.ds = s.es = s.fs = s.gs = s.ss = flat_segment(X86_SEL_DATA, 0x3, 0);
    s.tr = (struct kvm_segment){ .selector = SEL_TSS, .limit = 0x67, .type = 0xb, .present = 1 };
    s.gdt.base = X86_GDT_ADDR;
    s.gdt.limit = GDT_ENTRIES * 8 - 1;
    s.idt.base = 0;
    s.idt.limit = 0;
    s.cr0 = CR0_PE | CR0_ET | CR0_NE;
    s.cr4 = 0;
    s.efer = 0;
    s.cr3 = 0;
    if (long_mode) {
        s.cr0 |= CR0_MP | CR0_WP | CR0_PG;
        s.cr3 = X86_PML4_ADDR;
        s.cr4 = CR4_PAE;
        s.efer = EFER_LME | EFER_LMA;
    }
    rc = kvm_vcpu_set_sregs(m, 0, &s);
    if (rc < 0)
        return rc;
    struct kvm_regs r;
    memset(&r, 0, sizeof(r));
    r.rflags = 0x2; /* reserved bit 1; interrupts off */
    r.rip = e->rip;
    r.rax = e->rax;
    r.rbx = e->rbx;
    r.rsi = e->rsi;
    r.rsp = e->rsp;
    return kvm_vcpu_set_regs(m, 0, &r);
}
