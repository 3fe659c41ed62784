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

/* Sets the callback that receives the VM's events (state, console,
 * restart); NULL stops them. Replaces the previous one. Loop thread. */
void vmm_vm_set_event_cb(vmm_vm_t *vm, vmm_event_cb cb, void *opaque);

/* DEFINED -> RUNNING: the vCPUs start on the host's scheduler pool (soft
 * engine, vmm_host_set_workers()) or on one host thread each (kvm, in a
 * cgroup of their own when the config has <cputune> shares or quotas).
 * VMM_ESTATE otherwise; VMM_EINVAL when a vCPU's pin names no worker's
 * CPU; VMM_EACCES naming the cgroup path that cannot be written. */
int vmm_vm_start(vmm_vm_t *vm);

/* RUNNING -> PAUSED: kicks every vCPU out of guest mode and returns once all
 * are parked, blocking the loop thread meanwhile (vmm_vm_pause_async() does
 * not). VMM_ESTATE if not running. */
int vmm_vm_pause(vmm_vm_t *vm);

/* PAUSED -> RUNNING. VMM_ESTATE if not paused. */
int vmm_vm_resume(vmm_vm_t *vm);

/* RUNNING|PAUSED -> SHUTOFF with outcome STOPPED (a forced power-off); waits
 * for the vCPU threads to end, blocking the loop thread meanwhile
 * (vmm_vm_stop_async() does not). VMM_ESTATE if not running or paused. */
int vmm_vm_stop(vmm_vm_t *vm);

/* Stops the VM if it runs, then frees it and returns its RAM to the pool.
 * Pending asynchronous operations complete with VMM_ECANCELED inside this
 * call. No event or completion is delivered after this returns. NULL is a
 * no-op. */
void vmm_vm_destroy(vmm_vm_t *vm);

/* CPU tuning at run time, as <cputune> says at start (the VM's config
 * follows, so vmm_vm_config() and its XML show the new values):
 *  - shares: the VM's weight against other VMs (libvirt shares, 2..262144;
 *    0 = the default 1024);
 *  - quota: each vCPU runs at most quota_us of every period_us
 *    (period 1000..1000000 us, quota >= 1000 us; quota -1 or 0 lifts it);
 *  - global quota: all vCPUs of the VM together, the same ranges.
 * Soft engine: the scheduler applies them at its next pick. kvm: written to
 * the VM's cgroup (cpu.weight / cpu.max, or cpu.shares / cpu.cfs_* on v1).
 * VMM_EINVAL naming a value out of range; VMM_EACCES / VMM_ENOTSUP naming
 * the cgroup path on kvm when it cannot be written. Any state. Loop thread. */
int vmm_vm_set_cpu_shares(vmm_vm_t *vm, unsigned shares);
int vmm_vm_set_cpu_quota(vmm_vm_t *vm, uint64_t period_us, int64_t quota_us);
int vmm_vm_set_cpu_global_quota(vmm_vm_t *vm, uint64_t period_us, int64_t quota_us);

/* Current state. Any thread. */
vmm_state_t vmm_vm_state(const vmm_vm_t *vm);

/* How the run ended (kind NONE while defined or running), into *out, a
 * sized struct the caller owns (vmm/abi.h: set out->size first). Returns 0,
 * or VMM_EINVAL for a NULL vm or out or a bad out->size. Any thread. */
int vmm_vm_outcome(const vmm_vm_t *vm, vmm_outcome_t *out);

/* Queues bytes as console input (the UART's receive side, a 64 KiB
 * buffer the guest drains). VMM_EBUSY when they do not all fit (the bytes
 * that fit are queued; the message says how many): retry once the guest has
 * read some. VMM_ESTATE when the VM is not running or paused. */
int vmm_vm_console_write(vmm_vm_t *vm, const void *buf, size_t len);

/* Queues bytes for the named virtio-console port `name` (see
 * vmm_config_add_port()): the guest reads them from /dev/vport<D>p<N> once a
 * guest program has the port open (until then they wait, across the guest
 * driver's device resets and guest reboots). Each port buffers 64 KiB.
 * VMM_EBUSY when they do not all fit (the bytes that fit are queued; the
 * message says how many): retry after the guest read some. VMM_ENOENT for a name the config has no port
 * for, VMM_ESTATE when the VM is not running or paused, VMM_EINVAL for NULL
 * arguments. What the guest writes comes back as VMM_EVENT_PORT events (a
 * port's output is held in the guest while 1 MiB of it waits for the loop).
 * Loop thread. */
int vmm_vm_port_write(vmm_vm_t *vm, const char *name, const void *buf, size_t len);

/* 1 when a guest program has port `name` open, 0 when not (yet);
 * VMM_ENOENT / VMM_EINVAL as above. Loop thread. */
int vmm_vm_port_open(const vmm_vm_t *vm, const char *name);

/* Blocking convenience: runs the host loop until this VM is SHUTOFF or
 * CRASHED, then returns its outcome kind (>= 0). */
int vmm_vm_wait(vmm_vm_t *vm);

/* The engine running the VM: "kvm" or "soft". */
const char *vmm_vm_engine(const vmm_vm_t *vm);

/* The config the VM was created from (read-only; owned by the VM). */
const vmm_config_t *vmm_vm_config(const vmm_vm_t *vm);

/* A pointer of the caller's, stored with the VM and returned by
 * vmm_vm_get_data() (libuv's uv_handle_set_data). The library never looks
 * at it and does not free it. NULL vm: no-op / NULL. Loop thread (any
 * thread if the caller serialises the calls). */
void vmm_vm_set_data(vmm_vm_t *vm, void *data);
void *vmm_vm_get_data(const vmm_vm_t *vm);

/* The VM's last failure that no return value could report: a guest crash
 * (VMM_ECRASHED, "guest crashed: <the outcome's reason>", also when the
 * config's on_crash action restarted the guest), a failed lifecycle restart
 * (VMM_ECRASHED, "guest crashed: restart failed: ..."), or a failed
 * asynchronous operation (its status, e.g. VMM_ESTATE for a pause the guest
 * ended first). Returns that code, or 0 when nothing failed yet; *message
 * (when message is non-NULL) gets the text ("" when nothing failed), owned by
 * the VM and valid until the next libvmm call on it. A later failure
 * replaces an earlier one. vmm_last_error() is unaffected. Loop thread. */
int vmm_vm_last_error(const vmm_vm_t *vm, const char **message);

/* Completion of an asynchronous VM operation: runs once, on the loop thread,
 * from the loop (never from inside the call that started the operation).
 * status is 0 or a negative VMM_E* code (then vmm_vm_last_error(vm) has the
 * message). It may call any libvmm function, vmm_vm_destroy(vm) included,
 * except when status is VMM_ECANCELED: then it runs inside vmm_vm_destroy(),
 * the VM is going away and may only be read. */
typedef void (*vmm_vm_done_cb)(vmm_vm_t *vm, int status, void *opaque);

/* RUNNING -> PAUSED without blocking the loop: asks every vCPU to stop and
 * returns at once; once all are parked the state becomes PAUSED (the
 * VMM_EVENT_STATE event is delivered first), then cb(vm, 0, opaque) runs. If
 * the run ends before every vCPU parked, cb gets VMM_ESTATE and the VM ends
 * as the guest or host asked. cb may be NULL. Returns 0 (cb will run exactly
 * once), or, with cb never called: VMM_EINVAL (NULL vm), VMM_ESTATE (not
 * running, or ending), VMM_EBUSY (a pause is already in progress),
 * VMM_ENOMEM / VMM_EIO (no memory or thread for the waiter). Until cb runs
 * the state stays RUNNING and vmm_vm_pause()/vmm_vm_resume() fail with
 * VMM_ESTATE. Loop thread. */
int vmm_vm_pause_async(vmm_vm_t *vm, vmm_vm_done_cb cb, void *opaque);

/* Pauses the running VM once vCPU 0 has retired `instructions` (soft
 * engine; VMM_ENOTSUP on kvm, which does not count them): at the first
 * point at or after it where the CPU checks for interrupts (a block end,
 * at most a few thousand instructions later; vmm_vm_vcpu_stats() says
 * exactly where). In deterministic mode (vmm_config_set_deterministic) that
 * point is the same in every run, and a VM saved there and restored,
 * in this process or another, goes on exactly as a run that never stopped:
 * the same console bytes, the same instruction counts. cb(vm, status,
 * opaque) runs on the loop when it paused (0; the state event PAUSED came
 * first), or VMM_ESTATE when the run ended first, VMM_ECANCELED when
 * vmm_vm_pause() paused it before. VMM_EINVAL when vCPU 0 has retired
 * `instructions` already, VMM_EBUSY while another pause is pending. */
int vmm_vm_pause_at(vmm_vm_t *vm, uint64_t instructions, vmm_vm_done_cb cb, void *opaque);

/* RUNNING|PAUSED -> SHUTOFF (outcome STOPPED) without blocking the loop:
 * asks every vCPU to end and returns at once; when the vCPU threads have
 * ended and the VM is final (VMM_EVENT_STATE delivered), cb(vm, 0, opaque)
 * runs. If the guest ended the run first (poweroff, crash), the VM ends that
 * way and cb still gets 0: the VM is stopped. A restart the guest asked for
 * at the same moment is stopped too. cb may be NULL; several stops may be
 * pending. Returns 0 (cb will run exactly once) or, with cb never called,
 * VMM_EINVAL (NULL vm), VMM_ESTATE (not running or paused), VMM_ENOMEM.
 * Loop thread. */
int vmm_vm_stop_async(vmm_vm_t *vm, vmm_vm_done_cb cb, void *opaque);

#ifdef __cplusplus
}
#endif
#endif
