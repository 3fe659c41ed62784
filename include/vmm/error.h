/* libvmm — error codes.
 *
 * Every call that can fail returns int: 0 on success or one of the negative
 * VMM_E* codes below. vmm_strerror() names a code; vmm_last_error() returns
 * the thread-local message set by the most recent failing call on the calling
 * thread, naming the offending value and the limit it broke.
 */
#ifndef VMM_ERROR_H
#define VMM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum vmm_error {
    VMM_OK = 0,
    VMM_EINVAL = -1,   /* an argument is out of range or malformed */
    VMM_ENOMEM = -2,   /* host allocation failed or a memory limit was hit */
    VMM_ENOENT = -3,   /* a file or object does not exist */
    VMM_EACCES = -4,   /* permission denied (e.g. /dev/kvm) */
    VMM_ENOTSUP = -5,  /* not supported by this engine, host or build */
    VMM_ESTATE = -6,   /* the object is in the wrong state for this call */
    VMM_EIO = -7,      /* a host I/O operation failed */
    VMM_EFORMAT = -8,  /* a file has the wrong format (not a kernel, bad XML) */
    VMM_ERANGE = -9,   /* a value does not fit (too large, overflow) */
    VMM_EKVM = -10,    /* a KVM ioctl failed */
    VMM_EBUSY = -11,   /* the resource is in use */
    VMM_ECRASHED = -12, /* the guest crashed (vmm_vm_last_error() has the reason) */
    VMM_ECANCELED = -13, /* an asynchronous operation was canceled (VM destroyed) */
};

/* Returns a static, human-readable name for an error code ("invalid
 * argument"). Never NULL; unknown codes give "unknown error". Any thread. */
const char *vmm_strerror(int code);

/* Returns the static name of an error code's constant: "VMM_EINVAL" for
 * VMM_EINVAL, "VMM_OK" for 0. Never NULL; unknown codes give "VMM_EUNKNOWN".
 * Any thread. */
const char *vmm_err_name(int code);

/* Returns the message of the last failing libvmm call on this thread, or ""
 * if none failed yet. The pointer is valid until the next libvmm call on the
 * same thread. Any thread. */
const char *vmm_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
