/* ACPI fixed-hardware power management, the part a guest needs to power
 * off: the PM1a event block (status, enable) and the PM1a control block,
 * and the fixed power button the host can press (acpi_pm_power_button():
 * PWRBTN_STS is set and, while PWRBTN_EN is, the SCI line is raised until
 * the guest clears the status by writing 1).
 * A write of SLP_EN with SLP_TYP = ACPI_PM_S5_TYP (the value the board's
 * DSDT gives for \_S5) ends the run with VMM_OUTCOME_POWEROFF. SCI_EN
 * reads as set: the board has no legacy mode (the FADT has no SMI_CMD).
 * Register the two blocks as one range of ACPI_PM_SIZE ports:
 *   +0 PM1a_STS (2, write 1 to clear), +2 PM1a_EN (2), +4 PM1a_CNT (2). */
#ifndef LIBVMM_DEVICES_ACPI_PM_H
#define LIBVMM_DEVICES_ACPI_PM_H

#include "machine/machine.h"
#include "bus/bus.h"
#include "machine/component.h"

#define ACPI_PM_SIZE 8
#define ACPI_PM_EVT_OFFSET 0
#define ACPI_PM_CNT_OFFSET 4
#define ACPI_PM_S5_TYP 5

struct acpi_pm;

extern const struct bus_dev_ops acpi_pm_ops;

struct acpi_pm *acpi_pm_new(struct machine *m);
void acpi_pm_free(void *dev);

/* Drives `irq` (the FADT's SCI_INT, level-triggered) as the SCI. Without
 * it the device raises no interrupt. */
void acpi_pm_connect_sci(struct acpi_pm *pm, unsigned irq);

/* Presses the fixed power button (a struct acpi_pm *): sets PWRBTN_STS and
 * raises the SCI if the guest enabled it. Returns 0. Any thread. */
int acpi_pm_power_button(void *pm);


/* The device as a machine component (reset, save, load, destroy). */
extern const struct component_ops acpi_pm_component_ops;

#endif
