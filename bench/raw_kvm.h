/* Shared helpers of the raw /dev/kvm reference programs (raw_kvm_io.c,
 * raw_kvm_create.c): what a minimal VMM does with no library in between,
 * the floor the libvmm figures are compared with. */
#ifndef BENCH_RAW_KVM_H
#define BENCH_RAW_KVM_H

#include <stdint.h>
#include <linux/kvm.h>

#define RAW_SKIP 77 /* exit status when /dev/kvm is missing (as the tests) */

/* Optional parts of raw_vm_create(), so the cost of each can be seen. */
#define RAW_IRQCHIP 0x1u /* KVM_CREATE_IRQCHIP (in-kernel PIC, IOAPIC, LAPIC) */
#define RAW_PIT 0x2u     /* KVM_CREATE_PIT2 (needs RAW_IRQCHIP) */
#define RAW_MEMFD 0x4u   /* RAM from a memfd mapped shared, not anonymous */
#define RAW_HUGE 0x8u    /* madvise(MADV_HUGEPAGE) on the RAM */

/* A VM with one memory slot of `mem_size` bytes at guest-physical 0 and one
 * vCPU whose kvm_run is mapped. */
struct raw_vm {
    int kvm_fd, vm_fd, vcpu_fd;
    uint8_t *mem;
    uint64_t mem_size;
    int mem_fd;
    struct kvm_run *run;
    long run_size;
};

/* Opens /dev/kvm (kvm_fd >= 0) once; returns -1 with errno on failure. */
int raw_kvm_open(void);

/* Creates the VM, its slot (memory not touched) and vCPU 0, plus the
 * RAW_* parts in flags.
 * Returns 0 or -1 with a message printed on stderr. */
int raw_vm_create(struct raw_vm *vm, int kvm_fd, uint64_t mem_size, unsigned flags);

/* Puts vCPU 0 in flat 32-bit protected mode (paging off, 4 GiB segments)
 * at `entry`, the state a PVH ELF is entered in. */
int raw_vm_enter_pm32(struct raw_vm *vm, uint32_t entry);

/* Closes everything raw_vm_create made (not kvm_fd). */
void raw_vm_destroy(struct raw_vm *vm);

/* Reads the optional part words ("irqchip", "pit", "memfd", "huge") in
 * argv[first..argc-1] into RAW_* flags; -1 with a message on an unknown one. */
int raw_parse_parts(int argc, char **argv, int first, unsigned *flags);

/* Monotonic clock in nanoseconds. */
uint64_t raw_now_ns(void);

/* Sorts `v` in place and returns the median. */
double raw_median(double *v, int n);

#endif
