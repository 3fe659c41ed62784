/* virtio-blk (virtio 1.x, 5.2) on a block backend (devices/block/backend.h):
 * READ, WRITE, FLUSH (-> the backend's flush; fdatasync for files),
 * GET_ID (the serial), DISCARD and WRITE_ZEROES (hole punching), read-only
 * disks (VIRTIO_BLK_F_RO; writes fail), capacity changes announced with a
 * config interrupt. Requests run on the device's worker thread; a backend
 * may complete them later from any thread.
 */
#ifndef LIBVMM_DEVICES_VIRTIO_BLK_H
#define LIBVMM_DEVICES_VIRTIO_BLK_H

#include "devices/block/backend.h"
#include "devices/virtio/mmio.h"

#define VIRTIO_BLK_SERIAL_MAX 20

struct virtio_blk;

/* Adds a virtio-blk where `at` says, taking ownership of `be` (freed with
 * the device, or at once on failure). serial: NULL or at most
 * VIRTIO_BLK_SERIAL_MAX bytes. */
int virtio_blk_create(struct machine *m, const struct virtio_placement *at, struct blk_backend *be,
                      const char *serial, struct virtio_blk **out);

/* The virtio-blk behind component `c`, or NULL when c is something else. */
struct component;
struct virtio_blk *virtio_blk_of(struct component *c);

/* Re-reads the backend's size and, if it changed, tells the guest (config
 * interrupt). Returns the new size in bytes. Any thread. */
uint64_t virtio_blk_refresh_capacity(struct virtio_blk *b);

#endif
