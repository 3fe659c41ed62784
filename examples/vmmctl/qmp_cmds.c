/* vmmctl's QMP side: the --qmp option of `run` (a server, QEMU's
 * -qmp syntax) and `vmmctl qmp`, a one-shot client. */
#include "qmp_cmds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* --- run --qmp --- */

static char *qmp_address; /* unix:PATH or tcp:HOST:PORT */
static int qmp_wait;
static vmm_control_t *qmp_ctl;

int vmmctl_qmp_option(const char *arg)
{
    char *copy = strdup(arg);
    if (!copy)
        return 2;
    char *save = NULL;
    char *address = strtok_r(copy, ",", &save);
    int server = 0, wait = 1, status = 0;
    for (char *opt; !status && (opt = strtok_r(NULL, ",", &save));) {
        if (strcmp(opt, "server") == 0 || strcmp(opt, "server=on") == 0) {
            server = 1;
        } else if (strcmp(opt, "server=off") == 0) {
            server = 0;
        } else if (strcmp(opt, "wait=off") == 0 || strcmp(opt, "nowait") == 0) {
            wait = 0;
        } else if (strcmp(opt, "wait=on") == 0 || strcmp(opt, "wait") == 0) {
            wait = 1;
        } else {
            fprintf(stderr, "vmmctl: --qmp '%s': unknown option '%s' (server[=on], wait=on|off)\n",
                    arg, opt);
            status = 2;
        }
    }
    if (!status && (!address || (strncmp(address, "unix:", 5) && strncmp(address, "tcp:", 4)))) {
        fprintf(stderr, "vmmctl: --qmp '%s': the address must be unix:PATH or tcp:HOST:PORT\n", arg);
        status = 2;
    }
    if (!status && !server) {
        fprintf(stderr, "vmmctl: --qmp '%s': only a listening socket is offered: add ',server' "
                        "(e.g. unix:/tmp/vm.qmp,server,wait=off)\n", arg);
        status = 2;
    }
    if (!status) {
        free(qmp_address);
        qmp_address = strdup(address);
        qmp_wait = wait;
    }
    free(copy);
    return status;
}

static void tick(uv_timer_t *t)
{
    (void)t;
}

int vmmctl_qmp_listen(vmm_host_t *host, vmm_vm_t *vm)
{
    if (!qmp_address)
        return 0;
    int rc = vmm_control_listen(vm, qmp_address, &qmp_ctl);
    if (rc) {
        fprintf(stderr, "vmmctl: --qmp: %s\n", vmm_last_error());
        return 2;
    }
    if (!qmp_wait)
        return 0;
    /* QEMU's wait=on: the guest starts once a client has connected. The
     * server's handles do not keep the loop alive; a timer does meanwhile. */
    fprintf(stderr, "vmmctl: waiting for a QMP client on %s\n", vmm_control_address(qmp_ctl));
    uv_loop_t *loop = vmm_host_loop(host);
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, tick, 200, 200);
    while (vmm_control_client_count(qmp_ctl) == 0)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return 0;
}

int vmmctl_qmp_quit_requested(void)
{
    return qmp_ctl && vmm_control_quit_requested(qmp_ctl);
}

void vmmctl_qmp_postmigrate(vmm_host_t *host, vmm_vm_t *vm)
{
    vmm_outcome_t o = { .size = sizeof(o) };
    vmm_vm_outcome(vm, &o);
    if (!qmp_ctl || o.kind != VMM_OUTCOME_STOPPED || strcmp(o.reason, "migrated"))
        return;
    /* As QEMU after a migration: the source stays (status "postmigrate")
     * so a client can read query-migrate's figures, until it sends quit. */
    fprintf(stderr, "vmmctl: migrated; QMP stays open until quit\n");
    uv_loop_t *loop = vmm_host_loop(host);
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, tick, 200, 200);
    while (!vmm_control_quit_requested(qmp_ctl))
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

void vmmctl_qmp_close(void)
{
    vmm_control_close(qmp_ctl);
    qmp_ctl = NULL;
}

/* --- vmmctl qmp --- */

struct conn {
    int fd;
    char buf[1 << 16];
    size_t len;
    int timeout_ms;
};

static int connect_to(const char *address)
{
    if (strncmp(address, "tcp:", 4) == 0) {
        char host[256];
        const char *hp = address + 4, *colon = strrchr(hp, ':');
        if (!colon || (size_t)(colon - hp) >= sizeof(host)) {
            fprintf(stderr, "vmmctl: qmp: '%s' is not tcp:HOST:PORT\n", address);
            return -1;
        }
        size_t hlen = (size_t)(colon - hp);
        if (hlen >= 2 && hp[0] == '[' && hp[hlen - 1] == ']') {
            hp++;
            hlen -= 2;
        }
        memcpy(host, hp, hlen);
        host[hlen] = '\0';
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
        int rc = getaddrinfo(host, colon + 1, &hints, &res);
        if (rc) {
            fprintf(stderr, "vmmctl: qmp: %s: %s\n", address, gai_strerror(rc));
            return -1;
        }
        int fd = -1;
        for (ai = res; ai && fd < 0; ai = ai->ai_next) {
            fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                close(fd);
                fd = -1;
            }
        }
        int err = errno;
        freeaddrinfo(res);
        if (fd < 0)
            fprintf(stderr, "vmmctl: qmp: connecting to %s: %s\n", address, strerror(err));
        return fd;
    }
    const char *path = strncmp(address, "unix:", 5) == 0 ? address + 5 : address;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "vmmctl: qmp: socket path '%s' is too long\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "vmmctl: qmp: connecting to %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The next message from the server, or NULL with a message on stderr. */
static json_t *read_message(struct conn *c)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf) + 1;
            json_error_t err;
            json_t *j = json_loadb(c->buf, n, 0, &err);
            memmove(c->buf, c->buf + n, c->len - n);
            c->len -= n;
            if (!j)
                fprintf(stderr, "vmmctl: qmp: the server sent what is not JSON: %s\n", err.text);
            return j;
        }
        if (c->len == sizeof(c->buf)) {
            fprintf(stderr, "vmmctl: qmp: a message longer than %zu bytes\n", sizeof(c->buf));
            return NULL;
        }
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        int rc = poll(&p, 1, c->timeout_ms);
        if (rc == 0) {
            fprintf(stderr, "vmmctl: qmp: no answer within %d s\n", c->timeout_ms / 1000);
            return NULL;
        }
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "vmmctl: qmp: poll: %s\n", strerror(errno));
            return NULL;
        }
        ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            fprintf(stderr, "vmmctl: qmp: the server closed the connection%s%s\n",
                    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
            return NULL;
        }
        c->len += (size_t)n;
    }
}

/* Sends a request and returns its reply (events before it are skipped). */
static json_t *request(struct conn *c, json_t *req)
{
    char *text = json_dumps(req, JSON_COMPACT);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps' NUL becomes the line end */
    const char *p = text;
    size_t left = len + 1;
    while (left) {
        ssize_t n = send(c->fd, p, left, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "vmmctl: qmp: sending: %s\n", strerror(errno));
            free(text);
            return NULL;
        }
        p += n;
        left -= (size_t)n;
    }
    free(text);
    for (;;) {
        json_t *msg = read_message(c);
        if (!msg || !json_object_get(msg, "event"))
            return msg;
        json_decref(msg);
    }
}

static void qmp_usage(FILE *f)
{
    fprintf(f, "usage: vmmctl qmp [--timeout SEC] ADDRESS COMMAND [JSON-ARGUMENTS]\n"
               "ADDRESS is a Unix socket path, unix:PATH or tcp:HOST:PORT; e.g.\n"
               "  vmmctl qmp /tmp/vm.qmp query-status\n"
               "  vmmctl qmp unix:/tmp/vm.qmp migrate '{\"uri\": \"tcp:host:4444\"}'\n"
               "Prints the reply; exits 0 for a return, 1 for an error, 2 otherwise.\n");
}

static void (*reply_printer)(json_t *reply);

void vmmctl_qmp_set_printer(void (*print)(json_t *reply))
{
    reply_printer = print;
}

int vmmctl_cmd_qmp(int argc, char **argv)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return 2;
    c->timeout_ms = 30000;
    c->fd = -1;
    int i = 1;
    if (i < argc && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)) {
        qmp_usage(stdout);
        free(c);
        return 0;
    }
    if (i + 1 < argc && strcmp(argv[i], "--timeout") == 0) {
        char *end;
        long sec = strtol(argv[i + 1], &end, 10);
        if (*end || sec <= 0 || sec > 86400) {
            fprintf(stderr, "vmmctl: qmp: --timeout '%s' is not 1..86400 seconds\n", argv[i + 1]);
            free(c);
            return 2;
        }
        c->timeout_ms = (int)sec * 1000;
        i += 2;
    }
    if (argc - i < 2 || argc - i > 3) {
        qmp_usage(stderr);
        free(c);
        return 2;
    }
    const char *address = argv[i], *command = argv[i + 1];
    json_t *args = NULL;
    if (argc - i == 3) {
        json_error_t err;
        args = json_loads(argv[i + 2], 0, &err);
        if (!json_is_object(args)) {
            fprintf(stderr, "vmmctl: qmp: the arguments must be a JSON object%s%s\n",
                    args ? "" : ": ", args ? "" : err.text);
            json_decref(args);
            free(c);
            return 2;
        }
    }
    int status = 2;
    json_t *greeting = NULL, *reply = NULL, *req = NULL;
    if ((c->fd = connect_to(address)) < 0)
        goto out;
    greeting = read_message(c);
    if (!greeting || !json_object_get(greeting, "QMP")) {
        fprintf(stderr, "vmmctl: qmp: %s did not greet as a QMP server\n", address);
        goto out;
    }
    req = json_pack("{s:s}", "execute", "qmp_capabilities");
    reply = request(c, req);
    json_decref(req);
    if (!reply)
        goto out;
    if (!json_object_get(reply, "return")) {
        char *text = json_dumps(reply, 0);
        fprintf(stderr, "vmmctl: qmp: capabilities negotiation failed: %s\n", text ? text : "");
        free(text);
        goto out;
    }
    json_decref(reply);
    req = json_pack("{s:s,s:s}", "execute", command, "id", "vmmctl");
    if (args)
        json_object_set(req, "arguments", args);
    reply = request(c, req);
    json_decref(req);
    if (!reply)
        goto out;
    if (reply_printer) {
        reply_printer(reply);
    } else {
        char *text = json_dumps(reply, 0);
        printf("%s\n", text ? text : "");
        free(text);
    }
    json_t *error = json_object_get(reply, "error");
    if (error) {
        fprintf(stderr, "vmmctl: qmp: %s: %s: %s\n", command,
                json_string_value(json_object_get(error, "class")),
                json_string_value(json_object_get(error, "desc")));
        status = 1;
    } else {
        status = 0;
    }
out:
    json_decref(greeting);
    json_decref(reply);
    json_decref(args);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return status;
}
