/* Socket backends that speak QEMU's wire formats, so a libvmm VM and a QEMU
 * VM (or two of either) can share a virtual Ethernet without a host bridge:
 *
 *  - udp (QEMU -netdev dgram, libvirt <interface type='udp'>): every
 *    datagram is one Ethernet frame, nothing else; datagrams from any
 *    address but the configured remote one are ignored.
 *  - stream (QEMU -netdev stream, libvirt type='server' / 'client'): a TCP or
 *    unix stream in which each frame is preceded by its length, 4 bytes, big
 *    endian. The server takes one peer at a time and waits for the next when
 *    it leaves; the client reconnects every second while the server is away.
 *
 * No virtio header travels on these sockets (be->vnet_hdr = 0): the guest
 * is offered no offloads, and its frames go out complete.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/net/backend.h"
#include "util/error.h"
#include "util/log.h"

#define RECONNECT_MS 1000
#define SEND_STALL_MS 2000 /* a stream peer that reads nothing for this long is dropped */
#define MAX_IOV 72

struct net_sock {
    struct net_backend be;
    int fd;                     /* udp socket, or the listening socket */
    struct sockaddr_storage remote; /* udp: the peer; client: the server */
    socklen_t remote_len;
    int server, client;         /* stream roles */

    /* stream connection: written by the receive thread under conn_lock,
     * used by the sender under it too */
    pthread_mutex_t conn_lock;
    int conn;
    int connecting;             /* client: non-blocking connect in progress */
    size_t got;                 /* bytes of the current length + frame in rxbuf */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix server: unlinked at the end */
    int warned;
};

/* Fills a sockaddr from a numeric address and port ('/' paths: unix). */
static int sock_addr(const char *what, const char *addr, unsigned port, int passive,
                     struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (addr && addr[0] == '/') {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        if (strlen(addr) >= sizeof(un->sun_path))
            return vmm_error(VMM_EINVAL, "%s: unix socket path '%.128s' longer than %zu bytes",
                             what, addr, sizeof(un->sun_path) - 1);
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, addr, strlen(addr) + 1);
        *len = sizeof(*un);
        return 0;
    }
    if (port == 0 || port > 65535)
        return vmm_error(VMM_EINVAL, "%s: port %u out of range 1..65535", what, port);
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
                             .ai_family = AF_UNSPEC};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(addr && *addr ? addr : NULL, service, &hints, &ai);
    if (rc || !ai)
        return vmm_error(VMM_EINVAL, "%s: address '%.64s' is not a numeric IPv4/IPv6 address",
                         what, addr ? addr : "");
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void sock_destroy(struct net_backend *be)
{
    struct net_sock *s = (struct net_sock *)be;
    if (s->conn >= 0)
        close(s->conn);
    if (s->fd >= 0)
        close(s->fd);
    if (s->path[0])
        unlink(s->path);
    pthread_mutex_destroy(&s->conn_lock);
    free(s);
}

static struct net_sock *sock_new(void)
{
    struct net_sock *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fd = s->conn = -1;
    pthread_mutex_init(&s->conn_lock, NULL);
    return s;
}

/* --- udp ----------------------------------------------------------------- */

static int same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
    }
    return 0;
}

static int udp_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    struct net_sock *s = (struct net_sock *)be;
    struct msghdr mh = {.msg_name = &s->remote, .msg_namelen = s->remote_len,
                        .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    while (sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        if (errno == EINTR)
            continue;
        /* A full buffer, no route, a frame above the path's limit: lost. */
        if (!s->warned && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED) {
            s->warned = 1;
            log_warn("%s: send: %s", be->desc, strerror(errno));
        }
        break;
    }
    return 0;
}

static int udp_prepare(struct net_backend *be, struct pollfd *p)
{
    struct net_sock *s = (struct net_sock *)be;
    p->fd = s->fd;
    p->events = POLLIN;
    return -1;
}

static void udp_service(struct net_backend *be, short revents)
{
    struct net_sock *s = (struct net_sock *)be;
    struct sockaddr_storage from;
    struct iovec iov = {be->rxbuf, NET_FRAME_MAX};
    struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                        .msg_iovlen = 1};
    ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT);
    if (n < 0 || (mh.msg_flags & MSG_TRUNC) || !same_peer(&from, &s->remote))
        return; /* nothing, an oversized datagram, or a stranger's */
    net_backend_deliver(be, be->rxbuf, (size_t)n);
}

static const struct net_backend_ops udp_ops = {
    .name = "udp",
    .send = udp_send,
    .prepare = udp_prepare,
    .service = udp_service,
    .destroy = sock_destroy,
};

int net_udp_open(const char *local_addr, unsigned local_port, const char *remote_addr,
                 unsigned remote_port, struct net_backend **out)
{
    struct sockaddr_storage local;
    socklen_t local_len;
    struct net_sock *s = sock_new();
    if (!s)
        return vmm_error(VMM_ENOMEM, "udp backend");
    int rc = sock_addr("udp local", local_addr, local_port, 1, &local, &local_len);
    if (!rc)
        rc = sock_addr("udp remote", remote_addr, remote_port, 0, &s->remote, &s->remote_len);
    if (!rc && (local.ss_family == AF_UNIX || s->remote.ss_family == AF_UNIX))
        rc = vmm_error(VMM_EINVAL, "udp: unix socket paths are not supported");
    if (!rc && local.ss_family != s->remote.ss_family)
        rc = vmm_error(VMM_EINVAL, "udp: local %s and remote %s are of different families",
                       local_addr, remote_addr);
    if (rc) {
        sock_destroy(&s->be);
        return rc;
    }
    s->fd = socket(local.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(s->fd, (struct sockaddr *)&local, local_len) < 0) {
        rc = vmm_error_errno(errno, "udp: binding %s:%u", local_addr ? local_addr : "*",
                             local_port);
        sock_destroy(&s->be);
        return rc;
    }
    if ((rc = net_backend_init(&s->be, &udp_ops))) {
        sock_destroy(&s->be);
        return rc;
    }
    snprintf(s->be.desc, sizeof(s->be.desc), "udp %.40s:%u->%.40s:%u",
             local_addr ? local_addr : "*", local_port, remote_addr, remote_port);
    *out = &s->be;
    return 0;
}

/* --- stream -------------------------------------------------------------- */

/* Receive thread: ends the current connection (a client tries again later). */
static void stream_drop(struct net_sock *s, const char *why)
{
    pthread_mutex_lock(&s->conn_lock);
    if (s->conn >= 0) {
        close(s->conn);
        s->conn = -1;
        if (why)
            log_info("%s: peer gone (%s)", s->be.desc, why);
    }
    s->connecting = 0;
    s->got = 0;
    pthread_mutex_unlock(&s->conn_lock);
}

static void conn_setup(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails harmlessly on unix */
}

/* Waits until fd is writable, at most ms. 1 writable, 0 not. */
static int wait_writable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n;
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
        ;
    return n > 0;
}

static int stream_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    struct net_sock *s = (struct net_sock *)be;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (iovcnt + 1 > MAX_IOV || len > NET_FRAME_MAX)
        return 0;
    uint8_t prefix[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len};
    struct iovec v[MAX_IOV];
    v[0].iov_base = prefix;
    v[0].iov_len = 4;
    memcpy(v + 1, iov, (size_t)iovcnt * sizeof(*iov));
    struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)iovcnt + 1};
    size_t total = len + 4, sent = 0;

    pthread_mutex_lock(&s->conn_lock);
    int fd = s->connecting ? -1 : s->conn;
    while (fd >= 0 && sent < total) {
        ssize_t n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (wait_writable(fd, SEND_STALL_MS))
                continue;
            if (sent == 0)
                break; /* the peer is slow: this frame is lost, the stream intact */
            /* Half a frame is out: the stream cannot be resynchronised. */
            log_warn("%s: peer stopped reading in the middle of a frame; disconnecting",
                     be->desc);
            shutdown(fd, SHUT_RDWR);
            break;
        }
        if (n < 0) {
            shutdown(fd, SHUT_RDWR); /* the receive thread sees the end and cleans up */
            break;
        }
        sent += (size_t)n;
        /* Skip what went out. */
        size_t skip = (size_t)n;
        while (mh.msg_iovlen && skip >= mh.msg_iov[0].iov_len) {
            skip -= mh.msg_iov[0].iov_len;
            mh.msg_iov++;
            mh.msg_iovlen--;
        }
        if (mh.msg_iovlen) {
            mh.msg_iov[0].iov_base = (uint8_t *)mh.msg_iov[0].iov_base + skip;
            mh.msg_iov[0].iov_len -= skip;
        }
    }
    pthread_mutex_unlock(&s->conn_lock);
    return 0;
}

static int stream_prepare(struct net_backend *be, struct pollfd *p)
{
    struct net_sock *s = (struct net_sock *)be;
    if (s->conn >= 0) {
        p->fd = s->conn;
        p->events = s->connecting ? POLLOUT : POLLIN;
        return s->connecting ? RECONNECT_MS * 5 : -1;
    }
    if (s->server) {
        p->fd = s->fd;
        p->events = POLLIN;
        return -1;
    }
    p->fd = -1;
    return RECONNECT_MS; /* client: try again when this runs out */
}

static void client_connect(struct net_sock *s)
{
    int fd = socket(s->remote.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    int rc = connect(fd, (struct sockaddr *)&s->remote, s->remote_len);
    if (rc < 0 && errno != EINPROGRESS) {
        close(fd);
        return;
    }
    conn_setup(fd);
    pthread_mutex_lock(&s->conn_lock);
    s->conn = fd;
    s->connecting = rc < 0;
    s->got = 0;
    pthread_mutex_unlock(&s->conn_lock);
    if (rc == 0)
        log_info("%s: connected", s->be.desc);
}

static void stream_read(struct net_sock *s)
{
    uint8_t *b = s->be.rxbuf;
    size_t need = s->got < 4 ? 4 : 4 + (((size_t)b[0] << 24) | ((size_t)b[1] << 16) |
                                        ((size_t)b[2] << 8) | b[3]);
    ssize_t n = recv(s->conn, b + s->got, need - s->got, MSG_DONTWAIT);
    if (n == 0) {
        stream_drop(s, "end of stream");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            stream_drop(s, strerror(errno));
        return;
    }
    s->got += (size_t)n;
    if (s->got == 4) {
        size_t len = ((size_t)b[0] << 24) | ((size_t)b[1] << 16) | ((size_t)b[2] << 8) | b[3];
        if (len > NET_FRAME_MAX) {
            log_warn("%s: peer sent a %zu-byte frame (limit %d); disconnecting", s->be.desc,
                     len, NET_FRAME_MAX);
            stream_drop(s, NULL);
            return;
        }
        if (len == 0)
            s->got = 0;
        return;
    }
    if (s->got == need) {
        s->got = 0;
        net_backend_deliver(&s->be, b + 4, need - 4);
    }
}

static void stream_service(struct net_backend *be, short revents)
{
    struct net_sock *s = (struct net_sock *)be;
    if (s->conn < 0) {
        if (s->server) {
            int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0)
                return;
            conn_setup(fd);
            pthread_mutex_lock(&s->conn_lock);
            s->conn = fd;
            s->got = 0;
            pthread_mutex_unlock(&s->conn_lock);
            log_info("%s: peer connected", be->desc);
        } else {
            client_connect(s);
        }
        return;
    }
    if (s->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (!revents || getsockopt(s->conn, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            stream_drop(s, NULL); /* not there yet: retry after RECONNECT_MS */
            return;
        }
        pthread_mutex_lock(&s->conn_lock);
        s->connecting = 0;
        pthread_mutex_unlock(&s->conn_lock);
        log_info("%s: connected", be->desc);
        return;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR))
        stream_read(s);
}

static const struct net_backend_ops stream_ops = {
    .name = "stream",
    .send = stream_send,
    .prepare = stream_prepare,
    .service = stream_service,
    .destroy = sock_destroy,
};

int net_stream_open(int server, const char *addr, unsigned port, struct net_backend **out)
{
    struct net_sock *s = sock_new();
    if (!s)
        return vmm_error(VMM_ENOMEM, "stream backend");
    const char *what = server ? "stream server" : "stream client";
    if (!server && (!addr || !*addr)) {
        sock_destroy(&s->be);
        return vmm_error(VMM_EINVAL, "stream client: the server's address is required");
    }
    int rc = sock_addr(what, addr, port, server, &s->remote, &s->remote_len);
    if (rc) {
        sock_destroy(&s->be);
        return rc;
    }
    s->server = server;
    s->client = !server;
    if (server) {
        if (s->remote.ss_family == AF_UNIX) {
            struct stat st;
            if (stat(addr, &st) == 0 && S_ISSOCK(st.st_mode))
                unlink(addr); /* a stale socket of an earlier run */
        }
        s->fd = socket(s->remote.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        if (s->fd < 0 ||
            (s->remote.ss_family != AF_UNIX &&
             setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
            bind(s->fd, (struct sockaddr *)&s->remote, s->remote_len) < 0 || listen(s->fd, 1) < 0) {
            if (s->remote.ss_family == AF_UNIX)
                rc = vmm_error_errno(errno, "stream server: listening on %.100s", addr);
            else
                rc = vmm_error_errno(errno, "stream server: listening on %.64s:%u",
                                     addr ? addr : "*", port);
            sock_destroy(&s->be);
            return rc;
        }
        if (s->remote.ss_family == AF_UNIX)
            snprintf(s->path, sizeof(s->path), "%s", addr);
    }
    if ((rc = net_backend_init(&s->be, &stream_ops))) {
        sock_destroy(&s->be);
        return rc;
    }
    if (s->remote.ss_family == AF_UNIX)
        snprintf(s->be.desc, sizeof(s->be.desc), "%s %.70s", what, addr);
    else
        snprintf(s->be.desc, sizeof(s->be.desc), "%s %.64s:%u", what, addr ? addr : "*", port);
    if (!server)
        client_connect(s); /* the first attempt at once */
    *out = &s->be;
    return 0;
}
