/* virtio-net (virtio 1.x, 5.1) on a network backend (devices/net/backend.h):
 * one receive and one transmit queue, no control queue. Offered: the MAC
 * address (VIRTIO_NET_F_MAC) and a link that is always up
 * (VIRTIO_NET_F_STATUS); on a backend that carries virtio headers (a tap
 * with IFF_VNET_HDR) also checksum offload both ways and TCP segmentation
 * offload for transmitted frames (CSUM, GUEST_CSUM, HOST_TSO4, HOST_TSO6),
 * which the host kernel completes.
 *
 * Both queues are served by the device's worker: transmit when the guest
 * notifies, receive when the backend's receive thread has queued a frame or
 * the guest posts buffers after the ring ran dry. Everything in a chain is
 * untrusted: a transmit chain shorter than the 12-byte header puts the
 * device in NEEDS_RESET; a frame above NET_FRAME_MAX or below an Ethernet
 * header is dropped; a receive buffer too small for the frame gets nothing
 * (used length 0) and the frame is dropped.
 */
#ifndef LIBVMM_DEVICES_VIRTIO_NET_H
#define LIBVMM_DEVICES_VIRTIO_NET_H

#include <stdint.h>

#include "devices/net/backend.h"
#include "devices/virtio/mmio.h"
#include "machine/machine.h"

struct virtio_net;

/* Counters, for tests and logs. */
struct virtio_net_stats {
    uint64_t tx_frames, tx_dropped, rx_frames, rx_dropped;
};

/* Adds a virtio-net at MMIO `base`, line `irq`, as component `name`, with
 * MAC address `mac`, taking ownership of `be` (freed with the device, or at
 * once on failure). */
int virtio_net_create(struct machine *m, const struct virtio_placement *at, const uint8_t mac[6],
                      struct net_backend *be, struct virtio_net **out);

void virtio_net_stats(struct virtio_net *n, struct virtio_net_stats *out);

/* The virtio-net behind component `c`, or NULL; and its backend. */
struct component;
struct virtio_net *virtio_net_of(struct component *c);
struct net_backend *virtio_net_backend(struct virtio_net *n);

#endif
