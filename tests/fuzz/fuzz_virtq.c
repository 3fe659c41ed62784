/* libFuzzer target for the split virtqueue (devices/virtio/queue.c): the
 * input is what a hostile guest controls, its memory.
 *
 * Input layout:
 *   byte 0      queue size: 1 << (byte % 11), so 1 .. 1024
 *   byte 1      bit 0: VIRTIO_F_RING_INDIRECT_DESC, bit 1: EVENT_IDX,
 *               bit 2: publish avail_event after each pop
 *   bytes 2-3   the device's last_avail and used_idx to start from
 *   bytes 4-5   the driver's avail index (stored into the ring)
 *   the rest    guest RAM from address 0, and again from RAM1's start
 * Guest memory: RAM0 [0, 64 KiB), an MMIO hole, RAM1 [128 KiB, 144 KiB).
 * The rings sit at the bottom of RAM0, packed: descriptors at 0, the driver
 * ring right after them, the device ring after that (4-aligned).
 *
 * Up to MAX_POPS chains are popped; each popped chain is read from, written
 * to (which may rewrite the rings: a guest can do that too) and pushed back.
 * Properties checked:
 *   - no crash, hang or out-of-bounds access (the sanitizers watch);
 *   - virtq_pop() accepts, refuses or finds empty exactly what a reference
 *     walk of the same rules (written independently below, with guest_mem
 *     copies instead of pointers) does; an accepted chain has the
 *     reference's head, buffers and lengths, each buffer inside one RAM
 *     region, readable buffers first;
 *   - a refusal consumes nothing and leaves a message;
 *   - chain_read/chain_write move the bytes the segments say, no more;
 *   - push stores id and length in the right used slot and the index.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Built two ways: with libFuzzer from queue.c and what it needs
 * (run-virtq-fuzz.sh), and by meson against libvmm's internal library with
 * tests/fuzz/driver.c for the corpus replay.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "mem/guest_mem.h"
#include "util/error.h"

#define RAM0 0x0ULL
#define RAM0_SIZE 0x10000ULL
#define RAM1 0x20000ULL
#define RAM1_SIZE 0x4000ULL
#define HEADER 6
#define MAX_POPS 64
#define WINDOW 4096 /* bytes read / written per chain */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static struct virtq_chain chain;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_virtq: %s: %s\n", what, detail ? detail : "");
    abort();
}

static void setup_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    guest_mem_init(&mem);
    if (guest_mem_add_ram(&mem, RAM0, RAM0_SIZE) || guest_mem_add_ram(&mem, RAM1, RAM1_SIZE))
        fail("cannot set up guest memory", vmm_last_error());
}

/* --- the reference walk --- */

struct ref_seg {
    uint64_t gpa;
    uint32_t len;
    int writable;
};

struct ref_chain {
    uint16_t head;
    unsigned n, nr_in;
    struct ref_seg seg[VIRTQ_MAX_SEGS];
};

static struct ref_chain ref;

static uint16_t rd16(uint64_t gpa)
{
    uint8_t b[2];
    if (guest_mem_read(&mem, gpa, b, 2))
        fail("reference: ring read outside RAM", NULL);
    return (uint16_t)(b[0] | b[1] << 8);
}

struct ref_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

/* Reads a descriptor through guest_mem_read (the table was checked). */
static struct ref_desc rd_desc(uint64_t gpa)
{
    uint8_t b[16];
    if (guest_mem_read(&mem, gpa, b, 16))
        fail("reference: descriptor read outside RAM", NULL);
    struct ref_desc d = { 0, 0, 0, 0 };
    for (int i = 7; i >= 0; i--)
        d.addr = d.addr << 8 | b[i];
    d.len = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    d.flags = (uint16_t)(b[12] | b[13] << 8);
    d.next = (uint16_t)(b[14] | b[15] << 8);
    return d;
}

/* [gpa, gpa + len) inside one RAM region. */
static int in_one_region(uint64_t gpa, uint64_t len)
{
    uint64_t end;
    if (__builtin_add_overflow(gpa, len, &end))
        return 0;
    for (int i = 0; i < mem.nr_regions; i++) {
        const struct guest_region *r = &mem.regions[i];
        if (gpa >= r->gpa && end <= r->gpa + r->size)
            return 1;
    }
    return 0;
}

static int ref_add(struct ref_desc d)
{
    int w = (d.flags & VIRTQ_DESC_F_WRITE) != 0;
    if (!w && ref.nr_in)
        return -1;
    if (ref.n == VIRTQ_MAX_SEGS)
        return -1;
    if (d.len && !in_one_region(d.addr, d.len))
        return -1;
    ref.seg[ref.n++] = (struct ref_seg){ d.addr, d.len, w };
    ref.nr_in += w;
    return 0;
}

static int ref_indirect(struct ref_desc t)
{
    if (t.len == 0 || t.len % 16 || t.len / 16 > VIRTQ_MAX_SEGS || !in_one_region(t.addr, t.len))
        return -1;
    unsigned entries = t.len / 16;
    static uint8_t seen[VIRTQ_MAX_SEGS];
    memset(seen, 0, entries);
    unsigned i = 0;
    for (;;) {
        if (seen[i]) /* back at an entry: it loops */
            return -1;
        seen[i] = 1;
        struct ref_desc d = rd_desc(t.addr + 16ULL * i);
        if (d.flags & VIRTQ_DESC_F_INDIRECT)
            return -1;
        if (ref_add(d))
            return -1;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        if (d.next >= entries)
            return -1;
        i = d.next;
    }
}

/* 1: chain in `ref`; 0: empty; -1: refused. */
static int ref_pop(const struct virtq *q)
{
    uint16_t pending = (uint16_t)(rd16(q->avail_gpa + 2) - q->last_avail);
    if (pending == 0)
        return 0;
    if (pending > q->size)
        return -1;
    uint16_t head = rd16(q->avail_gpa + 4 + 2ULL * (q->last_avail & (q->size - 1)));
    if (head >= q->size)
        return -1;
    ref.head = head;
    ref.n = ref.nr_in = 0;
    static uint8_t seen[VIRTQ_MAX_SIZE];
    memset(seen, 0, q->size);
    unsigned i = head;
    for (;;) {
        if (seen[i])
            return -1;
        seen[i] = 1;
        struct ref_desc d = rd_desc(q->desc_gpa + 16ULL * i);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!q->indirect || (d.flags & VIRTQ_DESC_F_NEXT))
                return -1;
            return ref_indirect(d) ? -1 : 1;
        }
        if (ref_add(d))
            return -1;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 1;
        if (d.next >= q->size)
            return -1;
        i = d.next;
    }
}

/* --- the checks --- */

static void check_chain(void)
{
    if (chain.head != ref.head)
        fail("popped head differs from the reference", NULL);
    if (chain.nr_out + chain.nr_in != ref.n || chain.nr_in != ref.nr_in)
        fail("popped buffer count differs from the reference", NULL);
    uint64_t out = 0, in = 0;
    for (unsigned k = 0; k < ref.n; k++) {
        const struct ref_seg *s = &ref.seg[k];
        if (chain.iov[k].iov_len != s->len)
            fail("popped buffer length differs from the reference", NULL);
        if ((k >= chain.nr_out) != s->writable)
            fail("popped buffer direction differs from the reference", NULL);
        if (s->len && chain.iov[k].iov_base != guest_mem_ptr(&mem, s->gpa, s->len))
            fail("popped buffer is not where the descriptor says", NULL);
        if (s->writable)
            in += s->len;
        else
            out += s->len;
    }
    if (chain.out_len != out || chain.in_len != in)
        fail("popped byte counts differ from the segments", NULL);
}

/* Expected bytes of the readable (or writable) side of the reference chain
 * from `offset`: gathers up to `len` bytes through guest_mem_read. */
static size_t ref_gather(int writable, uint64_t offset, uint8_t *buf, size_t len)
{
    size_t done = 0;
    for (unsigned k = 0; k < ref.n && done < len; k++) {
        const struct ref_seg *s = &ref.seg[k];
        if (s->writable != writable)
            continue;
        if (offset >= s->len) {
            offset -= s->len;
            continue;
        }
        size_t n = s->len - offset;
        if (n > len - done)
            n = len - done;
        if (guest_mem_read(&mem, s->gpa + offset, buf + done, n))
            fail("reference: buffer read outside RAM", NULL);
        done += n;
        offset = 0;
    }
    return done;
}

static size_t expect_len(uint64_t total, uint64_t offset, size_t len)
{
    if (offset >= total)
        return 0;
    return total - offset < len ? (size_t)(total - offset) : len;
}

static void exercise_chain(struct virtq *q, unsigned round, uint32_t seed)
{
    static uint8_t got[WINDOW], want[WINDOW], pattern[WINDOW];
    uint64_t off = chain.out_len ? (seed % (chain.out_len + 1)) : 0;
    size_t n = virtq_chain_read(&chain, off, got, WINDOW);
    if (n != expect_len(chain.out_len, off, WINDOW))
        fail("chain_read copied the wrong amount", NULL);
    if (ref_gather(0, off, want, n) != n || memcmp(got, want, n))
        fail("chain_read bytes differ from the buffers", NULL);

    off = chain.in_len ? (seed % (chain.in_len + 1)) : 0;
    for (size_t i = 0; i < WINDOW; i++)
        pattern[i] = (uint8_t)(round * 31 + i);
    n = virtq_chain_write(&chain, off, pattern, WINDOW);
    if (n != expect_len(chain.in_len, off, WINDOW))
        fail("chain_write copied the wrong amount", NULL);
    /* Writable buffers may overlap each other: only a single one can be
     * checked byte for byte. */
    if (chain.nr_in == 1 && (ref_gather(1, off, want, n) != n || memcmp(want, pattern, n)))
        fail("chain_write bytes not in the buffer", NULL);

    uint16_t head = chain.head, before = q->used_idx;
    uint32_t written = (uint32_t)n;
    virtq_push(q, head, written);
    if (q->used_idx != (uint16_t)(before + 1))
        fail("push did not advance used_idx", NULL);
    uint8_t e[8];
    uint64_t slot = q->used_gpa + 4 + 8ULL * (before & (q->size - 1));
    if (guest_mem_read(&mem, slot, e, 8))
        fail("used ring outside RAM", NULL);
    uint32_t id, len;
    memcpy(&id, e, 4);
    memcpy(&len, e + 4, 4);
    if (id != head || len != written || rd16(q->used_gpa + 2) != q->used_idx)
        fail("push wrote the wrong used entry or index", NULL);
    (void)virtq_should_notify(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    if (size < HEADER)
        return 0;
    const struct guest_region *r0 = guest_mem_region(&mem, RAM0);
    const struct guest_region *r1 = guest_mem_region(&mem, RAM1);
    memset(r0->host, 0, r0->size);
    memset(r1->host, 0, r1->size);
    size_t body = size - HEADER;
    memcpy(r0->host, data + HEADER, body < r0->size ? body : r0->size);
    memcpy(r1->host, data + HEADER, body < r1->size ? body : r1->size);

    uint16_t qsize = (uint16_t)(1u << (data[0] % 11));
    uint16_t start = (uint16_t)(data[2] | data[3] << 8);
    uint16_t avail_idx = (uint16_t)(data[4] | data[5] << 8);

    struct virtq q;
    virtq_reset(&q, VIRTQ_MAX_SIZE);
    q.size = qsize;
    q.desc_gpa = 0;
    q.avail_gpa = 16ULL * qsize;
    q.used_gpa = (q.avail_gpa + 6 + 2ULL * qsize + 3) & ~3ULL;
    q.indirect = data[1] & 1;
    q.event_idx = (data[1] >> 1) & 1;
    if (virtq_activate(&q, &mem))
        fail("the packed layout is refused", vmm_last_error());
    q.last_avail = q.used_idx = q.signalled_used = start;
    uint8_t idx[2] = { (uint8_t)avail_idx, (uint8_t)(avail_idx >> 8) };
    if (guest_mem_write(&mem, q.avail_gpa + 2, idx, 2))
        fail("driver ring outside RAM", NULL);

    for (unsigned round = 0; round < MAX_POPS; round++) {
        int want = ref_pop(&q);
        uint16_t before = q.last_avail;
        vmm_error_clear();
        int rc = virtq_pop(&q, &mem, &chain);
        if (getenv("FUZZ_VERBOSE"))
            fprintf(stderr, "pop %u: %d (reference %d) %s\n", round, rc, want,
                    rc < 0 ? vmm_last_error() : "");
        if (rc < 0) {
            if (rc != VMM_EFORMAT || !*vmm_last_error())
                fail("refusal is not VMM_EFORMAT with a message", vmm_last_error());
            if (q.last_avail != before)
                fail("a refused chain was consumed", NULL);
            if (want != -1)
                fail("refused a chain the reference accepts", vmm_last_error());
            break;
        }
        if (rc != want)
            fail(rc ? "accepted a chain the reference refuses or finds empty"
                    : "found empty a ring the reference does not",
                 NULL);
        if (rc == 0) {
            if (q.last_avail != before)
                fail("an empty pop moved last_avail", NULL);
            break;
        }
        if (q.last_avail != (uint16_t)(before + 1))
            fail("a pop did not consume exactly one entry", NULL);
        check_chain();
        exercise_chain(&q, round, (uint32_t)(size * 2654435761u) + round);
        if (data[1] & 4)
            virtq_update_avail_event(&q);
    }
    return 0;
}
