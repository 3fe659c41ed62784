/* A split virtqueue (virtio 1.x, 2.7): the descriptor table, the driver
 * ("available") ring and the device ("used") ring, all in guest memory.
 *
 * Everything in those rings is written by the guest and is untrusted: the
 * head index, every descriptor's address, length, flags and next index,
 * indirect tables. virtq_pop() checks all of it before the device sees a
 * byte — addresses must lie in RAM (never MMIO), lengths must not wrap,
 * chains are bounded by the queue size (a loop is caught), indirect tables
 * are bounded, not nested and only allowed when negotiated, and
 * device-writable buffers may not precede device-readable ones. A chain that
 * breaks a rule makes virtq_pop() fail with VMM_EFORMAT and a message naming
 * the field and the limit; the transport then marks the device NEEDS_RESET.
 *
 * A queue is used by one thread at a time (the device's worker); pop and
 * push need no lock. Memory ordering against the guest follows the spec:
 * the available index is read with acquire semantics before the ring
 * entries, the used index is published with release semantics after them,
 * and a full fence separates publishing from reading the guest's event
 * index.
 */
#ifndef LIBVMM_DEVICES_VIRTIO_QUEUE_H
#define LIBVMM_DEVICES_VIRTIO_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "machine/state.h"
#include "mem/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024 /* largest queue size a device offers */
#define VIRTQ_MAX_SEGS 1024 /* buffers in one chain, indirect ones included */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq {
    /* Set by the driver through the transport. */
    uint16_t size;     /* entries; a power of two <= max_size */
    uint16_t max_size; /* what the device offers */
    int ready;
    uint64_t desc_gpa, avail_gpa, used_gpa;

    /* Negotiated features that change the ring's behaviour. */
    int event_idx, indirect;

    struct guest_mem *mem; /* where the rings live (dirty logging of writes) */
    /* Host views, valid while ready (virtq_activate checks them). */
    const uint8_t *desc;
    const uint8_t *avail;
    uint8_t *used;

    uint16_t last_avail; /* next available entry the device takes */
    uint16_t used_idx;   /* next used entry the device fills */
    uint16_t signalled_used; /* used_idx at the last interrupt (event idx) */
    int signalled_valid;
};

/* One chain popped from the queue: `nr_out` device-readable buffers first,
 * then `nr_in` device-writable ones, as host pointers into guest RAM. */
struct virtq_chain {
    uint16_t head;
    unsigned nr_out, nr_in;
    uint64_t out_len, in_len; /* bytes in each direction */
    struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Back to the state after a device reset (size = max_size, not ready). */
void virtq_reset(struct virtq *q, uint16_t max_size);

/* Checks the driver's setup (size a power of two within max, rings aligned
 * and inside RAM) and maps the rings. VMM_EINVAL naming the bad value. */
int virtq_activate(struct virtq *q, const struct guest_mem *mem);

/* Takes the next available chain. 1: *c is filled; 0: the ring is empty;
 * VMM_EFORMAT: the guest broke a rule (message says which), nothing was
 * consumed, and the queue must not be used until the device is reset. */
int virtq_pop(struct virtq *q, const struct guest_mem *mem, struct virtq_chain *c);

/* Puts the chain just popped back (the next pop returns it again): for a
 * request its first taker hands to another thread instead. */
void virtq_unpop(struct virtq *q);

/* Returns chain `head` to the guest with `written` bytes written to its
 * device-writable buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/* Whether the guest wants an interrupt for what was pushed since the last
 * time this returned 1 (VIRTQ_AVAIL_F_NO_INTERRUPT, or the used event index
 * with VIRTIO_F_RING_EVENT_IDX). */
int virtq_should_notify(struct virtq *q);

/* With the event index: asks the guest to notify again only after it
 * makes new buffers available (avail_event = last_avail). */
void virtq_update_avail_event(struct virtq *q);

/* Copies `len` bytes from the chain's readable buffers, starting `offset`
 * bytes in, to `dst` / from `src` into its writable buffers. Return the
 * number of bytes copied (short when the chain is shorter). */
size_t virtq_chain_read(const struct virtq_chain *c, size_t offset, void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, size_t offset, const void *src, size_t len);

/* Queue state for the device's component section (addresses, size, ready,
 * indices); load checks it and re-activates a ready queue. */
void virtq_save(const struct virtq *q, struct state_writer *w);
int virtq_load(struct virtq *q, struct state_reader *r, const struct guest_mem *mem);

#endif
