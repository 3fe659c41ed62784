/* Minimal raw KVM set-up shared by the reference programs. */
#include "raw_kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int raw_kvm_open(void)
{
    return open("/dev/kvm", O_RDWR | O_CLOEXEC);
}

int raw_vm_create(struct raw_vm *vm, int kvm_fd, uint64_t mem_size, unsigned flags)
{
    memset(vm, 0, sizeof(*vm));
    vm->kvm_fd = kvm_fd;
    vm->vm_fd = vm->vcpu_fd = vm->mem_fd = -1;
    vm->mem_size = mem_size;
    vm->run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->run_size <= 0) {
        perror("KVM_GET_VCPU_MMAP_SIZE");
        return -1;
    }
    vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        perror("KVM_CREATE_VM");
        return -1;
    }
    if ((flags & RAW_IRQCHIP) && ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        perror("KVM_CREATE_IRQCHIP");
        raw_vm_destroy(vm);
        return -1;
    }
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    if ((flags & RAW_PIT) && ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        perror("KVM_CREATE_PIT2");
        raw_vm_destroy(vm);
        return -1;
    }
    if (flags & RAW_MEMFD) {
        vm->mem_fd = memfd_create("raw-ram", MFD_CLOEXEC);
        if (vm->mem_fd < 0 || ftruncate(vm->mem_fd, (off_t)mem_size) < 0) {
            perror("memfd guest memory");
            raw_vm_destroy(vm);
            return -1;
        }
        vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                       vm->mem_fd, 0);
    } else {
        vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    }
    if (vm->mem == MAP_FAILED) {
        vm->mem = NULL;
        perror("mmap guest memory");
        raw_vm_destroy(vm);
        return -1;
    }
    if (flags & RAW_HUGE)
        madvise(vm->mem, mem_size, MADV_HUGEPAGE);
    struct kvm_userspace_memory_region slot = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = mem_size,
        .userspace_addr = (uintptr_t)vm->mem,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
        perror("KVM_SET_USER_MEMORY_REGION");
        raw_vm_destroy(vm);
        return -1;
    }
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0) {
        perror("KVM_CREATE_VCPU");
        raw_vm_destroy(vm);
        return -1;
    }
    vm->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        perror("mmap kvm_run");
        raw_vm_destroy(vm);
        return -1;
    }
    return 0;
}

static void flat_segment(struct kvm_segment *s, uint16_t selector, uint8_t type)
{
    memset(s, 0, sizeof(*s));
    s->base = 0;
    s->limit = 0xffffffff;
    s->selector = selector;
    s->type = type;
    s->present = 1;
    s->s = 1;
    s->db = 1;
    s->g = 1;
}

int raw_vm_enter_pm32(struct raw_vm *vm, uint32_t entry)
{
    struct kvm_sregs sregs;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
        perror("KVM_GET_SREGS");
        return -1;
    }
    flat_segment(&sregs.cs, 0x08, 0xb); /* execute/read, accessed */
    flat_segment(&sregs.ds, 0x10, 0x3); /* read/write, accessed */
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    sregs.cr0 = 0x11; /* PE | ET */
    sregs.cr4 = 0;
    sregs.efer = 0;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0) {
        perror("KVM_SET_SREGS");
        return -1;
    }
    struct kvm_regs regs;
    memset(&regs, 0, sizeof(regs));
    regs.rip = entry;
    regs.rflags = 0x2;
    regs.rsp = 0x8000;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0) {
        perror("KVM_SET_REGS");
        return -1;
    }
    return 0;
}

void raw_vm_destroy(struct raw_vm *vm)
{
    if (vm->run)
        munmap(vm->run, (size_t)vm->run_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->mem)
        munmap(vm->mem, vm->mem_size);
    if (vm->mem_fd >= 0)
        close(vm->mem_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    vm->run = NULL;
    vm->mem = NULL;
    vm->vcpu_fd = vm->vm_fd = vm->mem_fd = -1;
}

int raw_parse_parts(int argc, char **argv, int first, unsigned *flags)
{
    *flags = 0;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "irqchip") == 0)
            *flags |= RAW_IRQCHIP;
        else if (strcmp(argv[i], "pit") == 0)
            *flags |= RAW_PIT | RAW_IRQCHIP;
        else if (strcmp(argv[i], "memfd") == 0)
            *flags |= RAW_MEMFD;
        else if (strcmp(argv[i], "huge") == 0)
            *flags |= RAW_HUGE;
        else {
            fprintf(stderr, "unknown part '%s' (irqchip, pit, memfd, huge)\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

uint64_t raw_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double raw_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    if (n % 2)
        return v[n / 2];
    return (v[n / 2 - 1] + v[n / 2]) / 2.0;
}
