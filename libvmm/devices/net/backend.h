/* A network backend: where a virtual NIC's frames go and come from. The
 * virtio-net device hands each guest frame to send(); frames from the host
 * side are read by the backend's own receive thread (poll() on the backend's
 * descriptor) into a short queue, and the device takes them from there on its
 * worker when the guest has posted buffers. The queue is bounded: when it is
 * full the receive thread stops reading, so the host side sees back-pressure
 * (a tap's or a socket's kernel queue fills) instead of frames being read and
 * thrown away.
 *
 * Backends: tap (devices/net/tap.c: an existing tap device or one created
 * for the VM) and sockets compatible with QEMU's -netdev dgram (one frame per
 * UDP datagram) and -netdev stream (TCP or unix stream, each frame preceded
 * by its length as a 4-byte big-endian number), devices/net/socket.c.
 *
 * Frames crossing the interface are Ethernet frames of at most NET_FRAME_MAX
 * bytes. A backend with `vnet_hdr` set carries a 12-byte virtio_net_hdr
 * (virtio 1.x layout, little endian) in front of every frame, both ways;
 * without it the frames are bare.
 *
 * Threads: send() is called on the device's worker only; set_offload() under
 * the device's lock; net_backend_peek()/net_backend_pop() on the worker; the
 * `ready` callback from the receive thread.
 */
#ifndef LIBVMM_DEVICES_NET_BACKEND_H
#define LIBVMM_DEVICES_NET_BACKEND_H

#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define NET_FRAME_MAX 65550 /* Ethernet frame bytes, either way (64 KiB GSO + header) */
#define NET_HDR_LEN 12      /* struct virtio_net_hdr with num_buffers */
#define NET_RXQ_FRAMES 64   /* frames read ahead of the guest */

/* Offloads the guest can take in received frames (tap: TUNSETOFFLOAD). */
#define NET_OFFLOAD_CSUM 1u /* partial checksums (VIRTIO_NET_F_GUEST_CSUM) */

struct net_frame {
    struct net_frame *next;
    size_t len;        /* bytes in data: the header (vnet_hdr) and the frame */
    uint8_t data[];
};

struct net_backend;

struct net_backend_ops {
    const char *name; /* "tap", "udp", "stream-server", "stream-client" */
    /* Sends one frame (with its header when be->vnet_hdr). Returns 0 when the
     * frame left or was dropped the way a busy link drops it (full queue, no
     * peer connected), VMM_EIO for a host error worth a message. Worker
     * thread. */
    int (*send)(struct net_backend *be, const struct iovec *iov, int iovcnt);
    /* Receive thread: fills *p with the descriptor to wait on (fd -1 for
     * none) and returns a timeout in ms (-1 = none), after which service()
     * is called with revents 0 (a client's reconnect attempt). */
    int (*prepare)(struct net_backend *be, struct pollfd *p);
    /* Receive thread: reads what `revents` says is there, handing every
     * complete frame to net_backend_deliver(). Returns after at most one
     * frame, so that the queue bound holds. */
    void (*service)(struct net_backend *be, short revents);
    /* Which NET_OFFLOAD_* the guest accepts; NULL when the backend has no
     * offloads. 0 or a VMM_E* code. */
    int (*set_offload)(struct net_backend *be, unsigned offloads);
    /* Frees the backend's own state (the receive thread is stopped). */
    void (*destroy)(struct net_backend *be);
};

struct net_backend {
    const struct net_backend_ops *ops;
    int vnet_hdr;          /* frames carry a virtio_net_hdr both ways */
    char desc[96];         /* for messages: "tap 'tap0'", "udp 127.0.0.1:5555" */

    /* The receive side (backend.c). */
    pthread_t thread;
    int started, stop;
    int wake_fd;           /* eventfd: wakes the receive thread's poll() */
    pthread_mutex_t lock;
    pthread_cond_t space;  /* the queue has room again / stop */
    struct net_frame *head, *tail;
    unsigned queued;
    void (*ready)(void *opaque);
    void *opaque;
    uint8_t *rxbuf;        /* NET_HDR_LEN + NET_FRAME_MAX + 4 bytes for service() */
};

/* Sets up the common part of a backend (no thread yet). 0 or VMM_E*. */
int net_backend_init(struct net_backend *be, const struct net_backend_ops *ops);

/* Starts the receive thread; `ready` is called (on that thread) each time a
 * frame is queued. */
int net_backend_start(struct net_backend *be, void (*ready)(void *opaque), void *opaque);

/* Receive thread: queues a copy of `len` bytes (header included when
 * vnet_hdr). Frames that are too long or too short are dropped here. */
void net_backend_deliver(struct net_backend *be, const void *data, size_t len);

/* The oldest queued frame, or NULL (the consumer's view; stays queued). */
struct net_frame *net_backend_peek(struct net_backend *be);
/* Drops the oldest queued frame (after peek), making room for another. */
void net_backend_pop(struct net_backend *be);

/* Wakes the receive thread so it looks at its descriptors again. */
void net_backend_wake(struct net_backend *be);

/* Stops the receive thread (no more `ready` calls after it returns); send()
 * still works. NULL or a stopped backend is fine. */
void net_backend_stop(struct net_backend *be);

/* Stops the receive thread, frees the queue and the backend. NULL is fine. */
void net_backend_destroy(struct net_backend *be);

/* Backends. Each returns 0 with *out set, or a VMM_E* code with a message. */

/* A tap device `name`. managed: create it (it must not exist yet; it is
 * brought up and disappears when the backend is destroyed; an empty or
 * NULL name lets the kernel pick one, written to name_out when non-NULL,
 * 16 bytes); otherwise attach to an existing one. */
int net_tap_open(const char *name, int managed, char name_out[16], struct net_backend **out);

/* QEMU -netdev dgram: UDP bound to local_addr:local_port, sending to and
 * receiving from remote_addr:remote_port only. Numeric IPv4/IPv6 addresses. */
int net_udp_open(const char *local_addr, unsigned local_port, const char *remote_addr,
                 unsigned remote_port, struct net_backend **out);

/* QEMU -netdev stream: server listens on addr:port (addr NULL = any) and
 * takes one peer at a time; client connects to addr:port and reconnects
 * every second while the peer is away. An addr starting with '/' is a unix
 * socket path (port 0). */
int net_stream_open(int server, const char *addr, unsigned port, struct net_backend **out);

/* A backend the host program wrote (devices/net/host.c); ops are copied. */
struct vmm_net_backend_ops;
int net_host_open(const struct vmm_net_backend_ops *ops, void *opaque, struct net_backend **out);
/* Queues a frame from the host program for the guest: VMM_EBUSY when the
 * queue is full, VMM_EINVAL for a bad length or another kind of backend. */
int net_backend_offer(struct net_backend *be, const void *frame, size_t len);

#endif
