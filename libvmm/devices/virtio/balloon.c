#include "devices/virtio/balloon.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/virtio/worker.h"
#include "machine/component.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

/* Linux's page reporting needs at least 32 entries on its queue. */
#define BALLOON_QUEUE_SIZE 128
#define BALLOON_CONFIG_SIZE 16 /* num_pages, actual, free_page_hint_cmd_id, poison_val */
#define BALLOON_PAGE 4096ULL
#define BALLOON_PFN_BATCH 256  /* PFNs read from a chain at a time */
/* PFNs taken from one chain (Linux sends 256): a hostile chain of a
 * gigabyte of PFNs must not keep the worker, and a VM being destroyed,
 * busy for minutes. The rest of such a chain is skipped. */
#define BALLOON_PFNS_PER_CHAIN 65536
#define STAT_RECORD 10         /* le16 tag, le64 value, packed */
#define STAT_RECORDS_MAX 64    /* records read from one buffer; more are ignored */

enum balloon_queue { QUEUE_NONE, QUEUE_INFLATE, QUEUE_DEFLATE, QUEUE_STATS, QUEUE_REPORTING };

struct virtio_balloon {
    struct virtio_dev vd;
    struct virtio_worker worker;
    struct virtq_chain chain; /* the worker's */
    struct virtio_balloon_options opt;

    /* Config space, under vd.lock. */
    uint32_t num_pages, actual;

    /* Figures and the held statistics buffer, under lock. */
    pthread_mutex_t lock;
    uint64_t inflated, deflated, reported_bytes, errors;
    uint64_t stats[VIRTIO_BALLOON_S_NR];
    uint32_t stats_valid;
    uint64_t stats_updated_ms, stats_updates;
    int stats_held;       /* the driver's stats buffer waits with us */
    uint16_t stats_head;
    unsigned stats_queue; /* the queue index it came on */

    /* The stats period timer thread (only with opt.stats_period). */
    pthread_t timer;
    pthread_cond_t timer_cond;
    int timer_started, timer_stop;
};

/* A guest-supplied entry the device skips: counted, the first reason of a
 * kind logged (a guest must not flood the host's log). */
static void bad_entry(struct virtio_balloon *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bad_entry(struct virtio_balloon *b, const char *fmt, ...)
{
    pthread_mutex_lock(&b->lock);
    uint64_t n = b->errors++;
    pthread_mutex_unlock(&b->lock);
    if (n)
        return;
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    log_warn("virtio-balloon at irq %u: %s (skipped; further bad entries are only counted)",
             b->vd.irq, why);
}

/* Which queue index plays which role: virtqueues of features the driver
 * did not accept do not exist, so the later ones move down (5.5.2). */
static enum balloon_queue queue_role(const struct virtio_balloon *b, unsigned q)
{
    if (q == 0)
        return QUEUE_INFLATE;
    if (q == 1)
        return QUEUE_DEFLATE;
    unsigned next = 2;
    if (virtio_dev_has(&b->vd, VIRTIO_BALLOON_F_STATS_VQ)) {
        if (q == next)
            return QUEUE_STATS;
        next++;
    }
    if (virtio_dev_has(&b->vd, VIRTIO_BALLOON_F_REPORTING) && q == next)
        return QUEUE_REPORTING;
    return QUEUE_NONE;
}

/* A run of adjacent inflated pages, discarded in one call. */
struct page_run {
    uint64_t gpa, len;
};

static void run_flush(struct virtio_balloon *b, struct page_run *run)
{
    if (run->len && guest_mem_discard(&b->vd.m->mem, run->gpa, run->len))
        bad_entry(b, "%s", vmm_last_error());
    run->len = 0;
}

/* Inflate and deflate chains: device-readable arrays of le32 PFNs. */
static void process_pfns(struct virtio_balloon *b, unsigned q, int inflate)
{
    struct guest_mem *gm = &b->vd.m->mem;
    const char *what = inflate ? "inflate" : "deflate";
    uint32_t pfns[BALLOON_PFN_BATCH];
    uint64_t taken = 0;
    while (virtio_dev_pop(&b->vd, q, &b->chain) == 1) {
        struct virtq_chain *c = &b->chain;
        struct page_run run = { 0, 0 };
        if (c->out_len % sizeof(uint32_t))
            bad_entry(b, "%s buffer of %llu bytes is not whole 4-byte PFNs", what,
                      (unsigned long long)c->out_len);
        if (c->out_len > (uint64_t)BALLOON_PFNS_PER_CHAIN * sizeof(uint32_t))
            bad_entry(b, "%s buffer of %llu PFNs exceeds the limit of %d a buffer; the rest is "
                         "skipped",
                      what, (unsigned long long)(c->out_len / sizeof(uint32_t)),
                      BALLOON_PFNS_PER_CHAIN);
        size_t off = 0, n;
        while (off < (size_t)BALLOON_PFNS_PER_CHAIN * sizeof(uint32_t) &&
               (n = virtq_chain_read(c, off, pfns, sizeof(pfns))) >= sizeof(uint32_t)) {
            for (size_t i = 0; i < n / sizeof(uint32_t); i++) {
                uint64_t gpa = (uint64_t)le32toh(pfns[i]) * BALLOON_PAGE;
                if (!guest_mem_ptr(gm, gpa, BALLOON_PAGE)) {
                    bad_entry(b, "%s PFN 0x%llx (guest-physical 0x%llx) is not guest RAM", what,
                              (unsigned long long)(gpa / BALLOON_PAGE), (unsigned long long)gpa);
                    continue;
                }
                taken++;
                if (!inflate)
                    continue;
                /* Extend the run while the pages are adjacent in one region. */
                if (run.len && gpa == run.gpa + run.len &&
                    guest_mem_ptr(gm, run.gpa, run.len + BALLOON_PAGE)) {
                    run.len += BALLOON_PAGE;
                    continue;
                }
                run_flush(b, &run);
                run.gpa = gpa;
                run.len = BALLOON_PAGE;
            }
            off += n;
            if (n < sizeof(pfns))
                break;
        }
        run_flush(b, &run);
        virtio_dev_push(&b->vd, q, c->head, 0);
    }
    if (!taken)
        return;
    pthread_mutex_lock(&b->lock);
    if (inflate)
        b->inflated += taken;
    else
        b->deflated += taken;
    pthread_mutex_unlock(&b->lock);
    if (!inflate)
        machine_memory_changed(b->vd.m, MACHINE_MEM_BALLOON_DEFLATE);
}

/* The guest RAM address of host pointer p (inside a RAM region: virtq_pop
 * checked every buffer). */
static int host_to_gpa(const struct guest_mem *gm, const uint8_t *p, uint64_t *gpa)
{
    for (int i = 0; i < gm->nr_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        if (p >= r->host && (uint64_t)(p - r->host) < r->size) {
            *gpa = r->gpa + (uint64_t)(p - r->host);
            return 0;
        }
    }
    return -1;
}

/* Free page reporting: device-writable buffers that are free guest pages
 * (Linux reports blocks of 2 MiB and more); they go back to the host and
 * the chain returns with nothing written. */
static void process_reports(struct virtio_balloon *b, unsigned q)
{
    struct guest_mem *gm = &b->vd.m->mem;
    while (virtio_dev_pop(&b->vd, q, &b->chain) == 1) {
        struct virtq_chain *c = &b->chain;
        for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in; i++) {
            uint64_t gpa, len = c->iov[i].iov_len;
            if (host_to_gpa(gm, c->iov[i].iov_base, &gpa)) {
                bad_entry(b, "reported buffer at host %p is not guest RAM", c->iov[i].iov_base);
                continue;
            }
            /* Only whole pages go back: a partial page may hold live data. */
            uint64_t start = (gpa + BALLOON_PAGE - 1) & ~(BALLOON_PAGE - 1);
            uint64_t end = (gpa + len) & ~(BALLOON_PAGE - 1);
            if (start != gpa || end != gpa + len)
                bad_entry(b, "reported buffer 0x%llx+0x%llx is not whole 4 KiB pages",
                          (unsigned long long)gpa, (unsigned long long)len);
            if (end <= start)
                continue;
            if (guest_mem_discard(gm, start, end - start)) {
                bad_entry(b, "%s", vmm_last_error());
                continue;
            }
            /* counted as each buffer goes back, not after the batch: a
             * reader that sees the RAM shrink sees (almost all of) why */
            pthread_mutex_lock(&b->lock);
            b->reported_bytes += end - start;
            pthread_mutex_unlock(&b->lock);
        }
        virtio_dev_push(&b->vd, q, c->head, 0);
    }
}

/* The statistics buffer: device-readable records the device parses, then
 * keeps until it wants fresh figures (5.5.6.3). */
static void process_stats(struct virtio_balloon *b, unsigned q)
{
    while (virtio_dev_pop(&b->vd, q, &b->chain) == 1) {
        struct virtq_chain *c = &b->chain;
        uint64_t vals[VIRTIO_BALLOON_S_NR];
        uint32_t valid = 0;
        if (c->out_len % STAT_RECORD)
            bad_entry(b, "stats buffer of %llu bytes is not whole %d-byte records",
                      (unsigned long long)c->out_len, STAT_RECORD);
        for (unsigned i = 0; i < STAT_RECORDS_MAX; i++) {
            uint8_t rec[STAT_RECORD];
            if (virtq_chain_read(c, (size_t)i * STAT_RECORD, rec, sizeof(rec)) < sizeof(rec))
                break;
            uint16_t tag = (uint16_t)(rec[0] | rec[1] << 8);
            uint64_t v;
            memcpy(&v, rec + 2, sizeof(v));
            if (tag < VIRTIO_BALLOON_S_NR) {
                vals[tag] = le64toh(v);
                valid |= 1u << tag;
            }
        }
        pthread_mutex_lock(&b->lock);
        int had = b->stats_held;
        uint16_t old_head = b->stats_head;
        unsigned old_q = b->stats_queue;
        for (unsigned t = 0; t < VIRTIO_BALLOON_S_NR; t++)
            if (valid & (1u << t))
                b->stats[t] = vals[t];
        b->stats_valid |= valid;
        b->stats_updated_ms = clock_monotonic_ms();
        b->stats_updates++;
        b->stats_held = 1;
        b->stats_head = c->head;
        b->stats_queue = q;
        pthread_mutex_unlock(&b->lock);
        /* A driver sends one buffer at a time; a second one means the first
         * is abandoned: give it back rather than hold it forever. */
        if (had)
            virtio_dev_push(&b->vd, old_q, old_head, 0);
        machine_memory_changed(b->vd.m, MACHINE_MEM_BALLOON_STATS);
    }
}

static void balloon_process(void *opaque, unsigned q)
{
    struct virtio_balloon *b = opaque;
    switch (queue_role(b, q)) {
    case QUEUE_INFLATE: process_pfns(b, q, 1); break;
    case QUEUE_DEFLATE: process_pfns(b, q, 0); break;
    case QUEUE_STATS: process_stats(b, q); break;
    case QUEUE_REPORTING: process_reports(b, q); break;
    case QUEUE_NONE: break;
    }
}

void virtio_balloon_request_stats(struct virtio_balloon *b)
{
    pthread_mutex_lock(&b->lock);
    int held = b->stats_held;
    uint16_t head = b->stats_head;
    unsigned q = b->stats_queue;
    b->stats_held = 0;
    pthread_mutex_unlock(&b->lock);
    if (held && virtio_dev_queue_live(&b->vd, q))
        virtio_dev_push(&b->vd, q, head, 0);
}

static void *stats_timer(void *opaque)
{
    struct virtio_balloon *b = opaque;
    pthread_mutex_lock(&b->lock);
    while (!b->timer_stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += b->opt.stats_period;
        while (!b->timer_stop && pthread_cond_timedwait(&b->timer_cond, &b->lock, &t) != ETIMEDOUT)
            ;
        if (b->timer_stop)
            break;
        pthread_mutex_unlock(&b->lock);
        /* Not while the VM is paused (a snapshot may be saving the rings):
         * the next period asks. */
        if (!machine_should_exit(b->vd.m))
            virtio_balloon_request_stats(b);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* --- config space --- */

static void config_bytes(struct virtio_balloon *b, uint8_t out[BALLOON_CONFIG_SIZE])
{
    uint32_t w[4] = { htole32(b->num_pages), htole32(b->actual), 0, 0 };
    memcpy(out, w, BALLOON_CONFIG_SIZE);
}

static void balloon_config_read(struct virtio_dev *vd, uint32_t offset, void *buf, uint32_t len)
{
    uint8_t cfg[BALLOON_CONFIG_SIZE];
    config_bytes(vd->priv, cfg);
    memcpy(buf, cfg + offset, len);
}

static void balloon_config_write(struct virtio_dev *vd, uint32_t offset, const void *buf,
                                 uint32_t len)
{
    struct virtio_balloon *b = vd->priv;
    /* Only `actual` is the driver's (poison_val matters with PAGE_POISON,
     * which is not offered); bytes elsewhere are dropped. */
    if (offset >= 8 || offset + len <= 4)
        return;
    uint8_t cfg[BALLOON_CONFIG_SIZE];
    config_bytes(b, cfg);
    memcpy(cfg + offset, buf, len);
    uint32_t actual;
    memcpy(&actual, cfg + 4, sizeof(actual));
    actual = le32toh(actual);
    if (actual == b->actual)
        return;
    b->actual = actual;
    machine_memory_changed(vd->m, MACHINE_MEM_BALLOON_ACTUAL);
}

void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages)
{
    pthread_mutex_lock(&b->vd.lock);
    int changed = b->num_pages != pages;
    b->num_pages = pages;
    pthread_mutex_unlock(&b->vd.lock);
    if (changed)
        virtio_dev_config_changed(&b->vd);
}

void virtio_balloon_info(struct virtio_balloon *b, struct virtio_balloon_info *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&b->vd.lock);
    out->target_pages = b->num_pages;
    out->actual_pages = b->actual;
    out->driver_ok = (b->vd.status & VIRTIO_STATUS_DRIVER_OK) != 0;
    pthread_mutex_unlock(&b->vd.lock);
    pthread_mutex_lock(&b->lock);
    out->inflated_pages = b->inflated;
    out->deflated_pages = b->deflated;
    out->reported_bytes = b->reported_bytes;
    out->errors = b->errors;
    memcpy(out->stats, b->stats, sizeof(out->stats));
    out->stats_valid = b->stats_valid;
    out->stats_updated_ms = b->stats_updated_ms;
    out->stats_updates = b->stats_updates;
    pthread_mutex_unlock(&b->lock);
}

/* --- lifecycle --- */

static void balloon_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_balloon *b = vd->priv;
    (void)q;
    virtio_worker_kick(&b->worker);
}

/* Linux primes the stats queue (and may inflate) before it sets DRIVER_OK,
 * when the queues are not live yet: look at every queue once they are. */
static void balloon_driver_ok(struct virtio_dev *vd)
{
    struct virtio_balloon *b = vd->priv;
    virtio_worker_kick(&b->worker);
}

/* The driver's view goes (its buffers and its balloon are gone with it);
 * the host's target stays, as the host set it. */
static void balloon_reset(struct virtio_dev *vd)
{
    struct virtio_balloon *b = vd->priv;
    virtio_worker_quiesce(&b->worker);
    pthread_mutex_lock(&b->vd.lock);
    int had = b->actual != 0;
    b->actual = 0;
    pthread_mutex_unlock(&b->vd.lock);
    pthread_mutex_lock(&b->lock);
    b->stats_held = 0;
    pthread_mutex_unlock(&b->lock);
    virtio_worker_resume(&b->worker);
    if (had)
        machine_memory_changed(vd->m, MACHINE_MEM_BALLOON_ACTUAL);
}

static int balloon_save(struct virtio_dev *vd, struct state_writer *w)
{
    struct virtio_balloon *b = vd->priv;
    virtio_worker_quiesce(&b->worker);
    pthread_mutex_lock(&b->vd.lock);
    state_put_u32(w, b->num_pages);
    state_put_u32(w, b->actual);
    pthread_mutex_unlock(&b->vd.lock);
    pthread_mutex_lock(&b->lock);
    state_put_u64(w, b->inflated);
    state_put_u64(w, b->deflated);
    state_put_u64(w, b->reported_bytes);
    state_put_u64(w, b->errors);
    state_put_u8(w, (uint8_t)b->stats_held);
    state_put_u16(w, b->stats_head);
    state_put_u32(w, b->stats_queue);
    pthread_mutex_unlock(&b->lock);
    virtio_worker_resume(&b->worker);
    return 0;
}

static int balloon_load(struct virtio_dev *vd, struct state_reader *r, uint32_t version)
{
    struct virtio_balloon *b = vd->priv;
    uint32_t num_pages, actual, stats_queue;
    uint64_t inflated, deflated, reported, errors;
    uint8_t held;
    uint16_t head;
    (void)version;
    state_get_u32(r, &num_pages);
    state_get_u32(r, &actual);
    state_get_u64(r, &inflated);
    state_get_u64(r, &deflated);
    state_get_u64(r, &reported);
    state_get_u64(r, &errors);
    state_get_u8(r, &held);
    state_get_u16(r, &head);
    int rc = state_get_u32(r, &stats_queue);
    if (rc)
        return rc;
    if (held && (stats_queue >= vd->nr_queues || head >= vd->queues[stats_queue].size))
        return vmm_error(VMM_EFORMAT,
                         "virtio-balloon: held stats buffer %u on queue %u is outside the "
                         "device's %u queues of %u entries",
                         head, stats_queue, vd->nr_queues,
                         stats_queue < vd->nr_queues ? vd->queues[stats_queue].size : 0);
    pthread_mutex_lock(&b->vd.lock);
    b->num_pages = num_pages;
    b->actual = actual;
    pthread_mutex_unlock(&b->vd.lock);
    pthread_mutex_lock(&b->lock);
    b->inflated = inflated;
    b->deflated = deflated;
    b->reported_bytes = reported;
    b->errors = errors;
    b->stats_held = held != 0;
    b->stats_head = head;
    b->stats_queue = stats_queue;
    pthread_mutex_unlock(&b->lock);
    return 0;
}

static void balloon_destroy(struct virtio_dev *vd)
{
    struct virtio_balloon *b = vd->priv;
    if (b->timer_started) {
        pthread_mutex_lock(&b->lock);
        b->timer_stop = 1;
        pthread_cond_signal(&b->timer_cond);
        pthread_mutex_unlock(&b->lock);
        pthread_join(b->timer, NULL);
    }
    virtio_worker_stop(&b->worker);
    virtio_dev_release(vd);
    pthread_cond_destroy(&b->timer_cond);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static const struct virtio_device_ops balloon_ops = {
    .type = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .state_version = 1,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .queue_notify = balloon_notify,
    .driver_ok = balloon_driver_ok,
    .reset = balloon_reset,
    .save = balloon_save,
    .load = balloon_load,
    .destroy = balloon_destroy,
};

struct virtio_balloon *virtio_balloon_of(struct component *c)
{
    struct virtio_dev *vd = c ? virtio_dev_of(c) : NULL;
    return vd && vd->ops == &balloon_ops ? vd->priv : NULL;
}

int virtio_balloon_create(struct machine *m, const struct virtio_placement *at,
                          const struct virtio_balloon_options *opt)
{
    struct virtio_balloon *b = calloc(1, sizeof(*b));
    if (!b)
        return vmm_error(VMM_ENOMEM, "virtio-balloon");
    b->opt = *opt;
    b->num_pages = opt->target_pages;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->timer_cond, &ca);
    pthread_condattr_destroy(&ca);
    uint64_t features = VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ);
    unsigned nr_queues = 3; /* inflate, deflate, stats */
    if (opt->deflate_on_oom)
        features |= VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
    if (opt->free_page_reporting) {
        features |= VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING);
        nr_queues++;
    }
    int rc = virtio_dev_init(&b->vd, m, at->irq, &balloon_ops, b, features, nr_queues,
                             BALLOON_QUEUE_SIZE, BALLOON_CONFIG_SIZE);
    if (rc) {
        pthread_cond_destroy(&b->timer_cond);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return rc;
    }
    if ((rc = virtio_worker_start(&b->worker, "virtio-balloon", nr_queues, balloon_process, b))) {
        virtio_dev_release(&b->vd);
        pthread_cond_destroy(&b->timer_cond);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return rc;
    }
    if (opt->stats_period) {
        if (pthread_create(&b->timer, NULL, stats_timer, b)) {
            balloon_destroy(&b->vd);
            return vmm_error(VMM_EIO, "virtio-balloon: no thread for the stats timer");
        }
        b->timer_started = 1;
    }
    rc = virtio_mmio_attach(m, &b->vd, at);
    if (rc == 0)
        virtio_mmio_notify_fd(m, at->base, b->worker.efd);
    return rc;
}
