/* A block backend: where a virtual disk's bytes live. The virtio-blk device
 * (and any future block device) turns guest requests into blk_req and
 * submits them here; backends are a raw file today, and a host program's
 * own callbacks (include/vmm/device.h) — qcow2 or a network store would be
 * another backend without touching the device or the transport.
 *
 * A backend completes each request exactly once by calling
 * req->complete(req, status), inline from submit or later from any thread.
 * Offsets and lengths are in bytes and checked by the device against the
 * backend's size before submission.
 */
#ifndef LIBVMM_DEVICES_BLOCK_BACKEND_H
#define LIBVMM_DEVICES_BLOCK_BACKEND_H

#include <stdint.h>
#include <sys/uio.h>

enum blk_op {
    BLK_READ,
    BLK_WRITE,
    BLK_FLUSH,        /* everything completed so far is durable */
    BLK_DISCARD,      /* the range's contents no longer matter (may punch holes) */
    BLK_WRITE_ZEROES, /* the range reads as zeros afterwards */
};

struct blk_req {
    enum blk_op op;
    uint64_t offset, len;
    const struct iovec *iov; /* BLK_READ / BLK_WRITE: len bytes in iovcnt buffers */
    int iovcnt;
    int may_unmap;           /* BLK_WRITE_ZEROES: a hole is fine */
    /* status: 0, or a negative VMM_E* code (VMM_EIO for a host I/O error). */
    void (*complete)(struct blk_req *req, int status);
    void *opaque;            /* the submitter's */
};

struct blk_backend;

struct blk_backend_ops {
    const char *name; /* "file", "host" */
    /* Queues or performs a request; completion as described above. */
    void (*submit)(struct blk_backend *be, struct blk_req *req);
    /* A read that must not wait for the disk: completes it (returns 0, no
     * completion call) when every byte is in the host's cache, else returns
     * 1 and has done nothing visible. NULL: none. Any thread. */
    int (*try_read)(struct blk_backend *be, const struct iovec *iov, int iovcnt, uint64_t offset,
                    uint64_t len);
    /* Re-reads the size (a resized image file); returns it in bytes. */
    uint64_t (*refresh_size)(struct blk_backend *be);
    void (*destroy)(struct blk_backend *be);
};

struct blk_backend {
    const struct blk_backend_ops *ops;
    uint64_t size;      /* bytes */
    int readonly;
    int can_discard;    /* DISCARD/WRITE_ZEROES do real work (holes) */
    char desc[256];     /* for messages: the file name */
};

/* A raw image file (devices/block/file.c). Opens `path` read-only or
 * read-write; VMM_ENOENT / VMM_EACCES naming the path, VMM_EINVAL for a
 * file that is not a regular file or block device. */
int blk_file_open(const char *path, int readonly, struct blk_backend **out);

/* A backend the host program wrote (devices/block/host.c): requests go to
 * ops->submit as vmm_blk_request_t. `ops` is copied. */
struct vmm_blk_backend_ops;
int blk_host_open(const struct vmm_blk_backend_ops *ops, void *opaque, uint64_t capacity,
                  int readonly, const char *target, struct blk_backend **out);

static inline void blk_backend_destroy(struct blk_backend *be)
{
    if (be)
        be->ops->destroy(be);
}

#endif
