/* Asynchronous saves (vmm_vm_save_start): the snapshot writer's slow step
 * (guest memory, fsync) runs on a thread of its own while the loop thread
 * goes on serving the program, the control socket and other VMs. The VM
 * stays paused meanwhile (core refuses to resume, start or reset it: the
 * memory being written must not change); progress events come from a loop
 * timer reading the writer's counter. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
};

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
    int rc = s->rc;
    if (rc == 0) {
        rc = snapshot_writer_commit(s->w);
        if (rc)
            snprintf(s->error, sizeof(s->error), "%s", vmm_last_error());
    }
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

int vmm_vm_save_start(vmm_vm_t *vm, const char *path, int fd, unsigned flags, vmm_vm_done_cb cb,
                      void *opaque)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_save_start: vm is required");
    if ((path == NULL) == (fd < 0))
        return vmm_error(VMM_EINVAL, "vmm_vm_save_start: give a path or an fd (exactly one)");
    if (flags & ~VMM_SAVE_STOP)
        return vmm_error(VMM_EINVAL, "vmm_vm_save_start: unknown flags 0x%x",
                         flags & ~VMM_SAVE_STOP);
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
    struct vm_save *s = save_get(vm);
    if (!s)
        return vmm_error(VMM_ENOMEM, "save state");
    int was_running = state == VMM_STATE_RUNNING;
    int rc = was_running ? vmm_vm_pause(vm) : 0;
    if (rc)
        return rc;
    if ((rc = snapshot_writer_new(vm, path, fd, &s->w))) {
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
