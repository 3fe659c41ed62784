/* virtio-rng (virtio 1.x, 5.4): one queue; every device-writable buffer the
 * guest posts comes back filled from the host's getrandom(). */
#ifndef LIBVMM_DEVICES_VIRTIO_RNG_H
#define LIBVMM_DEVICES_VIRTIO_RNG_H

#include "devices/virtio/mmio.h"

/* Adds a virtio-rng where `at` says. */
int virtio_rng_create(struct machine *m, const struct virtio_placement *at);

#endif
