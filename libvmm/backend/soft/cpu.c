/* The hart API of hart.h: life cycle, the run loop and its block-boundary
 * checks, WFI and HSM parking, time, kicks and cross-hart flush requests.
 *
 * Time: rv_hart_time() is CLOCK_MONOTONIC in 10 MHz ticks since the first
 * hart of the machine was initialised. In deterministic mode
 * (h->deterministic, from the engine options) it is instead
 *     (instructions retired by this hart) / 10 + (ticks skipped by WFI)
 * i.e. 1 tick per 10 instructions, and WFI with a timer armed jumps time
 * straight to the deadline instead of sleeping; the same guest and input
 * then see the same times. A single hart has its own such clock; with
 * several harts (det_peers) the clock is the machine's: instructions
 * retired by all harts / 10 plus the ticks any WFI skipped. The scheduler
 * runs a deterministic machine's harts one at a time in fixed instruction
 * quanta (core/sched.h), so every read sees the same value in every run.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/soft/cpu.h"
#include "backend/soft/jit/jit.h"
#include "util/error.h"
#include "util/log.h"

#define WAIT_SLICE_NS 100000000ULL /* re-check at least every 100 ms while parked */

/* The hart the calling thread runs (NULL on other threads). */
static __thread struct rv_hart *current_hart;

/* Start time of each machine, shared by its harts (a small registry). */
#define MAX_MACHINES 64
static pthread_mutex_t base_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const struct machine *m;
    unsigned refs;
    uint64_t base_ns;
} bases[MAX_MACHINES];

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One reading of the clock for a whole block-boundary check: the timer
 * comparison (rv_irq_pending) and the end of a scheduled slice both need
 * the time, and each read costs ~20 ns at a check that comes every few
 * thousand instructions or sooner (about 1 % of a Linux boot went to the
 * second read). Thread-local, so another hart reading this hart's time
 * (the CLINT's mtime) still reads the clock itself. */
static __thread struct rv_hart *check_clock_hart;
static __thread uint64_t check_clock_ns;

static uint64_t hart_now_ns(const struct rv_hart *h)
{
    if (check_clock_hart != h)
        return mono_ns();
    if (!check_clock_ns)
        check_clock_ns = mono_ns();
    return check_clock_ns;
}

static uint64_t base_get(const struct machine *m)
{
    uint64_t now = mono_ns(), base = now;
    pthread_mutex_lock(&base_lock);
    int free_slot = -1, found = 0;
    for (int i = 0; i < MAX_MACHINES; i++) {
        if (bases[i].refs && bases[i].m == m) {
            bases[i].refs++;
            base = bases[i].base_ns;
            found = 1;
            break;
        }
        if (!bases[i].refs && free_slot < 0)
            free_slot = i;
    }
    if (!found && free_slot >= 0) {
        bases[free_slot].m = m;
        bases[free_slot].refs = 1;
        bases[free_slot].base_ns = now;
    }
    pthread_mutex_unlock(&base_lock);
    return base;
}

static void base_put(const struct machine *m)
{
    pthread_mutex_lock(&base_lock);
    for (int i = 0; i < MAX_MACHINES; i++) {
        if (bases[i].refs && bases[i].m == m) {
            bases[i].refs--;
            break;
        }
    }
    pthread_mutex_unlock(&base_lock);
}

int rv_hart_init(struct rv_hart *h, struct machine *m, unsigned hartid,
                 const struct rv_hart_hooks *hooks)
{
    memset(h, 0, sizeof(*h));
    struct rv_cpu *c = calloc(1, sizeof(*c));
    if (!c)
        return vmm_error(VMM_ENOMEM, "allocating hart %u state (%zu bytes)", hartid, sizeof(*c));
    /* 20 MiB of address space, zero-filled; the OS backs only the pages
     * decoding touches. A mapping of its own (not calloc, which may hand
     * out and clear recycled heap memory) keeps it lazy. */
    void *dc = mmap(NULL, RV_DC_BYTES, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (dc == MAP_FAILED) {
        free(c);
        return vmm_error(VMM_ENOMEM, "allocating hart %u decode cache (%zu bytes)", hartid,
                         (size_t)RV_DC_BYTES);
    }
    /* 4 KiB pages, even where transparent huge pages are on for every
     * mapping: a 2 MiB page would back 100 slots' worth at the first write */
    madvise(dc, RV_DC_BYTES, MADV_NOHUGEPAGE);
    c->dinsn = dc;
    for (unsigned i = 0; i < RV_DC_SLOTS; i++)
        c->dpages[i].insn = (struct rv_insn *)(c->dinsn + (size_t)i * RV_DC_STRIDE);
    /* the guard pages are never written: not host memory this hart uses */
    c->host_bytes = sizeof(*c) + RV_DC_SLOTS * RV_DC_SLOT_BYTES;
    c->icache_gen = 1; /* zero-filled pages have gen 0: all invalid */
    h->cpu = c;
    h->m = m;
    h->hartid = hartid;
    h->hooks = hooks;
    h->vcpu = NULL;
    if (m && hartid < m->nr_vcpus && m->vcpus)
        h->vcpu = &m->vcpus[hartid];
    if (!h->vcpu) {
        h->vcpu = calloc(1, sizeof(*h->vcpu));
        if (!h->vcpu) {
            munmap(c->dinsn, RV_DC_BYTES);
            free(c);
            h->cpu = NULL;
            return vmm_error(VMM_ENOMEM, "allocating hart %u counters", hartid);
        }
        h->vcpu->index = hartid;
        c->owns_vcpu = 1;
        c->host_bytes += sizeof(*h->vcpu);
    }
    atomic_init(&h->mip_ext, 0);
    atomic_init(&h->mtimecmp, UINT64_MAX);
    atomic_init(&h->sbi_timecmp, UINT64_MAX);
    atomic_init(&h->hsm_state, 0);
    atomic_init(&c->parked, 1); /* not running: honours requests when it starts */
    pthread_mutex_init(&h->wait_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wait_cond, &ca);
    pthread_condattr_destroy(&ca);
    c->time_base_ns = base_get(m);

    h->jit = rv_jit_default();
    h->priv = RV_PRIV_M;
    h->pc = 0x1000;
    rv_tlb_flush_everything(h);
    rv_cpu_update_ctx(h);
    return 0;
}

void rv_hart_destroy(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    if (!c)
        return;
    base_put(h->m);
    if (c->owns_vcpu)
        free(h->vcpu);
    h->vcpu = NULL;
    pthread_mutex_destroy(&h->wait_lock);
    pthread_cond_destroy(&h->wait_cond);
    rv_jit_destroy(c);
    munmap(c->dinsn, RV_DC_BYTES);
    free(c);
    h->cpu = NULL;
}

void rv_hart_set_boot(struct rv_hart *h, uint64_t pc, uint64_t a0, uint64_t a1, int priv,
                      int sbi_in_vmm)
{
    struct rv_cpu *c = rv_cpu(h);
    h->pc = pc & ~1ULL;
    h->x[10] = a0;
    h->x[11] = a1;
    h->priv = priv;
    h->sbi_in_vmm = sbi_in_vmm;
    c->satp = 0;
    c->mie = 0;
    c->mip = 0;
    c->mstatus = 0;
    c->mcycle_off = c->minstret_off = 0;
    if (sbi_in_vmm) {
        /* What M-mode firmware would have set up: every exception but
         * ecall-from-S/M and every S interrupt go to S; S and U may read
         * the counters. */
        c->medeleg = 0xb1ffULL;
        c->mideleg = RV_IRQ_SSIP | RV_IRQ_STIP | RV_IRQ_SEIP;
        c->mcounteren = 7;
        /* scounteren's reset value is unspecified; Linux only sets it when
         * an SBI PMU exists, and its vDSO reads `time` from U-mode. */
        c->scounteren = 7;
    } else {
        c->medeleg = 0;
        c->mideleg = 0;
        c->mcounteren = 0;
        c->scounteren = 0;
    }
    rv_tlb_flush_everything(h);
    rv_cpu_flush_icache(h);
    rv_cpu_update_ctx(h);
}

uint64_t rv_cpu_instret(const struct rv_hart *h)
{
    return __atomic_load_n(&h->vcpu->stats.instructions, __ATOMIC_RELAXED) + rv_cpu(h)->pending_insns;
}

/* The machine's instructions retired, over every hart (deterministic SMP). */
static uint64_t det_machine_instret(const struct rv_hart *h)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < h->det_nr_peers; i++)
        if (h->det_peers[i].cpu)
            sum += rv_cpu_instret(&h->det_peers[i]);
    return sum;
}

uint64_t rv_hart_time(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    if (h->deterministic && h->det_peers)
        return det_machine_instret(h) / 10 + *h->det_idle_ticks;
    if (h->deterministic)
        return rv_cpu_instret(h) / 10 + c->idle_ticks;
    return (hart_now_ns(h) - c->time_base_ns) / (1000000000ULL / RV_TIMEBASE_HZ);
}

size_t rv_cpu_host_bytes(const struct rv_hart *h)
{
    const struct rv_cpu *c = rv_cpu(h);
    return c ? c->host_bytes : 0;
}

void rv_cpu_flush_icache(struct rv_hart *h)
{
    rv_cpu(h)->icache_gen++;
}

void rv_cpu_fence_i(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t foreign = h->m ? guest_mem_foreign_writes(&h->m->mem) : 0;
    if (h->m && h->m->nr_vcpus == 1 && foreign == c->fence_foreign) {
        c->fences_kept++;
        return;
    }
    c->fence_foreign = foreign;
    rv_cpu_flush_icache(h);
}

void rv_hart_set_irq(struct rv_hart *h, uint64_t bits, int level)
{
    if (level)
        atomic_fetch_or(&h->mip_ext, bits);
    else
        atomic_fetch_and(&h->mip_ext, ~bits);
    rv_hart_kick(h);
}

void rv_hart_kick(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    pthread_mutex_lock(&h->wait_lock);
    atomic_store(&c->kicked, 1);
    pthread_cond_broadcast(&h->wait_cond);
    pthread_mutex_unlock(&h->wait_lock);
    if (h->m)
        machine_vcpu_wake(h->m, h->hartid); /* a scheduled hart gave its worker back */
}

/* Honours pending flush requests; the requester may be waiting for it. */
static void service_flush(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    if (!atomic_load_explicit(&c->flush_req, memory_order_relaxed))
        return;
    uint64_t seq = atomic_load(&c->flush_seq);
    int req = atomic_exchange(&c->flush_req, 0);
    if (req & RV_FLUSH_TLB) {
        rv_tlb_flush_everything(h);
        c->tlb_flushes++;
    }
    if (req & RV_FLUSH_ICACHE)
        rv_cpu_fence_i(h);
    atomic_store(&c->flush_ack, seq);
}

void rv_hart_request_flush(struct rv_hart *h, int icache)
{
    struct rv_cpu *c = rv_cpu(h);
    atomic_fetch_or(&c->flush_req, RV_FLUSH_TLB | (icache ? RV_FLUSH_ICACHE : 0));
    uint64_t seq = atomic_fetch_add(&c->flush_seq, 1) + 1;
    struct rv_hart *self = current_hart;
    if (self == h) {
        service_flush(h); /* our own thread: the interpreter re-reads its state after an SBI call */
        return;
    }
    rv_hart_kick(h);
    if (!self)
        return; /* not a hart thread: the target flushes before it next runs
                 * (rv_hart_flush_wait waits for it) */
    /* A remote fence must be complete when the SBI call returns: wait until
     * the target has flushed, or is parked (it flushes before running). */
    while (atomic_load(&c->flush_ack) < seq && !atomic_load(&c->parked) &&
           !machine_should_exit(h->m)) {
        service_flush(self); /* it may be waiting for us at the same time */
        sched_yield();
    }
}

void rv_hart_flush_wait(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    atomic_fetch_or(&c->flush_req, RV_FLUSH_TLB);
    uint64_t seq = atomic_fetch_add(&c->flush_seq, 1) + 1;
    rv_hart_kick(h);
    /* A parked hart (WFI, stopped, paused VM) flushes before it runs again. */
    while (atomic_load(&c->flush_ack) < seq && !atomic_load(&c->parked) &&
           !machine_should_exit(h->m))
        sched_yield();
}

void rv_hart_get_regs(const struct rv_hart *h, vmm_vcpu_regs_t *out)
{
    memset(out, 0, sizeof(*out));
    out->pc = h->pc;
    out->sp = h->x[2];
    memcpy(out->gpr, h->x, sizeof(out->gpr));
    out->gpr[0] = 0;
    const struct rv_cpu *c = rv_cpu(h);
    out->flags = c ? c->mstatus : 0;
    out->mode = h->priv;
}

/* Absolute CLOCK_MONOTONIC time at which guest time reaches `ticks`
 * (UINT64_MAX: never, or further than a day away). */
static uint64_t deadline_ns(struct rv_hart *h, uint64_t ticks)
{
    const uint64_t ns_per_tick = 1000000000ULL / RV_TIMEBASE_HZ;
    const uint64_t day = 86400ULL * RV_TIMEBASE_HZ;
    if (ticks == UINT64_MAX)
        return UINT64_MAX;
    uint64_t now_ticks = rv_hart_time(h), now = mono_ns();
    if (ticks <= now_ticks)
        return now;
    if (ticks - now_ticks > day)
        return UINT64_MAX;
    return now + (ticks - now_ticks) * ns_per_tick;
}

/* The earliest enabled timer deadline in ticks, or UINT64_MAX. */
static uint64_t next_timer(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t d = UINT64_MAX;
    if (c->mie & RV_IRQ_MTIP)
        d = atomic_load(&h->mtimecmp);
    if (h->sbi_in_vmm && (c->mie & RV_IRQ_STIP)) {
        uint64_t s = atomic_load(&h->sbi_timecmp);
        if (s < d)
            d = s;
    }
    return d;
}

static int wfi_wake(struct rv_hart *h)
{
    return (rv_csr_mip(h) & rv_cpu(h)->mie) != 0;
}

/* Sleeps on wait_cond until `done` says so, a kick, a flush request or the
 * run request; wakes by itself at `until_ns` (or WAIT_SLICE_NS). */
static void park(struct rv_hart *h, int (*done)(struct rv_hart *), uint64_t until_ns)
{
    struct rv_cpu *c = rv_cpu(h);
    pthread_mutex_lock(&h->wait_lock);
    atomic_store(&c->parked, 1);
    service_flush(h);
    while (!atomic_load(&c->kicked) && !machine_should_exit(h->m) && !done(h)) {
        uint64_t now = mono_ns();
        if (now >= until_ns)
            break;
        uint64_t wake = until_ns - now > WAIT_SLICE_NS ? now + WAIT_SLICE_NS : until_ns;
        struct timespec ts = { (time_t)(wake / 1000000000ULL), (long)(wake % 1000000000ULL) };
        pthread_cond_timedwait(&h->wait_cond, &h->wait_lock, &ts);
        if (atomic_load(&c->flush_req))
            break;
    }
    atomic_store(&c->kicked, 0);
    atomic_store(&c->parked, 0);
    pthread_mutex_unlock(&h->wait_lock);
}

/* WFI of a deterministic machine with several harts, run by the
 * scheduler. The hart waits off its worker; when every hart waits (or is
 * HSM-stopped) the machine's clock jumps to the earliest deadline and that
 * hart runs on. Only one hart of such a machine runs at a time, so the
 * peers' fields are stable here and every run takes the same decisions. */
static void det_smp_wfi(struct rv_hart *h, uint64_t deadline)
{
    struct rv_cpu *c = rv_cpu(h);
    uint64_t now = rv_hart_time(h), min = deadline;
    struct rv_hart *who = h;
    int all_wait = 1;
    h->det_wait_until = deadline;
    for (unsigned i = 0; i < h->det_nr_peers && all_wait; i++) {
        struct rv_hart *p = &h->det_peers[i];
        if (p == h || !p->cpu || atomic_load(&p->hsm_state) == 1)
            continue;
        if (!p->det_wait_until)
            all_wait = 0;
        else if (p->det_wait_until < min) {
            min = p->det_wait_until;
            who = p;
        }
    }
    if (all_wait && min != UINT64_MAX) {
        if (min > now)
            *h->det_idle_ticks += min - now;
        if (who == h) {
            h->det_wait_until = 0; /* our timer is due: run on */
            return;
        }
        rv_hart_kick(who);
    }
    c->blocked = 1;
    c->slice->wake_ns = UINT64_MAX; /* a kick wakes it, never the wall clock */
}

/* End of a deterministic hart's quantum: peers whose deadline the
 * machine's clock has passed get to run. */
static void det_smp_wake_due(struct rv_hart *h)
{
    uint64_t now = rv_hart_time(h);
    for (unsigned i = 0; i < h->det_nr_peers; i++) {
        struct rv_hart *p = &h->det_peers[i];
        if (p != h && p->cpu && p->det_wait_until && p->det_wait_until <= now)
            rv_hart_kick(p);
    }
}

void rv_cpu_wfi(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    MACHINE_VCPU_STAT_ADD(h->vcpu, halts, 1);
    if (wfi_wake(h))
        return;
    uint64_t t = next_timer(h);
    if (h->deterministic && h->det_peers && c->slice) {
        det_smp_wfi(h, t);
        return;
    }
    if (h->deterministic && t != UINT64_MAX) {
        uint64_t now = rv_hart_time(h);
        if (t > now && h->det_peers)
            *h->det_idle_ticks += t - now; /* the machine's clock jumps */
        else if (t > now)
            c->idle_ticks += t - now; /* fast-forward to the deadline */
        return;
    }
    uint64_t until = h->deterministic ? UINT64_MAX : deadline_ns(h, t);
    if (c->slice) {
        /* Scheduled: give the worker back until the interrupt or the timer. */
        c->blocked = 1;
        c->slice->wake_ns = until;
        return;
    }
    park(h, wfi_wake, until);
}

static int hsm_not_stopped(struct rv_hart *h)
{
    return atomic_load(&h->hsm_state) != 1;
}

/* HSM: sleeps while stopped; performs a pending start. */
static void hsm_poll(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    while (atomic_load(&h->hsm_state) == 1 && !machine_should_exit(h->m))
        park(h, hsm_not_stopped, UINT64_MAX);
    if (atomic_load(&h->hsm_state) == 2) {
        h->pc = h->hsm_start_pc & ~1ULL;
        h->priv = RV_PRIV_S;
        h->x[10] = h->hartid;
        h->x[11] = h->hsm_start_opaque;
        c->satp = 0;
        c->mstatus &= ~(MSTATUS_SIE | MSTATUS_MPRV);
        rv_tlb_flush_all(h);
        rv_cpu_update_ctx(h);
        atomic_store(&h->hsm_state, 0);
    }
}

/* The block boundary of a scheduled run: the hart yields when it blocked,
 * its instruction quantum is spent or its time slice is over. The clock is
 * read once per block (a few thousand instructions at most, rv_exec). */
static int slice_over(struct rv_hart *h, struct engine_slice *s)
{
    struct rv_cpu *c = rv_cpu(h);
    if (c->blocked)
        return 1;
    if (s->insn_end && rv_cpu_instret(h) >= s->insn_end)
        return 1;
    return hart_now_ns(h) >= atomic_load_explicit(&s->end_ns, memory_order_relaxed);
}

void rv_hart_pause_at(struct rv_hart *h, uint64_t instructions)
{
    atomic_store(&h->pause_at, instructions);
}

/* The requested pause point is reached: pause the whole machine. */
static void pause_here(struct rv_hart *h)
{
    atomic_store(&h->pause_at, 0);
    if (!machine_request_pause(h->m))
        return; /* the run is ending anyway */
    for (unsigned i = 0; i < h->m->nr_vcpus; i++)
        if (h->m->vcpus[i].engine && h->m->vcpus[i].engine != h)
            rv_hart_kick(h->m->vcpus[i].engine);
}

static int check(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    MACHINE_VCPU_STAT_ADD(h->vcpu, tlb_hits, c->tlb_hits);
    MACHINE_VCPU_STAT_ADD(h->vcpu, tlb_misses, c->tlb_misses);
    MACHINE_VCPU_STAT_ADD(h->vcpu, tlb_flushes, c->tlb_flushes);
    c->tlb_hits = c->tlb_misses = c->tlb_flushes = 0;

    /* Before anything else of the check: a run restored from here does the
     * rest (interrupts) first, exactly as a run that went on. */
    uint64_t at = atomic_load_explicit(&h->pause_at, memory_order_relaxed);
    if (RV_UNLIKELY(at) && rv_cpu_instret(h) >= at)
        pause_here(h);

    if (machine_should_exit(h->m))
        return 1;
    if (RV_UNLIKELY(atomic_load_explicit(&h->hsm_state, memory_order_relaxed) != 0)) {
        if (c->slice && atomic_load(&h->hsm_state) == 1) {
            c->blocked = 1; /* stopped: off the worker until an HSM start */
            c->slice->wake_ns = UINT64_MAX;
            return 1;
        }
        hsm_poll(h);
        check_clock_ns = 0; /* it may have slept */
        if (machine_should_exit(h->m))
            return 1;
    }
    service_flush(h);
    uint64_t irq = rv_irq_pending(h);
    if (irq) {
        rv_trap(h, irq, 0);
        c->blocked = 0; /* the interrupt ends a WFI */
    }
    if (machine_should_exit(h->m))
        return 1;
    if (c->slice)
        return slice_over(h, c->slice);
    return 0;
}

int rv_cpu_check(struct rv_hart *h)
{
    check_clock_hart = h;
    check_clock_ns = 0;
    int r = check(h);
    check_clock_hart = NULL;
    return r;
}

/* Leaving the run for a pause or a stop (not the end of a slice): guest
 * time as a save will record it. */
static void note_stop_time(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    if (machine_should_exit(h->m)) {
        c->time_stopped = rv_hart_time(h);
        c->time_stopped_valid = 1;
    }
}

int rv_hart_run(struct rv_hart *h)
{
    struct rv_cpu *c = rv_cpu(h);
    struct rv_hart *prev = current_hart;
    current_hart = h;
    atomic_store(&c->parked, 0);
    c->time_stopped_valid = 0;
    while (!rv_cpu_check(h))
        rv_exec(h);
    note_stop_time(h);
    atomic_store(&c->parked, 1);
    current_hart = prev;
    return 0;
}

int rv_hart_run_slice(struct rv_hart *h, struct engine_slice *slice)
{
    struct rv_cpu *c = rv_cpu(h);
    struct rv_hart *prev = current_hart;
    current_hart = h;
    c->slice = slice;
    c->blocked = 0;
    slice->wake_ns = UINT64_MAX;
    h->det_wait_until = 0;
    atomic_store(&c->parked, 0);
    c->time_stopped_valid = 0;
    while (!rv_cpu_check(h))
        rv_exec(h);
    note_stop_time(h);
    /* An interrupt that came between the WFI and here: run on. */
    if (c->blocked && !machine_should_exit(h->m)) {
        int hsm = atomic_load(&h->hsm_state);
        if (hsm == 2 || (hsm == 0 && wfi_wake(h)))
            c->blocked = 0;
    }
    if (!c->blocked)
        h->det_wait_until = 0;
    if (h->det_peers)
        det_smp_wake_due(h);
    atomic_store(&c->parked, 1);
    c->slice = NULL;
    current_hart = prev;
    if (machine_should_exit(h->m))
        return ENGINE_YIELD_EXIT;
    return c->blocked ? ENGINE_YIELD_BLOCK : ENGINE_YIELD_SLICE;
}
