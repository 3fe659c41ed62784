/* The soft engine: RV64GC harts run by the CPU core (hart.h) on the vCPU
 * threads. The engine runs CPUs and nothing else; the board (arch/riscv)
 * brings the interrupt controllers and the SBI.
 */
#include "backend/soft/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/soft/cpu.h"
#include "backend/soft/hart_component.h"
#include "backend/soft/jit/jit.h"
#include "util/error.h"

struct rv_hart *soft_hart(struct machine *m, uint64_t id)
{
    struct soft_vm *sv = m ? m->engine_vm : NULL;
    if (!sv || id >= sv->nr_harts || !sv->hart_ok[id])
        return NULL;
    return &sv->harts[id];
}

void soft_set_sbi_handler(struct machine *m, int (*sbi_call)(struct rv_hart *h), void *opaque)
{
    struct soft_vm *sv = m->engine_vm;
    sv->hooks.sbi_call = sbi_call;
    sv->hooks.opaque = opaque;
}

static __thread struct rv_hart *soft_current;

struct rv_hart *soft_current_hart(void)
{
    return soft_current;
}

static int soft_probe(void)
{
    return 0; /* needs nothing from the host */
}

static unsigned soft_max_vcpus(void)
{
    return SOFT_MAX_VCPUS;
}

/* What one hart's caches cost the host at most (cpu.h says how it is
 * computed; the decode cache is the bulk; plus the translator's code cache
 * and tables where there is one), charged to the host memory pool with the
 * guest's RAM. */
static uint64_t soft_vcpu_overhead(void)
{
    return RV_CPU_MAX_HOST_BYTES + rv_jit_max_host_bytes();
}

/* Without a board's handler an S-mode ECALL is an illegal hypercall. */
static int soft_no_sbi(struct rv_hart *h)
{
    h->x[10] = (uint64_t)-2; /* SBI_ERR_NOT_SUPPORTED */
    return 0;
}

static void soft_vm_free(struct soft_vm *sv)
{
    for (unsigned i = 0; i < sv->nr_harts; i++)
        if (sv->hart_ok[i])
            rv_hart_destroy(&sv->harts[i]);
    free(sv->reset_state);
    free(sv->hart_ok);
    free(sv->harts);
    free(sv);
}

/* Dirty logging: a store TLB fill marks its page (mmu.c), so once every
 * hart has dropped its store entries, each page stored to from then on is
 * marked again. Start and each fetch flush them, synchronously. */
static int soft_dirty_flush(void *opaque)
{
    struct soft_vm *sv = opaque;
    for (unsigned i = 0; i < sv->nr_harts; i++)
        if (sv->hart_ok[i])
            rv_hart_flush_wait(&sv->harts[i]);
    return 0;
}

static int soft_dirty_sync(void *opaque, int region, uint64_t *bitmap)
{
    (void)region;
    (void)bitmap;
    return soft_dirty_flush(opaque);
}

static int soft_vm_create(struct machine *m, const struct engine_options *opt)
{
    if (m->nr_vcpus == 0 || m->nr_vcpus > SOFT_MAX_VCPUS)
        return vmm_error(VMM_EINVAL, "soft engine: %u vCPUs, limit 1..%u", m->nr_vcpus,
                         SOFT_MAX_VCPUS);
    struct soft_vm *sv = calloc(1, sizeof(*sv));
    if (!sv)
        return vmm_error(VMM_ENOMEM, "soft engine VM state");
    sv->m = m;
    sv->deterministic = opt->soft.deterministic;
    sv->no_jit = opt->soft.no_jit;
    sv->nr_harts = m->nr_vcpus;
    sv->harts = calloc(m->nr_vcpus, sizeof(*sv->harts));
    sv->hart_ok = calloc(m->nr_vcpus, 1);
    sv->reset_state = calloc(m->nr_vcpus, sizeof(*sv->reset_state));
    if (!sv->harts || !sv->hart_ok || !sv->reset_state) {
        soft_vm_free(sv);
        return vmm_error(VMM_ENOMEM, "soft engine: %u harts", m->nr_vcpus);
    }
    sv->hooks.sbi_call = soft_no_sbi;
    sv->hooks.opaque = sv;
    m->engine_vm = sv;
    m->dirty = (struct machine_dirty_log){ soft_dirty_flush, soft_dirty_sync, NULL, sv };
    return 0;
}

static void hart_reset(void *opaque)
{
    struct rv_hart *h = opaque;
    struct soft_vm *sv = h->m->engine_vm;
    /* The creation state passed rv_hart_load's checks once; it cannot fail. */
    rv_hart_load(h, &sv->reset_state[h->hartid]);
}

static const struct component_ops soft_hart_ops = {
    .type = "rv-hart",
    .state_version = RV_HART_STATE_VERSION,
    .reset = hart_reset,
    .save = rv_hart_component_save,
    .load = rv_hart_component_load,
    .destroy = NULL, /* the engine frees its harts */
};

static int soft_vcpu_create(struct machine *m, unsigned index)
{
    struct soft_vm *sv = m->engine_vm;
    if (!sv || index >= sv->nr_harts)
        return vmm_error(VMM_EINVAL, "soft engine: vCPU %u, limit %u", index,
                         sv ? sv->nr_harts : 0);
    if (sv->hart_ok[index])
        return vmm_error(VMM_EINVAL, "soft engine: vCPU %u created twice", index);
    struct rv_hart *h = &sv->harts[index];
    int rc = rv_hart_init(h, m, index, &sv->hooks);
    if (rc)
        return rc;
    h->deterministic = sv->deterministic;
    if (sv->no_jit)
        h->jit = 0; /* else the default: translate where the host can */
    if (sv->deterministic && sv->nr_harts > 1) {
        h->det_peers = sv->harts;
        h->det_nr_peers = sv->nr_harts;
        h->det_idle_ticks = &sv->det_idle_ticks;
    }
    if (!h->vcpu)
        h->vcpu = &m->vcpus[index];
    sv->hart_ok[index] = 1;
    m->vcpus[index].engine = h;
    rv_hart_save(h, &sv->reset_state[index]);
    char name[16];
    snprintf(name, sizeof(name), "cpu%u", index);
    return machine_add_component(m, name, &soft_hart_ops, h) ? 0 : VMM_ENOMEM;
}

static int soft_vcpu_run(struct machine *m, unsigned index)
{
    struct rv_hart *h = soft_hart(m, index);
    if (!h)
        return vmm_error(VMM_EINVAL, "soft engine: no vCPU %u", index);
    soft_current = h;
    int rc = rv_hart_run(h);
    soft_current = NULL;
    return rc;
}

static int soft_vcpu_run_slice(struct machine *m, unsigned index, struct engine_slice *slice)
{
    struct rv_hart *h = soft_hart(m, index);
    if (!h)
        return vmm_error(VMM_EINVAL, "soft engine: no vCPU %u", index);
    soft_current = h;
    int rc = rv_hart_run_slice(h, slice);
    soft_current = NULL;
    return rc;
}

static void soft_vcpu_kick(struct machine *m, unsigned index)
{
    struct rv_hart *h = soft_hart(m, index);
    if (h)
        rv_hart_kick(h);
}

static int soft_vcpu_get_regs(struct machine *m, unsigned index, vmm_vcpu_regs_t *out)
{
    struct rv_hart *h = soft_hart(m, index);
    if (!h)
        return vmm_error(VMM_EINVAL, "soft engine: no vCPU %u", index);
    rv_hart_get_regs(h, out);
    return 0;
}

static int soft_vcpu_pause_at(struct machine *m, unsigned index, uint64_t instructions)
{
    struct rv_hart *h = soft_hart(m, index);
    if (!h)
        return vmm_error(VMM_EINVAL, "soft engine: no vCPU %u", index);
    rv_hart_pause_at(h, instructions);
    return 0;
}

static void soft_vm_destroy(struct machine *m)
{
    if (!m->engine_vm)
        return;
    soft_vm_free(m->engine_vm);
    m->engine_vm = NULL;
}

const struct engine_ops engine_soft = {
    .name = "soft",
    .probe = soft_probe,
    .max_vcpus = soft_max_vcpus,
    .vm_create = soft_vm_create,
    .vcpu_overhead = soft_vcpu_overhead,
    .vcpu_create = soft_vcpu_create,
    .vcpu_run = soft_vcpu_run,
    .vcpu_run_slice = soft_vcpu_run_slice,
    .vcpu_kick = soft_vcpu_kick,
    .vcpu_get_regs = soft_vcpu_get_regs,
    .vcpu_pause_at = soft_vcpu_pause_at,
    .vm_destroy = soft_vm_destroy,
};
