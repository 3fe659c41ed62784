#include "devices/virtio/worker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/error.h"

static void *worker_main(void *arg)
{
    struct virtio_worker *w = arg;
    for (;;) {
        struct pollfd p = { .fd = w->efd, .events = POLLIN };
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            break;
        uint64_t count;
        if (read(w->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
            break;
        pthread_mutex_lock(&w->lock);
        if (w->stop) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        if (w->paused) { /* resume() kicks again */
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        while (w->busy && !w->stop) /* an inline run (try_run) has the device */
            pthread_cond_wait(&w->idle, &w->lock);
        w->busy = 1;
        pthread_mutex_unlock(&w->lock);
        for (unsigned q = 0; q < w->nr_queues; q++)
            w->process(w->opaque, q);
        pthread_mutex_lock(&w->lock);
        w->busy = 0;
        pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

int virtio_worker_start(struct virtio_worker *w, const char *name, unsigned nr_queues,
                        void (*process)(void *opaque, unsigned q), void *opaque)
{
    memset(w, 0, sizeof(*w));
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->efd < 0)
        return vmm_error_errno(errno, "eventfd for the %s worker", name);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->idle, NULL);
    w->nr_queues = nr_queues;
    w->process = process;
    w->opaque = opaque;
    snprintf(w->name, sizeof(w->name), "%s", name);
    /* Like vCPU threads, workers take none of the host program's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        close(w->efd);
        return vmm_error_errno(rc, "starting the %s worker thread", name);
    }
    pthread_setname_np(w->thread, w->name);
    w->started = 1;
    return 0;
}

void virtio_worker_kick(struct virtio_worker *w)
{
    uint64_t one = 1;
    /* EAGAIN only when the counter is saturated: the worker wakes anyway. */
    ssize_t n = write(w->efd, &one, sizeof(one));
    (void)n;
}

int virtio_worker_try_run(struct virtio_worker *w, void (*fn)(void *opaque), void *opaque)
{
    pthread_mutex_lock(&w->lock);
    if (!w->started || w->busy || w->paused || w->stop) {
        pthread_mutex_unlock(&w->lock);
        return 0;
    }
    w->busy = 1;
    pthread_mutex_unlock(&w->lock);
    fn(opaque);
    pthread_mutex_lock(&w->lock);
    w->busy = 0;
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->lock);
    return 1;
}

void virtio_worker_quiesce(struct virtio_worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->paused = 1;
    while (w->busy)
        pthread_cond_wait(&w->idle, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void virtio_worker_resume(struct virtio_worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->paused = 0;
    pthread_mutex_unlock(&w->lock);
    /* Kicks that arrived while paused were dropped: look at every queue. */
    virtio_worker_kick(w);
}

void virtio_worker_stop(struct virtio_worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_mutex_unlock(&w->lock);
    virtio_worker_kick(w);
    pthread_join(w->thread, NULL);
    close(w->efd);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->idle);
    w->started = 0;
}
