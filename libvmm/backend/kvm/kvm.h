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
    struct engine_options opt;
    void *irqchip_reset;  /* kvm_state.c: the irqchip as created */
};

struct kvm_vcpu_state {
    struct machine *m;
    unsigned index;
    int fd;
    struct kvm_run *run;
    pthread_t thread;        /* the thread inside vcpu_run(), for kicks */
    atomic_int has_thread;
    void *saved;             /* kvm_state.c: reset state and MSR list */
    uint64_t tsc_frozen;     /* guest TSC when the vCPU last stopped running */
    int tsc_frozen_valid;
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

/* kvm_state.c: the vCPUs and the in-kernel interrupt controllers as machine
 * components. A vCPU's reset state is what KVM gave it at creation (plus
 * our CPUID), captured by kvm_vcpu_capture_reset(); the irqchip's likewise
 * by kvm_irqchip_capture_reset(). */
extern const struct component_ops kvm_vcpu_component_ops;    /* opaque: struct kvm_vcpu_state * */
extern const struct component_ops kvm_irqchip_component_ops; /* opaque: struct machine * */
int kvm_vcpu_capture_reset(struct kvm_vcpu_state *v);
int kvm_irqchip_capture_reset(struct machine *m);
void kvm_vcpu_state_free(struct kvm_vcpu_state *v);  /* frees what capture kept */
void kvm_irqchip_state_free(struct machine *m);
/* Records the guest TSC as the vCPU stops running (its thread, on the way
 * out of vcpu_run), so saves of a paused VM report one value. */
void kvm_vcpu_freeze_tsc(struct kvm_vcpu_state *v);

static inline struct kvm_vm_state *kvm_vm_of(struct machine *m)
{
    return m->engine_vm;
}

static inline struct kvm_vcpu_state *kvm_vcpu_of(struct machine *m, unsigned index)
{
    return m->vcpus[index].engine;
}

#endif
