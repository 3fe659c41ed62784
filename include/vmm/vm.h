/* libvmm — virtual machines.
 *
 * Unless noted, these functions are called on the host's loop thread.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a VM from `cfg` (copied; the caller keeps ownership of cfg):
 * checks the host and engine limits, reserves RAM from the host pool, builds
 * the machine and loads the kernel. The VM is DEFINED and not yet running.
 * Errors: VMM_EINVAL (bad values), VMM_ENOENT (missing kernel/initrd),
 * VMM_EFORMAT (not a kernel), VMM_ENOMEM (pool or host memory), VMM_ENOTSUP
 * / VMM_EACCES (engine unavailable, e.g. no /dev/kvm), VMM_EKVM. */
int vmm_vm_create(vmm_host_t *host, const vmm_config_t *cfg, vmm_vm_t **out);

/* Sets the callback that receives the VM's events (state, console). */
void vmm_vm_set_event_cb(vmm_vm_t *vm, vmm_event_cb cb, void *opaque);

/* DEFINED -> RUNNING: starts one host thread per vCPU. VMM_ESTATE otherwise. */
int vmm_vm_start(vmm_vm_t *vm);

/* RUNNING -> PAUSED: kicks every vCPU out of guest mode and returns once all
 * are parked. VMM_ESTATE if not running. */
int vmm_vm_pause(vmm_vm_t *vm);

/* PAUSED -> RUNNING. VMM_ESTATE if not paused. */
int vmm_vm_resume(vmm_vm_t *vm);

/* RUNNING|PAUSED -> SHUTOFF with outcome STOPPED (a forced power-off); waits
 * for the vCPU threads to end. VMM_ESTATE if not running or paused. */
int vmm_vm_stop(vmm_vm_t *vm);

/* Stops the VM if it runs, then frees it and returns its RAM to the pool.
 * No event is delivered after this returns. NULL is a no-op. */
void vmm_vm_destroy(vmm_vm_t *vm);

/* Current state. Any thread. */
vmm_state_t vmm_vm_state(const vmm_vm_t *vm);

/* How the run ended (kind NONE while defined or running). */
void vmm_vm_outcome(const vmm_vm_t *vm, vmm_outcome_t *out);

/* Queues bytes as console input (the UART's receive side, a 64 KiB
 * buffer the guest drains). VMM_EBUSY when they do not all fit (the bytes
 * that fit are queued; the message says how many): retry once the guest has
 * read some. VMM_ESTATE when the VM is not running or paused. */
int vmm_vm_console_write(vmm_vm_t *vm, const void *buf, size_t len);

/* Blocking convenience: runs the host loop until this VM is SHUTOFF or
 * CRASHED, then returns its outcome kind (>= 0). */
int vmm_vm_wait(vmm_vm_t *vm);

/* The engine running the VM: "kvm" or "soft". */
const char *vmm_vm_engine(const vmm_vm_t *vm);

/* The config the VM was created from (read-only; owned by the VM). */
const vmm_config_t *vmm_vm_config(const vmm_vm_t *vm);

#ifdef __cplusplus
}
#endif
#endif
