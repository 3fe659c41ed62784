#include "machine/machine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
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
    for (int i = m->nr_devices - 1; i >= 0; i--)
        m->devices[i].destroy(m->devices[i].opaque);
    m->nr_devices = 0;
    bus_destroy(&m->pio);
    bus_destroy(&m->mmio);
    guest_mem_destroy(&m->mem);
    pthread_mutex_destroy(&m->outcome_lock);
    free(m->vcpus);
    m->vcpus = NULL;
}

int machine_add_device(struct machine *m, void *opaque, void (*destroy)(void *opaque))
{
    if (m->nr_devices >= MACHINE_MAX_DEVICES) {
        destroy(opaque);
        return vmm_error(VMM_EINVAL, "too many devices (limit %d)", MACHINE_MAX_DEVICES);
    }
    m->devices[m->nr_devices++] = (struct machine_device){ opaque, destroy };
    return 0;
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
    if (!m->engine || !m->engine->set_irq)
        return VMM_ENOTSUP;
    return m->engine->set_irq(m, irq, level);
}

void machine_console_out(struct machine *m, const uint8_t *buf, size_t len)
{
    if (m->host && m->host->console_out)
        m->host->console_out(m->host_opaque, buf, len);
}
