#include "devices/virtio/net.h"

#include <stdlib.h>
#include <string.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/worker.h"
#include "util/error.h"
#include "util/log.h"

#define NET_QUEUE_SIZE 256
#define RXQ 0
#define TXQ 1
#define ETH_HLEN 14
#define TX_MAX_IOV 64 /* more segments than this are copied into one buffer */

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_STATUS 16

/* struct virtio_net_hdr (5.1.6): flags, gso_type, hdr_len, gso_size,
 * csum_start, csum_offset, num_buffers. */
#define HDR_FLAGS 0
#define HDR_GSO_TYPE 1
#define HDR_NUM_BUFFERS 10
#define HDR_F_NEEDS_CSUM 1u
#define HDR_F_DATA_VALID 2u
#define GSO_NONE 0
#define GSO_TCPV4 1
#define GSO_TCPV6 4
#define GSO_ECN 0x80

/* Config space (5.1.4): mac[6], status (le16). */
#define CFG_MAC 0
#define CFG_STATUS 6
#define CFG_SIZE 8
#define VIRTIO_NET_S_LINK_UP 1

struct virtio_net {
    struct virtio_dev vd;
    struct virtio_worker worker;
    struct net_backend *be;
    uint8_t config[CFG_SIZE];
    struct virtq_chain rx_chain, tx_chain; /* the worker's scratch chains */
    uint8_t *txbuf;                        /* NET_FRAME_MAX: a frame in many pieces */
    struct virtio_net_stats stats;
    int warned_big;
};

static void stat_add(uint64_t *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static void net_config_read(struct virtio_dev *vd, uint32_t offset, void *buf, uint32_t len)
{
    struct virtio_net *n = vd->priv;
    memcpy(buf, n->config + offset, len);
}

/* --- transmit ------------------------------------------------------------ */

/* Points out[] at `len` bytes of the chain's readable side from byte `skip`;
 * returns how many entries, or -1 when more than `max` would be needed. */
static int slice_out(const struct virtq_chain *c, uint64_t skip, uint64_t len, struct iovec *out,
                     int max)
{
    int k = 0;
    for (unsigned i = 0; i < c->nr_out && len; i++) {
        uint64_t seg = c->iov[i].iov_len;
        if (skip >= seg) {
            skip -= seg;
            continue;
        }
        if (k == max)
            return -1;
        uint64_t take = seg - skip < len ? seg - skip : len;
        out[k].iov_base = (uint8_t *)c->iov[i].iov_base + skip;
        out[k].iov_len = (size_t)take;
        k++;
        len -= take;
        skip = 0;
    }
    return k;
}

/* Whether a guest header asks only for what was negotiated. */
static int tx_hdr_ok(struct virtio_net *n, const uint8_t *hdr)
{
    if ((hdr[HDR_FLAGS] & HDR_F_NEEDS_CSUM) && !virtio_dev_has(&n->vd, VIRTIO_NET_F_CSUM))
        return 0;
    switch (hdr[HDR_GSO_TYPE] & ~GSO_ECN) {
    case GSO_NONE:
        return !(hdr[HDR_GSO_TYPE] & GSO_ECN);
    case GSO_TCPV4:
        return virtio_dev_has(&n->vd, VIRTIO_NET_F_HOST_TSO4) && !(hdr[HDR_GSO_TYPE] & GSO_ECN);
    case GSO_TCPV6:
        return virtio_dev_has(&n->vd, VIRTIO_NET_F_HOST_TSO6) && !(hdr[HDR_GSO_TYPE] & GSO_ECN);
    default:
        return 0;
    }
}

static void tx_one(struct virtio_net *n, const struct virtq_chain *c)
{
    if (c->out_len < NET_HDR_LEN) {
        virtio_dev_fail(&n->vd, "virtio-net transmit chain shorter than the 12-byte header");
        return;
    }
    uint64_t len = c->out_len - NET_HDR_LEN;
    uint8_t hdr[NET_HDR_LEN];
    virtq_chain_read(c, 0, hdr, sizeof(hdr));
    if (len < ETH_HLEN || len > NET_FRAME_MAX || !tx_hdr_ok(n, hdr)) {
        if (len > NET_FRAME_MAX && !n->warned_big) {
            n->warned_big = 1;
            log_warn("virtio-net: guest sent a %llu-byte frame (limit %d); dropped",
                     (unsigned long long)len, NET_FRAME_MAX);
        }
        stat_add(&n->stats.tx_dropped);
        virtio_dev_push(&n->vd, TXQ, c->head, 0);
        return;
    }
    struct iovec iov[TX_MAX_IOV + 1];
    int k = 0;
    if (n->be->vnet_hdr) {
        hdr[HDR_NUM_BUFFERS] = hdr[HDR_NUM_BUFFERS + 1] = 0;
        iov[k].iov_base = hdr;
        iov[k].iov_len = NET_HDR_LEN;
        k++;
    }
    int pieces = slice_out(c, NET_HDR_LEN, len, iov + k, TX_MAX_IOV);
    if (pieces < 0) {
        virtq_chain_read(c, NET_HDR_LEN, n->txbuf, (size_t)len);
        iov[k].iov_base = n->txbuf;
        iov[k].iov_len = (size_t)len;
        pieces = 1;
    }
    n->be->ops->send(n->be, iov, k + pieces);
    stat_add(&n->stats.tx_frames);
    virtio_dev_push(&n->vd, TXQ, c->head, 0);
}

static void tx_process(struct virtio_net *n)
{
    for (;;) {
        while (virtio_dev_pop(&n->vd, TXQ, &n->tx_chain) == 1)
            tx_one(n, &n->tx_chain);
        virtq_update_avail_event(&n->vd.queues[TXQ]);
        /* A frame queued after the last pop, before the event index was
         * published, brings no notification: look once more. */
        if (virtio_dev_pop(&n->vd, TXQ, &n->tx_chain) != 1)
            break;
        tx_one(n, &n->tx_chain);
    }
}

/* --- receive ------------------------------------------------------------- */

/* The header the guest gets for frame f, or -1 when the guest did not
 * negotiate what the frame needs. */
static int rx_hdr(struct virtio_net *n, const struct net_frame *f, uint8_t *hdr)
{
    memset(hdr, 0, NET_HDR_LEN);
    if (n->be->vnet_hdr) {
        memcpy(hdr, f->data, NET_HDR_LEN);
        if (hdr[HDR_GSO_TYPE] != GSO_NONE)
            return -1; /* no GUEST_TSO offered */
        if (!virtio_dev_has(&n->vd, VIRTIO_NET_F_GUEST_CSUM)) {
            if (hdr[HDR_FLAGS] & HDR_F_NEEDS_CSUM)
                return -1;
            hdr[HDR_FLAGS] = 0;
        }
        hdr[HDR_FLAGS] &= HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID;
    }
    hdr[HDR_NUM_BUFFERS] = 1;
    hdr[HDR_NUM_BUFFERS + 1] = 0;
    return 0;
}

static void rx_process(struct virtio_net *n)
{
    struct virtq_chain *c = &n->rx_chain;
    struct net_frame *f;
    while ((f = net_backend_peek(n->be))) {
        if (!virtio_dev_queue_live(&n->vd, RXQ))
            return; /* frames wait for the driver (the queue is bounded) */
        if (virtio_dev_pop(&n->vd, RXQ, c) != 1) {
            /* The ring ran dry: ask for a notification when the guest posts
             * buffers, then look once more in case it just did. */
            virtq_update_avail_event(&n->vd.queues[RXQ]);
            if (virtio_dev_pop(&n->vd, RXQ, c) != 1)
                return;
        }
        uint8_t hdr[NET_HDR_LEN];
        size_t skip = n->be->vnet_hdr ? NET_HDR_LEN : 0;
        size_t len = f->len - skip;
        if (rx_hdr(n, f, hdr) || c->in_len < NET_HDR_LEN + len) {
            /* Linux counts a used length below header + Ethernet header as
             * a length error and reposts the buffer. */
            stat_add(&n->stats.rx_dropped);
            virtio_dev_push(&n->vd, RXQ, c->head, 0);
        } else {
            virtq_chain_write(c, 0, hdr, NET_HDR_LEN);
            virtq_chain_write(c, NET_HDR_LEN, f->data + skip, len);
            stat_add(&n->stats.rx_frames);
            virtio_dev_push(&n->vd, RXQ, c->head, (uint32_t)(NET_HDR_LEN + len));
        }
        net_backend_pop(n->be);
    }
}

/* --- worker, transport hooks --------------------------------------------- */

static void net_process(void *opaque, unsigned q)
{
    struct virtio_net *n = opaque;
    if (q == RXQ)
        rx_process(n);
    else if (q == TXQ)
        tx_process(n);
}

/* Receive thread: a frame was queued. */
static void net_backend_ready(void *opaque)
{
    struct virtio_net *n = opaque;
    virtio_worker_kick(&n->worker);
}

static void net_notify(struct virtio_dev *vd, unsigned q)
{
    struct virtio_net *n = vd->priv;
    virtio_worker_kick(&n->worker);
}

static void net_driver_ok(struct virtio_dev *vd)
{
    struct virtio_net *n = vd->priv;
    if (n->be->ops->set_offload) {
        unsigned off = virtio_dev_has(vd, VIRTIO_NET_F_GUEST_CSUM) ? NET_OFFLOAD_CSUM : 0;
        if (n->be->ops->set_offload(n->be, off))
            log_warn("virtio-net: %s", vmm_last_error());
    }
    /* Frames may have queued while the driver set up. */
    virtio_worker_kick(&n->worker);
}

static void net_reset(struct virtio_dev *vd)
{
    struct virtio_net *n = vd->priv;
    virtio_worker_quiesce(&n->worker);
    /* Frames read for the previous driver may carry offloads the next one
     * does not take: start afresh. */
    while (net_backend_peek(n->be))
        net_backend_pop(n->be);
    virtio_worker_resume(&n->worker);
}

static int net_save(struct virtio_dev *vd, struct state_writer *w)
{
    struct virtio_net *n = vd->priv;
    /* Let the worker finish what it is doing with the rings. */
    virtio_worker_quiesce(&n->worker);
    virtio_worker_resume(&n->worker);
    state_put_bytes(w, n->config + CFG_MAC, 6);
    return 0;
}

static int net_load(struct virtio_dev *vd, struct state_reader *r, uint32_t version)
{
    struct virtio_net *n = vd->priv;
    uint8_t mac[6];
    int rc = state_get_bytes(r, mac, sizeof(mac));
    if (rc)
        return rc;
    if (memcmp(mac, n->config + CFG_MAC, 6))
        return vmm_error(VMM_EFORMAT, "virtio-net: saved with MAC %02x:%02x:%02x:%02x:%02x:%02x, "
                         "the NIC now has another", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return 0;
}

static void net_destroy(struct virtio_dev *vd)
{
    struct virtio_net *n = vd->priv;
    /* The receive thread kicks the worker: it goes first. */
    net_backend_stop(n->be);
    virtio_worker_stop(&n->worker);
    virtio_dev_release(vd);
    net_backend_destroy(n->be);
    free(n->txbuf);
    free(n);
}

static const struct virtio_device_ops net_ops = {
    .type = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .state_version = 1,
    .config_read = net_config_read,
    .queue_notify = net_notify,
    .driver_ok = net_driver_ok,
    .reset = net_reset,
    .save = net_save,
    .load = net_load,
    .destroy = net_destroy,
};

int virtio_net_create(struct machine *m, const struct virtio_placement *at, const uint8_t mac[6],
                      struct net_backend *be, struct virtio_net **out)
{
    const char *name = at->name;
    struct virtio_net *n = calloc(1, sizeof(*n));
    uint8_t *txbuf = malloc(NET_FRAME_MAX);
    if (!n || !txbuf) {
        free(n);
        free(txbuf);
        net_backend_destroy(be);
        return vmm_error(VMM_ENOMEM, "virtio-net '%s'", name);
    }
    n->be = be;
    n->txbuf = txbuf;
    memcpy(n->config + CFG_MAC, mac, 6);
    n->config[CFG_STATUS] = VIRTIO_NET_S_LINK_UP;
    uint64_t features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS);
    if (be->vnet_hdr)
        features |= VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
                    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6);
    int rc = virtio_dev_init(&n->vd, m, at->irq, &net_ops, n, features, 2, NET_QUEUE_SIZE, CFG_SIZE);
    if (rc == 0)
        rc = virtio_worker_start(&n->worker, "virtio-net", 2, net_process, n);
    if (rc == 0 && (rc = net_backend_start(be, net_backend_ready, n)))
        virtio_worker_stop(&n->worker);
    if (rc) {
        net_backend_destroy(be);
        free(txbuf);
        free(n);
        return rc;
    }
    if (out)
        *out = n;
    rc = virtio_mmio_attach(m, &n->vd, at);
    if (rc == 0)
        virtio_mmio_notify_fd(m, at->base, n->worker.efd);
    return rc;
}

void virtio_net_stats(struct virtio_net *n, struct virtio_net_stats *out)
{
    out->tx_frames = __atomic_load_n(&n->stats.tx_frames, __ATOMIC_RELAXED);
    out->tx_dropped = __atomic_load_n(&n->stats.tx_dropped, __ATOMIC_RELAXED);
    out->rx_frames = __atomic_load_n(&n->stats.rx_frames, __ATOMIC_RELAXED);
    out->rx_dropped = __atomic_load_n(&n->stats.rx_dropped, __ATOMIC_RELAXED);
}

struct virtio_net *virtio_net_of(struct component *c)
{
    struct virtio_dev *vd = c ? virtio_dev_of(c) : NULL;
    return vd && vd->ops == &net_ops ? vd->priv : NULL;
}

struct net_backend *virtio_net_backend(struct virtio_net *n)
{
    return n->be;
}
