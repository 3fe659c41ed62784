#include "machine/machine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/component.h"
#include "util/error.h"

int machine_init(struct machine *m, unsigned nr_vcpus)
{
    memset(m, 0, sizeof(*m));
    m->vcpus = calloc(nr_vcpus, sizeof(*m->vcpus));
    if (!m->vcpus)
        return vmm_error(VMM_ENOMEM, "allocating %u vCPUs", nr_vcpus);
    for (unsigned i = 0; i < nr_vcpus; i++)
        m->vcpus[i].index = i;
    m->nr_vcpus = nr_vcpus;
    guest_mem_init(&m->mem);
    bus_init(&m->pio, "pio");
    bus_init(&m->mmio, "mmio");
    pthread_mutex_init(&m->outcome_lock, NULL);
    atomic_init(&m->request, MACHINE_RUN);
    return 0;
}

void machine_destroy(struct machine *m)
{
    machine_destroy_components(m);
    bus_destroy(&m->pio);
    bus_destroy(&m->mmio);
    guest_mem_destroy(&m->mem);
    pthread_mutex_destroy(&m->outcome_lock);
    free(m->vcpus);
    m->vcpus = NULL;
}

void machine_clear_outcome(struct machine *m)
{
    pthread_mutex_lock(&m->outcome_lock);
    m->outcome_set = 0;
    memset(&m->outcome, 0, sizeof(m->outcome));
    atomic_store_explicit(&m->request, MACHINE_RUN, memory_order_release);
    pthread_mutex_unlock(&m->outcome_lock);
}

void machine_vcpu_stats_clear(struct machine *m)
{
    for (unsigned v = 0; v < m->nr_vcpus; v++) {
        uint64_t *f = (uint64_t *)&m->vcpus[v].stats;
        for (size_t i = 0; i < sizeof(vmm_vcpu_stats_t) / sizeof(uint64_t); i++)
            __atomic_store_n(&f[i], 0, __ATOMIC_RELAXED);
    }
}

void machine_vcpu_stats_read(const struct machine *m, unsigned index, vmm_vcpu_stats_t *out)
{
    const vmm_vcpu_stats_t *s = &m->vcpus[index].stats;
    /* Field by field: every field is a uint64_t the vCPU thread stores
     * atomically (MACHINE_VCPU_STAT_ADD). */
    const uint64_t *src = (const uint64_t *)s;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void machine_set_outcome(struct machine *m, vmm_outcome_kind_t kind, int exit_code,
                         const char *reason_fmt, ...)
{
    pthread_mutex_lock(&m->outcome_lock);
    if (m->outcome_set) {
        pthread_mutex_unlock(&m->outcome_lock);
        return;
    }
    m->outcome_set = 1;
    m->outcome.kind = kind;
    m->outcome.exit_code = exit_code;
    m->outcome.reason[0] = '\0';
    if (reason_fmt) {
        va_list ap;
        va_start(ap, reason_fmt);
        vsnprintf(m->outcome.reason, sizeof(m->outcome.reason), reason_fmt, ap);
        va_end(ap);
    }
    atomic_store_explicit(&m->request, MACHINE_STOP, memory_order_release);
    pthread_mutex_unlock(&m->outcome_lock);
    if (m->host && m->host->outcome_set)
        m->host->outcome_set(m->host_opaque);
}

int machine_set_irq(struct machine *m, unsigned irq, int level)
{
    if (!m->irq.set_irq)
        return vmm_error(VMM_ENOTSUP, "interrupt line %u: the board connected no interrupt "
                         "controller", irq);
    return m->irq.set_irq(m->irq.opaque, irq, level);
}

void machine_console_out(struct machine *m, const uint8_t *buf, size_t len)
{
    if (m->host && m->host->console_out)
        m->host->console_out(m->host_opaque, buf, len);
}

int machine_add_ioeventfd(struct machine *m, uint64_t gpa, unsigned len, int fd)
{
    const char *env = getenv("LIBVMM_IOEVENTFD");
    if (!m->ioeventfd.add || (env && strcmp(env, "0") == 0))
        return VMM_ENOTSUP;
    return m->ioeventfd.add(m->ioeventfd.opaque, gpa, len, fd);
}

int machine_irq_eventfd(struct machine *m, unsigned irq)
{
    const char *env = getenv("LIBVMM_IRQFD");
    if (!m->irqfd.create || (env && strcmp(env, "0") == 0))
        return VMM_ENOTSUP;
    return m->irqfd.create(m->irqfd.opaque, irq);
}

int machine_dirty_start(struct machine *m)
{
    int rc = guest_mem_dirty_start(&m->mem);
    if (rc == 0 && m->dirty.start && (rc = m->dirty.start(m->dirty.opaque)))
        guest_mem_dirty_stop(&m->mem);
    return rc;
}

int machine_dirty_fetch(struct machine *m, int index, uint64_t *bitmap)
{
    /* Order matters for the soft engine: clear first, then flush the CPUs'
     * store entries, then the caller copies (see soft_dirty_sync). */
    guest_mem_dirty_fetch(&m->mem, index, bitmap);
    return m->dirty.sync ? m->dirty.sync(m->dirty.opaque, index, bitmap) : 0;
}

void machine_dirty_stop(struct machine *m)
{
    if (m->dirty.stop)
        m->dirty.stop(m->dirty.opaque);
    guest_mem_dirty_stop(&m->mem);
}

size_t machine_console_receive(struct machine *m, const uint8_t *buf, size_t len)
{
    if (!m->console_in.receive)
        return 0;
    return m->console_in.receive(m->console_in.opaque, buf, len);
}

int machine_port_out(struct machine *m, unsigned index, const uint8_t *buf, size_t len)
{
    if (m->host && m->host->port_out)
        return m->host->port_out(m->host_opaque, index, buf, len);
    return 0;
}

void machine_port_state(struct machine *m, unsigned index, int open)
{
    if (m->host && m->host->port_state)
        m->host->port_state(m->host_opaque, index, open);
}

void machine_memory_changed(struct machine *m, unsigned what)
{
    if (m->host && m->host->memory_changed)
        m->host->memory_changed(m->host_opaque, what);
}
