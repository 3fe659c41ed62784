/* libvmm — vCPU inspection. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-vCPU counters. Updated by the vCPU thread; read at any time (values
 * are each consistent, not a snapshot of all). A sized struct (vmm/abi.h):
 * set .size = sizeof(vmm_vcpu_stats_t) before vmm_vm_vcpu_stats(). Every
 * member is a uint64_t, and new counters are appended as uint64_t too. */
typedef struct vmm_vcpu_stats {
    uint64_t size;         /* bytes of this struct the caller knows (vmm/abi.h) */
    uint64_t exits;        /* returns from guest mode the VMM handled */
    uint64_t io_exits;     /* port I/O accesses */
    uint64_t mmio_exits;   /* MMIO accesses */
    uint64_t halts;        /* HLT / WFI waits */
    uint64_t hypercalls;   /* SBI calls (soft) */
    uint64_t instructions; /* retired instructions (soft engine only) */
    uint64_t tlb_hits;     /* shadow page table hits (soft engine only) */
    uint64_t tlb_misses;   /* shadow page table fills (guest walks) */
    uint64_t tlb_flushes;  /* shadow page table flushes (sfence.vma, satp) */
    /* The soft engine's translator (0 when it interprets): */
    uint64_t jit_blocks;       /* guest blocks translated */
    uint64_t jit_translate_ns; /* host time spent translating them */
    uint64_t jit_code_bytes;   /* host code emitted */
    uint64_t jit_flushes;      /* whole code cache dropped (fence.i, full) */
    uint64_t jit_block_runs;   /* blocks run (counted only with LIBVMM_SOFT_JIT_PROFILE=1) */
    uint64_t jit_lookups;      /* of which entered through the lookup (the rest
                                * through a direct jump linked to them) */
    /* Scheduler figures (soft engine: the host's worker pool, vmm/host.h;
     * 0 on kvm, whose vCPU threads the host kernel schedules). */
    uint64_t run_ns;       /* wall time holding a worker */
    uint64_t wait_ns;      /* steal time: runnable but waiting for a worker
                            * (caps and other vCPUs) */
    uint64_t slices;       /* times the vCPU was given a worker */
    uint64_t cpu_ns;       /* host CPU time its slices consumed: what shares
                            * and caps are charged (run_ns minus the time the
                            * host kernel preempted the worker) */
} vmm_vcpu_stats_t;

/* Architecture-neutral view of a vCPU's main registers. A sized struct
 * (vmm/abi.h): set .size = sizeof(vmm_vcpu_regs_t) before vmm_vm_vcpu_regs(). */
typedef struct vmm_vcpu_regs {
    uint64_t size;     /* bytes of this struct the caller knows (vmm/abi.h) */
    uint64_t pc;       /* rip / pc */
    uint64_t sp;       /* rsp / x2 */
    uint64_t gpr[32];  /* x86: rax rcx rdx rbx rsp rbp rsi rdi r8..r15; riscv: x0..x31 */
    uint64_t flags;    /* rflags / mstatus */
    int mode;          /* x86: 16/32/64 (CPU mode); riscv: privilege 0 U, 1 S, 3 M */
} vmm_vcpu_regs_t;

/* Number of vCPUs. */
unsigned vmm_vm_vcpu_count(const vmm_vm_t *vm);

/* Copies vCPU `index`'s counters into *out, which the caller owns, at most
 * out->size bytes (vmm/abi.h); out->size becomes the bytes filled.
 * VMM_EINVAL for a bad index (naming it and the vCPU count), a NULL vm or out,
 * or an out->size outside 8..VMM_STRUCT_SIZE_MAX. Any thread. */
int vmm_vm_vcpu_stats(vmm_vm_t *vm, unsigned index, vmm_vcpu_stats_t *out);

/* Reads vCPU `index`'s registers into *out (sized like vmm_vm_vcpu_stats()).
 * The VM must be DEFINED, PAUSED, SHUTOFF or CRASHED (VMM_ESTATE while
 * running). VMM_EINVAL as for vmm_vm_vcpu_stats(). Loop thread. */
int vmm_vm_vcpu_regs(vmm_vm_t *vm, unsigned index, vmm_vcpu_regs_t *out);

/* Writes the host CPUs vCPU `index`'s thread may run on, in libvirt's
 * cpuset syntax ("0-3,6"), into buf (NUL-terminated): on kvm its thread's
 * affinity, on soft the CPUs of the scheduler workers it may use (all the
 * process's CPUs when unpinned). It reflects the config's
 * <cputune><vcpupin> and <vcpu cpuset> once the VM runs.
 * VMM_ESTATE unless running or paused; VMM_ERANGE when buf is too small
 * (the message names the length needed). Loop thread. */
int vmm_vm_vcpu_host_cpus(vmm_vm_t *vm, unsigned index, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
