/* CMOS RTC and NVRAM at ports 0x70 (index, bit 7 = NMI disable) and 0x71
 * (data). The clock reads the host's UTC time, in BCD or binary and 12/24
 * hour format as register B selects; the other 114 bytes are plain NVRAM.
 * Guests set no alarms here, and the periodic interrupt is not modelled
 * (Linux uses the PIT/LAPIC timers). */
#ifndef LIBVMM_DEVICES_CMOS_H
#define LIBVMM_DEVICES_CMOS_H

#include "machine/machine.h"
#include "bus/bus.h"
#include "machine/component.h"

struct cmos;

extern const struct bus_dev_ops cmos_ops; /* 2 ports: index, data */

/* ram_below_4g/above_4g are recorded in NVRAM where BIOSes keep them. */
struct cmos *cmos_new(uint64_t ram_size);
void cmos_free(void *dev);


/* The device as a machine component (reset, save, load, destroy). */
extern const struct component_ops cmos_component_ops;

#endif
