/* libvmm — events delivered to the host program.
 *
 * Events are always delivered on the host's loop thread (the thread running
 * the uv_loop_t given to vmm_host_new(), or vmm_host_run()). vCPU threads
 * never call user code directly.
 */
#ifndef VMM_EVENT_H
#define VMM_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmm_vm vmm_vm_t;

/* The VM's lifecycle state machine:
 *   DEFINED --start--> RUNNING <--pause/resume--> PAUSED
 *   RUNNING|PAUSED --guest poweroff / reset / debug-exit / vmm_vm_stop--> SHUTOFF
 *   RUNNING --guest crash (triple fault, internal error, ...)--> CRASHED
 * SHUTOFF and CRASHED are final for the run; the VM may then be destroyed.
 * The config's lifecycle actions decide what a guest-initiated end does:
 * destroy (the default) goes final as above; restart boots the guest again
 * from the same config (VMM_EVENT_RESTART) and the state stays RUNNING;
 * preserve keeps a crashed VM CRASHED with its memory for inspection (as
 * destroy does until vmm_vm_destroy()). vmm_vm_stop() never restarts. */
typedef enum vmm_state {
    VMM_STATE_DEFINED = 0,
    VMM_STATE_RUNNING,
    VMM_STATE_PAUSED,
    VMM_STATE_SHUTOFF,
    VMM_STATE_CRASHED,
} vmm_state_t;

/* How the guest's run ended. */
typedef enum vmm_outcome_kind {
    VMM_OUTCOME_NONE = 0,    /* still defined or running */
    VMM_OUTCOME_POWEROFF,    /* the guest powered off (ACPI/SBI/test device) */
    VMM_OUTCOME_RESET,       /* the guest asked for a reboot (i8042, SBI SRST) */
    VMM_OUTCOME_CRASH,       /* the guest crashed; reason says how */
    VMM_OUTCOME_DEBUG_EXIT,  /* the guest wrote to the debug-exit device; exit_code */
    VMM_OUTCOME_STOPPED,     /* the host called vmm_vm_stop() */
} vmm_outcome_kind_t;

/* A sized struct (vmm/abi.h): set .size = sizeof(vmm_outcome_t) before
 * vmm_vm_outcome(); in a VMM_EVENT_RESTART event the library sets it. */
typedef struct vmm_outcome {
    uint64_t size;     /* bytes of this struct the writer knew (vmm/abi.h) */
    vmm_outcome_kind_t kind;
    int exit_code;     /* DEBUG_EXIT: (v << 1) | 1 for an x86 isa-debug-exit
                        * write of v; the code of a SiFive test FAIL; else 0 */
    char reason[256];  /* CRASH: what happened, e.g. the instruction bytes */
} vmm_outcome_t;

typedef enum vmm_event_type {
    VMM_EVENT_STATE = 1,  /* the VM changed state; see .state */
    VMM_EVENT_CONSOLE,    /* bytes the guest wrote to its console; see .console */
    VMM_EVENT_RESTART,    /* the run ended and the config's lifecycle action
                           * (on_poweroff/on_reboot/on_crash = restart) booted
                           * the guest again; see .restart. State stays RUNNING. */
    VMM_EVENT_PORT,       /* a named virtio-console port (vmm_config_add_port()):
                           * bytes the guest wrote to it, or (len 0) a guest
                           * program opened or closed it; see .port */
    VMM_EVENT_PROGRESS,   /* a snapshot being written (vmm_vm_save_start) or a
                           * live migration (vmm_vm_migrate_start) moved on,
                           * or ended; see .progress */
    VMM_EVENT_MEMORY,     /* guest memory: the balloon moved, the guest's
                           * statistics arrived, or the VM was paused because
                           * memory ran out; see .memory (vmm/memory.h) */
} vmm_event_type_t;

/* What a VMM_EVENT_PROGRESS is about. */
typedef enum vmm_progress_kind {
    VMM_PROGRESS_SAVE = 1,    /* vmm_vm_save_start() */
    VMM_PROGRESS_MIGRATE = 2, /* vmm_vm_migrate_start() */
} vmm_progress_kind_t;

/* What a VMM_EVENT_MEMORY says. */
typedef enum vmm_memory_event {
    VMM_MEMORY_BALLOON = 1,     /* the guest's balloon driver changed the size it
                                 * holds (.ballooned) */
    VMM_MEMORY_STATS,           /* the guest sent fresh memory statistics
                                 * (vmm_vm_memory_stats()) */
    VMM_MEMORY_POOL_EXHAUSTED,  /* the VMs of the host together committed more
                                 * guest RAM than the pool's limit and this VM,
                                 * which grew since the last check, was paused */
    VMM_MEMORY_LIMIT_REACHED,   /* this VM committed more guest RAM than its own
                                 * limit (vmm_vm_set_memory_limit()) and was paused */
} vmm_memory_event_t;

/* A sized struct (vmm/abi.h) the library fills: .size is the library's
 * sizeof(vmm_event_t); check VMM_HAS_FIELD() before reading a field added
 * after the release your program was built against. The event and what it
 * points to are valid only during the callback. */
typedef struct vmm_event {
    uint64_t size;  /* set by the library */
    vmm_event_type_t type;
    vmm_vm_t *vm;
    union {
        struct {
            vmm_state_t old_state;
            vmm_state_t new_state;
        } state;
        struct {
            const uint8_t *data; /* valid only during the callback */
            size_t len;
        } console;
        struct {
            vmm_outcome_t previous; /* how the run before the restart ended */
            unsigned count;         /* restarts so far, this one included */
        } restart;
        struct {
            const char *name;    /* the port's name, as configured */
            const uint8_t *data; /* what the guest wrote, in order; valid only
                                  * during the callback */
            size_t len;          /* 0: only the open state changed */
            int open;            /* 1 while a guest program has the port open */
        } port;
        struct {
            vmm_progress_kind_t kind;
            int status;           /* a vmm_migrate_status_t (vmm/snapshot.h):
                                   * ACTIVE while it runs, then one last event
                                   * COMPLETED, FAILED or CANCELLED */
            uint64_t bytes_done;  /* SAVE: guest memory examined so far;
                                   * MIGRATE: bytes on the stream so far */
            uint64_t bytes_total; /* SAVE: guest memory in all; MIGRATE: 0 */
            unsigned round;       /* MIGRATE: dirty-page rounds done */
            uint64_t dirty_pages_rate;     /* MIGRATE: pages a second, last round */
            uint64_t expected_downtime_ms; /* MIGRATE */
        } progress;
        struct {
            vmm_memory_event_t what;
            uint64_t touched;      /* guest RAM the host has committed to this VM, bytes */
            uint64_t limit;        /* POOL_EXHAUSTED: the pool's limit; LIMIT_REACHED:
                                    * the VM's; else 0 */
            uint64_t pool_touched; /* POOL_EXHAUSTED: all VMs of the host together */
            uint64_t ballooned;    /* bytes the guest's balloon holds now */
        } memory;
    } u;
} vmm_event_t;

/* Event callback: runs on the loop thread. It may call any libvmm function,
 * including vmm_vm_destroy() on ev->vm when ev is a final state change. */
typedef void (*vmm_event_cb)(const vmm_event_t *ev, void *opaque);

#ifdef __cplusplus
}
#endif
#endif
