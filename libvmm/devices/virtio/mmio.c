#include "devices/virtio/mmio.h"

#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"

#define REG_MAGIC 0x000
#define REG_VERSION 0x004
#define REG_DEVICE_ID 0x008
#define REG_VENDOR_ID 0x00c
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK 0x064
#define REG_STATUS 0x070
#define REG_QUEUE_DESC_LOW 0x080
#define REG_QUEUE_DESC_HIGH 0x084
#define REG_QUEUE_DRIVER_LOW 0x090
#define REG_QUEUE_DRIVER_HIGH 0x094
#define REG_QUEUE_DEVICE_LOW 0x0a0
#define REG_QUEUE_DEVICE_HIGH 0x0a4
#define REG_SHM_SEL 0x0ac
#define REG_SHM_LEN_LOW 0x0b0
#define REG_SHM_LEN_HIGH 0x0b4
#define REG_SHM_BASE_LOW 0x0b8
#define REG_SHM_BASE_HIGH 0x0bc
#define REG_QUEUE_RESET 0x0c0
#define REG_CONFIG_GENERATION 0x0fc

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION 2
#define VIRTIO_VENDOR_ID 0x4c564d4d /* "LVMM"; not an assigned id */

#define TRANSPORT_FEATURES                                                                         \
    (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) |                  \
     VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_RING_RESET))

int virtio_dev_init(struct virtio_dev *vd, struct machine *m, unsigned irq,
                    const struct virtio_device_ops *ops, void *priv, uint64_t features,
                    unsigned nr_queues, uint16_t queue_size, uint32_t config_size)
{
    if (nr_queues == 0 || nr_queues > VIRTIO_MMIO_MAX_QUEUES)
        return vmm_error(VMM_EINVAL, "%s: %u queues, limit 1..%d", ops->type, nr_queues,
                         VIRTIO_MMIO_MAX_QUEUES);
    if (queue_size == 0 || queue_size > VIRTQ_MAX_SIZE || (queue_size & (queue_size - 1)))
        return vmm_error(VMM_EINVAL, "%s: queue size %u, a power of two up to %d", ops->type,
                         queue_size, VIRTQ_MAX_SIZE);
    if (config_size > VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG)
        return vmm_error(VMM_EINVAL, "%s: config space of %u bytes, limit %d", ops->type,
                         config_size, VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG);
    memset(vd, 0, sizeof(*vd));
    pthread_mutex_init(&vd->lock, NULL);
    pthread_mutex_init(&vd->push_lock, NULL);
    vd->m = m;
    vd->irq = irq;
    vd->ops = ops;
    vd->priv = priv;
    vd->config_size = config_size;
    vd->device_features = features | TRANSPORT_FEATURES;
    vd->nr_queues = nr_queues;
    vd->irqfd = -1;
    for (unsigned i = 0; i < nr_queues; i++)
        virtq_reset(&vd->queues[i], queue_size);
    return 0;
}

int virtio_dev_has(const struct virtio_dev *vd, unsigned bit)
{
    return (vd->driver_features >> bit) & 1;
}

/* Drives the line from the interrupt status. Under vd->lock. With an irqfd
 * (edge-triggered line) only a rise is sent, as one pulse; otherwise the
 * level goes to the interrupt controller whenever it changes. */
static void update_line(struct virtio_dev *vd)
{
    int level = vd->isr != 0;
    if (level == vd->line)
        return;
    vd->line = level;
    if (vd->irqfd >= 0) {
        if (level) {
            uint64_t one = 1;
            ssize_t n = write(vd->irqfd, &one, sizeof(one));
            (void)n; /* EAGAIN: a pulse is already pending */
        }
        return;
    }
    machine_set_irq(vd->m, vd->irq, level);
}

void virtio_dev_interrupt(struct virtio_dev *vd, uint32_t bits)
{
    pthread_mutex_lock(&vd->lock);
    vd->isr |= bits;
    update_line(vd);
    pthread_mutex_unlock(&vd->lock);
}

void virtio_dev_config_changed(struct virtio_dev *vd)
{
    pthread_mutex_lock(&vd->lock);
    vd->config_generation++;
    int live = vd->status & VIRTIO_STATUS_DRIVER_OK;
    pthread_mutex_unlock(&vd->lock);
    if (live)
        virtio_dev_interrupt(vd, VIRTIO_INT_CONFIG);
}

void virtio_dev_fail(struct virtio_dev *vd, const char *why)
{
    pthread_mutex_lock(&vd->lock);
    int first = !(vd->status & VIRTIO_STATUS_NEEDS_RESET);
    vd->status |= VIRTIO_STATUS_NEEDS_RESET;
    int live = vd->status & VIRTIO_STATUS_DRIVER_OK;
    pthread_mutex_unlock(&vd->lock);
    if (first)
        log_warn("%s at irq %u: the guest broke the device (%s); it needs a reset", vd->ops->type,
                 vd->irq, why);
    if (live)
        virtio_dev_interrupt(vd, VIRTIO_INT_CONFIG);
}

/* Under vd->lock. */
static int queue_live(const struct virtio_dev *vd, unsigned q)
{
    return q < vd->nr_queues && vd->queues[q].ready &&
           (vd->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
               VIRTIO_STATUS_DRIVER_OK;
}

int virtio_dev_queue_live(struct virtio_dev *vd, unsigned q)
{
    pthread_mutex_lock(&vd->lock);
    int live = queue_live(vd, q);
    pthread_mutex_unlock(&vd->lock);
    return live;
}

int virtio_dev_pop(struct virtio_dev *vd, unsigned q, struct virtq_chain *c)
{
    /* push_lock keeps the queue's layout still for the whole pop: the
     * driver may take a queue down (QueueReady 0, QueueReset, status 0) and
     * give it another size and other rings at any time, and a pop that
     * mixed the old views with the new size would read outside the rings.
     * Every path that changes readiness holds push_lock. */
    pthread_mutex_lock(&vd->push_lock);
    int rc = 0;
    if (virtio_dev_queue_live(vd, q)) {
        struct virtq *vq = &vd->queues[q];
        rc = virtq_pop(vq, &vd->m->mem, c);
        if (rc == 0 && vq->event_idx) {
            /* Empty: ask the driver to notify for the next buffer, then
             * look again, since one made available before the driver could
             * see avail_event came without a notify (virtio 1.x 2.7.10). */
            virtq_update_avail_event(vq);
            rc = virtq_pop(vq, &vd->m->mem, c);
        }
    }
    pthread_mutex_unlock(&vd->push_lock);
    if (rc < 0) {
        virtio_dev_fail(vd, vmm_last_error());
        return 0;
    }
    return rc;
}

void virtio_dev_update_avail_event(struct virtio_dev *vd, unsigned q)
{
    pthread_mutex_lock(&vd->push_lock);
    if (q < vd->nr_queues)
        virtq_update_avail_event(&vd->queues[q]);
    pthread_mutex_unlock(&vd->push_lock);
}

void virtio_dev_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t written)
{
    pthread_mutex_lock(&vd->push_lock);
    pthread_mutex_lock(&vd->lock); /* against queue register writes, as in pop */
    struct virtq *vq = &vd->queues[q];
    if (!vq->ready) { /* reset while the request was in flight: drop it */
        pthread_mutex_unlock(&vd->lock);
        pthread_mutex_unlock(&vd->push_lock);
        return;
    }
    virtq_push(vq, head, written);
    int notify = virtq_should_notify(vq);
    pthread_mutex_unlock(&vd->lock);
    pthread_mutex_unlock(&vd->push_lock);
    if (notify)
        virtio_dev_interrupt(vd, VIRTIO_INT_USED_RING);
}

/* Transport back to its reset state; the device's own reset runs after. */
static void transport_reset(struct virtio_dev *vd)
{
    pthread_mutex_lock(&vd->push_lock);
    pthread_mutex_lock(&vd->lock);
    vd->status = 0;
    vd->driver_features = 0;
    vd->device_features_sel = vd->driver_features_sel = vd->queue_sel = 0;
    vd->isr = 0;
    for (unsigned i = 0; i < vd->nr_queues; i++)
        virtq_reset(&vd->queues[i], vd->queues[i].max_size);
    update_line(vd);
    pthread_mutex_unlock(&vd->lock);
    pthread_mutex_unlock(&vd->push_lock);
}

static void device_reset(struct virtio_dev *vd)
{
    /* The device first, so no worker pushes into queues being cleared. */
    if (vd->ops->reset)
        vd->ops->reset(vd);
    transport_reset(vd);
}

static struct virtq *selected(struct virtio_dev *vd)
{
    return vd->queue_sel < vd->nr_queues ? &vd->queues[vd->queue_sel] : NULL;
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    struct virtio_dev *vd = opaque;
    if (offset >= VIRTIO_MMIO_CONFIG) {
        uint32_t off = (uint32_t)(offset - VIRTIO_MMIO_CONFIG);
        uint64_t v = 0;
        pthread_mutex_lock(&vd->lock);
        if (off < vd->config_size && size <= vd->config_size - off && vd->ops->config_read)
            vd->ops->config_read(vd, off, &v, size);
        pthread_mutex_unlock(&vd->lock);
        return v;
    }
    if (size != 4)
        return 0; /* registers are 32-bit; the spec leaves other widths undefined */
    uint64_t v = 0;
    pthread_mutex_lock(&vd->lock);
    struct virtq *q = selected(vd);
    switch (offset) {
    case REG_MAGIC: v = VIRTIO_MMIO_MAGIC; break;
    case REG_VERSION: v = VIRTIO_MMIO_VERSION; break;
    case REG_DEVICE_ID: v = vd->ops->device_id; break;
    case REG_VENDOR_ID: v = VIRTIO_VENDOR_ID; break;
    case REG_DEVICE_FEATURES:
        v = vd->device_features_sel < 2
                ? (uint32_t)(vd->device_features >> (32 * vd->device_features_sel))
                : 0;
        break;
    case REG_QUEUE_NUM_MAX: v = q ? q->max_size : 0; break;
    case REG_QUEUE_READY: v = q ? (uint64_t)q->ready : 0; break;
    case REG_INTERRUPT_STATUS: v = vd->isr; break;
    case REG_STATUS: v = vd->status; break;
    case REG_SHM_LEN_LOW:
    case REG_SHM_LEN_HIGH:
    case REG_SHM_BASE_LOW:
    case REG_SHM_BASE_HIGH: v = 0xffffffff; break; /* no shared memory regions */
    case REG_QUEUE_RESET: v = 0; break; /* a queue reset completes at once */
    case REG_CONFIG_GENERATION: v = vd->config_generation; break;
    default: break;
    }
    pthread_mutex_unlock(&vd->lock);
    return v;
}

static void set_addr(uint64_t *addr, int high, uint32_t value)
{
    *addr = high ? (*addr & 0xffffffffULL) | (uint64_t)value << 32
                 : (*addr & ~0xffffffffULL) | value;
}

/* The driver writes the status register. Under vd->lock; returns 1 when
 * the write asks for a device reset (done by the caller, unlocked). */
static int write_status(struct virtio_dev *vd, uint32_t value)
{
    if (value == 0)
        return 1;
    uint32_t old = vd->status;
    /* FEATURES_OK sticks only when every accepted feature was offered and
     * VERSION_1 is among them (no legacy drivers). */
    if ((value & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
        uint64_t extra = vd->driver_features & ~vd->device_features;
        if (extra || !virtio_dev_has(vd, VIRTIO_F_VERSION_1)) {
            log_warn("%s: driver features 0x%llx refused (offered 0x%llx)", vd->ops->type,
                     (unsigned long long)vd->driver_features,
                     (unsigned long long)vd->device_features);
            value &= ~VIRTIO_STATUS_FEATURES_OK;
        } else {
            for (unsigned i = 0; i < vd->nr_queues; i++) {
                vd->queues[i].event_idx = virtio_dev_has(vd, VIRTIO_F_RING_EVENT_IDX);
                vd->queues[i].indirect = virtio_dev_has(vd, VIRTIO_F_RING_INDIRECT_DESC);
            }
        }
    }
    vd->status = value | (old & VIRTIO_STATUS_NEEDS_RESET);
    if ((value & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
        vd->ops->driver_ok)
        vd->ops->driver_ok(vd);
    return 0;
}

static void mmio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    struct virtio_dev *vd = opaque;
    if (offset >= VIRTIO_MMIO_CONFIG) {
        uint32_t off = (uint32_t)(offset - VIRTIO_MMIO_CONFIG);
        pthread_mutex_lock(&vd->lock);
        if (off < vd->config_size && size <= vd->config_size - off && vd->ops->config_write)
            vd->ops->config_write(vd, off, &value, size);
        pthread_mutex_unlock(&vd->lock);
        return;
    }
    if (size != 4)
        return;
    uint32_t v = (uint32_t)value;
    if (offset == REG_QUEUE_NOTIFY) {
        /* Before DRIVER_OK, or for a queue that does not exist, the notify
         * is ignored: a driver that kicks early gets nothing done. */
        if (v < vd->nr_queues && virtio_dev_queue_live(vd, v) && vd->ops->queue_notify)
            vd->ops->queue_notify(vd, v);
        return;
    }
    int reset = 0, queue_reset = -1;
    /* Readiness changes exclude a pop in progress (see virtio_dev_pop). */
    int layout = offset == REG_QUEUE_READY;
    if (layout)
        pthread_mutex_lock(&vd->push_lock);
    pthread_mutex_lock(&vd->lock);
    struct virtq *q = selected(vd);
    /* Queue layout may change only while the queue is not ready. */
    int q_writable = q && !q->ready;
    switch (offset) {
    case REG_DEVICE_FEATURES_SEL: vd->device_features_sel = v; break;
    case REG_DRIVER_FEATURES_SEL: vd->driver_features_sel = v; break;
    case REG_DRIVER_FEATURES:
        if (vd->driver_features_sel < 2 && !(vd->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned shift = 32 * vd->driver_features_sel;
            vd->driver_features = (vd->driver_features & ~(0xffffffffULL << shift)) |
                                  (uint64_t)v << shift;
        }
        break;
    case REG_QUEUE_SEL: vd->queue_sel = v; break;
    case REG_QUEUE_NUM:
        if (q_writable)
            q->size = (uint16_t)(v > 0xffff ? 0 : v);
        break;
    case REG_QUEUE_READY:
        if (q && v == 1 && !q->ready) {
            if (virtq_activate(q, &vd->m->mem) < 0) {
                log_warn("%s: queue %u: %s", vd->ops->type, vd->queue_sel, vmm_last_error());
                vd->status |= VIRTIO_STATUS_NEEDS_RESET;
            }
        } else if (q && v == 0) {
            q->ready = 0;
        }
        break;
    case REG_INTERRUPT_ACK:
        vd->isr &= ~v;
        update_line(vd);
        break;
    case REG_STATUS: reset = write_status(vd, v); break;
    case REG_QUEUE_DESC_LOW:
    case REG_QUEUE_DESC_HIGH:
        if (q_writable)
            set_addr(&q->desc_gpa, offset == REG_QUEUE_DESC_HIGH, v);
        break;
    case REG_QUEUE_DRIVER_LOW:
    case REG_QUEUE_DRIVER_HIGH:
        if (q_writable)
            set_addr(&q->avail_gpa, offset == REG_QUEUE_DRIVER_HIGH, v);
        break;
    case REG_QUEUE_DEVICE_LOW:
    case REG_QUEUE_DEVICE_HIGH:
        if (q_writable)
            set_addr(&q->used_gpa, offset == REG_QUEUE_DEVICE_HIGH, v);
        break;
    case REG_QUEUE_RESET:
        if (q && v == 1 && virtio_dev_has(vd, VIRTIO_F_RING_RESET))
            queue_reset = (int)vd->queue_sel;
        break;
    default: break;
    }
    pthread_mutex_unlock(&vd->lock);
    if (layout)
        pthread_mutex_unlock(&vd->push_lock);
    if (reset)
        device_reset(vd);
    if (queue_reset >= 0) {
        if (vd->ops->queue_reset)
            vd->ops->queue_reset(vd, (unsigned)queue_reset);
        pthread_mutex_lock(&vd->push_lock);
        pthread_mutex_lock(&vd->lock);
        struct virtq *rq = &vd->queues[queue_reset];
        int event_idx = rq->event_idx, indirect = rq->indirect;
        virtq_reset(rq, rq->max_size);
        rq->event_idx = event_idx;
        rq->indirect = indirect;
        pthread_mutex_unlock(&vd->lock);
        pthread_mutex_unlock(&vd->push_lock);
    }
}

const struct bus_dev_ops virtio_mmio_ops = { mmio_read, mmio_write };

void virtio_mmio_notify_fd(struct machine *m, uint64_t base, int fd)
{
    int rc = machine_add_ioeventfd(m, base + REG_QUEUE_NOTIFY, 4, fd);
    if (rc && rc != VMM_ENOTSUP)
        log_warn("virtio-mmio at 0x%llx: notifications stay exits (%s)",
                 (unsigned long long)base, vmm_last_error());
}

/* --- the device as a machine component --- */

static void component_reset(void *opaque)
{
    device_reset(opaque);
}

static int component_save(void *opaque, struct state_writer *w)
{
    struct virtio_dev *vd = opaque;
    pthread_mutex_lock(&vd->lock);
    state_put_u64(w, vd->driver_features);
    state_put_u32(w, vd->status);
    state_put_u32(w, vd->device_features_sel);
    state_put_u32(w, vd->driver_features_sel);
    state_put_u32(w, vd->queue_sel);
    state_put_u32(w, vd->config_generation);
    state_put_u32(w, vd->isr);
    state_put_u32(w, vd->nr_queues);
    for (unsigned i = 0; i < vd->nr_queues; i++)
        virtq_save(&vd->queues[i], w);
    pthread_mutex_unlock(&vd->lock);
    /* The device's own layout has its own version, after the transport's. */
    state_put_u32(w, vd->ops->state_version);
    return vd->ops->save ? vd->ops->save(vd, w) : 0;
}

static int component_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct virtio_dev *vd = opaque;
    uint64_t drv;
    uint32_t status, dsel, rsel, qsel, gen, isr, nq;
    state_get_u64(r, &drv);
    state_get_u32(r, &status);
    state_get_u32(r, &dsel);
    state_get_u32(r, &rsel);
    state_get_u32(r, &qsel);
    state_get_u32(r, &gen);
    state_get_u32(r, &isr);
    int rc = state_get_u32(r, &nq);
    if (rc)
        return rc;
    if (nq != vd->nr_queues)
        return vmm_error(VMM_EFORMAT, "%s state: %u queues, this device has %u", vd->ops->type,
                         nq, vd->nr_queues);
    if (drv & ~vd->device_features)
        return vmm_error(VMM_EFORMAT, "%s state: driver features 0x%llx beyond those offered "
                         "(0x%llx)", vd->ops->type, (unsigned long long)drv,
                         (unsigned long long)vd->device_features);
    if (status > 0xff || isr > 3)
        return vmm_error(VMM_EFORMAT, "%s state: status 0x%x / interrupt status 0x%x out of "
                         "range", vd->ops->type, status, isr);
    device_reset(vd);
    pthread_mutex_lock(&vd->lock);
    vd->driver_features = drv;
    vd->status = status;
    vd->device_features_sel = dsel;
    vd->driver_features_sel = rsel;
    vd->queue_sel = qsel;
    vd->config_generation = gen;
    for (unsigned i = 0; i < nq && rc == 0; i++) {
        vd->queues[i].event_idx = virtio_dev_has(vd, VIRTIO_F_RING_EVENT_IDX);
        vd->queues[i].indirect = virtio_dev_has(vd, VIRTIO_F_RING_INDIRECT_DESC);
        rc = virtq_load(&vd->queues[i], r, &vd->m->mem);
    }
    vd->isr = isr;
    if (rc == 0)
        update_line(vd);
    pthread_mutex_unlock(&vd->lock);
    uint32_t dev_version = 0;
    if (rc == 0)
        rc = state_get_u32(r, &dev_version);
    if (rc == 0 && dev_version > vd->ops->state_version)
        rc = vmm_error(VMM_EFORMAT, "%s state version %u, this library reads up to %u",
                       vd->ops->type, dev_version, vd->ops->state_version);
    if (rc == 0 && vd->ops->load)
        rc = vd->ops->load(vd, r, dev_version);
    if (rc == 0 && vd->ops->driver_ok && (status & VIRTIO_STATUS_DRIVER_OK)) {
        pthread_mutex_lock(&vd->lock);
        vd->ops->driver_ok(vd);
        pthread_mutex_unlock(&vd->lock);
    }
    return rc;
}

/* The device stops its threads, then releases the transport
 * (virtio_dev_release) and frees itself: nothing may touch vd's locks
 * after they are destroyed, and a worker still running could. */
static void component_destroy(void *opaque)
{
    struct virtio_dev *vd = opaque;
    vd->ops->destroy(vd);
}

void virtio_dev_release(struct virtio_dev *vd)
{
    pthread_mutex_destroy(&vd->lock);
    pthread_mutex_destroy(&vd->push_lock);
    if (vd->irqfd >= 0)
        close(vd->irqfd);
    vd->irqfd = -1;
}

/* One table for every virtio device: the transport's state is version 1 of
 * the section; the device's layout carries its own version. */
static const struct component_ops virtio_component_ops = {
    .type = "virtio-mmio",
    .state_version = 1,
    .reset = component_reset,
    .save = component_save,
    .load = component_load,
    .destroy = component_destroy,
};

struct virtio_dev *virtio_dev_of(struct component *c)
{
    return c->ops == &virtio_component_ops ? c->opaque : NULL;
}

int virtio_mmio_attach(struct machine *m, struct virtio_dev *vd, const struct virtio_placement *at)
{
    const char *name = at->name;
    uint64_t base = at->base;
    if (at->edge) {
        int fd = machine_irq_eventfd(m, vd->irq);
        vd->irqfd = fd >= 0 ? fd : -1;
    }
    struct component *c = machine_add_component(m, name, &virtio_component_ops, vd);
    if (!c)
        return VMM_ENOMEM;
    int rc = component_map(m, c, &m->mmio, base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, vd);
    if (rc == 0)
        rc = component_claim_irq(m, c, vd->irq);
    return rc;
}
