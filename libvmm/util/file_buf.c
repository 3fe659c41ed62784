/* Whole files read into memory that is unmapped when freed (file_buf.h). */
#include "util/file_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

static uint8_t empty_file[1];

static void set_empty(struct file_buf *f)
{
    f->data = empty_file;
    f->len = 0;
    f->mapped = 0;
}

void file_buf_free(struct file_buf *f)
{
    if (f->mapped)
        munmap(f->data, f->mapped);
    set_empty(f);
}

int file_read_exact(int fd, const char *what, const char *path, uint8_t *dst, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, dst + done, len - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vmm_error_errno(errno, "reading %s '%s'", what, path);
        if (n == 0)
            return vmm_error(VMM_EIO, "%s '%s' shrank while being read (%zu of %zu bytes)", what,
                             path, done, len);
        done += (size_t)n;
    }
    return 0;
}

int file_open_regular(const char *what, const char *path, int *fd_out, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vmm_error_errno(errno, "%s '%s'", what, path);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = vmm_error_errno(errno, "%s '%s'", what, path);
    else if (!S_ISREG(st.st_mode))
        rc = vmm_error(VMM_EINVAL, "%s '%s' is not a regular file", what, path);
    if (rc) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    *size = (uint64_t)st.st_size;
    return 0;
}

int file_buf_read(const char *what, const char *path, uint64_t limit, const char *limit_what,
                  struct file_buf *out)
{
    set_empty(out);
    int fd;
    uint64_t size;
    int rc = file_open_regular(what, path, &fd, &size);
    if (rc)
        return rc;
    if (size > limit)
        rc = vmm_error(VMM_ERANGE, "%s '%s' is %llu bytes, larger than %s", what, path,
                       (unsigned long long)size, limit_what);
    if (rc || size == 0) {
        close(fd);
        return rc;
    }
    size_t len = (size_t)size;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return vmm_error(VMM_ENOMEM, "allocating %zu bytes for %s '%s'", len, what, path);
    }
    out->data = p;
    out->len = len;
    out->mapped = len;
    rc = file_read_exact(fd, what, path, p, len);
    close(fd);
    if (rc)
        file_buf_free(out);
    return rc;
}
