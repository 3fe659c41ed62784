/* libvmm — guest memory access from the host. */
#ifndef VMM_MEMORY_H
#define VMM_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Copies `len` bytes of guest-physical memory at `gpa` into buf. The whole
 * range must be RAM (VMM_ERANGE otherwise, naming the address). Any thread;
 * while the VM runs the bytes may change underneath. */
int vmm_vm_read_phys(vmm_vm_t *vm, uint64_t gpa, void *buf, size_t len);

/* Copies buf into guest-physical memory. Same rules as vmm_vm_read_phys(). */
int vmm_vm_write_phys(vmm_vm_t *vm, uint64_t gpa, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
