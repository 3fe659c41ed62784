/* Snapshots through the public API, on a real engine and guest:
 *   test_snapshot ENGINE GUEST
 * The guest (tests/guest/core/echo-*.S) counts in RAM and echoes console
 * input in upper case. A paused VM is saved; a new host restores the file
 * and the guest goes on counting from the saved value and echoing. Then map
 * mode, clones, files that must be refused, each with its message, and
 * hostile state streams with valid checksums. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "guest_harness.h"

static const char *engine;
static const char *guest;
static uint64_t counter_gpa;
static unsigned counter_size;
static char dir[] = "/tmp/libvmm-snapshot-XXXXXX";

static vmm_config_t *make_config(uint64_t memory)
{
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    CU_ASSERT_EQUAL(vmm_config_set_engine(cfg, engine), 0);
    CU_ASSERT_EQUAL(vmm_config_set_kernel(cfg, guest), 0);
    CU_ASSERT_EQUAL(vmm_config_set_memory(cfg, memory), 0);
    return cfg;
}

static struct guest_run *boot(void)
{
    struct guest_run *r = calloc(1, sizeof(*r));
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
    vmm_config_t *cfg = make_config(64 << 20);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_create(r->host, cfg, &r->vm), 0);
    vmm_config_free(cfg);
    vmm_vm_set_event_cb(r->vm, harness_on_event, r);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(r->vm), 0);
    CU_ASSERT_TRUE_FATAL(harness_run_until(r, harness_console_has, "ready\n", 20000));
    return r;
}

static uint64_t counter(vmm_vm_t *vm)
{
    uint64_t v = 0;
    CU_ASSERT_EQUAL(vmm_vm_read_phys(vm, counter_gpa, &v, counter_size), 0);
    return v;
}

static void finish(struct guest_run *r)
{
    vmm_vm_destroy(r->vm);
    CU_ASSERT_EQUAL(vmm_host_free(r->host), 0);
    free(r);
}

struct counter_past {
    uint64_t value;
};

static int counter_passed(struct guest_run *r, const void *arg)
{
    return counter(r->vm) > ((const struct counter_past *)arg)->value + 1000;
}

static const char *path_of(const char *name)
{
    static char buf[4][256];
    static int n;
    char *b = buf[n++ % 4];
    snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
    return b;
}

/* Saves a paused, counting guest and returns the counter it was saved at. */
static uint64_t save_paused(const char *path)
{
    struct guest_run *r = boot();
    CU_ASSERT_EQUAL(vmm_vm_console_write(r->vm, "ab", 2), 0);
    CU_ASSERT_TRUE(harness_run_until(r, harness_console_has, "AB", 20000));
    CU_ASSERT_EQUAL(vmm_vm_pause(r->vm), 0);
    uint64_t saved = counter(r->vm);
    CU_ASSERT_EQUAL(vmm_vm_save(r->vm, path, VMM_SAVE_STOP), 0);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_SHUTOFF);
    finish(r);
    return saved;
}

/* Restores `path` in a new host and checks the guest continues. */
static void restore_and_continue(const char *path, unsigned flags, uint64_t saved)
{
    struct guest_run *r = calloc(1, sizeof(*r));
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
    vmm_config_t *expect = make_config(64 << 20);
    int rc = vmm_vm_restore(r->host, path, expect, flags, &r->vm);
    vmm_config_free(expect);
    if (rc)
        printf("restore: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    /* Before it runs, memory holds what was saved. */
    CU_ASSERT_EQUAL(counter(r->vm), saved);
    vmm_vm_set_event_cb(r->vm, harness_on_event, r);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(r->vm), 0);
    struct counter_past past = { saved };
    CU_ASSERT_TRUE(harness_run_until(r, counter_passed, &past, 20000));
    /* No reboot: the guest did not print "ready" again, and its UART and
     * loop pick up input where they were. */
    CU_ASSERT_EQUAL(vmm_vm_console_write(r->vm, "xy", 2), 0); /* no guest commands */
    CU_ASSERT_TRUE(harness_run_until(r, harness_console_has, "XY", 20000));
    CU_ASSERT_PTR_NULL(strstr(r->console, "ready"));
    vmm_vm_stop(r->vm);
    finish(r);
}

static void test_a_restored_guest_continues_from_the_saved_state(void)
{
    const char *path = path_of("continue.snap");
    uint64_t saved = save_paused(path);
    CU_ASSERT(saved > 0);
    restore_and_continue(path, 0, saved);
}

static void test_map_mode_restore_continues_too(void)
{
    const char *path = path_of("map.snap");
    uint64_t saved = save_paused(path);
    restore_and_continue(path, VMM_RESTORE_MAP, saved);
}

static void test_the_file_is_sparse(void)
{
    const char *path = path_of("sparse.snap");
    save_paused(path);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    /* 64 MiB of RAM, of which the guest touched a few pages. */
    CU_ASSERT((uint64_t)st.st_size >= 64u << 20);
    CU_ASSERT((uint64_t)st.st_blocks * 512 < (4u << 20));
    printf("(file %lld bytes, %lld on disk) ", (long long)st.st_size,
           (long long)st.st_blocks * 512);
}

static void test_saving_a_running_vm_leaves_it_running(void)
{
    struct guest_run *r = boot();
    uint64_t before = counter(r->vm);
    CU_ASSERT_EQUAL(vmm_vm_save(r->vm, path_of("running.snap"), 0), 0);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    struct counter_past past = { before };
    CU_ASSERT_TRUE(harness_run_until(r, counter_passed, &past, 20000));
    vmm_vm_stop(r->vm);
    finish(r);
}

/* --- asynchronous saves (vmm_vm_save_start) --- */

struct save_watch {
    struct guest_run *r;
    int progress_events, final_status, done_called, done_status;
    uint64_t last_done, last_total;
    int went_backwards;
};

static void save_watch_event(const vmm_event_t *ev, void *opaque)
{
    struct save_watch *w = opaque;
    harness_on_event(ev, w->r);
    if (ev->type != VMM_EVENT_PROGRESS || ev->u.progress.kind != VMM_PROGRESS_SAVE)
        return;
    w->progress_events++;
    if (ev->u.progress.bytes_done < w->last_done)
        w->went_backwards = 1;
    w->last_done = ev->u.progress.bytes_done;
    w->last_total = ev->u.progress.bytes_total;
    if (ev->u.progress.status != VMM_MIGRATE_ACTIVE)
        w->final_status = ev->u.progress.status;
}

static void save_watch_done(vmm_vm_t *vm, int status, void *opaque)
{
    struct save_watch *w = opaque;
    (void)vm;
    w->done_called = 1;
    w->done_status = status;
}

static int save_done(struct guest_run *r, const void *arg)
{
    (void)r;
    return ((const struct save_watch *)arg)->done_called;
}

static void test_an_async_save_keeps_the_loop_and_resumes(void)
{
    struct guest_run *r = boot();
    struct save_watch w = { .r = r };
    vmm_vm_set_event_cb(r->vm, save_watch_event, &w);
    const char *path = path_of("async.snap");
    CU_ASSERT_EQUAL_FATAL(vmm_vm_save_start(r->vm, path, -1, 0, save_watch_done, &w), 0);
    /* Paused and held while the thread writes. */
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_PAUSED);
    uint64_t saved = counter(r->vm);
    CU_ASSERT_EQUAL(vmm_vm_resume(r->vm), VMM_EBUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "snapshot of it is being written"));
    CU_ASSERT_EQUAL(vmm_vm_save_start(r->vm, path, -1, 0, NULL, NULL), VMM_EBUSY);
    CU_ASSERT_TRUE(harness_run_until(r, save_done, &w, 30000));
    CU_ASSERT_EQUAL(w.done_status, 0);
    CU_ASSERT(w.progress_events >= 2); /* the first and the last at least */
    CU_ASSERT_FALSE(w.went_backwards);
    CU_ASSERT_EQUAL(w.final_status, VMM_MIGRATE_COMPLETED);
    CU_ASSERT_EQUAL(w.last_total, 64u << 20);
    CU_ASSERT_EQUAL(w.last_done, w.last_total);
    if (w.last_done != w.last_total)
        printf("(progress %llu of %llu) ", (unsigned long long)w.last_done,
               (unsigned long long)w.last_total);
    vmm_migrate_stats_t st = { .size = sizeof(st) };
    CU_ASSERT_EQUAL(vmm_vm_save_stats(r->vm, &st), 0);
    CU_ASSERT_EQUAL(st.status, VMM_MIGRATE_COMPLETED);
    CU_ASSERT_EQUAL(st.ram_transferred, 64u << 20);
    /* Running again, and the file restores to where it was saved. */
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    struct counter_past past = { saved };
    CU_ASSERT_TRUE(harness_run_until(r, counter_passed, &past, 20000));
    vmm_vm_stop(r->vm);
    finish(r);
    restore_and_continue(path, 0, saved);
}

static void test_an_async_save_to_an_fd(void)
{
    const char *path = path_of("fd.snap");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    /* Old bytes beyond and inside the new file must not survive. */
    static char junk[1 << 20];
    memset(junk, 0x5a, sizeof(junk));
    for (int i = 0; i < 80; i++)
        CU_ASSERT_EQUAL(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    struct guest_run *r = boot();
    CU_ASSERT_EQUAL(vmm_vm_pause(r->vm), 0);
    uint64_t saved = counter(r->vm);
    struct save_watch w = { .r = r };
    vmm_vm_set_event_cb(r->vm, save_watch_event, &w);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_save_start(r->vm, NULL, fd, VMM_SAVE_STOP, save_watch_done, &w),
                          0);
    CU_ASSERT_TRUE(harness_run_until(r, save_done, &w, 30000));
    CU_ASSERT_EQUAL(w.done_status, 0);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_SHUTOFF);
    CU_ASSERT(fcntl(fd, F_GETFD) >= 0); /* not closed by the library */
    close(fd);
    finish(r);
    restore_and_continue(path, 0, saved);
    /* A pipe is no place for a snapshot. */
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    r = boot();
    CU_ASSERT_EQUAL(vmm_vm_save_start(r->vm, NULL, p[1], 0, NULL, NULL), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "is not a regular file"));
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    CU_ASSERT_EQUAL(vmm_vm_save_start(r->vm, path, p[1], 0, NULL, NULL), VMM_EINVAL);
    close(p[0]);
    close(p[1]);
    vmm_vm_stop(r->vm);
    finish(r);
}

static void test_a_cancelled_save_leaves_no_file(void)
{
    struct guest_run *r = boot();
    struct save_watch w = { .r = r };
    vmm_vm_set_event_cb(r->vm, save_watch_event, &w);
    const char *path = path_of("cancelled.snap");
    CU_ASSERT_EQUAL_FATAL(vmm_vm_save_start(r->vm, path, -1, 0, save_watch_done, &w), 0);
    CU_ASSERT_EQUAL(vmm_vm_save_cancel(r->vm), 0);
    CU_ASSERT_TRUE(harness_run_until(r, save_done, &w, 30000));
    /* It may have finished before the cancel was seen: either is fine, but
     * a cancelled save leaves nothing behind. */
    CU_ASSERT(w.done_status == VMM_ECANCELED || w.done_status == 0);
    struct stat st;
    if (w.done_status == VMM_ECANCELED) {
        CU_ASSERT_EQUAL(w.final_status, VMM_MIGRATE_CANCELLED);
        CU_ASSERT_NOT_EQUAL(stat(path, &st), 0);
    }
    /* No temporary file either. */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        CU_ASSERT_PTR_NULL(strstr(e->d_name, "cancelled.snap.tmp"));
    if (d)
        closedir(d);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    CU_ASSERT_EQUAL(vmm_vm_save_cancel(r->vm), VMM_ESTATE);
    vmm_vm_stop(r->vm);
    finish(r);
}

/* --- diff snapshots --- */

static uint64_t scratch_gpa(unsigned page)
{
    return (strcmp(engine, "kvm") == 0 ? 0x1000000ULL : 0x81000000ULL) + page * 4096ULL;
}

static void fill_page(vmm_vm_t *vm, unsigned page, int byte)
{
    static uint8_t buf[4096];
    memset(buf, byte, sizeof(buf));
    CU_ASSERT_EQUAL(vmm_vm_write_phys(vm, scratch_gpa(page), buf, sizeof(buf)), 0);
}

static int page_is(vmm_vm_t *vm, unsigned page, int byte)
{
    static uint8_t buf[4096];
    if (vmm_vm_read_phys(vm, scratch_gpa(page), buf, sizeof(buf)))
        return 0;
    for (size_t i = 0; i < sizeof(buf); i++)
        if (buf[i] != (uint8_t)byte)
            return 0;
    return 1;
}

static uint64_t on_disk(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

/* Restores `path` (a diff chain), checks pages 0..2 hold a, b, c, and the
 * counter `saved`; then the guest counts on. */
static void restore_diff(const char *path, unsigned flags, uint64_t saved, int a, int b, int c)
{
    struct guest_run *r = calloc(1, sizeof(*r));
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
    int rc = vmm_vm_restore(r->host, path, NULL, flags, &r->vm);
    if (rc)
        printf("restore %s: %s\n", path, vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(counter(r->vm), saved);
    CU_ASSERT_TRUE(page_is(r->vm, 0, a));
    CU_ASSERT_TRUE(page_is(r->vm, 1, b));
    CU_ASSERT_TRUE(page_is(r->vm, 2, c));
    vmm_vm_set_event_cb(r->vm, harness_on_event, r);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(r->vm), 0);
    struct counter_past past = { saved };
    CU_ASSERT_TRUE(harness_run_until(r, counter_passed, &past, 20000));
    vmm_vm_stop(r->vm);
    finish(r);
}

static void test_diff_snapshots_hold_only_what_changed(void)
{
    /* Copies: path_of() reuses its buffers. */
    char base[256], d1[256], d2[256], moved[256];
    snprintf(base, sizeof(base), "%s", path_of("base.snap"));
    snprintf(d1, sizeof(d1), "%s", path_of("d1.snap"));
    snprintf(d2, sizeof(d2), "%s", path_of("d2.snap"));
    snprintf(moved, sizeof(moved), "%s", path_of("d1.moved"));
    struct guest_run *r = boot();
    CU_ASSERT_EQUAL(vmm_vm_save(r->vm, base, VMM_SAVE_DIFF), VMM_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "no snapshot to diff against"));
    fill_page(r->vm, 0, 0xa1);
    /* 8 MiB of other data: in the base, not in the diffs. */
    for (unsigned p = 100; p < 100 + 2048; p++)
        fill_page(r->vm, p, 0x77);
    CU_ASSERT_EQUAL(vmm_vm_save(r->vm, base, VMM_SAVE_TRACK), 0);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);
    fill_page(r->vm, 1, 0xb2);
    struct counter_past past = { counter(r->vm) };
    CU_ASSERT_TRUE(harness_run_until(r, counter_passed, &past, 20000));
    CU_ASSERT_EQUAL(vmm_vm_pause(r->vm), 0);
    uint64_t at_d1 = counter(r->vm);
    CU_ASSERT_EQUAL(vmm_vm_save(r->vm, d1, VMM_SAVE_DIFF), 0);
    CU_ASSERT_EQUAL(vmm_vm_resume(r->vm), 0);
    fill_page(r->vm, 2, 0xc3);
    fill_page(r->vm, 0, 0x00); /* back to zero: the diff must carry that */
    CU_ASSERT_EQUAL(vmm_vm_pause(r->vm), 0);
    uint64_t at_d2 = counter(r->vm);
    CU_ASSERT_EQUAL(vmm_vm_save(r->vm, d2, VMM_SAVE_DIFF | VMM_SAVE_STOP), 0);
    finish(r);
    printf("(base %llu KiB, diffs %llu and %llu KiB on disk) ",
           (unsigned long long)(on_disk(base) >> 10), (unsigned long long)(on_disk(d1) >> 10),
           (unsigned long long)(on_disk(d2) >> 10));
    CU_ASSERT(on_disk(base) >= 8u << 20);
    CU_ASSERT(on_disk(d1) < 1u << 20);
    CU_ASSERT(on_disk(d2) < 1u << 20);
    restore_diff(d2, 0, at_d2, 0x00, 0xb2, 0xc3);
    restore_diff(d2, VMM_RESTORE_MAP, at_d2, 0x00, 0xb2, 0xc3);
    restore_diff(d1, 0, at_d1, 0xa1, 0xb2, 0x00);

    /* A chain with a missing or replaced link is refused, naming it. */
    vmm_host_t *h;
    vmm_vm_t *vm = NULL;
    int rc;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&h, NULL), 0);
    CU_ASSERT_EQUAL(rename(d1, moved), 0);
    CU_ASSERT_EQUAL(vmm_vm_restore(h, d2, NULL, 0, &vm), VMM_ENOENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "applies to 'd1.snap'"));
    CU_ASSERT_EQUAL(rename(moved, d1), 0);
    save_paused(base); /* another full snapshot under the base's name */
    rc = vmm_vm_restore(h, d2, NULL, 0, &vm);
    if (rc != VMM_EFORMAT)
        printf("replaced base: %d %s\n", rc, vmm_last_error());
    CU_ASSERT_EQUAL(rc, VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "the parent was replaced"));
    CU_ASSERT_PTR_NULL(vm);
    CU_ASSERT_EQUAL(vmm_host_free(h), 0);
}

static long private_dirty_kib(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Private_Dirty: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* 20 clones of one map-mode snapshot run side by side; the host's memory
 * grows only by what each writes, not by the 16 MiB each one's RAM holds. */
static void test_twenty_map_mode_clones_share_memory(void)
{
    const char *path = path_of("clones.snap");
    struct guest_run *r = boot();
    CU_ASSERT_EQUAL(vmm_vm_pause(r->vm), 0);
    static uint8_t pattern[16u << 20];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 31 + 7);
    uint64_t pattern_gpa = counter_gpa + (4u << 20);
    CU_ASSERT_EQUAL(vmm_vm_write_phys(r->vm, pattern_gpa, pattern, sizeof(pattern)), 0);
    uint64_t saved = counter(r->vm);
    CU_ASSERT_EQUAL(vmm_vm_save(r->vm, path, VMM_SAVE_STOP), 0);
    finish(r);

    vmm_host_t *host;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&host, NULL), 0);
    enum { CLONES = 20 };
    vmm_vm_t *vms[CLONES];
    long before = private_dirty_kib();
    for (int i = 0; i < CLONES; i++) {
        int rc = vmm_vm_restore(host, path, NULL, VMM_RESTORE_MAP, &vms[i]);
        if (rc)
            printf("clone %d: %s\n", i, vmm_last_error());
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL_FATAL(vmm_vm_start(vms[i]), 0);
    }
    /* Every clone counts on from the saved value. */
    for (int i = 0; i < CLONES; i++) {
        uint64_t deadline = uv_now(vmm_host_loop(host)) + 20000;
        while (counter(vms[i]) <= saved + 100 && uv_now(vmm_host_loop(host)) < deadline) {
            uv_run(vmm_host_loop(host), UV_RUN_NOWAIT);
            usleep(1000);
            uv_update_time(vmm_host_loop(host));
        }
        CU_ASSERT(counter(vms[i]) > saved + 100);
    }
    long after = private_dirty_kib();
    /* One clone reads its pattern through the mapping: the file's bytes. */
    uint8_t probe[64];
    CU_ASSERT_EQUAL(vmm_vm_read_phys(vms[7], pattern_gpa + 4096, probe, sizeof(probe)), 0);
    CU_ASSERT_EQUAL(memcmp(probe, pattern + 4096, sizeof(probe)), 0);
    long growth = after - before;
    printf("(%d clones: private dirty memory grew %ld KiB, %ld KiB a clone) ", CLONES, growth,
           growth / CLONES);
    CU_ASSERT(before >= 0 && after >= 0);
    /* Far below the 16 MiB of pattern each clone's RAM holds. */
    CU_ASSERT(growth < CLONES * 4096);
    for (int i = 0; i < CLONES; i++) {
        vmm_vm_stop(vms[i]);
        vmm_vm_destroy(vms[i]);
    }
    CU_ASSERT_EQUAL(vmm_host_free(host), 0);
}

/* --- files that must be refused --- */

static uint32_t crc32c_ref(const uint8_t *p, size_t len)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

static void patch(const char *path, uint64_t off, const void *bytes, size_t len)
{
    int fd = open(path, O_WRONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
    close(fd);
}

/* Rewrites header field at `off` and fixes the header checksum, so only
 * the field's meaning is wrong. */
static void patch_header(const char *path, uint64_t off, const void *bytes, size_t len)
{
    patch(path, off, bytes, len);
    uint8_t hdr[160];
    int fd = open(path, O_RDWR);
    CU_ASSERT_EQUAL(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    uint32_t crc = crc32c_ref(hdr, 156);
    CU_ASSERT_EQUAL(pwrite(fd, &crc, 4, 156), 4);
    close(fd);
}

static void expect_refused(const char *path, const char *message)
{
    vmm_host_t *host;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&host, NULL), 0);
    vmm_vm_t *vm = NULL;
    int rc = vmm_vm_restore(host, path, NULL, 0, &vm);
    CU_ASSERT(rc < 0);
    CU_ASSERT_PTR_NULL(vm);
    if (!strstr(vmm_last_error(), message))
        printf("\n  expected '%s' in: %s\n", message, vmm_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), message));
    /* Nothing was left behind: the host frees with no VM. */
    CU_ASSERT_EQUAL(vmm_host_memory_used(host), 0);
    CU_ASSERT_EQUAL(vmm_host_free(host), 0);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", from, to);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_bad_files_are_refused_with_what_is_wrong(void)
{
    const char *good = path_of("good.snap");
    save_paused(good);
    const char *bad = path_of("bad.snap");
    uint32_t v;
    uint8_t byte;

    expect_refused(path_of("missing.snap"), "No such file");

    copy_file(good, bad);
    patch(bad, 0, "NOTSNAPS", 8);
    expect_refused(bad, "not a libvmm snapshot");

    copy_file(good, bad);
    v = 2;
    patch_header(bad, 8, &v, 4);
    expect_refused(bad, "format version 2, this library reads 1");

    copy_file(good, bad);
    byte = 'X';
    patch(bad, 20, &byte, 1); /* inside the version string: header checksum */
    expect_refused(bad, "header checksum mismatch");

    copy_file(good, bad);
    patch_header(bad, 48, engine[0] == 's' ? "kvm\0" : "soft", 4);
    expect_refused(bad, "this library runs x86_64 on kvm and riscv64 on soft");

    copy_file(good, bad);
    CU_ASSERT_EQUAL(truncate(bad, 8192), 0);
    expect_refused(bad, "truncated");

    copy_file(good, bad);
    CU_ASSERT_EQUAL(truncate(bad, 100), 0);
    expect_refused(bad, "truncated");

    /* A flipped byte in the configuration, the state, the memory. */
    copy_file(good, bad);
    byte = '#';
    patch(bad, 4096 + 10, &byte, 1);
    expect_refused(bad, "configuration checksum mismatch");

    uint8_t hdr[160];
    int fd = open(good, O_RDONLY);
    CU_ASSERT_EQUAL(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    uint64_t state_off, regions_off, data_off;
    memcpy(&state_off, hdr + 96, 8);
    memcpy(&regions_off, hdr + 112, 8);
    CU_ASSERT_EQUAL(pread(fd, &data_off, 8, (off_t)regions_off + 16), 8);
    close(fd);
    copy_file(good, bad);
    byte = 0x5a;
    patch(bad, state_off + 40, &byte, 1);
    expect_refused(bad, "state checksum mismatch");

    copy_file(good, bad);
    /* The counter's page: written by the guest, so stored. */
    uint64_t ram_base = counter_gpa & ~((1ULL << 31) - 1);
    patch(bad, data_off + (counter_gpa - ram_base) + 100, &byte, 1);
    expect_refused(bad, "fails its checksum");

    /* The configuration the caller expects differs. */
    vmm_host_t *host;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&host, NULL), 0);
    vmm_config_t *other = make_config(128 << 20);
    vmm_vm_t *vm = NULL;
    CU_ASSERT_EQUAL(vmm_vm_restore(host, good, other, 0, &vm), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "memory size differs"));
    vmm_config_free(other);
    CU_ASSERT_EQUAL(vmm_host_free(host), 0);
}

/* --- a hostile state stream ---
 * The checksums keep accidents out; a hostile file has valid ones. Every
 * byte of every section (its framing and its payload) is changed in turn,
 * the section, state and header checksums are recomputed, and the file is
 * restored: each restore must either refuse with a message and leave the
 * host empty, or give a VM that starts, runs a few milliseconds (crashing
 * the guest is allowed, the VMM is not) and stops. The sanitizer build
 * watches every one for out-of-bounds access and leaks. */

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

struct span {
    size_t start, end; /* what a section's CRC covers: name length .. payload end */
};

/* The sections of a state stream (format in libvmm/machine/state.h). */
static unsigned find_sections(const uint8_t *st, size_t len, struct span *out, unsigned max)
{
    size_t pos = 16;
    unsigned n = 0;
    while (pos + 4 <= len && le32(st + pos) == 0x54434553u && n < max) {
        size_t start = pos + 4;
        size_t name_len = st[start];
        size_t hdr_end = start + 1 + name_len + 4 + 8;
        if (hdr_end > len)
            break;
        uint64_t payload = le64(st + hdr_end - 8);
        if (payload > len - hdr_end - 4)
            break;
        out[n++] = (struct span){ start, hdr_end + (size_t)payload };
        pos = hdr_end + (size_t)payload + 4;
    }
    return n;
}

static int never(struct guest_run *r, const void *arg)
{
    (void)r;
    (void)arg;
    return 0;
}

static void test_hostile_state_sections_are_refused_or_run_safely(void)
{
    const char *good = path_of("hostile-good.snap");
    save_paused(good);
    const char *bad = path_of("hostile.snap");
    copy_file(good, bad);
    uint8_t hdr[160];
    int fd = open(good, O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    uint64_t state_off = le64(hdr + 96), state_len = le64(hdr + 104);
    CU_ASSERT_FATAL(state_len > 16 && state_len < (1u << 20));
    uint8_t *orig = malloc(state_len), *st = malloc(state_len);
    CU_ASSERT_EQUAL(pread(fd, orig, state_len, (off_t)state_off), (ssize_t)state_len);
    close(fd);
    struct span sec[64];
    unsigned nsec = find_sections(orig, state_len, sec, 64);
    CU_ASSERT_FATAL(nsec >= 2);
    size_t bytes = 0;
    for (unsigned i = 0; i < nsec; i++)
        bytes += sec[i].end - sec[i].start;
    /* Each VM the kvm engine creates costs tens of ms on a nested host: a
     * stride keeps the run to a few hundred restores there. */
    size_t budget = strcmp(engine, "kvm") == 0 ? 300 : 4000;
    size_t stride = (bytes * 2 + budget - 1) / budget;
    if (stride == 0)
        stride = 1;
    unsigned refused = 0, ran = 0, tried = 0;
    size_t k = 0;
    for (unsigned i = 0; i < nsec; i++) {
        for (size_t at = sec[i].start; at < sec[i].end; at++) {
            for (int variant = 0; variant < 2; variant++, k++) {
                if (k % stride)
                    continue;
                memcpy(st, orig, state_len);
                st[at] = variant ? (uint8_t)(orig[at] ^ 0x80) : (orig[at] == 0xff ? 0 : 0xff);
                uint32_t crc = crc32c_ref(st + sec[i].start, sec[i].end - sec[i].start);
                memcpy(st + sec[i].end, &crc, 4);
                patch(bad, state_off, st, state_len);
                crc = crc32c_ref(st, state_len);
                patch_header(bad, 148, &crc, 4);
                tried++;
                struct guest_run *r = calloc(1, sizeof(*r));
                CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
                if (vmm_vm_restore(r->host, bad, NULL, VMM_RESTORE_MAP, &r->vm) < 0) {
                    refused++;
                    CU_ASSERT_PTR_NULL(r->vm);
                    CU_ASSERT(strlen(vmm_last_error()) > 0);
                    CU_ASSERT_EQUAL(vmm_host_memory_used(r->host), 0);
                    CU_ASSERT_EQUAL(vmm_host_free(r->host), 0);
                    free(r);
                    continue;
                }
                ran++;
                vmm_vm_set_event_cb(r->vm, harness_on_event, r);
                if (vmm_vm_start(r->vm) == 0)
                    harness_run_until(r, never, NULL, 5);
                vmm_vm_stop(r->vm);
                finish(r);
            }
        }
    }
    printf("\n  %u sections, %zu bytes, stride %zu: %u restores, %u refused, %u ran\n", nsec,
           bytes, stride, tried, refused, ran);
    CU_ASSERT(refused > 0);
    free(orig);
    free(st);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ENGINE GUEST\n", argv[0]);
        return 2;
    }
    engine = argv[1];
    guest = argv[2];
    if (strcmp(engine, "kvm") == 0) {
        int rc = harness_need_kvm();
        if (rc)
            return rc;
        counter_gpa = 0x300000;
        counter_size = 4;
    } else {
        counter_gpa = 0x80100000;
        counter_size = 8;
    }
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite(engine, NULL, NULL);
    CU_add_test(s, "a restored guest continues from the saved state",
                test_a_restored_guest_continues_from_the_saved_state);
    CU_add_test(s, "map mode restore continues too", test_map_mode_restore_continues_too);
    CU_add_test(s, "the file is sparse", test_the_file_is_sparse);
    CU_add_test(s, "saving a running VM leaves it running",
                test_saving_a_running_vm_leaves_it_running);
    CU_add_test(s, "twenty map-mode clones share memory", test_twenty_map_mode_clones_share_memory);
    CU_add_test(s, "an async save keeps the loop and resumes",
                test_an_async_save_keeps_the_loop_and_resumes);
    CU_add_test(s, "an async save to an fd", test_an_async_save_to_an_fd);
    CU_add_test(s, "a cancelled save leaves no file", test_a_cancelled_save_leaves_no_file);
    CU_add_test(s, "diff snapshots hold only what changed",
                test_diff_snapshots_hold_only_what_changed);
    CU_add_test(s, "bad files are refused with what is wrong",
                test_bad_files_are_refused_with_what_is_wrong);
    CU_add_test(s, "hostile state sections are refused or run safely",
                test_hostile_state_sections_are_refused_or_run_safely);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return failed ? 1 : 0;
}
