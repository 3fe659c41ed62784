/* Debug-exit device with QEMU's isa-debug-exit semantics: a write of v to
 * its port (0xf4 on our x86 board) ends the run with VMM_OUTCOME_DEBUG_EXIT
 * and exit code (v << 1) | 1, so test guests can report pass/fail codes.
 * Reads return all-ones. Stateless: the opaque is the machine. */
#ifndef LIBVMM_DEVICES_DEBUG_EXIT_H
#define LIBVMM_DEVICES_DEBUG_EXIT_H

#include "bus/bus.h"
#include "machine/component.h"

#define DEBUG_EXIT_PORT 0xf4

extern const struct bus_dev_ops debug_exit_ops; /* opaque: struct machine * */


/* The device as a machine component (reset, save, load, destroy). */
extern const struct component_ops debug_exit_component_ops;

#endif
