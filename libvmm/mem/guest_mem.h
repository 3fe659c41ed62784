/* The guest-physical memory map: RAM regions backed by one memfd each and
 * mapped shared, so the same pages back KVM memory slots, device DMA and
 * (later) snapshots. Regions are added before the VM runs and never move, so
 * lookups need no lock.
 */
#ifndef LIBVMM_MEM_GUEST_MEM_H
#define LIBVMM_MEM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 8

struct guest_region {
    uint64_t gpa;   /* guest-physical base */
    uint64_t size;  /* bytes, multiple of 4 KiB */
    uint8_t *host;  /* host mapping of the whole region */
    int memfd;
    int from_file;  /* host maps a snapshot file copy-on-write, not memfd */
    uint64_t *dirty; /* while dirty logging: one bit a page, set atomically */
};

struct guest_mem {
    struct guest_region regions[GUEST_MEM_MAX_REGIONS];
    int nr_regions;
    uint64_t ram_bytes; /* sum of region sizes */
    int dirty_on;       /* dirty logging active (atomic reads on hot paths) */
    /* Writes to guest RAM that a soft-engine hart's own store path does not
     * see (devices' DMA, the VMM's writes, discards, page-table A/D updates):
     * a count that only grows. A hart alone in its machine compares it at
     * fence.i and keeps its decoded and translated code when it has not
     * moved, since it saw every other write to its code itself. */
    uint64_t foreign_writes;
};

void guest_mem_init(struct guest_mem *gm);

/* Adds a zero-filled RAM region [gpa, gpa + size). Errors: VMM_EINVAL
 * (unaligned, overlapping, too many regions), VMM_ENOMEM. */
int guest_mem_add_ram(struct guest_mem *gm, uint64_t gpa, uint64_t size);

/* Makes every byte of RAM zero again and gives the pages back to the host
 * (hole punching on the memfd), with every mapping left in place: a reader
 * on another thread sees old bytes or zeros, never an unmapped page. No
 * vCPU may run. Returns 0 or VMM_EIO. */
int guest_mem_zero(struct guest_mem *gm);

/* Replaces region `index`'s contents by a private, copy-on-write mapping of
 * `fd` from byte `offset` (page aligned): pages come from the file as the
 * guest first touches them and writes stay in this process (snapshot
 * restore in map mode; clones of one snapshot share the unmodified pages).
 * The host address does not change, so KVM's memory slot stays valid. Only
 * before the region is in use or with no vCPU running. VMM_EIO on failure. */
int guest_mem_map_file(struct guest_mem *gm, int index, int fd, uint64_t offset);

/* The next stretch of region `r` at or after byte `from` (page aligned)
 * that may hold non-zero bytes: [*start, *end). Pages the memfd never
 * allocated (never written, or zeroed by guest_mem_zero) are holes and are
 * skipped without being touched, so a save or a migration neither reads
 * nor commits memory the guest never used. Returns 0 when nothing is left.
 * A region mapped from a snapshot file is one stretch (its pages are not
 * in the memfd). Any thread. */
int guest_mem_next_data(const struct guest_region *r, uint64_t from, uint64_t *start,
                        uint64_t *end);

/* 64-bit words of a one-bit-a-page bitmap of region `r` (dirty logs,
 * diff snapshots). */
static inline size_t guest_region_bitmap_words(const struct guest_region *r)
{
    return (size_t)((r->size / 4096 + 63) / 64);
}

/* Dirty-page logging, for live migration and diff snapshots: while on,
 * every write to guest RAM that does not come from KVM's own page tables
 * (devices' DMA, the soft engine's stores, the VMM's own writes) sets the
 * page's bit; the engine adds what it tracks itself (machine.h). */
int guest_mem_dirty_start(struct guest_mem *gm);
void guest_mem_dirty_stop(struct guest_mem *gm);

/* Marks [gpa, gpa + len) dirty when logging is on. Any thread; cheap (one
 * relaxed load) when off. */
void guest_mem_mark_dirty_slow(struct guest_mem *gm, uint64_t gpa, uint64_t len);
static inline void guest_mem_mark_dirty(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
    if (__atomic_load_n(&gm->dirty_on, __ATOMIC_ACQUIRE))
        guest_mem_mark_dirty_slow(gm, gpa, len);
}
/* Counts a write no hart's store path sees (guest_mem.foreign_writes).
 * Called before the write is visible to the guest. Any thread. */
static inline void guest_mem_note_foreign_write(struct guest_mem *gm)
{
    __atomic_fetch_add(&gm->foreign_writes, 1, __ATOMIC_RELEASE);
}

static inline uint64_t guest_mem_foreign_writes(const struct guest_mem *gm)
{
    return __atomic_load_n(&gm->foreign_writes, __ATOMIC_ACQUIRE);
}

/* The same by host address inside guest RAM (devices hold host pointers). */
void guest_mem_mark_dirty_host(struct guest_mem *gm, const void *host, uint64_t len);

/* ORs region `index`'s dirty bits into `bitmap` (one bit a page, words of
 * 64) and clears them, atomically word by word. */
void guest_mem_dirty_fetch(struct guest_mem *gm, int index, uint64_t *bitmap);

/* Gives the pages of [gpa, gpa + len) back to the host (a balloon's
 * inflated or reported pages): hole punching on the memfd, or dropping the
 * private copies of a region mapped from a snapshot file. The mapping stays:
 * the guest reads zeros (or the snapshot's bytes) there afterwards and the
 * host commits a page again when it is next written. gpa and len must be
 * 4 KiB aligned and lie inside one RAM region: VMM_ERANGE naming the
 * range otherwise (guest-supplied values are checked here). Any thread. */
int guest_mem_discard(struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Makes [gpa, gpa + len) (inside one RAM region: VMM_ERANGE otherwise)
 * read as zeros without committing host memory for it: the whole pages
 * are discarded (guest_mem_discard), only the partial pages at either end
 * are written. For loaders zero-filling a segment's bss. */
int guest_mem_clear(struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* What guest RAM costs the host now, in bytes: `touched` is what the host
 * has committed to it (the memfds' allocated blocks, swapped pages
 * included; for a region mapped from a snapshot file, its resident pages),
 * `resident` what of it is in host memory now (mincore over the
 * mappings). Either pointer may be NULL (touched alone is one fstat a
 * region: cheap enough for a periodic check). Any thread. */
void guest_mem_usage(const struct guest_mem *gm, uint64_t *touched, uint64_t *resident);

/* Commits the pages of [gpa, gpa + len) (inside one RAM region) in one
 * call, for a loader about to fill them: cheaper than a fault per page.
 * Best effort: nothing happens where the kernel cannot (before Linux
 * 5.14, or outside RAM). */
void guest_mem_prefault(struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Unmaps and closes every region. */
void guest_mem_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa + len) when the range lies inside one RAM
 * region, else NULL. This is the bounds check every device access uses:
 * guest-supplied gpa and len are never trusted. */
void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* The region containing gpa, or NULL. */
const struct guest_region *guest_mem_region(const struct guest_mem *gm, uint64_t gpa);

/* Copy to/from guest memory; the range may span adjacent regions. Returns 0
 * or VMM_ERANGE (with the address in vmm_last_error()). */
int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *buf, size_t len);
int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, size_t len);

#endif
