/* QMP requests: checking their shape as QEMU does, capabilities
 * negotiation, the command table and the commands themselves.
 *
 *   qmp_capabilities   {"enable": [...]} optional; no capability is offered
 *   query-status       {"running", "singlestep": false, "status"}
 *   stop               pauses (answers once every vCPU is parked, after
 *                      the STOP event); {} when already paused
 *   cont               resumes a paused VM, starts a defined one; {} when running
 *   system_reset       the guest restarts from reset (RESET event), running
 *                      or paused as it was, whatever the config's on_reboot
 *   system_powerdown   presses the board's power button (POWERDOWN event);
 *                      GenericError on boards without one (riscv64 virt)
 *   quit               stops the VM (outcome STOPPED; SHUTDOWN event with
 *                      reason host-qmp-quit) and marks the quit for the program
 *   query-cpus-fast    one entry per vCPU: cpu-index, qom-path, thread-id
 *                      (kvm: the vCPU's thread; soft: the scheduler worker
 *                      that last ran it), props, target
 *   query-version      libvmm's version in QEMU's shape
 *   query-commands     the commands above (and any implemented in
 *                      qmp_migrate.c)
 */
#include "control/qmp_cmds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vm_hooks.h"
#include "vmm/vmm.h"

/* A stop in flight: vmm_vm_pause_async() completes it; later stops wait
 * with it. Freed by the completion, which always runs. */
struct qmp_pause {
    struct vmm_control *ctl; /* NULL once the server closed */
    struct qmp_call *waiters;
};

/* --- messages --- */

json_t *qmp_greeting(void)
{
    char package[64];
    snprintf(package, sizeof(package), "libvmm %s", vmm_version());
    return json_pack("{s:{s:{s:{s:i,s:i,s:i},s:s},s:[]}}", "QMP", "version", "qemu", "major",
                     VMM_VERSION_MAJOR, "minor", VMM_VERSION_MINOR, "micro", VMM_VERSION_PATCH,
                     "package", package, "capabilities");
}

static json_t *error_message_v(const char *cls, const char *fmt, va_list ap)
{
    char desc[1024];
    vsnprintf(desc, sizeof(desc), fmt, ap);
    json_t *text = json_string(desc);
    if (!text) {
        /* Not UTF-8 (a client's bytes quoted by the parser): keep it ASCII. */
        for (char *p = desc; *p; p++)
            if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
                *p = '?';
        text = json_string(desc);
    }
    return json_pack("{s:{s:s,s:o}}", "error", "class", cls, "desc", text);
}

json_t *qmp_error_message(const char *cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *msg = error_message_v(cls, fmt, ap);
    va_end(ap);
    return msg;
}

/* --- calls --- */

static void call_free(struct qmp_call *call)
{
    if (call->deferred && call->ctl) {
        for (struct qmp_call **p = &call->ctl->deferred; *p; p = &(*p)->next_deferred)
            if (*p == call) {
                *p = call->next_deferred;
                break;
            }
    }
    json_decref(call->id);
    free(call);
}

/* Set while a handler runs: a call answered then is freed by the dispatcher. */
static struct qmp_call *in_handler;

static void answer(struct qmp_call *call, json_t *msg)
{
    if (call->answered) {
        json_decref(msg);
        return;
    }
    call->answered = 1;
    if (msg && call->id)
        json_object_set(msg, "id", call->id);
    if (call->client)
        control_send(call->client, msg);
    else
        json_decref(msg);
    if (call->deferred && call != in_handler)
        call_free(call);
}

void qmp_return(struct qmp_call *call, json_t *value)
{
    json_t *msg = json_object();
    if (msg)
        json_object_set_new(msg, "return", value ? value : json_object());
    else
        json_decref(value);
    answer(call, msg);
}

void qmp_error(struct qmp_call *call, const char *cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *msg = error_message_v(cls, fmt, ap);
    va_end(ap);
    answer(call, msg);
}

void qmp_defer(struct qmp_call *call)
{
    if (call->deferred)
        return;
    call->deferred = 1;
    call->next_deferred = call->ctl->deferred;
    call->ctl->deferred = call;
}

void qmp_client_gone(struct control_client *c)
{
    for (struct qmp_call *call = c->ctl->deferred; call; call = call->next_deferred)
        if (call->client == c)
            call->client = NULL;
}

void qmp_control_gone(struct vmm_control *ctl)
{
    struct qmp_call *call = ctl->deferred;
    ctl->deferred = NULL;
    while (call) {
        struct qmp_call *next = call->next_deferred;
        call->ctl = NULL;
        call->client = NULL;
        call->next_deferred = NULL;
        call = next;
    }
    if (ctl->pause) {
        ctl->pause->ctl = NULL;
        ctl->pause = NULL;
    }
}

/* --- arguments --- */

/* GenericError "Parameter 'x' is unexpected" for a member not in `allowed`
 * (NULL-terminated); 1 when one was answered. */
static int refuse_unknown(struct qmp_call *call, json_t *args, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(args, key, value) {
        int ok = 0;
        for (const char *const *a = allowed; a && *a; a++)
            if (strcmp(key, *a) == 0)
                ok = 1;
        if (!ok) {
            qmp_error(call, "GenericError", "Parameter '%s' is unexpected", key);
            return 1;
        }
    }
    return 0;
}

static const char *state_name(vmm_state_t s)
{
    switch (s) {
    case VMM_STATE_DEFINED: return "prelaunch";
    case VMM_STATE_RUNNING: return "running";
    case VMM_STATE_PAUSED: return "paused";
    case VMM_STATE_SHUTOFF: return "shutdown";
    case VMM_STATE_CRASHED: return "guest-panicked";
    }
    return "internal-error";
}

/* --- commands --- */

static void cmd_qmp_capabilities(struct qmp_call *call, json_t *args)
{
    static const char *const allowed[] = { "enable", NULL };
    if (refuse_unknown(call, args, allowed))
        return;
    json_t *enable = json_object_get(args, "enable");
    if (enable) {
        if (!json_is_array(enable)) {
            qmp_error(call, "GenericError", "Parameter 'enable' expects an array");
            return;
        }
        size_t i;
        json_t *v;
        json_array_foreach(enable, i, v) {
            if (!json_is_string(v)) {
                qmp_error(call, "GenericError", "Parameter 'enable' expects an array of strings");
                return;
            }
            qmp_error(call, "GenericError", "Capability '%s' not available (none are offered)",
                      json_string_value(v));
            return;
        }
    }
    call->client->negotiated = 1;
    qmp_return(call, NULL);
}

static void cmd_query_status(struct qmp_call *call, json_t *args)
{
    vmm_state_t s = vmm_vm_state(call->ctl->vm);
    const char *name = state_name(s);
    vmm_outcome_t o = { .size = sizeof(o) };
    if (s == VMM_STATE_SHUTOFF && vmm_vm_outcome(call->ctl->vm, &o) == 0 &&
        o.kind == VMM_OUTCOME_STOPPED && strcmp(o.reason, "migrated") == 0)
        name = "postmigrate"; /* as QEMU: the guest went on elsewhere */
    qmp_return(call, json_pack("{s:b,s:b,s:s}", "running", s == VMM_STATE_RUNNING, "singlestep", 0,
                               "status", name));
}

static void on_paused(vmm_vm_t *vm, int status, void *opaque)
{
    struct qmp_pause *p = opaque;
    if (p->ctl)
        p->ctl->pause = NULL;
    const char *why = "";
    if (status)
        vmm_vm_last_error(vm, &why);
    struct qmp_call *call = p->waiters;
    while (call) {
        struct qmp_call *next = call->next_waiter;
        if (status == 0)
            qmp_return(call, NULL);
        else if (status == VMM_ECANCELED)
            qmp_error(call, "GenericError", "the VM was destroyed before it stopped");
        else
            qmp_error(call, "GenericError", "stop did not complete: %s", why);
        call = next;
    }
    free(p);
}

static void cmd_stop(struct qmp_call *call, json_t *args)
{
    struct vmm_control *ctl = call->ctl;
    vmm_vm_t *vm = ctl->vm;
    vmm_state_t s = vmm_vm_state(vm);
    if (s == VMM_STATE_PAUSED) {
        qmp_return(call, NULL);
        return;
    }
    if (s != VMM_STATE_RUNNING) {
        qmp_error(call, "GenericError", "the VM is not running (status %s)", state_name(s));
        return;
    }
    if (!ctl->pause) {
        struct qmp_pause *p = calloc(1, sizeof(*p));
        if (!p) {
            qmp_error(call, "GenericError", "no memory to stop the VM");
            return;
        }
        p->ctl = ctl;
        int rc = vmm_vm_pause_async(vm, on_paused, p);
        if (rc) {
            free(p);
            qmp_error(call, "GenericError", "%s", vmm_last_error());
            return;
        }
        ctl->pause = p;
    }
    /* Answered when every vCPU is parked, right after the STOP event. */
    qmp_defer(call);
    call->next_waiter = ctl->pause->waiters;
    ctl->pause->waiters = call;
}

static void cmd_cont(struct qmp_call *call, json_t *args)
{
    struct vmm_control *ctl = call->ctl;
    vmm_vm_t *vm = ctl->vm;
    vmm_state_t s = vmm_vm_state(vm);
    int rc = 0;
    if (s == VMM_STATE_RUNNING) {
        if (ctl->pause) {
            qmp_error(call, "GenericError", "a stop is in progress; send cont once it completed");
            return;
        }
    } else if (s == VMM_STATE_PAUSED) {
        rc = vmm_vm_resume(vm);
    } else if (s == VMM_STATE_DEFINED) {
        rc = vmm_vm_start(vm);
    } else {
        qmp_error(call, "GenericError", "the VM has shut down (status %s); it cannot continue",
                  state_name(s));
        return;
    }
    /* The VM may be gone now: a RESUME/SHUTDOWN event ran the program's
     * callback, which may destroy a VM that ended. Only answer. */
    if (rc)
        qmp_error(call, "GenericError", "%s", vmm_last_error());
    else
        qmp_return(call, NULL);
}

static void cmd_system_reset(struct qmp_call *call, json_t *args)
{
    if (vm_reset(call->ctl->vm))
        qmp_error(call, "GenericError", "%s", vmm_last_error());
    else
        qmp_return(call, NULL); /* RESET follows once the guest restarted */
}

static void cmd_system_powerdown(struct qmp_call *call, json_t *args)
{
    struct vmm_control *ctl = call->ctl;
    if (vm_power_button(ctl->vm)) {
        qmp_error(call, "GenericError", "%s", vmm_last_error());
        return;
    }
    qmp_return(call, NULL);
    qmp_event_emit(ctl, "POWERDOWN", NULL);
}

static void cmd_quit(struct qmp_call *call, json_t *args)
{
    struct vmm_control *ctl = call->ctl;
    vmm_vm_t *vm = ctl->vm;
    vmm_state_t s = vmm_vm_state(vm);
    ctl->quit_requested = 1;
    if ((s == VMM_STATE_RUNNING || s == VMM_STATE_PAUSED) && vmm_vm_stop_async(vm, NULL, NULL)) {
        qmp_error(call, "GenericError", "%s", vmm_last_error());
        return;
    }
    qmp_return(call, NULL); /* SHUTDOWN follows once the vCPUs have ended */
}

static void cmd_query_cpus_fast(struct qmp_call *call, json_t *args)
{
    vmm_vm_t *vm = call->ctl->vm;
    json_t *list = json_array();
    unsigned n = vmm_vm_vcpu_count(vm);
    for (unsigned i = 0; list && i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/machine/unattached/device[%u]", i);
        json_t *cpu = json_pack("{s:i,s:s,s:i,s:{s:i,s:i,s:i},s:s}", "cpu-index", (int)i,
                                "qom-path", path, "thread-id", vm_vcpu_thread_id(vm, i), "props",
                                "socket-id", 0, "core-id", (int)i, "thread-id", 0, "target",
                                vm_arch(vm));
        if (!cpu || json_array_append_new(list, cpu)) {
            json_decref(list);
            list = NULL;
        }
    }
    if (!list)
        qmp_error(call, "GenericError", "no memory for the vCPU list");
    else
        qmp_return(call, list);
}

static void cmd_query_version(struct qmp_call *call, json_t *args)
{
    json_t *greeting = qmp_greeting();
    json_t *version = json_object_get(json_object_get(greeting, "QMP"), "version");
    qmp_return(call, json_incref(version));
    json_decref(greeting);
}

static void cmd_query_commands(struct qmp_call *call, json_t *args);

static const struct qmp_command commands[] = {
    { "qmp_capabilities", cmd_qmp_capabilities, 0 },
    { "query-status", cmd_query_status, QMP_NO_ARGS },
    { "stop", cmd_stop, QMP_NO_ARGS },
    { "cont", cmd_cont, QMP_NO_ARGS },
    { "system_reset", cmd_system_reset, QMP_NO_ARGS },
    { "system_powerdown", cmd_system_powerdown, QMP_NO_ARGS },
    { "quit", cmd_quit, QMP_NO_ARGS },
    { "query-cpus-fast", cmd_query_cpus_fast, QMP_NO_ARGS },
    { "query-version", cmd_query_version, QMP_NO_ARGS },
    { "query-commands", cmd_query_commands, QMP_NO_ARGS },
    { NULL, NULL, 0 },
};

static const struct qmp_command *const tables[] = { commands, qmp_migrate_commands,
                                                     qmp_balloon_commands };

static void cmd_query_commands(struct qmp_call *call, json_t *args)
{
    json_t *list = json_array();
    for (size_t t = 0; list && t < sizeof(tables) / sizeof(tables[0]); t++)
        for (const struct qmp_command *c = tables[t]; c->name; c++)
            if (c->handler && json_array_append_new(list, json_pack("{s:s}", "name", c->name))) {
                json_decref(list);
                list = NULL;
                break;
            }
    if (!list)
        qmp_error(call, "GenericError", "no memory for the command list");
    else
        qmp_return(call, list);
}

static const struct qmp_command *find_command(const char *name)
{
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (const struct qmp_command *c = tables[t]; c->name; c++)
            if (strcmp(c->name, name) == 0)
                return c;
    return NULL;
}

/* --- dispatch --- */

/* Checks the request's shape and picks the command; answers and returns
 * NULL when it cannot run. */
static const struct qmp_command *check_request(struct qmp_call *call, json_t *req, json_t **args)
{
    json_t *exec = NULL;
    const char *key;
    json_t *value;
    *args = NULL;
    json_object_foreach(req, key, value) {
        if (strcmp(key, "execute") == 0) {
            exec = value;
        } else if (strcmp(key, "arguments") == 0) {
            *args = value;
        } else if (strcmp(key, "id") != 0) {
            qmp_error(call, "GenericError", "QMP input member '%s' is unexpected", key);
            return NULL;
        }
    }
    if (!exec) {
        qmp_error(call, "GenericError", "QMP input lacks member 'execute'");
        return NULL;
    }
    if (!json_is_string(exec)) {
        qmp_error(call, "GenericError", "QMP input member 'execute' must be a string");
        return NULL;
    }
    if (*args && !json_is_object(*args)) {
        qmp_error(call, "GenericError", "QMP input member 'arguments' must be an object");
        return NULL;
    }
    const char *name = json_string_value(exec);
    int negotiating = strcmp(name, "qmp_capabilities") == 0;
    if (!call->client->negotiated && !negotiating) {
        qmp_error(call, "CommandNotFound",
                  "Expecting capabilities negotiation with 'qmp_capabilities'");
        return NULL;
    }
    if (call->client->negotiated && negotiating) {
        qmp_error(call, "CommandNotFound",
                  "Capabilities negotiation is already complete, command ignored");
        return NULL;
    }
    const struct qmp_command *cmd = find_command(name);
    if (!cmd) {
        qmp_error(call, "CommandNotFound", "The command %.200s has not been found", name);
        return NULL;
    }
    if (!cmd->handler) {
        qmp_error(call, "GenericError", "%s is not supported yet by libvmm", cmd->name);
        return NULL;
    }
    if ((cmd->flags & QMP_NO_ARGS) && *args && refuse_unknown(call, *args, NULL))
        return NULL;
    if (!call->ctl->vm) {
        qmp_error(call, "GenericError", "the VM was destroyed");
        return NULL;
    }
    return cmd;
}

void qmp_dispatch(struct control_client *c, json_t *req)
{
    if (!json_is_object(req)) {
        control_send(c, qmp_error_message("GenericError", "QMP input must be a JSON object"));
        return;
    }
    struct qmp_call *call = calloc(1, sizeof(*call));
    if (!call) {
        control_drop(c, "dropped: no memory for a request");
        return;
    }
    call->ctl = c->ctl;
    call->client = c;
    call->id = json_incref(json_object_get(req, "id"));
    json_t *args;
    const struct qmp_command *cmd = check_request(call, req, &args);
    if (cmd) {
        call->name = cmd->name;
        json_t *empty = args ? NULL : json_object();
        struct qmp_call *outer = in_handler;
        in_handler = call;
        cmd->handler(call, args ? args : empty);
        in_handler = outer;
        json_decref(empty);
        if (!call->answered && !call->deferred)
            qmp_error(call, "GenericError", "%s gave no answer", cmd->name); /* a bug of ours */
    }
    if (!call->deferred || call->answered)
        call_free(call);
}
