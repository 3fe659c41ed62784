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
/* As in vm.h: a completion on the loop thread. */
typedef void (*vmm_vm_done_cb)(vmm_vm_t *vm, int status, void *opaque);

/* Flags for vmm_vm_save(). */
#define VMM_SAVE_STOP 1u /* stop the VM after saving (default: a VM that was
                          * running runs on) */
#define VMM_SAVE_TRACK 2u /* start a chain of diff snapshots: from this save
                           * on, the pages written (by the guest, devices or
                           * the host) are logged */
#define VMM_SAVE_DIFF 4u  /* write only the pages written since the last
                           * TRACK or DIFF save of this VM, naming that file as
                           * the parent (relative to the diff's directory when
                           * both are in the same one); the chain goes on.
                           * VMM_ESTATE without a chain: a live migration, an
                           * untracked save or a failed save ends one. A diff
                           * restores with every file of its chain in place
                           * (each is checked against what its child recorded). */

/* Writes VM `vm` to `path`. A running VM is paused for the save (its
 * devices finish in-flight requests first), then resumed, or stopped with
 * VMM_SAVE_STOP; a paused or defined VM is saved as it is. The file appears
 * under `path` only once complete and fsynced (written to a temporary name,
 * then renamed). Errors: VMM_ESTATE (shut off or crashed), VMM_EIO naming
 * the path and the system error, VMM_ENOTSUP for a disk the host program
 * serves (its contents are the program's to save). Loop thread; blocks for
 * the time the write takes. */
int vmm_vm_save(vmm_vm_t *vm, const char *path, unsigned flags);

/* vmm_vm_save() without blocking the loop thread: a running VM pauses,
 * the library writes the snapshot from a thread of its own, then the VM
 * resumes (or stops with VMM_SAVE_STOP) and cb(vm, status, opaque) runs on
 * the loop: 0, VMM_ECANCELED (vmm_vm_save_cancel) or an error, with
 * vmm_last_error() saying why; a file that was not completed is removed.
 * Meanwhile VMM_EVENT_PROGRESS events (kind VMM_PROGRESS_SAVE, every
 * 100 ms and once at the end) report guest memory written out of the
 * total, and the VM stays paused: vmm_vm_resume, vmm_vm_start and resets
 * answer VMM_EBUSY. The destination is `path` (the file appears there only
 * once complete, as with vmm_vm_save) or `fd`: exactly one of them. An fd
 * must be a regular file open for writing; it is written from offset 0,
 * truncated to the snapshot's size, synced and never closed. VMM_EBUSY when
 * a save or a live migration of the VM is running. Loop thread. */
int vmm_vm_save_start(vmm_vm_t *vm, const char *path, int fd, unsigned flags, vmm_vm_done_cb cb,
                      void *opaque);
/* Stops a running vmm_vm_save_start(); its callback gets VMM_ECANCELED and
 * the VM resumes as after a save. Loop thread. */
int vmm_vm_save_cancel(vmm_vm_t *vm);

typedef struct vmm_migrate_stats vmm_migrate_stats_t;
/* Progress of the running or last vmm_vm_save_start(), in the migration
 * statistics' terms: status, ram_transferred (guest memory written out),
 * ram_remaining, total_ms. Loop thread. */
int vmm_vm_save_stats(vmm_vm_t *vm, vmm_migrate_stats_t *out);

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

/* --- live migration ---
 *
 * The source streams guest memory over a connected stream fd (TCP or unix
 * socket; or a file) while the guest runs: a first pass over all memory,
 * then rounds of the pages dirtied meanwhile, until what is left fits the
 * downtime limit at the measured bandwidth; then the VM pauses, the last
 * pages and every component's state go, and the source VM stops. The
 * destination (vmm_vm_incoming) checks the stream as a snapshot reader
 * does and continues the guest. A guest that dirties memory faster than
 * the link carries it is throttled ("auto-converge", on unless turned off):
 * from the third round on, while it dirties more than half of what the
 * link carries, its vCPUs are held for throttle_initial percent of the
 * time, then throttle_increment more each round, up to throttle_max (the
 * guest runs 10 ms, then is held 10 * pct / (100 - pct) ms; the VM stays
 * RUNNING). If it still does not converge, after max_rounds the migration
 * fails cleanly, the throttle ends and the VM runs on at the source.
 * Stream format: doc/snapshot-format.md, "Migration stream". */

typedef struct vmm_migrate_params {
    uint64_t size;             /* sizeof(vmm_migrate_params_t) (vmm/abi.h) */
    uint64_t max_bandwidth;    /* bytes a second; 0: as fast as the fd takes */
    uint64_t downtime_limit_ms; /* 0: 300 ms, QEMU's default */
    unsigned max_rounds;       /* dirty-page rounds before giving up; 0: 30 */
    /* Added later (older callers pass a smaller size: all 0). For each field
     * 0 keeps what was set before (vmm_vm_migrate_configure), initially
     * the default. */
    int auto_converge;          /* 1 throttle a guest that does not converge
                                 * (default), -1 never */
    unsigned throttle_initial;  /* percent of time held at first; default 20 */
    unsigned throttle_increment; /* added each round it still does not; 10 */
    unsigned throttle_max;      /* at most, 1..99; default 99 */
} vmm_migrate_params_t;

typedef enum vmm_migrate_status {
    VMM_MIGRATE_NONE = 0,
    VMM_MIGRATE_ACTIVE,
    VMM_MIGRATE_COMPLETED,
    VMM_MIGRATE_FAILED,
    VMM_MIGRATE_CANCELLED,
} vmm_migrate_status_t;

struct vmm_migrate_stats {
    uint64_t size;             /* sizeof(vmm_migrate_stats_t), set by the caller */
    vmm_migrate_status_t status;
    unsigned rounds;           /* dirty-page rounds done */
    uint64_t bytes_sent;       /* on the stream so far */
    uint64_t ram_transferred;  /* guest memory bytes sent */
    uint64_t ram_remaining;    /* dirty bytes left at the last count */
    uint64_t dirty_pages_rate; /* pages a second, last round */
    uint64_t expected_downtime_ms;
    uint64_t downtime_ms;      /* pause to end of stream (when completed) */
    uint64_t setup_ms;         /* start to the first page sent */
    uint64_t total_ms;         /* start to now / to the end */
    /* Added later (absent for callers built before). */
    unsigned throttle_pct;     /* share of time the vCPUs are held now
                                * (auto-converge; 0 when not throttled) */
    unsigned throttle_max_reached; /* the highest share this migration used */
};

/* Starts migrating `vm` (running or paused) over `fd`, which the library
 * uses from a thread of its own until the migration ends and never closes.
 * `params` may be NULL (defaults). `cb` (may be NULL) runs once on the loop
 * thread when it ends: status 0 (the VM is now SHUTOFF, outcome STOPPED
 * with reason "migrated"), VMM_ECANCELED, or an error with the VM still
 * running (vmm_vm_last_error() says why). VMM_EBUSY when one is running. */
int vmm_vm_migrate_start(vmm_vm_t *vm, int fd, const vmm_migrate_params_t *params,
                         vmm_vm_done_cb cb, void *opaque);
/* Asks a running migration to stop; the VM keeps running. Loop thread. */
int vmm_vm_migrate_cancel(vmm_vm_t *vm);
/* Progress of the current or last migration of vm. Any thread. */
int vmm_vm_migrate_stats(vmm_vm_t *vm, vmm_migrate_stats_t *out);
/* Changes the bandwidth limit / downtime limit of a running or future
 * migration (QMP migrate-set-parameters). 0 leaves a value as it is. */
int vmm_vm_migrate_set(vmm_vm_t *vm, uint64_t max_bandwidth, uint64_t downtime_limit_ms);
/* The same for every parameter: each field of `params` that is not 0 replaces
 * the current value for a running or future migration (QMP
 * migrate-set-parameters / migrate-set-capabilities auto-converge).
 * VMM_EINVAL names a throttle percentage outside 1..99. */
int vmm_vm_migrate_configure(vmm_vm_t *vm, const vmm_migrate_params_t *params);

/* The destination: reads a migration stream from `fd` (blocking until the
 * source finishes) and returns the VM it carried, DEFINED: vmm_vm_start()
 * continues the guest. `expect` as for vmm_vm_restore. A stream that ends
 * early, is corrupt or does not match is refused with what is wrong and no
 * VM is left. Loop thread. */
int vmm_vm_incoming(vmm_host_t *host, int fd, const vmm_config_t *expect, vmm_vm_t **out);

#ifdef __cplusplus
}
#endif
#endif
