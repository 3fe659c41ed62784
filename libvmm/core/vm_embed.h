/* What a VM keeps for the program embedding libvmm, beside the lifecycle in
 * vm.c: the user's data pointer and event callback, the VM's last
 * asynchronous error (vm_data.c) and the pending asynchronous pause/stop
 * operations (vm_async.c). All of it is touched on the loop thread only. */
#ifndef LIBVMM_CORE_VM_EMBED_H
#define LIBVMM_CORE_VM_EMBED_H

#include <stdint.h>

#include "vmm/event.h"

struct vmm_vm;
struct vm_async;
struct vm_observer;

struct vm_embed {
    vmm_event_cb user_cb; /* the program's event callback (vm->cb is ours) */
    void *user_cb_opaque;
    void *data;           /* vmm_vm_set_data() */
    struct vm_observer *observers; /* library parts seeing events too (vm_hooks.h) */

    int last_error_code;  /* vmm_vm_last_error() */
    char last_error[512];

    /* The CRASH outcome already copied into last_error: run and reason. */
    int crash_noted;
    unsigned crash_run;
    char crash_reason[256];

    struct vm_async *async; /* NULL until the first *_async call */
    int destroying;         /* vmm_vm_destroy() has begun */
};

/* Records the current run's CRASH outcome as the VM's last error, once per
 * crash. Called on every wakeup, before and after the run is finished (a
 * restart clears the outcome). vm_data.c */
void vm_embed_note_crash(struct vmm_vm *vm);

/* Sets the VM's last error. vm_data.c */
void vm_embed_set_error(struct vmm_vm *vm, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Completes the pending asynchronous operations that are done. Called on
 * every wakeup of the VM, after the run's end was handled. vm_async.c */
void vm_async_poll(struct vmm_vm *vm);

/* Start of vmm_vm_destroy(): completes the pending operations with
 * VMM_ECANCELED. Returns 1 when a destroy of this VM is already under way
 * (a completion callback destroying it again), then the caller returns at
 * once. vm_async.c */
int vm_async_before_destroy(struct vmm_vm *vm);

/* vm.c: changes the state and delivers the VMM_EVENT_STATE event. */
void vm_emit_state(struct vmm_vm *vm, vmm_state_t new_state);

#endif
