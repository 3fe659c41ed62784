/* Throttling a running VM: its vCPUs are held for part of every period so
 * the guest runs slower without being paused (the VM stays RUNNING). A
 * live migration uses it when the guest dirties memory faster than the
 * link carries it ("auto-converge"): the share rises round by round until
 * the rest fits the downtime limit.
 *
 * Mechanism: a thread of its own alternates RUN and THROTTLE in the
 * machine's run request (machine.h); vCPU threads return from the engine on
 * THROTTLE and wait in core until it is RUN again. Pause and stop win over
 * a throttle (machine_request_pause); the thread never overwrites them.
 */
#ifndef LIBVMM_CORE_VM_THROTTLE_H
#define LIBVMM_CORE_VM_THROTTLE_H

#include <pthread.h>

struct vmm_vm;

/* The guest runs THROTTLE_RUN_MS, then is held for run * pct / (100 - pct)
 * (QEMU's CPU throttle has the same shape: 10 ms of running each cycle). */
#define THROTTLE_RUN_MS 10
#define THROTTLE_MAX_PCT 99

struct vm_throttle {
    struct vmm_vm *vm;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned pct; /* 0: not throttling */
    int quit;
    unsigned long long held_ms; /* time the vCPUs were held, in total */
};

void vm_throttle_init(struct vm_throttle *t, struct vmm_vm *vm);
/* Sets the share of time the vCPUs are held, 0..THROTTLE_MAX_PCT (larger
 * values are clamped); 0 ends throttling. Starts the thread on first use.
 * Any thread but a vCPU's. */
int vm_throttle_set(struct vm_throttle *t, unsigned pct);
unsigned vm_throttle_get(struct vm_throttle *t);
/* Ends throttling and joins the thread; the VM runs at full speed. */
void vm_throttle_fini(struct vm_throttle *t);

#endif
