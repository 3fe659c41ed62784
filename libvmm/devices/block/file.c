/* The raw-file block backend: requests become preadv/pwritev on the image,
 * FLUSH is fdatasync, DISCARD punches a hole, WRITE_ZEROES punches a hole
 * (when the guest allows unmapping) or zeroes the range in place. Requests
 * run synchronously on the calling (device worker) thread.
 */
#include "devices/block/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"

struct blk_file {
    struct blk_backend be;
    int fd;
    int is_blockdev;
};

static uint64_t file_size(struct blk_file *f)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return 0;
    if (S_ISBLK(st.st_mode)) {
        uint64_t bytes = 0;
        return ioctl(f->fd, BLKGETSIZE64, &bytes) == 0 ? bytes : 0;
    }
    return (uint64_t)st.st_size;
}

/* Full transfer of an iovec array at `offset`, resuming after short reads
 * and writes; reads past the end of the file give zeros. */
static int file_rw(struct blk_file *f, int write, const struct iovec *iov_in, int iovcnt,
                   uint64_t offset, uint64_t len)
{
    struct iovec iov[IOV_MAX];
    if (iovcnt > IOV_MAX)
        return VMM_EINVAL;
    memcpy(iov, iov_in, (size_t)iovcnt * sizeof(*iov));
    struct iovec *cur = iov;
    int left = iovcnt;
    uint64_t done = 0;
    while (done < len && left > 0) {
        ssize_t n = write ? pwritev(f->fd, cur, left, (off_t)(offset + done))
                          : preadv(f->fd, cur, left, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_warn("disk '%s': %s of %llu bytes at %llu: %s", f->be.desc,
                     write ? "write" : "read", (unsigned long long)len,
                     (unsigned long long)offset, strerror(errno));
            return VMM_EIO;
        }
        if (n == 0) {
            if (write)
                return VMM_EIO;
            /* End of file: the rest reads as zeros. */
            for (int i = 0; i < left; i++)
                memset(cur[i].iov_base, 0, cur[i].iov_len);
            return 0;
        }
        done += (uint64_t)n;
        size_t skip = (size_t)n;
        while (left > 0 && skip >= cur->iov_len) {
            skip -= cur->iov_len;
            cur++;
            left--;
        }
        if (left > 0) {
            cur->iov_base = (uint8_t *)cur->iov_base + skip;
            cur->iov_len -= skip;
        }
    }
    return 0;
}

static int file_zero(struct blk_file *f, uint64_t offset, uint64_t len, int punch)
{
    if (punch && !f->is_blockdev &&
        fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len) ==
            0)
        return 0;
    if (!f->is_blockdev &&
        fallocate(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len) == 0)
        return 0;
    /* No fallocate support: write zeros. */
    static const uint8_t zeros[65536];
    while (len) {
        size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
        ssize_t w = pwrite(f->fd, zeros, n, (off_t)offset);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return VMM_EIO;
        offset += (uint64_t)w;
        len -= (uint64_t)w;
    }
    return 0;
}

static void file_submit(struct blk_backend *be, struct blk_req *req)
{
    struct blk_file *f = (struct blk_file *)be;
    int rc = 0;
    switch (req->op) {
    case BLK_READ:
        rc = file_rw(f, 0, req->iov, req->iovcnt, req->offset, req->len);
        break;
    case BLK_WRITE:
        rc = be->readonly ? VMM_EACCES : file_rw(f, 1, req->iov, req->iovcnt, req->offset, req->len);
        break;
    case BLK_FLUSH:
        if (!be->readonly && fdatasync(f->fd) < 0 && errno != EINVAL)
            rc = VMM_EIO;
        break;
    case BLK_DISCARD:
        /* Advisory: a file system without hole punching keeps the bytes. */
        if (be->readonly)
            rc = VMM_EACCES;
        else if (!f->is_blockdev)
            fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)req->offset,
                      (off_t)req->len);
        break;
    case BLK_WRITE_ZEROES:
        rc = be->readonly ? VMM_EACCES : file_zero(f, req->offset, req->len, req->may_unmap);
        break;
    default:
        rc = VMM_ENOTSUP;
    }
    req->complete(req, rc);
}

/* RWF_NOWAIT: the kernel serves the read from its page cache or says it
 * would block (EAGAIN), so a vCPU thread can take a cached read itself. */
static int file_try_read(struct blk_backend *be, const struct iovec *iov, int iovcnt,
                         uint64_t offset, uint64_t len)
{
    struct blk_file *f = (struct blk_file *)be;
    if (iovcnt > IOV_MAX)
        return 1;
    ssize_t n = preadv2(f->fd, iov, iovcnt, (off_t)offset, RWF_NOWAIT);
    /* Anything short of the whole request goes to the worker, which reads
     * it again from the start (a partial read into guest buffers is
     * harmless: the request is not complete until pushed). */
    return n == (ssize_t)len ? 0 : 1;
}

static uint64_t file_refresh_size(struct blk_backend *be)
{
    struct blk_file *f = (struct blk_file *)be;
    be->size = file_size(f);
    return be->size;
}

static void file_destroy(struct blk_backend *be)
{
    struct blk_file *f = (struct blk_file *)be;
    close(f->fd);
    free(f);
}

static const struct blk_backend_ops file_ops = {
    .name = "file",
    .submit = file_submit,
    .try_read = file_try_read,
    .refresh_size = file_refresh_size,
    .destroy = file_destroy,
};

int blk_file_open(const char *path, int readonly, struct blk_backend **out)
{
    int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return vmm_error_errno(errno, "disk image '%s'", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        close(fd);
        return vmm_error(VMM_EINVAL, "disk image '%s' is not a regular file or block device",
                         path);
    }
    struct blk_file *f = calloc(1, sizeof(*f));
    if (!f) {
        close(fd);
        return vmm_error(VMM_ENOMEM, "disk '%s'", path);
    }
    f->fd = fd;
    f->is_blockdev = S_ISBLK(st.st_mode);
    f->be.ops = &file_ops;
    f->be.readonly = readonly;
    f->be.can_discard = !f->is_blockdev;
    snprintf(f->be.desc, sizeof(f->be.desc), "%s", path);
    f->be.size = file_size(f);
    *out = &f->be;
    return 0;
}
