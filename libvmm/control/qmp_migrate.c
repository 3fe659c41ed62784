/* The migration commands of the control socket. Snapshots and live
 * migration are not in the library yet: each entry has a NULL handler, so
 * it answers {"error": {"class": "GenericError", "desc": "<name> is not
 * supported yet"}} and query-commands leaves it out.
 *
 * To implement one, write a handler here (see qmp_cmds.h: answer with
 * qmp_return()/qmp_error(), or qmp_defer() and answer from the completion,
 * e.g. of an asynchronous migration; emit MIGRATION events with
 * qmp_event_emit()) and put it in the table. Nothing else needs to change:
 * qmp_cmds.c looks commands up here after its own table. */
#include "control/qmp_cmds.h"

const struct qmp_command qmp_migrate_commands[] = {
    { "migrate", NULL, 0 },
    { "migrate_cancel", NULL, QMP_NO_ARGS },
    { "query-migrate", NULL, QMP_NO_ARGS },
    { "migrate-set-parameters", NULL, 0 },
    { NULL, NULL, 0 },
};
