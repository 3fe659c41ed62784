/* The host's vCPU scheduler (policy and bounds: sched.h). One lock guards
 * the whole run queue: picks happen once per slice (milliseconds), so a
 * scan of every vCPU under it costs little next to the guest code a slice
 * runs, and one lock keeps wake-ups, caps and pausing easy to get right. */
#include "core/sched.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

#define MIN_SLICE_NS 50000ULL /* a slice cut short for a timer still runs this long */
#define WORKER_WORDS (SCHED_MAX_WORKERS / 64)

/* HELD: the VM is throttled (MACHINE_THROTTLE, a live migration slowing
 * it); off the queue until a wake finds the request changed. */
enum ent_state { E_RUNNABLE, E_RUNNING, E_BLOCKED, E_PARKED, E_HELD, E_DONE };

struct sched_entity {
    struct sched_group *g;
    unsigned index;
    int state;
    int wake_pending;     /* a wake came while running: do not block */
    int was_throttled;    /* its cap held it back since it last ran */
    double vruntime;      /* ns run, scaled by SCHED_DEFAULT_WEIGHT / weight */
    uint64_t wake_ns;     /* BLOCKED: the guest's timer, UINT64_MAX none */
    uint64_t since_ns;    /* RUNNABLE since (steal time) */
    uint64_t win_start, win_used; /* per-vCPU cap window */
    uint64_t allowed[WORKER_WORDS];
    int any_worker;       /* unpinned */
    struct engine_slice slice;
};

struct sched_group {
    struct sched *s;
    struct sched_group *next;
    struct machine *m;
    const struct engine_ops *engine;
    void (*note)(void *opaque, unsigned index, enum sched_note what);
    void *opaque;
    unsigned n;
    struct sched_entity *e;
    double weight; /* per vCPU */
    uint64_t period_ns, quota_ns;   /* 0: no cap */
    uint64_t gperiod_ns, gquota_ns; /* 0: no cap */
    uint64_t gwin_start, gwin_used;
    unsigned running;
    int det;          /* deterministic: one vCPU at a time, in order */
    unsigned det_next;
};

struct worker {
    struct sched *s;
    unsigned id;
    int cpu; /* host CPU it stands for (pinned there once s->pinned), -1 none */
    pthread_t thread;
    _Atomic int tid;
    struct sched_entity *cur;
    int idle;
};

struct sched {
    pthread_mutex_t lock;
    int pinned; /* workers sit on their CPUs (once a VM pinned a vCPU) */
    int orphaned; /* the host is gone: the last group removed frees the pool */
    pthread_cond_t cond; /* idle workers: work or a new deadline */
    unsigned nr_workers, nr_idle, nr_started;
    struct worker *w;
    struct sched_group *groups;
    double min_vruntime;
    int quit;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread: what a slice really consumed, which the
 * host kernel's preemption of a worker does not inflate. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int allowed(const struct sched_entity *e, unsigned w)
{
    return e->any_worker || (e->allowed[w / 64] >> (w % 64) & 1);
}

/* --- caps ---------------------------------------------------------------- */

/* Starts a new window once the period has passed: each period gone by
 * refills one quota. Time run beyond the quota (a slice that overran its
 * end, e.g. while the host kernel preempted the worker) stays owed, so
 * the cap holds over time; unused quota is not banked. */
static void window_roll(uint64_t *start, uint64_t *used, uint64_t period, uint64_t quota,
                        uint64_t now)
{
    if (!period || now < *start + period)
        return;
    uint64_t k = (now - *start) / period;
    *start += k * period;
    *used = *used > k * quota ? *used - k * quota : 0;
}

/* 0 when the entity may run now, else the time its cap lets it again. */
static uint64_t throttled_until(struct sched_entity *e, uint64_t now)
{
    struct sched_group *g = e->g;
    uint64_t until = 0;
    if (g->quota_ns) {
        window_roll(&e->win_start, &e->win_used, g->period_ns, g->quota_ns, now);
        if (e->win_used >= g->quota_ns)
            until = e->win_start + g->period_ns;
    }
    if (g->gquota_ns) {
        window_roll(&g->gwin_start, &g->gwin_used, g->gperiod_ns, g->gquota_ns, now);
        if (g->gwin_used >= g->gquota_ns && g->gwin_start + g->gperiod_ns > until)
            until = g->gwin_start + g->gperiod_ns;
    }
    return until;
}

/* --- state changes (lock held) ------------------------------------------- */

static void make_runnable(struct sched_entity *e, uint64_t now)
{
    struct sched *s = e->g->s;
    e->state = E_RUNNABLE;
    e->since_ns = now;
    /* A sleeper comes back just ahead of everyone (so a woken vCPU runs
     * promptly) but cannot cash in the time it slept. */
    double floor = s->min_vruntime - (double)SCHED_SLICE_NS;
    if (e->vruntime < floor)
        e->vruntime = floor;
}

/* A vCPU just became runnable: wake an idle worker it may use, or preempt
 * the running vCPU furthest ahead in virtual time on one of its workers. */
static void dispatch_hint(struct sched_entity *e, uint64_t now)
{
    struct sched *s = e->g->s;
    if (throttled_until(e, now))
        return;
    struct sched_entity *victim = NULL;
    for (unsigned w = 0; w < s->nr_workers; w++) {
        if (!allowed(e, w))
            continue;
        if (s->w[w].idle) {
            pthread_cond_broadcast(&s->cond);
            return;
        }
        struct sched_entity *cur = s->w[w].cur;
        if (cur && !cur->g->det && !e->g->det && cur->vruntime > e->vruntime &&
            (!victim || cur->vruntime > victim->vruntime))
            victim = cur;
    }
    if (victim)
        atomic_store(&victim->slice.end_ns, 0);
}

static void note(struct sched_entity *e, enum sched_note what)
{
    e->g->note(e->g->opaque, e->index, what);
}

/* --- picking -------------------------------------------------------------- */

/* The runnable vCPU worker w should run next, or NULL; *next gets the
 * earliest time something changes by itself (a timer, a cap's refill). */
static struct sched_entity *pick(struct sched *s, unsigned w, uint64_t now, uint64_t *next)
{
    struct sched_entity *best = NULL;
    double minv = 0;
    int have_minv = 0;
    *next = UINT64_MAX;
    for (struct sched_group *g = s->groups; g; g = g->next) {
        /* Timers first, so that a vCPU whose deadline passed competes. */
        for (unsigned i = 0; i < g->n; i++) {
            struct sched_entity *e = &g->e[i];
            if (e->state == E_BLOCKED && e->wake_ns <= now)
                make_runnable(e, now);
            else if (e->state == E_BLOCKED && e->wake_ns < *next)
                *next = e->wake_ns;
            /* The queue's minimum leaves out vCPUs their cap holds back,
             * which would drag it (and the floor sleepers get) behind. */
            if (e->state == E_RUNNING || (e->state == E_RUNNABLE && !throttled_until(e, now))) {
                if (!have_minv || e->vruntime < minv)
                    minv = e->vruntime;
                have_minv = 1;
            }
        }
        if (g->det && g->running)
            continue;
        for (unsigned k = 0; k < g->n; k++) {
            /* Deterministic groups: the first runnable vCPU from det_next on. */
            struct sched_entity *e = &g->e[g->det ? (g->det_next + k) % g->n : k];
            if (e->state != E_RUNNABLE)
                continue;
            /* A pause or stop is honoured at once, whatever the caps say:
             * the slice returns before any guest instruction. */
            uint64_t until = machine_should_exit(g->m) ? 0 : throttled_until(e, now);
            if (until) {
                if (until < *next)
                    *next = until;
                e->was_throttled = 1;
                if (g->det)
                    break;
                continue;
            }
            if (e->was_throttled) {
                /* Time held back by a cap is not owed afterwards: it comes
                 * back like a sleeper, not with a burst to catch up. */
                e->was_throttled = 0;
                double floor = s->min_vruntime - (double)SCHED_SLICE_NS;
                if (e->vruntime < floor)
                    e->vruntime = floor;
            }
            if (!allowed(e, w)) {
                if (g->det)
                    break;
                continue;
            }
            if (!best || e->vruntime < best->vruntime)
                best = e;
            if (g->det)
                break;
        }
    }
    if (have_minv && minv > s->min_vruntime)
        s->min_vruntime = minv;
    return best;
}

/* Sets up e's slice on worker w: the time slice, shortened to what its
 * caps leave and, when no worker is idle, to the next timer deadline. */
static void slice_begin(struct sched_entity *e, unsigned w, uint64_t now, uint64_t next)
{
    struct sched *s = e->g->s;
    struct sched_group *g = e->g;
    e->state = E_RUNNING;
    e->wake_pending = 0;
    s->w[w].cur = e;
    g->running++;
    struct machine_vcpu *v = &g->m->vcpus[e->index];
    MACHINE_VCPU_STAT_ADD(v, wait_ns, now - e->since_ns);
    MACHINE_VCPU_STAT_ADD(v, slices, 1);
    __atomic_store_n(&v->host_tid, atomic_load(&s->w[w].tid), __ATOMIC_RELAXED);
    if (g->det) {
        /* Instructions only: wall time must not decide the interleaving. */
        atomic_store(&e->slice.end_ns, UINT64_MAX);
        e->slice.insn_end = __atomic_load_n(&v->stats.instructions, __ATOMIC_RELAXED) +
                            SCHED_DET_QUANTUM;
        return;
    }
    uint64_t len = SCHED_SLICE_NS;
    if (!s->nr_idle && next > now && next - now < len)
        len = next - now < MIN_SLICE_NS ? MIN_SLICE_NS : next - now;
    if (g->quota_ns && g->quota_ns - e->win_used < len)
        len = g->quota_ns - e->win_used;
    if (g->gquota_ns) {
        uint64_t left = (g->gquota_ns - g->gwin_used) / g->running;
        if (left < len)
            len = left;
    }
    atomic_store(&e->slice.end_ns, now + len);
    e->slice.insn_end = 0;
}

/* Accounts a finished slice (wall time on the worker, CPU time it
 * consumed) and files the vCPU by why it returned. Shares and caps are
 * charged CPU time: a worker the host kernel preempted mid-slice costs
 * the vCPU nothing. */
static void slice_end(struct sched_entity *e, unsigned w, uint64_t start, uint64_t now,
                      uint64_t cpu, int why)
{
    struct sched *s = e->g->s;
    struct sched_group *g = e->g;
    s->w[w].cur = NULL;
    g->running--;
    MACHINE_VCPU_STAT_ADD(&g->m->vcpus[e->index], run_ns, now - start);
    MACHINE_VCPU_STAT_ADD(&g->m->vcpus[e->index], cpu_ns, cpu);
    e->vruntime += (double)cpu * SCHED_DEFAULT_WEIGHT / g->weight;
    e->win_used += cpu;
    g->gwin_used += cpu;
    if (g->det)
        g->det_next = (e->index + 1) % g->n;

    int req = atomic_load(&g->m->request);
    if (req == MACHINE_STOP || why < 0) {
        e->state = E_DONE;
        note(e, SCHED_NOTE_EXITED);
        return;
    }
    if (req == MACHINE_PAUSE) {
        e->state = E_PARKED;
        note(e, SCHED_NOTE_PARKED);
        return;
    }
    if (req == MACHINE_THROTTLE) {
        e->state = E_HELD;
        return;
    }
    if (why == ENGINE_YIELD_BLOCK && !e->wake_pending) {
        e->state = E_BLOCKED;
        e->wake_ns = e->slice.wake_ns;
        if (e->wake_ns != UINT64_MAX) {
            /* Idle workers re-arm their sleep; running slices end by then. */
            if (s->nr_idle)
                pthread_cond_broadcast(&s->cond);
            else
                for (unsigned i = 0; i < s->nr_workers; i++) {
                    struct sched_entity *cur = s->w[i].cur;
                    if (cur && !cur->g->det && atomic_load(&cur->slice.end_ns) > e->wake_ns)
                        atomic_store(&cur->slice.end_ns, e->wake_ns);
                }
        }
        return;
    }
    e->state = E_RUNNABLE;
    e->since_ns = now;
    /* An idle worker may be the only one free for it (this worker may
     * take another vCPU, e.g. one pinned here): work conservation. */
    if (s->nr_idle)
        pthread_cond_broadcast(&s->cond);
}

static void *worker_main(void *p)
{
    struct worker *me = p;
    struct sched *s = me->s;
    atomic_store(&me->tid, (int)gettid());
    pthread_mutex_lock(&s->lock);
    s->nr_started++;
    pthread_cond_broadcast(&s->cond);
    while (!s->quit) {
        uint64_t now = now_ns(), next;
        struct sched_entity *e = pick(s, me->id, now, &next);
        if (!e) {
            me->idle = 1;
            s->nr_idle++;
            if (next == UINT64_MAX) {
                pthread_cond_wait(&s->cond, &s->lock);
            } else {
                struct timespec ts = { (time_t)(next / 1000000000ULL),
                                       (long)(next % 1000000000ULL) };
                pthread_cond_timedwait(&s->cond, &s->lock, &ts);
            }
            s->nr_idle--;
            me->idle = 0;
            continue;
        }
        slice_begin(e, me->id, now, next);
        struct sched_group *g = e->g;
        pthread_mutex_unlock(&s->lock);

        uint64_t cpu0 = thread_cpu_ns();
        int why = g->engine->vcpu_run_slice(g->m, e->index, &e->slice);
        uint64_t cpu = thread_cpu_ns() - cpu0;
        if (why < 0)
            machine_set_outcome(g->m, VMM_OUTCOME_CRASH, 0, "vCPU %u: engine failure: %s",
                                e->index, vmm_last_error());

        pthread_mutex_lock(&s->lock);
        slice_end(e, me->id, now, now_ns(), cpu, why);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* --- pool ------------------------------------------------------------------ */

unsigned sched_default_workers(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int sched_new(unsigned workers, struct sched **out)
{
    if (workers < 1 || workers > SCHED_MAX_WORKERS)
        return vmm_error(VMM_EINVAL, "%u scheduler workers, limit 1..%u", workers,
                         SCHED_MAX_WORKERS);
    struct sched *s = calloc(1, sizeof(*s));
    if (!s || !(s->w = calloc(workers, sizeof(*s->w)))) {
        free(s);
        return vmm_error(VMM_ENOMEM, "allocating a pool of %u workers", workers);
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);

    /* Worker w stands for the w-th host CPU this process may use. */
    cpu_set_t mine;
    int have = sched_getaffinity(0, sizeof(mine), &mine) == 0;
    int cpu = -1;
    for (unsigned w = 0; w < workers; w++) {
        s->w[w].s = s;
        s->w[w].id = w;
        s->w[w].cpu = -1;
        if (have) {
            do
                cpu++;
            while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &mine));
            if (cpu < CPU_SETSIZE)
                s->w[w].cpu = cpu;
        }
    }
    /* Workers must not take the host program's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int err = 0;
    for (unsigned w = 0; w < workers && !err; w++) {
        int rc = pthread_create(&s->w[w].thread, NULL, worker_main, &s->w[w]);
        if (rc) {
            err = vmm_error_errno(rc, "creating scheduler worker %u of %u", w, workers);
            break;
        }
        s->nr_workers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* Wait until every worker knows its thread id (reported per vCPU). */
    pthread_mutex_lock(&s->lock);
    while (s->nr_started < s->nr_workers)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    if (err) {
        sched_free(s);
        return err;
    }
    *out = s;
    return 0;
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->quit = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    for (unsigned w = 0; w < s->nr_workers; w++)
        pthread_join(s->w[w].thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s->w);
    free(s);
}

/* Pins every worker to the host CPU it stands for. Done once, when the
 * first VM with a pinned vCPU joins: until then the host kernel may move
 * the workers, so a CPU another program keeps busy slows no worker for
 * long. */
static void pin_workers(struct sched *s)
{
    if (s->pinned)
        return;
    s->pinned = 1;
    for (unsigned w = 0; w < s->nr_workers; w++) {
        if (s->w[w].cpu < 0)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(s->w[w].cpu, &one);
        pthread_setaffinity_np(s->w[w].thread, sizeof(one), &one);
    }
}

unsigned sched_workers(const struct sched *s)
{
    return s->nr_workers;
}

int sched_worker_cpu(const struct sched *s, unsigned worker)
{
    return worker < s->nr_workers ? s->w[worker].cpu : -1;
}

/* --- groups ---------------------------------------------------------------- */

static double weight_of(unsigned shares, unsigned n)
{
    return (double)(shares ? shares : SCHED_DEFAULT_WEIGHT) / n;
}

static void cap_ns(uint64_t period_us, int64_t quota_us, uint64_t *period, uint64_t *quota)
{
    if (period_us && quota_us > 0) {
        *period = period_us * 1000;
        *quota = (uint64_t)quota_us * 1000;
    } else {
        *period = *quota = 0;
    }
}

int sched_group_add(struct sched *s, const struct sched_group_spec *spec,
                    struct sched_group **out)
{
    struct sched_group *g = calloc(1, sizeof(*g));
    if (!g || !(g->e = calloc(spec->nr_vcpus, sizeof(*g->e)))) {
        free(g);
        return vmm_error(VMM_ENOMEM, "scheduling %u vCPUs", spec->nr_vcpus);
    }
    g->s = s;
    g->m = spec->m;
    g->engine = spec->engine;
    g->note = spec->note;
    g->opaque = spec->opaque;
    g->n = spec->nr_vcpus;
    g->weight = weight_of(spec->shares, g->n);
    g->det = spec->deterministic;
    cap_ns(spec->period_us, spec->quota_us, &g->period_ns, &g->quota_ns);
    cap_ns(spec->global_period_us, spec->global_quota_us, &g->gperiod_ns, &g->gquota_ns);
    uint64_t now = now_ns();
    g->gwin_start = now;
    for (unsigned i = 0; i < g->n; i++) {
        struct sched_entity *e = &g->e[i];
        e->g = g;
        e->index = i;
        e->win_start = now;
        const cpu_set_t *pin = spec->pins ? spec->pins[i] : NULL;
        e->any_worker = !pin;
        int some = !pin;
        for (unsigned w = 0; pin && w < s->nr_workers; w++)
            if (s->w[w].cpu >= 0 && CPU_ISSET(s->w[w].cpu, pin)) {
                e->allowed[w / 64] |= 1ULL << (w % 64);
                some = 1;
            }
        if (!some) {
            int last = s->w[s->nr_workers - 1].cpu;
            free(g->e);
            free(g);
            return vmm_error(VMM_EINVAL,
                             "vCPU %u is pinned to host CPUs none of the host's %u scheduler "
                             "workers stands for (they run on host CPUs %d..%d)",
                             i, s->nr_workers, s->w[0].cpu, last);
        }
        atomic_init(&e->slice.end_ns, 0);
    }
    for (unsigned i = 0; i < g->n; i++)
        g->e[i].state = E_DONE;
    g->m->vcpu_wake = sched_wake;
    g->m->vcpu_wake_opaque = g;
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < g->n; i++)
        if (!g->e[i].any_worker)
            pin_workers(s);
    g->next = s->groups;
    s->groups = g;
    pthread_mutex_unlock(&s->lock);
    *out = g;
    return 0;
}

void sched_group_start(struct sched_group *g)
{
    struct sched *s = g->s;
    pthread_mutex_lock(&s->lock);
    uint64_t now = now_ns();
    g->gwin_start = now;
    g->gwin_used = 0;
    g->det_next = 0;
    for (unsigned i = 0; i < g->n; i++) {
        struct sched_entity *e = &g->e[i];
        e->vruntime = s->min_vruntime;
        e->wake_pending = 0;
        e->win_start = now;
        e->win_used = 0;
        make_runnable(e, now);
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void sched_group_remove(struct sched_group *g)
{
    if (!g)
        return;
    struct sched *s = g->s;
    pthread_mutex_lock(&s->lock);
    for (struct sched_group **p = &s->groups; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    int last = s->orphaned && !s->groups;
    pthread_mutex_unlock(&s->lock);
    free(g->e);
    free(g);
    if (last)
        sched_free(s);
}

void sched_release(struct sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    int busy = s->groups != NULL;
    s->orphaned = busy;
    pthread_mutex_unlock(&s->lock);
    if (!busy)
        sched_free(s);
}

void sched_group_set_shares(struct sched_group *g, unsigned shares)
{
    pthread_mutex_lock(&g->s->lock);
    g->weight = weight_of(shares, g->n);
    pthread_mutex_unlock(&g->s->lock);
}

void sched_group_set_quota(struct sched_group *g, uint64_t period_us, int64_t quota_us)
{
    pthread_mutex_lock(&g->s->lock);
    cap_ns(period_us, quota_us, &g->period_ns, &g->quota_ns);
    pthread_cond_broadcast(&g->s->cond); /* a lifted cap frees throttled vCPUs */
    pthread_mutex_unlock(&g->s->lock);
}

void sched_group_set_global_quota(struct sched_group *g, uint64_t period_us, int64_t quota_us)
{
    pthread_mutex_lock(&g->s->lock);
    cap_ns(period_us, quota_us, &g->gperiod_ns, &g->gquota_ns);
    pthread_cond_broadcast(&g->s->cond);
    pthread_mutex_unlock(&g->s->lock);
}

void sched_group_affinity(struct sched_group *g, unsigned index, cpu_set_t *out)
{
    struct sched *s = g->s;
    CPU_ZERO(out);
    const struct sched_entity *e = &g->e[index];
    if (e->any_worker) {
        if (sched_getaffinity(0, sizeof(*out), out) == 0)
            return;
        CPU_ZERO(out);
    }
    for (unsigned w = 0; w < s->nr_workers; w++)
        if (s->w[w].cpu >= 0 && allowed(e, w))
            CPU_SET(s->w[w].cpu, out);
}

void sched_wake(void *group, unsigned index)
{
    struct sched_group *g = group;
    if (index >= g->n)
        return;
    struct sched *s = g->s;
    struct sched_entity *e = &g->e[index];
    pthread_mutex_lock(&s->lock);
    uint64_t now = now_ns();
    switch (e->state) {
    case E_BLOCKED:
        make_runnable(e, now);
        dispatch_hint(e, now);
        break;
    case E_RUNNING:
        e->wake_pending = 1;
        break;
    case E_RUNNABLE:
        /* Waiting for a worker (its slice ended just before the event):
         * it takes one from a vCPU further ahead, as a woken one would. */
        dispatch_hint(e, now);
        break;
    case E_HELD:
        if (atomic_load(&g->m->request) != MACHINE_THROTTLE) {
            make_runnable(e, now);
            dispatch_hint(e, now);
        }
        break;
    case E_PARKED:
        if (atomic_load(&g->m->request) != MACHINE_PAUSE) {
            note(e, SCHED_NOTE_UNPARKED);
            make_runnable(e, now);
            dispatch_hint(e, now);
        }
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&s->lock);
}
