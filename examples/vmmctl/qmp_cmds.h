/* vmmctl and the QMP control socket (vmm/control.h): `run --qmp` serves
 * one for the VM, `vmmctl qmp` is a one-shot client. */
#ifndef VMMCTL_QMP_CMDS_H
#define VMMCTL_QMP_CMDS_H

#include <jansson.h>
#include <vmm/vmm.h>

/* run --qmp ADDRESS,server[=on][,wait=on|off][,nowait], QEMU's syntax with
 * ADDRESS unix:PATH or tcp:HOST:PORT. Remembers it for vmmctl_qmp_listen();
 * returns 0, or 2 with a message on stderr. */
int vmmctl_qmp_option(const char *arg);

/* Starts the control socket for vm (of host) if --qmp was given, and with
 * wait=on (QEMU's default for a server) waits for the first client. Call
 * before vmm_vm_start(). Returns 0 or 2 with a message on stderr. */
int vmmctl_qmp_listen(vmm_host_t *host, vmm_vm_t *vm);

/* 1 when a QMP client asked the VM to quit (vmmctl then exits 0). */
int vmmctl_qmp_quit_requested(void);

/* Closes the control socket, if any. */
void vmmctl_qmp_close(void);
/* After a run that ended in a completed migration, with --qmp: keeps the
 * socket serving (QEMU's postmigrate) until a client sends quit. */
void vmmctl_qmp_postmigrate(vmm_host_t *host, vmm_vm_t *vm);

/* vmmctl qmp [--timeout SEC] ADDRESS COMMAND [JSON-ARGUMENTS]: connects,
 * negotiates, sends one command and prints the reply. Exit status: 0 for
 * a "return", 1 for an "error" reply, 2 for bad input or no connection. */
int vmmctl_cmd_qmp(int argc, char **argv);

/* Makes vmmctl_cmd_qmp() hand the reply to `print` instead of printing its
 * JSON (vmmctl memstat). */
void vmmctl_qmp_set_printer(void (*print)(json_t *reply));

#endif
