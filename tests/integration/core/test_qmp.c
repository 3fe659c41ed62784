/* The control socket (vmm/control.h) with a real guest on the soft engine:
 *   test_qmp GUEST.elf [POWERBTN-X86.elf]
 * The guest (tests/guest/core/echo-riscv.S) prints "ready", counts in RAM
 * and echoes console input; 'q' powers it off. The QMP clients are written
 * here: non-blocking sockets read while the test drives the host's loop,
 * since server and clients share this one thread. */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "guest_harness.h"

#define COUNTER_GPA 0x80100000ULL

static const char *guest;
static const char *powerbtn_guest; /* x86, on kvm: tests/guest/core/powerbtn-x86.S */
static char tmpdir[] = "/tmp/libvmm-qmp-XXXXXX";

/* --- a QMP client --- */

struct qc {
    int fd;
    char *buf;
    size_t len, cap;
    int eof;
    json_t *events; /* events read while waiting for replies */
};

static int qc_fill(struct qc *c)
{
    for (;;) {
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 131072;
            c->buf = realloc(c->buf, c->cap);
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            c->eof = 1;
        return 0;
    }
}

/* The next complete line as JSON, or NULL. */
static json_t *qc_take_line(struct qc *c)
{
    if (!c->buf)
        return NULL;
    char *nl = memchr(c->buf, '\n', c->len);
    if (!nl)
        return NULL;
    size_t n = (size_t)(nl - c->buf) + 1;
    json_error_t err;
    json_t *j = json_loadb(c->buf, n, 0, &err);
    if (!j)
        printf("unparsable line from the server: %.*s (%s)\n", (int)n, c->buf, err.text);
    CU_ASSERT_PTR_NOT_NULL(j);
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    return j;
}

static int qc_has_line(struct guest_run *r, const void *arg)
{
    struct qc *c = (struct qc *)arg;
    qc_fill(c);
    return (c->len && memchr(c->buf, '\n', c->len) != NULL) || c->eof;
}

static int qc_is_eof(struct guest_run *r, const void *arg)
{
    struct qc *c = (struct qc *)arg;
    qc_fill(c);
    c->len = 0; /* discard what arrives meanwhile */
    return c->eof;
}

/* Sends everything, driving the loop while the socket is full. */
static int qc_send_raw(struct guest_run *r, struct qc *c, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            uv_run(vmm_host_loop(r->host), UV_RUN_NOWAIT);
            qc_fill(c);
        } else {
            return -1;
        }
    }
    return 0;
}

static struct qc *qc_open_fd(int fd)
{
    struct qc *c = calloc(1, sizeof(*c));
    c->fd = fd;
    c->events = json_array();
    return c;
}

static struct qc *qc_connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CU_ASSERT_FATAL(fd >= 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    /* The listen backlog takes the connection; the loop accepts it later. */
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc)
        printf("connect %s: %s\n", path, strerror(errno));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return qc_open_fd(fd);
}

static void qc_close(struct qc *c)
{
    close(c->fd);
    free(c->buf);
    json_decref(c->events);
    free(c);
}

/* The next message (reply or event) within timeout_ms, or NULL. */
static json_t *qc_next(struct guest_run *r, struct qc *c, unsigned timeout_ms)
{
    json_t *j = qc_take_line(c);
    if (j)
        return j;
    harness_run_until(r, qc_has_line, c, timeout_ms);
    return qc_take_line(c);
}

/* The next reply; events before it go to c->events. */
static json_t *qc_reply(struct guest_run *r, struct qc *c)
{
    for (;;) {
        json_t *j = qc_next(r, c, 10000);
        if (!j)
            return NULL;
        if (!json_object_get(j, "event"))
            return j;
        json_array_append_new(c->events, j);
    }
}

/* Sends one request and returns its reply. */
static json_t *qc_cmd(struct guest_run *r, struct qc *c, const char *request)
{
    CU_ASSERT_EQUAL(qc_send_raw(r, c, request, strlen(request)), 0);
    CU_ASSERT_EQUAL(qc_send_raw(r, c, "\n", 1), 0);
    json_t *reply = qc_reply(r, c);
    if (!reply)
        printf("no reply to %s\n", request);
    CU_ASSERT_PTR_NOT_NULL(reply);
    return reply;
}

static int is_return(json_t *reply)
{
    return reply && json_object_get(reply, "return") != NULL;
}

/* class of an error reply, or "" */
static const char *error_class(json_t *reply)
{
    const char *s = json_string_value(json_object_get(json_object_get(reply, "error"), "class"));
    return s ? s : "";
}

static const char *error_desc(json_t *reply)
{
    const char *s = json_string_value(json_object_get(json_object_get(reply, "error"), "desc"));
    return s ? s : "";
}

/* Reads the greeting and negotiates. */
static void qc_negotiate(struct guest_run *r, struct qc *c)
{
    json_t *greeting = qc_next(r, c, 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(greeting);
    CU_ASSERT_PTR_NOT_NULL(json_object_get(greeting, "QMP"));
    json_decref(greeting);
    json_t *reply = qc_cmd(r, c, "{\"execute\": \"qmp_capabilities\"}");
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);
}

/* The first event named `name` already read or arriving within timeout_ms
 * (removed from c->events), or NULL. */
static json_t *qc_event(struct guest_run *r, struct qc *c, const char *name, unsigned timeout_ms)
{
    uint64_t deadline = uv_now(vmm_host_loop(r->host)) + timeout_ms;
    for (;;) {
        size_t i;
        json_t *e;
        json_array_foreach(c->events, i, e) {
            if (strcmp(json_string_value(json_object_get(e, "event")), name) == 0) {
                json_incref(e);
                json_array_remove(c->events, i);
                return e;
            }
        }
        uint64_t now = uv_now(vmm_host_loop(r->host));
        if (now >= deadline)
            return NULL;
        json_t *j = qc_next(r, c, (unsigned)(deadline - now));
        if (!j)
            return NULL;
        if (json_object_get(j, "event"))
            json_array_append_new(c->events, j);
        else
            json_decref(j); /* a stray reply */
    }
}

static const char *status_of(struct guest_run *r, struct qc *c)
{
    static char status[32];
    json_t *reply = qc_cmd(r, c, "{\"execute\": \"query-status\"}");
    const char *s = json_string_value(json_object_get(json_object_get(reply, "return"), "status"));
    snprintf(status, sizeof(status), "%s", s ? s : "(none)");
    json_decref(reply);
    return status;
}

/* --- the VM --- */

struct rig {
    struct guest_run *r;
    vmm_control_t *ctl;
    char path[128];
};

static int nr_rigs;

static void rig_boot_on(struct rig *g, const char *engine, const char *kernel, unsigned vcpus)
{
    struct guest_run *r = calloc(1, sizeof(*r));
    g->r = r;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    CU_ASSERT_EQUAL(vmm_config_set_engine(cfg, engine), 0);
    CU_ASSERT_EQUAL(vmm_config_set_kernel(cfg, kernel), 0);
    CU_ASSERT_EQUAL(vmm_config_set_memory(cfg, 64 << 20), 0);
    CU_ASSERT_EQUAL(vmm_config_set_vcpus(cfg, vcpus), 0);
    int rc = vmm_vm_create(r->host, cfg, &r->vm);
    vmm_config_free(cfg);
    if (rc)
        printf("vmm_vm_create: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    vmm_vm_set_event_cb(r->vm, harness_on_event, r);
    snprintf(g->path, sizeof(g->path), "%s/qmp%d.sock", tmpdir, nr_rigs++);
    char address[160];
    snprintf(address, sizeof(address), "unix:%s", g->path);
    rc = vmm_control_listen(r->vm, address, &g->ctl);
    if (rc)
        printf("vmm_control_listen: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(vmm_control_address(g->ctl), address);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(r->vm), 0);
    CU_ASSERT_TRUE(harness_run_until(r, harness_console_has, "ready\n", 20000));
}

static void rig_boot(struct rig *g, unsigned vcpus)
{
    rig_boot_on(g, "soft", guest, vcpus);
}

static void rig_finish(struct rig *g)
{
    vmm_control_close(g->ctl);
    vmm_vm_destroy(g->r->vm);
    CU_ASSERT_EQUAL(vmm_host_free(g->r->host), 0);
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(g->path, &st), 0); /* the socket file is gone */
    free(g->r);
}

static struct qc *rig_client(struct rig *g)
{
    struct qc *c = qc_connect_unix(g->path);
    qc_negotiate(g->r, c);
    return c;
}

static uint64_t counter(struct guest_run *r)
{
    uint64_t v = 0;
    CU_ASSERT_EQUAL(vmm_vm_read_phys(r->vm, COUNTER_GPA, &v, 8), 0);
    return v;
}

static int counter_above(struct guest_run *r, const void *arg)
{
    return counter(r) > *(const uint64_t *)arg;
}

static int console_count(struct guest_run *r, const char *needle)
{
    int n = 0;
    for (const char *p = r->console; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static int ready_twice(struct guest_run *r, const void *unused)
{
    return console_count(r, "ready\n") >= 2;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* --- tests --- */

static void test_greeting_and_capabilities_negotiation(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *c = qc_connect_unix(g.path);
    json_t *greeting = qc_next(g.r, c, 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(greeting);
    json_t *qmp = json_object_get(greeting, "QMP");
    json_t *qemu = json_object_get(json_object_get(qmp, "version"), "qemu");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(qemu, "major")), VMM_VERSION_MAJOR);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(qemu, "minor")), VMM_VERSION_MINOR);
    CU_ASSERT_TRUE(json_is_integer(json_object_get(qemu, "micro")));
    CU_ASSERT_TRUE(json_is_array(json_object_get(qmp, "capabilities")));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(qmp, "capabilities")), 0);
    json_decref(greeting);

    /* Before negotiation every command is CommandNotFound, as in QEMU. */
    json_t *reply = qc_cmd(g.r, c, "{\"execute\": \"query-status\", \"id\": 7}");
    CU_ASSERT_STRING_EQUAL(error_class(reply), "CommandNotFound");
    CU_ASSERT_PTR_NOT_NULL(strstr(error_desc(reply), "qmp_capabilities"));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(reply, "id")), 7);
    json_decref(reply);
    /* No capability is offered. */
    reply = qc_cmd(g.r, c, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}");
    CU_ASSERT_STRING_EQUAL(error_class(reply), "GenericError");
    CU_ASSERT_PTR_NOT_NULL(strstr(error_desc(reply), "oob"));
    json_decref(reply);
    reply = qc_cmd(g.r, c, "{\"execute\": \"qmp_capabilities\", \"id\": {\"any\": [\"json\"]}}");
    CU_ASSERT_TRUE(is_return(reply));
    CU_ASSERT_EQUAL(json_object_size(json_object_get(reply, "return")), 0);
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_array_get(json_object_get(json_object_get(reply, "id"), "any"), 0)),
        "json");
    json_decref(reply);
    reply = qc_cmd(g.r, c, "{\"execute\": \"qmp_capabilities\"}");
    CU_ASSERT_STRING_EQUAL(error_class(reply), "CommandNotFound");
    CU_ASSERT_PTR_NOT_NULL(strstr(error_desc(reply), "already complete"));
    json_decref(reply);
    CU_ASSERT_STRING_EQUAL(status_of(g.r, c), "running");
    CU_ASSERT_EQUAL(vmm_control_client_count(g.ctl), 1);
    qc_close(c);
    rig_finish(&g);
}

static void test_stop_pauses_and_cont_resumes_with_events(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *a = rig_client(&g);
    struct qc *b = rig_client(&g);
    struct qc *raw = qc_connect_unix(g.path); /* never negotiates: gets no events */
    json_t *j = qc_next(g.r, raw, 10000);     /* the greeting */
    json_decref(j);
    uint64_t zero = 0;
    CU_ASSERT_TRUE(harness_run_until(g.r, counter_above, &zero, 20000));

    json_t *reply = qc_cmd(g.r, a, "{\"execute\": \"stop\", \"id\": \"s1\"}");
    CU_ASSERT_TRUE(is_return(reply));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(reply, "id")), "s1");
    json_decref(reply);
    /* The STOP event came before the reply, to both negotiated clients. */
    json_t *ev = qc_event(g.r, a, "STOP", 0);
    CU_ASSERT_PTR_NOT_NULL(ev);
    json_t *ts = json_object_get(ev, "timestamp");
    CU_ASSERT_TRUE(json_integer_value(json_object_get(ts, "seconds")) > 1600000000);
    CU_ASSERT_TRUE(json_is_integer(json_object_get(ts, "microseconds")));
    json_decref(ev);
    ev = qc_event(g.r, b, "STOP", 5000);
    CU_ASSERT_PTR_NOT_NULL(ev);
    json_decref(ev);
    CU_ASSERT_EQUAL(vmm_vm_state(g.r->vm), VMM_STATE_PAUSED);
    CU_ASSERT_EQUAL(g.r->last_state, VMM_STATE_PAUSED); /* the program's callback still runs */

    reply = qc_cmd(g.r, a, "{\"execute\": \"query-status\"}");
    json_t *ret = json_object_get(reply, "return");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ret, "status")), "paused");
    CU_ASSERT_TRUE(json_is_false(json_object_get(ret, "running")));
    CU_ASSERT_TRUE(json_is_false(json_object_get(ret, "singlestep")));
    json_decref(reply);
    uint64_t c1 = counter(g.r);
    sleep_ms(100);
    CU_ASSERT_EQUAL(counter(g.r), c1);

    /* stop on a paused VM: {} and no second event, as QEMU. */
    reply = qc_cmd(g.r, b, "{\"execute\": \"stop\"}");
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);

    reply = qc_cmd(g.r, b, "{\"execute\": \"cont\"}");
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);
    ev = qc_event(g.r, b, "RESUME", 0);
    CU_ASSERT_PTR_NOT_NULL(ev);
    json_decref(ev);
    ev = qc_event(g.r, a, "RESUME", 5000);
    CU_ASSERT_PTR_NOT_NULL(ev);
    json_decref(ev);
    CU_ASSERT_EQUAL(json_array_size(a->events), 0); /* exactly one STOP, one RESUME */
    CU_ASSERT_STRING_EQUAL(status_of(g.r, a), "running");
    CU_ASSERT_TRUE(harness_run_until(g.r, counter_above, &c1, 20000));
    reply = qc_cmd(g.r, a, "{\"execute\": \"cont\"}"); /* already running: {} */
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);

    /* Two stops sent back to back: both answered after the one STOP. */
    const char *two = "{\"execute\": \"stop\", \"id\": 1}{\"execute\": \"stop\", \"id\": 2}\n";
    CU_ASSERT_EQUAL(qc_send_raw(g.r, a, two, strlen(two)), 0);
    json_t *r1 = qc_reply(g.r, a), *r2 = qc_reply(g.r, a);
    CU_ASSERT_TRUE(is_return(r1) && is_return(r2));
    json_decref(r1);
    json_decref(r2);
    ev = qc_event(g.r, a, "STOP", 0);
    CU_ASSERT_PTR_NOT_NULL(ev);
    json_decref(ev);
    CU_ASSERT_EQUAL(json_array_size(a->events), 0);

    /* The client that never negotiated saw none of it. */
    CU_ASSERT_FALSE(qc_has_line(g.r, raw));
    qc_close(raw);
    qc_close(a);
    qc_close(b);
    rig_finish(&g);
}

static void test_query_cpus_fast_version_and_commands(void)
{
    struct rig g;
    rig_boot(&g, 2);
    struct qc *c = rig_client(&g);
    json_t *reply = qc_cmd(g.r, c, "{\"execute\": \"query-cpus-fast\"}");
    json_t *cpus = json_object_get(reply, "return");
    CU_ASSERT_EQUAL_FATAL(json_array_size(cpus), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *cpu = json_array_get(cpus, i);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(cpu, "cpu-index")), (json_int_t)i);
        json_int_t tid = json_integer_value(json_object_get(cpu, "thread-id"));
        if (!(tid > 0 && tid != getpid()))
            printf("\ncpu %zu thread-id %lld (pid %d)\n", i, (long long)tid, (int)getpid());
        CU_ASSERT_TRUE(tid > 0 && tid != getpid());
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(cpu, "target")), "riscv64");
        CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(cpu, "qom-path")), "/machine"));
        CU_ASSERT_TRUE(json_is_object(json_object_get(cpu, "props")));
    }
    /* Soft-engine vCPUs run on the host's scheduler workers, so a thread-id
     * is the worker that last ran the vCPU (two vCPUs may share one): it
     * must be a thread of this process. */
    for (size_t i = 0; i < 2; i++) {
        char task[64];
        snprintf(task, sizeof(task), "/proc/self/task/%lld",
                 (long long)json_integer_value(
                     json_object_get(json_array_get(cpus, i), "thread-id")));
        CU_ASSERT_EQUAL(access(task, F_OK), 0);
    }
    json_decref(reply);

    reply = qc_cmd(g.r, c, "{\"execute\": \"query-version\"}");
    json_t *qemu = json_object_get(json_object_get(reply, "return"), "qemu");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(qemu, "major")), VMM_VERSION_MAJOR);
    CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(json_object_get(reply, "return"),
                                                                    "package")), "libvmm"));
    json_decref(reply);

    reply = qc_cmd(g.r, c, "{\"execute\": \"query-commands\"}");
    json_t *list = json_object_get(reply, "return");
    int has_status = 0, has_quit = 0, has_migrate = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        has_status |= strcmp(name, "query-status") == 0;
        has_quit |= strcmp(name, "quit") == 0;
        has_migrate |= strncmp(name, "migrate", 7) == 0 || strcmp(name, "query-migrate") == 0;
    }
    CU_ASSERT_TRUE(has_status && has_quit);
    CU_ASSERT_TRUE(has_migrate);
    json_decref(reply);
    qc_close(c);
    rig_finish(&g);
}

static void test_bad_requests_and_migrate_get_qmp_errors(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *c = rig_client(&g);
    static const struct {
        const char *request, *cls, *desc;
    } cases[] = {
        /* Nothing listens on port 1: the source stays as it is. */
        { "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:1\"}}",
          "GenericError", "connecting to 'tcp:127.0.0.1:1'" },
        { "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"ftp:x\"}}", "GenericError",
          "expected tcp:HOST:PORT, unix:PATH or file:PATH" },
        { "{\"execute\": \"migrate\"}", "GenericError", "Parameter 'uri' is missing" },
        { "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": -5}}",
          "GenericError", "expects a positive integer" },
        { "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"x-bogus\": 1}}",
          "GenericError", "Parameter 'x-bogus' is not supported" },
        { "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"max-cpu-throttle\": 100}}",
          "GenericError", "'max-cpu-throttle' expects a percentage 1..99, got 100" },
        { "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"cpu-throttle-initial\": 30, "
          "\"cpu-throttle-increment\": 5, \"max-cpu-throttle\": 90}}", NULL, NULL },
        { "{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": "
          "[{\"capability\": \"xbzrle\", \"state\": true}]}}",
          "GenericError", "Capability 'xbzrle' is not supported" },
        { "{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": "
          "[{\"capability\": \"auto-converge\", \"state\": 1}]}}",
          "GenericError", "capabilities[0] needs 'capability' (string) and 'state' (bool)" },
        { "{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": "
          "[{\"capability\": \"auto-converge\", \"state\": false}]}}", NULL, NULL },
        { "{\"execute\": \"no-such-command\"}", "CommandNotFound",
          "The command no-such-command has not been found" },
        { "[1, 2]", "GenericError", "must be a JSON object" },
        { "42", "GenericError", "must be a JSON object" },
        { "{\"arguments\": {}}", "GenericError", "lacks member 'execute'" },
        { "{\"execute\": 1}", "GenericError", "'execute' must be a string" },
        { "{\"execute\": \"stop\", \"arguments\": []}", "GenericError", "must be an object" },
        { "{\"execute\": \"stop\", \"bogus\": 1}", "GenericError", "'bogus' is unexpected" },
        { "{\"execute\": \"query-status\", \"arguments\": {\"x\": 1}}", "GenericError",
          "Parameter 'x' is unexpected" },
        { "{\"execute\": \"system_powerdown\"}", "GenericError", "no power button" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *reply = qc_cmd(g.r, c, cases[i].request);
        if (!cases[i].cls) { /* accepted */
            CU_ASSERT_TRUE(is_return(reply));
            json_decref(reply);
            continue;
        }
        if (strcmp(error_class(reply), cases[i].cls) || !strstr(error_desc(reply), cases[i].desc))
            printf("\n%s -> %s: %s\n", cases[i].request, error_class(reply), error_desc(reply));
        CU_ASSERT_STRING_EQUAL(error_class(reply), cases[i].cls);
        CU_ASSERT_PTR_NOT_NULL(strstr(error_desc(reply), cases[i].desc));
        json_decref(reply);
    }
    CU_ASSERT_STRING_EQUAL(status_of(g.r, c), "running");
    qc_close(c);
    rig_finish(&g);
}

static void test_system_reset_restarts_the_guest_whatever_on_reboot_says(void)
{
    struct rig g;
    rig_boot(&g, 1); /* on_reboot is destroy: a guest reboot would end the VM */
    struct qc *c = rig_client(&g);
    json_t *reply = qc_cmd(g.r, c, "{\"execute\": \"system_reset\"}");
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);
    json_t *ev = qc_event(g.r, c, "RESET", 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    json_t *data = json_object_get(ev, "data");
    CU_ASSERT_TRUE(json_is_false(json_object_get(data, "guest")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(data, "reason")), "host-qmp-system-reset");
    json_decref(ev);
    CU_ASSERT_TRUE(harness_run_until(g.r, ready_twice, NULL, 20000));
    CU_ASSERT_EQUAL(vmm_vm_state(g.r->vm), VMM_STATE_RUNNING);
    CU_ASSERT_EQUAL(g.r->restarts, 1);
    CU_ASSERT_EQUAL(g.r->restart_cause, VMM_OUTCOME_RESET);
    CU_ASSERT_STRING_EQUAL(status_of(g.r, c), "running");
    CU_ASSERT_PTR_NULL(qc_event(g.r, c, "SHUTDOWN", 0));
    qc_close(c);
    rig_finish(&g);
}

static void test_system_reset_of_a_paused_vm_leaves_it_paused(void)
{
    struct rig g;
    rig_boot(&g, 2);
    struct qc *c = rig_client(&g);
    uint64_t zero = 0;
    CU_ASSERT_TRUE(harness_run_until(g.r, counter_above, &zero, 20000));
    json_t *reply = qc_cmd(g.r, c, "{\"execute\": \"stop\"}");
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);
    reply = qc_cmd(g.r, c, "{\"execute\": \"system_reset\"}");
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);
    json_t *ev = qc_event(g.r, c, "RESET", 10000);
    CU_ASSERT_PTR_NOT_NULL(ev);
    json_decref(ev);
    /* RAM was reloaded (the counter is back to 0) and no guest code runs. */
    CU_ASSERT_STRING_EQUAL(status_of(g.r, c), "paused");
    CU_ASSERT_EQUAL(counter(g.r), 0);
    sleep_ms(100);
    CU_ASSERT_EQUAL(counter(g.r), 0);
    CU_ASSERT_EQUAL(console_count(g.r, "ready\n"), 1);
    reply = qc_cmd(g.r, c, "{\"execute\": \"cont\"}");
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);
    CU_ASSERT_TRUE(harness_run_until(g.r, ready_twice, NULL, 20000));
    CU_ASSERT_TRUE(harness_run_until(g.r, counter_above, &zero, 20000));
    qc_close(c);
    rig_finish(&g);
}

static void test_quit_ends_the_vm_with_a_shutdown_event(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *c = rig_client(&g);
    CU_ASSERT_EQUAL(vmm_control_quit_requested(g.ctl), 0);
    json_t *reply = qc_cmd(g.r, c, "{\"execute\": \"quit\"}");
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);
    json_t *ev = qc_event(g.r, c, "SHUTDOWN", 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    json_t *data = json_object_get(ev, "data");
    CU_ASSERT_TRUE(json_is_false(json_object_get(data, "guest")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(data, "reason")), "host-qmp-quit");
    json_decref(ev);
    CU_ASSERT_TRUE(harness_run_until(g.r, harness_is_final, NULL, 10000));
    vmm_outcome_t o = { .size = sizeof(o) };
    vmm_vm_outcome(g.r->vm, &o);
    CU_ASSERT_EQUAL(o.kind, VMM_OUTCOME_STOPPED);
    CU_ASSERT_EQUAL(vmm_control_quit_requested(g.ctl), 1);
    /* The server still answers about a VM that ended. */
    CU_ASSERT_STRING_EQUAL(status_of(g.r, c), "shutdown");
    reply = qc_cmd(g.r, c, "{\"execute\": \"cont\"}");
    CU_ASSERT_STRING_EQUAL(error_class(reply), "GenericError");
    json_decref(reply);
    qc_close(c);
    rig_finish(&g);
}

static void test_guest_poweroff_is_a_guest_shutdown_event(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *c = rig_client(&g);
    CU_ASSERT_EQUAL(vmm_vm_console_write(g.r->vm, "q", 1), 0);
    json_t *ev = qc_event(g.r, c, "SHUTDOWN", 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    json_t *data = json_object_get(ev, "data");
    CU_ASSERT_TRUE(json_is_true(json_object_get(data, "guest")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(data, "reason")), "guest-shutdown");
    json_decref(ev);
    CU_ASSERT_EQUAL(vmm_control_quit_requested(g.ctl), 0);
    qc_close(c);
    rig_finish(&g);
}

static int console_has_button(struct guest_run *r, const void *unused)
{
    return strstr(r->console, "power button\n") != NULL;
}

/* x86 on kvm: system_powerdown sets the ACPI fixed power button's status
 * bit, which the guest polls, acknowledges and answers with an S5
 * power-off, as an OS would. */
static void test_system_powerdown_presses_the_acpi_power_button(void)
{
    if (!powerbtn_guest) {
        printf("skipped (no x86 guest given) ");
        return;
    }
    if (harness_need_kvm() != 0) {
        printf("skipped (kvm) ");
        return;
    }
    struct rig g;
    rig_boot_on(&g, "kvm", powerbtn_guest, 1);
    struct qc *c = rig_client(&g);
    json_t *reply = qc_cmd(g.r, c, "{\"execute\": \"system_powerdown\"}");
    if (!is_return(reply))
        printf("\nsystem_powerdown: %s\n", error_desc(reply));
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);
    json_t *ev = qc_event(g.r, c, "POWERDOWN", 10000);
    CU_ASSERT_PTR_NOT_NULL(ev);
    json_decref(ev);
    CU_ASSERT_TRUE(harness_run_until(g.r, console_has_button, NULL, 20000));
    ev = qc_event(g.r, c, "SHUTDOWN", 20000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ev, "data"), "reason")),
                           "guest-shutdown");
    json_decref(ev);
    CU_ASSERT_TRUE(harness_run_until(g.r, harness_is_final, NULL, 10000));
    vmm_outcome_t o = { .size = sizeof(o) };
    vmm_vm_outcome(g.r->vm, &o);
    CU_ASSERT_EQUAL(o.kind, VMM_OUTCOME_POWEROFF);
    qc_close(c);
    rig_finish(&g);
}

static void test_garbage_gets_a_parse_error_and_the_client_stays(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *c = rig_client(&g);
    static const char *garbage[] = {
        "hello\n",
        "{\"execute\": \"query-\nstatus\"}\n",   /* raw newline in a string */
        "{\"execute\": \"query-status\"\xff",      /* 0xff resets the parser */
        "{\"execute\" \"query-status\"}\n",       /* no colon */
        "}\n",
        "{\"execute\": \"\xc3\x28\"}\n",           /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        CU_ASSERT_EQUAL(qc_send_raw(g.r, c, garbage[i], strlen(garbage[i])), 0);
        const char *sync = "{\"execute\": \"query-status\", \"id\": \"sync\"}\n";
        CU_ASSERT_EQUAL(qc_send_raw(g.r, c, sync, strlen(sync)), 0);
        /* One parse error or more (the rest of a broken request may read
         * as more garbage), then the next request is understood. */
        int errors = 0;
        json_t *reply;
        while ((reply = qc_reply(g.r, c)) && !json_object_get(reply, "id")) {
            CU_ASSERT_STRING_EQUAL(error_class(reply), "GenericError");
            if (!strstr(error_desc(reply), "JSON parse error"))
                printf("\ngarbage %zu -> %s\n", i, error_desc(reply));
            CU_ASSERT_PTR_NOT_NULL(strstr(error_desc(reply), "JSON parse error"));
            errors++;
            json_decref(reply);
        }
        CU_ASSERT_TRUE(errors >= 1 && errors <= 3);
        CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
        CU_ASSERT_TRUE(is_return(reply));
        json_decref(reply);
    }
    /* A request split over many writes, and pretty-printed. */
    const char *split[] = { "{\n  \"exec", "ute\": \"query-", "status\",\n  \"id\": \"x\\\"}\"\n}" };
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(qc_send_raw(g.r, c, split[i], strlen(split[i])), 0);
        uv_run(vmm_host_loop(g.r->host), UV_RUN_NOWAIT);
    }
    json_t *reply = qc_reply(g.r, c);
    CU_ASSERT_TRUE(is_return(reply));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(reply, "id")) ?: "", "x\"}");
    json_decref(reply);
    CU_ASSERT_EQUAL(vmm_control_client_count(g.ctl), 1);
    qc_close(c);
    rig_finish(&g);
}

static void test_oversized_request_disconnects_only_that_client(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *good = rig_client(&g);
    struct qc *big = rig_client(&g);
    const char *head = "{\"execute\": \"query-status\", \"id\": \"";
    CU_ASSERT_EQUAL(qc_send_raw(g.r, big, head, strlen(head)), 0);
    size_t chunk = 65536, sent = 0;
    char *filler = malloc(chunk);
    memset(filler, 'a', chunk);
    /* Up to the limit and a little past it; the server hangs up then. */
    while (sent < VMM_CONTROL_MAX_REQUEST + chunk && !big->eof) {
        if (qc_send_raw(g.r, big, filler, chunk))
            break;
        sent += chunk;
        uv_run(vmm_host_loop(g.r->host), UV_RUN_NOWAIT);
        qc_fill(big);
    }
    free(filler);
    json_t *reply = qc_next(g.r, big, 10000);
    CU_ASSERT_STRING_EQUAL(error_class(reply), "GenericError");
    CU_ASSERT_PTR_NOT_NULL(strstr(error_desc(reply), "larger than the limit"));
    json_decref(reply);
    CU_ASSERT_TRUE(harness_run_until(g.r, qc_is_eof, big, 10000));
    CU_ASSERT_STRING_EQUAL(status_of(g.r, good), "running");
    CU_ASSERT_EQUAL(vmm_control_client_count(g.ctl), 1);
    qc_close(big);
    qc_close(good);
    rig_finish(&g);
}

/* A client pipelining thousands of requests while it reads gets every
 * reply, in order; the guest and the other clients carry on meanwhile. */
static void test_a_flood_of_requests_is_answered_in_order(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *flood = rig_client(&g);
    struct qc *other = rig_client(&g);
    enum { N = 20000 };
    char *batch = malloc(N * 64);
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(batch + len, "{\"execute\":\"query-status\",\"id\":%d}", i);
    uint64_t c0 = counter(g.r);
    CU_ASSERT_EQUAL(qc_send_raw(g.r, flood, batch, len), 0);
    free(batch);
    int next = 0, in_order = 1;
    while (next < N) {
        json_t *reply = qc_next(g.r, flood, 10000);
        if (!reply)
            break;
        if (json_integer_value(json_object_get(reply, "id")) != next || !is_return(reply))
            in_order = 0;
        next++;
        json_decref(reply);
        if (next == N / 2)
            CU_ASSERT_STRING_EQUAL(status_of(g.r, other), "running");
    }
    CU_ASSERT_EQUAL(next, N);
    CU_ASSERT_TRUE(in_order);
    CU_ASSERT_TRUE(harness_run_until(g.r, counter_above, &c0, 10000));
    CU_ASSERT_EQUAL(vmm_control_client_count(g.ctl), 2);
    qc_close(flood);
    qc_close(other);
    rig_finish(&g);
}

static int fewer_clients(struct guest_run *r, const void *arg)
{
    const struct rig *g = arg;
    return vmm_control_client_count(g->ctl) < 2;
}

/* A client that sends and never reads stops being read once its unread
 * replies pass half the output limit, and is disconnected when it still
 * has not read after a few seconds; nobody else notices. */
static void test_a_client_that_never_reads_is_dropped(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *deaf = rig_client(&g);
    struct qc *other = rig_client(&g);
    const char *req = "{\"execute\":\"query-commands\"}{\"execute\":\"query-cpus-fast\"}";
    uv_loop_t *loop = vmm_host_loop(g.r->host);
    size_t sent = 0;
    uint64_t deadline = uv_now(loop) + 30000;
    /* Never reads: only sends, driving the loop. */
    while (vmm_control_client_count(g.ctl) == 2 && uv_now(loop) < deadline) {
        ssize_t n = send(deaf->fd, req, strlen(req), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            break; /* the server hung up on us */
        else
            sleep_ms(1);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    CU_ASSERT_TRUE(harness_run_until(g.r, fewer_clients, &g, 10000));
    CU_ASSERT_EQUAL(vmm_control_client_count(g.ctl), 1);
    CU_ASSERT_TRUE(sent > VMM_CONTROL_MAX_OUTPUT / 100);
    CU_ASSERT_STRING_EQUAL(status_of(g.r, other), "running");
    uint64_t c0 = counter(g.r);
    CU_ASSERT_TRUE(harness_run_until(g.r, counter_above, &c0, 10000));
    qc_close(deaf);
    qc_close(other);
    rig_finish(&g);
}

static int is_paused(struct guest_run *r, const void *unused)
{
    return vmm_vm_state(r->vm) == VMM_STATE_PAUSED;
}

static int no_clients(struct guest_run *r, const void *arg)
{
    const struct rig *g = arg;
    return vmm_control_client_count(g->ctl) == 0;
}

/* Clients that send requests and leave before the replies: the server's
 * writes fail with EPIPE/ECONNRESET, never a SIGPIPE that would kill the
 * program embedding libvmm. */
static void test_clients_leaving_before_their_replies_raise_no_sigpipe(void)
{
    struct rig g;
    rig_boot(&g, 1);
    for (int round = 0; round < 20; round++) {
        struct qc *c = qc_connect_unix(g.path);
        const char *req = "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"query-commands\"}"
                          "{\"execute\":\"query-cpus-fast\"}";
        CU_ASSERT_EQUAL(qc_send_raw(g.r, c, req, strlen(req)), 0);
        if (round % 2)
            uv_run(vmm_host_loop(g.r->host), UV_RUN_NOWAIT); /* greeted, not yet answered */
        qc_close(c);
    }
    /* An event to a client that is gone, too. */
    struct qc *c = rig_client(&g);
    const char *stop = "{\"execute\":\"stop\"}\n";
    CU_ASSERT_EQUAL(qc_send_raw(g.r, c, stop, strlen(stop)), 0);
    qc_close(c);
    CU_ASSERT_TRUE(harness_run_until(g.r, no_clients, &g, 10000));
    CU_ASSERT_TRUE(harness_run_until(g.r, is_paused, NULL, 10000));
    struct qc *d = rig_client(&g);
    CU_ASSERT_STRING_EQUAL(status_of(g.r, d), "paused");
    qc_close(d);
    rig_finish(&g);
}

static void test_many_clients_at_once_and_the_limit(void)
{
    struct rig g;
    rig_boot(&g, 1);
    enum { N = VMM_CONTROL_MAX_CLIENTS };
    struct qc *c[N + 1];
    for (int i = 0; i < N; i++) {
        c[i] = qc_connect_unix(g.path);
        uv_run(vmm_host_loop(g.r->host), UV_RUN_NOWAIT); /* accept as they come */
    }
    /* All of them greeted, then all negotiate and ask at once. */
    for (int i = 0; i < N; i++) {
        json_t *greeting = qc_next(g.r, c[i], 10000);
        CU_ASSERT_PTR_NOT_NULL(json_object_get(greeting, "QMP"));
        json_decref(greeting);
        const char *req = "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"query-status\"}";
        CU_ASSERT_EQUAL(qc_send_raw(g.r, c[i], req, strlen(req)), 0);
    }
    for (int i = 0; i < N; i++) {
        json_t *r1 = qc_reply(g.r, c[i]), *r2 = qc_reply(g.r, c[i]);
        CU_ASSERT_TRUE(is_return(r1));
        CU_ASSERT_STRING_EQUAL(
            json_string_value(json_object_get(json_object_get(r2, "return"), "status")), "running");
        json_decref(r1);
        json_decref(r2);
    }
    CU_ASSERT_EQUAL(vmm_control_client_count(g.ctl), N);
    /* One more is told why and disconnected. */
    c[N] = qc_connect_unix(g.path);
    json_t *reply = qc_next(g.r, c[N], 10000);
    CU_ASSERT_PTR_NOT_NULL(strstr(error_desc(reply), "too many clients"));
    json_decref(reply);
    CU_ASSERT_TRUE(harness_run_until(g.r, qc_is_eof, c[N], 10000));
    qc_close(c[N]);
    /* Events reach every one of them. */
    reply = qc_cmd(g.r, c[0], "{\"execute\":\"stop\"}");
    json_decref(reply);
    for (int i = 0; i < N; i++) {
        json_t *ev = qc_event(g.r, c[i], "STOP", 10000);
        CU_ASSERT_PTR_NOT_NULL(ev);
        json_decref(ev);
    }
    /* Closing the server disconnects them all. */
    vmm_control_close(g.ctl);
    g.ctl = NULL;
    for (int i = 0; i < N; i++) {
        CU_ASSERT_TRUE(harness_run_until(g.r, qc_is_eof, c[i], 10000));
        qc_close(c[i]);
    }
    rig_finish(&g);
}

static void test_destroying_the_vm_first_disconnects_clients(void)
{
    struct rig g;
    rig_boot(&g, 1);
    struct qc *c = rig_client(&g);
    /* A stop in flight when the VM goes: nothing dangles. */
    const char *req = "{\"execute\":\"stop\"}\n";
    CU_ASSERT_EQUAL(qc_send_raw(g.r, c, req, strlen(req)), 0);
    vmm_vm_destroy(g.r->vm);
    CU_ASSERT_TRUE(harness_run_until(g.r, qc_is_eof, c, 10000));
    qc_close(c);
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(g.path, &st), 0);
    CU_ASSERT_EQUAL(vmm_host_free(g.r->host), 0); /* no VM left */
    vmm_control_close(g.ctl); /* still required, after the host is gone too */
    free(g.r);
}

static void test_listen_refuses_bad_addresses(void)
{
    struct rig g;
    rig_boot(&g, 1);
    vmm_control_t *ctl = (vmm_control_t *)1;
    CU_ASSERT_EQUAL(vmm_control_listen(g.r->vm, "pipe:/tmp/x", &ctl), VMM_EINVAL);
    CU_ASSERT_PTR_NULL(ctl);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "unix:PATH"));
    CU_ASSERT_EQUAL(vmm_control_listen(g.r->vm, "unix:", &ctl), VMM_EINVAL);
    char longpath[300] = "unix:/tmp/";
    memset(longpath + 10, 'x', 200);
    longpath[210] = '\0';
    CU_ASSERT_EQUAL(vmm_control_listen(g.r->vm, longpath, &ctl), VMM_ERANGE);
    /* A live server's socket is not taken over; a regular file is not replaced. */
    char address[200];
    snprintf(address, sizeof(address), "unix:%s", g.path);
    CU_ASSERT_EQUAL(vmm_control_listen(g.r->vm, address, &ctl), VMM_EBUSY);
    char file[160];
    snprintf(file, sizeof(file), "%s/regular", tmpdir);
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(address, sizeof(address), "unix:%s", file);
    CU_ASSERT_EQUAL(vmm_control_listen(g.r->vm, address, &ctl), VMM_EBUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "not a socket"));
    unlink(file);
    CU_ASSERT_EQUAL(vmm_control_listen(g.r->vm, "tcp:nohost:1", &ctl), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_control_listen(g.r->vm, "tcp:127.0.0.1:99999", &ctl), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_control_listen(NULL, "unix:/tmp/x", &ctl), VMM_EINVAL);

    /* TCP on a port the system picks, and a second server on the same VM. */
    CU_ASSERT_EQUAL_FATAL(vmm_control_listen(g.r->vm, "tcp:127.0.0.1:0", &ctl), 0);
    const char *bound = vmm_control_address(ctl);
    CU_ASSERT_EQUAL(strncmp(bound, "tcp:127.0.0.1:", 14), 0);
    int port = atoi(bound + 14);
    CU_ASSERT_TRUE(port > 0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    struct qc *c = qc_open_fd(fd);
    qc_negotiate(g.r, c);
    struct qc *u = rig_client(&g);
    json_t *reply = qc_cmd(g.r, c, "{\"execute\":\"stop\"}");
    CU_ASSERT_TRUE(is_return(reply));
    json_decref(reply);
    json_t *ev = qc_event(g.r, u, "STOP", 10000); /* both servers see the VM's events */
    CU_ASSERT_PTR_NOT_NULL(ev);
    json_decref(ev);
    vmm_control_close(ctl);
    CU_ASSERT_TRUE(harness_run_until(g.r, qc_is_eof, c, 10000));
    CU_ASSERT_STRING_EQUAL(status_of(g.r, u), "paused");
    qc_close(c);
    qc_close(u);
    rig_finish(&g);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s GUEST.elf [POWERBTN-X86.elf]\n", argv[0]);
        return 2;
    }
    guest = argv[1];
    powerbtn_guest = argc == 3 ? argv[2] : NULL;
    /* SIGPIPE keeps its default action: the server writing to a client that
     * left must not raise it in the program (the clients here send with
     * MSG_NOSIGNAL). */
    signal(SIGPIPE, SIG_DFL);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("qmp", NULL, NULL);
    CU_add_test(s, "greeting and capabilities negotiation", test_greeting_and_capabilities_negotiation);
    CU_add_test(s, "stop pauses, cont resumes, with events", test_stop_pauses_and_cont_resumes_with_events);
    CU_add_test(s, "query-cpus-fast, query-version, query-commands", test_query_cpus_fast_version_and_commands);
    CU_add_test(s, "bad requests and migrate get QMP errors", test_bad_requests_and_migrate_get_qmp_errors);
    CU_add_test(s, "system_reset restarts the guest whatever on_reboot says",
                test_system_reset_restarts_the_guest_whatever_on_reboot_says);
    CU_add_test(s, "system_reset of a paused VM leaves it paused", test_system_reset_of_a_paused_vm_leaves_it_paused);
    CU_add_test(s, "quit ends the VM with a SHUTDOWN event", test_quit_ends_the_vm_with_a_shutdown_event);
    CU_add_test(s, "guest poweroff is a guest SHUTDOWN event", test_guest_poweroff_is_a_guest_shutdown_event);
    CU_add_test(s, "system_powerdown presses the ACPI power button (x86, kvm)",
                test_system_powerdown_presses_the_acpi_power_button);
    CU_add_test(s, "garbage gets a parse error and the client stays", test_garbage_gets_a_parse_error_and_the_client_stays);
    CU_add_test(s, "oversized request disconnects only that client", test_oversized_request_disconnects_only_that_client);
    CU_add_test(s, "a flood of requests is answered in order", test_a_flood_of_requests_is_answered_in_order);
    CU_add_test(s, "a client that never reads is dropped", test_a_client_that_never_reads_is_dropped);
    CU_add_test(s, "clients leaving before their replies raise no SIGPIPE",
                test_clients_leaving_before_their_replies_raise_no_sigpipe);
    CU_add_test(s, "many clients at once, and the limit", test_many_clients_at_once_and_the_limit);
    CU_add_test(s, "destroying the VM first disconnects clients", test_destroying_the_vm_first_disconnects_clients);
    CU_add_test(s, "listen refuses bad addresses; TCP; two servers", test_listen_refuses_bad_addresses);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    rmdir(tmpdir);
    return failed ? 1 : 0;
}
