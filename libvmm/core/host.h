/* The host context behind vmm_host_t: the loop and the memory pool. */
#ifndef LIBVMM_CORE_HOST_H
#define LIBVMM_CORE_HOST_H

#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include "vmm/host.h"

struct sched;

struct vmm_host {
    uv_loop_t *loop;
    uv_loop_t own_loop; /* used when the caller passed no loop */
    int owns_loop;
    pthread_mutex_t lock; /* guards the pool figures */
    uint64_t mem_limit;   /* pool size in bytes */
    uint64_t mem_used;
    unsigned nr_vms;      /* created and not yet destroyed */
    unsigned nr_active;   /* running or paused */

    unsigned nr_pending;  /* asynchronous VM operations not completed yet */
    int running;          /* inside vmm_host_run() */
    void *data;           /* vmm_host_set_data() */

    /* The vCPU scheduler's worker pool (core/sched.h), made when the first
     * VM whose engine runs in slices starts; `workers` threads (0: one per
     * host CPU the process may use). */
    struct sched *sched;
    unsigned workers;
    char *cgroup_parent; /* kvm VMs' cgroups go here; NULL: the process's own */

    /* --- memory overcommit (vm_memory.c) --- */
    double overcommit;        /* admission capacity = mem_limit x overcommit */
    struct vmm_vm *vms;       /* every VM of the host, for the pool checks */
    uv_timer_t *mem_timer;    /* the periodic pool check; NULL until the first VM */
};

/* The host's scheduler pool, made on first use. Loop thread. */
int host_sched(vmm_host_t *host, struct sched **out);


/* vm_memory.c: puts a new VM on the host's list (starting the pool check
 * timer with the first) / takes it off. Loop thread. */
struct vmm_vm;
int host_vm_add(vmm_host_t *host, struct vmm_vm *vm);
void host_vm_remove(vmm_host_t *host, struct vmm_vm *vm);
/* Stops the pool check timer (vmm_host_free). */
void host_mem_timer_close(vmm_host_t *host);

/* Takes ram + overhead bytes from the pool (overhead: what the engine's
 * per-vCPU caches may cost the host); VMM_ENOMEM naming the figures if it
 * does not fit. */
int host_pool_reserve(vmm_host_t *host, uint64_t ram, uint64_t overhead, const char *vm_name);
void host_pool_release(vmm_host_t *host, uint64_t bytes);

#endif
