/* libvmm — snapshots: a whole machine in one file, and back.
 *
 * The file format is doc/snapshot-format.md: the configuration (domain
 * XML), every component's state (vCPUs, interrupt controllers, devices,
 * virtio queues), and guest memory stored sparse (zero pages are holes).
 */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmm_host vmm_host_t;
typedef struct vmm_vm vmm_vm_t;
typedef struct vmm_config vmm_config_t;

/* Flags for vmm_vm_save(). */
#define VMM_SAVE_STOP 1u /* stop the VM after saving (default: a VM that was
                          * running runs on) */

/* Writes VM `vm` to `path`. A running VM is paused for the save (its
 * devices finish in-flight requests first), then resumed, or stopped with
 * VMM_SAVE_STOP; a paused or defined VM is saved as it is. The file appears
 * under `path` only once complete and fsynced (written to a temporary name,
 * then renamed). Errors: VMM_ESTATE (shut off or crashed), VMM_EIO naming
 * the path and the system error, VMM_ENOTSUP for a disk the host program
 * serves (its contents are the program's to save). Loop thread; blocks for
 * the time the write takes. */
int vmm_vm_save(vmm_vm_t *vm, const char *path, unsigned flags);

/* Flags for vmm_vm_restore(). */
#define VMM_RESTORE_MAP 1u /* map guest memory copy-on-write from the file
                            * (pages load on first touch; restore takes
                            * milliseconds; clones share unmodified pages)
                            * instead of reading it into fresh memory */

/* Creates a VM on `host` from the snapshot at `path`, in the DEFINED state:
 * vmm_vm_start() continues the guest where it was saved. `expect` (may be
 * NULL) is the configuration the caller meant to run (vmmctl --incoming
 * with the same machine arguments as the source); when given, the saved
 * configuration must equal it. Everything is checked before anything is
 * built; a refused file names what is wrong (not a snapshot, a newer format,
 * another engine or architecture, truncated, a checksum mismatch, a
 * configuration that differs from `expect` and in which field, limits of
 * this host), and nothing is left half-restored. Loop thread. */
int vmm_vm_restore(vmm_host_t *host, const char *path, const vmm_config_t *expect, unsigned flags,
                   vmm_vm_t **out);

#ifdef __cplusplus
}
#endif
#endif
