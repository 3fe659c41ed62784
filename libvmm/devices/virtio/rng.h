/* virtio-rng (virtio 1.x, 5.4): one queue; every device-writable buffer the
 * guest posts comes back filled from the host's getrandom(). */
#ifndef LIBVMM_DEVICES_VIRTIO_RNG_H
#define LIBVMM_DEVICES_VIRTIO_RNG_H

#include "machine/machine.h"

/* Adds a virtio-rng at MMIO `base`, interrupt line `irq`, as component `name`. */
int virtio_rng_create(struct machine *m, const char *name, uint64_t base, unsigned irq);

#endif
