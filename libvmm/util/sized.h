/* Sized public structs (include/vmm/abi.h): copying them across the library
 * boundary when the caller's idea of the struct may be older or newer than
 * the library's. Every such struct starts with `uint64_t size`. */
#ifndef LIBVMM_UTIL_SIZED_H
#define LIBVMM_UTIL_SIZED_H

#include <stddef.h>

/* Copies the library's full struct `full` (lib_size bytes) into the caller's
 * `dst`, at most dst->size bytes, and sets dst->size to the bytes filled.
 * VMM_EINVAL naming `type` and the value when dst->size is below 8 or above
 * VMM_STRUCT_SIZE_MAX; then nothing is written. */
int sized_copy_out(void *dst, const void *full, size_t lib_size, const char *type);

/* Reads the caller's struct `src` (src->size bytes) into the library's
 * `full` (lib_size bytes): fields the caller did not have are zero, and
 * full->size becomes lib_size. VMM_EINVAL for a bad src->size; VMM_ENOTSUP
 * when src is larger than the library's struct and sets bytes the library
 * does not know. */
int sized_copy_in(void *full, const void *src, size_t lib_size, const char *type);

#endif
