/* The network backend a host program writes (include/vmm/device.h): guest
 * frames go to its send callback (bare Ethernet frames), and frames it
 * hands to vmm_vm_net_receive() enter the backend's queue as a receive
 * thread's would. The receive thread has no descriptor to wait on. */
#include "devices/net/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "vmm/device.h"

struct net_host {
    struct net_backend be;
    vmm_net_backend_ops_t ops;
    void *opaque;
    uint8_t frame[NET_FRAME_MAX];
};

static int host_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    struct net_host *h = (struct net_host *)be;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > sizeof(h->frame) - len)
            return 0; /* longer than a frame: dropped */
        memcpy(h->frame + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    h->ops.send(h->opaque, h->frame, len);
    return 0;
}

static int host_prepare(struct net_backend *be, struct pollfd *p)
{
    (void)be;
    p->fd = -1; /* frames arrive by vmm_vm_net_receive() */
    return -1;
}

static void host_service(struct net_backend *be, short revents)
{
    (void)be;
    (void)revents;
}

static void host_destroy(struct net_backend *be)
{
    struct net_host *h = (struct net_host *)be;
    if (h->ops.destroy)
        h->ops.destroy(h->opaque);
    free(h);
}

static const struct net_backend_ops host_ops = {
    .name = "host",
    .send = host_send,
    .prepare = host_prepare,
    .service = host_service,
    .destroy = host_destroy,
};

int net_host_open(const vmm_net_backend_ops_t *ops, void *opaque, struct net_backend **out)
{
    struct net_host *h = calloc(1, sizeof(*h));
    if (!h)
        return vmm_error(VMM_ENOMEM, "host network backend");
    int rc = net_backend_init(&h->be, &host_ops);
    if (rc) {
        free(h);
        return rc;
    }
    h->ops = *ops;
    h->opaque = opaque;
    snprintf(h->be.desc, sizeof(h->be.desc), "the host program");
    *out = &h->be;
    return 0;
}

int net_backend_offer(struct net_backend *be, const void *frame, size_t len)
{
    if (be->ops != &host_ops)
        return vmm_error(VMM_EINVAL, "this NIC is served by %s, not by the host program",
                         be->desc);
    if (len < 14 || len > NET_FRAME_MAX)
        return vmm_error(VMM_EINVAL, "frame of %zu bytes, an Ethernet frame is 14..%d", len,
                         NET_FRAME_MAX);
    pthread_mutex_lock(&be->lock);
    unsigned queued = be->queued;
    pthread_mutex_unlock(&be->lock);
    if (queued >= NET_RXQ_FRAMES)
        return vmm_error(VMM_EBUSY, "the guest is not taking frames: %u queued, limit %d",
                         queued, NET_RXQ_FRAMES);
    net_backend_deliver(be, frame, len);
    return 0;
}
