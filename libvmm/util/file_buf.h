/* A whole file read into memory of its own, for loaders that parse a
 * kernel, an initrd or firmware and copy it into guest RAM.
 *
 * Why not malloc: the buffer is an anonymous mapping that goes back to the
 * host the moment it is freed. A malloc'd buffer of a few MiB may stay in
 * the heap, resident, for the process's whole life: after glibc frees its
 * first big mmap'd block it raises its mmap threshold, so the next big
 * block (the initrd after the kernel) comes from the heap, whose top is
 * rarely given back. Why not a file mapping: a file truncated while mapped
 * turns the copy into a SIGBUS; read() reports it instead.
 */
#ifndef LIBVMM_UTIL_FILE_BUF_H
#define LIBVMM_UTIL_FILE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct file_buf {
    uint8_t *data; /* len bytes (never NULL, even for an empty file) */
    size_t len;
    size_t mapped; /* bytes of the mapping (0: data is a static empty buffer) */
};

/* Reads the regular file at path. `what` names it in errors ("kernel",
 * "initrd"); a file above `limit` bytes is refused with VMM_ERANGE naming
 * its size and `limit_what` ("the 268435456 bytes of RAM"). A missing or
 * unreadable file gives the errno's error naming path; a directory, a pipe
 * or a device VMM_EINVAL ("is not a regular file"); a file that shrinks
 * while being read VMM_EIO. */
int file_buf_read(const char *what, const char *path, uint64_t limit, const char *limit_what,
                  struct file_buf *out);

/* Gives the memory back (a zeroed or failed struct is fine). */
void file_buf_free(struct file_buf *f);

/* The two steps of file_buf_read, for loaders that read straight into
 * guest RAM: opens path (it must be a regular file; errors as above) and
 * gives its descriptor and size; reads exactly len bytes from offset 0 of
 * fd into dst. */
int file_open_regular(const char *what, const char *path, int *fd, uint64_t *size);
int file_read_exact(int fd, const char *what, const char *path, uint8_t *dst, size_t len);

#endif
