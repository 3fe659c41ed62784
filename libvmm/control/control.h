/* The control socket behind vmm_control_t (vmm/control.h): the listening
 * socket, its clients and their bounded output (control.c); the QMP
 * commands (qmp_cmds.c, qmp_migrate.c) and events (qmp_events.c) above it.
 * Everything runs on the host's loop thread.
 *
 * Lifetimes: a client's memory lives until its handle's close callback, so
 * a command handler may keep using its client after something closed it
 * (it then sends nothing). The server's memory lives until
 * vmm_control_close() was called and every handle (listener, reaper timer,
 * clients) has closed. A VM destroyed first detaches the server
 * (control_detach): ctl->vm becomes NULL.
 */
#ifndef LIBVMM_CONTROL_CONTROL_H
#define LIBVMM_CONTROL_CONTROL_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "control/qmp_stream.h"
#include "vmm/control.h"

struct qmp_call;
struct qmp_pause;

/* Clients and the listener are plain non-blocking sockets watched with
 * uv_poll_t, not libuv streams: replies go out with send(MSG_NOSIGNAL), so
 * a client that disconnects never raises SIGPIPE in the host program, and
 * the output a client leaves unread is counted to the byte. */
struct control_client {
    uv_poll_t poll; /* poll.data is the client */
    int fd;
    struct vmm_control *ctl;
    struct control_client *prev, *next;
    unsigned id;       /* for log messages */
    int negotiated;    /* qmp_capabilities accepted */
    int closing;       /* uv_close() called */
    int draining;      /* hanging up: no more input or output */
    uint64_t drain_since; /* uv_now() when draining began */
    int events;        /* UV_READABLE | UV_WRITABLE being watched */
    struct qmp_stream in;
    /* Output not yet taken by the socket: out[out_off, out_len). */
    char *out;
    size_t out_off, out_len, out_cap;
    /* Back-pressure: while the client's unsent output is above
     * CONTROL_OUT_HIGH its input is not read; the rest of the last read
     * waits in `held`. Reading resumes below CONTROL_OUT_LOW. */
    int throttled;
    uint64_t throttled_since; /* uv_now() when it began */
    char *held;
    size_t held_len, held_off;
};

struct vmm_control {
    struct vmm_vm *vm; /* NULL once the VM was destroyed */
    uv_loop_t *loop;
    uv_poll_t listener;
    int listen_fd;     /* -1 when none */
    int listener_open; /* the poll handle is initialised and not closing */
    char *address;   /* vmm_control_address() */
    char *unix_path; /* the socket file to remove, or NULL */
    uv_timer_t reaper; /* closes clients that hang up too slowly */
    int reaper_open;
    struct control_client *clients;
    unsigned nr_clients;
    unsigned next_id;
    unsigned open_handles; /* handles whose close callback has not run */
    int closed;            /* vmm_control_close() was called */
    int quit_requested;
    char *rbuf;            /* read buffer, shared: reads complete one at a time */
    struct qmp_call *deferred; /* commands answered later (qmp_cmds.c) */
    struct qmp_pause *pause;   /* a stop waiting for the vCPUs (qmp_cmds.c) */
    struct qmp_migration *migration; /* a migration to report on (qmp_migrate.c) */
    /* The last migrate to a file: (it ran to the end inside the command), so
     * query-migrate reports it until a stream migration starts. */
    struct {
        int valid;  /* the last migrate was to a file (vmm_vm_save_start) */
        int done, failed;
        uint64_t bytes; /* the file's size on disk, once done */
    } file_migrate;
};

#define CONTROL_READ_BUF 65536
#define CONTROL_DRAIN_MS 2000 /* a hanging-up client is closed after this */
#define CONTROL_OUT_HIGH (VMM_CONTROL_MAX_OUTPUT / 2) /* stop reading the client */
#define CONTROL_OUT_LOW (VMM_CONTROL_MAX_OUTPUT / 8)  /* read it again */
#define CONTROL_STALL_MS 5000 /* a client throttled this long without reading is dropped */

/* Sends one message (steals msg) to the client: JSON and CRLF. Dropped when
 * the client is closing or hanging up; disconnects the client when its
 * unsent output would pass VMM_CONTROL_MAX_OUTPUT (requests stop being read
 * well before that, so only events can get it there). */
void control_send(struct control_client *c, json_t *msg);

/* Sends msg (not stolen) to every client past negotiation. */
void control_broadcast(struct vmm_control *ctl, json_t *msg);

/* Closes the client now, discarding unsent output; `why` goes to the log. */
void control_drop(struct control_client *c, const char *why);

/* Sends `last` (stolen; may be NULL), stops reading and closes the client
 * once its output went out (or after CONTROL_DRAIN_MS). */
void control_hang_up(struct control_client *c, json_t *last, const char *why);

/* --- qmp_cmds.c --- */

/* The greeting a new client gets. */
json_t *qmp_greeting(void);

/* Builds {"error": {"class": cls, "desc": ...}} (no id). */
json_t *qmp_error_message(const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Executes one request (a parsed JSON document; borrowed) from client c and
 * answers it, now or later. */
void qmp_dispatch(struct control_client *c, json_t *req);

/* The client is closing: its pending commands will be answered to no one. */
void qmp_client_gone(struct control_client *c);

/* The server is closing or detaching: pending commands lose it. */
void qmp_control_gone(struct vmm_control *ctl);

/* --- qmp_events.c --- */

/* The VM's event, as QMP events to the negotiated clients. */
void qmp_events_on_vm_event(struct vmm_control *ctl, const vmm_event_t *ev);

/* Broadcasts {"event": name, "data": data, "timestamp": now}; steals data
 * (NULL: no "data" member). */
void qmp_event_emit(struct vmm_control *ctl, const char *name, json_t *data);

#endif
