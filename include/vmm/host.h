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

/* Memory overcommit. The pool hands out `ratio` times its limit as guest
 * RAM (vmm_vm_create() admits a VM while the configured RAM of all VMs fits
 * in limit x ratio), betting that guests do not touch all of it; guest RAM
 * is committed only when touched, and the balloon and free page reporting
 * give pages back. The limit itself stays the bound on what the VMs may
 * commit together: with a ratio above 1, every VMM_MEMORY_CHECK_MS (and
 * whenever a guest deflates its balloon) the host sums each VM's touched RAM
 * (vmm_memory_stats_t.touched); if the sum is above the limit, the VMs
 * that grew since the previous check — the ones asking for more — are
 * paused, each with VMM_EVENT_MEMORY (VMM_MEMORY_POOL_EXHAUSTED), instead
 * of the host running out of memory. The host program frees memory
 * (inflates balloons, destroys VMs, raises the limit) and resumes them. A
 * guest can overshoot by what it touches within one check interval.
 * ratio 1.0 (the default) is no overcommit. Errors: VMM_EINVAL for a ratio
 * below 1 or above VMM_OVERCOMMIT_MAX (naming it), VMM_EBUSY when the VMs
 * already admitted would no longer fit. Loop thread. */
#define VMM_OVERCOMMIT_MAX 64.0
#define VMM_MEMORY_CHECK_MS 100
int vmm_host_set_memory_overcommit(vmm_host_t *host, double ratio);
double vmm_host_memory_overcommit(const vmm_host_t *host);

/* The pool's limit in bytes (vmm_host_set_memory_limit()). */
uint64_t vmm_host_memory_limit(const vmm_host_t *host);

/* Guest RAM all VMs of this host have committed now (the sum the pool
 * checks compare with the limit). Loop thread. */
uint64_t vmm_host_memory_touched(const vmm_host_t *host);

/* Sets how many worker threads run the vCPUs of this host's soft-engine
 * VMs (the scheduler pool, 1..256; 0 = one per host CPU the process may
 * use, the default). Worker w stands for the w-th such host CPU (and is
 * pinned to it once a VM with a pinned vCPU runs), so <vcpupin>/<vcpu
 * cpuset> choose workers. The pool shares the
 * workers among all VMs by their <cputune> shares, caps them by
 * period/quota and global_period/global_quota, and gives the time of a
 * vCPU in WFI or paused to the others. kvm VMs keep one thread per vCPU.
 * VMM_EINVAL beyond the limit; VMM_EBUSY once VMs run on the pool. Loop
 * thread. */
int vmm_host_set_workers(vmm_host_t *host, unsigned workers);
/* The pool's worker count (what vmm_host_set_workers() set, resolved). */
unsigned vmm_host_workers(const vmm_host_t *host);

/* kvm VMs whose config has <cputune> shares or quotas put their vCPU
 * threads into a cgroup of their own, libvmm-<pid>-<name>-<n>/vcpu<i>,
 * made under this directory (a cgroup v2 directory when cgroup2 has the
 * cpu controller, else one of the v1 cpu hierarchy). NULL (the default):
 * the process's own cgroup. The path is copied. When it cannot be
 * written, vmm_vm_start() and vmm_vm_set_cpu_*() fail naming the path.
 * Loop thread. */
int vmm_host_set_cgroup_parent(vmm_host_t *host, const char *dir);
const char *vmm_host_cgroup_parent(const vmm_host_t *host);

/* The loop the host runs on. */
uv_loop_t *vmm_host_loop(vmm_host_t *host);

/* How vmm_host_run() runs the loop (libuv's uv_run_mode). */
typedef enum vmm_run_mode {
    VMM_RUN_DEFAULT = 0, /* until no VM of this host is running or paused and no
                          * asynchronous operation is pending */
    VMM_RUN_ONCE,        /* one loop iteration; blocks for events if there are any */
    VMM_RUN_NOWAIT,      /* one loop iteration; never blocks */
} vmm_run_mode_t;

/* Runs the host's loop (the caller's, or the one the host owns) and with it
 * the VMs' events and completion callbacks. Returns, for VMM_RUN_ONCE and
 * VMM_RUN_NOWAIT, how many VMs of this host are still running or paused plus
 * the asynchronous operations still pending (0: nothing left to wait for);
 * 0 for VMM_RUN_DEFAULT. Errors: VMM_EINVAL (NULL host, unknown mode: the
 * message names it), VMM_EBUSY (called from a callback that this host's loop
 * is already running: libuv loops do not nest). Loop thread only. */
int vmm_host_run(vmm_host_t *host, vmm_run_mode_t mode);

/* Embedding libvmm in a loop that is not libuv (poll/epoll/select of your
 * own, GLib, Qt...): the host's loop is one file descriptor that becomes
 * readable when it has work, plus a timeout. Drive it like this:
 *
 *     int fd = vmm_host_backend_fd(host), timeout;
 *     while (vmm_host_run(host, VMM_RUN_NOWAIT) > 0) {
 *         struct pollfd p = { .fd = fd, .events = POLLIN };
 *         vmm_host_backend_timeout(host, &timeout);
 *         poll(&p, 1, timeout);
 *     }
 *
 * i.e. call vmm_host_run(host, VMM_RUN_NOWAIT) whenever the fd is readable
 * or the timeout expired — and once after any call that starts something
 * (vmm_vm_start(), the *_async calls), since libuv registers new handles with
 * the fd only when the loop runs.
 *
 * vmm_host_backend_fd() returns the fd (owned by the loop: do not close or
 * read it), or VMM_ENOTSUP when the platform's loop has none, VMM_EINVAL for
 * a NULL host. Loop thread. */
int vmm_host_backend_fd(const vmm_host_t *host);

/* Sets *timeout_ms to the milliseconds until the host's loop needs to run
 * again even without fd activity (a timer), 0 when it has work right now,
 * -1 when it only waits for the fd: the timeout argument of poll(). Returns
 * 0, or VMM_EINVAL for a NULL host or timeout_ms. Loop thread. */
int vmm_host_backend_timeout(const vmm_host_t *host, int *timeout_ms);

/* A pointer of the caller's, stored with the host and returned by
 * vmm_host_get_data() (libuv's uv_loop_set_data). The library never looks
 * at it. NULL host: no-op / NULL. Any thread, not concurrently. */
void vmm_host_set_data(vmm_host_t *host, void *data);
void *vmm_host_get_data(const vmm_host_t *host);

/* Frees the host. Every VM must have been destroyed first (VMM_EBUSY
 * otherwise, and nothing is freed). Loop thread only. */
int vmm_host_free(vmm_host_t *host);

#ifdef __cplusplus
}
#endif
#endif
