/* libvmm — the host context: one per host program (or per uv loop).
 *
 * The host program owns the loop: pass your uv_loop_t to vmm_host_new(), or
 * NULL to let libvmm create one that vmm_host_run() drives.
 */
#ifndef VMM_HOST_H
#define VMM_HOST_H

#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmm_host vmm_host_t;

typedef enum vmm_log_level {
    VMM_LOG_ERROR = 0,
    VMM_LOG_WARN,
    VMM_LOG_INFO,
    VMM_LOG_DEBUG,
} vmm_log_level_t;

/* Log callback. May be called from any thread (vCPU threads included), so it
 * must be thread-safe. The library prints nothing unless one is set. */
typedef void (*vmm_log_cb)(vmm_log_level_t level, const char *msg, void *opaque);

/* Sets the process-wide log callback and the most verbose level passed to
 * it. NULL disables logging. Call before creating VMs. */
void vmm_set_log_cb(vmm_log_cb cb, vmm_log_level_t max_level, void *opaque);

/* Creates a host context on `loop` (caller-owned; must outlive the host) or,
 * when loop is NULL, on a loop the host creates and owns. Call from the loop
 * thread. Errors: VMM_ENOMEM. */
int vmm_host_new(vmm_host_t **out, uv_loop_t *loop);

/* Caps the guest RAM, in bytes, that VMs of this host may hold in total (the
 * host memory pool). 0 (the default) means the host's physical memory. A VM
 * that does not fit is refused by vmm_vm_create() with VMM_ENOMEM. */
int vmm_host_set_memory_limit(vmm_host_t *host, uint64_t bytes);

/* Bytes of the pool currently handed out to VMs of this host: each VM's
 * guest RAM plus what its engine's per-vCPU caches may cost the host at
 * most (the soft engine's decoded-instruction cache, about 33 MiB a vCPU;
 * a few KiB on kvm). */
uint64_t vmm_host_memory_used(const vmm_host_t *host);

/* The loop the host runs on. */
uv_loop_t *vmm_host_loop(vmm_host_t *host);

/* Runs the loop until no VM of this host is running or paused (every VM is
 * defined, shut off or crashed). Returns 0. Loop thread only. */
int vmm_host_run(vmm_host_t *host);

/* Frees the host. Every VM must have been destroyed first (VMM_EBUSY
 * otherwise, and nothing is freed). Loop thread only. */
int vmm_host_free(vmm_host_t *host);

#ifdef __cplusplus
}
#endif
#endif
