/* A device's worker thread: queue notifications arrive on vCPU threads and
 * must not wait for host I/O, so the transport's queue_notify only wakes
 * the worker; the worker pops chains, does the I/O and pushes the results.
 * One worker per device keeps a device's requests in order without locks
 * around its backend.
 *
 * The wake-up is an eventfd: a kick is one write to it, and on the kvm
 * engine the same eventfd is registered with KVM as an ioeventfd on the
 * device's QueueNotify register, so a guest's notification wakes the worker
 * inside the kernel without the vCPU leaving for user space. A wake-up
 * means "look at every queue" (an ioeventfd cannot say which queue).
 *
 * quiesce() waits until the worker is idle and holds it there (device reset
 * and state save use it); resume() lets it go and has it look at every
 * queue; stop() ends the thread.
 */
#ifndef LIBVMM_DEVICES_VIRTIO_WORKER_H
#define LIBVMM_DEVICES_VIRTIO_WORKER_H

#include <pthread.h>
#include <stdint.h>

struct virtio_worker {
    pthread_t thread;
    int efd;               /* eventfd: kicks and the guest's ioeventfd */
    pthread_mutex_t lock;
    pthread_cond_t idle;   /* the worker went idle */
    int busy, paused, stop, started;
    unsigned nr_queues;
    /* Processes queue `q`; called on the worker thread without the lock. */
    void (*process)(void *opaque, unsigned q);
    void *opaque;
    char name[16];
};

int virtio_worker_start(struct virtio_worker *w, const char *name, unsigned nr_queues,
                        void (*process)(void *opaque, unsigned q), void *opaque);
/* Wakes the worker. Any thread, never blocks. */
void virtio_worker_kick(struct virtio_worker *w);

/* Runs fn(opaque) on the calling thread in the worker's place when the
 * worker is idle (not processing, paused or stopping), so work that cannot
 * block may skip the thread hand-off; returns 1 if it ran, 0 if the worker
 * was busy (then the caller kicks it instead). While fn runs the worker
 * waits. */
int virtio_worker_try_run(struct virtio_worker *w, void (*fn)(void *opaque), void *opaque);
void virtio_worker_quiesce(struct virtio_worker *w);
void virtio_worker_resume(struct virtio_worker *w);
void virtio_worker_stop(struct virtio_worker *w);

#endif
