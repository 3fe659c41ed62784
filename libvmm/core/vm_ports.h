/* A VM's named virtio-console ports on the host side: what the guest wrote
 * to each port waits here (under a lock, filled on the device's thread)
 * until the loop thread delivers it as VMM_EVENT_PORT events; opens and
 * closes by the guest likewise. A port whose buffer passed
 * VM_PORT_OUT_LIMIT tells the device to hold further output until the loop
 * has drained it (machine_port_io.resume). */
#ifndef LIBVMM_CORE_VM_PORTS_H
#define LIBVMM_CORE_VM_PORTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define VM_PORT_OUT_LIMIT (1u << 20)

struct vmm_vm;

struct vm_port_out {
    uint8_t *buf;
    size_t len, cap;
    int full;         /* the device was told to hold output */
    int open;         /* latest guest open state */
    int open_changed; /* not yet delivered */
};

struct vm_ports {
    pthread_mutex_t lock;
    int live;         /* events can be delivered (the VM's wakeup exists) */
    unsigned n;
    struct vm_port_out *port;
};

/* Sets up one buffer per configured port. Loop thread. */
int vm_ports_init(struct vmm_vm *vm);
/* Device side may deliver from now on / no more (before teardown). */
void vm_ports_set_live(struct vmm_vm *vm, int live);
/* Frees the buffers (after the machine is gone). */
void vm_ports_free(struct vmm_vm *vm);
/* Delivers pending port events. Loop thread, from the wakeup. */
void vm_ports_flush(struct vmm_vm *vm);

/* machine_host_ops hooks (device threads). */
int vm_ports_out(void *opaque, unsigned index, const uint8_t *buf, size_t len);
void vm_ports_state(void *opaque, unsigned index, int open);

#endif
