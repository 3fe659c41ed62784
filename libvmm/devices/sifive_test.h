/* SiFive test device ("sifive,test0"), as on QEMU's riscv virt machine at
 * 0x100000: a 32-bit write of 0x5555 powers off, 0x7777 resets, and
 * 0x3333 | (code << 16) fails with that exit code (VMM_OUTCOME_DEBUG_EXIT
 * with exit_code = code). Other values are ignored. Stateless: the opaque is
 * the machine. */
#ifndef LIBVMM_DEVICES_SIFIVE_TEST_H
#define LIBVMM_DEVICES_SIFIVE_TEST_H

#include "bus/bus.h"
#include "machine/component.h"

#define SIFIVE_TEST_BASE 0x100000
#define SIFIVE_TEST_SIZE 0x1000

extern const struct bus_dev_ops sifive_test_ops; /* opaque: struct machine * */


/* The device as a machine component (reset, save, load, destroy). */
extern const struct component_ops sifive_test_component_ops;

#endif
