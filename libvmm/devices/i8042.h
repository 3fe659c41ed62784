/* i8042 keyboard controller, reduced to what a guest without a keyboard
 * needs: the command/status protocol Linux probes, and the controller's
 * CPU-reset line (command 0xfe, or output port bit 0 cleared), which is the
 * guest's classic way to reboot: it ends the run with VMM_OUTCOME_RESET.
 * Ports: data at 0x60 (offset 0 of the "data" range), command/status at
 * 0x64 (offset 0 of the "cmd" range); register both with the ops below.
 */
#ifndef LIBVMM_DEVICES_I8042_H
#define LIBVMM_DEVICES_I8042_H

#include "machine/machine.h"
#include "bus/bus.h"
#include "machine/component.h"

struct i8042;

extern const struct bus_dev_ops i8042_data_ops; /* port 0x60 */
extern const struct bus_dev_ops i8042_cmd_ops;  /* port 0x64 */

struct i8042 *i8042_new(struct machine *m);
void i8042_free(void *dev);


/* The device as a machine component (reset, save, load, destroy). */
extern const struct component_ops i8042_component_ops;

#endif
