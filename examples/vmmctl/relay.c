#include "relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEEP_MAX (1u << 20) /* guest output kept while no client is there */
#define RETRY_MS 10         /* guest input buffer full: try again after */

struct client {
    uv_pipe_t pipe;
    struct relay *relay; /* NULL once the relay forgot it */
};

struct relay {
    vmm_vm_t *vm;
    char *name; /* NULL: the console */
    char *path;
    uv_pipe_t server;
    struct client *client; /* the connected one, or NULL */
    uv_timer_t retry;
    /* client bytes the guest did not take yet */
    uint8_t *in;
    size_t in_len;
    /* guest bytes while no client is connected */
    uint8_t *kept;
    size_t kept_len;
    int closing;
    unsigned handles_open; /* server and timer, until their close callbacks */
};

static void on_client_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct relay *r = h->data;
    if (--r->handles_open == 0) {
        free(r->name);
        free(r->path);
        free(r->in);
        free(r->kept);
        free(r);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char storage[65536];
    buf->base = storage;
    buf->len = sizeof(storage);
}

/* Hands r->in to the guest; returns 1 when all of it went. */
static int push_in(struct relay *r)
{
    while (r->in_len) {
        /* Largest piece the guest takes at once: its buffer is 64 KiB. */
        size_t n = r->in_len < 4096 ? r->in_len : 4096;
        int rc = r->name ? vmm_vm_port_write(r->vm, r->name, r->in, n)
                         : vmm_vm_console_write(r->vm, r->in, n);
        if (rc == VMM_EBUSY) {
            /* Part of it may have been queued: the message says how many
             * bytes ("...buffer full: N of M bytes taken..."). */
            size_t taken = 0;
            const char *msg = vmm_last_error();
            const char *colon = strstr(msg, "full: ");
            if (colon)
                taken = strtoull(colon + 6, NULL, 10);
            if (taken > n)
                taken = n;
            memmove(r->in, r->in + taken, r->in_len - taken);
            r->in_len -= taken;
            return 0;
        }
        if (rc) {
            r->in_len = 0; /* the VM is gone or the port is unknown: drop */
            return 1;
        }
        memmove(r->in, r->in + n, r->in_len - n);
        r->in_len -= n;
    }
    return 1;
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_retry(uv_timer_t *t)
{
    struct relay *r = t->data;
    if (!push_in(r))
        return;
    uv_timer_stop(&r->retry);
    if (r->client)
        uv_read_start((uv_stream_t *)&r->client->pipe, alloc_cb, on_client_read);
}

static void drop_client(struct relay *r)
{
    struct client *c = r->client;
    if (!c)
        return;
    r->client = NULL;
    c->relay = NULL;
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct client *c = s->data;
    struct relay *r = c->relay;
    if (!r)
        return;
    if (nread < 0) {
        drop_client(r);
        return;
    }
    if (nread == 0)
        return;
    uint8_t *grown = realloc(r->in, r->in_len + (size_t)nread);
    if (!grown) {
        drop_client(r);
        return;
    }
    r->in = grown;
    memcpy(r->in + r->in_len, buf->base, (size_t)nread);
    r->in_len += (size_t)nread;
    if (!push_in(r)) {
        /* The guest is behind: stop reading the client until it caught up. */
        uv_read_stop(s);
        uv_timer_start(&r->retry, on_retry, RETRY_MS, RETRY_MS);
    }
}

struct write_req {
    uv_write_t req;
    uint8_t data[];
};

static void on_written(uv_write_t *req, int status)
{
    free(req);
}

static void send_to_client(struct relay *r, const uint8_t *data, size_t len)
{
    struct write_req *w = malloc(sizeof(*w) + len);
    if (!w)
        return;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&r->client->pipe, &b, 1, on_written) < 0)
        free(w);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct relay *r = server->data;
    if (status < 0 || r->client || r->closing)
        return; /* a second client waits in the backlog */
    struct client *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    uv_pipe_init(server->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->relay = r;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        return;
    }
    r->client = c;
    if (r->kept_len) {
        send_to_client(r, r->kept, r->kept_len);
        r->kept_len = 0;
    }
    if (!r->in_len) /* else the retry timer resumes reading */
        uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_client_read);
}

void relay_guest_output(struct relay *r, const uint8_t *data, size_t len)
{
    if (r->client) {
        send_to_client(r, data, len);
        return;
    }
    if (r->kept_len + len > KEEP_MAX)
        return; /* nobody listens and the keep buffer is full: dropped */
    uint8_t *grown = realloc(r->kept, r->kept_len + len);
    if (!grown)
        return;
    r->kept = grown;
    memcpy(r->kept + r->kept_len, data, len);
    r->kept_len += len;
}

int relay_open(uv_loop_t *loop, vmm_vm_t *vm, const char *name, const char *path,
               struct relay **out)
{
    struct relay *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    r->vm = vm;
    r->name = name ? strdup(name) : NULL;
    r->path = strdup(path);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path); /* stale: from an earlier run */
    uv_pipe_init(loop, &r->server, 0);
    r->server.data = r;
    uv_timer_init(loop, &r->retry);
    r->retry.data = r;
    r->handles_open = 2;
    int rc = uv_pipe_bind(&r->server, path);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&r->server, 4, on_connection);
    /* The VM, not its sockets, decides how long vmmctl runs. */
    uv_unref((uv_handle_t *)&r->server);
    uv_unref((uv_handle_t *)&r->retry);
    if (rc < 0) {
        fprintf(stderr, "vmmctl: %s %s: socket %s: %s\n", name ? "port" : "console",
                name ? name : "", path, uv_strerror(rc));
        relay_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

struct relay *relay_find(struct relay *const *relays, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++) {
        if (!relays[i])
            continue;
        if (!name ? !relays[i]->name : relays[i]->name && !strcmp(relays[i]->name, name))
            return relays[i];
    }
    return NULL;
}

void relay_close(struct relay *r)
{
    if (!r || r->closing)
        return;
    r->closing = 1;
    unlink(r->path);
    drop_client(r);
    uv_close((uv_handle_t *)&r->retry, on_handle_closed);
    uv_close((uv_handle_t *)&r->server, on_handle_closed);
}
