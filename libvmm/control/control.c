/* The control socket's server (vmm/control.h): listening on a Unix or TCP
 * address on the host's loop, accepting clients, cutting their input into
 * JSON documents (qmp_stream.c) for qmp_cmds.c, and writing replies and
 * events with a bound on what one client may leave unread.
 *
 * The listener and the clients are non-blocking sockets of our own under
 * uv_poll_t: replies are queued in the client's buffer and sent with
 * send(MSG_NOSIGNAL) when the socket is writable, so a peer that went away
 * is an EPIPE here and never a SIGPIPE for the host program.
 *
 * A client that sends faster than it reads its replies is throttled: once
 * its unsent output passes CONTROL_OUT_HIGH its requests are no longer
 * read (the kernel's socket buffer then holds the sender back), and once
 * the output drained below CONTROL_OUT_LOW they are read again. So a
 * client pipelining thousands of requests gets every reply, and one that
 * never reads costs a bounded amount of memory and no loop time.
 *
 * A client is closed three ways: dropped (control_drop: at once, unsent
 * output discarded; on a read error, an output overflow, or when the server
 * closes), hung up (control_hang_up: a last message, then closed once the
 * output went out; on end of input, an oversized request, too many
 * clients), or by the reaper timer: when a hang-up takes longer than
 * CONTROL_DRAIN_MS, or a client stays throttled for CONTROL_STALL_MS,
 * because the peer does not read.
 */
#include "control/control.h"
#include "control/qmp_cmds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config.h"
#include "core/vm.h"
#include "core/vm_hooks.h"
#include "util/error.h"
#include "util/log.h"

/* --- lifetime --- */

static void maybe_free(struct vmm_control *ctl)
{
    if (!ctl->closed || ctl->open_handles)
        return;
    free(ctl->rbuf);
    free(ctl->address);
    free(ctl->unix_path);
    free(ctl);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct vmm_control *ctl = h->data;
    ctl->open_handles--;
    maybe_free(ctl);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct vmm_control *ctl = h->data;
    if (ctl->listen_fd >= 0)
        close(ctl->listen_fd);
    ctl->listen_fd = -1;
    on_handle_closed(h);
}

static void on_client_closed(uv_handle_t *h)
{
    struct control_client *c = h->data;
    struct vmm_control *ctl = c->ctl;
    close(c->fd); /* only now: libuv may watch it until the close completes */
    qmp_stream_free(&c->in);
    free(c->held);
    free(c->out);
    free(c);
    ctl->open_handles--;
    maybe_free(ctl);
}

static void client_unlink(struct control_client *c)
{
    struct vmm_control *ctl = c->ctl;
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    ctl->nr_clients--;
}

void control_drop(struct control_client *c, const char *why)
{
    if (c->closing)
        return;
    log_debug("control %s: client %u %s", c->ctl->address, c->id, why);
    c->closing = 1;
    client_unlink(c);
    qmp_client_gone(c);
    uv_close((uv_handle_t *)&c->poll, on_client_closed);
}

static void on_client_io(uv_poll_t *poll, int status, int events);

/* Watches what the client's state asks for: input unless throttled or
 * hanging up, the socket's room while output waits. */
static void client_watch(struct control_client *c)
{
    if (c->closing)
        return;
    int want = 0;
    if (!c->throttled && !c->draining)
        want |= UV_READABLE;
    if (c->out_len > c->out_off)
        want |= UV_WRITABLE;
    if (want == c->events)
        return;
    c->events = want;
    int rc = want ? uv_poll_start(&c->poll, want, on_client_io) : uv_poll_stop(&c->poll);
    if (rc < 0)
        control_drop(c, "could not be watched");
}

/* --- output --- */

static size_t unsent(const struct control_client *c)
{
    return c->out_len - c->out_off;
}

/* Sends what the socket takes now; 0, or -1 when the client went away
 * (then dropped). */
static int client_flush(struct control_client *c)
{
    while (unsent(c)) {
        ssize_t n = send(c->fd, c->out + c->out_off, unsent(c), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        control_drop(c, "went away (write failed)");
        return -1;
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    return 0;
}

void control_send(struct control_client *c, json_t *msg)
{
    if (!msg)
        return;
    if (c->closing || c->draining) {
        json_decref(msg);
        return;
    }
    char *text = json_dumps(msg, JSON_ENCODE_ANY);
    json_decref(msg);
    if (!text) {
        control_drop(c, "dropped: no memory for a reply");
        return;
    }
    size_t len = strlen(text);
    if (unsent(c) + len + 2 > VMM_CONTROL_MAX_OUTPUT) {
        free(text);
        log_warn("control %s: client %u does not read its replies (%zu bytes unsent, limit %u): "
                 "disconnected",
                 c->ctl->address, c->id, unsent(c), VMM_CONTROL_MAX_OUTPUT);
        control_drop(c, "dropped: output overflow");
        return;
    }
    if (c->out_len + len + 2 > c->out_cap) {
        /* Move what is left to the front, then grow if still short. */
        if (c->out_off) {
            memmove(c->out, c->out + c->out_off, unsent(c));
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len + 2)
            cap *= 2;
        if (cap != c->out_cap) {
            char *n = realloc(c->out, cap);
            if (!n) {
                free(text);
                control_drop(c, "dropped: no memory for a reply");
                return;
            }
            c->out = n;
            c->out_cap = cap;
        }
    }
    memcpy(c->out + c->out_len, text, len);
    memcpy(c->out + c->out_len + len, "\r\n", 2);
    c->out_len += len + 2;
    free(text);
    /* Written when the loop finds the socket writable: replies to a batch
     * of requests go out together. */
    client_watch(c);
}

void control_broadcast(struct vmm_control *ctl, json_t *msg)
{
    struct control_client *next;
    for (struct control_client *c = ctl->clients; c; c = next) {
        next = c->next; /* a send may drop c */
        if (c->negotiated)
            control_send(c, json_incref(msg));
    }
}

/* --- hanging up --- */

static void on_reaper(uv_timer_t *t)
{
    struct vmm_control *ctl = t->data;
    uint64_t now = uv_now(ctl->loop);
    int waiting = 0;
    struct control_client *next;
    for (struct control_client *c = ctl->clients; c; c = next) {
        next = c->next;
        if (c->draining) {
            if (now - c->drain_since >= CONTROL_DRAIN_MS)
                control_drop(c, "closed: it did not read its last reply");
            else
                waiting = 1;
        } else if (c->throttled) {
            if (now - c->throttled_since >= CONTROL_STALL_MS) {
                log_warn("control %s: client %u has not read its replies for %u ms (%zu bytes "
                         "unsent): disconnected", ctl->address, c->id, CONTROL_STALL_MS,
                         unsent(c));
                control_drop(c, "dropped: it does not read its replies");
            } else {
                waiting = 1;
            }
        }
    }
    if (!waiting)
        uv_timer_stop(t);
}

static void reaper_start(struct vmm_control *ctl)
{
    if (ctl->reaper_open && !uv_is_active((uv_handle_t *)&ctl->reaper))
        uv_timer_start(&ctl->reaper, on_reaper, CONTROL_DRAIN_MS / 4, CONTROL_DRAIN_MS / 4);
}

void control_hang_up(struct control_client *c, json_t *last, const char *why)
{
    if (c->closing || c->draining) {
        json_decref(last);
        return;
    }
    control_send(c, last);
    if (c->closing)
        return; /* the send dropped it */
    log_debug("control %s: client %u %s", c->ctl->address, c->id, why);
    c->draining = 1;
    c->drain_since = uv_now(c->ctl->loop);
    if (client_flush(c))
        return;
    if (!unsent(c)) {
        control_drop(c, "hung up");
        return;
    }
    client_watch(c); /* closes once the rest went out (on_client_io) */
    reaper_start(c->ctl);
}

/* --- input --- */

/* One complete document from the client. */
static void handle_document(struct control_client *c, const char *doc, size_t len)
{
    json_error_t err;
    json_t *req = json_loadb(doc, len, JSON_DECODE_ANY, &err);
    if (!req) {
        control_send(c, qmp_error_message("GenericError", "JSON parse error, %s (at byte %d)",
                                          err.text, err.position));
        return;
    }
    qmp_dispatch(c, req);
    json_decref(req);
}

/* Cuts `data` into documents and runs them, until the client is throttled
 * or closing; returns how many bytes were taken. */
static size_t process_input(struct control_client *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len && !c->closing && !c->draining && !c->throttled) {
        size_t used = 0;
        int r = qmp_stream_feed(&c->in, data + off, len - off, &used);
        off += used;
        size_t doc_len;
        const char *doc = qmp_stream_doc(&c->in, &doc_len);
        switch (r) {
        case QMP_STREAM_MORE: break;
        case QMP_STREAM_DOC:
            handle_document(c, doc, doc_len);
            qmp_stream_next(&c->in);
            break;
        case QMP_STREAM_BROKEN:
            control_send(c, qmp_error_message("GenericError",
                                              "JSON parse error, request cut short by a newline "
                                              "inside a string or a 0xff byte (%zu bytes dropped)",
                                              doc_len));
            qmp_stream_next(&c->in);
            break;
        case QMP_STREAM_TOO_BIG:
            control_hang_up(c,
                            qmp_error_message("GenericError",
                                              "JSON parse error, request larger than the limit "
                                              "of %u bytes; disconnecting",
                                              VMM_CONTROL_MAX_REQUEST),
                            "sent an oversized request: disconnected");
            break;
        default: /* no memory */
            control_drop(c, "dropped: no memory for its request");
            break;
        }
        if (!c->closing && !c->draining && !c->throttled && unsent(c) > CONTROL_OUT_HIGH) {
            /* Read no more requests until the client reads its replies. */
            c->throttled = 1;
            c->throttled_since = uv_now(c->ctl->loop);
            client_watch(c);
            reaper_start(c->ctl);
        }
    }
    return off;
}

static void client_read(struct control_client *c)
{
    char *buf = c->ctl->rbuf;
    ssize_t n = recv(c->fd, buf, CONTROL_READ_BUF, MSG_DONTWAIT);
    if (n == 0) {
        control_hang_up(c, NULL, "closed its side");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            control_drop(c, "went away (read failed)");
        return;
    }
    size_t used = process_input(c, buf, (size_t)n);
    if (used < (size_t)n && c->throttled && !c->closing && !c->draining) {
        /* Keep the rest of this read for when the client catches up. */
        size_t rest = (size_t)n - used;
        if (!(c->held = malloc(rest))) {
            control_drop(c, "dropped: no memory for its requests");
            return;
        }
        memcpy(c->held, buf + used, rest);
        c->held_len = rest;
        c->held_off = 0;
    }
}

/* The client's output drained: run what it sent meanwhile, then read on. */
static void unthrottle(struct control_client *c)
{
    c->throttled = 0;
    if (c->held) {
        c->held_off += process_input(c, c->held + c->held_off, c->held_len - c->held_off);
        if (c->closing || c->draining || c->throttled)
            return;
        free(c->held);
        c->held = NULL;
        c->held_len = c->held_off = 0;
    }
    client_watch(c);
}

static void on_client_io(uv_poll_t *poll, int status, int events)
{
    struct control_client *c = poll->data;
    if (status < 0) {
        control_drop(c, "went away (poll failed)");
        return;
    }
    if (events & UV_WRITABLE) {
        if (client_flush(c))
            return;
        if (c->draining && !unsent(c)) {
            control_drop(c, "hung up");
            return;
        }
        if (c->throttled && unsent(c) < CONTROL_OUT_LOW)
            unthrottle(c);
    }
    if ((events & UV_READABLE) && !c->closing && !c->draining && !c->throttled)
        client_read(c);
    client_watch(c);
}

/* --- accepting --- */

static void client_add(struct vmm_control *ctl, int fd)
{
    struct control_client *c = calloc(1, sizeof(*c));
    if (!c) {
        log_warn("control %s: no memory for a client", ctl->address);
        close(fd);
        return;
    }
    int rc = uv_poll_init_socket(ctl->loop, &c->poll, fd);
    if (rc < 0) {
        free(c);
        close(fd);
        log_warn("control %s: client handle: %s", ctl->address, uv_strerror(rc));
        return;
    }
    c->poll.data = c;
    c->fd = fd;
    c->ctl = ctl;
    c->id = ++ctl->next_id;
    qmp_stream_init(&c->in, VMM_CONTROL_MAX_REQUEST);
    ctl->open_handles++;
    c->next = ctl->clients;
    if (ctl->clients)
        ctl->clients->prev = c;
    ctl->clients = c;
    ctl->nr_clients++;
    uv_unref((uv_handle_t *)&c->poll);
    if (ctl->nr_clients > VMM_CONTROL_MAX_CLIENTS) {
        control_hang_up(c,
                        qmp_error_message("GenericError", "too many clients (limit %u); try later",
                                          VMM_CONTROL_MAX_CLIENTS),
                        "refused: too many clients");
        return;
    }
    log_debug("control %s: client %u connected", ctl->address, c->id);
    control_send(c, qmp_greeting());
    client_watch(c);
}

static void on_listener_io(uv_poll_t *poll, int status, int events)
{
    struct vmm_control *ctl = poll->data;
    if (status < 0) {
        log_warn("control %s: listening socket: %s", ctl->address, uv_strerror(status));
        return;
    }
    /* A few at a time: the rest waits for the next round of the loop. */
    for (int i = 0; i < 16 && ctl->listener_open; i++) {
        int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                log_warn("control %s: accepting a client failed: %s", ctl->address,
                         strerror(errno));
            return;
        }
        client_add(ctl, fd);
    }
}

/* --- the VM's side --- */

/* Closes the listener and every client; the server stays allocated. */
static void control_shut(struct vmm_control *ctl)
{
    if (ctl->listener_open) {
        ctl->listener_open = 0;
        uv_close((uv_handle_t *)&ctl->listener, on_listener_closed);
    } else if (ctl->listen_fd >= 0) {
        close(ctl->listen_fd);
        ctl->listen_fd = -1;
    }
    if (ctl->unix_path)
        unlink(ctl->unix_path);
    free(ctl->unix_path);
    ctl->unix_path = NULL;
    while (ctl->clients)
        control_drop(ctl->clients, "disconnected: the server is closing");
    if (ctl->reaper_open) {
        ctl->reaper_open = 0;
        uv_close((uv_handle_t *)&ctl->reaper, on_handle_closed);
    }
    qmp_control_gone(ctl);
}

static void on_vm_event(void *opaque, const vmm_event_t *ev)
{
    qmp_events_on_vm_event(opaque, ev);
}

/* vmm_vm_destroy() began: let go of the VM. */
static void on_vm_detach(void *opaque)
{
    struct vmm_control *ctl = opaque;
    log_debug("control %s: the VM was destroyed; closing", ctl->address);
    ctl->vm = NULL;
    control_shut(ctl);
}

static const struct vm_observer_ops observer_ops = { on_vm_event, on_vm_detach };

/* --- listening --- */

/* A socket file already at `path`: a live server keeps it (VMM_EBUSY), a
 * stale one is removed; anything else is not ours to replace. */
static int clear_stale_socket(const char *path, const char *address)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : vmm_error_errno(errno, "control socket '%s'", address);
    if (!S_ISSOCK(st.st_mode))
        return vmm_error(VMM_EBUSY, "control socket '%s': '%s' exists and is not a socket; "
                         "refusing to replace it", address, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vmm_error_errno(errno, "control socket '%s': socket()", address);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    if (live)
        return vmm_error(VMM_EBUSY, "control socket '%s': another server is listening on '%s'",
                         address, path);
    if (unlink(path) < 0 && errno != ENOENT)
        return vmm_error_errno(errno, "control socket '%s': removing the stale socket '%s'",
                               address, path);
    return 0;
}

/* bind() and listen() failures, named; EADDRINUSE is VMM_EBUSY. */
static int socket_fail(int err, const char *what, const char *address)
{
    if (err == EADDRINUSE)
        return vmm_error(VMM_EBUSY, "control socket '%s': %s: %s", address, what, strerror(err));
    if (err == EADDRNOTAVAIL)
        return vmm_error(VMM_EINVAL, "control socket '%s': %s: %s", address, what, strerror(err));
    return vmm_error_errno(err, "control socket '%s': %s", address, what);
}

static int listen_unix(struct vmm_control *ctl, const char *address, const char *path)
{
    if (!*path)
        return vmm_error(VMM_EINVAL, "control socket '%s': the path after 'unix:' is empty",
                         address);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t max = sizeof(sa.sun_path) - 1;
    if (strlen(path) > max)
        return vmm_error(VMM_ERANGE, "control socket '%s': path of %zu bytes exceeds the limit "
                         "of %zu bytes for a Unix socket", address, strlen(path), max);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int rc = clear_stale_socket(path, address);
    if (rc)
        return rc;
    ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ctl->listen_fd < 0)
        return socket_fail(errno, "socket", address);
    if (bind(ctl->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return socket_fail(errno, "bind", address);
    ctl->unix_path = strdup(path);
    ctl->address = malloc(strlen(path) + 6);
    if (!ctl->unix_path || !ctl->address)
        return vmm_error(VMM_ENOMEM, "control socket '%s'", address);
    sprintf(ctl->address, "unix:%s", path);
    return 0;
}

/* "HOST:PORT" with HOST numeric, "[v6]" or "localhost". */
static int listen_tcp(struct vmm_control *ctl, const char *address, const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport)
        return vmm_error(VMM_EINVAL, "control socket '%s': expected tcp:HOST:PORT", address);
    char host[64];
    size_t hlen = (size_t)(colon - hostport);
    const char *h = hostport;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return vmm_error(VMM_EINVAL, "control socket '%s': host part of %zu bytes (1..%zu)",
                         address, hlen, sizeof(host) - 1);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port > 65535 || colon[1] == '-')
        return vmm_error(VMM_EINVAL, "control socket '%s': port '%s' is not a number 0..65535",
                         address, colon + 1);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int v6 = strchr(host, ':') != NULL;
    socklen_t sslen;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        sslen = sizeof(*a);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            goto bad_host;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        sslen = sizeof(*a);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            goto bad_host;
    }
    ctl->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ctl->listen_fd < 0)
        return socket_fail(errno, "socket", address);
    int one = 1;
    setsockopt(ctl->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(ctl->listen_fd, (struct sockaddr *)&ss, sslen) < 0)
        return socket_fail(errno, "bind", address);
    /* The port actually bound (PORT 0 lets the system pick). */
    if (getsockname(ctl->listen_fd, (struct sockaddr *)&ss, &sslen) < 0)
        return socket_fail(errno, "getsockname", address);
    unsigned bound = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                              : ((struct sockaddr_in *)&ss)->sin_port);
    size_t n = strlen(host) + 32;
    if (!(ctl->address = malloc(n)))
        return vmm_error(VMM_ENOMEM, "control socket '%s'", address);
    snprintf(ctl->address, n, v6 ? "tcp:[%s]:%u" : "tcp:%s:%u", host, bound);
    return 0;
bad_host:
    return vmm_error(VMM_EINVAL, "control socket '%s': host '%s' is not a numeric IPv%d "
                     "address (or localhost)", address, host, v6 ? 6 : 4);
}

int vmm_control_listen(vmm_vm_t *vm, const char *address, vmm_control_t **out)
{
    if (out)
        *out = NULL;
    if (!vm || !address || !out)
        return vmm_error(VMM_EINVAL, "vmm_control_listen: vm, address and out are required");
    if (vm->embed.destroying)
        return vmm_error(VMM_ESTATE, "vmm_control_listen: the VM is being destroyed");
    int is_unix = strncmp(address, "unix:", 5) == 0;
    if (!is_unix && strncmp(address, "tcp:", 4) != 0)
        return vmm_error(VMM_EINVAL, "control socket address '%s' is neither unix:PATH nor "
                         "tcp:HOST:PORT", address);
    struct vmm_control *ctl = calloc(1, sizeof(*ctl));
    if (!ctl || !(ctl->rbuf = malloc(CONTROL_READ_BUF))) {
        free(ctl);
        return vmm_error(VMM_ENOMEM, "allocating control socket '%s'", address);
    }
    ctl->vm = vm;
    ctl->loop = vmm_host_loop(vm->host);
    ctl->listen_fd = -1;
    int rc = is_unix ? listen_unix(ctl, address, address + 5) : listen_tcp(ctl, address, address + 4);
    if (!rc && listen(ctl->listen_fd, 128) < 0)
        rc = socket_fail(errno, "listen", address);
    if (!rc) {
        int uvrc = uv_poll_init_socket(ctl->loop, &ctl->listener, ctl->listen_fd);
        if (uvrc < 0) {
            rc = vmm_error(VMM_EIO, "control socket '%s': uv_poll_init_socket: %s", address,
                           uv_strerror(uvrc));
        } else {
            ctl->listener_open = 1;
            ctl->open_handles++;
            ctl->listener.data = ctl;
            if ((uvrc = uv_poll_start(&ctl->listener, UV_READABLE, on_listener_io)) < 0)
                rc = vmm_error(VMM_EIO, "control socket '%s': uv_poll_start: %s", address,
                               uv_strerror(uvrc));
        }
    }
    if (!rc) {
        if ((rc = uv_timer_init(ctl->loop, &ctl->reaper)) < 0) {
            rc = vmm_error(VMM_EIO, "control socket '%s': uv_timer_init: %s", address,
                           uv_strerror(rc));
        } else {
            ctl->reaper_open = 1;
            ctl->open_handles++;
            ctl->reaper.data = ctl;
            uv_unref((uv_handle_t *)&ctl->reaper);
        }
    }
    if (!rc)
        rc = vm_observer_add(vm, &observer_ops, ctl);
    if (rc) {
        /* Keep the message: closing sets none. */
        ctl->vm = NULL;
        control_shut(ctl);
        ctl->closed = 1;
        maybe_free(ctl);
        return rc;
    }
    uv_unref((uv_handle_t *)&ctl->listener);
    log_debug("control socket listening on %s for VM '%s'", ctl->address, vm->cfg->name);
    *out = ctl;
    return 0;
}

const char *vmm_control_address(const vmm_control_t *ctl)
{
    return ctl && ctl->address ? ctl->address : "";
}

unsigned vmm_control_client_count(const vmm_control_t *ctl)
{
    return ctl ? ctl->nr_clients : 0;
}

int vmm_control_quit_requested(const vmm_control_t *ctl)
{
    return ctl ? ctl->quit_requested : 0;
}

void vmm_control_close(vmm_control_t *ctl)
{
    if (!ctl || ctl->closed)
        return;
    qmp_migration_forget(ctl);
    if (ctl->vm) {
        vm_observer_remove(ctl->vm, ctl);
        ctl->vm = NULL;
    }
    control_shut(ctl);
    ctl->closed = 1;
    maybe_free(ctl);
}
