/* Virtio 1.x constants shared by the transport and the devices (the values
 * are the specification's; the names are ours).
 */
#ifndef LIBVMM_DEVICES_VIRTIO_VIRTIO_H
#define LIBVMM_DEVICES_VIRTIO_VIRTIO_H

#include <stdint.h>

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED 128u

/* Feature bits the transport and ring layout own. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_RESET 40

/* Device ids. */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK 19

/* Interrupt status bits (virtio-mmio InterruptStatus). */
#define VIRTIO_INT_USED_RING 1u
#define VIRTIO_INT_CONFIG 2u

#define VIRTIO_BIT(n) (1ULL << (n))

#endif
