/* The vCPUs' host side. Engines that run in slices (soft) put every vCPU
 * on the host's scheduler pool (core/sched.h); the others (kvm, whose
 * KVM_RUN blocks) get one host thread per vCPU, which runs the engine's
 * vcpu_run until the machine's run request says pause (park here until
 * resumed) or stop (end). Either way vm->parked / vm->exited count the
 * vCPUs parked and ended, which pause, stop and restart wait on. */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/cpuset.h"
#include "core/cgroup.h"
#include "core/sched.h"
#include "core/vm_hooks.h"
#include "core/vm.h"
#include "util/error.h"
#include "util/log.h"

struct vcpu_arg {
    struct vmm_vm *vm;
    unsigned index;
};

/* How long a throttled vCPU sleeps before it looks at the request again:
 * the throttle ends a hold with a broadcast, this only bounds how late a
 * stop that nobody broadcast (a guest power-off elsewhere) is noticed. */
#define THROTTLE_RECHECK_NS 5000000L

/* After vcpu_run returned: holds the thread while the VM is paused or
 * throttled. Returns 1 when the thread must end (STOP). */
static int vcpu_thread_hold(struct vmm_vm *vm)
{
    struct machine *m = &vm->m;
    pthread_mutex_lock(&vm->lock);
    for (;;) {
        int req = atomic_load(&m->request);
        if (req == MACHINE_STOP) {
            pthread_mutex_unlock(&vm->lock);
            return 1;
        }
        if (req == MACHINE_PAUSE) {
            vm->parked++;
            pthread_cond_broadcast(&vm->cond);
            while (atomic_load(&m->request) == MACHINE_PAUSE)
                pthread_cond_wait(&vm->cond, &vm->lock);
            vm->parked--;
            continue;
        }
        if (req == MACHINE_THROTTLE) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += THROTTLE_RECHECK_NS;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&vm->lock);
        return 0;
    }
}

static void *vcpu_thread_main(void *p)
{
    struct vcpu_arg arg = *(struct vcpu_arg *)p;
    free(p);
    struct vmm_vm *vm = arg.vm;
    struct machine *m = &vm->m;
    __atomic_store_n(&m->vcpus[arg.index].host_tid, (int)gettid(), __ATOMIC_RELAXED);

    for (;;) {
        int rc = vm->platform->engine->vcpu_run(m, arg.index);
        if (rc < 0)
            machine_set_outcome(m, VMM_OUTCOME_CRASH, 0, "vCPU %u: engine failure: %s", arg.index,
                                vmm_last_error());
        if (vcpu_thread_hold(vm))
            break;
    }

    __atomic_store_n(&m->vcpus[arg.index].host_tid, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&vm->lock);
    vm->exited++;
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    uv_async_send(&vm->wakeup);
    return NULL;
}

/* The host CPUs vCPU `index` may run on: its <vcpupin>, else the VM's
 * <vcpu cpuset> under static placement. 0 and an empty set when unpinned. */
static int vcpu_affinity(const struct vmm_vm *vm, unsigned index, cpu_set_t *out)
{
    const char *text = vmm_config_vcpu_pin(vm->cfg, index);
    if (!text && vmm_config_vcpu_placement(vm->cfg) == VMM_PLACEMENT_STATIC)
        text = vmm_config_vcpu_cpuset(vm->cfg);
    if (!text)
        return 0;
    config_cpuset_t set;
    int rc = cpuset_parse(text, &set, NULL);
    if (rc)
        return rc;
    CPU_ZERO(out);
    for (unsigned cpu = 0; cpu < VMM_CONFIG_MAX_HOST_CPUS && cpu < CPU_SETSIZE; cpu++)
        if (cpuset_has(&set, cpu))
            CPU_SET(cpu, out);
    return 1;
}

/* Pins the vCPU threads as the config's cputune/vcpupin and vcpu cpuset say. */
static int vcpu_threads_pin(struct vmm_vm *vm)
{
    for (unsigned i = 0; i < vm->nr_threads; i++) {
        cpu_set_t set;
        int rc = vcpu_affinity(vm, i, &set);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        rc = pthread_setaffinity_np(vm->threads[i], sizeof(set), &set);
        if (rc)
            return vmm_error_errno(rc, "pinning vCPU %u to host CPUs '%s'", i,
                                   vmm_config_vcpu_pin(vm->cfg, i)
                                       ? vmm_config_vcpu_pin(vm->cfg, i)
                                       : vmm_config_vcpu_cpuset(vm->cfg));
    }
    return 0;
}

/* --- the scheduler pool ---------------------------------------------------- */

static void pool_note(void *opaque, unsigned index, enum sched_note what)
{
    (void)index;
    struct vmm_vm *vm = opaque;
    pthread_mutex_lock(&vm->lock);
    if (what == SCHED_NOTE_PARKED)
        vm->parked++;
    else if (what == SCHED_NOTE_UNPARKED)
        vm->parked--;
    else
        vm->exited++;
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    if (what == SCHED_NOTE_EXITED)
        uv_async_send(&vm->wakeup);
}

static int pool_join_group(struct vmm_vm *vm)
{
    struct sched *s;
    int rc = host_sched(vm->host, &s);
    if (rc)
        return rc;
    unsigned n = vm->m.nr_vcpus;
    cpu_set_t *sets = calloc(n, sizeof(*sets));
    const cpu_set_t **pins = calloc(n, sizeof(*pins));
    if (!sets || !pins) {
        free(sets);
        free(pins);
        return vmm_error(VMM_ENOMEM, "pinning %u vCPUs", n);
    }
    for (unsigned i = 0; i < n && !rc; i++) {
        int pinned = vcpu_affinity(vm, i, &sets[i]);
        if (pinned < 0)
            rc = pinned;
        else if (pinned)
            pins[i] = &sets[i];
    }
    const vmm_config_t *cfg = vm->cfg;
    struct sched_group_spec spec = {
        .m = &vm->m,
        .engine = vm->platform->engine,
        .nr_vcpus = n,
        .shares = vmm_config_cpu_shares(cfg),
        .period_us = vmm_config_cpu_period(cfg),
        .quota_us = vmm_config_cpu_quota(cfg),
        .global_period_us = vmm_config_cpu_global_period(cfg),
        .global_quota_us = vmm_config_cpu_global_quota(cfg),
        .deterministic = vmm_config_deterministic(cfg),
        .pins = pins,
        .note = pool_note,
        .opaque = vm,
    };
    if (!rc)
        rc = sched_group_add(s, &spec, &vm->sched);
    free(sets);
    free(pins);
    return rc;
}

static int pool_start(struct vmm_vm *vm)
{
    if (!vm->sched) {
        int rc = pool_join_group(vm);
        if (rc)
            return rc;
    }
    vm->nr_threads = vm->m.nr_vcpus;
    sched_group_start(vm->sched);
    return 0;
}

void vcpu_threads_resume(struct vmm_vm *vm)
{
    if (vm->sched)
        vcpu_threads_kick(vm);
}

void vcpu_threads_release(struct vmm_vm *vm)
{
    sched_group_remove(vm->sched);
    vm->sched = NULL;
}

/* --- one thread per vCPU ------------------------------------------------------ */

/* A new thread stores its id first thing; give it a second to do so. */
static int thread_id(struct vmm_vm *vm, unsigned i)
{
    int *tid = &vm->m.vcpus[i].host_tid;
    for (int k = 0; k < 10000 && !__atomic_load_n(tid, __ATOMIC_RELAXED); k++) {
        struct timespec ts = { 0, 100000 };
        nanosleep(&ts, NULL);
    }
    return __atomic_load_n(tid, __ATOMIC_RELAXED);
}

int vcpu_threads_cgroup(struct vmm_vm *vm)
{
    if (vm->sched || vm->cgroup || !vm->nr_threads || !vm_cgroup_wanted(vm->cfg))
        return 0;
    int rc = vm_cgroup_create(vmm_host_cgroup_parent(vm->host), vm->cfg->name, vm->nr_threads,
                              vm->cfg, &vm->cgroup);
    for (unsigned i = 0; i < vm->nr_threads && !rc; i++)
        rc = vm_cgroup_add_thread(vm->cgroup, i, thread_id(vm, i));
    return rc;
}

int vcpu_threads_start(struct vmm_vm *vm)
{
    if (vm->platform->engine->vcpu_run_slice)
        return pool_start(vm);

    unsigned n = vm->m.nr_vcpus;
    vm->threads = calloc(n, sizeof(*vm->threads));
    if (!vm->threads)
        return vmm_error(VMM_ENOMEM, "allocating %u vCPU threads", n);
    /* vCPU threads must not take the host program's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int err = 0;
    for (unsigned i = 0; i < n; i++) {
        struct vcpu_arg *arg = malloc(sizeof(*arg));
        if (!arg) {
            err = vmm_error(VMM_ENOMEM, "allocating vCPU %u", i);
            break;
        }
        arg->vm = vm;
        arg->index = i;
        int rc = pthread_create(&vm->threads[i], NULL, vcpu_thread_main, arg);
        if (rc) {
            free(arg);
            err = vmm_error_errno(rc, "creating the thread of vCPU %u", i);
            break;
        }
        vm->nr_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!err)
        err = vcpu_threads_pin(vm);
    if (!err)
        err = vcpu_threads_cgroup(vm);
    return err;
}

int vcpu_thread_affinity(struct vmm_vm *vm, unsigned index, cpu_set_t *out)
{
    if (index >= vm->nr_threads)
        return vmm_error(VMM_EINVAL, "vCPU %u has no thread (VM has %u running)", index,
                         vm->nr_threads);
    if (vm->sched) {
        sched_group_affinity(vm->sched, index, out);
        return 0;
    }
    int rc = pthread_getaffinity_np(vm->threads[index], sizeof(*out), out);
    return rc ? vmm_error_errno(rc, "reading vCPU %u's affinity", index) : 0;
}

void vcpu_threads_kick(struct vmm_vm *vm)
{
    for (unsigned i = 0; i < vm->nr_threads; i++)
        vm->platform->engine->vcpu_kick(&vm->m, i);
}

void vcpu_threads_join(struct vmm_vm *vm)
{
    if (vm->sched) {
        /* The vCPUs are told to stop (outcome set): wait until all have. */
        pthread_mutex_lock(&vm->lock);
        while (vm->exited < vm->nr_threads)
            pthread_cond_wait(&vm->cond, &vm->lock);
        pthread_mutex_unlock(&vm->lock);
        vm->nr_threads = 0;
        return;
    }
    for (unsigned i = 0; i < vm->nr_threads; i++)
        pthread_join(vm->threads[i], NULL);
    vm_cgroup_destroy(vm->cgroup);
    vm->cgroup = NULL;
    free(vm->threads);
    vm->threads = NULL;
    vm->nr_threads = 0;
}
