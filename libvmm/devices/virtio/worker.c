#include "devices/virtio/worker.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

static void *worker_main(void *arg)
{
    struct virtio_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && (w->paused || !w->pending))
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->stop)
            break;
        uint32_t pending = w->pending;
        w->pending = 0;
        w->busy = 1;
        pthread_mutex_unlock(&w->lock);
        for (unsigned q = 0; q < 32; q++)
            if (pending & (1u << q))
                w->process(w->opaque, q);
        pthread_mutex_lock(&w->lock);
        w->busy = 0;
        pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int virtio_worker_start(struct virtio_worker *w, const char *name,
                        void (*process)(void *opaque, unsigned q), void *opaque)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->idle, NULL);
    w->process = process;
    w->opaque = opaque;
    snprintf(w->name, sizeof(w->name), "%s", name);
    /* Like vCPU threads, workers take none of the host program's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return vmm_error_errno(rc, "starting the %s worker thread", name);
    pthread_setname_np(w->thread, w->name);
    w->started = 1;
    return 0;
}

void virtio_worker_kick(struct virtio_worker *w, unsigned q)
{
    pthread_mutex_lock(&w->lock);
    w->pending |= 1u << (q & 31);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void virtio_worker_quiesce(struct virtio_worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->paused = 1;
    while (w->busy)
        pthread_cond_wait(&w->idle, &w->lock);
    w->pending = 0;
    pthread_mutex_unlock(&w->lock);
}

void virtio_worker_resume(struct virtio_worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->paused = 0;
    /* Kicks that arrived while paused were dropped: look at every queue. */
    w->pending = ~0u;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void virtio_worker_stop(struct virtio_worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->idle);
    w->started = 0;
}
