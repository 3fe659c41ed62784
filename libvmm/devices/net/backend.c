/* The receive thread and frame queue every network backend shares. */
#include "devices/net/backend.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"

#define ETH_HDR 14 /* shortest frame worth passing on: an Ethernet header */

int net_backend_init(struct net_backend *be, const struct net_backend_ops *ops)
{
    be->ops = ops;
    be->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (be->wake_fd < 0)
        return vmm_error_errno(errno, "network backend: eventfd");
    be->rxbuf = malloc(NET_HDR_LEN + NET_FRAME_MAX + 4);
    if (!be->rxbuf) {
        close(be->wake_fd);
        be->wake_fd = -1;
        return vmm_error(VMM_ENOMEM, "network backend receive buffer");
    }
    pthread_mutex_init(&be->lock, NULL);
    pthread_cond_init(&be->space, NULL);
    return 0;
}

void net_backend_wake(struct net_backend *be)
{
    uint64_t one = 1;
    ssize_t n = write(be->wake_fd, &one, sizeof(one));
    (void)n; /* a full counter already wakes the thread */
}

static void *rx_main(void *arg)
{
    struct net_backend *be = arg;
    for (;;) {
        pthread_mutex_lock(&be->lock);
        while (!be->stop && be->queued >= NET_RXQ_FRAMES)
            pthread_cond_wait(&be->space, &be->lock);
        int stop = be->stop;
        pthread_mutex_unlock(&be->lock);
        if (stop)
            break;
        struct pollfd p[2] = {{.fd = -1}, {.fd = be->wake_fd, .events = POLLIN}};
        int timeout = be->ops->prepare(be, &p[0]);
        int n = poll(p, 2, timeout);
        if (n < 0) {
            if (errno != EINTR) {
                log_warn("%s: poll: %s", be->desc, strerror(errno));
                usleep(100000);
            }
            continue;
        }
        if (p[1].revents) {
            uint64_t v;
            ssize_t r = read(be->wake_fd, &v, sizeof(v));
            (void)r;
            continue; /* re-check stop, then poll again */
        }
        if (n == 0 || (p[0].fd >= 0 && p[0].revents))
            be->ops->service(be, n == 0 ? 0 : p[0].revents);
    }
    return NULL;
}

int net_backend_start(struct net_backend *be, void (*ready)(void *opaque), void *opaque)
{
    be->ready = ready;
    be->opaque = opaque;
    /* No host program signals on this thread (like vCPU threads and workers). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&be->thread, NULL, rx_main, be);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return vmm_error_errno(rc, "%s: starting the receive thread", be->desc);
    pthread_setname_np(be->thread, "net-rx");
    be->started = 1;
    return 0;
}

void net_backend_deliver(struct net_backend *be, const void *data, size_t len)
{
    size_t hdr = be->vnet_hdr ? NET_HDR_LEN : 0;
    if (len < hdr + ETH_HDR || len > hdr + NET_FRAME_MAX)
        return; /* not an Ethernet frame we could hand on */
    struct net_frame *f = malloc(sizeof(*f) + len);
    if (!f)
        return; /* dropped, as a link under memory pressure would */
    f->next = NULL;
    f->len = len;
    memcpy(f->data, data, len);
    pthread_mutex_lock(&be->lock);
    if (be->tail)
        be->tail->next = f;
    else
        be->head = f;
    be->tail = f;
    be->queued++;
    pthread_mutex_unlock(&be->lock);
    if (be->ready)
        be->ready(be->opaque);
}

struct net_frame *net_backend_peek(struct net_backend *be)
{
    pthread_mutex_lock(&be->lock);
    struct net_frame *f = be->head;
    pthread_mutex_unlock(&be->lock);
    return f;
}

void net_backend_pop(struct net_backend *be)
{
    pthread_mutex_lock(&be->lock);
    struct net_frame *f = be->head;
    if (f) {
        be->head = f->next;
        if (!be->head)
            be->tail = NULL;
        if (be->queued-- == NET_RXQ_FRAMES)
            pthread_cond_signal(&be->space);
    }
    pthread_mutex_unlock(&be->lock);
    free(f);
}

void net_backend_stop(struct net_backend *be)
{
    if (!be || !be->started)
        return;
    pthread_mutex_lock(&be->lock);
    be->stop = 1;
    pthread_cond_signal(&be->space);
    pthread_mutex_unlock(&be->lock);
    net_backend_wake(be);
    pthread_join(be->thread, NULL);
    be->started = 0;
}

void net_backend_destroy(struct net_backend *be)
{
    if (!be)
        return;
    net_backend_stop(be);
    while (be->head)
        net_backend_pop(be);
    if (be->wake_fd >= 0)
        close(be->wake_fd);
    free(be->rxbuf);
    pthread_mutex_destroy(&be->lock);
    pthread_cond_destroy(&be->space);
    be->ops->destroy(be);
}
