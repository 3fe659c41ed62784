/* Internal error helpers: set the thread-local message behind vmm_last_error(). */
#ifndef LIBVMM_UTIL_ERROR_H
#define LIBVMM_UTIL_ERROR_H

#include "vmm/error.h"

/* Formats the thread-local last-error message and returns `code`, so a
 * failing path reads: return vmm_error(VMM_EINVAL, "memory %llu above %llu", ...). */
int vmm_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like vmm_error() with ": strerror(errno_value)" appended; the VMM code is
 * chosen from errno_value (ENOENT -> VMM_ENOENT, EACCES -> VMM_EACCES, ...). */
int vmm_error_errno(int errno_value, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the message (successful calls do not need to). */
void vmm_error_clear(void);

#endif
