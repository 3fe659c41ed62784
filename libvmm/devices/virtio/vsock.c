#include "devices/virtio/vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/mmio.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define VSOCK_QUEUE_SIZE 128
#define Q_RX 0
#define Q_TX 1
#define Q_EVENT 2

/* Feature bits (5.10.3): stream sockets only. */
#define VIRTIO_VSOCK_F_STREAM 0

/* The packet header (5.10.6), little-endian, 44 bytes. */
#define HDR_SIZE 44
#define H_SRC_CID 0
#define H_DST_CID 8
#define H_SRC_PORT 16
#define H_DST_PORT 20
#define H_LEN 24
#define H_TYPE 28
#define H_OP 30
#define H_FLAGS 32
#define H_BUF_ALLOC 36
#define H_FWD_CNT 40

#define TYPE_STREAM 1
#define OP_REQUEST 1
#define OP_RESPONSE 2
#define OP_RST 3
#define OP_SHUTDOWN 4
#define OP_RW 5
#define OP_CREDIT_UPDATE 6
#define OP_CREDIT_REQUEST 7
#define SHUT_RCV_F 1u
#define SHUT_SEND_F 2u
#define EVENT_TRANSPORT_RESET 0

/* Host-side buffer per connection for bytes on their way to the guest. */
#define HBUF_SIZE 65536
/* "CONNECT 4294967295\r\n" and some slack. */
#define CONNECT_LINE_MAX 32
#define HANDSHAKE_TIMEOUT_MS 5000 /* host: CONNECT line; guest: RESPONSE */
/* RSTs for packets that match no connection, waiting for receive buffers. */
#define RST_QUEUE_MAX 64
/* Ports the device gives the host side of host-initiated connections. */
#define LOCAL_PORT_FIRST (1u << 30)

enum conn_state {
    C_FREE = 0,
    C_HANDSHAKE,   /* host connected to PATH; waiting for "CONNECT <port>\n" */
    C_CONNECTING,  /* REQUEST queued/sent to the guest; waiting for RESPONSE */
    C_ESTABLISHED,
};

/* Control packets a connection has to send, in this order. */
#define P_REQUEST 1u
#define P_RESPONSE 2u
#define P_CREDIT 4u       /* CREDIT_UPDATE */
#define P_SHUT_SEND 8u    /* SHUTDOWN(SEND), once every byte went to the guest */
#define P_RST 16u         /* RST, then the connection is freed */

struct conn {
    enum conn_state state;
    int fd;
    uint32_t guest_port, host_port;
    uint64_t deadline; /* ms, for HANDSHAKE and CONNECTING */
    char line[CONNECT_LINE_MAX];
    size_t line_len;
    unsigned pend; /* P_* */

    /* guest -> host: bytes taken from the guest, not yet written */
    uint8_t *gbuf; /* ring of VSOCK_BUF_ALLOC */
    size_t g_head, g_len;
    uint32_t rx_cnt;       /* payload bytes taken from the guest */
    uint32_t fwd_cnt;      /* of those, written to the host socket */
    uint32_t fwd_told;     /* fwd_cnt the guest last heard of */
    unsigned guest_shut;   /* SHUT_*_F the guest sent */
    int host_wr_shut;      /* shutdown(SHUT_WR) done on the host socket */

    /* host -> guest */
    uint8_t *hbuf; /* ring of HBUF_SIZE */
    size_t h_head, h_len;
    uint32_t tx_cnt;       /* payload bytes sent to the guest */
    uint32_t peer_buf_alloc, peer_fwd_cnt;
    int host_eof;          /* the host socket gave EOF */
};

struct rst_pkt {
    uint32_t src_port, dst_port; /* as the RST carries them */
    uint64_t dst_cid;
};

enum { REQ_NONE = 0, REQ_RESET, REQ_PAUSE, REQ_STOP };

struct virtio_vsock {
    struct virtio_dev vd;
    struct machine *m;
    uint64_t guest_cid;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd, kick_fd;
    pthread_t thread;
    int thread_started;

    pthread_mutex_t lock; /* req and paused */
    pthread_cond_t cond;
    int req, paused;
    atomic_int active; /* DRIVER_OK and no reset since */

    /* the thread's own */
    struct conn conns[VSOCK_MAX_CONNS];
    uint32_t next_local_port;
    struct rst_pkt rsts[RST_QUEUE_MAX];
    unsigned rst_head, rst_len;
    int transport_reset_pending;
    struct virtq_chain chain;
    uint8_t config[8];
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void kick(struct virtio_vsock *v)
{
    uint64_t one = 1;
    ssize_t n = write(v->kick_fd, &one, sizeof(one));
    (void)n; /* a full counter still wakes the thread */
}

/* --- connections --- */

static struct conn *conn_find(struct virtio_vsock *v, uint32_t guest_port, uint32_t host_port)
{
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct conn *c = &v->conns[i];
        if (c->state >= C_CONNECTING && c->guest_port == guest_port && c->host_port == host_port)
            return c;
    }
    return NULL;
}

static struct conn *conn_new(struct virtio_vsock *v, int fd)
{
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct conn *c = &v->conns[i];
        if (c->state != C_FREE)
            continue;
        uint8_t *g = malloc(VSOCK_BUF_ALLOC), *h = malloc(HBUF_SIZE);
        if (!g || !h) {
            free(g);
            free(h);
            return NULL;
        }
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        c->gbuf = g;
        c->hbuf = h;
        return c;
    }
    return NULL;
}

static void conn_free(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->gbuf);
    free(c->hbuf);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* Ends a connection the guest knows about: one RST, then it is gone. The
 * host socket closes at once. */
static void conn_reset(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->g_len = c->h_len = 0;
    c->pend = P_RST;
}

/* Bytes the guest can still take from us. */
static uint32_t peer_credit(const struct conn *c)
{
    uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
    return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static void queue_rst(struct virtio_vsock *v, const uint8_t *hdr)
{
    /* Never answer an RST with an RST. */
    if (get_le(hdr + H_OP, 2) == OP_RST || v->rst_len >= RST_QUEUE_MAX)
        return;
    struct rst_pkt *r = &v->rsts[(v->rst_head + v->rst_len++) % RST_QUEUE_MAX];
    r->src_port = (uint32_t)get_le(hdr + H_DST_PORT, 4);
    r->dst_port = (uint32_t)get_le(hdr + H_SRC_PORT, 4);
    r->dst_cid = get_le(hdr + H_SRC_CID, 8);
}

/* A guest connection to host port `port`: connect to PATH_port. */
static void guest_connect(struct virtio_vsock *v, const uint8_t *hdr)
{
    uint32_t host_port = (uint32_t)get_le(hdr + H_DST_PORT, 4);
    uint32_t guest_port = (uint32_t)get_le(hdr + H_SRC_PORT, 4);
    if (!v->path[0]) {
        queue_rst(v, hdr);
        return;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->path, host_port);
    int fd = -1;
    if (n > 0 && (size_t)n < sizeof(sa.sun_path))
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        log_debug("vsock: guest port %u -> host port %u: %s: %s", guest_port, host_port,
                  sa.sun_path, strerror(errno));
        close(fd);
        fd = -1;
    }
    struct conn *c = fd >= 0 ? conn_new(v, fd) : NULL;
    if (!c) {
        if (fd >= 0)
            close(fd);
        queue_rst(v, hdr);
        return;
    }
    c->state = C_ESTABLISHED;
    c->guest_port = guest_port;
    c->host_port = host_port;
    c->peer_buf_alloc = (uint32_t)get_le(hdr + H_BUF_ALLOC, 4);
    c->peer_fwd_cnt = (uint32_t)get_le(hdr + H_FWD_CNT, 4);
    c->pend = P_RESPONSE;
}

/* --- guest -> device: the transmit queue --- */

static void guest_rw(struct conn *c, const struct virtq_chain *ch, uint32_t len)
{
    uint32_t used = c->rx_cnt - c->fwd_cnt;
    if (c->guest_shut & SHUT_SEND_F || len > VSOCK_BUF_ALLOC - used) {
        /* Data after its own SHUTDOWN, or beyond the credit we gave. */
        conn_reset(c);
        return;
    }
    for (size_t done = 0; done < len;) {
        size_t tail = (c->g_head + c->g_len) % VSOCK_BUF_ALLOC;
        size_t run = VSOCK_BUF_ALLOC - tail;
        if (run > len - done)
            run = len - done;
        virtq_chain_read(ch, HDR_SIZE + done, c->gbuf + tail, run);
        c->g_len += run;
        done += run;
    }
    c->rx_cnt += len;
}

static void guest_packet(struct virtio_vsock *v, const struct virtq_chain *ch)
{
    uint8_t hdr[HDR_SIZE];
    if (ch->out_len < HDR_SIZE) {
        log_debug("vsock: dropping a %llu-byte packet (header is %d)",
                  (unsigned long long)ch->out_len, HDR_SIZE);
        return;
    }
    virtq_chain_read(ch, 0, hdr, HDR_SIZE);
    uint64_t src_cid = get_le(hdr + H_SRC_CID, 8), dst_cid = get_le(hdr + H_DST_CID, 8);
    uint32_t len = (uint32_t)get_le(hdr + H_LEN, 4);
    uint16_t type = (uint16_t)get_le(hdr + H_TYPE, 2), op = (uint16_t)get_le(hdr + H_OP, 2);
    if (src_cid != v->guest_cid) {
        log_debug("vsock: dropping a packet from CID %llu (the guest is %llu)",
                  (unsigned long long)src_cid, (unsigned long long)v->guest_cid);
        return;
    }
    struct conn *c = conn_find(v, (uint32_t)get_le(hdr + H_SRC_PORT, 4),
                               (uint32_t)get_le(hdr + H_DST_PORT, 4));
    int bad_len = len > ch->out_len - HDR_SIZE || len > VSOCK_MAX_PAYLOAD ||
                  (len && op != OP_RW);
    if (dst_cid != VSOCK_HOST_CID || type != TYPE_STREAM || bad_len) {
        if (c)
            conn_reset(c);
        else
            queue_rst(v, hdr);
        return;
    }
    if (op == OP_REQUEST) {
        if (c)
            conn_reset(c); /* a second REQUEST for a live connection */
        else
            guest_connect(v, hdr);
        return;
    }
    if (!c) {
        queue_rst(v, hdr);
        return;
    }
    if (c->pend & P_RST)
        return; /* already being reset */
    if (op != OP_RW)
        log_debug("vsock: %u<->%u: op %u from the guest (flags %u, buf_alloc %u, fwd_cnt %u)",
                  c->guest_port, c->host_port, op, (unsigned)get_le(hdr + H_FLAGS, 4),
                  (unsigned)get_le(hdr + H_BUF_ALLOC, 4), (unsigned)get_le(hdr + H_FWD_CNT, 4));
    c->peer_buf_alloc = (uint32_t)get_le(hdr + H_BUF_ALLOC, 4);
    c->peer_fwd_cnt = (uint32_t)get_le(hdr + H_FWD_CNT, 4);
    switch (op) {
    case OP_RESPONSE:
        if (c->state != C_CONNECTING) {
            conn_reset(c);
            break;
        }
        c->state = C_ESTABLISHED;
        c->pend &= ~P_REQUEST;
        {
            char ok[32];
            int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
            /* A fresh socket's buffer takes a short line. */
            if (write(c->fd, ok, (size_t)n) != n)
                conn_reset(c);
        }
        break;
    case OP_RST:
        conn_free(c);
        break;
    case OP_SHUTDOWN:
        c->guest_shut |= (unsigned)get_le(hdr + H_FLAGS, 4) & (SHUT_RCV_F | SHUT_SEND_F);
        if (c->guest_shut & SHUT_RCV_F)
            c->h_len = 0; /* the guest takes no more data */
        break;
    case OP_RW:
        if (c->state != C_ESTABLISHED)
            conn_reset(c);
        else
            guest_rw(c, ch, len);
        break;
    case OP_CREDIT_UPDATE:
        break; /* the credit fields were taken above */
    case OP_CREDIT_REQUEST:
        c->pend |= P_CREDIT;
        break;
    default:
        conn_reset(c); /* INVALID or an op this device does not know */
        break;
    }
}

static unsigned drain_tx(struct virtio_vsock *v)
{
    unsigned n = 0;
    for (;;) {
        if (virtio_dev_pop(&v->vd, Q_TX, &v->chain) != 1) {
            virtio_dev_update_avail_event(&v->vd, Q_TX);
            if (virtio_dev_pop(&v->vd, Q_TX, &v->chain) != 1)
                break;
        }
        guest_packet(v, &v->chain);
        virtio_dev_push(&v->vd, Q_TX, v->chain.head, 0);
        n++;
    }
    return n;
}

/* --- device -> guest: the receive queue --- */

static void fill_hdr(struct virtio_vsock *v, uint8_t *hdr, uint32_t src_port, uint32_t dst_port,
                     uint16_t op, uint32_t len, uint32_t flags, const struct conn *c)
{
    memset(hdr, 0, HDR_SIZE);
    put_le(hdr + H_SRC_CID, VSOCK_HOST_CID, 8);
    put_le(hdr + H_DST_CID, v->guest_cid, 8);
    put_le(hdr + H_SRC_PORT, src_port, 4);
    put_le(hdr + H_DST_PORT, dst_port, 4);
    put_le(hdr + H_LEN, len, 4);
    put_le(hdr + H_TYPE, TYPE_STREAM, 2);
    put_le(hdr + H_OP, op, 2);
    put_le(hdr + H_FLAGS, flags, 4);
    if (c) {
        put_le(hdr + H_BUF_ALLOC, VSOCK_BUF_ALLOC, 4);
        put_le(hdr + H_FWD_CNT, c->fwd_cnt, 4);
    }
}

/* Takes a receive buffer big enough for a header; 0 when the guest has
 * none. Buffers too small for a header go back empty. */
static int rx_take(struct virtio_vsock *v)
{
    for (;;) {
        if (virtio_dev_pop(&v->vd, Q_RX, &v->chain) != 1) {
            virtio_dev_update_avail_event(&v->vd, Q_RX);
            if (virtio_dev_pop(&v->vd, Q_RX, &v->chain) != 1)
                return 0;
        }
        if (v->chain.in_len >= HDR_SIZE)
            return 1;
        virtio_dev_push(&v->vd, Q_RX, v->chain.head, 0);
    }
}

static void rx_put(struct virtio_vsock *v, const uint8_t *hdr, uint32_t payload)
{
    virtq_chain_write(&v->chain, 0, hdr, HDR_SIZE);
    virtio_dev_push(&v->vd, Q_RX, v->chain.head, HDR_SIZE + payload);
}

/* Sends one control packet of c; returns 0 when out of receive buffers. */
static int send_control(struct virtio_vsock *v, struct conn *c)
{
    uint8_t hdr[HDR_SIZE];
    unsigned bit;
    uint16_t op;
    uint32_t flags = 0;
    if (c->pend & P_RST) {
        bit = P_RST, op = OP_RST;
    } else if (c->pend & P_REQUEST) {
        bit = P_REQUEST, op = OP_REQUEST;
    } else if (c->pend & P_RESPONSE) {
        bit = P_RESPONSE, op = OP_RESPONSE;
    } else if (c->pend & P_CREDIT) {
        bit = P_CREDIT, op = OP_CREDIT_UPDATE;
    } else if ((c->pend & P_SHUT_SEND) && c->h_len == 0) {
        bit = P_SHUT_SEND, op = OP_SHUTDOWN, flags = SHUT_SEND_F;
    } else {
        return 1;
    }
    if (!rx_take(v))
        return 0;
    log_debug("vsock: %u<->%u: op %u to the guest (tx_cnt %u, fwd_cnt %u, credit %u, h_len %zu)",
              c->guest_port, c->host_port, op, c->tx_cnt, c->fwd_cnt, peer_credit(c), c->h_len);
    fill_hdr(v, hdr, c->host_port, c->guest_port, op, 0, flags, c);
    rx_put(v, hdr, 0);
    c->fwd_told = c->fwd_cnt;
    if (op == OP_REQUEST) {
        c->pend &= ~P_REQUEST; /* the deadline keeps running for the RESPONSE */
        return 1;
    }
    c->pend &= ~bit;
    if (op == OP_RST)
        conn_free(c);
    return 1;
}

/* Sends what c has for the guest, data within the guest's credit.
 * Returns 0 when out of receive buffers. */
static int send_data(struct virtio_vsock *v, struct conn *c)
{
    while (c->state == C_ESTABLISHED && c->h_len && !(c->pend & P_RST)) {
        uint32_t credit = peer_credit(c);
        if (!credit)
            return 1; /* the guest's CREDIT_UPDATE brings us back */
        if (!rx_take(v))
            return 0;
        uint64_t room = v->chain.in_len - HDR_SIZE;
        size_t n = c->h_len;
        if (n > credit)
            n = credit;
        if (n > room)
            n = (size_t)room;
        if (n > VSOCK_MAX_PAYLOAD)
            n = VSOCK_MAX_PAYLOAD;
        for (size_t done = 0; done < n;) {
            size_t run = HBUF_SIZE - c->h_head;
            if (run > n - done)
                run = n - done;
            virtq_chain_write(&v->chain, HDR_SIZE + done, c->hbuf + c->h_head, run);
            c->h_head = (c->h_head + run) % HBUF_SIZE;
            c->h_len -= run;
            done += run;
        }
        uint8_t hdr[HDR_SIZE];
        fill_hdr(v, hdr, c->host_port, c->guest_port, OP_RW, (uint32_t)n, 0, c);
        rx_put(v, hdr, (uint32_t)n);
        c->tx_cnt += (uint32_t)n;
        c->fwd_told = c->fwd_cnt;
    }
    return 1;
}

static int send_event(struct virtio_vsock *v)
{
    if (!v->transport_reset_pending)
        return 1;
    if (virtio_dev_pop(&v->vd, Q_EVENT, &v->chain) != 1)
        return 0;
    uint8_t ev[4];
    put_le(ev, EVENT_TRANSPORT_RESET, 4);
    size_t n = virtq_chain_write(&v->chain, 0, ev, sizeof(ev));
    virtio_dev_push(&v->vd, Q_EVENT, v->chain.head, (uint32_t)n);
    v->transport_reset_pending = 0;
    return 1;
}

/* Everything waiting for the guest's receive queue, control first. */
static void fill_rx(struct virtio_vsock *v)
{
    send_event(v);
    while (v->rst_len) {
        if (!rx_take(v))
            return;
        const struct rst_pkt *r = &v->rsts[v->rst_head];
        uint8_t hdr[HDR_SIZE];
        fill_hdr(v, hdr, r->src_port, r->dst_port, OP_RST, 0, 0, NULL);
        put_le(hdr + H_DST_CID, r->dst_cid, 8);
        rx_put(v, hdr, 0);
        v->rst_head = (v->rst_head + 1) % RST_QUEUE_MAX;
        v->rst_len--;
    }
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct conn *c = &v->conns[i];
        while (c->state >= C_CONNECTING && c->pend) {
            unsigned before = c->pend;
            if (!send_control(v, c))
                return;
            if (c->pend == before)
                break; /* nothing sendable yet (SHUTDOWN waits for data) */
        }
    }
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
        if (v->conns[i].state == C_ESTABLISHED && !send_data(v, &v->conns[i]))
            return;
}

/* --- host sockets --- */

static void host_accept(struct virtio_vsock *v)
{
    for (;;) {
        int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct conn *c = conn_new(v, fd);
        if (!c) {
            log_warn("vsock: refusing a host connection: %d connections already", VSOCK_MAX_CONNS);
            close(fd);
            continue;
        }
        c->state = C_HANDSHAKE;
        c->deadline = clock_monotonic_ms() + HANDSHAKE_TIMEOUT_MS;
    }
}

static int port_taken(struct virtio_vsock *v, uint32_t port)
{
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
        if (v->conns[i].state >= C_CONNECTING && v->conns[i].host_port == port)
            return 1;
    return 0;
}

/* "CONNECT <port>\n": the port, or -1 for anything else. */
static int64_t parse_connect(const char *line, size_t len)
{
    static const char cmd[] = "CONNECT ";
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len <= sizeof(cmd) - 1 || memcmp(line, cmd, sizeof(cmd) - 1))
        return -1;
    uint64_t port = 0;
    for (size_t i = sizeof(cmd) - 1; i < len; i++) {
        if (line[i] < '0' || line[i] > '9' || i - (sizeof(cmd) - 1) >= 10)
            return -1;
        port = port * 10 + (uint64_t)(line[i] - '0');
    }
    return port <= UINT32_MAX ? (int64_t)port : -1;
}

static void host_handshake(struct virtio_vsock *v, struct conn *c, int active)
{
    ssize_t n = read(c->fd, c->line + c->line_len, sizeof(c->line) - c->line_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_free(c);
        return;
    }
    c->line_len += (size_t)n;
    char *nl = memchr(c->line, '\n', c->line_len);
    if (!nl) {
        if (c->line_len == sizeof(c->line)) {
            log_debug("vsock: host connection sent no CONNECT line");
            conn_free(c);
        }
        return;
    }
    int64_t port = parse_connect(c->line, (size_t)(nl - c->line));
    if (port < 0) {
        log_debug("vsock: host connection sent a malformed CONNECT line");
        conn_free(c);
        return;
    }
    if (!active) {
        /* No driver to ask yet: refuse at once, the host may try again. */
        conn_free(c);
        return;
    }
    /* Bytes after the line are the start of the stream. */
    size_t extra = c->line_len - (size_t)(nl + 1 - c->line);
    memcpy(c->hbuf, nl + 1, extra);
    c->h_head = 0;
    c->h_len = extra;
    do {
        c->host_port = v->next_local_port++;
        if (v->next_local_port == 0)
            v->next_local_port = LOCAL_PORT_FIRST;
    } while (port_taken(v, c->host_port));
    c->guest_port = (uint32_t)port;
    c->state = C_CONNECTING;
    c->deadline = clock_monotonic_ms() + HANDSHAKE_TIMEOUT_MS;
    c->pend = P_REQUEST;
    /* The guest's credit is unknown until its RESPONSE. */
    c->peer_buf_alloc = 0;
}

/* What follows from a connection's counters, whatever woke the thread:
 * freed credit is announced (once a quarter of it is free, or when
 * everything went out), the guest's SHUTDOWN(SEND) reaches the host socket
 * once its bytes did, and a connection done both ways ends with an RST. */
static void conn_progress(struct conn *c)
{
    if (c->state != C_ESTABLISHED || (c->pend & P_RST))
        return;
    uint32_t untold = c->fwd_cnt - c->fwd_told;
    if (untold && (untold >= VSOCK_BUF_ALLOC / 4 || c->g_len == 0))
        c->pend |= P_CREDIT;
    if (c->g_len)
        return;
    if ((c->guest_shut & SHUT_SEND_F) && !c->host_wr_shut && c->fd >= 0) {
        shutdown(c->fd, SHUT_WR);
        c->host_wr_shut = 1;
    }
    int guest_done = (c->guest_shut & (SHUT_RCV_F | SHUT_SEND_F)) == (SHUT_RCV_F | SHUT_SEND_F);
    int both_eof = c->host_eof && (c->guest_shut & SHUT_SEND_F) && c->h_len == 0 &&
                   !(c->pend & P_SHUT_SEND);
    if (guest_done || both_eof)
        conn_reset(c);
}

static void host_io(struct virtio_vsock *v, struct conn *c, short revents, int active)
{
    if (c->state == C_HANDSHAKE) {
        if (revents & (POLLIN | POLLHUP | POLLERR))
            host_handshake(v, c, active);
        return;
    }
    if (!active)
        return;
    if (c->state != C_ESTABLISHED || c->fd < 0)
        return;
    /* Guest bytes to the host socket. */
    while (c->g_len) {
        size_t run = VSOCK_BUF_ALLOC - c->g_head;
        if (run > c->g_len)
            run = c->g_len;
        ssize_t n = write(c->fd, c->gbuf + c->g_head, run);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            conn_reset(c); /* the host side went away */
            return;
        }
        c->g_head = (c->g_head + (size_t)n) % VSOCK_BUF_ALLOC;
        c->g_len -= (size_t)n;
        c->fwd_cnt += (uint32_t)n;
    }
    /* Host bytes for the guest, as far as its credit and our buffer go. */
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && !c->host_eof &&
        !(c->guest_shut & SHUT_RCV_F)) {
        uint32_t credit = peer_credit(c);
        size_t credit_left = credit > c->h_len ? credit - c->h_len : 0;
        size_t want = HBUF_SIZE - c->h_len;
        if (want > credit_left)
            want = credit_left;
        while (want) {
            size_t tail = (c->h_head + c->h_len) % HBUF_SIZE;
            size_t run = HBUF_SIZE - tail < want ? HBUF_SIZE - tail : want;
            ssize_t n = read(c->fd, c->hbuf + tail, run);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            if (n < 0) {
                conn_reset(c);
                return;
            }
            if (n == 0) {
                log_debug("vsock: %u<->%u: host EOF (h_len %zu, credit %u)", c->guest_port,
                          c->host_port, c->h_len, peer_credit(c));
                c->host_eof = 1;
                c->pend |= P_SHUT_SEND;
                break;
            }
            c->h_len += (size_t)n;
            want -= (size_t)n;
        }
    }
    conn_progress(c);
}

static short conn_events(const struct conn *c)
{
    if (c->fd < 0)
        return 0;
    if (c->state == C_HANDSHAKE)
        return POLLIN;
    if (c->state != C_ESTABLISHED || (c->pend & P_RST))
        return 0;
    short ev = 0;
    if (c->g_len)
        ev |= POLLOUT;
    uint32_t credit = peer_credit(c);
    if (!c->host_eof && !(c->guest_shut & SHUT_RCV_F) && c->h_len < HBUF_SIZE &&
        credit > c->h_len)
        ev |= POLLIN;
    return ev;
}

static void expire(struct virtio_vsock *v, uint64_t now, int active)
{
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
        struct conn *c = &v->conns[i];
        if ((c->state != C_HANDSHAKE && c->state != C_CONNECTING) || now < c->deadline ||
            (c->pend & P_RST))
            continue;
        log_debug("vsock: %s to guest port %u timed out",
                  c->state == C_HANDSHAKE ? "CONNECT line" : "connection", c->guest_port);
        if (c->state == C_CONNECTING && active)
            conn_reset(c); /* the guest may answer later: tell it */
        else
            conn_free(c);
    }
}

/* --- the thread --- */

static void drop_all(struct virtio_vsock *v)
{
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
        if (v->conns[i].state != C_FREE)
            conn_free(&v->conns[i]);
    v->rst_head = v->rst_len = 0;
}

/* Serves reset / pause / stop requests; returns 1 to end the thread. */
static int serve_requests(struct virtio_vsock *v)
{
    pthread_mutex_lock(&v->lock);
    for (;;) {
        if (v->req == REQ_STOP) {
            pthread_mutex_unlock(&v->lock);
            return 1;
        }
        if (v->req == REQ_RESET) {
            atomic_store(&v->active, 0);
            drop_all(v);
            v->transport_reset_pending = 0;
            v->req = REQ_NONE;
            pthread_cond_broadcast(&v->cond);
        } else if (v->req == REQ_PAUSE) {
            v->paused = 1;
            v->req = REQ_NONE;
            pthread_cond_broadcast(&v->cond);
        }
        if (!v->paused)
            break;
        pthread_cond_wait(&v->cond, &v->lock);
    }
    pthread_mutex_unlock(&v->lock);
    return 0;
}

static void *vsock_main(void *arg)
{
    struct virtio_vsock *v = arg;
    struct pollfd pfd[2 + VSOCK_MAX_CONNS];
    struct conn *who[2 + VSOCK_MAX_CONNS];
    for (;;) {
        if (serve_requests(v))
            return NULL;
        int active = atomic_load(&v->active);
        if (active) {
            drain_tx(v);
            for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
                if (v->conns[i].state == C_ESTABLISHED)
                    conn_progress(&v->conns[i]);
        }
        uint64_t now = clock_monotonic_ms();
        expire(v, now, active);
        if (active)
            fill_rx(v);

        int n = 0, timeout = -1;
        pfd[n] = (struct pollfd){ .fd = v->kick_fd, .events = POLLIN };
        who[n++] = NULL;
        int nr_conns = 0;
        for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
            nr_conns += v->conns[i].state != C_FREE;
        if (v->listen_fd >= 0 && nr_conns < VSOCK_MAX_CONNS) {
            pfd[n] = (struct pollfd){ .fd = v->listen_fd, .events = POLLIN };
            who[n++] = NULL;
        }
        for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
            struct conn *c = &v->conns[i];
            if (c->state == C_HANDSHAKE || c->state == C_CONNECTING) {
                uint64_t left = c->deadline > now ? c->deadline - now : 0;
                if (timeout < 0 || left < (uint64_t)timeout)
                    timeout = (int)left;
            }
            short ev = active ? conn_events(c) : (c->state == C_HANDSHAKE ? POLLIN : 0);
            if (ev) {
                pfd[n] = (struct pollfd){ .fd = c->fd, .events = ev };
                who[n++] = c;
            }
        }
        if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
            log_warn("vsock: poll: %s", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (pfd[i].fd == v->kick_fd) {
                uint64_t count;
                ssize_t r = read(v->kick_fd, &count, sizeof(count));
                (void)r;
            } else if (!who[i]) {
                host_accept(v);
            } else {
                host_io(v, who[i], pfd[i].revents, active);
            }
        }
    }
}

/* Asks the thread for `req` and waits until it was served. */
static void request(struct virtio_vsock *v, int req)
{
    if (!v->thread_started)
        return;
    pthread_mutex_lock(&v->lock);
    v->req = req;
    kick(v);
    while (v->req == req && req != REQ_STOP)
        pthread_cond_wait(&v->cond, &v->lock);
    pthread_mutex_unlock(&v->lock);
}

static void unpause(struct virtio_vsock *v)
{
    pthread_mutex_lock(&v->lock);
    v->paused = 0;
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
    kick(v);
}

/* --- transport callbacks --- */

static void vsock_config_read(struct virtio_dev *vd, uint32_t offset, void *buf, uint32_t len)
{
    struct virtio_vsock *v = vd->priv;
    memcpy(buf, v->config + offset, len);
}

static void vsock_notify(struct virtio_dev *vd, unsigned q)
{
    kick(vd->priv);
}

static void vsock_driver_ok(struct virtio_dev *vd)
{
    struct virtio_vsock *v = vd->priv;
    atomic_store(&v->active, 1);
    kick(v);
}

static void vsock_reset(struct virtio_dev *vd)
{
    request(vd->priv, REQ_RESET);
}

static int vsock_save(struct virtio_dev *vd, struct state_writer *w)
{
    /* Host sockets cannot be saved: the guest CID is the state, and a
     * loaded device tells the guest its connections are gone. */
    struct virtio_vsock *v = vd->priv;
    state_put_u64(w, v->guest_cid);
    return 0;
}

static int vsock_load(struct virtio_dev *vd, struct state_reader *r, uint32_t version)
{
    struct virtio_vsock *v = vd->priv;
    uint64_t cid;
    int rc = state_get_u64(r, &cid);
    if (rc)
        return rc;
    if (cid != v->guest_cid)
        return vmm_error(VMM_EFORMAT, "virtio-vsock state: guest CID %llu, this device has %llu",
                         (unsigned long long)cid, (unsigned long long)v->guest_cid);
    request(v, REQ_PAUSE);
    drop_all(v);
    v->transport_reset_pending = 1;
    unpause(v);
    return 0;
}

static void vsock_free(struct virtio_vsock *v)
{
    drop_all(v);
    if (v->listen_fd >= 0) {
        close(v->listen_fd);
        unlink(v->path);
    }
    if (v->kick_fd >= 0)
        close(v->kick_fd);
    pthread_mutex_destroy(&v->lock);
    pthread_cond_destroy(&v->cond);
    free(v);
}

static void vsock_destroy(struct virtio_dev *vd)
{
    struct virtio_vsock *v = vd->priv;
    if (v->thread_started) {
        request(v, REQ_STOP);
        pthread_join(v->thread, NULL);
    }
    virtio_dev_release(vd);
    vsock_free(v);
}

static const struct virtio_device_ops vsock_ops = {
    .type = "virtio-vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .state_version = 1,
    .config_read = vsock_config_read,
    .queue_notify = vsock_notify,
    .driver_ok = vsock_driver_ok,
    .reset = vsock_reset,
    .save = vsock_save,
    .load = vsock_load,
    .destroy = vsock_destroy,
};

/* Binds and listens on path; a socket file nobody accepts on is replaced. */
static int listen_on(const char *path, int *out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, path, strlen(path));
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return vmm_error(VMM_EBUSY, "vsock socket '%s' exists and is not a socket", path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (probe >= 0)
            close(probe);
        if (live)
            return vmm_error(VMM_EBUSY, "vsock socket '%s' is in use by another program", path);
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vmm_error_errno(errno, "vsock socket '%s'", path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        return vmm_error_errno(e, "vsock socket '%s'", path);
    }
    *out = fd;
    return 0;
}

int virtio_vsock_create(struct machine *m, const struct virtio_placement *at,
                        uint32_t cid, const char *path, struct virtio_vsock **out)
{
    const char *name = at->name;
    if (cid < 3 || cid == UINT32_MAX)
        return vmm_error(VMM_EINVAL, "vsock guest CID %u: must be 3..%u", cid, UINT32_MAX - 1);
    struct virtio_vsock *v = calloc(1, sizeof(*v));
    if (!v)
        return vmm_error(VMM_ENOMEM, "virtio-vsock '%s'", name);
    /* Room for "_<port>" after the path in a socket address. */
    if (path && strlen(path) + 11 >= sizeof(v->path)) {
        free(v);
        return vmm_error(VMM_EINVAL, "vsock socket path '%.200s' is %zu bytes; unix socket "
                         "addresses leave room for %zu", path, strlen(path),
                         sizeof(v->path) - 12);
    }
    v->m = m;
    v->guest_cid = cid;
    v->listen_fd = v->kick_fd = -1;
    v->next_local_port = LOCAL_PORT_FIRST;
    for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
        v->conns[i].fd = -1;
    pthread_mutex_init(&v->lock, NULL);
    pthread_cond_init(&v->cond, NULL);
    put_le(v->config, cid, 8);
    int rc = 0;
    if (path) {
        memcpy(v->path, path, strlen(path));
        rc = listen_on(path, &v->listen_fd);
    }
    if (!rc && (v->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        rc = vmm_error_errno(errno, "virtio-vsock eventfd");
    if (!rc)
        rc = virtio_dev_init(&v->vd, m, at->irq, &vsock_ops, v, VIRTIO_BIT(VIRTIO_VSOCK_F_STREAM), 3,
                             VSOCK_QUEUE_SIZE, sizeof(v->config));
    if (!rc) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int e = pthread_create(&v->thread, NULL, vsock_main, v);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e)
            rc = vmm_error_errno(e, "starting the virtio-vsock thread");
        else
            v->thread_started = 1;
    }
    if (rc) {
        vsock_free(v);
        return rc;
    }
    pthread_setname_np(v->thread, "virtio-vsock");
    if ((rc = virtio_mmio_attach(m, &v->vd, at)))
        return rc; /* the component owns the device now */
    if (out)
        *out = v;
    return 0;
}
