/* The kvm engine's state as machine components: each vCPU ("cpu<N>") and
 * the in-kernel interrupt controllers ("kvm-irqchip": PIC master and slave,
 * IOAPIC, PIT).
 *
 * A vCPU's state is what KVM exposes through its GET ioctls: multiprocessor
 * state, general and special registers, FPU/SSE, the local APIC page,
 * pending events, debug registers, XCR0 (where the host has XCRS) and the
 * MSRs guests program (SYSCALL/SYSENTER, FS/GS bases, PAT, TSC, kvmclock).
 * Each block goes into the stream as a u32 length and the kernel's own
 * structure, whose layout is part of KVM's ABI; a load refuses a block of
 * another length.
 *
 * Time fields are normalised so that saving a paused machine twice gives
 * the same bytes: the TSC is read once when the vCPU stops running and that
 * value is what saves report (a paused guest's clock does not advance); the
 * LAPIC's current-count register and the PIT's load time stamps are written
 * as 0 because KVM recomputes them from the initial counts on load.
 *
 * Reset is a load of what the vCPU / irqchip looked like right after
 * creation (KVM has no reset ioctl; this is its power-on state).
 */
#include "backend/kvm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/error.h"

#define MSR_IA32_TSC 0x10
#define APIC_TMCCT_OFFSET 0x390

/* MSRs a guest programs and expects back; only those the host's KVM lists
 * (KVM_GET_MSR_INDEX_LIST) and can read are kept. */
static const uint32_t candidate_msrs[] = {
    0x10,       /* TSC */
    0x174,      /* SYSENTER_CS */
    0x175,      /* SYSENTER_ESP */
    0x176,      /* SYSENTER_EIP */
    0x1a0,      /* MISC_ENABLE */
    0x277,      /* PAT */
    0xc0000081, /* STAR */
    0xc0000082, /* LSTAR */
    0xc0000083, /* CSTAR */
    0xc0000084, /* SFMASK */
    0xc0000100, /* FS_BASE */
    0xc0000101, /* GS_BASE */
    0xc0000102, /* KERNEL_GS_BASE */
    0xc0000103, /* TSC_AUX */
    0x4b564d00, /* kvmclock wall clock */
    0x4b564d01, /* kvmclock system time */
    0x4b564d02, /* async page fault */
    0x4b564d03, /* steal time */
    0x4b564d04, /* PV EOI */
};
#define MAX_MSRS (sizeof(candidate_msrs) / sizeof(candidate_msrs[0]))

struct msr_list {
    struct kvm_msrs hdr;
    struct kvm_msr_entry e[MAX_MSRS];
};

/* Everything saved of one vCPU. */
struct vcpu_blob {
    struct kvm_mp_state mp;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_lapic_state lapic;
    struct kvm_vcpu_events events;
    struct kvm_debugregs debugregs;
    struct kvm_xcrs xcrs;
    struct msr_list msrs;
};

/* What kvm_state.c keeps per vCPU (hung off kvm_vcpu_state.saved). */
struct vcpu_extra {
    struct vcpu_blob reset;   /* as created */
    uint32_t msr_index[MAX_MSRS];
    unsigned nr_msrs;
    int has_xcrs;
};

struct irqchip_blob {
    struct kvm_irqchip pic_master, pic_slave, ioapic;
    struct kvm_pit_state2 pit;
};

static int vcpu_fail(const struct kvm_vcpu_state *v, const char *what)
{
    return vmm_error(VMM_EKVM, "vCPU %u: %s: %s", v->index, what, strerror(errno));
}

/* Which candidate MSRs this host lets us read. */
static int msrs_probe(struct kvm_vcpu_state *v, struct vcpu_extra *x)
{
    struct kvm_vm_state *vm = kvm_vm_of(v->m);
    struct kvm_msr_list probe = { .nmsrs = 0 };
    /* First call: E2BIG with the count. */
    ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);
    uint32_t n = probe.nmsrs;
    struct kvm_msr_list *list = calloc(1, sizeof(*list) + n * sizeof(uint32_t));
    if (!list)
        return vmm_error(VMM_ENOMEM, "MSR index list (%u entries)", n);
    list->nmsrs = n;
    if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
        free(list);
        return vmm_error(VMM_EKVM, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
    }
    x->nr_msrs = 0;
    for (size_t i = 0; i < MAX_MSRS; i++) {
        int listed = 0;
        for (uint32_t k = 0; k < list->nmsrs && !listed; k++)
            listed = list->indices[k] == candidate_msrs[i];
        if (!listed)
            continue;
        struct msr_list one = { .hdr.nmsrs = 1 };
        one.e[0].index = candidate_msrs[i];
        if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
            x->msr_index[x->nr_msrs++] = candidate_msrs[i];
    }
    free(list);
    return 0;
}

static int blob_get(struct kvm_vcpu_state *v, struct vcpu_blob *b)
{
    struct vcpu_extra *x = v->saved;
    memset(b, 0, sizeof(*b));
    if (ioctl(v->fd, KVM_GET_MP_STATE, &b->mp) < 0)
        return vcpu_fail(v, "KVM_GET_MP_STATE");
    if (ioctl(v->fd, KVM_GET_REGS, &b->regs) < 0)
        return vcpu_fail(v, "KVM_GET_REGS");
    if (ioctl(v->fd, KVM_GET_SREGS, &b->sregs) < 0)
        return vcpu_fail(v, "KVM_GET_SREGS");
    if (ioctl(v->fd, KVM_GET_FPU, &b->fpu) < 0)
        return vcpu_fail(v, "KVM_GET_FPU");
    if (ioctl(v->fd, KVM_GET_LAPIC, &b->lapic) < 0)
        return vcpu_fail(v, "KVM_GET_LAPIC");
    memset(&b->lapic.regs[APIC_TMCCT_OFFSET], 0, 4);
    if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &b->events) < 0)
        return vcpu_fail(v, "KVM_GET_VCPU_EVENTS");
    if (ioctl(v->fd, KVM_GET_DEBUGREGS, &b->debugregs) < 0)
        return vcpu_fail(v, "KVM_GET_DEBUGREGS");
    if (x->has_xcrs && ioctl(v->fd, KVM_GET_XCRS, &b->xcrs) < 0)
        return vcpu_fail(v, "KVM_GET_XCRS");
    b->msrs.hdr.nmsrs = x->nr_msrs;
    for (unsigned i = 0; i < x->nr_msrs; i++)
        b->msrs.e[i].index = x->msr_index[i];
    int got = ioctl(v->fd, KVM_GET_MSRS, &b->msrs);
    if (got != (int)x->nr_msrs)
        return vmm_error(VMM_EKVM, "vCPU %u: KVM_GET_MSRS read %d of %u MSRs: %s", v->index, got,
                         x->nr_msrs, got < 0 ? strerror(errno) : "short read");
    for (unsigned i = 0; i < x->nr_msrs; i++)
        if (b->msrs.e[i].index == MSR_IA32_TSC && v->tsc_frozen_valid)
            b->msrs.e[i].data = v->tsc_frozen;
    return 0;
}

static int blob_set(struct kvm_vcpu_state *v, const struct vcpu_blob *b)
{
    struct vcpu_extra *x = v->saved;
    /* sregs before the LAPIC: APIC_BASE lives in sregs. MP state last: KVM
     * recomputes it from the LAPIC otherwise. */
    if (ioctl(v->fd, KVM_SET_SREGS, &b->sregs) < 0)
        return vcpu_fail(v, "KVM_SET_SREGS");
    if (ioctl(v->fd, KVM_SET_REGS, &b->regs) < 0)
        return vcpu_fail(v, "KVM_SET_REGS");
    if (ioctl(v->fd, KVM_SET_FPU, &b->fpu) < 0)
        return vcpu_fail(v, "KVM_SET_FPU");
    if (x->has_xcrs && ioctl(v->fd, KVM_SET_XCRS, &b->xcrs) < 0)
        return vcpu_fail(v, "KVM_SET_XCRS");
    int put = ioctl(v->fd, KVM_SET_MSRS, &b->msrs);
    if (put != (int)b->msrs.hdr.nmsrs)
        return vmm_error(VMM_EKVM, "vCPU %u: KVM_SET_MSRS wrote %d of %u MSRs: %s", v->index, put,
                         b->msrs.hdr.nmsrs, put < 0 ? strerror(errno) : "MSR refused");
    if (ioctl(v->fd, KVM_SET_LAPIC, &b->lapic) < 0)
        return vcpu_fail(v, "KVM_SET_LAPIC");
    struct kvm_vcpu_events ev = b->events;
    ev.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
                KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
    ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
    if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
        return vcpu_fail(v, "KVM_SET_VCPU_EVENTS");
    if (ioctl(v->fd, KVM_SET_DEBUGREGS, &b->debugregs) < 0)
        return vcpu_fail(v, "KVM_SET_DEBUGREGS");
    if (ioctl(v->fd, KVM_SET_MP_STATE, &b->mp) < 0)
        return vcpu_fail(v, "KVM_SET_MP_STATE");
    v->tsc_frozen_valid = 0;
    for (unsigned i = 0; i < b->msrs.hdr.nmsrs; i++)
        if (b->msrs.e[i].index == MSR_IA32_TSC) {
            v->tsc_frozen = b->msrs.e[i].data;
            v->tsc_frozen_valid = 1;
        }
    return 0;
}

int kvm_vcpu_capture_reset(struct kvm_vcpu_state *v)
{
    struct vcpu_extra *x = calloc(1, sizeof(*x));
    if (!x)
        return vmm_error(VMM_ENOMEM, "vCPU %u reset state", v->index);
    v->saved = x;
    x->has_xcrs = ioctl(kvm_vm_of(v->m)->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
    int rc = msrs_probe(v, x);
    if (rc == 0)
        rc = blob_get(v, &x->reset);
    return rc;
}

void kvm_vcpu_state_free(struct kvm_vcpu_state *v)
{
    free(v->saved);
    v->saved = NULL;
}

void kvm_vcpu_freeze_tsc(struct kvm_vcpu_state *v)
{
    struct msr_list one = { .hdr.nmsrs = 1 };
    one.e[0].index = MSR_IA32_TSC;
    if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1) {
        v->tsc_frozen = one.e[0].data;
        v->tsc_frozen_valid = 1;
    }
}

/* --- blocks in the stream: u32 length + the kernel structure --- */

static void put_block(struct state_writer *w, const void *p, size_t len)
{
    state_put_u32(w, (uint32_t)len);
    state_put_bytes(w, p, len);
}

static int get_block(struct state_reader *r, const char *what, void *p, size_t len)
{
    uint32_t n;
    int rc = state_get_u32(r, &n);
    if (rc == 0 && n != len)
        return vmm_error(VMM_EFORMAT, "kvm state: %s block of %u bytes, this host's KVM uses %zu",
                         what, n, len);
    return rc ? rc : state_get_bytes(r, p, len);
}

static void vcpu_reset(void *opaque)
{
    struct kvm_vcpu_state *v = opaque;
    struct vcpu_extra *x = v->saved;
    if (x && blob_set(v, &x->reset) < 0)
        machine_set_outcome(v->m, VMM_OUTCOME_CRASH, 0, "reset of vCPU %u failed: %s", v->index,
                            vmm_last_error());
}

static int vcpu_save(void *opaque, struct state_writer *w)
{
    struct kvm_vcpu_state *v = opaque;
    struct vcpu_blob *b = malloc(sizeof(*b));
    if (!b)
        return vmm_error(VMM_ENOMEM, "vCPU %u state", v->index);
    int rc = blob_get(v, b);
    if (rc == 0) {
        put_block(w, &b->mp, sizeof(b->mp));
        put_block(w, &b->regs, sizeof(b->regs));
        put_block(w, &b->sregs, sizeof(b->sregs));
        put_block(w, &b->fpu, sizeof(b->fpu));
        put_block(w, &b->lapic, sizeof(b->lapic));
        put_block(w, &b->events, sizeof(b->events));
        put_block(w, &b->debugregs, sizeof(b->debugregs));
        put_block(w, &b->xcrs, sizeof(b->xcrs));
        state_put_u32(w, b->msrs.hdr.nmsrs);
        for (unsigned i = 0; i < b->msrs.hdr.nmsrs; i++) {
            state_put_u32(w, b->msrs.e[i].index);
            state_put_u64(w, b->msrs.e[i].data);
        }
    }
    free(b);
    return rc;
}

static int vcpu_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct kvm_vcpu_state *v = opaque;
    struct vcpu_extra *x = v->saved;
    struct vcpu_blob *b = calloc(1, sizeof(*b));
    if (!b)
        return vmm_error(VMM_ENOMEM, "vCPU %u state", v->index);
    int rc = get_block(r, "mp_state", &b->mp, sizeof(b->mp));
    if (!rc) rc = get_block(r, "regs", &b->regs, sizeof(b->regs));
    if (!rc) rc = get_block(r, "sregs", &b->sregs, sizeof(b->sregs));
    if (!rc) rc = get_block(r, "fpu", &b->fpu, sizeof(b->fpu));
    if (!rc) rc = get_block(r, "lapic", &b->lapic, sizeof(b->lapic));
    if (!rc) rc = get_block(r, "events", &b->events, sizeof(b->events));
    if (!rc) rc = get_block(r, "debugregs", &b->debugregs, sizeof(b->debugregs));
    if (!rc) rc = get_block(r, "xcrs", &b->xcrs, sizeof(b->xcrs));
    uint32_t n = 0;
    if (!rc) rc = state_get_u32(r, &n);
    if (!rc && n > MAX_MSRS)
        rc = vmm_error(VMM_EFORMAT, "vCPU %u state: %u MSRs, limit %zu", v->index, n, MAX_MSRS);
    for (uint32_t i = 0; !rc && i < n; i++) {
        uint32_t index;
        uint64_t data;
        state_get_u32(r, &index);
        rc = state_get_u64(r, &data);
        b->msrs.e[i].data = data;
        b->msrs.e[i].index = index;
        int known = 0;
        for (unsigned k = 0; k < x->nr_msrs && !known; k++)
            known = x->msr_index[k] == index;
        if (!rc && !known)
            rc = vmm_error(VMM_EFORMAT, "vCPU %u state: MSR 0x%x is not one this host's KVM "
                           "saves", v->index, index);
    }
    b->msrs.hdr.nmsrs = n;
    if (!rc)
        rc = state_check_done(r);
    if (!rc && b->mp.mp_state > KVM_MP_STATE_AP_RESET_HOLD)
        rc = vmm_error(VMM_EFORMAT, "vCPU %u state: mp_state %u unknown", v->index,
                       b->mp.mp_state);
    if (!rc)
        rc = blob_set(v, b);
    free(b);
    return rc;
}

const struct component_ops kvm_vcpu_component_ops = {
    .type = "kvm-vcpu",
    .state_version = 1,
    .reset = vcpu_reset,
    .save = vcpu_save,
    .load = vcpu_load,
    .destroy = NULL, /* the engine closes vCPU fds */
};

/* --- the in-kernel interrupt controllers --- */

static int vm_fail(const char *what)
{
    return vmm_error(VMM_EKVM, "%s: %s", what, strerror(errno));
}

static int irqchip_get(struct machine *m, struct irqchip_blob *b)
{
    int fd = kvm_vm_of(m)->vm_fd;
    memset(b, 0, sizeof(*b));
    b->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
    b->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
    b->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
    if (ioctl(fd, KVM_GET_IRQCHIP, &b->pic_master) < 0 ||
        ioctl(fd, KVM_GET_IRQCHIP, &b->pic_slave) < 0 || ioctl(fd, KVM_GET_IRQCHIP, &b->ioapic) < 0)
        return vm_fail("KVM_GET_IRQCHIP");
    if (ioctl(fd, KVM_GET_PIT2, &b->pit) < 0)
        return vm_fail("KVM_GET_PIT2");
    for (int i = 0; i < 3; i++)
        b->pit.channels[i].count_load_time = 0; /* KVM re-bases it on load */
    return 0;
}

static int irqchip_set(struct machine *m, const struct irqchip_blob *b)
{
    int fd = kvm_vm_of(m)->vm_fd;
    if (ioctl(fd, KVM_SET_IRQCHIP, &b->pic_master) < 0 ||
        ioctl(fd, KVM_SET_IRQCHIP, &b->pic_slave) < 0 || ioctl(fd, KVM_SET_IRQCHIP, &b->ioapic) < 0)
        return vm_fail("KVM_SET_IRQCHIP");
    if (ioctl(fd, KVM_SET_PIT2, &b->pit) < 0)
        return vm_fail("KVM_SET_PIT2");
    return 0;
}

int kvm_irqchip_capture_reset(struct machine *m)
{
    struct kvm_vm_state *vm = kvm_vm_of(m);
    struct irqchip_blob *b = malloc(sizeof(*b));
    if (!b)
        return vmm_error(VMM_ENOMEM, "irqchip reset state");
    int rc = irqchip_get(m, b);
    if (rc) {
        free(b);
        return rc;
    }
    vm->irqchip_reset = b;
    return 0;
}

void kvm_irqchip_state_free(struct machine *m)
{
    struct kvm_vm_state *vm = kvm_vm_of(m);
    if (!vm)
        return;
    free(vm->irqchip_reset);
    vm->irqchip_reset = NULL;
}

static void irqchip_reset(void *opaque)
{
    struct machine *m = opaque;
    struct kvm_vm_state *vm = kvm_vm_of(m);
    if (vm && vm->irqchip_reset && irqchip_set(m, vm->irqchip_reset) < 0)
        machine_set_outcome(m, VMM_OUTCOME_CRASH, 0, "reset of the interrupt controllers "
                            "failed: %s", vmm_last_error());
}

static int irqchip_save(void *opaque, struct state_writer *w)
{
    struct irqchip_blob b;
    int rc = irqchip_get(opaque, &b);
    if (rc)
        return rc;
    put_block(w, &b.pic_master, sizeof(b.pic_master));
    put_block(w, &b.pic_slave, sizeof(b.pic_slave));
    put_block(w, &b.ioapic, sizeof(b.ioapic));
    put_block(w, &b.pit, sizeof(b.pit));
    return 0;
}

static int irqchip_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct irqchip_blob b;
    int rc = get_block(r, "PIC master", &b.pic_master, sizeof(b.pic_master));
    if (!rc) rc = get_block(r, "PIC slave", &b.pic_slave, sizeof(b.pic_slave));
    if (!rc) rc = get_block(r, "IOAPIC", &b.ioapic, sizeof(b.ioapic));
    if (!rc) rc = get_block(r, "PIT", &b.pit, sizeof(b.pit));
    if (!rc) rc = state_check_done(r);
    if (!rc && (b.pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
                b.pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
                b.ioapic.chip_id != KVM_IRQCHIP_IOAPIC))
        rc = vmm_error(VMM_EFORMAT, "kvm-irqchip state: chip ids %u/%u/%u, expected 0/1/2",
                       b.pic_master.chip_id, b.pic_slave.chip_id, b.ioapic.chip_id);
    if (!rc)
        rc = irqchip_set(opaque, &b);
    return rc;
}

const struct component_ops kvm_irqchip_component_ops = {
    .type = "kvm-irqchip",
    .state_version = 1,
    .reset = irqchip_reset,
    .save = irqchip_save,
    .load = irqchip_load,
    .destroy = NULL, /* closed with the VM fd */
};
