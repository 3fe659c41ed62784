/* vmm_vm_pause_async() and vmm_vm_stop_async(): the lifecycle changes that
 * wait for vCPU threads, without blocking the loop thread.
 *
 * A stop ends every vCPU thread; each one signals the loop through
 * vm->wakeup as it exits, and vm.c finishes the run there. vm_async_poll()
 * runs right after, on every wakeup, and completes the stops once the VM is
 * final.
 *
 * Parking vCPUs do not signal the loop (they only broadcast vm->cond), so a
 * pause starts a small waiter thread that sleeps on vm->cond until every vCPU
 * is parked or gone and then wakes the loop through our own uv_async_t,
 * `done`. `done` is also what keeps the loop alive (referenced) while an
 * operation is pending, as a pending libuv request does.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/vm.h"
#include "util/error.h"

enum { OP_PAUSE, OP_STOP, OP_PAUSE_AT };

struct vm_async_op {
    struct vm_async_op *next;
    int kind;
    unsigned run; /* vm->restarts when the operation began */
    uint64_t at;  /* OP_PAUSE_AT: vCPU 0's instruction count to pause at */
    vmm_vm_done_cb cb;
    void *opaque;
};

struct vm_async {
    uv_async_t done; /* first: the close callback frees the struct through it */
    struct vmm_vm *vm;
    struct vm_async_op *ops; /* oldest first */
    unsigned nr_ops;

    /* The pause waiter; waiter_quit and the counts it reads are under vm->lock. */
    pthread_t waiter;
    int waiter_running;
    int waiter_quit;
    unsigned waiter_target;
};

static void on_done(uv_async_t *handle)
{
    struct vm_async *a = handle->data;
    vm_async_poll(a->vm);
}

static void on_done_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static int async_get(struct vmm_vm *vm, struct vm_async **out)
{
    if (!vm->embed.async) {
        struct vm_async *a = calloc(1, sizeof(*a));
        if (!a)
            return vmm_error(VMM_ENOMEM, "allocating the async state of VM '%s'", vm->cfg->name);
        int rc = uv_async_init(vm->host->loop, &a->done, on_done);
        if (rc) {
            free(a);
            return vmm_error(VMM_EIO, "uv_async_init: %s", uv_strerror(rc));
        }
        a->done.data = a;
        a->vm = vm;
        uv_unref((uv_handle_t *)&a->done);
        vm->embed.async = a;
    }
    *out = vm->embed.async;
    return 0;
}

static int op_add(struct vmm_vm *vm, struct vm_async *a, int kind, vmm_vm_done_cb cb,
                  void *opaque)
{
    struct vm_async_op *op = calloc(1, sizeof(*op));
    if (!op)
        return vmm_error(VMM_ENOMEM, "allocating an async operation for VM '%s'", vm->cfg->name);
    op->kind = kind;
    op->run = vm->restarts;
    op->cb = cb;
    op->opaque = opaque;
    struct vm_async_op **tail = &a->ops;
    while (*tail)
        tail = &(*tail)->next;
    *tail = op;
    if (a->nr_ops++ == 0)
        uv_ref((uv_handle_t *)&a->done);
    vm->host->nr_pending++;
    return 0;
}

static void op_unlink(struct vmm_vm *vm, struct vm_async *a, struct vm_async_op *op)
{
    for (struct vm_async_op **p = &a->ops; *p; p = &(*p)->next)
        if (*p == op) {
            *p = op->next;
            break;
        }
    if (--a->nr_ops == 0)
        uv_unref((uv_handle_t *)&a->done);
    vm->host->nr_pending--;
}

static struct vm_async_op *op_find(struct vm_async *a, int kind)
{
    for (struct vm_async_op *op = a->ops; op; op = op->next)
        if (op->kind == kind)
            return op;
    return NULL;
}

/* --- the pause waiter --- */

static void *pause_waiter_main(void *p)
{
    struct vm_async *a = p;
    struct vmm_vm *vm = a->vm;
    pthread_mutex_lock(&vm->lock);
    while (!a->waiter_quit && vm->parked + vm->exited < a->waiter_target)
        pthread_cond_wait(&vm->cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);
    uv_async_send(&a->done);
    return NULL;
}

static void waiter_stop(struct vmm_vm *vm, struct vm_async *a)
{
    if (!a->waiter_running)
        return;
    pthread_mutex_lock(&vm->lock);
    a->waiter_quit = 1;
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    pthread_join(a->waiter, NULL);
    a->waiter_running = 0;
}

/* --- starting --- */

/* A pause operation and the waiter that wakes the loop when every vCPU
 * has parked (OP_PAUSE, OP_PAUSE_AT). */
static int pause_op_begin(struct vmm_vm *vm, struct vm_async *a, int kind, vmm_vm_done_cb cb,
                          void *opaque)
{
    a->waiter_quit = 0;
    a->waiter_target = vm->nr_threads;
    int rc = pthread_create(&a->waiter, NULL, pause_waiter_main, a);
    if (rc)
        return vmm_error_errno(rc, "starting the pause waiter of VM '%s'", vm->cfg->name);
    a->waiter_running = 1;
    if ((rc = op_add(vm, a, kind, cb, opaque)))
        waiter_stop(vm, a);
    return rc;
}

/* Undoes pause_op_begin when the pause cannot go on after all. */
static void pause_op_abort(struct vmm_vm *vm, struct vm_async *a, int kind)
{
    struct vm_async_op *op = op_find(a, kind);
    op_unlink(vm, a, op);
    free(op);
    waiter_stop(vm, a);
}

int vmm_vm_pause_async(vmm_vm_t *vm, vmm_vm_done_cb cb, void *opaque)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_pause_async: vm is NULL");
    if (atomic_load(&vm->state) != VMM_STATE_RUNNING)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running", vm->cfg->name);
    struct vm_async *a;
    int rc = async_get(vm, &a);
    if (rc)
        return rc;
    if (op_find(a, OP_PAUSE))
        return vmm_error(VMM_EBUSY, "a pause of VM '%s' is already in progress", vm->cfg->name);
    int req = atomic_load(&vm->m.request);
    if (req != MACHINE_RUN && req != MACHINE_THROTTLE)
        return vmm_error(VMM_ESTATE, "VM '%s' is shutting down", vm->cfg->name);

    /* The waiter first: once the request says PAUSE there is no going back. */
    if ((rc = pause_op_begin(vm, a, OP_PAUSE, cb, opaque)))
        return rc;
    pthread_mutex_lock(&vm->lock);
    int paused = machine_request_pause(&vm->m);
    pthread_cond_broadcast(&vm->cond); /* vCPUs held by a throttle see PAUSE */
    pthread_mutex_unlock(&vm->lock);
    if (!paused) {
        /* The guest ended the run a moment ago. */
        pause_op_abort(vm, a, OP_PAUSE);
        return vmm_error(VMM_ESTATE, "VM '%s' is shutting down", vm->cfg->name);
    }
    vcpu_threads_kick(vm);
    return 0;
}

int vmm_vm_pause_at(vmm_vm_t *vm, uint64_t instructions, vmm_vm_done_cb cb, void *opaque)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_pause_at: vm is NULL");
    if (atomic_load(&vm->state) != VMM_STATE_RUNNING)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running", vm->cfg->name);
    const struct engine_ops *eng = vm->platform->engine;
    if (!eng->vcpu_pause_at)
        return vmm_error(VMM_ENOTSUP, "the %s engine does not count instructions: a pause at "
                         "instruction %llu needs the soft engine", eng->name,
                         (unsigned long long)instructions);
    vmm_vcpu_stats_t st = { .size = sizeof(st) };
    machine_vcpu_stats_read(&vm->m, 0, &st);
    if (instructions <= st.instructions)
        return vmm_error(VMM_EINVAL, "pause at instruction %llu: vCPU 0 has retired %llu already",
                         (unsigned long long)instructions, (unsigned long long)st.instructions);
    struct vm_async *a;
    int rc = async_get(vm, &a);
    if (rc)
        return rc;
    if (op_find(a, OP_PAUSE) || op_find(a, OP_PAUSE_AT))
        return vmm_error(VMM_EBUSY, "a pause of VM '%s' is already in progress", vm->cfg->name);
    if ((rc = pause_op_begin(vm, a, OP_PAUSE_AT, cb, opaque)))
        return rc;
    op_find(a, OP_PAUSE_AT)->at = instructions;
    if ((rc = eng->vcpu_pause_at(&vm->m, 0, instructions))) {
        pause_op_abort(vm, a, OP_PAUSE_AT);
        return rc;
    }
    return 0;
}

int vmm_vm_stop_async(vmm_vm_t *vm, vmm_vm_done_cb cb, void *opaque)
{
    if (!vm)
        return vmm_error(VMM_EINVAL, "vmm_vm_stop_async: vm is NULL");
    int state = atomic_load(&vm->state);
    if (state != VMM_STATE_RUNNING && state != VMM_STATE_PAUSED)
        return vmm_error(VMM_ESTATE, "VM '%s' is not running or paused", vm->cfg->name);
    struct vm_async *a;
    int rc = async_get(vm, &a);
    if (!rc)
        rc = op_add(vm, a, OP_STOP, cb, opaque);
    if (rc)
        return rc;
    /* Wakes parked vCPUs and kicks running ones; each signals vm->wakeup as
     * its thread ends. If another outcome was recorded first, the run is
     * ending anyway and that one stands. */
    machine_set_outcome(&vm->m, VMM_OUTCOME_STOPPED, 0, "stopped by the host");
    return 0;
}

/* --- completing --- */

static int is_final(int state)
{
    return state == VMM_STATE_SHUTOFF || state == VMM_STATE_CRASHED;
}

/* 1 when `op` is done; *status gets its result. */
static int op_ready(struct vmm_vm *vm, struct vm_async_op *op, int *status)
{
    int state = atomic_load(&vm->state);
    if (op->kind == OP_STOP) {
        if (is_final(state)) {
            *status = 0;
            return 1;
        }
        if (vm->restarts != op->run) {
            /* The guest asked for a restart as we stopped it and the config
             * said restart: stop the new run too. */
            op->run = vm->restarts;
            machine_set_outcome(&vm->m, VMM_OUTCOME_STOPPED, 0, "stopped by the host");
        }
        return 0;
    }
    if (op->kind == OP_PAUSE_AT && !is_final(state) && vm->restarts == op->run &&
        atomic_load(&vm->m.request) != MACHINE_PAUSE)
        return 0; /* not there yet */
    if (is_final(state) || vm->restarts != op->run ||
        atomic_load(&vm->m.request) != MACHINE_PAUSE) {
        *status = VMM_ESTATE;
        return 1;
    }
    pthread_mutex_lock(&vm->lock);
    int all = vm->parked + vm->exited >= vm->nr_threads;
    pthread_mutex_unlock(&vm->lock);
    if (!all)
        return 0;
    *status = 0;
    return 1;
}

void vm_async_poll(struct vmm_vm *vm)
{
    if (vm->embed.destroying)
        return;
    vm_embed_note_crash(vm); /* e.g. a restart that failed just now */
    struct vm_async *a = vm->embed.async;
    for (;;) {
        if (!a || vm->embed.destroying)
            return;
        struct vm_async_op *op;
        int status = 0;
        for (op = a->ops; op; op = op->next)
            if (op_ready(vm, op, &status))
                break;
        if (!op)
            return;
        if (op->kind == OP_PAUSE_AT) {
            vm->platform->engine->vcpu_pause_at(&vm->m, 0, 0);
            vmm_vcpu_stats_t st = { .size = sizeof(st) };
            machine_vcpu_stats_read(&vm->m, 0, &st);
            if (status == 0 && st.instructions < op->at) {
                /* Paused by vmm_vm_pause() first: that pause stands. */
                waiter_stop(vm, a);
                status = VMM_ECANCELED;
                vm_embed_set_error(vm, status, "VM '%s' was paused at instruction %llu by "
                                   "another request, before %llu", vm->cfg->name,
                                   (unsigned long long)st.instructions,
                                   (unsigned long long)op->at);
            }
        }
        if (op->kind == OP_PAUSE || (op->kind == OP_PAUSE_AT && status != VMM_ECANCELED)) {
            waiter_stop(vm, a);
            if (status == 0) {
                /* The event first, as after vmm_vm_pause(). The op stays
                 * listed meanwhile, so a callback that destroys the VM
                 * cancels it. */
                vm_emit_state(vm, VMM_STATE_PAUSED);
                if (vm->embed.destroying)
                    return;
            } else {
                vm_embed_set_error(vm, status, "VM '%s' stopped before the pause completed",
                                   vm->cfg->name);
            }
        }
        op_unlink(vm, a, op);
        if (op->cb)
            op->cb(vm, status, op->opaque);
        free(op);
        a = vm->embed.async;
    }
}

int vm_async_before_destroy(struct vmm_vm *vm)
{
    if (vm->embed.destroying)
        return 1;
    vm->embed.destroying = 1;
    struct vm_async *a = vm->embed.async;
    if (!a)
        return 0;
    waiter_stop(vm, a);
    while (a->ops) {
        struct vm_async_op *op = a->ops;
        op_unlink(vm, a, op);
        if (op->cb)
            op->cb(vm, VMM_ECANCELED, op->opaque);
        free(op);
    }
    vm->embed.async = NULL;
    uv_close((uv_handle_t *)&a->done, on_done_closed);
    return 0;
}
