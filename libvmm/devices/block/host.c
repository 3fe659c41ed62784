/* The block backend a host program writes (include/vmm/device.h): each
 * internal blk_req is handed to the program's submit callback wrapped in a
 * vmm_blk_request_t, which the program completes from any thread.
 */
#include "devices/block/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "vmm/device.h"

struct blk_host {
    struct blk_backend be;
    vmm_blk_backend_ops_t ops;
    void *opaque;
};

/* What the program sees: the request, and the internal one it wraps. */
struct vmm_blk_request {
    struct blk_req *req;
    int completed;
};

vmm_blk_op_t vmm_blk_request_op(const vmm_blk_request_t *r)
{
    switch (r->req->op) {
    case BLK_READ: return VMM_BLK_READ;
    case BLK_WRITE: return VMM_BLK_WRITE;
    case BLK_FLUSH: return VMM_BLK_FLUSH;
    case BLK_DISCARD: return VMM_BLK_DISCARD;
    default: return VMM_BLK_WRITE_ZEROES;
    }
}

uint64_t vmm_blk_request_offset(const vmm_blk_request_t *r) { return r->req->offset; }
uint64_t vmm_blk_request_length(const vmm_blk_request_t *r) { return r->req->len; }

int vmm_blk_request_buffers(const vmm_blk_request_t *r, const struct iovec **iov)
{
    if (iov)
        *iov = r->req->iov;
    return r->req->op == BLK_READ || r->req->op == BLK_WRITE ? r->req->iovcnt : 0;
}

void vmm_blk_request_complete(vmm_blk_request_t *r, int status)
{
    if (!r || r->completed)
        return; /* a second completion is a program bug; ignore it */
    r->completed = 1;
    struct blk_req *req = r->req;
    free(r);
    req->complete(req, status ? VMM_EIO : 0);
}

static void host_submit(struct blk_backend *be, struct blk_req *req)
{
    struct blk_host *h = (struct blk_host *)be;
    if (req->op == BLK_WRITE && be->readonly) {
        req->complete(req, VMM_EACCES);
        return;
    }
    struct vmm_blk_request *r = calloc(1, sizeof(*r));
    if (!r) {
        req->complete(req, VMM_ENOMEM);
        return;
    }
    r->req = req;
    h->ops.submit(h->opaque, r);
}

static uint64_t host_refresh_size(struct blk_backend *be)
{
    struct blk_host *h = (struct blk_host *)be;
    if (h->ops.capacity) {
        uint64_t bytes = h->ops.capacity(h->opaque);
        be->size = bytes - bytes % 512;
    }
    return be->size;
}

static void host_destroy(struct blk_backend *be)
{
    struct blk_host *h = (struct blk_host *)be;
    if (h->ops.destroy)
        h->ops.destroy(h->opaque);
    free(h);
}

static const struct blk_backend_ops host_ops = {
    .name = "host",
    .submit = host_submit,
    .refresh_size = host_refresh_size,
    .destroy = host_destroy,
};

int blk_host_open(const vmm_blk_backend_ops_t *ops, void *opaque, uint64_t capacity, int readonly,
                  const char *target, struct blk_backend **out)
{
    struct blk_host *h = calloc(1, sizeof(*h));
    if (!h)
        return vmm_error(VMM_ENOMEM, "host block backend for '%s'", target);
    h->ops = *ops;
    h->opaque = opaque;
    h->be.ops = &host_ops;
    h->be.size = capacity;
    h->be.readonly = readonly;
    h->be.can_discard = 1;
    snprintf(h->be.desc, sizeof(h->be.desc), "host backend of %s", target);
    *out = &h->be;
    return 0;
}
