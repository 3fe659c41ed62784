/* The soft engine: RV64GC harts run by the CPU core (hart.h) on the vCPU
 * threads, with the CLINT and PLIC as the VM's interrupt controllers and
 * SBI calls handled by the VMM (arch/riscv/sbi.c).
 */
#include "backend/soft/engine.h"

#include <stdlib.h>
#include <string.h>

#include "arch/riscv/sbi.h"
#include "arch/riscv/virt.h"
#include "backend/backend.h"
#include "util/error.h"

struct soft_vm *soft_vm_of(struct machine *m)
{
    return m->engine == &engine_soft ? m->engine_vm : NULL;
}

struct rv_hart *soft_vm_hart(struct soft_vm *sv, uint64_t id)
{
    if (!sv || id >= sv->nr_harts || !sv->hart_ok[id])
        return NULL;
    return &sv->harts[id];
}

static int soft_probe(void)
{
    return 0; /* needs nothing from the host */
}

static unsigned soft_max_vcpus(void)
{
    return SOFT_MAX_VCPUS;
}

/* --- CLINT wiring --- */

static void soft_clint_set_msip(void *opaque, unsigned hart, int level)
{
    struct rv_hart *h = soft_vm_hart(opaque, hart);
    if (h)
        rv_hart_set_irq(h, RV_IRQ_MSIP, level);
}

static uint64_t soft_clint_get_mtimecmp(void *opaque, unsigned hart)
{
    struct rv_hart *h = soft_vm_hart(opaque, hart);
    return h ? atomic_load(&h->mtimecmp) : UINT64_MAX;
}

static void soft_clint_set_mtimecmp(void *opaque, unsigned hart, uint64_t value)
{
    struct rv_hart *h = soft_vm_hart(opaque, hart);
    if (!h)
        return;
    atomic_store(&h->mtimecmp, value);
    /* a hart parked in WFI recomputes its wake-up deadline */
    rv_hart_kick(h);
}

/* The hart running on this thread, so an mtime read returns the reading
 * hart's own clock (in deterministic mode each hart's time follows its own
 * retired instructions). */
static __thread struct rv_hart *soft_current;

static uint64_t soft_clint_read_time(void *opaque)
{
    struct soft_vm *sv = opaque;
    struct rv_hart *h = soft_current;
    if (!h || h->m != sv->m)
        h = soft_vm_hart(sv, 0);
    return h ? rv_hart_time(h) : 0;
}

static const struct clint_ops soft_clint_ops = {
    .set_msip = soft_clint_set_msip,
    .get_mtimecmp = soft_clint_get_mtimecmp,
    .set_mtimecmp = soft_clint_set_mtimecmp,
    .read_time = soft_clint_read_time,
};

/* --- PLIC wiring: context 2h is hart h's M-mode, 2h+1 its S-mode --- */

static void soft_plic_output(void *opaque, unsigned ctx, int level)
{
    struct rv_hart *h = soft_vm_hart(opaque, ctx / 2);
    if (h)
        rv_hart_set_irq(h, ctx % 2 ? RV_IRQ_SEIP : RV_IRQ_MEIP, level);
}

static void soft_vm_free(struct soft_vm *sv)
{
    for (unsigned i = 0; i < sv->nr_harts; i++)
        if (sv->hart_ok[i])
            rv_hart_destroy(&sv->harts[i]);
    plic_destroy(&sv->plic);
    clint_destroy(&sv->clint);
    pthread_mutex_destroy(&sv->hsm_lock);
    free(sv->hart_ok);
    free(sv->harts);
    free(sv);
}

static int soft_vm_create(struct machine *m)
{
    if (m->nr_vcpus == 0 || m->nr_vcpus > SOFT_MAX_VCPUS)
        return vmm_error(VMM_EINVAL, "soft engine: %u vCPUs, limit 1..%u", m->nr_vcpus,
                         SOFT_MAX_VCPUS);
    struct soft_vm *sv = calloc(1, sizeof(*sv));
    if (!sv)
        return vmm_error(VMM_ENOMEM, "soft engine VM state");
    sv->m = m;
    pthread_mutex_init(&sv->hsm_lock, NULL);
    sv->nr_harts = m->nr_vcpus;
    sv->harts = calloc(m->nr_vcpus, sizeof(*sv->harts));
    sv->hart_ok = calloc(m->nr_vcpus, 1);
    if (!sv->harts || !sv->hart_ok) {
        soft_vm_free(sv);
        return vmm_error(VMM_ENOMEM, "soft engine: %u harts", m->nr_vcpus);
    }
    sv->hooks.sbi_call = sbi_call;
    sv->hooks.opaque = sv;
    int rc = clint_init(&sv->clint, sv->nr_harts, &soft_clint_ops, sv);
    if (rc == 0)
        rc = plic_init(&sv->plic, 2 * sv->nr_harts, soft_plic_output, sv);
    if (rc == 0)
        rc = clint_attach(&sv->clint, &m->mmio, VIRT_CLINT_BASE);
    if (rc == 0)
        rc = plic_attach(&sv->plic, &m->mmio, VIRT_PLIC_BASE);
    if (rc) {
        soft_vm_free(sv);
        return rc;
    }
    m->engine_vm = sv;
    return 0;
}

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
    if (!h->vcpu)
        h->vcpu = &m->vcpus[index];
    sv->hart_ok[index] = 1;
    m->vcpus[index].engine = h;
    return 0;
}

static int soft_vcpu_run(struct machine *m, unsigned index)
{
    struct rv_hart *h = soft_vm_hart(m->engine_vm, index);
    if (!h)
        return vmm_error(VMM_EINVAL, "soft engine: no vCPU %u", index);
    soft_current = h;
    int rc = rv_hart_run(h);
    soft_current = NULL;
    return rc;
}

static void soft_vcpu_kick(struct machine *m, unsigned index)
{
    struct rv_hart *h = soft_vm_hart(m->engine_vm, index);
    if (h)
        rv_hart_kick(h);
}

static int soft_vcpu_get_regs(struct machine *m, unsigned index, vmm_vcpu_regs_t *out)
{
    struct rv_hart *h = soft_vm_hart(m->engine_vm, index);
    if (!h)
        return vmm_error(VMM_EINVAL, "soft engine: no vCPU %u", index);
    rv_hart_get_regs(h, out);
    return 0;
}

static int soft_set_irq(struct machine *m, unsigned irq, int level)
{
    struct soft_vm *sv = m->engine_vm;
    if (!sv)
        return vmm_error(VMM_EINVAL, "soft engine: no VM for interrupt %u", irq);
    return plic_set_irq(&sv->plic, irq, level);
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
    .vcpu_create = soft_vcpu_create,
    .vcpu_run = soft_vcpu_run,
    .vcpu_kick = soft_vcpu_kick,
    .vcpu_get_regs = soft_vcpu_get_regs,
    .set_irq = soft_set_irq,
    .vm_destroy = soft_vm_destroy,
};
