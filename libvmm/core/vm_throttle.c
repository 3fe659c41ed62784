/* VM throttling (vm_throttle.h). */
#include "core/vm_throttle.h"

#include <errno.h>
#include <time.h>

#include "config/config.h"
#include "core/vm.h"
#include "util/error.h"

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Sleeps `ms` on the throttle's condition; returns early when quit is set
 * or the share changed. t->lock held. */
static void wait_ms(struct vm_throttle *t, unsigned ms, unsigned pct)
{
    struct timespec ts;
    deadline_after(&ts, ms);
    while (!t->quit && t->pct == pct)
        if (pthread_cond_timedwait(&t->cond, &t->lock, &ts) == ETIMEDOUT)
            break;
}

/* Holds the vCPUs for `ms` (unless paused or stopped meanwhile). */
static void hold(struct vm_throttle *t, unsigned ms, unsigned pct)
{
    struct vmm_vm *vm = t->vm;
    int expect = MACHINE_RUN;
    if (!atomic_compare_exchange_strong(&vm->m.request, &expect, MACHINE_THROTTLE)) {
        wait_ms(t, ms, pct); /* paused or ending: nothing to hold */
        return;
    }
    for (unsigned i = 0; i < vm->m.nr_vcpus; i++)
        vm->platform->engine->vcpu_kick(&vm->m, i);
    wait_ms(t, ms, pct);
    t->held_ms += ms;
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_lock(&vm->lock);
    expect = MACHINE_THROTTLE;
    atomic_compare_exchange_strong(&vm->m.request, &expect, MACHINE_RUN);
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    vcpu_threads_resume(vm); /* vCPUs held on the scheduler pool take a worker again */
    pthread_mutex_lock(&t->lock);
}

static void *throttle_main(void *arg)
{
    struct vm_throttle *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->quit) {
        unsigned pct = t->pct;
        if (!pct) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        wait_ms(t, THROTTLE_RUN_MS, pct);
        if (t->quit || t->pct != pct)
            continue;
        hold(t, THROTTLE_RUN_MS * pct / (100 - pct), pct);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

void vm_throttle_init(struct vm_throttle *t, struct vmm_vm *vm)
{
    t->vm = vm;
    t->started = 0;
    t->pct = 0;
    t->quit = 0;
    t->held_ms = 0;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
}

int vm_throttle_set(struct vm_throttle *t, unsigned pct)
{
    if (pct > THROTTLE_MAX_PCT)
        pct = THROTTLE_MAX_PCT;
    pthread_mutex_lock(&t->lock);
    t->pct = pct;
    pthread_cond_broadcast(&t->cond);
    int start = pct && !t->started;
    if (start)
        t->started = 1;
    pthread_mutex_unlock(&t->lock);
    if (!start)
        return 0;
    int rc = pthread_create(&t->thread, NULL, throttle_main, t);
    if (rc) {
        pthread_mutex_lock(&t->lock);
        t->started = 0;
        t->pct = 0;
        pthread_mutex_unlock(&t->lock);
        return vmm_error_errno(rc, "starting the throttle of VM '%s'", t->vm->cfg->name);
    }
    return 0;
}

unsigned vm_throttle_get(struct vm_throttle *t)
{
    pthread_mutex_lock(&t->lock);
    unsigned pct = t->pct;
    pthread_mutex_unlock(&t->lock);
    return pct;
}

void vm_throttle_fini(struct vm_throttle *t)
{
    pthread_mutex_lock(&t->lock);
    t->quit = 1;
    t->pct = 0;
    pthread_cond_broadcast(&t->cond);
    int started = t->started;
    t->started = 0;
    pthread_mutex_unlock(&t->lock);
    if (started)
        pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
}
