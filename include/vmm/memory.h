/* libvmm — guest memory access from the host. */
#ifndef VMM_MEMORY_H
#define VMM_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Copies `len` bytes of guest-physical memory at `gpa` into buf. The whole
 * range must be RAM (VMM_ERANGE otherwise, naming the address). Any thread;
 * while the VM runs the bytes may change underneath. */
int vmm_vm_read_phys(vmm_vm_t *vm, uint64_t gpa, void *buf, size_t len);

/* Copies buf into guest-physical memory. Same rules as vmm_vm_read_phys(). */
int vmm_vm_write_phys(vmm_vm_t *vm, uint64_t gpa, const void *buf, size_t len);

/* --- memory overcommit: figures, the balloon, limits ------------------- */

/* A guest statistic the guest has not reported (yet). */
#define VMM_MEMSTAT_UNSET UINT64_MAX

/* One VM's memory figures: a sized struct (vmm/abi.h) the caller passes to
 * vmm_vm_memory_stats() with .size = sizeof(vmm_memory_stats_t). Guest RAM
 * is committed only as the guest touches it, so `touched` starts near 0
 * and grows; the balloon and free page reporting shrink it again. */
typedef struct vmm_memory_stats {
    uint64_t size;
    uint64_t configured;     /* guest RAM (<memory>), bytes */
    uint64_t touched;        /* bytes of it the host has committed: the memory
                              * file's allocated blocks (swapped-out pages
                              * included) — what the pool checks count */
    uint64_t resident;       /* bytes of it in host RAM now (mincore) */
    uint64_t limit;          /* the VM's own limit on touched, 0 = none
                              * (vmm_vm_set_memory_limit()) */
    int has_balloon;         /* the VM has a virtio-balloon */
    int balloon_driver;      /* the guest's balloon driver is up */
    uint64_t balloon_target; /* bytes the host asks the balloon to hold */
    uint64_t ballooned;      /* bytes the guest's driver says it holds */
    uint64_t inflated;       /* bytes given up on the inflate queue since power-on */
    uint64_t deflated;       /* bytes taken back on the deflate queue */
    uint64_t reported;       /* bytes returned by free page reporting */
    uint64_t balloon_errors; /* guest-supplied entries the device refused */
    uint64_t stats_updates;  /* statistics reports received */
    uint64_t stats_age_ms;   /* since the last report; VMM_MEMSTAT_UNSET if none */
    /* The guest's own figures from its last report (virtio 1.x 5.5.6.3),
     * bytes unless noted; VMM_MEMSTAT_UNSET where the guest gave none. */
    uint64_t swap_in, swap_out;         /* bytes */
    uint64_t major_faults, minor_faults; /* counts */
    uint64_t free;           /* unused guest memory */
    uint64_t total;          /* memory the guest can use */
    uint64_t available;      /* the guest's estimate of what it could use */
    uint64_t disk_caches;    /* reclaimable file caches */
    uint64_t hugetlb_allocs, hugetlb_failures; /* counts */
} vmm_memory_stats_t;

/* Fills *out with the VM's memory figures. Any thread (the guest's
 * figures are those of its last report: vmm_vm_balloon_request_stats()
 * asks for fresh ones). Errors: VMM_EINVAL (NULL vm/out, bad out->size). */
int vmm_vm_memory_stats(vmm_vm_t *vm, vmm_memory_stats_t *out);

/* Asks the guest to hold `guest_bytes` of its RAM for itself and give the
 * rest to the balloon (QEMU's `balloon` command: the target guest memory
 * size). Rounded down to 4 KiB. The guest's driver follows in its own
 * time; VMM_EVENT_MEMORY (VMM_MEMORY_BALLOON) reports each step. Errors:
 * VMM_ENOTSUP (the VM has no balloon), VMM_EINVAL (above the VM's memory
 * or below VMM_BALLOON_MIN_TARGET, naming both figures), VMM_ESTATE (the VM
 * has ended). Loop thread. */
#define VMM_BALLOON_MIN_TARGET (16ULL << 20)
int vmm_vm_set_balloon_target(vmm_vm_t *vm, uint64_t guest_bytes);

/* The current target in guest bytes (configured memory when no balloon). */
uint64_t vmm_vm_balloon_target(const vmm_vm_t *vm);

/* Hands the guest's statistics buffer back so it reports fresh figures
 * (VMM_EVENT_MEMORY with VMM_MEMORY_STATS when they arrive). VMM_ENOTSUP
 * without a balloon. Loop thread. */
int vmm_vm_balloon_request_stats(vmm_vm_t *vm);

/* The VM's own hard limit on touched guest RAM, bytes (0: none; the
 * default is <memtune><hard_limit>). Checked at the pool's check points
 * (see vmm_host_set_memory_overcommit()): a VM found above it is paused
 * with VMM_EVENT_MEMORY (VMM_MEMORY_LIMIT_REACHED). A limit below what the
 * VM holds now is allowed: inflate its balloon first, or it pauses at the
 * next check. Errors: VMM_EINVAL for a limit not a multiple of 4 KiB.
 * Loop thread. */
int vmm_vm_set_memory_limit(vmm_vm_t *vm, uint64_t bytes);

#ifdef __cplusplus
}
#endif
#endif
