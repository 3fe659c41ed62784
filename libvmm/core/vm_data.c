/* The VM's embedder-facing data: the event callback (through a trampoline
 * that stamps the sized event), the user's data pointer and the VM's last
 * asynchronous error. Loop thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/vm.h"
#include "core/vm_hooks.h"
#include "util/error.h"

struct vm_observer {
    struct vm_observer *next;
    const struct vm_observer_ops *ops;
    void *opaque;
};

/* Every event reaches the program through here, so .size is set in one
 * place, whichever part of core built the event. */
static void event_trampoline(const vmm_event_t *ev, void *opaque)
{
    struct vmm_vm *vm = opaque;
    vmm_event_t sized = *ev;
    sized.size = sizeof(sized);
    if (sized.type == VMM_EVENT_RESTART)
        sized.u.restart.previous.size = sizeof(sized.u.restart.previous);
    /* The library's observers first: the program's callback may destroy
     * the VM. */
    vm_observers_event(vm, &sized);
    if (vm->embed.user_cb)
        vm->embed.user_cb(&sized, vm->embed.user_cb_opaque);
}

/* Core calls vm->cb whenever the program or an observer wants events. */
static void update_cb(struct vmm_vm *vm)
{
    vm->cb = vm->embed.user_cb || vm->embed.observers ? event_trampoline : NULL;
    vm->cb_opaque = vm;
}

void vmm_vm_set_event_cb(vmm_vm_t *vm, vmm_event_cb cb, void *opaque)
{
    if (!vm)
        return;
    vm->embed.user_cb = cb;
    vm->embed.user_cb_opaque = opaque;
    update_cb(vm);
}

/* --- observers (vm_hooks.h) --- */

int vm_observer_add(struct vmm_vm *vm, const struct vm_observer_ops *ops, void *opaque)
{
    struct vm_observer *o = calloc(1, sizeof(*o));
    if (!o)
        return vmm_error(VMM_ENOMEM, "allocating an event observer of VM '%s'", vm->cfg->name);
    o->ops = ops;
    o->opaque = opaque;
    struct vm_observer **tail = &vm->embed.observers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = o;
    if (!vm->embed.destroying)
        update_cb(vm);
    return 0;
}

void vm_observer_remove(struct vmm_vm *vm, void *opaque)
{
    for (struct vm_observer **p = &vm->embed.observers; *p; p = &(*p)->next) {
        if ((*p)->opaque == opaque) {
            struct vm_observer *o = *p;
            *p = o->next;
            free(o);
            break;
        }
    }
    if (!vm->embed.destroying)
        update_cb(vm);
}

void vm_observers_event(struct vmm_vm *vm, const vmm_event_t *ev)
{
    for (struct vm_observer *o = vm->embed.observers; o; o = o->next)
        if (o->ops->event)
            o->ops->event(o->opaque, ev);
}

void vm_observers_detach(struct vmm_vm *vm)
{
    struct vm_observer *o = vm->embed.observers;
    vm->embed.observers = NULL;
    while (o) {
        struct vm_observer *next = o->next;
        if (o->ops->detach)
            o->ops->detach(o->opaque);
        free(o);
        o = next;
    }
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
