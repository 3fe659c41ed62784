/* What the parts of the library above core (the control socket, control/)
 * need from a VM beyond the public API: observers that see every event
 * without taking the program's event callback, a reset the host asks for,
 * the board's power button, and the vCPUs' host threads. Loop thread only.
 *
 * Observers are delivered each event before the program's callback, in
 * the order they were added. An observer must not add or remove observers
 * from its event callback. vm_data.c keeps the list; vm.c calls
 * vm_observers_detach() when vmm_vm_destroy() begins.
 */
#ifndef LIBVMM_CORE_VM_HOOKS_H
#define LIBVMM_CORE_VM_HOOKS_H

#include "vmm/event.h"

struct vmm_vm;

struct vm_observer_ops {
    /* Every event of the VM (state, console, restart), sized as the
     * program's callback gets it. */
    void (*event)(void *opaque, const vmm_event_t *ev);
    /* vmm_vm_destroy() began: the observer is removed and must not touch
     * the VM after returning. No event follows. */
    void (*detach)(void *opaque);
};

/* Adds an observer; VMM_ENOMEM. */
int vm_observer_add(struct vmm_vm *vm, const struct vm_observer_ops *ops, void *opaque);

/* Removes the observer added with `opaque`; no-op when there is none. */
void vm_observer_remove(struct vmm_vm *vm, void *opaque);

/* vm_data.c: hands an event to every observer. */
void vm_observers_event(struct vmm_vm *vm, const vmm_event_t *ev);

/* vm_data.c: calls every observer's detach and empties the list. */
void vm_observers_detach(struct vmm_vm *vm);

/* The outcome reason of a reset the host asked for with vm_reset(): the
 * VMM_EVENT_RESTART that follows carries it in u.restart.previous.reason. */
#define VM_HOST_RESET_REASON "reset by the host"

/* Resets the guest as if it had asked for a reboot, whatever the config's
 * on_reboot action says: every component back to power-on state, RAM
 * reloaded, new vCPU threads (the lifecycle restart path; a
 * VMM_EVENT_RESTART follows once done, from the loop). A running VM keeps
 * running, a paused one stays paused. VMM_ESTATE when the VM is not running
 * or paused, or already ending. vm.c */
int vm_reset(struct vmm_vm *vm);

/* Presses the board's power button (x86: the ACPI fixed power button, its
 * status bit and SCI). VMM_ENOTSUP with a message when the board has none
 * (riscv64 virt), VMM_ESTATE when the VM is not running or paused.
 * vm_hooks.c */
int vm_power_button(struct vmm_vm *vm);

/* The host thread id (gettid) of vCPU `index`'s thread; 0 while none runs
 * it (not started, ended) or for an index out of range. A thread created
 * a moment ago is waited for (briefly) until it has told its id.
 * vm_hooks.c */
int vm_vcpu_thread_id(struct vmm_vm *vm, unsigned index);

/* The guest architecture: "x86_64" or "riscv64". vm_hooks.c */
const char *vm_arch(const struct vmm_vm *vm);

#endif
