/* The control socket's server (vmm/control.h): listening on a Unix or TCP
 * address on the host's loop, accepting clients, cutting their input into
 * JSON documents (qmp_stream.c) for qmp_cmds.c, and writing replies and
 * events with a bound on what one client may leave unread.
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

static void on_client_closed(uv_handle_t *h)
{
    struct control_client *c = h->data;
    struct vmm_control *ctl = c->ctl;
    qmp_stream_free(&c->in);
    free(c->held);
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
    uv_close(&c->h.handle, on_client_closed);
}

/* --- output --- */

struct out_req {
    uv_write_t req;
    struct control_client *client;
    char data[];
};

static void unthrottle(struct control_client *c);

static void on_written(uv_write_t *req, int status)
{
    struct out_req *w = (struct out_req *)req;
    struct control_client *c = w->client;
    free(w);
    if (c->closing)
        return;
    if (status < 0 && status != UV_ECANCELED) {
        control_drop(c, "went away (write failed)");
        return;
    }
    if (c->throttled && uv_stream_get_write_queue_size(&c->h.stream) < CONTROL_OUT_LOW)
        unthrottle(c);
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
    size_t queued = uv_stream_get_write_queue_size(&c->h.stream);
    if (queued + len + 2 > VMM_CONTROL_MAX_OUTPUT) {
        free(text);
        log_warn("control %s: client %u does not read its replies (%zu bytes unsent, limit %u): "
                 "disconnected",
                 c->ctl->address, c->id, queued, VMM_CONTROL_MAX_OUTPUT);
        control_drop(c, "dropped: output overflow");
        return;
    }
    struct out_req *w = malloc(sizeof(*w) + len + 2);
    if (!w) {
        free(text);
        control_drop(c, "dropped: no memory for a reply");
        return;
    }
    memcpy(w->data, text, len);
    memcpy(w->data + len, "\r\n", 2);
    free(text);
    w->client = c;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)(len + 2));
    int rc = uv_write(&w->req, &c->h.stream, &buf, 1, on_written);
    if (rc < 0) {
        free(w);
        control_drop(c, "went away (write failed)");
    }
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
                         uv_stream_get_write_queue_size(&c->h.stream));
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

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct control_client *c = req->data;
    control_drop(c, "hung up");
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
    uv_read_stop(&c->h.stream);
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown) < 0) {
        control_drop(c, "hung up");
        return;
    }
    reaper_start(c->ctl);
}

/* --- input --- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct control_client *c = h->data;
    buf->base = c->ctl->rbuf;
    buf->len = CONTROL_READ_BUF;
}

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
        if (!c->closing && !c->draining && !c->throttled &&
            uv_stream_get_write_queue_size(&c->h.stream) > CONTROL_OUT_HIGH) {
            /* Read no more requests until the client reads its replies. */
            c->throttled = 1;
            c->throttled_since = uv_now(c->ctl->loop);
            uv_read_stop(&c->h.stream);
            reaper_start(c->ctl);
        }
    }
    return off;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct control_client *c = stream->data;
    if (nread == UV_EOF) {
        control_hang_up(c, NULL, "closed its side");
        return;
    }
    if (nread < 0) {
        control_drop(c, "went away (read failed)");
        return;
    }
    size_t used = process_input(c, buf->base, (size_t)nread);
    if (used < (size_t)nread && c->throttled && !c->closing && !c->draining) {
        /* Keep the rest of this read for when the client catches up. */
        size_t rest = (size_t)nread - used;
        if (!(c->held = malloc(rest))) {
            control_drop(c, "dropped: no memory for its requests");
            return;
        }
        memcpy(c->held, buf->base + used, rest);
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
    if (uv_read_start(&c->h.stream, on_alloc, on_read) < 0)
        control_drop(c, "could not be read from");
}

/* --- accepting --- */

static void on_connection(uv_stream_t *server, int status)
{
    struct vmm_control *ctl = server->data;
    if (status < 0) {
        log_warn("control %s: accepting a client failed: %s", ctl->address, uv_strerror(status));
        return;
    }
    struct control_client *c = calloc(1, sizeof(*c));
    if (!c) {
        log_warn("control %s: no memory for a client", ctl->address);
        return;
    }
    int rc = ctl->is_tcp ? uv_tcp_init(ctl->loop, &c->h.tcp) : uv_pipe_init(ctl->loop, &c->h.pipe, 0);
    if (rc < 0) {
        free(c);
        log_warn("control %s: client handle: %s", ctl->address, uv_strerror(rc));
        return;
    }
    c->h.handle.data = c;
    c->ctl = ctl;
    c->id = ++ctl->next_id;
    qmp_stream_init(&c->in, VMM_CONTROL_MAX_REQUEST);
    ctl->open_handles++;
    c->next = ctl->clients;
    if (ctl->clients)
        ctl->clients->prev = c;
    ctl->clients = c;
    ctl->nr_clients++;
    uv_unref(&c->h.handle);
    if ((rc = uv_accept(server, &c->h.stream)) < 0) {
        control_drop(c, "could not be accepted");
        return;
    }
    if (ctl->nr_clients > VMM_CONTROL_MAX_CLIENTS) {
        control_hang_up(c,
                        qmp_error_message("GenericError", "too many clients (limit %u); try later",
                                          VMM_CONTROL_MAX_CLIENTS),
                        "refused: too many clients");
        return;
    }
    log_debug("control %s: client %u connected", ctl->address, c->id);
    if ((rc = uv_read_start(&c->h.stream, on_alloc, on_read)) < 0) {
        control_drop(c, "could not be read from");
        return;
    }
    control_send(c, qmp_greeting());
}

/* --- the VM's side --- */

/* Closes the listener and every client; the server stays allocated. */
static void control_shut(struct vmm_control *ctl)
{
    if (ctl->listener_open) {
        ctl->listener_open = 0;
        uv_close(&ctl->listener.handle, on_handle_closed);
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

static int uv_fail(int uvrc, const char *what, const char *address)
{
    int code;
    switch (uvrc) {
    case UV_EADDRINUSE: code = VMM_EBUSY; break;
    case UV_EACCES:
    case UV_EPERM: code = VMM_EACCES; break;
    case UV_ENOMEM: code = VMM_ENOMEM; break;
    case UV_ENAMETOOLONG: code = VMM_ERANGE; break;
    case UV_EADDRNOTAVAIL:
    case UV_EINVAL: code = VMM_EINVAL; break;
    case UV_ENOENT: code = VMM_ENOENT; break;
    default: code = VMM_EIO; break;
    }
    return vmm_error(code, "control socket '%s': %s: %s", address, what, uv_strerror(uvrc));
}

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

static int listen_unix(struct vmm_control *ctl, const char *address, const char *path)
{
    if (!*path)
        return vmm_error(VMM_EINVAL, "control socket '%s': the path after 'unix:' is empty",
                         address);
    struct sockaddr_un sa;
    size_t max = sizeof(sa.sun_path) - 1;
    if (strlen(path) > max)
        return vmm_error(VMM_ERANGE, "control socket '%s': path of %zu bytes exceeds the limit "
                         "of %zu bytes for a Unix socket", address, strlen(path), max);
    int rc = clear_stale_socket(path, address);
    if (rc)
        return rc;
    if ((rc = uv_pipe_init(ctl->loop, &ctl->listener.pipe, 0)) < 0)
        return uv_fail(rc, "uv_pipe_init", address);
    ctl->listener_open = 1;
    ctl->open_handles++;
    ctl->listener.handle.data = ctl;
    if ((rc = uv_pipe_bind(&ctl->listener.pipe, path)) < 0)
        return uv_fail(rc, "bind", address);
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
    int rc = v6 ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&ss)
                : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        return vmm_error(VMM_EINVAL, "control socket '%s': host '%s' is not a numeric IPv%d "
                         "address (or localhost)", address, host, v6 ? 6 : 4);
    if ((rc = uv_tcp_init(ctl->loop, &ctl->listener.tcp)) < 0)
        return uv_fail(rc, "uv_tcp_init", address);
    ctl->listener_open = 1;
    ctl->open_handles++;
    ctl->listener.handle.data = ctl;
    ctl->is_tcp = 1;
    if ((rc = uv_tcp_bind(&ctl->listener.tcp, (struct sockaddr *)&ss, 0)) < 0)
        return uv_fail(rc, "bind", address);
    /* The port actually bound (PORT 0 lets the system pick). */
    int namelen = sizeof(ss);
    if ((rc = uv_tcp_getsockname(&ctl->listener.tcp, (struct sockaddr *)&ss, &namelen)) < 0)
        return uv_fail(rc, "getsockname", address);
    unsigned bound = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                              : ((struct sockaddr_in *)&ss)->sin_port);
    size_t n = strlen(host) + 32;
    if (!(ctl->address = malloc(n)))
        return vmm_error(VMM_ENOMEM, "control socket '%s'", address);
    snprintf(ctl->address, n, v6 ? "tcp:[%s]:%u" : "tcp:%s:%u", host, bound);
    return 0;
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
    int rc = is_unix ? listen_unix(ctl, address, address + 5) : listen_tcp(ctl, address, address + 4);
    if (!rc && (rc = uv_listen(&ctl->listener.stream, 128, on_connection)) < 0)
        rc = uv_fail(rc, "listen", address);
    if (!rc) {
        if ((rc = uv_timer_init(ctl->loop, &ctl->reaper)) < 0) {
            rc = uv_fail(rc, "uv_timer_init", address);
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
    uv_unref(&ctl->listener.handle);
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
    if (ctl->vm) {
        vm_observer_remove(ctl->vm, ctl);
        ctl->vm = NULL;
    }
    control_shut(ctl);
    ctl->closed = 1;
    maybe_free(ctl);
}
