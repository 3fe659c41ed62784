/* vmmctl's unix-socket relays: a named virtio-console port (<channel
 * type='unix'>, --port NAME=PATH) or the virtio console (<console
 * type='unix'>) served on a listening unix socket. One client at a time:
 * what it writes goes to the guest (vmm_vm_port_write() /
 * vmm_vm_console_write(), retried while the guest's buffer is full, the
 * client's socket unread meanwhile); what the guest writes goes to it,
 * kept (up to 1 MiB) while no client is connected. A second client waits in
 * the listen backlog until the first leaves. */
#ifndef VMMCTL_RELAY_H
#define VMMCTL_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <vmm/vmm.h>

struct relay;

/* Listens on `path` (a stale socket there is replaced) for port `name`, or
 * for the console when name is NULL. 0, or -1 with a message on stderr. */
int relay_open(uv_loop_t *loop, vmm_vm_t *vm, const char *name, const char *path,
               struct relay **out);

/* Bytes from the guest for this relay's client. */
void relay_guest_output(struct relay *r, const uint8_t *data, size_t len);

/* The relay for port `name` (NULL: the console) among `relays`. */
struct relay *relay_find(struct relay *const *relays, unsigned n, const char *name);

/* Closes the sockets, removes the socket file, frees r (after the loop ran
 * the close callbacks: call uv_run once more). */
void relay_close(struct relay *r);

#endif
