/* Public calls on a VM's devices: host-written devices' interrupt lines and
 * refusal counts, disk capacity refresh. They look components up by name
 * (component names are the config's device names and disk targets). */
#include "config/config.h"
#include "core/vm.h"
#include "devices/host_device.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "machine/component.h"
#include "util/error.h"

int vmm_vm_device_set_irq(vmm_vm_t *vm, const char *name, int level)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_device_set_irq: vm is required");
    return host_device_set_irq(&vm->m, name, level);
}

uint64_t vmm_vm_device_refused(vmm_vm_t *vm, const char *name)
{
    uint64_t n = 0;
    if (vm)
        host_device_refused(&vm->m, name, &n);
    return n;
}

int vmm_vm_net_receive(vmm_vm_t *vm, const char *name, const void *frame, size_t len)
{
    if (!vm || !name || !frame)
        return vmm_error(VMM_EINVAL, "vmm_vm_net_receive: vm, name and frame are required");
    struct virtio_net *n = virtio_net_of(machine_find_component(&vm->m, name));
    if (!n)
        return vmm_error(VMM_ENOENT, "VM '%s' has no network interface '%s'",
                         vmm_vm_config(vm)->name, name);
    return net_backend_offer(virtio_net_backend(n), frame, len);
}

int vmm_vm_disk_refresh(vmm_vm_t *vm, const char *target, uint64_t *new_size)
{
    if (!vm || !target)
        return vmm_error(VMM_EINVAL, "vmm_vm_disk_refresh: vm and target are required");
    struct virtio_blk *b = virtio_blk_of(machine_find_component(&vm->m, target));
    if (!b)
        return vmm_error(VMM_ENOENT, "VM '%s' has no disk '%s'", vmm_vm_config(vm)->name, target);
    uint64_t size = virtio_blk_refresh_capacity(b);
    if (new_size)
        *new_size = size;
    return 0;
}
