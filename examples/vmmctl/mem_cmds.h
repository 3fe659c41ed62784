/* vmmctl and memory overcommit: the run options for the balloon and the
 * host's memory pool, what vmmctl says when the VM is paused for memory,
 * and `vmmctl memstat`, a readable x-query-memory-stats. */
#ifndef VMMCTL_MEM_CMDS_H
#define VMMCTL_MEM_CMDS_H

#include <vmm/vmm.h>

/* getopt_long option values (outside the ASCII range the other options use). */
enum {
    VMMCTL_OPT_BALLOON = 0x1000,  /* --balloon[=reporting,autodeflate,stats=N] */
    VMMCTL_OPT_CURRENT_MEMORY,    /* --current-memory SIZE */
    VMMCTL_OPT_MEMORY_POOL,       /* --memory-pool SIZE */
    VMMCTL_OPT_OVERCOMMIT,        /* --overcommit RATIO */
    VMMCTL_OPT_MEMORY_LIMIT,      /* --memory-limit SIZE */
};

#define VMMCTL_MEM_LONGOPTS                                                                        \
    { "balloon", optional_argument, NULL, VMMCTL_OPT_BALLOON },                                   \
        { "current-memory", required_argument, NULL, VMMCTL_OPT_CURRENT_MEMORY },                 \
        { "memory-pool", required_argument, NULL, VMMCTL_OPT_MEMORY_POOL },                       \
        { "overcommit", required_argument, NULL, VMMCTL_OPT_OVERCOMMIT },                         \
        { "memory-limit", required_argument, NULL, VMMCTL_OPT_MEMORY_LIMIT }

#define VMMCTL_MEM_USAGE                                                                           \
    "--balloon[=reporting,autodeflate,stats=N]: a virtio-balloon (free page reporting,\n"         \
    "  deflate on OOM, guest statistics every N s); --current-memory SIZE: the guest\n"           \
    "  starts with the balloon holding memory - SIZE (QMP `balloon` moves it later).\n"           \
    "--memory-pool SIZE: the host's guest-RAM pool (default: host memory);\n"                      \
    "--overcommit RATIO: admit RATIO x the pool (1..64); a VM that commits more than\n"           \
    "  the pool holds is paused with a message (resume with QMP `cont`);\n"                      \
    "--memory-limit SIZE: the same for this VM's own committed guest RAM.\n"                    \
    "`vmmctl memstat ADDRESS` prints a VM's memory figures from its QMP socket.\n"

/* Handles one of the options above for the VM's config (balloon,
 * current-memory) or the host (remembered for vmmctl_mem_host()).
 * Returns 0, or 2 with a message on stderr. */
int vmmctl_mem_option(vmm_config_t *cfg, int opt, const char *arg);

/* Applies --memory-pool and --overcommit to the host. 0 or 2 (message). */
int vmmctl_mem_host(vmm_host_t *host);

/* Applies --memory-limit to the VM. 0 or 2 (message). */
int vmmctl_mem_vm(vmm_vm_t *vm);

/* Says on stderr what a VMM_EVENT_MEMORY that paused the VM means. */
void vmmctl_mem_event(const vmm_event_t *ev);

/* vmmctl memstat ADDRESS: x-query-memory-stats, printed for people. */
int vmmctl_cmd_memstat(int argc, char **argv);

#endif
