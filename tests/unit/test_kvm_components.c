/* The kvm engine's components — a vCPU ("kvm-vcpu") and the in-kernel
 * PIC/IOAPIC/PIT ("kvm-irqchip") — through the same checks as every other
 * component (component_rig.h), on VMs created through engine_kvm.
 *
 * Without /dev/kvm the test is skipped (exit 77). When /dev/kvm exists but
 * a VM cannot be made on it, it is skipped too, except under CI=true, where
 * that is a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/platform.h"
#include "backend/backend.h"
#include "backend/kvm/kvm.h"
#include "component_rig.h"

#define RAM_SIZE (64ULL << 20)
#define MSR_TSC 0x10
#define MSR_SYSENTER_EIP 0x176

/* --- a VM on engine_kvm: RAM, the in-kernel irqchip, one vCPU --- */

static int kvm_vm_new(struct inst *i)
{
    int rc = machine_init(&i->m, 1);
    if (rc == 0)
        rc = platform_x86_64.layout_memory(&i->m, RAM_SIZE);
    struct engine_options opt;
    memset(&opt, 0, sizeof(opt));
    if (rc == 0 && (rc = engine_kvm.vm_create(&i->m, &opt)) == 0)
        i->engine = 1;
    if (rc == 0)
        rc = engine_kvm.vcpu_create(&i->m, 0);
    return rc;
}

static void kvm_vm_free(struct inst *i)
{
    machine_destroy_components(&i->m);
    if (i->engine)
        engine_kvm.vm_destroy(&i->m);
    machine_destroy(&i->m);
}

static void kvm_create(struct inst *i, const char *component)
{
    int rc = kvm_vm_new(i);
    if (rc)
        fprintf(stderr, "\n  kvm VM: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    i->c = machine_find_component(&i->m, component);
    i->dev = kvm_vcpu_of(&i->m, 0);
}

/* Walks the u32-length-prefixed kernel blocks at the head of a payload:
 * the offset of block `n` (n = number of blocks: the end of them). */
static size_t block_at(const uint8_t *p, size_t len, int n)
{
    size_t at = 0;
    for (int k = 0; k < n && at + 4 <= len; k++)
        at += 4 + (size_t)get_le(p + at, 4);
    return at;
}

/* --- kvm-vcpu --- */

static int msr_get(struct kvm_vcpu_state *v, uint32_t index, uint64_t *value)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[1];
    } m;
    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = 1;
    m.e[0].index = index;
    int rc = ioctl(v->fd, KVM_GET_MSRS, &m);
    *value = m.e[0].data;
    return rc == 1 ? 0 : -1;
}

static int msr_set(struct kvm_vcpu_state *v, uint32_t index, uint64_t value)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[1];
    } m;
    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = 1;
    m.e[0].index = index;
    m.e[0].data = value;
    return ioctl(v->fd, KVM_SET_MSRS, &m) == 1 ? 0 : -1;
}

static void vcpu_create(struct inst *i)
{
    kvm_create(i, "cpu0");
}

static void vcpu_drive(struct inst *i)
{
    struct kvm_regs r;
    CU_ASSERT_EQUAL_FATAL(kvm_vcpu_get_regs(&i->m, 0, &r), 0);
    r.rax = 0x1234;
    r.rbx = 0xfeedfacecafebeefULL;
    r.rsp = 0x7000;
    r.rip = 0xfff0;
    r.rflags = 0x246;
    CU_ASSERT_EQUAL(kvm_vcpu_set_regs(&i->m, 0, &r), 0);
    struct kvm_sregs s;
    CU_ASSERT_EQUAL_FATAL(kvm_vcpu_get_sregs(&i->m, 0, &s), 0);
    s.cr2 = 0xdead000;
    s.ds.base = 0x10000;
    s.ds.selector = 0x1000;
    CU_ASSERT_EQUAL(kvm_vcpu_set_sregs(&i->m, 0, &s), 0);
    CU_ASSERT_EQUAL(msr_set(i->dev, MSR_SYSENTER_EIP, 0xffffffff81000000ULL), 0);
    /* What the vCPU thread does as it stops running: saves of a paused VM
     * then report one TSC value. */
    kvm_vcpu_freeze_tsc(i->dev);
}

static void vcpu_probe(struct inst *i, struct probe_log *l)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    memset(&r, 0, sizeof(r));
    memset(&s, 0, sizeof(s));
    CU_ASSERT_EQUAL(kvm_vcpu_get_regs(&i->m, 0, &r), 0);
    CU_ASSERT_EQUAL(kvm_vcpu_get_sregs(&i->m, 0, &s), 0);
    log_bytes(l, &r, sizeof(r));
    log_bytes(l, &s, sizeof(s));
    uint64_t eip = 0;
    CU_ASSERT_EQUAL(msr_get(i->dev, MSR_SYSENTER_EIP, &eip), 0);
    log_u64(l, eip);
    struct kvm_mp_state mp = { 0 };
    CU_ASSERT_EQUAL(ioctl(((struct kvm_vcpu_state *)i->dev)->fd, KVM_GET_MP_STATE, &mp), 0);
    log_u64(l, mp.mp_state);
    vmm_vcpu_regs_t pub;
    memset(&pub, 0, sizeof(pub));
    CU_ASSERT_EQUAL(engine_kvm.vcpu_get_regs(&i->m, 0, &pub), 0);
    log_bytes(l, &pub, sizeof(pub));
}

static void vcpu_after_load(struct inst *a, struct inst *b)
{
    struct kvm_regs r;
    CU_ASSERT_EQUAL(kvm_vcpu_get_regs(&b->m, 0, &r), 0);
    CU_ASSERT_EQUAL(r.rax, 0x1234);
    CU_ASSERT_EQUAL(r.rip, 0xfff0);
}

static void vcpu_after_reset(struct inst *i)
{
    struct kvm_regs r;
    CU_ASSERT_EQUAL(kvm_vcpu_get_regs(&i->m, 0, &r), 0);
    CU_ASSERT_NOT_EQUAL(r.rax, 0x1234);
}

/* The MSR list after the 8 blocks: u32 count, then (u32 index, u64 data). */
static size_t msr_list_at(const uint8_t *p, size_t len)
{
    return block_at(p, len, 8);
}

/* Two instances made at different times differ in their TSC only. */
static void vcpu_normalize(uint8_t *p, size_t len)
{
    size_t at = msr_list_at(p, len);
    uint32_t n = (uint32_t)get_le(p + at, 4);
    for (uint32_t k = 0; k < n && at + 4 + 12 * (k + 1) <= len; k++) {
        uint8_t *e = p + at + 4 + 12 * k;
        if (get_le(e, 4) == MSR_TSC)
            put_le(e + 4, 0, 8);
    }
}

static int vcpu_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    static char want[96];
    size_t msrs = msr_list_at(p, len);
    switch (n) {
    case 0:
        put_le(p, 5, 4);
        *msg = "mp_state block of 5 bytes, this host's KVM uses 4";
        return 1;
    case 1: put_le(p + 4, 99, 4); *msg = "mp_state 99 unknown"; return 1;
    case 2: {
        size_t at = block_at(p, len, 1);
        uint32_t size = (uint32_t)get_le(p + at, 4);
        put_le(p + at, size + 1, 4);
        snprintf(want, sizeof(want), "regs block of %u bytes, this host's KVM uses %u", size + 1,
                 size);
        *msg = want;
        return 1;
    }
    case 3: put_le(p + msrs, 20, 4); *msg = "20 MSRs, limit 19"; return 1;
    case 4: put_le(p + msrs, 0xffffffffu, 4); *msg = "4294967295 MSRs, limit 19"; return 1;
    case 5:
        CU_ASSERT(get_le(p + msrs, 4) > 0);
        put_le(p + msrs + 4, 0x12345, 4);
        *msg = "MSR 0x12345 is not one this host's KVM saves";
        return 1;
    default: return 0;
    }
}

static const struct kind vcpu_kind = {
    .type = "kvm-vcpu", .create = vcpu_create, .drive = vcpu_drive, .probe = vcpu_probe,
    .after_load = vcpu_after_load, .after_reset = vcpu_after_reset, .destroy = kvm_vm_free,
    .damage = vcpu_damage, .normalize = vcpu_normalize,
};

static void test_kvm_vcpu(void)
{
    run_kind(&vcpu_kind);
}

/* --- kvm-irqchip --- */

static int vm_fd(struct inst *i)
{
    return kvm_vm_of(&i->m)->vm_fd;
}

static void irqchip_create(struct inst *i)
{
    kvm_create(i, "kvm-irqchip");
}

static void irqchip_drive(struct inst *i)
{
    /* A device raises ISA line 4 (COM1) through the machine... */
    CU_ASSERT_EQUAL(machine_set_irq(&i->m, 4, 1), 0);
    /* ... and the guest has masked some PIC inputs and routed IOAPIC pin 4. */
    struct kvm_irqchip chip;
    memset(&chip, 0, sizeof(chip));
    chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
    CU_ASSERT_EQUAL_FATAL(ioctl(vm_fd(i), KVM_GET_IRQCHIP, &chip), 0);
    chip.chip.pic.imr = 0xe8;
    CU_ASSERT_EQUAL(ioctl(vm_fd(i), KVM_SET_IRQCHIP, &chip), 0);
    memset(&chip, 0, sizeof(chip));
    chip.chip_id = KVM_IRQCHIP_IOAPIC;
    CU_ASSERT_EQUAL_FATAL(ioctl(vm_fd(i), KVM_GET_IRQCHIP, &chip), 0);
    chip.chip.ioapic.redirtbl[4].fields.vector = 0x34;
    chip.chip.ioapic.redirtbl[4].fields.mask = 1;
    chip.chip.ioapic.id = 0;
    CU_ASSERT_EQUAL(ioctl(vm_fd(i), KVM_SET_IRQCHIP, &chip), 0);
}

static void irqchip_probe(struct inst *i, struct probe_log *l)
{
    static const unsigned ids[] = { KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
                                    KVM_IRQCHIP_IOAPIC };
    for (unsigned k = 0; k < 3; k++) {
        struct kvm_irqchip chip;
        memset(&chip, 0, sizeof(chip));
        chip.chip_id = ids[k];
        CU_ASSERT_EQUAL(ioctl(vm_fd(i), KVM_GET_IRQCHIP, &chip), 0);
        log_bytes(l, &chip, sizeof(chip));
    }
    struct kvm_pit_state2 pit;
    memset(&pit, 0, sizeof(pit));
    CU_ASSERT_EQUAL(ioctl(vm_fd(i), KVM_GET_PIT2, &pit), 0);
    for (int k = 0; k < 3; k++)
        pit.channels[k].count_load_time = 0;
    log_bytes(l, &pit, sizeof(pit));
}

static void irqchip_after_load(struct inst *a, struct inst *b)
{
    struct kvm_irqchip chip;
    memset(&chip, 0, sizeof(chip));
    chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
    CU_ASSERT_EQUAL(ioctl(vm_fd(b), KVM_GET_IRQCHIP, &chip), 0);
    CU_ASSERT_EQUAL(chip.chip.pic.imr, 0xe8);
    CU_ASSERT(chip.chip.pic.irr & 0x10); /* line 4, raised on the original */
}

static int irqchip_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    static char want[96];
    size_t slave = block_at(p, len, 1), ioapic = block_at(p, len, 2), pit = block_at(p, len, 3);
    switch (n) {
    case 0: {
        uint32_t size = (uint32_t)get_le(p, 4);
        put_le(p, 7, 4);
        snprintf(want, sizeof(want), "PIC master block of 7 bytes, this host's KVM uses %u", size);
        *msg = want;
        return 1;
    }
    case 1: put_le(p + 4, 5, 4); *msg = "chip ids 5/1/2, expected 0/1/2"; return 1;
    case 2: put_le(p + slave + 4, 0, 4); *msg = "chip ids 0/0/2, expected 0/1/2"; return 1;
    case 3: put_le(p + ioapic + 4, 7, 4); *msg = "chip ids 0/1/7, expected 0/1/2"; return 1;
    case 4: put_le(p + pit, 0, 4); *msg = "PIT block of 0 bytes"; return 1;
    default: return 0;
    }
}

static const struct kind irqchip_kind = {
    .type = "kvm-irqchip", .create = irqchip_create, .drive = irqchip_drive,
    .probe = irqchip_probe, .after_load = irqchip_after_load, .destroy = kvm_vm_free,
    .damage = irqchip_damage,
};

static void test_kvm_irqchip(void)
{
    run_kind(&irqchip_kind);
}

/* --- skip or fail --- */

static int kvm_works(char *why, size_t len)
{
    int fd = open(KVM_DEV_PATH, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, len, "%s exists but cannot be opened: %s", KVM_DEV_PATH, strerror(errno));
        return 0;
    }
    close(fd);
    struct inst *i = calloc(1, sizeof(*i));
    int rc = i ? kvm_vm_new(i) : VMM_ENOMEM;
    if (rc)
        snprintf(why, len, "%s exists but a VM cannot be made on it: %s", KVM_DEV_PATH,
                 vmm_last_error());
    if (i) {
        kvm_vm_free(i);
        free(i);
    }
    return rc == 0;
}

int main(void)
{
    const char *ci = getenv("CI");
    int in_ci = ci && strcmp(ci, "true") == 0;
    if (access(KVM_DEV_PATH, F_OK) != 0) {
        printf("%s: %s; kvm component tests skipped\n", KVM_DEV_PATH, strerror(errno));
        return 77;
    }
    char why[512];
    if (!kvm_works(why, sizeof(why))) {
        printf("%s; kvm component tests %s\n", why, in_ci ? "FAIL (CI=true)" : "skipped");
        return in_ci ? 1 : 77;
    }
    static const struct unit_test tests[] = {
        { "kvm-vcpu", test_kvm_vcpu },
        { "kvm-irqchip", test_kvm_irqchip },
        { NULL, NULL },
    };
    return unit_main("kvm components", tests);
}
