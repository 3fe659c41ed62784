/* Shared by the loader fuzz targets: the loaders read files by path, so the
 * fuzz input goes into a memfd that the loader opens again through
 * /proc/self/fd (no disk traffic, no stale files), and small fixed helper
 * files (an initrd, a valid kernel) live in memfds too. */
#ifndef TESTS_FUZZ_LOADER_RIG_H
#define TESTS_FUZZ_LOADER_RIG_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct rig_file {
    int fd;
    char path[64];
};

/* Creates an empty memfd-backed file; aborts the fuzzer (not the code under
 * test) if the host cannot. */
static inline void rig_file_open(struct rig_file *f, const char *name)
{
    f->fd = memfd_create(name, MFD_CLOEXEC);
    if (f->fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

/* Replaces the file's contents with data[0..len). */
static inline void rig_file_set(struct rig_file *f, const uint8_t *data, size_t len)
{
    if (ftruncate(f->fd, 0) < 0 || (len && pwrite(f->fd, data, len, 0) != (ssize_t)len)) {
        perror("memfd write");
        abort();
    }
}

#endif
