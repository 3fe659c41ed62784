#include "mem/guest_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

#define PAGE_MASK_4K 0xfffULL

void guest_mem_init(struct guest_mem *gm)
{
    memset(gm, 0, sizeof(*gm));
}

int guest_mem_add_ram(struct guest_mem *gm, uint64_t gpa, uint64_t size)
{
    if (size == 0 || (gpa & PAGE_MASK_4K) || (size & PAGE_MASK_4K))
        return vmm_error(VMM_EINVAL, "RAM region 0x%llx+0x%llx is empty or not 4 KiB aligned",
                         (unsigned long long)gpa, (unsigned long long)size);
    if (gpa + size < gpa)
        return vmm_error(VMM_ERANGE, "RAM region 0x%llx+0x%llx wraps the address space",
                         (unsigned long long)gpa, (unsigned long long)size);
    if (gm->nr_regions >= GUEST_MEM_MAX_REGIONS)
        return vmm_error(VMM_EINVAL, "too many RAM regions (limit %d)", GUEST_MEM_MAX_REGIONS);
    for (int i = 0; i < gm->nr_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        if (gpa < r->gpa + r->size && r->gpa < gpa + size)
            return vmm_error(VMM_EINVAL, "RAM region 0x%llx+0x%llx overlaps 0x%llx+0x%llx",
                             (unsigned long long)gpa, (unsigned long long)size,
                             (unsigned long long)r->gpa, (unsigned long long)r->size);
    }
    int fd = memfd_create("libvmm-ram", MFD_CLOEXEC);
    if (fd < 0)
        return vmm_error_errno(errno, "memfd_create for %llu bytes of RAM", (unsigned long long)size);
    if (ftruncate(fd, (off_t)size) < 0) {
        int e = errno;
        close(fd);
        return vmm_error_errno(e, "sizing guest RAM to %llu bytes", (unsigned long long)size);
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        return vmm_error_errno(e, "mapping %llu bytes of guest RAM", (unsigned long long)size);
    }
    /* Guest RAM is large and rarely shares pages with the VMM's own heap:
     * let the kernel back it with huge pages where it can. */
    madvise(p, size, MADV_HUGEPAGE);
    struct guest_region *r = &gm->regions[gm->nr_regions++];
    r->gpa = gpa;
    r->size = size;
    r->host = p;
    r->memfd = fd;
    gm->ram_bytes += size;
    return 0;
}

int guest_mem_map_file(struct guest_mem *gm, int index, int fd, uint64_t offset)
{
    struct guest_region *r = &gm->regions[index];
    void *p = mmap(r->host, r->size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)offset);
    if (p == MAP_FAILED)
        return vmm_error_errno(errno, "mapping %llu bytes of RAM at 0x%llx from the snapshot",
                               (unsigned long long)r->size, (unsigned long long)r->gpa);
    madvise(r->host, r->size, MADV_HUGEPAGE);
    r->from_file = 1;
    return 0;
}

int guest_mem_next_data(const struct guest_region *r, uint64_t from, uint64_t *start,
                        uint64_t *end)
{
    if (from >= r->size)
        return 0;
    if (r->from_file) {
        *start = from;
        *end = r->size;
        return 1;
    }
    off_t d = lseek(r->memfd, (off_t)from, SEEK_DATA);
    if (d < 0) {
        if (errno == ENXIO)
            return 0; /* only holes from here */
        *start = from; /* no SEEK_DATA here: everything may hold data */
        *end = r->size;
        return 1;
    }
    if ((uint64_t)d >= r->size)
        return 0;
    off_t h = lseek(r->memfd, d, SEEK_HOLE);
    *start = (uint64_t)d & ~4095ULL;
    *end = h < 0 || (uint64_t)h > r->size ? r->size : ((uint64_t)h + 4095) & ~4095ULL;
    return 1;
}

void guest_mem_destroy(struct guest_mem *gm)
{
    guest_mem_dirty_stop(gm);
    for (int i = 0; i < gm->nr_regions; i++) {
        struct guest_region *r = &gm->regions[i];
        free(r->dirty);
        r->dirty = NULL;
        munmap(r->host, r->size);
        close(r->memfd);
    }
    gm->nr_regions = 0;
    gm->ram_bytes = 0;
}

const struct guest_region *guest_mem_region(const struct guest_mem *gm, uint64_t gpa)
{
    for (int i = 0; i < gm->nr_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        if (gpa - r->gpa < r->size)
            return r;
    }
    return NULL;
}

void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
    const struct guest_region *r = guest_mem_region(gm, gpa);
    if (!r)
        return NULL;
    uint64_t off = gpa - r->gpa;
    if (len > r->size - off)
        return NULL;
    return r->host + off;
}

static int guest_mem_copy(const struct guest_mem *gm, uint64_t gpa, void *buf, size_t len, int to_guest)
{
    uint8_t *b = buf;
    while (len) {
        const struct guest_region *r = guest_mem_region(gm, gpa);
        if (!r)
            return vmm_error(VMM_ERANGE, "guest-physical address 0x%llx is not RAM",
                             (unsigned long long)gpa);
        uint64_t off = gpa - r->gpa;
        size_t n = (size_t)((r->size - off) < len ? (r->size - off) : len);
        if (to_guest)
            memcpy(r->host + off, b, n);
        else
            memcpy(b, r->host + off, n);
        b += n;
        gpa += n;
        len -= n;
    }
    return 0;
}

int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *buf, size_t len)
{
    return guest_mem_copy(gm, gpa, buf, len, 0);
}

int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, size_t len)
{
    guest_mem_mark_dirty((struct guest_mem *)gm, gpa, len);
    guest_mem_note_foreign_write((struct guest_mem *)gm);
    return guest_mem_copy(gm, gpa, (void *)buf, len, 1);
}

int guest_mem_zero(struct guest_mem *gm)
{
    guest_mem_note_foreign_write(gm);
    for (int i = 0; i < gm->nr_regions; i++) {
        struct guest_region *r = &gm->regions[i];
        if (r->from_file) {
            /* Back to (emptied) memfd pages at the same address: readers see
             * the old bytes or zeros, never a hole in the mapping. */
            if (mmap(r->host, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
                     r->memfd, 0) == MAP_FAILED)
                return vmm_error_errno(errno, "remapping RAM at 0x%llx", (unsigned long long)r->gpa);
            r->from_file = 0;
        }
        if (fallocate(r->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)r->size) < 0) {
            /* A file system without hole punching: zero by hand. */
            if (errno != EOPNOTSUPP)
                return vmm_error_errno(errno, "zeroing %llu bytes of RAM at 0x%llx",
                                       (unsigned long long)r->size, (unsigned long long)r->gpa);
            memset(r->host, 0, r->size);
        }
        /* Every page changed: a dirty log (live migration, diff snapshots)
         * must carry the zeros too. */
        guest_mem_mark_dirty(gm, r->gpa, r->size);
    }
    return 0;
}

/* The bitmaps, once made, live as long as the memory: a writer that saw
 * logging on may still be setting a bit after it is turned off. */
int guest_mem_dirty_start(struct guest_mem *gm)
{
    for (int i = 0; i < gm->nr_regions; i++) {
        struct guest_region *r = &gm->regions[i];
        size_t words = guest_region_bitmap_words(r);
        if (r->dirty) {
            for (size_t w = 0; w < words; w++)
                __atomic_store_n(&r->dirty[w], 0, __ATOMIC_RELAXED);
            continue;
        }
        uint64_t *bits = calloc(words, sizeof(uint64_t));
        if (!bits)
            return vmm_error(VMM_ENOMEM, "dirty bitmap for %llu bytes of RAM",
                             (unsigned long long)r->size);
        __atomic_store_n(&r->dirty, bits, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&gm->dirty_on, 1, __ATOMIC_SEQ_CST);
    return 0;
}

void guest_mem_dirty_stop(struct guest_mem *gm)
{
    __atomic_store_n(&gm->dirty_on, 0, __ATOMIC_SEQ_CST);
}

static void mark_region(struct guest_region *r, uint64_t off, uint64_t len)
{
    uint64_t *dirty = __atomic_load_n(&r->dirty, __ATOMIC_ACQUIRE);
    if (!dirty || !len)
        return;
    uint64_t first = off / 4096, last = (off + len - 1) / 4096;
    for (uint64_t p = first; p <= last; p++)
        __atomic_fetch_or(&dirty[p / 64], 1ULL << (p % 64), __ATOMIC_RELAXED);
}

void guest_mem_mark_dirty_slow(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
    for (int i = 0; i < gm->nr_regions; i++) {
        struct guest_region *r = &gm->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size) {
            uint64_t off = gpa - r->gpa;
            mark_region(r, off, len < r->size - off ? len : r->size - off);
            return;
        }
    }
}

void guest_mem_mark_dirty_host(struct guest_mem *gm, const void *host, uint64_t len)
{
    guest_mem_note_foreign_write(gm);
    if (!__atomic_load_n(&gm->dirty_on, __ATOMIC_ACQUIRE))
        return;
    const uint8_t *p = host;
    for (int i = 0; i < gm->nr_regions; i++) {
        struct guest_region *r = &gm->regions[i];
        if (p >= r->host && (uint64_t)(p - r->host) < r->size) {
            uint64_t off = (uint64_t)(p - r->host);
            mark_region(r, off, len < r->size - off ? len : r->size - off);
            return;
        }
    }
}

void guest_mem_dirty_fetch(struct guest_mem *gm, int index, uint64_t *bitmap)
{
    struct guest_region *r = &gm->regions[index];
    if (!r->dirty)
        return;
    size_t words = guest_region_bitmap_words(r);
    for (size_t w = 0; w < words; w++)
        bitmap[w] |= __atomic_exchange_n(&r->dirty[w], 0, __ATOMIC_ACQ_REL);
}

int guest_mem_discard(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
    const struct guest_region *r = guest_mem_region(gm, gpa);
    if ((gpa & PAGE_MASK_4K) || (len & PAGE_MASK_4K) || !r || len > r->size - (gpa - r->gpa))
        return vmm_error(VMM_ERANGE,
                         "discarding 0x%llx+0x%llx: not 4 KiB aligned or not inside one RAM region",
                         (unsigned long long)gpa, (unsigned long long)len);
    if (!len)
        return 0;
    uint64_t off = gpa - r->gpa;
    /* A reader of the dirty log (migration) must send the zeros too. */
    guest_mem_mark_dirty(gm, gpa, len);
    guest_mem_note_foreign_write(gm);
    if (r->from_file) {
        /* The region's private copies go; the snapshot file backs the
         * pages again (their bytes are the guest's to overwrite). */
        if (madvise(r->host + off, len, MADV_DONTNEED) < 0)
            return vmm_error_errno(errno, "dropping 0x%llx+0x%llx of RAM", (unsigned long long)gpa,
                                   (unsigned long long)len);
        return 0;
    }
    if (fallocate(r->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0) {
        /* Without hole punching the shared mapping can still let go. */
        if (errno != EOPNOTSUPP || madvise(r->host + off, len, MADV_REMOVE) < 0)
            return vmm_error_errno(errno, "punching 0x%llx+0x%llx out of RAM",
                                   (unsigned long long)gpa, (unsigned long long)len);
    }
    return 0;
}

/* Pages of [p, p + len) resident in host memory, by mincore in slices. */
static uint64_t resident_pages(const uint8_t *p, uint64_t len)
{
    enum { SLICE_PAGES = 16384 }; /* 64 MiB of RAM a call */
    unsigned char vec[SLICE_PAGES];
    uint64_t n = 0;
    for (uint64_t off = 0; off < len; off += (uint64_t)SLICE_PAGES * 4096) {
        uint64_t chunk = len - off < (uint64_t)SLICE_PAGES * 4096 ? len - off
                                                                   : (uint64_t)SLICE_PAGES * 4096;
        if (mincore((void *)(p + off), chunk, vec) < 0)
            continue;
        for (uint64_t i = 0; i < chunk / 4096; i++)
            n += vec[i] & 1;
    }
    return n;
}

void guest_mem_usage(const struct guest_mem *gm, uint64_t *touched, uint64_t *resident)
{
    uint64_t t = 0, res = 0;
    for (int i = 0; i < gm->nr_regions; i++) {
        const struct guest_region *r = &gm->regions[i];
        uint64_t rp = (resident || r->from_file) ? resident_pages(r->host, r->size) * 4096 : 0;
        struct stat st;
        if (r->from_file)
            t += rp;
        else if (fstat(r->memfd, &st) == 0)
            t += (uint64_t)st.st_blocks * 512;
        res += rp;
    }
    if (touched)
        *touched = t;
    if (resident)
        *resident = res;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

void guest_mem_prefault(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
    uint8_t *p = guest_mem_ptr(gm, gpa, len ? len : 1);
    if (!p || !len)
        return;
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)4095, hi = ((uintptr_t)p + len + 4095) & ~(uintptr_t)4095;
    (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
}

int guest_mem_clear(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
    uint8_t *p = guest_mem_ptr(gm, gpa, len);
    if (!p)
        return vmm_error(VMM_ERANGE, "clearing 0x%llx+0x%llx: not inside one RAM region",
                         (unsigned long long)gpa, (unsigned long long)len);
    uint64_t first = (gpa + PAGE_MASK_4K) & ~PAGE_MASK_4K, end = gpa + len;
    uint64_t last = end & ~PAGE_MASK_4K;
    guest_mem_note_foreign_write(gm);
    if (first >= last) { /* no whole page inside */
        memset(p, 0, len);
        return 0;
    }
    memset(p, 0, first - gpa);
    memset(p + (last - gpa), 0, end - last);
    return guest_mem_discard(gm, first, last - first);
}
