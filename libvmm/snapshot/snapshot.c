/* Snapshot files (doc/snapshot-format.md): vmm_vm_save() and
 * vmm_vm_restore(). A snapshot is the configuration as domain XML, every
 * component's state (machine/component.h) as a state stream, and guest
 * memory as a sparse image. The layout and what a reader refuses are in the
 * format document; this file follows it field by field.
 */
#include "snapshot/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/vm.h"
#include "machine/component.h"
#include "machine/state.h"
#include "util/crc32c.h"
#include "util/error.h"
#include "vmm/snapshot.h"
#include "vmm/vmm.h"

#define PAGE 4096ULL
#define HDR_SIZE 4096
#define HDR_CRC_OFFSET 156
#define REGION_ENTRY 32
#define MAX_CONFIG (10ULL << 20)
#define MAX_STATE (256ULL << 20)
/* Diff snapshots (flag bit 0): the extension of the header. */
#define FLAG_DIFF 1u
#define EXT_OFFSET 160
#define EXT_CRC_OFFSET 208
#define MAX_PARENT_PATH 4096
#define MAX_CHAIN 32

static const char magic[8] = { 'L', 'V', 'M', 'M', 'S', 'N', 'A', 'P' };

static void le_put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off, const char *path)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return vmm_error_errno(n < 0 ? errno : EIO, "writing snapshot '%s'", path);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vmm_error_errno(errno, "reading snapshot '%s'", path);
        if (n == 0)
            return vmm_error(VMM_EFORMAT, "snapshot '%s' is truncated at byte %llu", path,
                             (unsigned long long)off);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (size_t i = 0; i < PAGE / 8; i += 4)
        if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
            return 0;
    return 1;
}

/* CRC of a non-zero page as the format defines it: page number, then bytes. */
static uint32_t page_crc(uint32_t crc, uint64_t page_no, const uint8_t *p)
{
    uint8_t no[8];
    le_put(no, page_no, 8);
    crc = crc32c(crc, no, 8);
    return crc32c(crc, p, PAGE);
}

/* --- writing --- */

/* The writer (snapshot.h): prepared on the loop thread while the VM
 * cannot change, written on any thread, committed on the loop thread. */
struct snapshot_writer {
    char *path;      /* the final name (path mode), or NULL (fd mode) */
    char *tmp;       /* the temporary file being written (path mode) */
    int fd;
    int own_fd;      /* path mode: the writer opened fd and closes it */
    int committed;
    char *xml;
    struct state_buffer state;
    const char *engine, *arch;
    uint64_t ram_bytes;
    int nr;
    struct guest_region regions[GUEST_MEM_MAX_REGIONS]; /* copies: gpa, size, host */
    /* A diff: only the pages set in only[i] are written, the parent is
     * named by its path and its header checksum. */
    uint64_t *only[GUEST_MEM_MAX_REGIONS];
    char *parent_path;
    uint32_t parent_id;
    uint32_t id; /* this file's header checksum, once written */
};

static size_t bitmap_words(uint64_t region_size)
{
    return (size_t)((region_size / PAGE + 63) / 64);
}

/* Writes one region's non-zero pages (runs of them in one pwrite each) at
 * data_offset; zero pages stay holes, and stretches the memfd never
 * allocated are not even read (guest_mem_next_data). Returns the CRC and
 * page count. */
static int write_region(int fd, const struct guest_region *r, uint64_t data_offset,
                        const char *path, uint32_t *crc_out, uint32_t *pages_out,
                        _Atomic uint64_t *done, const _Atomic int *cancel)
{
    uint32_t crc = 0, pages = 0;
    uint64_t pos = 0, start, end;
    while (guest_mem_next_data(r, pos, &start, &end)) {
        if (done && start > pos)
            atomic_fetch_add_explicit(done, start - pos, memory_order_relaxed);
        uint64_t first = start / PAGE, n = end / PAGE;
        uint64_t run_start = 0, run_len = 0;
        for (uint64_t i = first; i <= n; i++) {
            if (i > first && ((i - first) % 256 == 0 || i == n)) {
                if (done)
                    atomic_fetch_add_explicit(done, ((i - first) % 256 ? (i - first) % 256 : 256) *
                                                        PAGE, memory_order_relaxed);
                if (cancel && atomic_load_explicit(cancel, memory_order_relaxed))
                    return vmm_error(VMM_ECANCELED, "saving '%s' was cancelled", path);
            }
            int data = i < n && !page_is_zero(r->host + i * PAGE);
            if (data) {
                crc = page_crc(crc, i, r->host + i * PAGE);
                pages++;
                if (!run_len)
                    run_start = i;
                run_len++;
                /* Bound a single write so a huge region streams. */
                if (run_len < 256)
                    continue;
            }
            if (run_len) {
                int rc = pwrite_all(fd, r->host + run_start * PAGE, run_len * PAGE,
                                    data_offset + run_start * PAGE, path);
                if (rc)
                    return rc;
                run_len = 0;
            }
        }
        pos = end;
    }
    if (done && r->size > pos)
        atomic_fetch_add_explicit(done, r->size - pos, memory_order_relaxed);
    *crc_out = crc;
    *pages_out = pages;
    return 0;
}

/* A diff's region: every page set in `only` counts (a page written back to
 * zero too: it is a hole here but listed); non-zero ones are written. */
static int write_region_diff(int fd, const struct guest_region *r, const uint64_t *only,
                             uint64_t data_offset, const char *path, uint32_t *crc_out,
                             uint32_t *pages_out, _Atomic uint64_t *done,
                             const _Atomic int *cancel)
{
    uint32_t crc = 0, pages = 0;
    uint64_t n = r->size / PAGE;
    for (size_t w = 0; w < bitmap_words(r->size); w++) {
        uint64_t v = only[w];
        while (v) {
            unsigned b = (unsigned)__builtin_ctzll(v);
            v &= v - 1;
            uint64_t i = (uint64_t)w * 64 + b;
            if (i >= n)
                break;
            const uint8_t *page = r->host + i * PAGE;
            crc = page_crc(crc, i, page);
            pages++;
            if (!page_is_zero(page)) {
                int rc = pwrite_all(fd, page, PAGE, data_offset + i * PAGE, path);
                if (rc)
                    return rc;
            }
        }
        if (done)
            atomic_fetch_add_explicit(done, (w * 64 + 64 > n ? n - w * 64 : 64) * PAGE,
                                      memory_order_relaxed);
        if (cancel && (w & 255) == 255 && atomic_load_explicit(cancel, memory_order_relaxed))
            return vmm_error(VMM_ECANCELED, "saving '%s' was cancelled", path);
    }
    *crc_out = crc;
    *pages_out = pages;
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return VMM_ENOMEM;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (dfd < 0)
        return 0; /* best effort: the rename itself happened */
    fsync(dfd);
    close(dfd);
    return 0;
}

void snapshot_writer_free(struct snapshot_writer *w)
{
    if (!w)
        return;
    if (w->own_fd && w->fd >= 0)
        close(w->fd);
    if (w->tmp && !w->committed)
        unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w->xml);
    free(w->parent_path);
    for (int i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
        free(w->only[i]);
    state_buffer_free(&w->state);
    free(w);
}

void snapshot_writer_set_diff(struct snapshot_writer *w, uint64_t **only, const char *parent_path,
                              uint32_t parent_id)
{
    for (int i = 0; i < w->nr; i++) {
        w->only[i] = only[i];
        only[i] = NULL;
    }
    w->parent_path = strdup(parent_path);
    w->parent_id = parent_id;
}

uint32_t snapshot_writer_id(const struct snapshot_writer *w)
{
    return w->id;
}

uint64_t snapshot_writer_total(const struct snapshot_writer *w)
{
    uint64_t total = 0;
    for (int i = 0; i < w->nr; i++)
        total += w->regions[i].size;
    return total;
}

int snapshot_writer_new(struct vmm_vm *vm, const char *path, int fd, struct snapshot_writer **out)
{
    *out = NULL;
    struct machine *m = &vm->m;
    if ((path == NULL) == (fd < 0))
        return vmm_error(VMM_EINVAL, "a snapshot goes to a path or to an fd (exactly one)");
    for (unsigned i = 0; i < vmm_config_disk_count(vm->cfg); i++)
        if (vmm_config_disk(vm->cfg, i)->backend)
            return vmm_error(VMM_ENOTSUP,
                             "disk '%s' is served by the host program: its contents cannot go "
                             "into a snapshot", vmm_config_disk(vm->cfg, i)->target);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            return vmm_error_errno(errno, "snapshot fd %d", fd);
        if (!S_ISREG(st.st_mode))
            return vmm_error(VMM_EINVAL, "snapshot fd %d is not a regular file (a snapshot is "
                             "written at offsets; stream a VM with live migration instead)", fd);
    }
    struct snapshot_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return vmm_error(VMM_ENOMEM, "snapshot writer");
    w->fd = fd;
    w->engine = vmm_vm_engine(vm);
    w->arch = vm->platform->arch;
    w->ram_bytes = m->mem.ram_bytes;
    w->nr = m->mem.nr_regions;
    memcpy(w->regions, m->mem.regions, sizeof(struct guest_region) * (size_t)w->nr);
    int rc = vmm_config_to_xml(vm->cfg, &w->xml);
    struct state_sink sink = state_buffer_sink(&w->state);
    struct state_writer *sw = NULL;
    if (rc == 0)
        rc = state_writer_new(&sw, &sink);
    if (rc == 0)
        rc = machine_save_components(m, sw);
    if (rc == 0)
        rc = state_writer_finish(sw);
    state_writer_free(sw);
    if (rc == 0 && path) {
        size_t tmp_len = strlen(path) + 16;
        w->path = strdup(path);
        w->tmp = malloc(tmp_len);
        if (!w->path || !w->tmp) {
            rc = vmm_error(VMM_ENOMEM, "snapshot path");
        } else {
            snprintf(w->tmp, tmp_len, "%s.tmp-XXXXXX", path);
            w->fd = mkstemp(w->tmp);
            if (w->fd < 0) {
                rc = vmm_error_errno(errno, "creating snapshot '%s'", path);
                free(w->tmp);
                w->tmp = NULL;
            } else {
                w->own_fd = 1;
                fcntl(w->fd, F_SETFD, FD_CLOEXEC);
            }
        }
    }
    if (rc) {
        snapshot_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int snapshot_writer_write(struct snapshot_writer *w, _Atomic uint64_t *done,
                          const _Atomic int *cancel)
{
    char fdname[32];
    snprintf(fdname, sizeof(fdname), "fd %d", w->fd);
    const char *name = w->tmp ? w->tmp : fdname;
    uint64_t xml_len = strlen(w->xml);
    uint64_t config_offset = HDR_SIZE;
    uint64_t state_offset = config_offset + xml_len;
    int nr = w->nr;
    int diff = w->parent_path != NULL;
    /* A diff: the parent's path, then the page bitmaps (8-byte aligned). */
    uint64_t parent_offset = state_offset + w->state.len;
    uint64_t parent_len = diff ? strlen(w->parent_path) : 0;
    uint64_t bitmap_offset = align_up(parent_offset + parent_len, 8), bitmap_len = 0;
    for (int i = 0; diff && i < nr; i++)
        bitmap_len += bitmap_words(w->regions[i].size) * 8;
    uint64_t regions_offset = align_up(diff ? bitmap_offset + bitmap_len
                                            : state_offset + w->state.len, PAGE);
    uint64_t data = align_up(regions_offset + (uint64_t)nr * REGION_ENTRY, PAGE);
    uint8_t table[REGION_ENTRY * GUEST_MEM_MAX_REGIONS];
    memset(table, 0, sizeof(table));

    /* An fd may hold an older, larger file: what lies beyond the new size
     * goes, and the memory area must read back as holes, not old bytes. */
    int rc = 0;
    if (!w->tmp && ftruncate(w->fd, 0) < 0)
        rc = vmm_error_errno(errno, "emptying snapshot %s", name);
    if (rc == 0)
        rc = pwrite_all(w->fd, w->xml, xml_len, config_offset, name);
    if (rc == 0)
        rc = pwrite_all(w->fd, w->state.data, w->state.len, state_offset, name);
    uint32_t bitmap_crc = 0;
    if (rc == 0 && diff) {
        rc = pwrite_all(w->fd, w->parent_path, parent_len, parent_offset, name);
        for (int i = 0, off = 0; rc == 0 && i < nr; i++) {
            size_t len = bitmap_words(w->regions[i].size) * 8;
            uint8_t *le = malloc(len);
            if (!le) {
                rc = vmm_error(VMM_ENOMEM, "diff bitmap of %zu bytes", len);
                break;
            }
            for (size_t k = 0; k < len / 8; k++)
                le_put(le + 8 * k, w->only[i][k], 8);
            bitmap_crc = crc32c(bitmap_crc, le, len);
            rc = pwrite_all(w->fd, le, len, bitmap_offset + (uint64_t)off, name);
            off += (int)len;
            free(le);
        }
    }
    for (int i = 0; rc == 0 && i < nr; i++) {
        const struct guest_region *r = &w->regions[i];
        uint32_t crc = 0, pages = 0;
        rc = diff ? write_region_diff(w->fd, r, w->only[i], data, name, &crc, &pages, done, cancel)
                  : write_region(w->fd, r, data, name, &crc, &pages, done, cancel);
        uint8_t *e = table + i * REGION_ENTRY;
        le_put(e, r->gpa, 8);
        le_put(e + 8, r->size, 8);
        le_put(e + 16, data, 8);
        le_put(e + 24, crc, 4);
        le_put(e + 28, pages, 4);
        data += align_up(r->size, PAGE);
    }
    uint64_t file_size = data;
    if (rc == 0)
        rc = pwrite_all(w->fd, table, (size_t)nr * REGION_ENTRY, regions_offset, name);
    if (rc == 0 && ftruncate(w->fd, (off_t)file_size) < 0)
        rc = vmm_error_errno(errno, "sizing snapshot %s to %llu bytes", name,
                             (unsigned long long)file_size);

    uint8_t hdr[HDR_SIZE];
    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, magic, 8);
    le_put(hdr + 8, SNAPSHOT_FORMAT_VERSION, 4);
    le_put(hdr + 12, HDR_SIZE, 4);
    snprintf((char *)hdr + 16, 32, "%s", vmm_version());
    snprintf((char *)hdr + 48, 16, "%s", w->engine);
    snprintf((char *)hdr + 64, 16, "%s", w->arch);
    le_put(hdr + 80, config_offset, 8);
    le_put(hdr + 88, xml_len, 8);
    le_put(hdr + 96, state_offset, 8);
    le_put(hdr + 104, w->state.len, 8);
    le_put(hdr + 112, regions_offset, 8);
    le_put(hdr + 120, (uint64_t)nr, 4);
    le_put(hdr + 124, diff ? FLAG_DIFF : 0, 4);
    le_put(hdr + 128, w->ram_bytes, 8);
    le_put(hdr + 136, file_size, 8);
    le_put(hdr + 144, crc32c(0, w->xml, xml_len), 4);
    le_put(hdr + 148, crc32c(0, w->state.data, w->state.len), 4);
    le_put(hdr + 152, crc32c(0, table, (size_t)nr * REGION_ENTRY), 4);
    le_put(hdr + HDR_CRC_OFFSET, crc32c(0, hdr, HDR_CRC_OFFSET), 4);
    if (diff) {
        le_put(hdr + 160, parent_offset, 8);
        le_put(hdr + 168, parent_len, 8);
        le_put(hdr + 176, w->parent_id, 4);
        le_put(hdr + 184, bitmap_offset, 8);
        le_put(hdr + 192, bitmap_len, 8);
        le_put(hdr + 200, crc32c(0, w->parent_path, parent_len), 4);
        le_put(hdr + 204, bitmap_crc, 4);
        le_put(hdr + EXT_CRC_OFFSET, crc32c(0, hdr + EXT_OFFSET, EXT_CRC_OFFSET - EXT_OFFSET), 4);
    }
    w->id = (uint32_t)le_get(hdr + HDR_CRC_OFFSET, 4);
    if (rc == 0)
        rc = pwrite_all(w->fd, hdr, sizeof(hdr), 0, name);
    if (rc == 0 && fsync(w->fd) < 0)
        rc = vmm_error_errno(errno, "syncing snapshot %s", name);
    return rc;
}

int snapshot_writer_commit(struct snapshot_writer *w)
{
    if (!w->tmp)
        return 0; /* fd mode: the caller's file is complete and synced */
    if (w->own_fd) {
        close(w->fd);
        w->fd = -1;
        w->own_fd = 0;
    }
    if (rename(w->tmp, w->path) < 0)
        return vmm_error_errno(errno, "renaming the snapshot to '%s'", w->path);
    w->committed = 1;
    fsync_dir_of(w->path);
    return 0;
}

/* --- reading --- */

struct region_entry {
    uint64_t gpa, size, data_offset;
    uint32_t crc, pages;
};

struct snapshot_file {
    const char *path;
    int fd;
    uint64_t size;
    char engine[17], arch[17], version[33];
    uint64_t config_offset, config_length, state_offset, state_length, regions_offset;
    uint32_t nr_regions;
    uint32_t state_crc;
    struct region_entry regions[GUEST_MEM_MAX_REGIONS];
    vmm_config_t *cfg;
    unsigned flags; /* VMM_RESTORE_* */
    /* A diff (header flag): its pages, and the file it applies to. */
    int diff;
    uint32_t hdr_crc;
    char *own_path;        /* a parent's path (resolved), owned */
    char *parent_path;     /* as recorded */
    uint32_t parent_id;    /* the parent's header checksum */
    uint64_t bitmap_offset, bitmap_length;
    uint32_t bitmap_crc;
    uint64_t *bitmap[GUEST_MEM_MAX_REGIONS];
    struct snapshot_file *parent;
};

static void copy_field(char *dst, const uint8_t *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The diff extension of the header: the parent's path and checksum, where
 * the page bitmaps are. */
static int diff_header(struct snapshot_file *sf, const uint8_t *hdr)
{
    const char *path = sf->path;
    if (crc32c(0, hdr + EXT_OFFSET, EXT_CRC_OFFSET - EXT_OFFSET) !=
        (uint32_t)le_get(hdr + EXT_CRC_OFFSET, 4))
        return vmm_error(VMM_EFORMAT, "snapshot '%s': diff header checksum mismatch (corrupt)",
                         path);
    uint64_t parent_offset = le_get(hdr + 160, 8), parent_len = le_get(hdr + 168, 8);
    sf->parent_id = (uint32_t)le_get(hdr + 176, 4);
    sf->bitmap_offset = le_get(hdr + 184, 8);
    sf->bitmap_length = le_get(hdr + 192, 8);
    sf->bitmap_crc = (uint32_t)le_get(hdr + 204, 4);
    if (parent_len == 0 || parent_len > MAX_PARENT_PATH)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': parent path of %llu bytes, limit 1..%d",
                         path, (unsigned long long)parent_len, MAX_PARENT_PATH);
    if (parent_offset > sf->size || parent_len > sf->size - parent_offset ||
        sf->bitmap_offset > sf->size || sf->bitmap_length > sf->size - sf->bitmap_offset)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': the diff's parent path or bitmap lies "
                         "beyond the end of the file (%llu bytes): truncated or corrupt", path,
                         (unsigned long long)sf->size);
    sf->parent_path = calloc(1, parent_len + 1);
    if (!sf->parent_path)
        return vmm_error(VMM_ENOMEM, "snapshot parent path");
    int rc = pread_all(sf->fd, sf->parent_path, parent_len, parent_offset, path);
    if (rc)
        return rc;
    if (crc32c(0, sf->parent_path, parent_len) != (uint32_t)le_get(hdr + 200, 4) ||
        strlen(sf->parent_path) != parent_len)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': parent path checksum mismatch (corrupt)",
                         path);
    return 0;
}

/* After the memory table: the diff's bitmaps, one per region. */
static int diff_bitmaps(struct snapshot_file *sf)
{
    uint64_t want = 0;
    for (uint32_t i = 0; i < sf->nr_regions; i++)
        want += bitmap_words(sf->regions[i].size) * 8;
    if (want != sf->bitmap_length)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': diff bitmap of %llu bytes, its memory "
                         "table needs %llu", sf->path, (unsigned long long)sf->bitmap_length,
                         (unsigned long long)want);
    uint8_t *le = malloc(want ? want : 1);
    if (!le)
        return vmm_error(VMM_ENOMEM, "diff bitmap of %llu bytes", (unsigned long long)want);
    int rc = pread_all(sf->fd, le, want, sf->bitmap_offset, sf->path);
    if (rc == 0 && crc32c(0, le, want) != sf->bitmap_crc)
        rc = vmm_error(VMM_EFORMAT, "snapshot '%s': diff bitmap checksum mismatch (corrupt)",
                       sf->path);
    uint64_t off = 0;
    for (uint32_t i = 0; rc == 0 && i < sf->nr_regions; i++) {
        size_t words = bitmap_words(sf->regions[i].size);
        sf->bitmap[i] = calloc(words ? words : 1, 8);
        if (!sf->bitmap[i]) {
            rc = vmm_error(VMM_ENOMEM, "diff bitmap");
            break;
        }
        uint64_t pages = 0;
        for (size_t k = 0; k < words; k++) {
            sf->bitmap[i][k] = le_get(le + off + 8 * k, 8);
            pages += (uint64_t)__builtin_popcountll(sf->bitmap[i][k]);
        }
        uint64_t n = sf->regions[i].size / PAGE;
        if (n % 64 && words && sf->bitmap[i][words - 1] >> (n % 64))
            rc = vmm_error(VMM_EFORMAT, "snapshot '%s': diff bitmap of region %u lists pages "
                           "beyond its %llu", sf->path, i, (unsigned long long)n);
        else if (pages != sf->regions[i].pages)
            rc = vmm_error(VMM_EFORMAT, "snapshot '%s': diff bitmap of region %u lists %llu "
                           "pages, its table %u", sf->path, i, (unsigned long long)pages,
                           sf->regions[i].pages);
        off += words * 8;
    }
    free(le);
    return rc;
}

static int snap_open(const char *path, struct snapshot_file *sf)
{
    memset(sf, 0, sizeof(*sf));
    sf->path = path;
    sf->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (sf->fd < 0)
        return vmm_error_errno(errno, "snapshot '%s'", path);
    struct stat st;
    if (fstat(sf->fd, &st) < 0)
        return vmm_error_errno(errno, "snapshot '%s'", path);
    if (!S_ISREG(st.st_mode))
        return vmm_error(VMM_EFORMAT, "snapshot '%s' is not a regular file", path);
    sf->size = (uint64_t)st.st_size;
    if (sf->size < HDR_SIZE)
        return vmm_error(VMM_EFORMAT, "snapshot '%s' is truncated: %llu bytes, the header alone "
                         "is %d", path, (unsigned long long)sf->size, HDR_SIZE);
    uint8_t hdr[HDR_SIZE];
    int rc = pread_all(sf->fd, hdr, sizeof(hdr), 0, path);
    if (rc)
        return rc;
    if (memcmp(hdr, magic, 8) != 0)
        return vmm_error(VMM_EFORMAT, "'%s' is not a libvmm snapshot (bad magic)", path);
    uint32_t version = (uint32_t)le_get(hdr + 8, 4);
    if (version != SNAPSHOT_FORMAT_VERSION)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': format version %u, this library reads %u",
                         path, version, SNAPSHOT_FORMAT_VERSION);
    if (le_get(hdr + 12, 4) != HDR_SIZE)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': header size %llu, expected %d", path,
                         (unsigned long long)le_get(hdr + 12, 4), HDR_SIZE);
    if (crc32c(0, hdr, HDR_CRC_OFFSET) != (uint32_t)le_get(hdr + HDR_CRC_OFFSET, 4))
        return vmm_error(VMM_EFORMAT, "snapshot '%s': header checksum mismatch (corrupt)", path);
    copy_field(sf->version, hdr + 16, 32);
    copy_field(sf->engine, hdr + 48, 16);
    copy_field(sf->arch, hdr + 64, 16);
    int kvm = strcmp(sf->engine, "kvm") == 0 && strcmp(sf->arch, "x86_64") == 0;
    int soft = strcmp(sf->engine, "soft") == 0 && strcmp(sf->arch, "riscv64") == 0;
    if (!kvm && !soft)
        return vmm_error(VMM_EFORMAT, "snapshot '%s' is of a %.16s machine on the %.16s engine; "
                         "this library runs x86_64 on kvm and riscv64 on soft", path, sf->arch,
                         sf->engine);
    uint32_t flags = (uint32_t)le_get(hdr + 124, 4);
    if (flags & ~FLAG_DIFF)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': flags 0x%x unknown to this library", path,
                         flags & ~FLAG_DIFF);
    sf->hdr_crc = (uint32_t)le_get(hdr + HDR_CRC_OFFSET, 4);
    sf->diff = (flags & FLAG_DIFF) != 0;
    if (sf->diff && (rc = diff_header(sf, hdr)))
        return rc;
    uint64_t recorded = le_get(hdr + 136, 8);
    if (sf->size < recorded)
        return vmm_error(VMM_EFORMAT, "snapshot '%s' is truncated: %llu of %llu bytes", path,
                         (unsigned long long)sf->size, (unsigned long long)recorded);
    sf->config_offset = le_get(hdr + 80, 8);
    sf->config_length = le_get(hdr + 88, 8);
    sf->state_offset = le_get(hdr + 96, 8);
    sf->state_length = le_get(hdr + 104, 8);
    sf->regions_offset = le_get(hdr + 112, 8);
    sf->nr_regions = (uint32_t)le_get(hdr + 120, 4);
    sf->state_crc = (uint32_t)le_get(hdr + 148, 4);
    if (sf->config_length == 0 || sf->config_length > MAX_CONFIG)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': configuration of %llu bytes, limit 1..%llu",
                         path, (unsigned long long)sf->config_length, MAX_CONFIG);
    if (sf->state_length > MAX_STATE)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': state of %llu bytes, limit %llu", path,
                         (unsigned long long)sf->state_length, MAX_STATE);
    if (sf->nr_regions == 0 || sf->nr_regions > GUEST_MEM_MAX_REGIONS)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': %u memory regions, limit 1..%d", path,
                         sf->nr_regions, GUEST_MEM_MAX_REGIONS);
    uint64_t table_len = (uint64_t)sf->nr_regions * REGION_ENTRY;
    if (sf->config_offset > sf->size || sf->config_length > sf->size - sf->config_offset ||
        sf->state_offset > sf->size || sf->state_length > sf->size - sf->state_offset ||
        sf->regions_offset > sf->size || table_len > sf->size - sf->regions_offset)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': a section lies beyond the end of the file "
                         "(%llu bytes): truncated or corrupt", path, (unsigned long long)sf->size);

    char *xml = malloc(sf->config_length + 1);
    if (!xml)
        return vmm_error(VMM_ENOMEM, "snapshot configuration");
    rc = pread_all(sf->fd, xml, sf->config_length, sf->config_offset, path);
    if (rc == 0 && crc32c(0, xml, sf->config_length) != (uint32_t)le_get(hdr + 144, 4))
        rc = vmm_error(VMM_EFORMAT, "snapshot '%s': configuration checksum mismatch (corrupt)",
                       path);
    if (rc == 0) {
        xml[sf->config_length] = '\0';
        char *warnings = NULL;
        rc = vmm_config_from_xml(xml, sf->config_length, VMM_XML_NO_HOST_CHECKS, &sf->cfg,
                                 &warnings);
        free(warnings);
        if (rc)
            rc = vmm_error(VMM_EFORMAT, "snapshot '%s': its configuration does not read back: %s",
                           path, vmm_last_error());
    }
    free(xml);
    if (rc)
        return rc;

    uint8_t table[REGION_ENTRY * GUEST_MEM_MAX_REGIONS];
    if ((rc = pread_all(sf->fd, table, table_len, sf->regions_offset, path)))
        return rc;
    if (crc32c(0, table, table_len) != (uint32_t)le_get(hdr + 152, 4))
        return vmm_error(VMM_EFORMAT, "snapshot '%s': memory table checksum mismatch (corrupt)",
                         path);
    for (uint32_t i = 0; i < sf->nr_regions; i++) {
        struct region_entry *e = &sf->regions[i];
        const uint8_t *t = table + i * REGION_ENTRY;
        e->gpa = le_get(t, 8);
        e->size = le_get(t + 8, 8);
        e->data_offset = le_get(t + 16, 8);
        e->crc = (uint32_t)le_get(t + 24, 4);
        e->pages = (uint32_t)le_get(t + 28, 4);
        if (e->size == 0 || e->size % PAGE || e->data_offset % PAGE ||
            e->data_offset > sf->size || e->size > sf->size - e->data_offset ||
            e->pages > e->size / PAGE)
            return vmm_error(VMM_EFORMAT, "snapshot '%s': memory region %u (0x%llx+0x%llx at "
                             "%llu) does not fit the file of %llu bytes", path, i,
                             (unsigned long long)e->gpa, (unsigned long long)e->size,
                             (unsigned long long)e->data_offset, (unsigned long long)sf->size);
    }
    return sf->diff ? diff_bitmaps(sf) : 0;
}

static void snap_close(struct snapshot_file *sf)
{
    if (sf->parent) {
        snap_close(sf->parent);
        free(sf->parent);
        sf->parent = NULL;
    }
    if (sf->fd >= 0)
        close(sf->fd);
    sf->fd = -1;
    vmm_config_free(sf->cfg);
    sf->cfg = NULL;
    free(sf->parent_path);
    free(sf->own_path);
    sf->parent_path = sf->own_path = NULL;
    for (int i = 0; i < GUEST_MEM_MAX_REGIONS; i++) {
        free(sf->bitmap[i]);
        sf->bitmap[i] = NULL;
    }
}

/* A relative parent path is relative to the diff's directory. */
static char *resolve_parent(const char *child, const char *parent)
{
    if (parent[0] == '/')
        return strdup(parent);
    char *copy = strdup(child);
    if (!copy)
        return NULL;
    const char *d = dirname(copy);
    size_t len = strlen(d) + strlen(parent) + 2;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s/%s", d, parent);
    free(copy);
    return out;
}

/* snap_open, then the parents of a diff, each checked against what its
 * child recorded, down to a full snapshot. */
static int snap_open_chain(const char *path, struct snapshot_file *sf, unsigned depth)
{
    int rc = snap_open(path, sf);
    if (rc || !sf->diff)
        return rc;
    if (depth >= MAX_CHAIN)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': a chain of more than %d diffs", path,
                         MAX_CHAIN);
    sf->parent = calloc(1, sizeof(*sf->parent));
    char *ppath = resolve_parent(path, sf->parent_path);
    if (!sf->parent || !ppath) {
        free(ppath);
        return vmm_error(VMM_ENOMEM, "snapshot chain");
    }
    sf->parent->fd = -1;
    rc = snap_open_chain(ppath, sf->parent, depth + 1);
    sf->parent->own_path = ppath;
    sf->parent->path = ppath;
    if (rc)
        return vmm_error(rc, "diff snapshot '%s' applies to '%s': %s", path, sf->parent_path,
                         vmm_last_error());
    const struct snapshot_file *p = sf->parent;
    if (p->hdr_crc != sf->parent_id)
        return vmm_error(VMM_EFORMAT, "diff snapshot '%s' applies to another '%s' (checksum "
                         "0x%08x, the file's 0x%08x): the parent was replaced", path,
                         sf->parent_path, sf->parent_id, p->hdr_crc);
    if (strcmp(p->engine, sf->engine) || strcmp(p->arch, sf->arch) ||
        p->nr_regions != sf->nr_regions)
        return vmm_error(VMM_EFORMAT, "diff snapshot '%s' and its parent '%s' are of different "
                         "machines", path, sf->parent_path);
    for (uint32_t i = 0; i < sf->nr_regions; i++)
        if (p->regions[i].gpa != sf->regions[i].gpa || p->regions[i].size != sf->regions[i].size)
            return vmm_error(VMM_EFORMAT, "diff snapshot '%s': memory region %u differs from "
                             "its parent's", path, i);
    return 0;
}

/* The full snapshot a chain starts from. */
static struct snapshot_file *chain_base(struct snapshot_file *sf)
{
    while (sf->parent)
        sf = sf->parent;
    return sf;
}

/* Applies a diff's pages over RAM that holds its parent's memory, checking
 * them against the region's checksum. */
static int apply_diff_region(const struct snapshot_file *sf, uint32_t index,
                             const struct guest_region *r)
{
    const struct region_entry *e = &sf->regions[index];
    const uint64_t *bits = sf->bitmap[index];
    uint32_t crc = 0, pages = 0;
    for (size_t w = 0; w < bitmap_words(e->size); w++) {
        uint64_t v = bits[w];
        while (v) {
            unsigned b = (unsigned)__builtin_ctzll(v);
            v &= v - 1;
            uint64_t i = (uint64_t)w * 64 + b;
            int rc = pread_all(sf->fd, r->host + i * PAGE, PAGE, e->data_offset + i * PAGE,
                               sf->path);
            if (rc)
                return rc;
            crc = page_crc(crc, i, r->host + i * PAGE);
            pages++;
        }
    }
    if (crc != e->crc || pages != e->pages)
        return vmm_error(VMM_EFORMAT, "diff snapshot '%s': memory at 0x%llx fails its checksum: "
                         "corrupt", sf->path, (unsigned long long)e->gpa);
    return 0;
}

/* Diffs from the oldest to `sf`. */
static int apply_diffs(const struct snapshot_file *sf, struct machine *m)
{
    if (!sf->diff)
        return 0;
    int rc = apply_diffs(sf->parent, m);
    for (uint32_t i = 0; rc == 0 && i < sf->nr_regions; i++)
        rc = apply_diff_region(sf, i, &m->mem.regions[i]);
    return rc;
}

/* The machine's RAM layout must be the file's. */
static int check_layout(const struct snapshot_file *sf, const struct machine *m)
{
    if ((uint32_t)m->mem.nr_regions != sf->nr_regions)
        return vmm_error(VMM_EFORMAT, "snapshot '%s' has %u memory regions, the machine %d",
                         sf->path, sf->nr_regions, m->mem.nr_regions);
    for (uint32_t i = 0; i < sf->nr_regions; i++)
        if (m->mem.regions[i].gpa != sf->regions[i].gpa ||
            m->mem.regions[i].size != sf->regions[i].size)
            return vmm_error(VMM_EFORMAT, "snapshot '%s': memory region %u is 0x%llx+0x%llx, the "
                             "machine's 0x%llx+0x%llx", sf->path, i,
                             (unsigned long long)sf->regions[i].gpa,
                             (unsigned long long)sf->regions[i].size,
                             (unsigned long long)m->mem.regions[i].gpa,
                             (unsigned long long)m->mem.regions[i].size);
    return 0;
}

static int restore_memory(struct machine *m, void *ctx)
{
    struct snapshot_file *sf = ctx;
    int rc = check_layout(sf, m);
    if (rc || !(sf->flags & VMM_RESTORE_MAP))
        return rc;
    /* A diff chain maps its full snapshot; the diffs are copied over. */
    struct snapshot_file *base = chain_base(sf);
    for (uint32_t i = 0; i < base->nr_regions; i++)
        if ((rc = guest_mem_map_file(&m->mem, (int)i, base->fd, base->regions[i].data_offset)))
            return rc;
    return 0;
}

/* Reads a region's data runs (skipping the file's holes) into RAM and
 * checks its checksum. */
static int read_region(const struct snapshot_file *sf, const struct region_entry *e,
                       const struct guest_region *r)
{
    /* Only the file's data runs are read and checked: the RAM between them
     * is fresh (zero) and stays untouched, so a restore commits only the
     * memory the guest had used. Pages go into the checksum in address
     * order, as the writer put them. */
    uint64_t end = e->data_offset + e->size;
    uint64_t pos = e->data_offset;
    uint32_t crc = 0, pages = 0;
    while (pos < end) {
        off_t d = lseek(sf->fd, (off_t)pos, SEEK_DATA);
        if (d < 0 || (uint64_t)d >= end)
            break; /* only holes left */
        off_t h = lseek(sf->fd, d, SEEK_HOLE);
        uint64_t run_end = h < 0 || (uint64_t)h > end ? end : (uint64_t)h;
        run_end = (run_end + PAGE - 1) & ~(PAGE - 1);
        if (run_end > end)
            run_end = end;
        uint64_t from = (uint64_t)d & ~(PAGE - 1);
        int rc = pread_all(sf->fd, r->host + (from - e->data_offset), run_end - from, from,
                           sf->path);
        if (rc)
            return rc;
        for (uint64_t i = (from - e->data_offset) / PAGE; i < (run_end - e->data_offset) / PAGE;
             i++)
            if (!page_is_zero(r->host + i * PAGE)) {
                crc = page_crc(crc, i, r->host + i * PAGE);
                pages++;
            }
        pos = run_end;
    }
    if (crc != e->crc || pages != e->pages)
        return vmm_error(VMM_EFORMAT, "snapshot '%s': memory at 0x%llx fails its checksum "
                         "(%u pages read, %u recorded): corrupt", sf->path,
                         (unsigned long long)e->gpa, pages, e->pages);
    return 0;
}

static int restore_load(struct machine *m, void *ctx)
{
    struct snapshot_file *sf = ctx;
    struct snapshot_file *base = chain_base(sf);
    int rc = 0;
    if (!(sf->flags & VMM_RESTORE_MAP))
        for (uint32_t i = 0; rc == 0 && i < base->nr_regions; i++)
            rc = read_region(base, &base->regions[i], &m->mem.regions[i]);
    if (rc == 0)
        rc = apply_diffs(sf, m);
    if (rc)
        return rc;
    struct state_buffer buf = { 0 };
    buf.data = malloc(sf->state_length ? sf->state_length : 1);
    if (!buf.data)
        return vmm_error(VMM_ENOMEM, "snapshot state of %llu bytes",
                         (unsigned long long)sf->state_length);
    buf.len = buf.cap = sf->state_length;
    rc = pread_all(sf->fd, buf.data, sf->state_length, sf->state_offset, sf->path);
    if (rc == 0 && crc32c(0, buf.data, buf.len) != sf->state_crc)
        rc = vmm_error(VMM_EFORMAT, "snapshot '%s': state checksum mismatch (corrupt)", sf->path);
    struct state_reader *r = NULL;
    struct state_source src = state_buffer_source(&buf);
    if (rc == 0)
        rc = state_reader_new(&r, &src);
    if (rc == 0) {
        rc = machine_load_components(m, r, 0);
        /* The components' messages do not name the file: add it once. */
        if (rc)
            rc = vmm_error(rc, "snapshot '%s': %s", sf->path, vmm_last_error());
    }
    state_reader_free(r);
    state_buffer_free(&buf);
    return rc;
}

int vmm_vm_restore(vmm_host_t *host, const char *path, const vmm_config_t *expect, unsigned flags,
                   vmm_vm_t **out)
{
    if (!host || !path || !out)
        return vmm_error(VMM_EINVAL, "vmm_vm_restore: host, path and out are required");
    *out = NULL;
    if (flags & ~VMM_RESTORE_MAP)
        return vmm_error(VMM_EINVAL, "vmm_vm_restore: unknown flags 0x%x",
                         flags & ~VMM_RESTORE_MAP);
    struct snapshot_file sf;
    int rc = snap_open_chain(path, &sf, 0);
    sf.flags = flags;
    const char *why = NULL;
    if (rc == 0 && expect && !config_machine_equal(expect, sf.cfg, &why))
        rc = vmm_error(VMM_EINVAL, "snapshot '%s' was taken with another configuration: the %s "
                       "differs", path, why);
    if (rc == 0) {
        struct vm_restore_hooks hooks = { restore_memory, restore_load, &sf };
        rc = vm_create_with(host, sf.cfg, &hooks, out);
    }
    snap_close(&sf);
    return rc;
}
