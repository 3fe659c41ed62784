/* The migration commands of the control socket, on vmm/snapshot.h:
 *   migrate {"uri": "tcp:HOST:PORT" | "unix:PATH" | "file:PATH"}
 *       tcp/unix: a live migration to a destination started with
 *       `vmmctl run ... --incoming URI`; answered at once ({}), progress
 *       by query-migrate and MIGRATION events, as QEMU does.
 *       file: a snapshot (doc/snapshot-format.md), QEMU's migration to a
 *       file: the VM is left paused after it (QEMU's "postmigrate"), and
 *       `--incoming file:PATH` continues it elsewhere.
 *   migrate_cancel, query-migrate (QEMU's fields, cpu-throttle-percentage
 *   while auto-converge holds the guest), migrate-set-parameters
 *   {"downtime-limit": ms, "max-bandwidth": bytes/s, "cpu-throttle-initial",
 *   "cpu-throttle-increment", "max-cpu-throttle": percent},
 *   migrate-set-capabilities [{"capability": "auto-converge", "state": b}].
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/qmp_cmds.h"
#include "core/vm.h"
#include "util/clock.h"
#include "util/error.h"
#include "vmm/snapshot.h"

/* The stream fd of the running migration (closed when it ends). */
struct qmp_migration {
    int fd;                  /* the stream (-1 for a file: migrate) */
    char *path;              /* file: migrate: the snapshot's path */
    struct vmm_control *ctl; /* NULL once the control socket went away */
};

static const char *status_name(vmm_migrate_status_t s)
{
    switch (s) {
    case VMM_MIGRATE_ACTIVE: return "active";
    case VMM_MIGRATE_COMPLETED: return "completed";
    case VMM_MIGRATE_FAILED: return "failed";
    case VMM_MIGRATE_CANCELLED: return "cancelled";
    default: return "none";
    }
}

static void emit_status(struct vmm_control *ctl, const char *status)
{
    if (ctl)
        qmp_event_emit(ctl, "MIGRATION", json_pack("{s:s}", "status", status));
}

static int connect_uri(const char *uri, int *out)
{
    int fd = -1;
    if (strncmp(uri, "unix:", 5) == 0) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if (strlen(uri + 5) >= sizeof(a.sun_path))
            return vmm_error(VMM_EINVAL, "unix socket path '%s' is longer than %zu bytes",
                             uri + 5, sizeof(a.sun_path) - 1);
        strcpy(a.sun_path, uri + 5);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return vmm_error_errno(e, "connecting to '%s'", uri);
        }
    } else if (strncmp(uri, "tcp:", 4) == 0) {
        char host[256];
        const char *colon = strrchr(uri + 4, ':');
        if (!colon || (size_t)(colon - (uri + 4)) >= sizeof(host))
            return vmm_error(VMM_EINVAL, "'%s': expected tcp:HOST:PORT", uri);
        memcpy(host, uri + 4, (size_t)(colon - (uri + 4)));
        host[colon - (uri + 4)] = '\0';
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
        int g = getaddrinfo(host, colon + 1, &hints, &res);
        if (g)
            return vmm_error(VMM_EINVAL, "'%s': %s", uri, gai_strerror(g));
        for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
            fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                close(fd);
                fd = -1;
            }
        }
        freeaddrinfo(res);
        if (fd < 0)
            return vmm_error_errno(errno, "connecting to '%s'", uri);
    } else {
        return vmm_error(VMM_EINVAL, "migration uri '%s': expected tcp:HOST:PORT, unix:PATH or "
                         "file:PATH", uri);
    }
    *out = fd;
    return 0;
}

void qmp_migration_forget(struct vmm_control *ctl)
{
    if (ctl->migration)
        ctl->migration->ctl = NULL;
    ctl->migration = NULL;
}

static void migration_done(vmm_vm_t *vm, int status, void *opaque)
{
    struct qmp_migration *m = opaque;
    close(m->fd);
    vmm_migrate_stats_t st = { .size = sizeof(st) };
    vmm_vm_migrate_stats(vm, &st);
    if (m->ctl) {
        emit_status(m->ctl, status_name(st.status));
        m->ctl->migration = NULL;
    }
    free(m);
}

/* A file: migrate ended (vmm_vm_save_start's callback). */
static void file_done(vmm_vm_t *vm, int status, void *opaque)
{
    struct qmp_migration *m = opaque;
    if (m->ctl) {
        struct stat st;
        /* Bytes on disk: the file is sparse, zero pages take none. */
        m->ctl->file_migrate.bytes =
            status == 0 && stat(m->path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
        m->ctl->file_migrate.failed = status != 0;
        m->ctl->file_migrate.done = 1;
        emit_status(m->ctl, status == 0 ? "completed" : "failed");
        m->ctl->migration = NULL;
    }
    (void)vm;
    free(m->path);
    free(m);
}

/* A migration to a file, i.e. a snapshot: as QEMU, the guest stops and
 * stays paused after; the write runs off the loop (query-migrate, events). */
static void start_file_save(struct qmp_call *call, const char *file, unsigned flags)
{
    vmm_vm_t *vm = call->ctl->vm;
    struct qmp_migration *m = calloc(1, sizeof(*m));
    char *path = strdup(file);
    int rc = m && path ? 0 : vmm_error(VMM_ENOMEM, "out of memory");
    if (rc == 0 && vmm_vm_state(vm) == VMM_STATE_RUNNING)
        rc = vmm_vm_pause(vm);
    if (rc == 0) {
        m->fd = -1;
        m->path = path;
        m->ctl = call->ctl;
        rc = vmm_vm_save_start(vm, path, -1, flags, file_done, m);
    }
    if (rc) {
        qmp_error(call, "GenericError", "%s", vmm_last_error());
        free(path);
        free(m);
        return;
    }
    if (call->ctl->migration)
        call->ctl->migration->ctl = NULL;
    call->ctl->migration = m;
    memset(&call->ctl->file_migrate, 0, sizeof(call->ctl->file_migrate));
    call->ctl->file_migrate.valid = 1;
    emit_status(call->ctl, "active");
    qmp_return(call, NULL);
}

/* x-libvmm-save {"file": PATH, "mode": "full" | "track" | "diff"}: a
 * snapshot like migrate file:, and the diff snapshots QEMU's migrate has no
 * words for (vmm_vm_save_start with VMM_SAVE_TRACK / VMM_SAVE_DIFF). */
static void cmd_libvmm_save(struct qmp_call *call, json_t *args)
{
    const char *file = json_string_value(json_object_get(args, "file"));
    json_t *mode_j = json_object_get(args, "mode");
    const char *mode = mode_j ? json_string_value(mode_j) : "full";
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        if (strcmp(key, "file") && strcmp(key, "mode")) {
            qmp_error(call, "GenericError", "Parameter '%s' is unexpected", key);
            return;
        }
    }
    if (!file || !*file) {
        qmp_error(call, "GenericError", "Parameter 'file' is missing");
        return;
    }
    unsigned flags;
    if (mode && strcmp(mode, "full") == 0)
        flags = 0;
    else if (mode && strcmp(mode, "track") == 0)
        flags = VMM_SAVE_TRACK;
    else if (mode && strcmp(mode, "diff") == 0)
        flags = VMM_SAVE_DIFF;
    else {
        qmp_error(call, "GenericError", "Parameter 'mode' expects \"full\", \"track\" or "
                  "\"diff\"");
        return;
    }
    start_file_save(call, file, flags);
}

static void cmd_migrate(struct qmp_call *call, json_t *args)
{
    const char *uri = json_string_value(json_object_get(args, "uri"));
    if (!uri) {
        qmp_error(call, "GenericError", "Parameter 'uri' is missing");
        return;
    }
    vmm_vm_t *vm = call->ctl->vm;
    if (strncmp(uri, "file:", 5) == 0) {
        start_file_save(call, uri + 5, 0);
        return;
    }
    int fd = -1;
    if (connect_uri(uri, &fd)) {
        qmp_error(call, "GenericError", "%s", vmm_last_error());
        return;
    }
    struct qmp_migration *m = calloc(1, sizeof(*m));
    if (!m) {
        close(fd);
        qmp_error(call, "GenericError", "out of memory");
        return;
    }
    m->fd = fd;
    m->ctl = call->ctl;
    if (vmm_vm_migrate_start(vm, fd, NULL, migration_done, m)) {
        qmp_error(call, "GenericError", "%s", vmm_last_error());
        close(fd);
        free(m);
        return;
    }
    call->ctl->file_migrate.valid = 0;
    if (call->ctl->migration) /* a previous one still reports here: no more */
        call->ctl->migration->ctl = NULL;
    call->ctl->migration = m;
    emit_status(call->ctl, "active");
    qmp_return(call, NULL);
}

static void cmd_migrate_cancel(struct qmp_call *call, json_t *args)
{
    (void)args;
    /* Like QEMU: no error when idle. */
    if (call->ctl->file_migrate.valid)
        vmm_vm_save_cancel(call->ctl->vm);
    else
        vmm_vm_migrate_cancel(call->ctl->vm);
    qmp_return(call, NULL);
}

static void cmd_query_migrate(struct qmp_call *call, json_t *args)
{
    (void)args;
    vmm_migrate_stats_t st = { .size = sizeof(st) };
    vmm_vm_migrate_stats(call->ctl->vm, &st);
    if (call->ctl->file_migrate.valid) {
        /* A file: migrate: the VM is paused for all of it; once done,
         * "transferred" is what the file takes on disk. */
        vmm_vm_save_stats(call->ctl->vm, &st);
        if (call->ctl->file_migrate.done)
            st.ram_transferred = call->ctl->file_migrate.bytes;
    }
    if (st.status == VMM_MIGRATE_NONE) {
        qmp_return(call, json_object());
        return;
    }
    json_t *ram = json_pack("{s:I,s:I,s:I,s:I}", "transferred", (json_int_t)st.ram_transferred,
                            "remaining", (json_int_t)st.ram_remaining, "dirty-pages-rate",
                            (json_int_t)st.dirty_pages_rate, "dirty-sync-count",
                            (json_int_t)st.rounds);
    json_t *r = json_pack("{s:s,s:I,s:I,s:o}", "status", status_name(st.status), "total-time",
                          (json_int_t)st.total_ms, "setup-time", (json_int_t)st.setup_ms, "ram",
                          ram);
    if (st.throttle_pct)
        json_object_set_new(r, "cpu-throttle-percentage",
                            json_integer((json_int_t)st.throttle_pct));
    if (st.status == VMM_MIGRATE_COMPLETED)
        json_object_set_new(r, "downtime", json_integer((json_int_t)st.downtime_ms));
    else
        json_object_set_new(r, "expected-downtime",
                            json_integer((json_int_t)st.expected_downtime_ms));
    qmp_return(call, r);
}

/* migrate-set-parameters: QEMU's names for the fields of
 * vmm_migrate_params_t. Every value is a positive integer; the
 * percentages are checked by the library (1..99). */
static void cmd_migrate_set_parameters(struct qmp_call *call, json_t *args)
{
    static const char *const names[] = { "downtime-limit", "max-bandwidth",
                                         "cpu-throttle-initial", "cpu-throttle-increment",
                                         "max-cpu-throttle" };
    uint64_t val[5] = { 0 };
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        unsigned i = 0;
        while (i < 5 && strcmp(key, names[i]))
            i++;
        if (i == 5) {
            qmp_error(call, "GenericError", "Parameter '%s' is not supported", key);
            return;
        }
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            qmp_error(call, "GenericError", "Parameter '%s' expects a positive integer", key);
            return;
        }
        val[i] = (uint64_t)json_integer_value(v);
    }
    for (unsigned i = 2; i < 5; i++)
        if (val[i] > 99) {
            qmp_error(call, "GenericError", "Parameter '%s' expects a percentage 1..99, got %llu",
                      names[i], (unsigned long long)val[i]);
            return;
        }
    vmm_migrate_params_t p = { .size = sizeof(p), .downtime_limit_ms = val[0],
                               .max_bandwidth = val[1], .throttle_initial = (unsigned)val[2],
                               .throttle_increment = (unsigned)val[3],
                               .throttle_max = (unsigned)val[4] };
    if (vmm_vm_migrate_configure(call->ctl->vm, &p)) {
        qmp_error(call, "GenericError", "%s", vmm_last_error());
        return;
    }
    qmp_return(call, NULL);
}

/* migrate-set-capabilities: only auto-converge means something here (on by
 * default in libvmm, unlike QEMU); other capabilities QEMU knows are refused
 * by name. */
static void cmd_migrate_set_capabilities(struct qmp_call *call, json_t *args)
{
    json_t *caps = json_object_get(args, "capabilities");
    if (!json_is_array(caps) || json_object_size(args) != 1) {
        qmp_error(call, "GenericError",
                  "migrate-set-capabilities takes 'capabilities': [{capability, state}]");
        return;
    }
    int auto_converge = 0;
    size_t i;
    json_t *c;
    json_array_foreach(caps, i, c) {
        json_t *name = json_object_get(c, "capability"), *state = json_object_get(c, "state");
        if (!json_is_string(name) || !json_is_boolean(state)) {
            qmp_error(call, "GenericError",
                      "capabilities[%zu] needs 'capability' (string) and 'state' (bool)", i);
            return;
        }
        if (strcmp(json_string_value(name), "auto-converge")) {
            qmp_error(call, "GenericError", "Capability '%s' is not supported (libvmm has "
                      "auto-converge only)", json_string_value(name));
            return;
        }
        auto_converge = json_is_true(state) ? 1 : -1;
    }
    vmm_migrate_params_t p = { .size = sizeof(p), .auto_converge = auto_converge };
    if (vmm_vm_migrate_configure(call->ctl->vm, &p)) {
        qmp_error(call, "GenericError", "%s", vmm_last_error());
        return;
    }
    qmp_return(call, NULL);
}

const struct qmp_command qmp_migrate_commands[] = {
    { "migrate", cmd_migrate, 0 },
    { "migrate_cancel", cmd_migrate_cancel, QMP_NO_ARGS },
    { "query-migrate", cmd_query_migrate, QMP_NO_ARGS },
    { "migrate-set-parameters", cmd_migrate_set_parameters, 0 },
    { "migrate-set-capabilities", cmd_migrate_set_capabilities, 0 },
    { "x-libvmm-save", cmd_libvmm_save, 0 },
    { NULL, NULL, 0 },
};
