/* libvmm — the control socket: a QMP-compatible server for one VM.
 *
 * QEMU's machine protocol (QMP) on a Unix or TCP socket, served by the
 * host's loop: tools written for QEMU (scripts using qemu.qmp, socat, the
 * Python client in the bindings, `vmmctl qmp`) can query and drive the VM.
 * Each client gets the greeting
 *
 *     {"QMP": {"version": {"qemu": {"major": 0, "minor": 1, "micro": 0},
 *              "package": "libvmm 0.1.0"}, "capabilities": []}}
 *
 * (the version is libvmm's), must send {"execute": "qmp_capabilities"}
 * first (until then every command answers CommandNotFound, as QEMU's do),
 * then sends {"execute": NAME, "arguments": {...}, "id": ANY} and gets
 * {"return": ..., "id": ...} or {"error": {"class": ..., "desc": ...},
 * "id": ...}. Every message the server sends is one line ending in CRLF.
 *
 * Commands: qmp_capabilities, query-status, stop, cont, system_reset,
 * system_powerdown, quit, query-cpus-fast, query-version, query-commands.
 * migrate, migrate_cancel, query-migrate and migrate-set-parameters answer
 * GenericError "... is not supported yet". Events, to every client past
 * negotiation: STOP, RESUME, RESET, POWERDOWN, SHUTDOWN, each with a
 * "timestamp" {"seconds", "microseconds"}. doc/api.md lists what each
 * command returns and does.
 *
 * Limits that keep a client from hurting the VM or the loop: a request
 * larger than VMM_CONTROL_MAX_REQUEST bytes is answered with an error and
 * the client is disconnected; a client whose unread replies and events pass
 * VMM_CONTROL_MAX_OUTPUT bytes is disconnected; at most
 * VMM_CONTROL_MAX_CLIENTS clients are connected at once (the next one gets
 * an error and is disconnected). Text that is not JSON is answered with
 * GenericError "JSON parse error, ..." and the client stays connected; a
 * newline inside a string, or a 0xff byte, ends the broken request.
 *
 * The socket has no authentication: anyone who can connect controls the VM.
 * A Unix socket is created with the process's umask; a TCP address should
 * be a loopback one.
 *
 * Threads: every function here is called on the host's loop thread. The
 * server's handles do not keep the loop alive by themselves (as a VM that no
 * longer runs does not).
 */
#ifndef VMM_CONTROL_H
#define VMM_CONTROL_H

#include "vm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmm_control vmm_control_t;

#define VMM_CONTROL_MAX_REQUEST (1u << 20) /* bytes of one JSON request */
#define VMM_CONTROL_MAX_OUTPUT (1u << 20)  /* bytes queued for one client */
#define VMM_CONTROL_MAX_CLIENTS 64

/* Starts a control socket for `vm` on the VM's host loop and returns it in
 * *out. `address` is "unix:PATH" (a stale socket at PATH is replaced, any
 * other file there is refused; the socket file is removed again by
 * vmm_control_close()) or "tcp:HOST:PORT" with a numeric IPv4 or IPv6 HOST
 * ("[::1]" brackets allowed) or "localhost", PORT 0 for one the system
 * picks (vmm_control_address() tells which). Several servers may serve one
 * VM. The VM may be in any state; the server sees its events without taking
 * the program's event callback (vmm_vm_set_event_cb() is unaffected).
 * If the VM is destroyed first, the server stops listening and disconnects
 * its clients; vmm_control_close() must still be called.
 * Errors: VMM_EINVAL (NULL argument, malformed address: the message names
 * the part), VMM_ERANGE (Unix path longer than the system allows), VMM_EBUSY
 * (the address is in use, or PATH is a file that is not a socket),
 * VMM_EACCES, VMM_EIO (other socket errors, named), VMM_ENOMEM. */
int vmm_control_listen(vmm_vm_t *vm, const char *address, vmm_control_t **out);

/* The address the server listens on, as "unix:PATH" or "tcp:HOST:PORT"
 * with the actual port. Owned by the server; valid until
 * vmm_control_close(). */
const char *vmm_control_address(const vmm_control_t *ctl);

/* Clients connected right now (negotiated or not). */
unsigned vmm_control_client_count(const vmm_control_t *ctl);

/* 1 once a client's "quit" was accepted (the VM was asked to stop, and
 * ends with outcome STOPPED), else 0: how a program tells a QMP quit from
 * its own vmm_vm_stop(). */
int vmm_control_quit_requested(const vmm_control_t *ctl);

/* Stops listening, disconnects every client and frees the server. Replies
 * to commands still in progress (a stop waiting for the vCPUs) are dropped;
 * the operations themselves complete. The socket file of a Unix address is
 * removed. The memory is released once the loop has run the handles' close
 * callbacks (vmm_host_run(), or vmm_host_free() for a loop the host owns).
 * NULL is a no-op. */
void vmm_control_close(vmm_control_t *ctl);

#ifdef __cplusplus
}
#endif
#endif
