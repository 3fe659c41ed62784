/* libFuzzer target for the snapshot reader (libvmm/snapshot/snapshot.c,
 * format in doc/snapshot-format.md): the whole file, from the header
 * through the domain XML, the state stream of every component and the
 * memory table to the memory pages, restored through the public call
 * vmm_vm_restore() into a fresh host, so everything a restore builds and
 * loads (engine, board, devices, each component's load) is exercised.
 *
 * A snapshot file is mostly holes (RAM pages the guest never wrote), so the
 * input is the file packed:
 *   byte 0      flags: bit 0 repair the checksums after assembling the file
 *               (so a mutation reaches the parser behind them), bit 1
 *               restore in map mode, bit 2 round trip (below)
 *   bytes 1-4   u32 LE: length H of the file's head
 *   H bytes     the file from offset 0: header, configuration, state stream,
 *               memory table
 *   the rest    page records to the end of the input: u32 LE page number in
 *               the file, then its 4096 bytes (a short last one is padded
 *               with zeros)
 * The file is a memfd of max(end of what was written, the size the header
 * records) bytes, at most FILE_MAX; the reader opens it by its
 * /proc/self/fd path, as it would any file.
 *
 * Repair recomputes, in dependency order: every state section's CRC and the
 * trailer's, every memory region's CRC and page count, the configuration,
 * state and memory table CRCs in the header, and the header's own CRC.
 * Fields the checksums cover but that point elsewhere (offsets, lengths,
 * counts) are left as the fuzzer made them.
 *
 * Properties checked (a broken one aborts, which libFuzzer reports):
 *   - no crash, hang, leak or out-of-bounds access (the sanitizers watch);
 *   - a refusal is a VMM_E* code with a message, no VM, and nothing left
 *     behind: the host's memory pool is back to zero and the host frees;
 *   - an accepted file gives a VM that is defined (not running);
 *   - round trip: a restored VM saves, the saved file restores (read mode),
 *     and saving that VM again gives the same header, configuration, state
 *     and memory table (whose CRCs cover memory), byte for byte but for
 *     the soft harts' running clock (mask_soft_time) and, on kvm, memory
 *     KVM's clock page may change (mask_kvm_clock_page): what a component
 *     loads it saves back unchanged after one pass.
 *
 * The configuration names the guest's kernel, which a restore checks exists
 * but never loads; the seeds (make-snapshot-seeds.py) name files in
 * FIXTURE_DIR, which setup creates (empty) when missing.
 *
 * Built two ways: by meson against libvmm's internal library with
 * tests/fuzz/driver.c for the corpus replay (run-snapshot-fuzz.sh), and
 * with libFuzzer in a clang build of the whole library
 * (run-snapshot-fuzz-campaign.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/crc32c.h"
#include "vmm/vmm.h"

#define PAGE 4096ULL
#define HDR_SIZE 4096
#define FILE_MAX (64ULL << 20)
#define FIXTURE_DIR "/tmp/libvmm-fuzz-snapshot"
#define F_REPAIR 1
#define F_MAP 2
#define F_ROUND_TRIP 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int file_fd = -1;
static char file_path[64];
static char save_dir[64];

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_snapshot: %s: %s\n", what, detail ? detail : "");
    abort();
}

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void touch_fixture(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        fail("cannot create a fixture file", path);
    close(fd);
}

static void remove_save_dir(void)
{
    rmdir(save_dir); /* empty unless a round trip failed: then it keeps the files */
}

static void setup_once(void)
{
    if (file_fd >= 0)
        return;
    if (mkdir(FIXTURE_DIR, 0755) < 0 && errno != EEXIST)
        fail("cannot create " FIXTURE_DIR, strerror(errno));
    /* The kernels and the disk the seeds' configurations name. */
    touch_fixture("echo-riscv.elf");
    touch_fixture("echo-x86.elf");
    touch_fixture("disk.img");
    file_fd = memfd_create("fuzz-snapshot", MFD_CLOEXEC);
    if (file_fd < 0)
        fail("memfd_create", strerror(errno));
    snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
    snprintf(save_dir, sizeof(save_dir), "/dev/shm/libvmm-fuzz-snapshot-%d", (int)getpid());
    if (mkdir(save_dir, 0700) < 0 && errno != EEXIST)
        snprintf(save_dir, sizeof(save_dir), "/tmp");
    else
        atexit(remove_save_dir);
}

/* --- assembling the file --- */

static void pwrite_or_fail(int fd, const void *buf, size_t len, uint64_t off)
{
    if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
        fail("writing the memfd", strerror(errno));
}

/* Returns the file size, or 0 when the input is too short to hold one. */
static uint64_t assemble(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    uint64_t head = le(data + 1, 4);
    if (head > size - 5)
        head = size - 5;
    if (head > FILE_MAX)
        head = FILE_MAX;
    if (ftruncate(file_fd, 0) < 0)
        fail("ftruncate", strerror(errno));
    uint64_t end = head;
    pwrite_or_fail(file_fd, data + 5, (size_t)head, 0);
    for (size_t pos = 5 + (size_t)head; pos + 4 < size;) {
        uint64_t page = le(data + pos, 4) % (FILE_MAX / PAGE);
        pos += 4;
        uint8_t buf[PAGE];
        size_t n = size - pos < PAGE ? size - pos : PAGE;
        memset(buf, 0, sizeof(buf));
        memcpy(buf, data + pos, n);
        pos += n;
        pwrite_or_fail(file_fd, buf, PAGE, page * PAGE);
        if ((page + 1) * PAGE > end)
            end = (page + 1) * PAGE;
    }
    uint64_t recorded = head >= 144 ? le(data + 5 + 136, 8) : 0;
    if (recorded > end && recorded <= FILE_MAX)
        end = recorded;
    if (ftruncate(file_fd, (off_t)end) < 0)
        fail("ftruncate", strerror(errno));
    return end;
}

/* --- repairing checksums --- */

/* Reads [off, off+len) if it lies in the file; NULL otherwise. */
static uint8_t *read_span(uint64_t off, uint64_t len, uint64_t file_size)
{
    if (off > file_size || len > file_size - off || len > (256ULL << 20))
        return NULL;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        fail("out of memory", NULL);
    if (pread(file_fd, buf, len, (off_t)off) != (ssize_t)len)
        fail("reading the memfd", strerror(errno));
    return buf;
}

/* Every section's CRC and the trailer's, as machine/state.h frames them. */
static void repair_state(uint8_t *st, uint64_t len)
{
    uint64_t pos = 16;
    while (pos + 4 <= len) {
        uint32_t magic = (uint32_t)le(st + pos, 4);
        if (magic == 0x444e4553u) { /* trailer: magic, count, CRC of the count */
            if (pos + 12 <= len)
                put_le(st + pos + 8, crc32c(0, st + pos + 4, 4), 4);
            return;
        }
        if (magic != 0x54434553u)
            return;
        uint64_t start = pos + 4;
        if (start + 1 > len)
            return;
        uint64_t hdr_end = start + 1 + st[start] + 4 + 8;
        if (hdr_end > len)
            return;
        uint64_t payload = le(st + hdr_end - 8, 8);
        if (payload > len - hdr_end || len - hdr_end - payload < 4)
            return;
        uint64_t crc_at = hdr_end + payload;
        put_le(st + crc_at, crc32c(0, st + start, crc_at - start), 4);
        pos = crc_at + 4;
    }
}

/* A region's CRC and page count as the format defines them: its non-zero
 * pages in order, each as its page number then its bytes. Holes are
 * skipped with SEEK_DATA, so only what the input wrote is read. */
static void region_crc(uint64_t off, uint64_t size, uint32_t *crc_out, uint32_t *pages_out)
{
    uint32_t crc = 0, pages = 0;
    uint64_t pos = off, end = off + size;
    while (pos < end) {
        off_t d = lseek(file_fd, (off_t)pos, SEEK_DATA);
        if (d < 0 || (uint64_t)d >= end)
            break;
        uint64_t p = (uint64_t)d & ~(PAGE - 1);
        if (p < pos)
            p = pos;
        uint8_t buf[PAGE];
        if (pread(file_fd, buf, PAGE, (off_t)p) != (ssize_t)PAGE)
            fail("reading the memfd", strerror(errno));
        int zero = 1;
        for (size_t i = 0; i < PAGE && zero; i++)
            zero = buf[i] == 0;
        if (!zero) {
            uint8_t no[8];
            put_le(no, (p - off) / PAGE, 8);
            crc = crc32c(crc32c(crc, no, 8), buf, PAGE);
            pages++;
        }
        pos = p + PAGE;
    }
    *crc_out = crc;
    *pages_out = pages;
}

static void repair(uint64_t file_size)
{
    uint8_t hdr[160];
    if (file_size < sizeof(hdr))
        return;
    if (pread(file_fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
        fail("reading the memfd", strerror(errno));
    uint64_t config_off = le(hdr + 80, 8), config_len = le(hdr + 88, 8);
    uint64_t state_off = le(hdr + 96, 8), state_len = le(hdr + 104, 8);
    uint64_t table_off = le(hdr + 112, 8), nr = le(hdr + 120, 4);

    uint8_t *st = read_span(state_off, state_len, file_size);
    if (st) {
        repair_state(st, state_len);
        pwrite_or_fail(file_fd, st, (size_t)state_len, state_off);
        put_le(hdr + 148, crc32c(0, st, state_len), 4);
        free(st);
    }
    uint8_t *cf = read_span(config_off, config_len, file_size);
    if (cf) {
        put_le(hdr + 144, crc32c(0, cf, config_len), 4);
        free(cf);
    }
    uint8_t *table = nr <= 8 ? read_span(table_off, nr * 32, file_size) : NULL;
    if (table) {
        for (uint64_t i = 0; i < nr; i++) {
            uint8_t *e = table + i * 32;
            uint64_t size = le(e + 8, 8), off = le(e + 16, 8);
            if (off > file_size || size > file_size - off)
                continue;
            uint32_t crc, pages;
            region_crc(off, size, &crc, &pages);
            put_le(e + 24, crc, 4);
            put_le(e + 28, pages, 4);
        }
        pwrite_or_fail(file_fd, table, (size_t)nr * 32, table_off);
        put_le(hdr + 152, crc32c(0, table, nr * 32), 4);
        free(table);
    }
    put_le(hdr + 156, crc32c(0, hdr, 156), 4);
    pwrite_or_fail(file_fd, hdr, sizeof(hdr), 0);
}

/* --- the properties --- */

static void check_refusal(int rc, vmm_vm_t *vm, vmm_host_t *host)
{
    if (rc >= 0 || !vmm_strerror(rc) || !*vmm_last_error())
        fail("a refusal without a VMM_E* code and a message", vmm_last_error());
    if (vm)
        fail("a refused restore handed out a VM", vmm_last_error());
    if (vmm_host_memory_used(host) != 0)
        fail("a refused restore left memory charged to the host", vmm_last_error());
}

/* The head of a saved file: header, configuration, state and memory table
 * (the table's CRCs cover memory). Caller frees. */
static uint8_t *saved_head(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail("cannot open a file vmm_vm_save wrote", path);
    uint8_t hdr[160];
    if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
        fail("a file vmm_vm_save wrote is short", path);
    uint64_t n = le(hdr + 112, 8) + 32 * le(hdr + 120, 4);
    if (n > (300ULL << 20))
        fail("a file vmm_vm_save wrote has an absurd table offset", path);
    uint8_t *buf = malloc(n);
    if (!buf || pread(fd, buf, n, 0) != (ssize_t)n)
        fail("cannot read back a file vmm_vm_save wrote", path);
    close(fd);
    *len = (size_t)n;
    return buf;
}

/* The soft engine's harts keep their `time` running on the host's clock
 * while the VM is not running (kvm freezes the TSC at pause instead), so
 * two saves of the same never-run soft VM differ in that one field: in a
 * soft snapshot, bytes TIME_AT.. of a "cpuN" section (the layout of
 * backend/soft/hart_component.c: 64 registers, pc, two i32, 18 CSRs, two
 * u32, four u64, an i32, two u64) are set equal before comparing, and the
 * checksums covering them are not compared. Everything else must match. */
#define SOFT_HART_TIME_AT (8 * 64 + 8 + 4 + 4 + 8 * 18 + 4 + 4 + 8 * 3 + 4 + 8 * 2)

static void mask_soft_time(uint8_t *a, uint8_t *b, size_t len)
{
    if (memcmp(a + 48, "soft", 5) != 0)
        return;
    uint64_t off = le(a + 96, 8), slen = le(a + 104, 8);
    if (off > len || slen > len - off)
        return;
    uint8_t *st = a + off, *st2 = b + off;
    uint64_t pos = 16;
    while (pos + 5 <= slen && le(st + pos, 4) == 0x54434553u) {
        uint64_t name_at = pos + 5, name_len = st[pos + 4];
        uint64_t payload_at = name_at + name_len + 12;
        if (payload_at > slen)
            return;
        uint64_t payload = le(st + payload_at - 8, 8);
        if (payload > slen - payload_at || slen - payload_at - payload < 4)
            return;
        if (name_len >= 4 && memcmp(st + name_at, "cpu", 3) == 0 &&
            payload >= SOFT_HART_TIME_AT + 8) {
            memcpy(st2 + payload_at + SOFT_HART_TIME_AT, st + payload_at + SOFT_HART_TIME_AT, 8);
            /* the section's CRC */
            memcpy(st2 + payload_at + payload, st + payload_at + payload, 4);
        }
        pos = payload_at + payload + 4;
    }
    memcpy(b + 148, a + 148, 4); /* state CRC */
    memcpy(b + 156, a + 156, 4); /* header CRC */
}

/* On kvm, loading a vCPU whose MSRs enable KVM's paravirtual clock has the
 * kernel write the clock's page in guest memory (its version and
 * timestamps), so memory may change between two saves of a never-run VM:
 * the regions' CRCs and page counts, and the table's CRC, are not compared
 * there. Layout, configuration and component state still are. */
static void mask_kvm_clock_page(uint8_t *a, uint8_t *b, size_t len)
{
    if (memcmp(a + 48, "kvm", 4) != 0)
        return;
    uint64_t off = le(a + 112, 8), nr = le(a + 120, 4);
    if (nr > 8 || off > len || nr * 32 > len - off)
        return;
    for (uint64_t i = 0; i < nr; i++)
        memcpy(b + off + 32 * i + 24, a + off + 32 * i + 24, 8);
    memcpy(b + 152, a + 152, 4); /* memory table CRC */
    memcpy(b + 156, a + 156, 4); /* header CRC */
}

static void round_trip(vmm_host_t *host, vmm_vm_t *vm)
{
    char a[96], b[96];
    snprintf(a, sizeof(a), "%s/first.snap", save_dir);
    snprintf(b, sizeof(b), "%s/second.snap", save_dir);
    if (vmm_vm_save(vm, a, 0))
        fail("a restored VM does not save", vmm_last_error());
    vmm_vm_t *again = NULL;
    if (vmm_vm_restore(host, a, NULL, 0, &again))
        fail("a file saved from a restored VM does not restore", vmm_last_error());
    if (vmm_vm_save(again, b, 0))
        fail("the second restored VM does not save", vmm_last_error());
    vmm_vm_destroy(again);
    size_t la, lb;
    uint8_t *ha = saved_head(a, &la), *hb = saved_head(b, &lb);
    if (la == lb) {
        mask_soft_time(ha, hb, la);
        mask_kvm_clock_page(ha, hb, la);
    }
    if (la != lb || memcmp(ha, hb, la)) {
        size_t i = 0;
        while (i < la && i < lb && ha[i] == hb[i])
            i++;
        char at[320];
        snprintf(at, sizeof(at), "first difference at byte %zu of %zu/%zu (%s, %s kept)", i, la,
                 lb, a, b);
        fail("save -> restore -> save changed the state", at);
    }
    free(ha);
    free(hb);
    unlink(a);
    unlink(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    uint64_t file_size = assemble(data, size);
    if (!file_size)
        return 0;
    if (data[0] & F_REPAIR)
        repair(file_size);

    vmm_host_t *host = NULL;
    if (vmm_host_new(&host, NULL))
        fail("vmm_host_new", vmm_last_error());
    vmm_vm_t *vm = NULL;
    int rc = vmm_vm_restore(host, file_path, NULL, data[0] & F_MAP ? VMM_RESTORE_MAP : 0, &vm);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "restore: %d %s\n", rc, rc ? vmm_last_error() : "");
    if (rc) {
        check_refusal(rc, vm, host);
    } else {
        if (!vm || vmm_vm_state(vm) != VMM_STATE_DEFINED)
            fail("an accepted restore did not give a defined VM", NULL);
        if (data[0] & F_ROUND_TRIP)
            round_trip(host, vm);
        vmm_vm_destroy(vm);
    }
    if (vmm_host_free(host))
        fail("the host does not free after the restore", vmm_last_error());
    return 0;
}
