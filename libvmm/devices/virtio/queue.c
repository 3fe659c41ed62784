#include "devices/virtio/queue.h"

#include <stdio.h>
#include <string.h>

#include "util/error.h"

#define DESC_SIZE 16
#define USED_ELEM_SIZE 8
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* Guest memory is little-endian on both guest architectures and on the
 * x86-64 hosts we run on; these read and write it in place. */
static uint16_t ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void st32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Ring indices the other side updates concurrently: atomic 16-bit accesses
 * (every ring field is naturally aligned: virtq_activate checks the bases). */
static uint16_t ld16_acquire(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static void st16_release(uint8_t *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELEASE);
}

static size_t avail_bytes(uint16_t size) { return 4 + 2u * size + 2; }
static size_t used_bytes(uint16_t size) { return 4 + (size_t)USED_ELEM_SIZE * size + 2; }

void virtq_reset(struct virtq *q, uint16_t max_size)
{
    memset(q, 0, sizeof(*q));
    q->max_size = max_size;
    q->size = max_size;
}

int virtq_activate(struct virtq *q, const struct guest_mem *mem)
{
    if (q->size == 0 || q->size > q->max_size || (q->size & (q->size - 1)))
        return vmm_error(VMM_EINVAL, "virtqueue size %u: must be a power of two in 1..%u",
                         q->size, q->max_size);
    if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
        return vmm_error(VMM_EINVAL,
                         "virtqueue rings misaligned: descriptors 0x%llx (16), driver 0x%llx (2), "
                         "device 0x%llx (4)",
                         (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
                         (unsigned long long)q->used_gpa);
    /* The queue changes only when the whole setup is good: a refused one
     * leaves the views as they were. */
    const uint8_t *desc = guest_mem_ptr(mem, q->desc_gpa, (uint64_t)DESC_SIZE * q->size);
    const uint8_t *avail = guest_mem_ptr(mem, q->avail_gpa, avail_bytes(q->size));
    uint8_t *used = guest_mem_ptr(mem, q->used_gpa, used_bytes(q->size));
    if (!desc || !avail || !used)
        return vmm_error(VMM_EINVAL,
                         "virtqueue of %u entries: a ring is not in guest RAM (descriptors "
                         "0x%llx, driver 0x%llx, device 0x%llx)",
                         q->size, (unsigned long long)q->desc_gpa,
                         (unsigned long long)q->avail_gpa, (unsigned long long)q->used_gpa);
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    q->mem = (struct guest_mem *)mem;
    q->ready = 1;
    return 0;
}

/* Appends guest buffer [addr, addr + len) to the chain. */
static int chain_add(struct virtq_chain *c, const struct guest_mem *mem, uint64_t addr,
                     uint32_t len, int writable)
{
    if (!writable && c->nr_in)
        return vmm_error(VMM_EFORMAT, "virtqueue chain %u: a device-readable buffer follows a "
                         "device-writable one", c->head);
    unsigned n = c->nr_out + c->nr_in;
    if (n >= VIRTQ_MAX_SEGS)
        return vmm_error(VMM_EFORMAT, "virtqueue chain %u: more than %d buffers", c->head,
                         VIRTQ_MAX_SEGS);
    void *p = len ? guest_mem_ptr(mem, addr, len) : (void *)"";
    if (!p)
        return vmm_error(VMM_EFORMAT, "virtqueue chain %u: buffer 0x%llx+%u is not in guest RAM",
                         c->head, (unsigned long long)addr, len);
    c->iov[n].iov_base = p;
    c->iov[n].iov_len = len;
    if (writable) {
        /* The device will write it: for dirty logging it is written now. */
        guest_mem_mark_dirty((struct guest_mem *)mem, addr, len);
        c->nr_in++;
        c->in_len += len;
    } else {
        c->nr_out++;
        c->out_len += len;
    }
    return 0;
}

/* Walks an indirect table: its own descriptors, bounded by its length. */
static int walk_indirect(struct virtq_chain *c, const struct guest_mem *mem, uint64_t addr,
                         uint32_t len)
{
    if (len == 0 || len % DESC_SIZE)
        return vmm_error(VMM_EFORMAT, "virtqueue chain %u: indirect table of %u bytes (a "
                         "non-zero multiple of %d)", c->head, len, DESC_SIZE);
    uint32_t entries = len / DESC_SIZE;
    if (entries > VIRTQ_MAX_SEGS)
        return vmm_error(VMM_EFORMAT, "virtqueue chain %u: indirect table of %u entries, limit %d",
                         c->head, entries, VIRTQ_MAX_SEGS);
    const uint8_t *table = guest_mem_ptr(mem, addr, len);
    if (!table)
        return vmm_error(VMM_EFORMAT, "virtqueue chain %u: indirect table 0x%llx+%u is not in "
                         "guest RAM", c->head, (unsigned long long)addr, len);
    uint32_t i = 0;
    for (uint32_t seen = 0;; seen++) {
        if (seen >= entries)
            return vmm_error(VMM_EFORMAT, "virtqueue chain %u: indirect chain loops (more than "
                             "%u entries)", c->head, entries);
        const uint8_t *d = table + (size_t)i * DESC_SIZE;
        uint16_t flags = ld16(d + 12);
        if (flags & VIRTQ_DESC_F_INDIRECT)
            return vmm_error(VMM_EFORMAT, "virtqueue chain %u: nested indirect table", c->head);
        int rc = chain_add(c, mem, ld64(d), ld32(d + 8), flags & VIRTQ_DESC_F_WRITE);
        if (rc)
            return rc;
        if (!(flags & VIRTQ_DESC_F_NEXT))
            return 0;
        i = ld16(d + 14);
        if (i >= entries)
            return vmm_error(VMM_EFORMAT, "virtqueue chain %u: indirect next %u beyond the "
                             "table's %u entries", c->head, i, entries);
    }
}

int virtq_pop(struct virtq *q, const struct guest_mem *mem, struct virtq_chain *c)
{
    if (!q->ready)
        return 0;
    uint16_t avail_idx = ld16_acquire(q->avail + 2);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending == 0)
        return 0;
    if (pending > q->size)
        return vmm_error(VMM_EFORMAT, "virtqueue: driver index moved %u entries ahead, queue "
                         "size %u", pending, q->size);
    uint16_t head = ld16(q->avail + 4 + 2u * (q->last_avail % q->size));
    if (head >= q->size)
        return vmm_error(VMM_EFORMAT, "virtqueue: head %u beyond queue size %u", head, q->size);

    c->head = head;
    c->nr_out = c->nr_in = 0;
    c->out_len = c->in_len = 0;
    uint16_t i = head;
    for (unsigned seen = 0;; seen++) {
        if (seen >= q->size)
            return vmm_error(VMM_EFORMAT, "virtqueue chain %u loops (more than %u descriptors)",
                             head, q->size);
        const uint8_t *d = q->desc + (size_t)i * DESC_SIZE;
        uint64_t addr = ld64(d);
        uint32_t len = ld32(d + 8);
        uint16_t flags = ld16(d + 12);
        int rc;
        if (flags & VIRTQ_DESC_F_INDIRECT) {
            if (!q->indirect)
                return vmm_error(VMM_EFORMAT, "virtqueue chain %u: indirect descriptor without "
                                 "VIRTIO_F_RING_INDIRECT_DESC", head);
            if (flags & VIRTQ_DESC_F_NEXT)
                return vmm_error(VMM_EFORMAT, "virtqueue chain %u: indirect descriptor with "
                                 "NEXT set", head);
            rc = walk_indirect(c, mem, addr, len);
        } else {
            rc = chain_add(c, mem, addr, len, flags & VIRTQ_DESC_F_WRITE);
        }
        if (rc)
            return rc;
        if (!(flags & VIRTQ_DESC_F_NEXT))
            break;
        i = ld16(d + 14);
        if (i >= q->size)
            return vmm_error(VMM_EFORMAT, "virtqueue chain %u: next %u beyond queue size %u",
                             head, i, q->size);
    }
    q->last_avail++;
    return 1;
}

void virtq_unpop(struct virtq *q)
{
    q->last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
    uint8_t *e = q->used + 4 + (size_t)USED_ELEM_SIZE * (q->used_idx % q->size);
    st32(e, head);
    st32(e + 4, written);
    if (q->mem) /* the buffers' bytes are in: a fence.i after this must see them */
        guest_mem_note_foreign_write(q->mem);
    q->used_idx++;
    st16_release(q->used + 2, q->used_idx);
    if (q->mem)
        guest_mem_mark_dirty(q->mem, q->used_gpa, used_bytes(q->size));
}

/* Spec 2.7.10: notify when new_idx has passed event since old_idx. */
static int need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

int virtq_should_notify(struct virtq *q)
{
    /* The used index is published; read what the driver asked for only
     * after that (the driver does the mirror image). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!q->event_idx)
        return !(ld16_acquire(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    uint16_t event = ld16_acquire(q->avail + 4 + 2u * q->size);
    uint16_t old = q->signalled_used;
    int valid = q->signalled_valid;
    q->signalled_used = q->used_idx;
    q->signalled_valid = 1;
    return !valid || need_event(event, q->used_idx, old);
}

void virtq_update_avail_event(struct virtq *q)
{
    if (!q->event_idx || !q->ready)
        return;
    st16_release(q->used + 4 + (size_t)USED_ELEM_SIZE * q->size, q->last_avail);
    if (q->mem)
        guest_mem_mark_dirty(q->mem, q->used_gpa + 4 + (uint64_t)USED_ELEM_SIZE * q->size, 2);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static size_t chain_copy(const struct virtq_chain *c, unsigned first, unsigned count,
                         size_t offset, uint8_t *buf, size_t len, int to_guest)
{
    size_t done = 0;
    for (unsigned k = first; k < first + count && done < len; k++) {
        size_t seg = c->iov[k].iov_len;
        if (offset >= seg) {
            offset -= seg;
            continue;
        }
        size_t n = seg - offset;
        if (n > len - done)
            n = len - done;
        uint8_t *g = (uint8_t *)c->iov[k].iov_base + offset;
        if (to_guest)
            memcpy(g, buf + done, n);
        else
            memcpy(buf + done, g, n);
        done += n;
        offset = 0;
    }
    return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t offset, void *dst, size_t len)
{
    return chain_copy(c, 0, c->nr_out, offset, dst, len, 0);
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t offset, const void *src, size_t len)
{
    return chain_copy(c, c->nr_out, c->nr_in, offset, (uint8_t *)src, len, 1);
}

void virtq_save(const struct virtq *q, struct state_writer *w)
{
    state_put_u16(w, q->size);
    state_put_u8(w, (uint8_t)q->ready);
    state_put_u64(w, q->desc_gpa);
    state_put_u64(w, q->avail_gpa);
    state_put_u64(w, q->used_gpa);
    state_put_u16(w, q->last_avail);
    state_put_u16(w, q->used_idx);
    state_put_u16(w, q->signalled_used);
    state_put_u8(w, (uint8_t)q->signalled_valid);
}

int virtq_load(struct virtq *q, struct state_reader *r, const struct guest_mem *mem)
{
    uint16_t max = q->max_size;
    int event_idx = q->event_idx, indirect = q->indirect;
    uint8_t ready, sig_valid;
    virtq_reset(q, max);
    q->event_idx = event_idx;
    q->indirect = indirect;
    state_get_u16(r, &q->size);
    state_get_u8(r, &ready);
    state_get_u64(r, &q->desc_gpa);
    state_get_u64(r, &q->avail_gpa);
    state_get_u64(r, &q->used_gpa);
    state_get_u16(r, &q->last_avail);
    state_get_u16(r, &q->used_idx);
    state_get_u16(r, &q->signalled_used);
    int rc = state_get_u8(r, &sig_valid);
    if (rc)
        return rc;
    q->signalled_valid = sig_valid != 0;
    if (q->size == 0 || q->size > max)
        return vmm_error(VMM_EFORMAT, "virtqueue state: size %u, limit 1..%u", q->size, max);
    if (ready > 1)
        return vmm_error(VMM_EFORMAT, "virtqueue state: ready %u is not 0 or 1", ready);
    if (ready && virtq_activate(q, mem)) {
        /* The reason is in the last-error buffer, which vmm_error() is
         * about to overwrite: copy it out first. */
        char why[256];
        snprintf(why, sizeof(why), "%s", vmm_last_error());
        return vmm_error(VMM_EFORMAT, "virtqueue state: %s", why);
    }
    return 0;
}
