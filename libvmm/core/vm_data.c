/* The VM's embedder-facing data: the event callback (through a trampoline
 * that stamps the sized event), the user's data pointer and the VM's last
 * asynchronous error. Loop thread. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/vm.h"
#include "util/error.h"

/* Every event reaches the program through here, so .size is set in one
 * place, whichever part of core built the event. */
static void event_trampoline(const vmm_event_t *ev, void *opaque)
{
    struct vmm_vm *vm = opaque;
    if (!vm->embed.user_cb)
        return;
    vmm_event_t sized = *ev;
    sized.size = sizeof(sized);
    if (sized.type == VMM_EVENT_RESTART)
        sized.u.restart.previous.size = sizeof(sized.u.restart.previous);
    vm->embed.user_cb(&sized, vm->embed.user_cb_opaque);
}

void vmm_vm_set_event_cb(vmm_vm_t *vm, vmm_event_cb cb, void *opaque)
{
    if (!vm)
        return;
    vm->embed.user_cb = cb;
    vm->embed.user_cb_opaque = opaque;
    vm->cb = cb ? event_trampoline : NULL;
    vm->cb_opaque = vm;
}

void vmm_vm_set_data(vmm_vm_t *vm, void *data)
{
    if (vm)
        vm->embed.data = data;
}

void *vmm_vm_get_data(const vmm_vm_t *vm)
{
    return vm ? vm->embed.data : NULL;
}

int vmm_vm_last_error(const vmm_vm_t *vm, const char **message)
{
    if (!vm) {
        if (message)
            *message = "vmm_vm_last_error: vm is NULL";
        return vmm_error(VMM_EINVAL, "vmm_vm_last_error: vm is NULL");
    }
    if (message)
        *message = vm->embed.last_error;
    return vm->embed.last_error_code;
}

void vm_embed_set_error(struct vmm_vm *vm, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->embed.last_error, sizeof(vm->embed.last_error), fmt, ap);
    va_end(ap);
    vm->embed.last_error_code = code;
}

void vm_embed_note_crash(struct vmm_vm *vm)
{
    struct machine *m = &vm->m;
    char reason[sizeof(m->outcome.reason)];
    int crashed = 0;
    pthread_mutex_lock(&m->outcome_lock);
    if (m->outcome_set && m->outcome.kind == VMM_OUTCOME_CRASH) {
        crashed = 1;
        memcpy(reason, m->outcome.reason, sizeof(reason));
        reason[sizeof(reason) - 1] = '\0';
    }
    pthread_mutex_unlock(&m->outcome_lock);
    if (!crashed)
        return;
    struct vm_embed *e = &vm->embed;
    if (e->crash_noted && e->crash_run == vm->restarts && strcmp(e->crash_reason, reason) == 0)
        return;
    e->crash_noted = 1;
    e->crash_run = vm->restarts;
    memcpy(e->crash_reason, reason, sizeof(e->crash_reason));
    vm_embed_set_error(vm, VMM_ECRASHED, "guest crashed: %s", reason);
}
