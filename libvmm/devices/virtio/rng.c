#include "devices/virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/worker.h"
#include "util/error.h"
#include "util/log.h"

#define RNG_QUEUE_SIZE 64
/* Most bytes handed out per request: a guest asking for more gets a short
 * fill, which the spec allows and Linux handles. */
#define RNG_MAX_REQUEST 65536

struct virtio_rng {
    struct virtio_dev vd;
    struct virtio_worker worker;
    struct virtq_chain chain;
};

static void rng_process(void *opaque, unsigned q)
{
    struct virtio_rng *r = opaque;
    if (q != 0)
        return;
    /* virtio_dev_pop publishes the event index when the ring runs dry. */
    while (virtio_dev_pop(&r->vd, 0, &r->chain) == 1) {
        struct virtq_chain *c = &r->chain;
        uint32_t written = 0;
        for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in && written < RNG_MAX_REQUEST; i++) {
            uint8_t *p = c->iov[i].iov_base;
            size_t want = c->iov[i].iov_len;
            if (want > RNG_MAX_REQUEST - written)
                want = RNG_MAX_REQUEST - written;
            size_t got = 0;
            while (got < want) {
                ssize_t n = getrandom(p + got, want - got, 0);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0) {
                    log_warn("virtio-rng: getrandom: %s", strerror(errno));
                    break;
                }
                got += (size_t)n;
            }
            written += (uint32_t)got;
            if (got < want)
                break;
        }
        virtio_dev_push(&r->vd, 0, c->head, written);
    }
}

static void rng_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_rng *r = vd->priv;
    virtio_worker_kick(&r->worker);
}

static void rng_reset(struct virtio_dev *vd)
{
    struct virtio_rng *r = vd->priv;
    virtio_worker_quiesce(&r->worker);
    virtio_worker_resume(&r->worker);
}

static void rng_destroy(struct virtio_dev *vd)
{
    struct virtio_rng *r = vd->priv;
    virtio_worker_stop(&r->worker);
    virtio_dev_release(vd);
    free(r);
}

static const struct virtio_device_ops rng_ops = {
    .type = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .state_version = 1,
    .queue_notify = rng_notify,
    .reset = rng_reset,
    .destroy = rng_destroy,
};

int virtio_rng_create(struct machine *m, const struct virtio_placement *at)
{
    struct virtio_rng *r = calloc(1, sizeof(*r));
    if (!r)
        return vmm_error(VMM_ENOMEM, "virtio-rng");
    int rc = virtio_dev_init(&r->vd, m, at->irq, &rng_ops, r, 0, 1, RNG_QUEUE_SIZE, 0);
    if (rc == 0)
        rc = virtio_worker_start(&r->worker, "virtio-rng", 1, rng_process, r);
    if (rc) {
        free(r);
        return rc;
    }
    rc = virtio_mmio_attach(m, &r->vd, at);
    if (rc == 0)
        virtio_mmio_notify_fd(m, at->base, r->worker.efd);
    return rc;
}
