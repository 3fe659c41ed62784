/* Raw devices the host program writes (include/vmm/device.h): a bus range
 * whose accesses go to the program's callbacks, an optional interrupt line,
 * and the program's reset/save/load as the component's. */
#ifndef LIBVMM_DEVICES_HOST_DEVICE_H
#define LIBVMM_DEVICES_HOST_DEVICE_H

#include "machine/machine.h"
#include "vmm/device.h"

/* Adds the device `cfg` describes to m as a component named cfg->name.
 * VMM_EINVAL naming the clash when its range or line is taken. */
int host_device_create(struct machine *m, const vmm_device_config_t *cfg);

/* The host device component `name` of m: drive its line / read its refused
 * write count. VMM_ENOENT when there is none of that name. */
int host_device_set_irq(struct machine *m, const char *name, int level);
int host_device_refused(struct machine *m, const char *name, uint64_t *count);

#endif
