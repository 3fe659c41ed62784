/* The VM behind vmm_vm_t: lifecycle state machine, vCPU threads, and the
 * queue through which vCPU threads reach the loop thread. */
#ifndef LIBVMM_CORE_VM_H
#define LIBVMM_CORE_VM_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <uv.h>

#include "arch/platform.h"
#include "machine/machine.h"
#include "core/host.h"
#include "core/vm_embed.h"
#include "core/vm_ports.h"
#include "vmm/vm.h"

struct sched_group;
struct vm_cgroup;
/* vmm_vm.ext slots. */
enum vm_ext_slot { VM_EXT_MIGRATE = 0, VM_EXT_SAVE = 1, VM_EXT_SLOTS };

struct vmm_vm {
    vmm_host_t *host;
    vmm_config_t *cfg;
    const struct platform *platform;
    struct machine m;
    int engine_created; /* engine->vm_create succeeded */

    _Atomic int state;  /* vmm_state_t; written on the loop thread only */
    vmm_event_cb cb;
    void *cb_opaque;

    uv_async_t wakeup; /* vCPU threads -> loop: console bytes, outcome, exit */

    /* vCPU threads and pause parking. */
    pthread_t *threads;
    unsigned nr_threads;
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* parked/exited changes; resume and stop */
    unsigned parked;
    unsigned exited;
    /* Engines that run in slices (soft): the VM's vCPUs on the host's
     * scheduler pool instead of threads of their own (core/sched.h). Lives
     * as long as the VM. */
    struct sched_group *sched;
    /* kvm: the cgroup the vCPU threads are in (core/cgroup.h), NULL none. */
    struct vm_cgroup *cgroup;

    /* Console output waiting for the loop thread. */
    pthread_mutex_t console_lock;
    uint8_t *console_buf;
    size_t console_len, console_cap;

    uint64_t pool_charge;           /* bytes taken from the host pool */
    /* Layers above core that keep per-VM state (a live migration, a save
     * being written) hang it here, one slot each; destroy runs first in
     * vmm_vm_destroy (loop thread). */
    struct {
        void *opaque;
        void (*destroy)(struct vmm_vm *vm, void *opaque);
    } ext[VM_EXT_SLOTS];
    /* > 0 while something reads the paused machine from another thread
     * (an asynchronous save): vmm_vm_resume / start refuse with VMM_EBUSY
     * and this reason. */
    int hold_paused;
    const char *hold_reason;
    unsigned restarts;              /* lifecycle restarts so far */
    int host_reset;                 /* vm_reset() asked for this run's end (vm_hooks.h) */

    struct vm_embed embed; /* user data, last error, async ops (vm_embed.h) */
    struct vm_ports ports; /* named console ports (vm_ports.h) */

    /* --- memory overcommit (vm_memory.c) --- */
    struct vmm_vm *host_next;    /* the host's list of VMs */
    uint64_t mem_limit;          /* vmm_vm_set_memory_limit(); 0 = none */
    uint64_t mem_last_touched;   /* touched at the previous pool check */
    atomic_uint mem_events;      /* MACHINE_MEM_* bits waiting for the loop */
};

/* vm_memory.c: the machine's memory_changed hook (any thread) and what the
 * loop does with it (emits VMM_EVENT_MEMORY, checks the pool after a
 * deflate). */
void vm_memory_changed(void *opaque, unsigned what);
void vm_memory_on_wakeup(struct vmm_vm *vm);

/* How a restore (snapshot/) builds a VM: `memory` runs once the RAM layout
 * exists and before the engine maps it (to back RAM by a file), `load`
 * replaces the boot (fill memory, load every component's state). Either
 * failing destroys the half-built VM. */
struct vm_restore_hooks {
    int (*memory)(struct machine *m, void *ctx);
    int (*load)(struct machine *m, void *ctx);
    void *ctx;
};

/* vmm_vm_create() with restore hooks (NULL: a normal boot). */
int vm_create_with(vmm_host_t *host, const vmm_config_t *cfg, const struct vm_restore_hooks *restore,
                   vmm_vm_t **out);

/* vCPU threads. core/vcpu_thread.c */
int vcpu_threads_start(struct vmm_vm *vm);
void vcpu_threads_kick(struct vmm_vm *vm);
void vcpu_threads_join(struct vmm_vm *vm);
/* kvm: puts the running vCPU threads into a cgroup of their own when the
 * config asks for shares or quotas and they have none yet. */
int vcpu_threads_cgroup(struct vmm_vm *vm);
/* After a resume: parked vCPUs on the scheduler pool take a worker again. */
void vcpu_threads_resume(struct vmm_vm *vm);
/* Frees what the VM keeps of the scheduler (free_vm, after the machine). */
void vcpu_threads_release(struct vmm_vm *vm);
/* The host CPUs vCPU `index`'s thread may run on (running or paused VM). */
int vcpu_thread_affinity(struct vmm_vm *vm, unsigned index, cpu_set_t *out);

#endif
