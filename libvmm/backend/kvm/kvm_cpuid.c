/* The guest's CPUID: the host's KVM_GET_SUPPORTED_CPUID, with the APIC id of
 * each vCPU filled in, the hypervisor bit set, and features hidden that
 * kvm_pvm cannot run at guest CPL0 (cmpxchg16b and the whole XSAVE/AVX
 * family: its instruction emulator fails on cmpxchg16b and xrstor). Hiding
 * them costs little on VT-x hosts and keeps one guest view on both.
 */
#include "backend/kvm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/error.h"

#define BIT(n) (1u << (n))

/* Leaf 1 ECX. */
#define CPUID1_ECX_FMA BIT(12)
#define CPUID1_ECX_CX16 BIT(13)
#define CPUID1_ECX_XSAVE BIT(26)
#define CPUID1_ECX_OSXSAVE BIT(27)
#define CPUID1_ECX_AVX BIT(28)
#define CPUID1_ECX_F16C BIT(29)
#define CPUID1_ECX_HYPERVISOR BIT(31)
/* Leaf 1 EDX. */
#define CPUID1_EDX_HTT BIT(28)
/* Leaf 7.0 EBX: AVX2 and every AVX-512 bit (all need XSAVE state). */
#define CPUID7_EBX_AVX_MASK                                                                  \
    (BIT(5) | BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31))
/* Leaf 7.0 ECX: AVX512_VBMI, VBMI2, VAES, VPCLMULQDQ, VNNI, BITALG, VPOPCNTDQ. */
#define CPUID7_ECX_AVX_MASK (BIT(1) | BIT(6) | BIT(9) | BIT(10) | BIT(11) | BIT(12) | BIT(14))
/* Leaf 7.0 EDX: AVX512_4VNNIW/4FMAPS, VP2INTERSECT, AMX, AVX512_FP16. */
#define CPUID7_EDX_AVX_MASK (BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25))
/* Leaf 7.1 EAX: AVX_VNNI, AVX512_BF16. */
#define CPUID71_EAX_AVX_MASK (BIT(4) | BIT(5))
/* Leaf 0x80000001 ECX: XOP, FMA4 (AVX-encoded on AMD). */
#define CPUIDX1_ECX_AVX_MASK (BIT(11) | BIT(16))

static struct kvm_cpuid2 *cpuid_supported(int kvm_fd)
{
    for (unsigned n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
        if (!c) {
            vmm_error(VMM_ENOMEM, "allocating %u CPUID entries", n);
            return NULL;
        }
        c->nent = n;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        int e = errno;
        free(c);
        if (e != E2BIG) {
            vmm_error(VMM_EKVM, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
            return NULL;
        }
    }
    vmm_error(VMM_EKVM, "KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
    return NULL;
}

static void cpuid_filter(struct kvm_cpuid_entry2 *e, unsigned index, unsigned nr_vcpus)
{
    switch (e->function) {
    case 1:
        e->ecx &= ~(CPUID1_ECX_CX16 | CPUID1_ECX_XSAVE | CPUID1_ECX_OSXSAVE | CPUID1_ECX_AVX |
                    CPUID1_ECX_FMA | CPUID1_ECX_F16C);
        e->ecx |= CPUID1_ECX_HYPERVISOR;
        /* EBX[31:24] initial APIC id, [23:16] logical processors per package. */
        e->ebx = (e->ebx & 0x0000ffffu) | (index << 24) |
                 ((nr_vcpus > 255 ? 255u : nr_vcpus) << 16);
        if (nr_vcpus > 1)
            e->edx |= CPUID1_EDX_HTT;
        break;
    case 7:
        if (e->index == 0) {
            e->ebx &= ~CPUID7_EBX_AVX_MASK;
            e->ecx &= ~CPUID7_ECX_AVX_MASK;
            e->edx &= ~CPUID7_EDX_AVX_MASK;
        } else if (e->index == 1) {
            e->eax &= ~CPUID71_EAX_AVX_MASK;
        }
        break;
    case 0xd:
        /* No XSAVE: the state-component leaf describes nothing. */
        e->eax = e->ebx = e->ecx = e->edx = 0;
        break;
    case 0xb:
    case 0x1f:
        /* Extended topology: x2APIC id of this vCPU. */
        e->edx = index;
        break;
    case 0x80000001:
        e->ecx &= ~CPUIDX1_ECX_AVX_MASK;
        break;
    default:
        break;
    }
}

/* Bits the VM's config disabled (libvirt <feature policy='disable'>). */
static void cpuid_hide_configured(const struct engine_options *opt, struct kvm_cpuid_entry2 *e)
{
    for (int i = 0; i < opt->kvm.nr_cpuid_hide; i++) {
        const struct engine_cpuid_bit *b = &opt->kvm.cpuid_hide[i];
        if (e->function != b->leaf || e->index != b->subleaf || b->bit > 31)
            continue;
        uint32_t *regs[4] = { &e->eax, &e->ebx, &e->ecx, &e->edx };
        *regs[b->reg & 3] &= ~BIT(b->bit);
    }
}

int kvm_cpuid_setup(struct machine *m, unsigned index)
{
    struct kvm_vm_state *vm = kvm_vm_of(m);
    struct kvm_cpuid2 *c = cpuid_supported(vm->kvm_fd);
    if (!c)
        return VMM_EKVM;
    for (unsigned i = 0; i < c->nent; i++) {
        cpuid_filter(&c->entries[i], index, m->nr_vcpus);
        cpuid_hide_configured(&vm->opt, &c->entries[i]);
    }
    int rc = 0;
    if (ioctl(kvm_vcpu_of(m, index)->fd, KVM_SET_CPUID2, c) < 0)
        rc = vmm_error(VMM_EKVM, "vCPU %u: KVM_SET_CPUID2 (%u entries): %s", index, c->nent,
                       strerror(errno));
    free(c);
    return rc;
}
