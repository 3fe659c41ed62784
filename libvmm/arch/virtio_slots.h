/* Where a board puts the configuration's virtio devices: a row of
 * virtio-mmio windows, one interrupt line each, filled in a fixed order
 * (rng, then disks, then NICs, ...) so a configuration always gives the
 * guest the same layout. The boards describe the row (riscv: QEMU virt's
 * 0x10001000 + 0x1000·n with PLIC sources 1..; x86: a window in the MMIO
 * gap with IOAPIC pins 16..) and tell the guest about the filled slots
 * (device tree, kernel command line).
 */
#ifndef LIBVMM_ARCH_VIRTIO_SLOTS_H
#define LIBVMM_ARCH_VIRTIO_SLOTS_H

#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "machine/machine.h"
#include "vmm/config.h"

#define VIRTIO_SLOTS_MAX 16

struct virtio_layout {
    uint64_t base, stride;
    const unsigned *irqs; /* interrupt line of each slot */
    unsigned max;         /* slots the board has (entries in irqs) */
    int edge;             /* the lines are edge-triggered (virtio_placement) */
};

struct virtio_slots {
    struct virtio_placement slot[VIRTIO_SLOTS_MAX];
    unsigned nr;
};

/* Creates the virtio devices `cfg` asks for (none when cfg is NULL). An
 * error names the device and why (a disk file that cannot be opened, more
 * devices than the board has slots). */
int virtio_slots_populate(struct machine *m, const vmm_config_t *cfg,
                          const struct virtio_layout *layout, struct virtio_slots *out);

#endif
