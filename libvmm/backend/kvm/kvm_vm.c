/* The kvm engine's per-VM part: probing /dev/kvm, creating the VM with its
 * in-kernel interrupt controllers and memory slots, interrupt lines, and
 * tearing it all down. The vCPU part is in kvm_vcpu.c.
 */
#include "backend/kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"

/* Used when the host does not report KVM_CAP_MAX_VCPUS (very old kernels). */
#define KVM_FALLBACK_VCPUS 4

static int kvm_open(int *out)
{
    int fd = open(KVM_DEV_PATH, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        int code = (e == EACCES || e == EPERM) ? VMM_EACCES : VMM_ENOTSUP;
        vmm_error_errno(e, "%s", KVM_DEV_PATH);
        return code;
    }
    int api = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_EXPECTED_API) {
        close(fd);
        return vmm_error(VMM_ENOTSUP, "%s: KVM API version %d, libvmm needs %d", KVM_DEV_PATH,
                         api, KVM_EXPECTED_API);
    }
    *out = fd;
    return 0;
}

static int kvm_probe(void)
{
    int fd;
    int rc = kvm_open(&fd);
    if (rc < 0)
        return rc;
    close(fd);
    return 0;
}

static unsigned kvm_max_vcpus(void)
{
    int fd;
    if (kvm_open(&fd) < 0)
        return 1;
    int n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (n <= 0)
        n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    close(fd);
    return n > 0 ? (unsigned)n : KVM_FALLBACK_VCPUS;
}

static int vm_ioctl_fail(const char *what)
{
    return vmm_error(VMM_EKVM, "%s: %s", what, strerror(errno));
}

/* The interrupt controllers: PIC + IOAPIC + per-vCPU LAPIC in the kernel,
 * and the PIT, so timer interrupts and HLT never need user space. */
static int kvm_create_irqchip(struct kvm_vm_state *vm)
{
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
        return vm_ioctl_fail("KVM_CREATE_IRQCHIP");
    struct kvm_pit_config pit = { .flags = 0 };
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
        return vm_ioctl_fail("KVM_CREATE_PIT2");
    return 0;
}

static int set_slot(struct machine *m, struct kvm_vm_state *vm, int i, uint32_t flags)
{
    const struct guest_region *r = &m->mem.regions[i];
    struct kvm_userspace_memory_region slot = {
        .slot = (uint32_t)i,
        .flags = flags,
        .guest_phys_addr = r->gpa,
        .memory_size = r->size,
        .userspace_addr = (uint64_t)(uintptr_t)r->host,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
        return vmm_error(VMM_EKVM, "KVM_SET_USER_MEMORY_REGION slot %d at 0x%llx+0x%llx: %s", i,
                         (unsigned long long)r->gpa, (unsigned long long)r->size,
                         strerror(errno));
    return 0;
}

/* Dirty logging: KVM records the pages the guest writes through its own
 * page tables; the VMM's and devices' writes are in guest_mem's log. */
static int kvm_dirty_start(void *opaque)
{
    struct machine *m = opaque;
    for (int i = 0; i < m->mem.nr_regions; i++) {
        int rc = set_slot(m, kvm_vm_of(m), i, KVM_MEM_LOG_DIRTY_PAGES);
        if (rc)
            return rc;
    }
    return 0;
}

static int kvm_dirty_sync(void *opaque, int region, uint64_t *bitmap)
{
    struct machine *m = opaque;
    const struct guest_region *r = &m->mem.regions[region];
    size_t words = guest_region_bitmap_words(r);
    uint64_t *log = calloc(words, sizeof(uint64_t));
    if (!log)
        return vmm_error(VMM_ENOMEM, "dirty log of %zu words", words);
    struct kvm_dirty_log d = { .slot = (uint32_t)region, .dirty_bitmap = log };
    int rc = 0;
    if (ioctl(kvm_vm_of(m)->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0)
        rc = vmm_error(VMM_EKVM, "KVM_GET_DIRTY_LOG slot %d: %s", region, strerror(errno));
    else
        for (size_t w = 0; w < words; w++)
            bitmap[w] |= log[w];
    free(log);
    return rc;
}

static void kvm_dirty_stop(void *opaque)
{
    struct machine *m = opaque;
    for (int i = 0; i < m->mem.nr_regions; i++)
        set_slot(m, kvm_vm_of(m), i, 0);
}

static int kvm_map_memory(struct machine *m, struct kvm_vm_state *vm)
{
    int max_slots = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
    if (max_slots <= 0)
        max_slots = 32;
    if (m->mem.nr_regions > max_slots)
        return vmm_error(VMM_ENOTSUP, "%d RAM regions, KVM allows %d memory slots",
                         m->mem.nr_regions, max_slots);
    for (int i = 0; i < m->mem.nr_regions; i++) {
        const struct guest_region *r = &m->mem.regions[i];
        struct kvm_userspace_memory_region slot = {
            .slot = (uint32_t)i,
            .guest_phys_addr = r->gpa,
            .memory_size = r->size,
            .userspace_addr = (uint64_t)(uintptr_t)r->host,
        };
        if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
            return vmm_error(VMM_EKVM, "KVM_SET_USER_MEMORY_REGION slot %d at 0x%llx+0x%llx: %s", i,
                             (unsigned long long)r->gpa, (unsigned long long)r->size,
                             strerror(errno));
        vm->nr_slots++;
    }
    return 0;
}

static void kvm_vm_destroy(struct machine *m)
{
    struct kvm_vm_state *vm = kvm_vm_of(m);
    if (m->vcpus) {
        for (unsigned i = 0; i < m->nr_vcpus; i++) {
            struct kvm_vcpu_state *v = kvm_vcpu_of(m, i);
            if (!v)
                continue;
            if (v->run && vm)
                munmap(v->run, (size_t)vm->run_size);
            if (v->fd >= 0)
                close(v->fd);
            kvm_vcpu_state_free(v);
            free(v);
            m->vcpus[i].engine = NULL;
        }
    }
    if (!vm)
        return;
    kvm_irqchip_state_free(m);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    free(vm);
    m->engine_vm = NULL;
}

static int kvm_line(void *opaque, unsigned irq, int level);

/* An eventfd KVM turns into a pulse on GSI `irq` (assert, then deassert:
 * an edge for the IOAPIC and PIC). */
static int kvm_irqfd(void *opaque, unsigned irq)
{
    struct machine *m = opaque;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return vmm_error_errno(errno, "eventfd for interrupt line %u", irq);
    struct kvm_irqfd f = { .fd = (uint32_t)fd, .gsi = irq };
    if (ioctl(kvm_vm_of(m)->vm_fd, KVM_IRQFD, &f) < 0) {
        int e = errno;
        close(fd);
        return vmm_error(VMM_EKVM, "KVM_IRQFD for line %u: %s", irq, strerror(e));
    }
    return fd;
}

/* A guest MMIO write of `len` bytes at `gpa` signals `fd` inside the kernel:
 * the vCPU does not exit to user space (virtio queue notifications). */
static int kvm_ioeventfd(void *opaque, uint64_t gpa, unsigned len, int fd)
{
    struct machine *m = opaque;
    struct kvm_ioeventfd e = { .addr = gpa, .len = len, .fd = fd };
    if (ioctl(kvm_vm_of(m)->vm_fd, KVM_IOEVENTFD, &e) < 0)
        return vmm_error(VMM_EKVM, "KVM_IOEVENTFD at 0x%llx (%u bytes): %s",
                         (unsigned long long)gpa, len, strerror(errno));
    return 0;
}

static int kvm_vm_create(struct machine *m, const struct engine_options *opt)
{
    struct kvm_vm_state *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return vmm_error(VMM_ENOMEM, "allocating the KVM VM state");
    vm->kvm_fd = vm->vm_fd = -1;
    vm->opt = *opt;
    m->engine_vm = vm;
    int rc = kvm_open(&vm->kvm_fd);
    if (rc < 0)
        goto fail;
    vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->run_size < (int)sizeof(struct kvm_run)) {
        rc = vmm_error(VMM_EKVM, "KVM_GET_VCPU_MMAP_SIZE gave %d: %s", vm->run_size,
                       strerror(errno));
        goto fail;
    }
    do {
        vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    } while (vm->vm_fd < 0 && errno == EINTR);
    if (vm->vm_fd < 0) {
        rc = vm_ioctl_fail("KVM_CREATE_VM");
        goto fail;
    }
    /* Both are VMX-only needs (real-mode emulation and the EPT identity
     * map); other hosts accept or ignore them, so a failure only warns. */
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
        uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
        if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
            log_warn("kvm: KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
    }
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
        log_warn("kvm: KVM_SET_TSS_ADDR: %s", strerror(errno));
    rc = kvm_create_irqchip(vm);
    if (rc < 0)
        goto fail;
    rc = kvm_map_memory(m, vm);
    if (rc < 0)
        goto fail;
    rc = kvm_irqchip_capture_reset(m);
    if (rc < 0)
        goto fail;
    /* The in-kernel PIC/IOAPIC/PIT as the VMM sees them: one component, and
     * the machine's interrupt controller for device lines. */
    if (!machine_add_component(m, "kvm-irqchip", &kvm_irqchip_component_ops, m)) {
        rc = VMM_ENOMEM;
        goto fail;
    }
    m->irq = (struct machine_irq_controller){ kvm_line, m };
    m->dirty = (struct machine_dirty_log){ kvm_dirty_start, kvm_dirty_sync, kvm_dirty_stop, m };
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0)
        m->ioeventfd = (struct machine_ioeventfd){ kvm_ioeventfd, m };
    if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0)
        m->irqfd = (struct machine_irqfd){ kvm_irqfd, m };
    return 0;
fail:
    kvm_vm_destroy(m);
    return rc;
}

static int kvm_line(void *opaque, unsigned irq, int level)
{
    struct machine *m = opaque;
    struct kvm_vm_state *vm = kvm_vm_of(m);
    if (!vm)
        return vmm_error(VMM_ESTATE, "set_irq %u: the VM has no KVM state", irq);
    struct kvm_irq_level l = { .irq = irq, .level = level ? 1 : 0 };
    if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
        return vmm_error(VMM_EKVM, "KVM_IRQ_LINE irq %u level %d: %s", irq, l.level,
                         strerror(errno));
    return 0;
}

/* The kvm_run page and our bookkeeping; KVM's own per-vCPU memory is the
 * kernel's, not this process's. */
static uint64_t kvm_vcpu_overhead(void)
{
    return 16384;
}

/* In kvm_vcpu.c. */
int kvm_vcpu_create(struct machine *m, unsigned index);
int kvm_vcpu_run(struct machine *m, unsigned index);
void kvm_vcpu_kick(struct machine *m, unsigned index);
int kvm_vcpu_regs(struct machine *m, unsigned index, vmm_vcpu_regs_t *out);

const struct engine_ops engine_kvm = {
    .name = "kvm",
    .probe = kvm_probe,
    .max_vcpus = kvm_max_vcpus,
    .vm_create = kvm_vm_create,
    .vcpu_overhead = kvm_vcpu_overhead,
    .vcpu_create = kvm_vcpu_create,
    .vcpu_run = kvm_vcpu_run,
    .vcpu_kick = kvm_vcpu_kick,
    .vcpu_get_regs = kvm_vcpu_regs,
    .vm_destroy = kvm_vm_destroy,
};
