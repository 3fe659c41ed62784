#include "devices/virtio/blk.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/worker.h"
#include "util/error.h"
#include "util/log.h"

#define BLK_QUEUE_SIZE 256
#define SECTOR 512ULL
/* Segments Linux may put in one request: the chain's buffers minus the
 * header and the status byte. */
#define BLK_SEG_MAX (VIRTQ_MAX_SEGS - 2)
#define BLK_MAX_DISCARD_SEG 32
#define BLK_MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB a segment */

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

/* Config space layout (5.2.4), the fields we fill. */
#define CFG_CAPACITY 0
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGNMENT 44
#define CFG_MAX_WRITE_ZEROES_SECTORS 48
#define CFG_MAX_WRITE_ZEROES_SEG 52
#define CFG_WRITE_ZEROES_MAY_UNMAP 56
#define CFG_SIZE 60

struct virtio_blk {
    struct virtio_dev vd;
    struct virtio_worker worker;
    struct blk_backend *be;
    char serial[VIRTIO_BLK_SERIAL_MAX];
    uint8_t config[CFG_SIZE];
    struct virtq_chain chain; /* the worker's scratch chain */
    struct virtq_chain inline_chain; /* blk_inline's (a vCPU thread) */
    uint64_t inline_reads;    /* reads served on the notifying vCPU thread */

    pthread_mutex_t inflight_lock;
    pthread_cond_t inflight_done;
    unsigned inflight;
};

/* One guest request between submission and completion. */
struct blk_inflight {
    struct virtio_blk *dev;
    uint16_t head;
    uint8_t *status;        /* the chain's last writable byte */
    uint32_t written;       /* used length to report */
    unsigned pending;       /* backend requests not yet completed */
    int failed;             /* one of them failed */
    pthread_mutex_t lock;
    struct blk_req reqs[BLK_MAX_DISCARD_SEG];
    int iovcnt;
    struct iovec iov[];     /* READ/WRITE data buffers */
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void config_fill(struct virtio_blk *b)
{
    memset(b->config, 0, sizeof(b->config));
    put_le(b->config + CFG_CAPACITY, b->be->size / SECTOR, 8);
    put_le(b->config + CFG_SEG_MAX, BLK_SEG_MAX, 4);
    put_le(b->config + CFG_BLK_SIZE, SECTOR, 4);
    put_le(b->config + CFG_MAX_DISCARD_SECTORS, BLK_MAX_DISCARD_SECTORS, 4);
    put_le(b->config + CFG_MAX_DISCARD_SEG, BLK_MAX_DISCARD_SEG, 4);
    put_le(b->config + CFG_DISCARD_ALIGNMENT, 4096 / SECTOR, 4);
    put_le(b->config + CFG_MAX_WRITE_ZEROES_SECTORS, BLK_MAX_DISCARD_SECTORS, 4);
    put_le(b->config + CFG_MAX_WRITE_ZEROES_SEG, BLK_MAX_DISCARD_SEG, 4);
    b->config[CFG_WRITE_ZEROES_MAY_UNMAP] = (uint8_t)b->be->can_discard;
}

static void blk_config_read(struct virtio_dev *vd, uint32_t offset, void *buf, uint32_t len)
{
    struct virtio_blk *b = vd->priv;
    memcpy(buf, b->config + offset, len);
}

/* --- completion --- */

static void inflight_finish(struct blk_inflight *f)
{
    struct virtio_blk *b = f->dev;
    *f->status = f->failed ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
    virtio_dev_push(&b->vd, 0, f->head, f->written);
    pthread_mutex_destroy(&f->lock);
    free(f);
    pthread_mutex_lock(&b->inflight_lock);
    if (--b->inflight == 0)
        pthread_cond_broadcast(&b->inflight_done);
    pthread_mutex_unlock(&b->inflight_lock);
}

static void req_complete(struct blk_req *req, int status)
{
    struct blk_inflight *f = req->opaque;
    pthread_mutex_lock(&f->lock);
    if (status)
        f->failed = 1;
    int last = --f->pending == 0;
    pthread_mutex_unlock(&f->lock);
    if (last)
        inflight_finish(f);
}

/* The status byte: the last byte of the chain's device-writable part
 * (5.2.6). Empty buffers may come after it: the driver frames a request as
 * it likes (2.6.4), and an empty buffer's iov_base points at no guest
 * memory. handle_request() checked in_len >= 1, so one writable buffer is
 * not empty. */
static uint8_t *status_byte(const struct virtq_chain *c)
{
    unsigned k = c->nr_out + c->nr_in;
    while (c->iov[k - 1].iov_len == 0)
        k--;
    return (uint8_t *)c->iov[k - 1].iov_base + c->iov[k - 1].iov_len - 1;
}

/* Answers a request at once with `status` (nothing reaches the backend). */
static void reply_now(struct virtio_blk *b, const struct virtq_chain *c, uint8_t status,
                      uint32_t written)
{
    *status_byte(c) = status;
    virtio_dev_push(&b->vd, 0, c->head, written);
}

/* Copies the chain's buffers from byte `skip` of the readable (or writable)
 * side, `len` bytes in all, into f->iov. */
static int slice(const struct virtq_chain *c, int writable, uint64_t skip, uint64_t len,
                 struct iovec *out)
{
    unsigned first = writable ? c->nr_out : 0;
    unsigned count = writable ? c->nr_in : c->nr_out;
    int n = 0;
    for (unsigned k = first; k < first + count && len; k++) {
        uint64_t seg = c->iov[k].iov_len;
        if (skip >= seg) {
            skip -= seg;
            continue;
        }
        uint64_t take = seg - skip < len ? seg - skip : len;
        out[n].iov_base = (uint8_t *)c->iov[k].iov_base + skip;
        out[n].iov_len = (size_t)take;
        n++;
        len -= take;
        skip = 0;
    }
    return n;
}

static struct blk_inflight *inflight_new(struct virtio_blk *b, const struct virtq_chain *c,
                                         int iovs)
{
    struct blk_inflight *f = calloc(1, sizeof(*f) + (size_t)iovs * sizeof(struct iovec));
    if (!f)
        return NULL;
    f->dev = b;
    f->head = c->head;
    f->status = status_byte(c);
    f->written = 1;
    pthread_mutex_init(&f->lock, NULL);
    pthread_mutex_lock(&b->inflight_lock);
    b->inflight++;
    pthread_mutex_unlock(&b->inflight_lock);
    return f;
}

static int range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
    uint64_t cap = b->be->size / SECTOR;
    return sector <= cap && bytes / SECTOR <= cap - sector && bytes % SECTOR == 0;
}

static void handle_rw(struct virtio_blk *b, const struct virtq_chain *c, uint32_t type,
                      uint64_t sector)
{
    int is_write = type == VIRTIO_BLK_T_OUT;
    uint64_t len = is_write ? c->out_len - 16 : c->in_len - 1;
    if (is_write && b->be->readonly) {
        reply_now(b, c, VIRTIO_BLK_S_IOERR, 1);
        return;
    }
    if (!range_ok(b, sector, len)) {
        reply_now(b, c, VIRTIO_BLK_S_IOERR, 1);
        return;
    }
    struct blk_inflight *f = inflight_new(b, c, (int)(c->nr_out + c->nr_in));
    if (!f) {
        reply_now(b, c, VIRTIO_BLK_S_IOERR, 1);
        return;
    }
    f->iovcnt = slice(c, !is_write, is_write ? 16 : 0, len, f->iov);
    f->written = is_write ? 1 : (uint32_t)len + 1;
    f->pending = 1;
    struct blk_req *r = &f->reqs[0];
    r->op = is_write ? BLK_WRITE : BLK_READ;
    r->offset = sector * SECTOR;
    r->len = len;
    r->iov = f->iov;
    r->iovcnt = f->iovcnt;
    r->complete = req_complete;
    r->opaque = f;
    b->be->ops->submit(b->be, r);
}

static void handle_discard(struct virtio_blk *b, const struct virtq_chain *c, uint32_t type)
{
    if (b->be->readonly) {
        reply_now(b, c, VIRTIO_BLK_S_IOERR, 1);
        return;
    }
    uint64_t payload = c->out_len - 16;
    if (payload == 0 || payload % 16 || payload / 16 > BLK_MAX_DISCARD_SEG) {
        reply_now(b, c, VIRTIO_BLK_S_UNSUPP, 1);
        return;
    }
    unsigned nseg = (unsigned)(payload / 16);
    uint8_t seg[16 * BLK_MAX_DISCARD_SEG];
    virtq_chain_read(c, 16, seg, payload);
    for (unsigned i = 0; i < nseg; i++) {
        uint64_t sector = get_le(seg + 16 * i, 8);
        uint32_t nsec = (uint32_t)get_le(seg + 16 * i + 8, 4);
        uint32_t flags = (uint32_t)get_le(seg + 16 * i + 12, 4);
        if (nsec > BLK_MAX_DISCARD_SECTORS || (flags & ~1u) ||
            !range_ok(b, sector, (uint64_t)nsec * SECTOR)) {
            reply_now(b, c, VIRTIO_BLK_S_IOERR, 1);
            return;
        }
    }
    struct blk_inflight *f = inflight_new(b, c, 0);
    if (!f) {
        reply_now(b, c, VIRTIO_BLK_S_IOERR, 1);
        return;
    }
    f->pending = nseg;
    for (unsigned i = 0; i < nseg; i++) {
        struct blk_req *r = &f->reqs[i];
        r->op = type == VIRTIO_BLK_T_DISCARD ? BLK_DISCARD : BLK_WRITE_ZEROES;
        r->offset = get_le(seg + 16 * i, 8) * SECTOR;
        r->len = get_le(seg + 16 * i + 8, 4) * SECTOR;
        r->may_unmap = (int)(get_le(seg + 16 * i + 12, 4) & 1);
        r->complete = req_complete;
        r->opaque = f;
    }
    /* Submit after setting up all: an inline completion of the last one
     * frees f. */
    for (unsigned i = 0; i < nseg; i++)
        b->be->ops->submit(b->be, &f->reqs[i]);
}

static void handle_flush(struct virtio_blk *b, const struct virtq_chain *c)
{
    struct blk_inflight *f = inflight_new(b, c, 0);
    if (!f) {
        reply_now(b, c, VIRTIO_BLK_S_IOERR, 1);
        return;
    }
    f->pending = 1;
    f->reqs[0].op = BLK_FLUSH;
    f->reqs[0].complete = req_complete;
    f->reqs[0].opaque = f;
    b->be->ops->submit(b->be, &f->reqs[0]);
}

static void handle_request(struct virtio_blk *b, const struct virtq_chain *c)
{
    if (c->out_len < 16 || c->in_len < 1) {
        virtio_dev_fail(&b->vd, "virtio-blk request without a 16-byte header or a status byte");
        return;
    }
    uint8_t hdr[16];
    virtq_chain_read(c, 0, hdr, sizeof(hdr));
    uint32_t type = (uint32_t)get_le(hdr, 4);
    uint64_t sector = get_le(hdr + 8, 8);
    switch (type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        handle_rw(b, c, type, sector);
        break;
    case VIRTIO_BLK_T_FLUSH:
        handle_flush(b, c);
        break;
    case VIRTIO_BLK_T_GET_ID: {
        uint8_t id[VIRTIO_BLK_SERIAL_MAX];
        memset(id, 0, sizeof(id));
        memcpy(id, b->serial, strnlen(b->serial, sizeof(b->serial)));
        uint64_t room = c->in_len - 1;
        size_t n = virtq_chain_write(c, 0, id, room < sizeof(id) ? (size_t)room : sizeof(id));
        reply_now(b, c, VIRTIO_BLK_S_OK, (uint32_t)n + 1);
        break;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        handle_discard(b, c, type);
        break;
    default:
        reply_now(b, c, VIRTIO_BLK_S_UNSUPP, 1);
    }
}

static void blk_process(void *opaque, unsigned q)
{
    struct virtio_blk *b = opaque;
    if (q != 0)
        return;
    /* virtio_dev_pop publishes the event index when the ring runs dry. */
    while (virtio_dev_pop(&b->vd, 0, &b->chain) == 1)
        handle_request(b, &b->chain);
}

/* On the notifying vCPU thread while the worker is idle: reads the host
 * has in its page cache are served right here (a non-blocking read, so the
 * guest never waits on the disk), saving the two thread wake-ups a hand-off
 * costs (notify -> worker, completion -> vCPU). The first request that is
 * not such a read is put back, and the worker takes it from there. */
static void blk_inline(void *opaque)
{
    struct virtio_blk *b = opaque;
    struct virtq_chain *c = &b->inline_chain;
    struct virtq *q = &b->vd.queues[0];
    int notify = 0, hand_off = 0;
    /* push_lock for the whole run: the driver cannot reset or re-program
     * the queue between a pop and its push or its unpop. Anything unusual
     * (a malformed chain included) is left to the worker's full path. */
    pthread_mutex_lock(&b->vd.push_lock);
    while (virtio_dev_queue_live(&b->vd, 0)) {
        int rc = virtq_pop(q, &b->vd.m->mem, c);
        if (rc == 0 && q->event_idx) {
            /* Dry: ask for the next notify, then look once more (as
             * virtio_dev_pop does). */
            virtq_update_avail_event(q);
            rc = virtq_pop(q, &b->vd.m->mem, c);
        }
        if (rc <= 0) {
            hand_off = rc < 0; /* the worker's pop reports the guest's error */
            break;
        }
        uint8_t hdr[16];
        int served = 0;
        if (c->out_len >= 16 && c->in_len >= 2 && c->nr_in <= IOV_MAX) {
            virtq_chain_read(c, 0, hdr, sizeof(hdr));
            uint64_t len = c->in_len - 1, sector = get_le(hdr + 8, 8);
            if (get_le(hdr, 4) == VIRTIO_BLK_T_IN && range_ok(b, sector, len)) {
                struct iovec iov[IOV_MAX];
                int n = slice(c, 1, 0, len, iov);
                if (b->be->ops->try_read(b->be, iov, n, sector * SECTOR, len) == 0) {
                    *status_byte(c) = VIRTIO_BLK_S_OK;
                    virtq_push(q, c->head, (uint32_t)len + 1);
                    notify |= virtq_should_notify(q);
                    b->inline_reads++;
                    served = 1;
                }
            }
        }
        if (!served) {
            virtq_unpop(q);
            hand_off = 1;
            break;
        }
    }
    pthread_mutex_unlock(&b->vd.push_lock);
    if (notify)
        virtio_dev_interrupt(&b->vd, VIRTIO_INT_USED_RING);
    if (hand_off)
        virtio_worker_kick(&b->worker);
}

static void blk_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_blk *b = vd->priv;
    if (!b->be->ops->try_read || !virtio_worker_try_run(&b->worker, blk_inline, b))
        virtio_worker_kick(&b->worker);
}

/* Waits until the backend completed everything submitted. */
static void blk_drain(struct virtio_blk *b)
{
    pthread_mutex_lock(&b->inflight_lock);
    while (b->inflight)
        pthread_cond_wait(&b->inflight_done, &b->inflight_lock);
    pthread_mutex_unlock(&b->inflight_lock);
}

static void blk_reset(struct virtio_dev *vd)
{
    struct virtio_blk *b = vd->priv;
    virtio_worker_quiesce(&b->worker);
    blk_drain(b);
    virtio_worker_resume(&b->worker);
}

static int blk_save(struct virtio_dev *vd, struct state_writer *w)
{
    struct virtio_blk *b = vd->priv;
    /* In-flight requests finish before the state is taken, so the disk
     * holds everything the saved used ring says was done. */
    virtio_worker_quiesce(&b->worker);
    blk_drain(b);
    virtio_worker_resume(&b->worker);
    state_put_u64(w, b->be->size);
    return 0;
}

static int blk_load(struct virtio_dev *vd, struct state_reader *r, uint32_t version)
{
    struct virtio_blk *b = vd->priv;
    uint64_t size;
    int rc = state_get_u64(r, &size);
    if (rc)
        return rc;
    if (size != b->be->size)
        return vmm_error(VMM_EFORMAT, "virtio-blk '%s': saved with a disk of %llu bytes, the "
                         "image is now %llu bytes", b->be->desc, (unsigned long long)size,
                         (unsigned long long)b->be->size);
    return 0;
}

static void blk_destroy(struct virtio_dev *vd)
{
    struct virtio_blk *b = vd->priv;
    virtio_worker_stop(&b->worker);
    blk_drain(b);
    virtio_dev_release(vd);
    blk_backend_destroy(b->be);
    pthread_mutex_destroy(&b->inflight_lock);
    pthread_cond_destroy(&b->inflight_done);
    free(b);
}

static const struct virtio_device_ops blk_ops = {
    .type = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .state_version = 1,
    .config_read = blk_config_read,
    .queue_notify = blk_notify,
    .reset = blk_reset,
    .save = blk_save,
    .load = blk_load,
    .destroy = blk_destroy,
};

int virtio_blk_create(struct machine *m, const struct virtio_placement *at, struct blk_backend *be,
                      const char *serial, struct virtio_blk **out)
{
    const char *name = at->name;
    if (serial && strlen(serial) > VIRTIO_BLK_SERIAL_MAX) {
        blk_backend_destroy(be);
        return vmm_error(VMM_EINVAL, "disk serial '%s': %zu bytes, limit %d", serial,
                         strlen(serial), VIRTIO_BLK_SERIAL_MAX);
    }
    struct virtio_blk *b = calloc(1, sizeof(*b));
    if (!b) {
        blk_backend_destroy(be);
        return vmm_error(VMM_ENOMEM, "virtio-blk '%s'", name);
    }
    b->be = be;
    if (serial)
        memcpy(b->serial, serial, strlen(serial));
    pthread_mutex_init(&b->inflight_lock, NULL);
    pthread_cond_init(&b->inflight_done, NULL);
    config_fill(b);
    uint64_t features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
                        VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
    if (be->readonly)
        features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
    else
        features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
    int rc = virtio_dev_init(&b->vd, m, at->irq, &blk_ops, b, features, 1, BLK_QUEUE_SIZE, CFG_SIZE);
    if (rc == 0)
        rc = virtio_worker_start(&b->worker, "virtio-blk", 1, blk_process, b);
    if (rc) {
        blk_backend_destroy(be);
        pthread_mutex_destroy(&b->inflight_lock);
        pthread_cond_destroy(&b->inflight_done);
        free(b);
        return rc;
    }
    if (out)
        *out = b;
    rc = virtio_mmio_attach(m, &b->vd, at);
    if (rc == 0)
        virtio_mmio_notify_fd(m, at->base, b->worker.efd);
    return rc;
}

struct virtio_blk *virtio_blk_of(struct component *c)
{
    struct virtio_dev *vd = c ? virtio_dev_of(c) : NULL;
    return vd && vd->ops == &blk_ops ? vd->priv : NULL;
}

uint64_t virtio_blk_refresh_capacity(struct virtio_blk *b)
{
    uint64_t old = b->be->size;
    uint64_t now = b->be->ops->refresh_size(b->be);
    if (now != old) {
        pthread_mutex_lock(&b->vd.lock);
        put_le(b->config + CFG_CAPACITY, now / SECTOR, 8);
        pthread_mutex_unlock(&b->vd.lock);
        virtio_dev_config_changed(&b->vd);
    }
    return now;
}
