/* The kvm engine's internals shared by its files and by the x86 arch code,
 * which loads the guest and sets the boot vCPU's registers through these
 * helpers (arch sits above backend, so it may call down here).
 */
#ifndef LIBVMM_BACKEND_KVM_KVM_H
#define LIBVMM_BACKEND_KVM_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>

#include "backend/backend.h"

#define KVM_DEV_PATH "/dev/kvm"
#define KVM_EXPECTED_API 12
/* Where KVM puts the real-mode TSS (3 pages) and the EPT identity-map page
 * on VMX hosts: just below the 4 GiB BIOS area, inside the MMIO gap, so it
 * never overlaps guest RAM. */
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define KVM_TSS_ADDR 0xfffbd000ULL

struct kvm_vm_state {
    int kvm_fd;       /* /dev/kvm */
    int vm_fd;
    int run_size;     /* KVM_GET_VCPU_MMAP_SIZE */
    int nr_slots;     /* memory slots set */
};

struct kvm_vcpu_state {
    int fd;
    struct kvm_run *run;
    pthread_t thread;        /* the thread inside vcpu_run(), for kicks */
    atomic_int has_thread;
};

/* Register access for a vCPU that is not running. Each returns 0 or VMM_EKVM
 * with the ioctl and errno text in vmm_last_error(). */
int kvm_vcpu_get_regs(struct machine *m, unsigned index, struct kvm_regs *r);
int kvm_vcpu_set_regs(struct machine *m, unsigned index, const struct kvm_regs *r);
int kvm_vcpu_get_sregs(struct machine *m, unsigned index, struct kvm_sregs *s);
int kvm_vcpu_set_sregs(struct machine *m, unsigned index, const struct kvm_sregs *s);

/* kvm_cpuid.c: builds the guest CPUID of vCPU `index` from the host's
 * supported leaves and sets it. */
int kvm_cpuid_setup(struct machine *m, unsigned index);

/* kvm_exit.c: handles one exit of KVM_RUN. Returns 0 to keep running, 1 when
 * an outcome was recorded and the loop must end. */
int kvm_exit_handle(struct machine *m, unsigned index);

/* kvm_exit.c: formats up to `max` instruction bytes at the vCPU's RIP into
 * `out` ("0f c7 0e ..."), or "unreadable". Used in crash reasons. */
void kvm_format_code_bytes(struct machine *m, unsigned index, char *out, size_t outlen);

static inline struct kvm_vm_state *kvm_vm_of(struct machine *m)
{
    return m->engine_vm;
}

static inline struct kvm_vcpu_state *kvm_vcpu_of(struct machine *m, unsigned index)
{
    return m->vcpus[index].engine;
}

#endif
