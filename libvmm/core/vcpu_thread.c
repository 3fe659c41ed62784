/* One host thread per vCPU. The thread runs the engine's vcpu_run until the
 * machine's run request says pause (park here until resumed) or stop (end). */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "config/cpuset.h"
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

int vcpu_threads_start(struct vmm_vm *vm)
{
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
    return err;
}

int vcpu_thread_affinity(struct vmm_vm *vm, unsigned index, cpu_set_t *out)
{
    if (index >= vm->nr_threads)
        return vmm_error(VMM_EINVAL, "vCPU %u has no thread (VM has %u running)", index,
                         vm->nr_threads);
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
    for (unsigned i = 0; i < vm->nr_threads; i++)
        pthread_join(vm->threads[i], NULL);
    free(vm->threads);
    vm->threads = NULL;
    vm->nr_threads = 0;
}
