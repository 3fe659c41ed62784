/* libvmm — an embeddable virtual machine monitor.
 *
 * Umbrella header: include this one. See README.md for an example.
 */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#define VMM_VERSION_MAJOR 0
#define VMM_VERSION_MINOR 1
#define VMM_VERSION_PATCH 0

#include "abi.h"
#include "caps.h"
#include "config.h"
#include "control.h"
#include "device.h"
#include "error.h"
#include "event.h"
#include "host.h"
#include "snapshot.h"
#include "memory.h"
#include "vcpu.h"
#include "vm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0" — the version of the library actually loaded. */
const char *vmm_version(void);

#ifdef __cplusplus
}
#endif
#endif
