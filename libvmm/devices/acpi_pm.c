#include "devices/acpi_pm.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/error.h"

#define CNT_SCI_EN 0x0001
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_TYP_MASK (7u << CNT_SLP_TYP_SHIFT)
#define CNT_SLP_EN 0x2000
#define PWRBTN 0x0100 /* PM1_STS.PWRBTN_STS and PM1_EN.PWRBTN_EN */

struct acpi_pm {
    struct machine *m;
    pthread_mutex_t lock;
    uint16_t sts, en, cnt;
    int sci_irq;   /* -1 until acpi_pm_connect_sci() */
    int sci_level; /* what the line was last driven to */
};

/* The SCI is asserted while an enabled status event is pending. Called
 * with pm->lock held, so level changes reach the line in order. */
static void update_sci(struct acpi_pm *pm)
{
    int level = (pm->sts & pm->en & PWRBTN) && (pm->cnt & CNT_SCI_EN);
    if (level == pm->sci_level)
        return;
    pm->sci_level = level;
    if (pm->sci_irq >= 0)
        machine_set_irq(pm->m, (unsigned)pm->sci_irq, level);
}

struct acpi_pm *acpi_pm_new(struct machine *m)
{
    struct acpi_pm *pm = calloc(1, sizeof(*pm));
    if (!pm) {
        vmm_error(VMM_ENOMEM, "allocating the ACPI PM device");
        return NULL;
    }
    pm->m = m;
    pm->cnt = CNT_SCI_EN;
    pm->sci_irq = -1;
    pthread_mutex_init(&pm->lock, NULL);
    return pm;
}

void acpi_pm_connect_sci(struct acpi_pm *pm, unsigned irq)
{
    pthread_mutex_lock(&pm->lock);
    pm->sci_irq = (int)irq;
    pthread_mutex_unlock(&pm->lock);
}

int acpi_pm_power_button(void *opaque)
{
    struct acpi_pm *pm = opaque;
    pthread_mutex_lock(&pm->lock);
    pm->sts |= PWRBTN;
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
    return 0;
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
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
    if (power_off)
        machine_set_outcome(pm->m, VMM_OUTCOME_POWEROFF, 0, "ACPI S5 (soft off)");
}

const struct bus_dev_ops acpi_pm_ops = { acpi_pm_read, acpi_pm_write };

/* --- component: reset, save, load --- */

static void acpi_pm_reset(void *opaque)
{
    struct acpi_pm *pm = opaque;
    pthread_mutex_lock(&pm->lock);
    pm->sts = 0;
    pm->en = 0;
    pm->cnt = CNT_SCI_EN;
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
}

/* State layout, version 1:
 *   u16 PM1a_STS   PWRBTN_STS (0x0100) when the host pressed the power
 *                  button and the guest has not acknowledged it yet; the
 *                  model raises no other status event, so any other bit is
 *                  refused
 *   u16 PM1a_EN    as the guest wrote it
 *   u16 PM1a_CNT   as the guest wrote it, with SCI_EN set and SLP_EN clear
 *                  (SLP_EN is a write-only trigger)
 * The sleep request itself is not state: it ended the run when written. */
static int acpi_pm_save(void *opaque, struct state_writer *w)
{
    struct acpi_pm *pm = opaque;
    pthread_mutex_lock(&pm->lock);
    state_put_u16(w, pm->sts);
    state_put_u16(w, pm->en);
    state_put_u16(w, pm->cnt);
    pthread_mutex_unlock(&pm->lock);
    return 0;
}

static int acpi_pm_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct acpi_pm *pm = opaque;
    uint16_t sts, en, cnt;
    state_get_u16(r, &sts);
    state_get_u16(r, &en);
    int rc = state_get_u16(r, &cnt);
    if (rc || (rc = state_check_done(r)))
        return rc;
    if (sts & ~PWRBTN)
        return vmm_error(VMM_EFORMAT, "acpi-pm state: PM1a_STS 0x%04x, this device sets no "
                         "status bit but PWRBTN_STS 0x%04x", sts, PWRBTN);
    if (!(cnt & CNT_SCI_EN))
        return vmm_error(VMM_EFORMAT, "acpi-pm state: PM1a_CNT 0x%04x lacks SCI_EN 0x%04x", cnt,
                         CNT_SCI_EN);
    if (cnt & CNT_SLP_EN)
        return vmm_error(VMM_EFORMAT, "acpi-pm state: PM1a_CNT 0x%04x has the write-only SLP_EN "
                         "0x%04x set", cnt, CNT_SLP_EN);
    pthread_mutex_lock(&pm->lock);
    pm->sts = sts;
    pm->en = en;
    pm->cnt = cnt;
    /* The line's level is the interrupt controller's state, loaded with it. */
    pm->sci_level = (sts & en & PWRBTN) && (cnt & CNT_SCI_EN);
    pthread_mutex_unlock(&pm->lock);
    return 0;
}

const struct component_ops acpi_pm_component_ops = {
    .type = "acpi-pm",
    .state_version = 1,
    .reset = acpi_pm_reset,
    .save = acpi_pm_save,
    .load = acpi_pm_load,
    .destroy = acpi_pm_free,
};
