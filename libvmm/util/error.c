#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];

const char *vmm_err_name(int code)
{
    switch (code) {
    case VMM_OK: return "VMM_OK";
    case VMM_EINVAL: return "VMM_EINVAL";
    case VMM_ENOMEM: return "VMM_ENOMEM";
    case VMM_ENOENT: return "VMM_ENOENT";
    case VMM_EACCES: return "VMM_EACCES";
    case VMM_ENOTSUP: return "VMM_ENOTSUP";
    case VMM_ESTATE: return "VMM_ESTATE";
    case VMM_EIO: return "VMM_EIO";
    case VMM_EFORMAT: return "VMM_EFORMAT";
    case VMM_ERANGE: return "VMM_ERANGE";
    case VMM_EKVM: return "VMM_EKVM";
    case VMM_EBUSY: return "VMM_EBUSY";
    case VMM_ECRASHED: return "VMM_ECRASHED";
    case VMM_ECANCELED: return "VMM_ECANCELED";
    default: return "VMM_EUNKNOWN";
    }
}

const char *vmm_strerror(int code)
{
    switch (code) {
    case VMM_OK: return "success";
    case VMM_EINVAL: return "invalid argument";
    case VMM_ENOMEM: return "out of memory";
    case VMM_ENOENT: return "no such file or object";
    case VMM_EACCES: return "permission denied";
    case VMM_ENOTSUP: return "not supported";
    case VMM_ESTATE: return "wrong state";
    case VMM_EIO: return "I/O error";
    case VMM_EFORMAT: return "bad format";
    case VMM_ERANGE: return "out of range";
    case VMM_EKVM: return "KVM error";
    case VMM_EBUSY: return "busy";
    case VMM_ECRASHED: return "guest crashed";
    case VMM_ECANCELED: return "operation canceled";
    default: return "unknown error";
    }
}

const char *vmm_last_error(void)
{
    return last_error;
}

void vmm_error_clear(void)
{
    last_error[0] = '\0';
}

/* Formats into a scratch buffer first: callers may pass vmm_last_error()
 * itself as an argument ("restart failed: %s"). */
int vmm_error(int code, const char *fmt, ...)
{
    char msg[sizeof(last_error)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof(last_error));
    return code;
}

static int code_from_errno(int e)
{
    switch (e) {
    case ENOENT: case ENOTDIR: return VMM_ENOENT;
    case EACCES: case EPERM: return VMM_EACCES;
    case ENOMEM: return VMM_ENOMEM;
    case EINVAL: return VMM_EINVAL;
    case ENODEV: case ENXIO: case EOPNOTSUPP: return VMM_ENOTSUP;
    case EBUSY: return VMM_EBUSY;
    case ERANGE: case EOVERFLOW: case EFBIG: return VMM_ERANGE;
    default: return VMM_EIO;
    }
}

int vmm_error_errno(int errno_value, const char *fmt, ...)
{
    char msg[sizeof(last_error)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(errno_value));
    memcpy(last_error, msg, sizeof(last_error));
    return code_from_errno(errno_value);
}
