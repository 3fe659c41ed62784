#include "devices/acpi_pm.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/error.h"

#define CNT_SCI_EN 0x0001
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_TYP_MASK (7u << CNT_SLP_TYP_SHIFT)
#define CNT_SLP_EN 0x2000

struct acpi_pm {
    struct machine *m;
    pthread_mutex_t lock;
    uint16_t sts, en, cnt;
};

struct acpi_pm *acpi_pm_new(struct machine *m)
{
    struct acpi_pm *pm = calloc(1, sizeof(*pm));
    if (!pm) {
        vmm_error(VMM_ENOMEM, "allocating the ACPI PM device");
        return NULL;
    }
    pm->m = m;
    pm->cnt = CNT_SCI_EN;
    pthread_mutex_init(&pm->lock, NULL);
    return pm;
}

void acpi_pm_free(void *dev)
{
    struct acpi_pm *pm = dev;
    pthread_mutex_destroy(&pm->lock);
    free(pm);
}

/* The 16-bit register holding `offset`, and the byte within it. */
static uint16_t *reg_at(struct acpi_pm *pm, uint64_t offset)
{
    switch (offset & ~1ULL) {
    case 0: return &pm->sts;
    case 2: return &pm->en;
    case 4: return &pm->cnt;
    default: return NULL;
    }
}

static uint64_t acpi_pm_read(void *opaque, uint64_t offset, unsigned size)
{
    struct acpi_pm *pm = opaque;
    uint64_t v = 0;
    pthread_mutex_lock(&pm->lock);
    for (unsigned i = 0; i < size; i++) {
        uint16_t *r = reg_at(pm, offset + i);
        uint8_t byte = r ? (uint8_t)(*r >> (((offset + i) & 1) * 8)) : 0xff;
        v |= (uint64_t)byte << (8 * i);
    }
    pthread_mutex_unlock(&pm->lock);
    return v;
}

static void acpi_pm_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    struct acpi_pm *pm = opaque;
    int power_off = 0;
    pthread_mutex_lock(&pm->lock);
    for (unsigned i = 0; i < size; i++) {
        uint64_t at = offset + i;
        uint16_t *r = reg_at(pm, at);
        if (!r)
            continue;
        unsigned shift = (unsigned)(at & 1) * 8;
        uint16_t byte = (uint16_t)(((value >> (8 * i)) & 0xff) << shift);
        if (r == &pm->sts)
            *r &= (uint16_t)~byte; /* write 1 to clear */
        else
            *r = (uint16_t)((*r & ~(0xff << shift)) | byte);
    }
    if (pm->cnt & CNT_SLP_EN) {
        unsigned typ = (pm->cnt & CNT_SLP_TYP_MASK) >> CNT_SLP_TYP_SHIFT;
        pm->cnt &= (uint16_t)~CNT_SLP_EN; /* SLP_EN always reads 0 */
        power_off = typ == ACPI_PM_S5_TYP;
    }
    pm->cnt |= CNT_SCI_EN;
    pthread_mutex_unlock(&pm->lock);
    if (power_off)
        machine_set_outcome(pm->m, VMM_OUTCOME_POWEROFF, 0, "ACPI S5 (soft off)");
}

const struct bus_dev_ops acpi_pm_ops = { acpi_pm_read, acpi_pm_write };

const struct component_ops acpi_pm_component_ops = {
    .type = "acpi-pm",
    .state_version = 1,
    .destroy = acpi_pm_free,
};
