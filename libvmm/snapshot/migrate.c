/* Live migration (include/vmm/snapshot.h; stream format in
 * doc/snapshot-format.md, "Migration stream").
 *
 * The source runs on a thread of its own: it sends the configuration, all
 * non-zero memory, then rounds of dirty pages (machine_dirty_fetch) while
 * the guest runs, and when the rest fits the downtime limit it has the loop
 * thread pause the VM, sends the last pages and the components' state, and
 * has the loop stop the VM. Each record carries a CRC-32C of its payload.
 * The destination reads records in the loop thread through the restore
 * hooks core gives a snapshot (vm_create_with), so a bad stream leaves no
 * VM behind.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "core/vm.h"
#include "core/vm_throttle.h"
#include "machine/component.h"
#include "machine/state.h"
#include "snapshot/snapshot.h"
#include "util/crc32c.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sized.h"
#include "vmm/snapshot.h"
#include "vmm/vmm.h"

#define PAGE 4096ULL
#define MIGRATE_VERSION 1
#define REC_HEADER 1
#define REC_PAGES 2
#define REC_ZERO 3
#define REC_STATE 4
#define REC_END 5
#define RUN_PAGES 64 /* pages in one PAGES record at most */
#define MAX_RECORD (RUN_PAGES * PAGE + 64)
#define MAX_STATE (256ULL << 20)

static const char stream_magic[8] = { 'L', 'V', 'M', 'M', 'M', 'I', 'G', 'R' };

static void le_put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

struct migration {
    struct vmm_vm *vm;
    int fd;
    pthread_t thread;
    int thread_started;
    vmm_vm_done_cb cb;
    void *cb_opaque;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    vmm_migrate_stats_t stats;
    uint64_t max_bandwidth, downtime_ms;
    unsigned max_rounds;
    int auto_converge; /* 1 or -1 */
    unsigned throttle_initial, throttle_increment, throttle_max;
    struct vm_throttle throttle;
    int cancel;
    int pause_requested, paused, pause_rc;
    int done;          /* the thread finished; result in rc */
    int rc;
    char error[512];
    uint64_t started_ms, window_ms, window_bytes;

    uv_async_t async;  /* thread -> loop: pause now / finished */
    uv_timer_t timer;  /* progress events while it runs */
    int handles;       /* open handles (freed at 0) */
    uint64_t *bits[GUEST_MEM_MAX_REGIONS]; /* dirty pages taken, not yet sent */
    uint8_t copy[RUN_PAGES * PAGE]; /* pages as sent: the guest may write
                                     * them while they go out */
    int async_open;
};

/* --- writing records --- */

static int send_all(struct migration *mg, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        if (__atomic_load_n(&mg->cancel, __ATOMIC_RELAXED))
            return vmm_error(VMM_ECANCELED, "migration cancelled");
        /* A peer that went away must give EPIPE, not kill the process. */
        ssize_t n = send(mg->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(mg->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* A non-blocking fd (a socket with a timeout, say): wait until it
             * takes more, looking at the cancel flag every 100 ms. */
            struct pollfd pfd = { .fd = mg->fd, .events = POLLOUT };
            poll(&pfd, 1, 100);
            continue;
        }
        if (n < 0)
            return vmm_error_errno(errno, "migration stream");
        p += n;
        len -= (size_t)n;
        pthread_mutex_lock(&mg->lock);
        mg->stats.bytes_sent += (uint64_t)n;
        pthread_mutex_unlock(&mg->lock);
        /* Bandwidth limit: keep bytes/second of the current window under it. */
        if (mg->max_bandwidth) {
            mg->window_bytes += (uint64_t)n;
            uint64_t elapsed = clock_monotonic_ms() - mg->window_ms;
            uint64_t allowed = mg->max_bandwidth * (elapsed + 1) / 1000;
            if (mg->window_bytes > allowed) {
                uint64_t wait = (mg->window_bytes - allowed) * 1000 / mg->max_bandwidth;
                usleep((useconds_t)(wait > 1000 ? 1000000 : wait * 1000));
            }
            if (elapsed > 1000) {
                mg->window_ms = clock_monotonic_ms();
                mg->window_bytes = 0;
            }
        }
    }
    return 0;
}

static int send_record(struct migration *mg, uint32_t type, const void *a, size_t alen,
                       const void *b, size_t blen)
{
    uint8_t head[12];
    le_put(head, type, 4);
    le_put(head + 4, alen + blen, 8);
    uint32_t crc = crc32c(crc32c(0, a, alen), b, blen);
    uint8_t tail[4];
    le_put(tail, crc, 4);
    int rc = send_all(mg, head, sizeof(head));
    if (rc == 0 && alen)
        rc = send_all(mg, a, alen);
    if (rc == 0 && blen)
        rc = send_all(mg, b, blen);
    if (rc == 0)
        rc = send_all(mg, tail, sizeof(tail));
    return rc;
}

static int page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (size_t i = 0; i < PAGE / 8; i++)
        if (w[i])
            return 0;
    return 1;
}

/* Sends pages [first, first + count) of region `r` as PAGES (non-zero runs)
 * and ZERO records. `all`: the first pass, where zero pages need nothing
 * (the destination's memory starts zeroed). */
static int send_pages(struct migration *mg, int region, uint64_t first, uint64_t count, int all)
{
    const struct guest_region *r = &mg->vm->m.mem.regions[region];
    uint64_t end = first + count;
    uint64_t p = first;
    while (p < end) {
        int zero = page_is_zero(r->host + p * PAGE);
        uint64_t run = 1;
        while (p + run < end && run < RUN_PAGES &&
               page_is_zero(r->host + (p + run) * PAGE) == zero)
            run++;
        uint8_t hdr[16];
        le_put(hdr, (uint64_t)region, 4);
        le_put(hdr + 4, p, 8);
        le_put(hdr + 12, run, 4);
        int rc = 0;
        if (!zero) {
            /* A copy, so the checksum covers what is sent; a page the
             * guest writes meanwhile is dirty again and goes next round. */
            memcpy(mg->copy, r->host + p * PAGE, run * PAGE);
            rc = send_record(mg, REC_PAGES, hdr, sizeof(hdr), mg->copy, run * PAGE);
        }
        else if (!all)
            rc = send_record(mg, REC_ZERO, hdr, sizeof(hdr), NULL, 0);
        if (rc)
            return rc;
        if (!zero) {
            pthread_mutex_lock(&mg->lock);
            mg->stats.ram_transferred += run * PAGE;
            pthread_mutex_unlock(&mg->lock);
        }
        p += run;
    }
    return 0;
}

/* Takes the pages dirtied since the last fetch from the log (KVM's log
 * can only be read by taking it) and ORs them into mg->bits; *pages gets
 * the number of pages now waiting there. */
static int fetch_dirty(struct migration *mg, uint64_t *pages)
{
    struct machine *m = &mg->vm->m;
    *pages = 0;
    for (int i = 0; i < m->mem.nr_regions; i++) {
        size_t words = guest_region_bitmap_words(&m->mem.regions[i]);
        if (!mg->bits[i] && !(mg->bits[i] = calloc(words, sizeof(uint64_t))))
            return vmm_error(VMM_ENOMEM, "dirty bitmap of %zu words", words);
        int rc = machine_dirty_fetch(m, i, mg->bits[i]);
        if (rc)
            return rc;
        for (size_t w = 0; w < words; w++)
            *pages += (uint64_t)__builtin_popcountll(mg->bits[i][w]);
    }
    return 0;
}

/* Sends the pages waiting in mg->bits (runs of consecutive ones together)
 * and clears them. */
static int send_fetched(struct migration *mg)
{
    struct machine *m = &mg->vm->m;
    for (int i = 0; i < m->mem.nr_regions; i++) {
        size_t words = guest_region_bitmap_words(&m->mem.regions[i]);
        for (size_t w = 0; mg->bits[i] && w < words; w++) {
            uint64_t v = mg->bits[i][w];
            mg->bits[i][w] = 0;
            while (v) {
                unsigned b = (unsigned)__builtin_ctzll(v);
                unsigned len = 1;
                while (b + len < 64 && (v >> (b + len)) & 1)
                    len++;
                int rc = send_pages(mg, i, w * 64 + b, len, 0);
                if (rc)
                    return rc;
                v &= len == 64 ? 0 : ~(((1ULL << len) - 1) << b);
            }
        }
    }
    return 0;
}

static int send_header(struct migration *mg)
{
    struct vmm_vm *vm = mg->vm;
    char *xml = NULL;
    int rc = vmm_config_to_xml(vm->cfg, &xml);
    if (rc)
        return rc;
    uint8_t h[8 + 4 + 16 + 16 + 32 + 8 + 4 + 16 * GUEST_MEM_MAX_REGIONS];
    memset(h, 0, sizeof(h));
    memcpy(h, stream_magic, 8);
    le_put(h + 8, MIGRATE_VERSION, 4);
    snprintf((char *)h + 12, 16, "%s", vmm_vm_engine(vm));
    snprintf((char *)h + 28, 16, "%s", vm->platform->arch);
    snprintf((char *)h + 44, 32, "%s", vmm_version());
    le_put(h + 76, vm->m.mem.ram_bytes, 8);
    le_put(h + 84, (uint64_t)vm->m.mem.nr_regions, 4);
    for (int i = 0; i < vm->m.mem.nr_regions; i++) {
        le_put(h + 88 + 16 * i, vm->m.mem.regions[i].gpa, 8);
        le_put(h + 96 + 16 * i, vm->m.mem.regions[i].size, 8);
    }
    rc = send_record(mg, REC_HEADER, h, sizeof(h), xml, strlen(xml));
    free(xml);
    return rc;
}

/* Asks the loop thread to pause the VM and waits for it. */
static int request_pause(struct migration *mg)
{
    pthread_mutex_lock(&mg->lock);
    mg->pause_requested = 1;
    pthread_mutex_unlock(&mg->lock);
    uv_async_send(&mg->async);
    pthread_mutex_lock(&mg->lock);
    while (!mg->paused && !__atomic_load_n(&mg->cancel, __ATOMIC_RELAXED))
        pthread_cond_wait(&mg->cond, &mg->lock);
    int rc = __atomic_load_n(&mg->cancel, __ATOMIC_RELAXED) ? VMM_ECANCELED : mg->pause_rc;
    pthread_mutex_unlock(&mg->lock);
    return rc;
}

static int send_state(struct migration *mg)
{
    struct state_buffer buf = { 0 };
    struct state_sink sink = state_buffer_sink(&buf);
    struct state_writer *w = NULL;
    int rc = state_writer_new(&w, &sink);
    if (rc == 0)
        rc = machine_save_components(&mg->vm->m, w);
    if (rc == 0)
        rc = state_writer_finish(w);
    state_writer_free(w);
    if (rc == 0)
        rc = send_record(mg, REC_STATE, buf.data, buf.len, NULL, 0);
    state_buffer_free(&buf);
    return rc;
}

/* Auto-converge, once per round from the third on: a guest dirtying more
 * than half of what the link carried is held a larger share of the time
 * (initial, then + increment a round, up to max). */
static int auto_converge(struct migration *mg, uint64_t dirty_bytes_per_s, uint64_t bandwidth)
{
    pthread_mutex_lock(&mg->lock);
    int on = mg->auto_converge > 0;
    unsigned pct = mg->stats.throttle_pct;
    unsigned initial = mg->throttle_initial, inc = mg->throttle_increment, max = mg->throttle_max;
    pthread_mutex_unlock(&mg->lock);
    if (!on || dirty_bytes_per_s <= bandwidth / 2)
        return 0;
    unsigned next = pct ? pct + inc : initial;
    if (next > max)
        next = max;
    if (next == pct)
        return 0;
    int rc = vm_throttle_set(&mg->throttle, next);
    if (rc)
        return rc;
    pthread_mutex_lock(&mg->lock);
    mg->stats.throttle_pct = next;
    if (next > mg->stats.throttle_max_reached)
        mg->stats.throttle_max_reached = next;
    pthread_mutex_unlock(&mg->lock);
    log_debug("VM '%s': migration throttles the guest to %u%% of its time held", mg->vm->cfg->name,
              next);
    return 0;
}

static int migrate_body(struct migration *mg)
{
    struct machine *m = &mg->vm->m;
    int rc = send_header(mg);
    if (rc == 0)
        rc = machine_dirty_start(m);
    if (rc)
        return rc;
    pthread_mutex_lock(&mg->lock);
    mg->stats.setup_ms = clock_monotonic_ms() - mg->started_ms;
    pthread_mutex_unlock(&mg->lock);

    /* First pass: everything that is not zero; meanwhile the guest runs
     * and the log records what it dirties again. The log's first fetch is
     * taken (and dropped) first so that it starts from this pass. */
    for (int i = 0; rc == 0 && i < m->mem.nr_regions; i++) {
        size_t words = guest_region_bitmap_words(&m->mem.regions[i]);
        uint64_t *bits = calloc(words, sizeof(uint64_t));
        rc = bits ? machine_dirty_fetch(m, i, bits) : VMM_ENOMEM;
        free(bits);
    }
    /* Stretches the memfd never allocated are zero: skipped unread. The
     * first pass's rate is the first estimate of the link's bandwidth. */
    uint64_t pass_bytes = __atomic_load_n(&mg->stats.bytes_sent, __ATOMIC_RELAXED);
    uint64_t pass_start = clock_monotonic_ms();
    for (int i = 0; rc == 0 && i < m->mem.nr_regions; i++) {
        uint64_t pos = 0, start, end;
        while (rc == 0 && guest_mem_next_data(&m->mem.regions[i], pos, &start, &end)) {
            rc = send_pages(mg, i, start / PAGE, (end - start) / PAGE, 1);
            pos = end;
        }
    }

    unsigned rounds = 0, fit_rounds = 0;
    uint64_t prev_bytes = pass_bytes;
    uint64_t round_start = pass_start;
    while (rc == 0) {
        uint64_t dirty;
        if ((rc = fetch_dirty(mg, &dirty)))
            break;
        uint64_t elapsed = clock_monotonic_ms() - round_start + 1;
        uint64_t sent = __atomic_load_n(&mg->stats.bytes_sent, __ATOMIC_RELAXED) - prev_bytes;
        uint64_t bandwidth = sent * 1000 / elapsed + 1; /* bytes a second */
        if (mg->max_bandwidth && bandwidth > mg->max_bandwidth)
            bandwidth = mg->max_bandwidth;
        uint64_t expected_ms = dirty * PAGE * 1000 / bandwidth;
        pthread_mutex_lock(&mg->lock);
        mg->stats.ram_remaining = dirty * PAGE;
        mg->stats.expected_downtime_ms = expected_ms;
        mg->stats.dirty_pages_rate = dirty * 1000 / elapsed;
        mg->stats.rounds = rounds;
        uint64_t limit = mg->downtime_ms;
        unsigned max_rounds = mg->max_rounds;
        pthread_mutex_unlock(&mg->lock);
        /* Fits: stop now if it fits well, or after at most two more rounds
         * that try to shrink what the pause must carry (the pages dirtied
         * between this count and the pause come on top of the estimate). */
        if (expected_ms <= limit && (expected_ms <= limit / 4 || fit_rounds >= 2))
            break;
        if (expected_ms <= limit)
            fit_rounds++;
        else
            fit_rounds = 0;
        if (rounds >= max_rounds) {
            rc = vmm_error(VMM_EBUSY,
                           "migration did not converge after %u rounds: the guest dirties "
                           "%llu pages a second, the link carried %llu bytes a second (%llu ms "
                           "of downtime expected, limit %llu ms); the VM runs on here",
                           rounds, (unsigned long long)(dirty * 1000 / elapsed),
                           (unsigned long long)bandwidth, (unsigned long long)expected_ms,
                           (unsigned long long)limit);
            break;
        }
        if (rounds >= 2)
            rc = auto_converge(mg, dirty * PAGE * 1000 / elapsed, bandwidth);
        if (rc)
            break;
        prev_bytes = __atomic_load_n(&mg->stats.bytes_sent, __ATOMIC_RELAXED);
        round_start = clock_monotonic_ms();
        rc = send_fetched(mg);
        rounds++;
        /* A guest that dirties nothing lets the loop spin: give it time. */
        if (rc == 0 && dirty == 0)
            usleep(1000);
    }
    if (rc)
        return rc;

    /* Stop and copy. */
    uint64_t paused_at = clock_monotonic_ms();
    if ((rc = request_pause(mg)))
        return rc;
    uint64_t pages;
    rc = fetch_dirty(mg, &pages);
    if (rc == 0)
        rc = send_fetched(mg);
    if (rc == 0)
        rc = send_state(mg);
    if (rc == 0)
        rc = send_record(mg, REC_END, NULL, 0, NULL, 0);
    pthread_mutex_lock(&mg->lock);
    mg->stats.downtime_ms = clock_monotonic_ms() - paused_at;
    mg->stats.ram_remaining = 0;
    mg->stats.rounds = rounds;
    pthread_mutex_unlock(&mg->lock);
    return rc;
}

static void *migrate_main(void *arg)
{
    struct migration *mg = arg;
    int rc = migrate_body(mg);
    char why[sizeof(mg->error)];
    snprintf(why, sizeof(why), "%s", vmm_last_error());
    machine_dirty_stop(&mg->vm->m);
    for (int i = 0; i < GUEST_MEM_MAX_REGIONS; i++) {
        free(mg->bits[i]);
        mg->bits[i] = NULL;
    }
    vm_throttle_set(&mg->throttle, 0); /* full speed again, here or (paused) until stopped */
    pthread_mutex_lock(&mg->lock);
    mg->stats.throttle_pct = 0;
    mg->rc = rc;
    if (rc)
        snprintf(mg->error, sizeof(mg->error), "%s", why);
    mg->done = 1;
    pthread_mutex_unlock(&mg->lock);
    uv_async_send(&mg->async);
    return NULL;
}

/* --- loop side --- */

static void migration_free(uv_handle_t *h)
{
    struct migration *mg = h->data;
    if (--mg->handles)
        return;
    pthread_mutex_destroy(&mg->lock);
    pthread_cond_destroy(&mg->cond);
    free(mg);
}

static void emit_progress(struct migration *mg)
{
    struct vmm_vm *vm = mg->vm;
    if (!vm->cb)
        return;
    vmm_migrate_stats_t st = { .size = sizeof(st) };
    vmm_vm_migrate_stats(vm, &st);
    vmm_event_t ev = { .size = sizeof(ev), .type = VMM_EVENT_PROGRESS, .vm = vm };
    ev.u.progress.kind = VMM_PROGRESS_MIGRATE;
    ev.u.progress.status = st.status;
    ev.u.progress.bytes_done = st.bytes_sent;
    ev.u.progress.round = st.rounds;
    ev.u.progress.dirty_pages_rate = st.dirty_pages_rate;
    ev.u.progress.expected_downtime_ms = st.expected_downtime_ms;
    vm->cb(&ev, vm->cb_opaque);
}

static void on_timer(uv_timer_t *t)
{
    emit_progress(t->data);
}

static void on_async(uv_async_t *a)
{
    struct migration *mg = a->data;
    struct vmm_vm *vm = mg->vm;
    pthread_mutex_lock(&mg->lock);
    int want_pause = mg->pause_requested && !mg->paused;
    pthread_mutex_unlock(&mg->lock);
    if (want_pause) {
        int rc = vmm_vm_state(vm) == VMM_STATE_RUNNING ? vmm_vm_pause(vm) : 0;
        pthread_mutex_lock(&mg->lock);
        mg->pause_rc = rc;
        mg->paused = 1;
        pthread_cond_broadcast(&mg->cond);
        pthread_mutex_unlock(&mg->lock);
    }
    pthread_mutex_lock(&mg->lock);
    int done = mg->done;
    pthread_mutex_unlock(&mg->lock);
    if (!done || !mg->thread_started)
        return;
    pthread_join(mg->thread, NULL);
    mg->thread_started = 0;
    uv_unref((uv_handle_t *)&mg->async);
    uv_timer_stop(&mg->timer);
    int rc = mg->rc;
    pthread_mutex_lock(&mg->lock);
    mg->stats.total_ms = clock_monotonic_ms() - mg->started_ms;
    mg->stats.status = rc == 0 ? VMM_MIGRATE_COMPLETED
                       : rc == VMM_ECANCELED ? VMM_MIGRATE_CANCELLED
                                             : VMM_MIGRATE_FAILED;
    pthread_mutex_unlock(&mg->lock);
    if (rc == 0) {
        /* The guest lives on at the destination now. */
        machine_set_outcome(&vm->m, VMM_OUTCOME_STOPPED, 0, "migrated");
        vmm_vm_stop(vm);
    } else if (mg->paused && vmm_vm_state(vm) == VMM_STATE_PAUSED) {
        vmm_vm_resume(vm); /* failed during stop-and-copy: run on here */
    }
    if (rc && rc != VMM_ECANCELED)
        log_warn("VM '%s': %s", vm->cfg->name, mg->error);
    emit_progress(mg);
    if (mg->cb) {
        vmm_vm_done_cb cb = mg->cb;
        mg->cb = NULL;
        if (rc)
            vmm_error(rc, "%s", mg->error);
        cb(vm, rc, mg->cb_opaque);
    }
}

static struct migration *migration_of(struct vmm_vm *vm)
{
    return vm->ext[VM_EXT_MIGRATE].opaque;
}

/* The VM goes away: cancel, wait for the thread, free. */
static void migration_destroy(struct vmm_vm *vm, void *opaque)
{
    struct migration *mg = opaque;
    pthread_mutex_lock(&mg->lock);
    __atomic_store_n(&mg->cancel, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&mg->cond);
    pthread_mutex_unlock(&mg->lock);
    if (mg->thread_started)
        pthread_join(mg->thread, NULL);
    mg->thread_started = 0;
    vm_throttle_fini(&mg->throttle);
    mg->cb = NULL;
    vm->ext[VM_EXT_MIGRATE].opaque = NULL;
    uv_close((uv_handle_t *)&mg->async, migration_free);
    uv_close((uv_handle_t *)&mg->timer, migration_free);
}

static struct migration *migration_get(struct vmm_vm *vm)
{
    struct migration *mg = migration_of(vm);
    if (mg)
        return mg;
    mg = calloc(1, sizeof(*mg));
    if (!mg)
        return NULL;
    mg->vm = vm;
    pthread_mutex_init(&mg->lock, NULL);
    pthread_cond_init(&mg->cond, NULL);
    mg->downtime_ms = 300;
    mg->max_rounds = 30;
    mg->auto_converge = 1;
    mg->throttle_initial = 20;
    mg->throttle_increment = 10;
    mg->throttle_max = THROTTLE_MAX_PCT;
    vm_throttle_init(&mg->throttle, vm);
    mg->stats.size = sizeof(mg->stats);
    uv_async_init(vm->host->loop, &mg->async, on_async);
    uv_timer_init(vm->host->loop, &mg->timer);
    mg->async.data = mg->timer.data = mg;
    mg->handles = 2;
    uv_unref((uv_handle_t *)&mg->async);
    vm->ext[VM_EXT_MIGRATE].opaque = mg;
    vm->ext[VM_EXT_MIGRATE].destroy = migration_destroy;
    return mg;
}

int vmm_vm_migrate_set(vmm_vm_t *vm, uint64_t max_bandwidth, uint64_t downtime_limit_ms)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_migrate_set: vm is required");
    struct migration *mg = migration_get(vm);
    if (!mg)
        return vmm_error(VMM_ENOMEM, "migration state");
    pthread_mutex_lock(&mg->lock);
    if (max_bandwidth)
        mg->max_bandwidth = max_bandwidth;
    if (downtime_limit_ms)
        mg->downtime_ms = downtime_limit_ms;
    pthread_mutex_unlock(&mg->lock);
    return 0;
}

/* Applies the non-zero fields of p. mg->lock held. */
static int apply_params(struct migration *mg, const vmm_migrate_params_t *p)
{
    const unsigned *pcts[] = { &p->throttle_initial, &p->throttle_increment, &p->throttle_max };
    const char *names[] = { "throttle_initial", "throttle_increment", "throttle_max" };
    for (int i = 0; i < 3; i++)
        if (*pcts[i] > THROTTLE_MAX_PCT)
            return vmm_error(VMM_EINVAL, "migration %s %u%%: limit 1..%d", names[i], *pcts[i],
                             THROTTLE_MAX_PCT);
    if (p->auto_converge && p->auto_converge != 1 && p->auto_converge != -1)
        return vmm_error(VMM_EINVAL, "migration auto_converge %d: 1 (on), -1 (off) or 0 (as set)",
                         p->auto_converge);
    if (p->max_bandwidth)
        mg->max_bandwidth = p->max_bandwidth;
    if (p->downtime_limit_ms)
        mg->downtime_ms = p->downtime_limit_ms;
    if (p->max_rounds)
        mg->max_rounds = p->max_rounds;
    if (p->auto_converge)
        mg->auto_converge = p->auto_converge;
    if (p->throttle_initial)
        mg->throttle_initial = p->throttle_initial;
    if (p->throttle_increment)
        mg->throttle_increment = p->throttle_increment;
    if (p->throttle_max)
        mg->throttle_max = p->throttle_max;
    return 0;
}

int vmm_vm_migrate_configure(vmm_vm_t *vm, const vmm_migrate_params_t *params)
{
    if (!vm || !params)
        return vmm_error(VMM_EINVAL, "vmm_vm_migrate_configure: vm and params are required");
    vmm_migrate_params_t p = { .size = sizeof(p) };
    int rc = sized_copy_in(&p, params, sizeof(p), "vmm_migrate_params_t");
    if (rc)
        return rc;
    struct migration *mg = migration_get(vm);
    if (!mg)
        return vmm_error(VMM_ENOMEM, "migration state");
    pthread_mutex_lock(&mg->lock);
    rc = apply_params(mg, &p);
    pthread_mutex_unlock(&mg->lock);
    return rc;
}

int vmm_vm_migrate_start(vmm_vm_t *vm, int fd, const vmm_migrate_params_t *params,
                         vmm_vm_done_cb cb, void *opaque)
{
    if (!vm || fd < 0)
        return vmm_error(VMM_EINVAL, "vmm_vm_migrate_start: vm and an open fd are required");
    vmm_state_t state = vmm_vm_state(vm);
    if (state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running or paused", vm->cfg->name);
    for (unsigned i = 0; i < vmm_config_disk_count(vm->cfg); i++)
        if (vmm_config_disk(vm->cfg, i)->backend)
            return vmm_error(VMM_ENOTSUP, "disk '%s' is served by the host program: it cannot "
                             "migrate", vmm_config_disk(vm->cfg, i)->target);
    vmm_migrate_params_t p = { .size = sizeof(p) };
    int rc;
    if (params && (rc = sized_copy_in(&p, params, sizeof(p), "vmm_migrate_params_t")))
        return rc;
    struct migration *mg = migration_get(vm);
    if (!mg)
        return vmm_error(VMM_ENOMEM, "migration state");
    if (mg->thread_started)
        return vmm_error(VMM_EBUSY, "VM '%s' is already migrating", vm->cfg->name);
    if (vm->hold_paused)
        return vmm_error(VMM_EBUSY, "VM '%s': %s", vm->cfg->name, vm->hold_reason);
    save_tracking_interrupt(vm);
    pthread_mutex_lock(&mg->lock);
    if ((rc = apply_params(mg, &p))) {
        pthread_mutex_unlock(&mg->lock);
        return rc;
    }
    memset(&mg->stats, 0, sizeof(mg->stats));
    mg->stats.size = sizeof(mg->stats);
    mg->stats.status = VMM_MIGRATE_ACTIVE;
    mg->fd = fd;
    mg->cb = cb;
    mg->cb_opaque = opaque;
    __atomic_store_n(&mg->cancel, 0, __ATOMIC_RELAXED);
    mg->done = mg->paused = mg->pause_requested = 0;
    mg->rc = 0;
    mg->started_ms = mg->window_ms = clock_monotonic_ms();
    mg->window_bytes = 0;
    pthread_mutex_unlock(&mg->lock);
    uv_ref((uv_handle_t *)&mg->async);
    rc = pthread_create(&mg->thread, NULL, migrate_main, mg);
    if (rc) {
        mg->stats.status = VMM_MIGRATE_FAILED;
        return vmm_error_errno(rc, "starting the migration thread");
    }
    mg->thread_started = 1;
    uv_timer_start(&mg->timer, on_timer, 100, 100);
    return 0;
}

int vmm_vm_migrate_cancel(vmm_vm_t *vm)
{
    struct migration *mg = vm ? migration_of(vm) : NULL;
    if (!mg || !mg->thread_started)
        return vmm_error(VMM_ESTATE, "no migration is running");
    pthread_mutex_lock(&mg->lock);
    __atomic_store_n(&mg->cancel, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&mg->cond);
    pthread_mutex_unlock(&mg->lock);
    return 0;
}

int vmm_vm_migrate_stats(vmm_vm_t *vm, vmm_migrate_stats_t *out)
{
    if (!vm || !out)
        return vmm_error(VMM_EINVAL, "vmm_vm_migrate_stats: vm and out are required");
    vmm_migrate_stats_t s = { .size = sizeof(s) };
    struct migration *mg = migration_of(vm);
    if (mg) {
        pthread_mutex_lock(&mg->lock);
        s = mg->stats;
        if (s.status == VMM_MIGRATE_ACTIVE)
            s.total_ms = clock_monotonic_ms() - mg->started_ms;
        pthread_mutex_unlock(&mg->lock);
    }
    s.size = sizeof(s);
    return sized_copy_out(out, &s, sizeof(s), "vmm_migrate_stats_t");
}

/* --- destination --- */

struct incoming {
    int fd;
    vmm_config_t *cfg;
    uint64_t gpa[GUEST_MEM_MAX_REGIONS], size[GUEST_MEM_MAX_REGIONS];
    unsigned nr_regions;
    uint8_t *buf; /* one record */
};

static int recv_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vmm_error_errno(errno, "migration stream");
        if (n == 0)
            return vmm_error(VMM_EFORMAT, "migration stream ended early (%zu bytes missing): the "
                             "source failed or was cancelled", len);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one record into in->buf (or *big for a STATE record). */
static int recv_record(struct incoming *in, uint32_t *type, uint8_t **data, uint64_t *len)
{
    uint8_t head[12];
    int rc = recv_all(in->fd, head, sizeof(head));
    if (rc)
        return rc;
    *type = (uint32_t)le_get(head, 4);
    *len = le_get(head + 4, 8);
    uint64_t limit = *type == REC_STATE ? MAX_STATE : *type == REC_HEADER ? (10u << 20) : MAX_RECORD;
    if (*type < REC_HEADER || *type > REC_END)
        return vmm_error(VMM_EFORMAT, "migration stream: record type %u unknown", *type);
    if (*len > limit)
        return vmm_error(VMM_EFORMAT, "migration stream: record of %llu bytes, limit %llu",
                         (unsigned long long)*len, (unsigned long long)limit);
    uint8_t *p = *len > MAX_RECORD ? malloc(*len) : in->buf;
    if (!p)
        return vmm_error(VMM_ENOMEM, "migration record of %llu bytes", (unsigned long long)*len);
    uint8_t tail[4];
    rc = recv_all(in->fd, p, *len);
    if (rc == 0)
        rc = recv_all(in->fd, tail, 4);
    if (rc == 0 && crc32c(0, p, *len) != (uint32_t)le_get(tail, 4))
        rc = vmm_error(VMM_EFORMAT, "migration stream: a record of type %u fails its checksum",
                       *type);
    if (rc && p != in->buf)
        free(p);
    *data = rc ? NULL : p;
    return rc;
}

static int incoming_memory(struct machine *m, void *ctx)
{
    struct incoming *in = ctx;
    if ((unsigned)m->mem.nr_regions != in->nr_regions)
        return vmm_error(VMM_EFORMAT, "migration stream: %u memory regions, the machine has %d",
                         in->nr_regions, m->mem.nr_regions);
    for (unsigned i = 0; i < in->nr_regions; i++)
        if (m->mem.regions[i].gpa != in->gpa[i] || m->mem.regions[i].size != in->size[i])
            return vmm_error(VMM_EFORMAT, "migration stream: memory region %u differs from the "
                             "machine's", i);
    return 0;
}

static int incoming_load(struct machine *m, void *ctx)
{
    struct incoming *in = ctx;
    for (;;) {
        uint32_t type;
        uint8_t *d;
        uint64_t len;
        int rc = recv_record(in, &type, &d, &len);
        if (rc)
            return rc;
        if (type == REC_END)
            return 0;
        if (type == REC_PAGES || type == REC_ZERO) {
            if (len < 16)
                return vmm_error(VMM_EFORMAT, "migration stream: short page record");
            uint32_t region = (uint32_t)le_get(d, 4);
            uint64_t first = le_get(d + 4, 8);
            uint32_t count = (uint32_t)le_get(d + 12, 4);
            if (region >= in->nr_regions || count == 0 || count > RUN_PAGES ||
                first > in->size[region] / PAGE || count > in->size[region] / PAGE - first ||
                (type == REC_PAGES && len != 16 + (uint64_t)count * PAGE) ||
                (type == REC_ZERO && len != 16))
                return vmm_error(VMM_EFORMAT, "migration stream: page record (region %u, page "
                                 "%llu, %u pages, %llu bytes) does not fit the machine",
                                 region, (unsigned long long)first, count,
                                 (unsigned long long)len);
            uint8_t *dst = m->mem.regions[region].host + first * PAGE;
            if (type == REC_PAGES)
                memcpy(dst, d + 16, (size_t)count * PAGE);
            else
                memset(dst, 0, (size_t)count * PAGE);
            continue;
        }
        if (type == REC_STATE) {
            struct state_buffer b = { .data = d, .len = len, .cap = len };
            struct state_source src = state_buffer_source(&b);
            struct state_reader *r = NULL;
            rc = state_reader_new(&r, &src);
            if (rc == 0)
                rc = machine_load_components(m, r, 0);
            state_reader_free(r);
            if (d != in->buf)
                free(d);
            if (rc)
                return rc;
            continue;
        }
        return vmm_error(VMM_EFORMAT, "migration stream: unexpected record type %u", type);
    }
}

int vmm_vm_incoming(vmm_host_t *host, int fd, const vmm_config_t *expect, vmm_vm_t **out)
{
    if (!host || fd < 0 || !out)
        return vmm_error(VMM_EINVAL, "vmm_vm_incoming: host, fd and out are required");
    *out = NULL;
    struct incoming in = { .fd = fd };
    in.buf = malloc(MAX_RECORD);
    if (!in.buf)
        return vmm_error(VMM_ENOMEM, "migration buffer");
    uint32_t type;
    uint8_t *d = NULL;
    uint64_t len;
    int rc = recv_record(&in, &type, &d, &len);
    size_t fixed = 8 + 4 + 16 + 16 + 32 + 8 + 4 + 16 * GUEST_MEM_MAX_REGIONS;
    if (rc == 0 && (type != REC_HEADER || len <= fixed))
        rc = vmm_error(VMM_EFORMAT, "not a libvmm migration stream (first record)");
    if (rc == 0 && memcmp(d, stream_magic, 8))
        rc = vmm_error(VMM_EFORMAT, "not a libvmm migration stream (bad magic)");
    if (rc == 0 && le_get(d + 8, 4) != MIGRATE_VERSION)
        rc = vmm_error(VMM_EFORMAT, "migration stream version %u, this library reads %u",
                       (unsigned)le_get(d + 8, 4), MIGRATE_VERSION);
    if (rc == 0) {
        char engine[17], arch[17];
        memcpy(engine, d + 12, 16);
        engine[16] = '\0';
        memcpy(arch, d + 28, 16);
        arch[16] = '\0';
        in.nr_regions = (unsigned)le_get(d + 84, 4);
        if (in.nr_regions == 0 || in.nr_regions > GUEST_MEM_MAX_REGIONS)
            rc = vmm_error(VMM_EFORMAT, "migration stream: %u memory regions", in.nr_regions);
        for (unsigned i = 0; rc == 0 && i < in.nr_regions; i++) {
            in.gpa[i] = le_get(d + 88 + 16 * i, 8);
            in.size[i] = le_get(d + 96 + 16 * i, 8);
        }
        char *xml = rc ? NULL : strndup((const char *)d + fixed, len - fixed);
        if (rc == 0 && !xml)
            rc = vmm_error(VMM_ENOMEM, "migration configuration");
        char *warnings = NULL;
        if (rc == 0 && (rc = vmm_config_from_xml(xml, strlen(xml), VMM_XML_NO_HOST_CHECKS,
                                                 &in.cfg, &warnings)))
            rc = vmm_error(VMM_EFORMAT, "migration stream: its configuration does not read "
                           "back: %s", vmm_last_error());
        free(warnings);
        free(xml);
        if (rc == 0 && strcmp(engine, vmm_config_engine(in.cfg)) &&
            strcmp(vmm_config_engine(in.cfg), VMM_ENGINE_AUTO))
            rc = vmm_error(VMM_EFORMAT, "migration stream from the %s engine, its configuration "
                           "says %s", engine, vmm_config_engine(in.cfg));
    }
    if (d && d != in.buf)
        free(d);
    const char *why = NULL;
    if (rc == 0 && expect && !config_machine_equal(expect, in.cfg, &why))
        rc = vmm_error(VMM_EINVAL, "the incoming VM has another configuration: the %s differs",
                       why);
    if (rc == 0) {
        struct vm_restore_hooks hooks = { incoming_memory, incoming_load, &in };
        rc = vm_create_with(host, in.cfg, &hooks, out);
    }
    vmm_config_free(in.cfg);
    free(in.buf);
    return rc;
}
