/* The host's vCPU scheduler: every vCPU of every VM whose engine can run
 * in slices (the soft engine) runs on one pool of worker threads per host.
 *
 * Policy (one global run queue under one lock; a few hundred vCPUs at most):
 *  - Proportional share: each vCPU carries a virtual run time that grows by
 *    (host CPU time run) * 1024 / weight, and a free worker takes the runnable vCPU
 *    with the smallest one. A VM's weight is its <cputune><shares> (default
 *    1024), split evenly among its vCPUs, so VMs get CPU in proportion to
 *    their shares whatever their vCPU counts.
 *  - Caps with libvirt's meaning: <period>/<quota> let each vCPU run at most
 *    quota of every period; <global_period>/<global_quota> the whole VM. A
 *    slice never runs past the quota left, so a cap is exceeded by at most
 *    one block of guest instructions. Shares and caps count the host CPU
 *    time a slice consumed, not its wall time, so a worker the host kernel
 *    preempts charges its vCPU nothing for the wait.
 *  - Pinning: <vcpupin>/<vcpu cpuset> name host CPUs; worker w stands for
 *    the w-th host CPU the process may use, so a vCPU runs only on the
 *    workers of its CPUs. The workers are pinned to their CPUs once a VM
 *    with a pinned vCPU joins; before that the host kernel places them
 *    (a CPU another program keeps busy then slows no worker for long).
 *  - Work conservation: a vCPU in WFI, HSM-stopped or paused leaves its
 *    worker at once; it is not in the queue and its share goes to others.
 *  - Wake-up: an interrupt, IPI or kick (machine_vcpu_wake) makes a blocked
 *    vCPU runnable with the smallest virtual time it may have (SCHED_SLICE_NS
 *    behind the queue's minimum), wakes an idle worker or, when none is
 *    free, preempts the running vCPU with the largest virtual time. A timer
 *    deadline is honoured by idle workers sleeping until it and by running
 *    slices ending at it.
 *  - Latency bound: a runnable vCPU waits at most SCHED_SLICE_NS times the
 *    number of runnable vCPUs ahead of it per worker; a vCPU woken by an
 *    interrupt or its timer starts within SCHED_WAKE_BOUND_NS (one block of
 *    guest instructions on the preempted worker plus the hand-over) when
 *    it is allowed on some worker and not capped. Both bounds are the
 *    scheduler's: time the host kernel keeps a worker thread off its CPU
 *    comes on top (the wake-up test measures the host's share beside it).
 *  - Deterministic VMs: their vCPUs run one at a time, in index order, each
 *    for SCHED_DET_QUANTUM instructions (or until it blocks), so the
 *    interleaving, and with the engine's instruction clock the whole run,
 *    repeats.
 */
#ifndef LIBVMM_CORE_SCHED_H
#define LIBVMM_CORE_SCHED_H

#include <sched.h>
#include <stdint.h>

#include "backend/backend.h"
#include "machine/machine.h"

#define SCHED_SLICE_NS 2000000ULL     /* longest slice: 2 ms */
#define SCHED_WAKE_BOUND_NS 1000000ULL /* stated bound on wake-up latency: 1 ms */
#define SCHED_DET_QUANTUM 10000ULL    /* deterministic mode: instructions per turn */
#define SCHED_MAX_WORKERS 256
#define SCHED_DEFAULT_WEIGHT 1024

struct sched;
struct sched_group;

/* What the scheduler tells the VM's owner (core/vcpu_thread.c), always
 * without its own lock held: a vCPU parked for a pause, left the park, or
 * ended (the run request said stop). */
enum sched_note { SCHED_NOTE_PARKED, SCHED_NOTE_UNPARKED, SCHED_NOTE_EXITED };

struct sched_group_spec {
    struct machine *m;
    const struct engine_ops *engine;
    unsigned nr_vcpus;
    unsigned shares;                 /* 0: SCHED_DEFAULT_WEIGHT */
    uint64_t period_us;              /* per-vCPU cap; 0 or quota <= 0: none */
    int64_t quota_us;
    uint64_t global_period_us;       /* whole-VM cap */
    int64_t global_quota_us;
    int deterministic;
    /* Host CPUs each vCPU may use (NULL entries: any). */
    const cpu_set_t *const *pins;
    void (*note)(void *opaque, unsigned index, enum sched_note what);
    void *opaque;
};

/* Creates a pool of `workers` threads (1..SCHED_MAX_WORKERS). */
int sched_new(unsigned workers, struct sched **out);
/* Ends the workers. No group may remain. */
void sched_free(struct sched *s);
/* The host lets go of the pool: freed now, or, while VMs the host program
 * destroyed still wait for their final free (libuv close callbacks run
 * later on a loop the program owns), by the removal of the last group. */
void sched_release(struct sched *s);
unsigned sched_workers(const struct sched *s);
/* Host CPUs of the process a worker is pinned to, for reporting. */
int sched_worker_cpu(const struct sched *s, unsigned worker);
/* Default pool size: the host CPUs this process may use. */
unsigned sched_default_workers(void);

/* Adds a VM's vCPUs, not running yet; installs m->vcpu_wake. Refuses
 * (naming the vCPU and its CPUs) a pin that leaves a vCPU no worker. The
 * group lives as long as the VM, so a late wake from a device thread
 * always finds it. */
int sched_group_add(struct sched *s, const struct sched_group_spec *spec,
                    struct sched_group **out);
/* Makes every vCPU of the group runnable: a run (start, restart) begins.
 * Every vCPU must have ended (SCHED_NOTE_EXITED) or never run. */
void sched_group_start(struct sched_group *g);
/* Removes the group once no thread may wake it any more (the machine's
 * devices and engine are gone) and every vCPU has ended. */
void sched_group_remove(struct sched_group *g);

/* Run-time changes (any thread). shares 0 = default; a period of 0 or a
 * quota <= 0 lifts the cap. Values are checked by the caller. */
void sched_group_set_shares(struct sched_group *g, unsigned shares);
void sched_group_set_quota(struct sched_group *g, uint64_t period_us, int64_t quota_us);
void sched_group_set_global_quota(struct sched_group *g, uint64_t period_us, int64_t quota_us);

/* The host CPUs vCPU `index` may run on (its workers' CPUs). */
void sched_group_affinity(struct sched_group *g, unsigned index, cpu_set_t *out);

/* Makes vCPU `index` runnable if it waits (blocked, or parked while the run
 * request no longer says pause). Any thread; installed as m->vcpu_wake. */
void sched_wake(void *group, unsigned index);

#endif
