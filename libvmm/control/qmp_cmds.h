/* QMP commands: the dispatch tables and what a handler uses to answer.
 *
 * A handler gets the call and the request's "arguments" object (never NULL:
 * {} when absent) and answers exactly once, with qmp_return() or
 * qmp_error(), before returning or, after qmp_defer(), later from a
 * completion on the loop thread. It reaches the VM through
 * call->ctl->vm (never NULL when the handler starts; a handler that
 * answers later must check call->ctl, which becomes NULL when the server
 * closes, before using it).
 */
#ifndef LIBVMM_CONTROL_QMP_CMDS_H
#define LIBVMM_CONTROL_QMP_CMDS_H

#include <jansson.h>

#include "control/control.h"

struct qmp_call {
    struct vmm_control *ctl;       /* NULL once the server closed */
    struct control_client *client; /* NULL once the client left */
    json_t *id;                    /* the request's "id", or NULL */
    const char *name;              /* the command (static storage) */
    int deferred, answered;
    struct qmp_call *next_deferred; /* in ctl->deferred */
    struct qmp_call *next_waiter;   /* in the handler's own list */
};

typedef void (*qmp_handler_fn)(struct qmp_call *call, json_t *args);

#define QMP_NO_ARGS 1u /* any argument is an error ("Parameter 'x' is unexpected") */

struct qmp_command {
    const char *name;
    qmp_handler_fn handler; /* NULL: answers GenericError "<name> is not supported yet" */
    unsigned flags;
};

/* The migration commands, in qmp_migrate.c: the place to fill in when
 * snapshots and migration land (a NULL handler answers "not supported
 * yet" and keeps the command out of query-commands). Ends with a NULL name. */
extern const struct qmp_command qmp_migrate_commands[];

/* The memory commands (balloon, query-balloon, x-query-memory-stats), in
 * qmp_balloon.c. Ends with a NULL name. */
extern const struct qmp_command qmp_balloon_commands[];

/* The server closes: a running migration must not report to it any more
 * (qmp_migrate.c). */
void qmp_migration_forget(struct vmm_control *ctl);

/* Answers with {"return": value} (stolen; NULL means {}). */
void qmp_return(struct qmp_call *call, json_t *value);

/* Answers with {"error": {"class": cls, "desc": ...}}. cls is a QMP error
 * class: "GenericError", "CommandNotFound", "DeviceNotActive",
 * "DeviceNotFound", "KVMMissingCap". */
void qmp_error(struct qmp_call *call, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The handler answers later; the call stays valid until it does. */
void qmp_defer(struct qmp_call *call);

#endif
