/* Saving a VM: vmm_vm_save (on the calling thread) and vmm_vm_save_start
 * (the snapshot writer's slow step, guest memory and fsync, on a thread of
 * its own while the loop thread goes on serving the program, the control
 * socket and other VMs). The VM stays paused meanwhile (core refuses to
 * resume, start or reset it: the memory being written must not change);
 * progress events come from a loop timer reading the writer's counter.
 *
 * Diff snapshots: a save with VMM_SAVE_TRACK leaves the machine's dirty
 * log on from the moment it was taken; a later VMM_SAVE_DIFF takes the
 * log (every page the guest, a device or the host wrote since) and writes
 * only those pages, naming the previous file as its parent, and tracks on.
 * A live migration, a failed save or VMM_SAVE_UNTRACK ends the chain. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/vm.h"
#include "snapshot/snapshot.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sized.h"
#include "vmm/snapshot.h"

#define PROGRESS_MS 100

struct vm_save {
    struct vmm_vm *vm;
    uv_async_t async;  /* thread -> loop: finished */
    uv_timer_t timer;  /* progress events while it runs */
    int handles;       /* handles still open (freed when 0) */
    pthread_t thread;
    int running;       /* a save is in progress (loop thread's view) */
    struct snapshot_writer *w;
    _Atomic uint64_t done;
    uint64_t total;
    _Atomic int cancel;
    _Atomic int finished;
    int rc;
    char error[512];
    unsigned flags;
    int was_running;
    uint64_t started_ms;
    vmm_vm_done_cb cb;
    void *opaque;
    vmm_migrate_stats_t last; /* the last save's outcome, for vmm_vm_save_stats */

    /* Diff chain: the dirty log runs since the snapshot `parent_path`
     * (identity parent_id) was taken. */
    int tracking;
    char *parent_path;
    uint32_t parent_id;
    char *pending_path; /* the file being written (its path once committed) */
};

#define SAVE_FLAGS (VMM_SAVE_STOP | VMM_SAVE_TRACK | VMM_SAVE_DIFF)

/* An absolute path for a file about to be created (its directory exists). */
static char *realpath_or_copy(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return strdup(path);
    size_t len = strlen(cwd) + strlen(path) + 2;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s/%s", cwd, path);
    return out;
}

static void tracking_end(struct vm_save *s)
{
    if (s->tracking)
        machine_dirty_stop(&s->vm->m);
    s->tracking = 0;
    free(s->parent_path);
    s->parent_path = NULL;
}

/* The path a file written to `fd` can be found at again (a diff names it). */
static char *path_of_fd(int fd)
{
    char link[64], buf[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, sizeof(buf) - 1);
    if (n <= 0 || buf[0] != '/')
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

/* Loop thread, VM paused or defined: the writer, made a diff when asked,
 * with the dirty log started (TRACK) or taken (DIFF) at this instant. */
static int save_prepare(struct vm_save *s, const char *path, int fd, unsigned flags,
                        struct snapshot_writer **out)
{
    struct vmm_vm *vm = s->vm;
    struct machine *m = &vm->m;
    *out = NULL;
    if ((flags & VMM_SAVE_DIFF) && !s->tracking)
        return vmm_error(VMM_ESTATE, "VM '%s' has no snapshot to diff against: save it with "
                         "VMM_SAVE_TRACK first (a live migration or a failed save ends a "
                         "chain)", vm->cfg->name);
    if ((flags & VMM_SAVE_DIFF) && !s->parent_path)
        return vmm_error(VMM_ESTATE, "VM '%s': the last snapshot was written to an fd whose "
                         "path is unknown: a diff cannot name its parent", vm->cfg->name);
    struct snapshot_writer *w;
    int rc = snapshot_writer_new(vm, path, fd, &w);
    if (rc)
        return rc;
    free(s->pending_path);
    s->pending_path = NULL;
    if (flags & (VMM_SAVE_TRACK | VMM_SAVE_DIFF)) {
        s->pending_path = path ? realpath_or_copy(path) : path_of_fd(fd);
    }
    if (flags & VMM_SAVE_DIFF) {
        uint64_t *only[GUEST_MEM_MAX_REGIONS] = { 0 };
        for (int i = 0; rc == 0 && i < m->mem.nr_regions; i++) {
            size_t words = guest_region_bitmap_words(&m->mem.regions[i]);
            only[i] = calloc(words ? words : 1, sizeof(uint64_t));
            rc = only[i] ? machine_dirty_fetch(m, i, only[i])
                         : vmm_error(VMM_ENOMEM, "diff bitmap of %zu words", words);
        }
        if (rc == 0) {
            /* A parent in the diff's own directory is named relative to it,
             * so a chain can move as a directory. */
            const char *name = s->parent_path;
            const char *slash = strrchr(s->parent_path, '/');
            if (slash && s->pending_path && strrchr(s->pending_path, '/') &&
                strrchr(s->pending_path, '/') - s->pending_path == slash - s->parent_path &&
                strncmp(s->pending_path, s->parent_path, (size_t)(slash - s->parent_path)) == 0)
                name = slash + 1;
            snapshot_writer_set_diff(w, only, name, s->parent_id);
        }
        for (int i = 0; i < GUEST_MEM_MAX_REGIONS; i++)
            free(only[i]);
        if (rc) {
            tracking_end(s); /* the log was (partly) taken: the chain is broken */
            snapshot_writer_free(w);
            return rc;
        }
    } else if (flags & VMM_SAVE_TRACK) {
        /* A full snapshot that starts a chain: the log from now on. */
        if (s->tracking)
            machine_dirty_stop(m);
        s->tracking = 0;
        rc = machine_dirty_start(m);
        for (int i = 0; rc == 0 && i < m->mem.nr_regions; i++) {
            size_t words = guest_region_bitmap_words(&m->mem.regions[i]);
            uint64_t *drop = calloc(words ? words : 1, sizeof(uint64_t));
            rc = drop ? machine_dirty_fetch(m, i, drop) : VMM_ENOMEM;
            free(drop);
        }
        if (rc) {
            machine_dirty_stop(m);
            snapshot_writer_free(w);
            return rc;
        }
        s->tracking = 1;
        free(s->parent_path);
        s->parent_path = NULL;
    } else {
        tracking_end(s); /* an untracked full snapshot ends any chain */
    }
    *out = w;
    return 0;
}

/* Loop thread: after the write. Commits, and records the new parent of a
 * chain (or ends the chain when anything failed). */
static int save_complete(struct vm_save *s, struct snapshot_writer *w, int rc, unsigned flags)
{
    if (rc == 0)
        rc = snapshot_writer_commit(w);
    if (flags & (VMM_SAVE_TRACK | VMM_SAVE_DIFF)) {
        if (rc == 0) {
            free(s->parent_path);
            s->parent_path = s->pending_path;
            s->pending_path = NULL;
            s->parent_id = snapshot_writer_id(w);
        } else {
            tracking_end(s);
        }
    }
    return rc;
}

static struct vm_save *save_of(struct vmm_vm *vm)
{
    return vm->ext[VM_EXT_SAVE].opaque;
}

static void emit_progress(struct vm_save *s, int status)
{
    struct vmm_vm *vm = s->vm;
    if (!vm->cb)
        return;
    vmm_event_t ev = { .size = sizeof(ev), .type = VMM_EVENT_PROGRESS, .vm = vm };
    ev.u.progress.kind = VMM_PROGRESS_SAVE;
    ev.u.progress.status = status;
    ev.u.progress.bytes_done = atomic_load(&s->done);
    ev.u.progress.bytes_total = s->total;
    vm->cb(&ev, vm->cb_opaque);
}

static void *save_main(void *arg)
{
    struct vm_save *s = arg;
    int rc = snapshot_writer_write(s->w, &s->done, &s->cancel);
    s->rc = rc;
    if (rc)
        snprintf(s->error, sizeof(s->error), "%s", vmm_last_error());
    atomic_store(&s->finished, 1);
    uv_async_send(&s->async);
    return NULL;
}

static void on_timer(uv_timer_t *t)
{
    struct vm_save *s = t->data;
    if (s->running && !atomic_load(&s->finished))
        emit_progress(s, VMM_MIGRATE_ACTIVE);
}

/* Loop thread: the thread finished (or the VM goes away: `destroying`). */
static void save_finish(struct vm_save *s, int destroying)
{
    struct vmm_vm *vm = s->vm;
    pthread_join(s->thread, NULL);
    s->running = 0;
    uv_timer_stop(&s->timer);
    uv_unref((uv_handle_t *)&s->async);
    int rc = destroying ? VMM_ECANCELED : save_complete(s, s->w, s->rc, s->flags);
    if (rc && !s->rc && !destroying)
        snprintf(s->error, sizeof(s->error), "%s", vmm_last_error());
    snapshot_writer_free(s->w); /* an uncommitted temporary file goes */
    s->w = NULL;
    vm->hold_paused--;
    int status = rc == 0 ? VMM_MIGRATE_COMPLETED
                 : rc == VMM_ECANCELED ? VMM_MIGRATE_CANCELLED : VMM_MIGRATE_FAILED;
    memset(&s->last, 0, sizeof(s->last));
    s->last.size = sizeof(s->last);
    s->last.status = (vmm_migrate_status_t)status;
    s->last.ram_transferred = atomic_load(&s->done);
    s->last.ram_remaining = s->total - s->last.ram_transferred;
    s->last.total_ms = s->last.downtime_ms = clock_monotonic_ms() - s->started_ms;
    if (destroying)
        return;
    if (s->flags & VMM_SAVE_STOP) {
        if (vmm_vm_state(vm) == VMM_STATE_PAUSED)
            vmm_vm_stop(vm);
    } else if (s->was_running && vmm_vm_state(vm) == VMM_STATE_PAUSED) {
        vmm_vm_resume(vm);
    }
    if (rc && rc != VMM_ECANCELED)
        log_warn("VM '%s': %s", vm->cfg->name, s->error);
    emit_progress(s, status);
    vmm_vm_done_cb cb = s->cb;
    s->cb = NULL;
    if (cb) {
        if (rc)
            vmm_error(rc, "%s", s->error);
        cb(vm, rc, s->opaque);
    }
}

static void on_async(uv_async_t *a)
{
    struct vm_save *s = a->data;
    if (s->running && atomic_load(&s->finished))
        save_finish(s, 0);
}

static void on_close(uv_handle_t *h)
{
    struct vm_save *s = h->data;
    if (--s->handles == 0)
        free(s);
}

/* The VM goes away: stop the write, wait for the thread, free. */
static void save_destroy(struct vmm_vm *vm, void *opaque)
{
    struct vm_save *s = opaque;
    if (s->running) {
        atomic_store(&s->cancel, 1);
        save_finish(s, 1);
    }
    tracking_end(s);
    free(s->pending_path);
    s->pending_path = NULL;
    vm->ext[VM_EXT_SAVE].opaque = NULL;
    uv_close((uv_handle_t *)&s->async, on_close);
    uv_close((uv_handle_t *)&s->timer, on_close);
}

static struct vm_save *save_get(struct vmm_vm *vm)
{
    struct vm_save *s = save_of(vm);
    if (s)
        return s;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->vm = vm;
    s->last.size = sizeof(s->last);
    uv_async_init(vm->host->loop, &s->async, on_async);
    uv_timer_init(vm->host->loop, &s->timer);
    s->async.data = s->timer.data = s;
    s->handles = 2;
    uv_unref((uv_handle_t *)&s->async);
    vm->ext[VM_EXT_SAVE].opaque = s;
    vm->ext[VM_EXT_SAVE].destroy = save_destroy;
    return s;
}

/* What both save calls check before anything: a VM with something to
 * save, not held by another save, not migrating; its save state. */
static int save_begin(struct vmm_vm *vm, struct vm_save **out)
{
    vmm_state_t state = vmm_vm_state(vm);
    if (state != VMM_STATE_DEFINED && state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is shut off or crashed: nothing to save",
                         vm->cfg->name);
    if (vm->hold_paused)
        return vmm_error(VMM_EBUSY, "VM '%s': %s", vm->cfg->name, vm->hold_reason);
    vmm_migrate_stats_t mst = { .size = sizeof(mst) };
    if (vmm_vm_migrate_stats(vm, &mst) == 0 && mst.status == VMM_MIGRATE_ACTIVE)
        return vmm_error(VMM_EBUSY, "VM '%s' is migrating: save it after the migration ends",
                         vm->cfg->name);
    *out = save_get(vm);
    return *out ? 0 : vmm_error(VMM_ENOMEM, "save state");
}

int vmm_vm_save_start(vmm_vm_t *vm, const char *path, int fd, unsigned flags, vmm_vm_done_cb cb,
                      void *opaque)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_save_start: vm is required");
    if ((path == NULL) == (fd < 0))
        return vmm_error(VMM_EINVAL, "vmm_vm_save_start: give a path or an fd (exactly one)");
    if (flags & ~SAVE_FLAGS)
        return vmm_error(VMM_EINVAL, "vmm_vm_save_start: unknown flags 0x%x",
                         flags & ~SAVE_FLAGS);
    struct vm_save *s;
    int rc = save_begin(vm, &s);
    if (rc)
        return rc;
    vmm_state_t state = vmm_vm_state(vm);
    int was_running = state == VMM_STATE_RUNNING;
    if (was_running && (rc = vmm_vm_pause(vm)))
        return rc;
    if ((rc = save_prepare(s, path, fd, flags, &s->w))) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", vmm_last_error());
        if (was_running)
            vmm_vm_resume(vm);
        return vmm_error(rc, "%s", msg);
    }
    s->total = snapshot_writer_total(s->w);
    atomic_store(&s->done, 0);
    atomic_store(&s->cancel, 0);
    atomic_store(&s->finished, 0);
    s->rc = 0;
    s->error[0] = '\0';
    s->flags = flags;
    s->was_running = was_running;
    s->cb = cb;
    s->opaque = opaque;
    s->started_ms = clock_monotonic_ms();
    memset(&s->last, 0, sizeof(s->last));
    s->last.size = sizeof(s->last);
    vm->hold_paused++;
    vm->hold_reason = "a snapshot of it is being written (vmm_vm_save_start)";
    uv_ref((uv_handle_t *)&s->async);
    rc = pthread_create(&s->thread, NULL, save_main, s);
    if (rc) {
        vm->hold_paused--;
        uv_unref((uv_handle_t *)&s->async);
        snapshot_writer_free(s->w);
        s->w = NULL;
        if (was_running)
            vmm_vm_resume(vm);
        return vmm_error_errno(rc, "starting the save thread of VM '%s'", vm->cfg->name);
    }
    s->running = 1;
    uv_timer_start(&s->timer, on_timer, PROGRESS_MS, PROGRESS_MS);
    emit_progress(s, VMM_MIGRATE_ACTIVE);
    return 0;
}

int vmm_vm_save_cancel(vmm_vm_t *vm)
{
    struct vm_save *s = vm ? save_of(vm) : NULL;
    if (!s || !s->running)
        return vmm_error(VMM_ESTATE, "no save of this VM is running");
    atomic_store(&s->cancel, 1);
    return 0;
}

int vmm_vm_save_stats(vmm_vm_t *vm, vmm_migrate_stats_t *out)
{
    if (!vm || !out)
        return vmm_error(VMM_EINVAL, "vmm_vm_save_stats: vm and out are required");
    struct vm_save *s = save_of(vm);
    vmm_migrate_stats_t st = { .size = sizeof(st) };
    if (s && s->running) {
        st.status = VMM_MIGRATE_ACTIVE;
        st.ram_transferred = atomic_load(&s->done);
        st.ram_remaining = s->total - st.ram_transferred;
        st.total_ms = clock_monotonic_ms() - s->started_ms;
    } else if (s) {
        st = s->last;
    }
    st.size = sizeof(st);
    return sized_copy_out(out, &st, sizeof(st), "vmm_migrate_stats_t");
}

int vmm_vm_save(vmm_vm_t *vm, const char *path, unsigned flags)
{
    if (!vm || !path)
        return vmm_error(VMM_EINVAL, "vmm_vm_save: vm and path are required");
    if (flags & ~SAVE_FLAGS)
        return vmm_error(VMM_EINVAL, "vmm_vm_save: unknown flags 0x%x", flags & ~SAVE_FLAGS);
    struct vm_save *s;
    int rc = save_begin(vm, &s);
    if (rc)
        return rc;
    vmm_state_t state = vmm_vm_state(vm);
    int was_running = state == VMM_STATE_RUNNING;
    if (was_running && (rc = vmm_vm_pause(vm)))
        return rc;
    struct snapshot_writer *w = NULL;
    rc = save_prepare(s, path, -1, flags, &w);
    if (rc == 0)
        rc = snapshot_writer_write(w, NULL, NULL);
    if (w)
        rc = save_complete(s, w, rc, flags);
    snapshot_writer_free(w);
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", vmm_last_error());
    int after = 0;
    if (flags & VMM_SAVE_STOP) {
        if (vmm_vm_state(vm) == VMM_STATE_PAUSED || vmm_vm_state(vm) == VMM_STATE_RUNNING)
            after = vmm_vm_stop(vm);
    } else if (was_running) {
        after = vmm_vm_resume(vm);
    }
    if (rc)
        return vmm_error(rc, "%s", msg);
    return after;
}

void save_tracking_interrupt(struct vmm_vm *vm)
{
    struct vm_save *s = save_of(vm);
    if (s && s->tracking) {
        log_info("VM '%s': a live migration ends the diff snapshot chain", vm->cfg->name);
        s->tracking = 0; /* the migration owns the log now and stops it */
        free(s->parent_path);
        s->parent_path = NULL;
    }
}
