/* Named virtio-console ports: device output to events, host input to the
 * device (vmm_vm_port_write). */
#include "core/vm_ports.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/vm.h"
#include "util/error.h"

int vm_ports_init(struct vmm_vm *vm)
{
    struct vm_ports *p = &vm->ports; /* lock: initialised by vmm_vm_create */
    p->n = vm->cfg->n_ports;
    if (!p->n)
        return 0;
    p->port = calloc(p->n, sizeof(*p->port));
    return p->port ? 0 : vmm_error(VMM_ENOMEM, "port buffers of VM '%s'", vm->cfg->name);
}

void vm_ports_set_live(struct vmm_vm *vm, int live)
{
    pthread_mutex_lock(&vm->ports.lock);
    vm->ports.live = live;
    pthread_mutex_unlock(&vm->ports.lock);
}

void vm_ports_free(struct vmm_vm *vm)
{
    struct vm_ports *p = &vm->ports;
    for (unsigned i = 0; p->port && i < p->n; i++)
        free(p->port[i].buf);
    free(p->port);
    p->port = NULL;
    pthread_mutex_destroy(&p->lock);
}

int vm_ports_out(void *opaque, unsigned index, const uint8_t *buf, size_t len)
{
    struct vmm_vm *vm = opaque;
    struct vm_ports *p = &vm->ports;
    int full = 0;
    pthread_mutex_lock(&p->lock);
    if (!p->live || index >= p->n) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    struct vm_port_out *o = &p->port[index];
    if (o->len + len > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + len)
            cap *= 2;
        uint8_t *n = realloc(o->buf, cap);
        if (!n) {
            /* Keep what fits and hold the device until the loop drained. */
            o->full = 1;
            pthread_mutex_unlock(&p->lock);
            return 1;
        }
        o->buf = n;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, buf, len);
    o->len += len;
    if (o->len >= VM_PORT_OUT_LIMIT)
        full = o->full = 1;
    pthread_mutex_unlock(&p->lock);
    uv_async_send(&vm->wakeup);
    return full;
}

void vm_ports_state(void *opaque, unsigned index, int open)
{
    struct vmm_vm *vm = opaque;
    struct vm_ports *p = &vm->ports;
    pthread_mutex_lock(&p->lock);
    if (!p->live || index >= p->n) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->port[index].open = open;
    p->port[index].open_changed = 1;
    pthread_mutex_unlock(&p->lock);
    uv_async_send(&vm->wakeup);
}

static void emit(struct vmm_vm *vm, unsigned index, const uint8_t *data, size_t len, int open)
{
    if (!vm->cb)
        return;
    vmm_event_t ev = { .type = VMM_EVENT_PORT, .vm = vm };
    ev.u.port.name = vm->cfg->ports[index].name;
    ev.u.port.data = data;
    ev.u.port.len = len;
    ev.u.port.open = open;
    vm->cb(&ev, vm->cb_opaque);
}

void vm_ports_flush(struct vmm_vm *vm)
{
    struct vm_ports *p = &vm->ports;
    for (unsigned i = 0; i < p->n; i++) {
        pthread_mutex_lock(&p->lock);
        struct vm_port_out *o = &p->port[i];
        uint8_t *buf = o->buf;
        size_t len = o->len;
        int open = o->open, changed = o->open_changed, was_full = o->full;
        o->buf = NULL;
        o->len = o->cap = 0;
        o->open_changed = o->full = 0;
        pthread_mutex_unlock(&p->lock);
        /* An open comes before the data, a close after it. */
        if (changed && open)
            emit(vm, i, NULL, 0, 1);
        if (len)
            emit(vm, i, buf, len, open);
        if (changed && !open)
            emit(vm, i, NULL, 0, 0);
        free(buf);
        if (was_full && vm->m.ports.resume)
            vm->m.ports.resume(vm->m.ports.opaque, i);
    }
}

static int port_index(const struct vmm_vm *vm, const char *name)
{
    for (unsigned i = 0; name && i < vm->cfg->n_ports; i++)
        if (!strcmp(vm->cfg->ports[i].name, name))
            return (int)i;
    return -1;
}

int vmm_vm_port_write(vmm_vm_t *vm, const char *name, const void *buf, size_t len)
{
    if (!vm || !name || (!buf && len))
        return vmm_error(VMM_EINVAL, "vmm_vm_port_write: vm, name and buf are required");
    int state = atomic_load(&vm->state);
    if (state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running or paused", vm->cfg->name);
    int i = port_index(vm, name);
    if (i < 0 || !vm->m.ports.receive)
        return vmm_error(VMM_ENOENT, "VM '%s' has no port named '%.80s'", vm->cfg->name, name);
    size_t n = vm->m.ports.receive(vm->m.ports.opaque, (unsigned)i, buf, len);
    if (n < len)
        return vmm_error(VMM_EBUSY, "port '%s': input buffer full: %zu of %zu bytes taken "
                         "(buffer %zu bytes)", name, n, len, vm->m.ports.buffer_size);
    return 0;
}

int vmm_vm_port_open(const vmm_vm_t *vm, const char *name)
{
    if (!vm || !name)
        return vmm_error(VMM_EINVAL, "vmm_vm_port_open: vm and name are required");
    int i = port_index(vm, name);
    if (i < 0)
        return vmm_error(VMM_ENOENT, "VM '%s' has no port named '%.80s'", vm->cfg->name, name);
    struct vm_ports *p = (struct vm_ports *)&vm->ports;
    pthread_mutex_lock(&p->lock);
    int open = p->port[i].open;
    pthread_mutex_unlock(&p->lock);
    return open;
}
