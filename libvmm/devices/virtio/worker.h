/* A device's worker thread: queue notifications arrive on vCPU threads and
 * must not wait for host I/O, so the transport's queue_notify only records
 * which queue was kicked and wakes the worker; the worker pops chains, does
 * the I/O and pushes the results. One worker per device keeps a device's
 * requests in order without locks around its backend.
 *
 * quiesce() waits until the worker is idle with nothing pending (device
 * reset and state save use it); stop() ends the thread.
 */
#ifndef LIBVMM_DEVICES_VIRTIO_WORKER_H
#define LIBVMM_DEVICES_VIRTIO_WORKER_H

#include <pthread.h>
#include <stdint.h>

struct virtio_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* work arrived / stop */
    pthread_cond_t idle;   /* the worker went idle */
    uint32_t pending;      /* bit q: queue q was kicked */
    int busy, paused, stop, started;
    /* Processes queue `q`; called on the worker thread without the lock. */
    void (*process)(void *opaque, unsigned q);
    void *opaque;
    char name[16];
};

int virtio_worker_start(struct virtio_worker *w, const char *name,
                        void (*process)(void *opaque, unsigned q), void *opaque);
/* Marks queue q pending and wakes the worker. Any thread, never blocks for
 * long. */
void virtio_worker_kick(struct virtio_worker *w, unsigned q);
/* Waits until the worker is idle, drops pending kicks and holds it idle
 * until virtio_worker_resume(), which then has it look at every queue (so
 * process() must ignore queue numbers the device does not have). */
void virtio_worker_quiesce(struct virtio_worker *w);
void virtio_worker_resume(struct virtio_worker *w);
void virtio_worker_stop(struct virtio_worker *w);

#endif
