/* The virtio-mmio transport (virtio 1.x, 4.2, register layout version 2)
 * and the interface virtio devices implement behind it.
 *
 * The transport owns what every virtio device has: feature negotiation, the
 * status state machine (with NEEDS_RESET for a device the guest broke),
 * the queues' addresses and sizes, per-queue reset, the interrupt status
 * and its line, the config generation counter. A device brings its id, its
 * feature bits, its config space, and what to do with a queue notification.
 *
 * Threads: register accesses arrive on vCPU threads and are serialised by
 * vd->lock. queue_notify must not block on host I/O: devices hand the work
 * to their worker (devices/virtio/worker.h). Used-ring pushes and interrupts
 * may come from any thread through virtio_dev_push()/virtio_dev_interrupt().
 */
#ifndef LIBVMM_DEVICES_VIRTIO_MMIO_H
#define LIBVMM_DEVICES_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdint.h>

#include "bus/bus.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "machine/component.h"
#include "machine/machine.h"

#define VIRTIO_MMIO_SIZE 0x1000
#define VIRTIO_MMIO_CONFIG 0x100
/* Queues one device may have: virtio-console has two for each port and two
 * for control (2 + 2 * 17 with its 16 named ports). */
#define VIRTIO_MMIO_MAX_QUEUES 40

struct virtio_dev;

/* Where a board puts a virtio device. */
struct virtio_placement {
    char name[32];  /* component name: "rng0", "vda", ... */
    uint64_t base;  /* MMIO window, VIRTIO_MMIO_SIZE bytes */
    unsigned irq;   /* interrupt line */
    /* The board made the line edge-triggered (x86's ISA lines), so an
     * engine irqfd pulse on each rise of the interrupt status can stand in
     * for the level (KVM irqfd: no ioctl per interrupt). */
    int edge;
};

struct virtio_device_ops {
    const char *type;     /* component type, "virtio-blk" ... */
    uint32_t device_id;   /* VIRTIO_ID_* */
    uint32_t state_version;

    /* Reads/writes `len` bytes (1, 2, 4 or 8) of device config space at
     * `offset` (already checked to be below config_size). Under vd->lock. */
    void (*config_read)(struct virtio_dev *vd, uint32_t offset, void *buf, uint32_t len);
    void (*config_write)(struct virtio_dev *vd, uint32_t offset, const void *buf, uint32_t len);

    /* The driver made buffers available in queue `q`. vCPU thread, not
     * under vd->lock; must not block. */
    void (*queue_notify)(struct virtio_dev *vd, unsigned q);

    /* The driver set DRIVER_OK: queues are live. Under vd->lock. */
    void (*driver_ok)(struct virtio_dev *vd);

    /* Device reset (the driver wrote status 0, or the machine resets): stop
     * and forget in-flight work before returning. Not under vd->lock. */
    void (*reset)(struct virtio_dev *vd);

    /* Queue `q` alone is reset (VIRTIO_F_RING_RESET). Not under vd->lock.
     * NULL: nothing device-side to drop. */
    void (*queue_reset)(struct virtio_dev *vd, unsigned q);

    /* Device-specific state after the transport's (in-flight requests are
     * drained by the caller pausing the VM first). NULL: none. */
    int (*save)(struct virtio_dev *vd, struct state_writer *w);
    int (*load)(struct virtio_dev *vd, struct state_reader *r, uint32_t version);

    /* Stops the device's threads (no more pushes or interrupts), calls
     * virtio_dev_release(vd), then frees the device. Required. */
    void (*destroy)(struct virtio_dev *vd);
};

struct virtio_dev {
    pthread_mutex_t lock;
    struct machine *m;
    unsigned irq;
    const struct virtio_device_ops *ops;
    void *priv;                /* the device's state */
    uint32_t config_size;      /* bytes of device config space */

    uint64_t device_features;  /* offered, transport bits included */
    uint64_t driver_features;  /* accepted by the driver */
    uint32_t status;
    uint32_t device_features_sel, driver_features_sel;
    uint32_t queue_sel;
    uint32_t config_generation;
    uint32_t isr;              /* interrupt status, under lock */
    int line;                  /* level last driven onto the line */
    int irqfd;                 /* engine eventfd pulsing the line, or -1 */

    unsigned nr_queues;
    struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
    pthread_mutex_t push_lock; /* used rings: pushes may come from any thread */
};

/* Initialises the transport for a device with `nr_queues` queues of at most
 * `queue_size` entries, offering `features` (device bits; the transport adds
 * VERSION_1, INDIRECT_DESC, EVENT_IDX and RING_RESET). */
int virtio_dev_init(struct virtio_dev *vd, struct machine *m, unsigned irq,
                    const struct virtio_device_ops *ops, void *priv, uint64_t features,
                    unsigned nr_queues, uint16_t queue_size, uint32_t config_size);

/* Adds the device as a component where `at` says (the vd must stay valid
 * until the component is destroyed, which calls ops->destroy and frees
 * nothing else: embed vd in the device). vd->irq must be at->irq. */
int virtio_mmio_attach(struct machine *m, struct virtio_dev *vd, const struct virtio_placement *at);

extern const struct bus_dev_ops virtio_mmio_ops;

/* Frees what virtio_dev_init() set up (locks, irqfd). Once the device's
 * threads are stopped, from its destroy op. */
void virtio_dev_release(struct virtio_dev *vd);

/* Lets the engine signal `fd` (the device worker's eventfd) directly on the
 * guest's QueueNotify writes of the device at `base` (KVM ioeventfd). A
 * no-op on engines without it: the write then arrives through the bus. */
void virtio_mmio_notify_fd(struct machine *m, uint64_t base, int fd);

/* The virtio device behind component `c`, or NULL when c is not one. */
struct virtio_dev *virtio_dev_of(struct component *c);

/* Whether feature bit `bit` was negotiated. */
int virtio_dev_has(const struct virtio_dev *vd, unsigned bit);

/* Whether queue `q` is live: DRIVER_OK set, the queue ready, no NEEDS_RESET. */
int virtio_dev_queue_live(struct virtio_dev *vd, unsigned q);

/* Pops the next chain of queue `q` (see virtq_pop). A malformed chain puts
 * the device in NEEDS_RESET (logged once, with the reason) and returns 0:
 * the device stops using its queues until the driver resets it. With the
 * event index, an empty ring publishes avail_event and is looked at once
 * more, so a device may simply pop until 0. Any thread; takes push_lock. */
int virtio_dev_pop(struct virtio_dev *vd, unsigned q, struct virtq_chain *c);

/* virtq_update_avail_event() on queue `q`, safe against a concurrent
 * reset. */
void virtio_dev_update_avail_event(struct virtio_dev *vd, unsigned q);

/* Returns a chain to the guest and raises the used-buffer interrupt if the
 * guest asked for one. Any thread. */
void virtio_dev_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t written);

/* Raises interrupt status bits (VIRTIO_INT_*) and the line. Any thread. */
void virtio_dev_interrupt(struct virtio_dev *vd, uint32_t bits);

/* The device's config space changed: bump the generation, interrupt. */
void virtio_dev_config_changed(struct virtio_dev *vd);

/* Marks the device broken (NEEDS_RESET + config interrupt) with a reason. */
void virtio_dev_fail(struct virtio_dev *vd, const char *why);

#endif
