/* virtio-console (virtio 1.x, 5.3) with VIRTIO_CONSOLE_F_MULTIPORT.
 *
 * Port 0 is the system console when the config asks for one (hvc0 in a
 * Linux guest): what the guest writes to it goes to the machine's console
 * output like the UART's, and machine_console_receive() feeds it. Ports
 * 1..n are named ports (/dev/vport<dev>p<n>, their name in
 * /sys/class/virtio-ports/<port>/name): their output goes to the host's
 * port_out hook, their input comes through m->ports.receive. The device
 * announces the ports over the control queues (PORT_ADD, CONSOLE_PORT,
 * PORT_NAME, PORT_OPEN) once the driver says DEVICE_READY.
 *
 * Host input waits in a bounded buffer per port (VIRTIO_CONSOLE_IN_BUFFER
 * bytes) until the guest has the port open; output a host cannot take yet
 * stays in the guest's transmit queue (backpressure). Control messages
 * from the driver are untrusted: short messages, unknown ports and unknown
 * events are ignored, never trusted for a length.
 *
 * Everything runs on the device's worker thread; host input only fills the
 * buffers (under a lock) and kicks it.
 */
#ifndef LIBVMM_DEVICES_VIRTIO_CONSOLE_H
#define LIBVMM_DEVICES_VIRTIO_CONSOLE_H

#include "devices/virtio/mmio.h"
#include "machine/machine.h"

#define VIRTIO_CONSOLE_MAX_NAMED 16      /* named ports besides port 0 */
#define VIRTIO_CONSOLE_NAME_MAX 64       /* bytes of a port name */
#define VIRTIO_CONSOLE_IN_BUFFER 65536   /* host bytes one port holds */

struct virtio_console;

/* Adds a virtio-console at MMIO `base`, line `irq`, as component `name`.
 * `console`: port 0 is the machine's console (output through
 * machine_console_out, input through m->console_in, which this sets).
 * `names[0..nr_named-1]`: the named ports 1..nr_named (m->ports is set
 * when there is at least one). */
int virtio_console_create(struct machine *m, const struct virtio_placement *at, int console,
                          const char *const *names, unsigned nr_named, struct virtio_console **out);

#endif
