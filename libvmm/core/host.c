#include "core/host.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sched.h"
#include "util/error.h"

static uint64_t host_physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0)
        return UINT64_MAX;
    return (uint64_t)pages * (uint64_t)size;
}

int vmm_host_new(vmm_host_t **out, uv_loop_t *loop)
{
    vmm_host_t *h = calloc(1, sizeof(*h));
    if (!h)
        return vmm_error(VMM_ENOMEM, "allocating a host context");
    if (loop) {
        h->loop = loop;
    } else {
        int rc = uv_loop_init(&h->own_loop);
        if (rc) {
            free(h);
            return vmm_error(VMM_EIO, "uv_loop_init: %s", uv_strerror(rc));
        }
        h->loop = &h->own_loop;
        h->owns_loop = 1;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->mem_limit = host_physical_memory();
    h->overcommit = 1.0;
    *out = h;
    return 0;
}

/* What the pool may hand out: the limit times the overcommit ratio,
 * saturating. */
static uint64_t pool_capacity(uint64_t limit, double ratio)
{
    double cap = (double)limit * ratio;
    return cap >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)cap;
}

int vmm_host_set_memory_overcommit(vmm_host_t *h, double ratio)
{
    if (!h)
        return vmm_error(VMM_EINVAL, "vmm_host_set_memory_overcommit: host is NULL");
    if (!(ratio >= 1.0 && ratio <= VMM_OVERCOMMIT_MAX))
        return vmm_error(VMM_EINVAL, "memory overcommit ratio %g is outside 1..%g", ratio,
                         VMM_OVERCOMMIT_MAX);
    pthread_mutex_lock(&h->lock);
    uint64_t cap = pool_capacity(h->mem_limit, ratio), used = h->mem_used;
    if (cap < used) {
        pthread_mutex_unlock(&h->lock);
        return vmm_error(VMM_EBUSY,
                         "overcommit %g gives the pool %llu MiB, below the %llu MiB VMs already "
                         "hold",
                         ratio, (unsigned long long)(cap >> 20), (unsigned long long)(used >> 20));
    }
    h->overcommit = ratio;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

double vmm_host_memory_overcommit(const vmm_host_t *h)
{
    return h ? h->overcommit : 0.0;
}

uint64_t vmm_host_memory_limit(const vmm_host_t *h)
{
    if (!h)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&h->lock);
    uint64_t limit = h->mem_limit;
    pthread_mutex_unlock((pthread_mutex_t *)&h->lock);
    return limit;
}

int vmm_host_set_memory_limit(vmm_host_t *h, uint64_t bytes)
{
    uint64_t phys = host_physical_memory();
    if (bytes == 0)
        bytes = phys;
    pthread_mutex_lock(&h->lock);
    if (pool_capacity(bytes, h->overcommit) < h->mem_used) {
        uint64_t used = h->mem_used;
        double ratio = h->overcommit;
        pthread_mutex_unlock(&h->lock);
        return vmm_error(VMM_EBUSY,
                         "memory limit %llu bytes (x %.2f overcommit) is below the %llu bytes VMs "
                         "already hold",
                         (unsigned long long)bytes, ratio, (unsigned long long)used);
    }
    h->mem_limit = bytes;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

uint64_t vmm_host_memory_used(const vmm_host_t *h)
{
    pthread_mutex_lock((pthread_mutex_t *)&h->lock);
    uint64_t used = h->mem_used;
    pthread_mutex_unlock((pthread_mutex_t *)&h->lock);
    return used;
}

int host_pool_reserve(vmm_host_t *h, uint64_t ram, uint64_t overhead, const char *vm_name)
{
    uint64_t bytes = ram + overhead;
    pthread_mutex_lock(&h->lock);
    uint64_t cap = pool_capacity(h->mem_limit, h->overcommit);
    uint64_t free_bytes = cap > h->mem_used ? cap - h->mem_used : 0;
    if (bytes > free_bytes) {
        uint64_t limit = h->mem_limit, used = h->mem_used;
        double ratio = h->overcommit;
        pthread_mutex_unlock(&h->lock);
        return vmm_error(VMM_ENOMEM,
                         "VM '%s' needs %llu MiB of RAM (+ %llu MiB of vCPU caches) but the host "
                         "pool has %llu MiB free (limit %llu MiB x %.2f overcommit, %llu MiB in "
                         "use)",
                         vm_name, (unsigned long long)(ram >> 20),
                         (unsigned long long)(overhead >> 20),
                         (unsigned long long)(free_bytes >> 20), (unsigned long long)(limit >> 20),
                         ratio, (unsigned long long)(used >> 20));
    }
    h->mem_used += bytes;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

void host_pool_release(vmm_host_t *h, uint64_t bytes)
{
    pthread_mutex_lock(&h->lock);
    h->mem_used -= bytes;
    pthread_mutex_unlock(&h->lock);
}

uv_loop_t *vmm_host_loop(vmm_host_t *h)
{
    return h->loop;
}

int vmm_host_run(vmm_host_t *h, vmm_run_mode_t mode)
{
    if (!h)
        return vmm_error(VMM_EINVAL, "vmm_host_run: host is NULL");
    if (mode != VMM_RUN_DEFAULT && mode != VMM_RUN_ONCE && mode != VMM_RUN_NOWAIT)
        return vmm_error(VMM_EINVAL,
                         "run mode %d unknown (VMM_RUN_DEFAULT %d, VMM_RUN_ONCE %d, "
                         "VMM_RUN_NOWAIT %d)",
                         (int)mode, VMM_RUN_DEFAULT, VMM_RUN_ONCE, VMM_RUN_NOWAIT);
    if (h->running)
        return vmm_error(VMM_EBUSY, "vmm_host_run called from a callback of the same loop "
                                    "(libuv loops do not nest)");
    h->running = 1;
    if (mode == VMM_RUN_DEFAULT) {
        while (h->nr_active > 0 || h->nr_pending > 0)
            uv_run(h->loop, UV_RUN_ONCE);
        /* Let pending handle closes (destroyed VMs) finish. */
        uv_run(h->loop, UV_RUN_NOWAIT);
    } else {
        uv_run(h->loop, mode == VMM_RUN_ONCE ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    }
    h->running = 0;
    return mode == VMM_RUN_DEFAULT ? 0 : (int)(h->nr_active + h->nr_pending);
}

int vmm_host_backend_fd(const vmm_host_t *h)
{
    if (!h)
        return vmm_error(VMM_EINVAL, "vmm_host_backend_fd: host is NULL");
    int fd = uv_backend_fd(h->loop);
    if (fd < 0)
        return vmm_error(VMM_ENOTSUP, "this platform's libuv loop has no backend fd");
    return fd;
}

int vmm_host_backend_timeout(const vmm_host_t *h, int *timeout_ms)
{
    if (!h || !timeout_ms)
        return vmm_error(VMM_EINVAL, "vmm_host_backend_timeout: host and timeout_ms are required");
    *timeout_ms = uv_backend_timeout(h->loop);
    return 0;
}

void vmm_host_set_data(vmm_host_t *h, void *data)
{
    if (h)
        h->data = data;
}

void *vmm_host_get_data(const vmm_host_t *h)
{
    return h ? h->data : NULL;
}

int vmm_host_free(vmm_host_t *h)
{
    if (!h)
        return 0;
    if (h->nr_vms)
        return vmm_error(VMM_EBUSY, "host still has %u VM(s); destroy them first", h->nr_vms);
    host_mem_timer_close(h);
    if (h->owns_loop) {
        uv_run(h->loop, UV_RUN_DEFAULT); /* completes pending closes */
        uv_loop_close(h->loop);
    }
    sched_release(h->sched);
    free(h->cgroup_parent);
    pthread_mutex_destroy(&h->lock);
    free(h);
    return 0;
}

int host_sched(vmm_host_t *h, struct sched **out)
{
    if (!h->sched) {
        int rc = sched_new(h->workers ? h->workers : sched_default_workers(), &h->sched);
        if (rc)
            return rc;
    }
    *out = h->sched;
    return 0;
}

int vmm_host_set_workers(vmm_host_t *h, unsigned workers)
{
    if (!h)
        return vmm_error(VMM_EINVAL, "vmm_host_set_workers: host is NULL");
    if (workers > SCHED_MAX_WORKERS)
        return vmm_error(VMM_EINVAL, "%u scheduler workers, limit 0 (one per host CPU)..%u",
                         workers, SCHED_MAX_WORKERS);
    if (h->sched && h->nr_vms)
        return vmm_error(VMM_EBUSY,
                         "the scheduler pool already runs %u VM(s) on %u workers; set the "
                         "worker count before the first VM starts",
                         h->nr_vms, sched_workers(h->sched));
    sched_release(h->sched); /* destroyed VMs not yet freed keep it a moment */
    h->sched = NULL;
    h->workers = workers;
    return 0;
}

int vmm_host_set_cgroup_parent(vmm_host_t *h, const char *dir)
{
    if (!h)
        return vmm_error(VMM_EINVAL, "vmm_host_set_cgroup_parent: host is NULL");
    char *copy = NULL;
    if (dir && !(copy = strdup(dir)))
        return vmm_error(VMM_ENOMEM, "copying the cgroup directory");
    free(h->cgroup_parent);
    h->cgroup_parent = copy;
    return 0;
}

const char *vmm_host_cgroup_parent(const vmm_host_t *h)
{
    return h ? h->cgroup_parent : NULL;
}

unsigned vmm_host_workers(const vmm_host_t *h)
{
    if (!h)
        return 0;
    if (h->sched)
        return sched_workers(h->sched);
    return h->workers ? h->workers : sched_default_workers();
}

const char *vmm_version(void)
{
    return "0.1.0";
}
