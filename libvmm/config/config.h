/* The domain config behind vmm_config_t. Core reads these fields directly;
 * the public setters (config*.c) validate them. The XML reader/writer
 * (config/xml*.c) maps libvirt's domain model onto the same struct, so the
 * struct follows libvirt's shape: one field per element or attribute that
 * libvmm understands.
 */
#ifndef LIBVMM_CONFIG_CONFIG_H
#define LIBVMM_CONFIG_CONFIG_H

#include <stdint.h>

#include "config/cpuset.h"
#include "vmm/config.h"

/* One <vcpupin vcpu='N' cpuset='...'/>. */
struct config_vcpupin {
    unsigned vcpu;
    char *cpuset;            /* canonical text, e.g. "0-3,6" */
    config_cpuset_t bits;
};

struct vmm_config {
    /* --- read by core (names and meanings fixed) --- */
    char *engine;   /* "auto", "kvm", "soft" */
    char *name;
    uint64_t memory;          /* <memory>, bytes, multiple of 4 KiB */
    unsigned vcpus;           /* <vcpu> */
    char *kernel;             /* <os><kernel> */
    char *initrd;             /* <os><initrd> */
    char *cmdline;            /* <os><cmdline>, never NULL */
    vmm_console_mode_t console;
    int deterministic;
    int no_jit;               /* soft engine: interpret (vmm_config_set_jit(cfg, 0)) */

    /* --- identity: <uuid>, <title>, <description>, <metadata> --- */
    char uuid[VMM_UUID_STRING_LEN + 1]; /* canonical lower-case, dashed */
    char *title;
    char *description;
    char *metadata;           /* serialised child elements of <metadata>, or NULL */

    /* --- resources --- */
    uint64_t current_memory;  /* <currentMemory>, bytes; 0 = same as memory */
    vmm_placement_t placement; /* <vcpu placement=...> */
    char *cpuset;             /* <vcpu cpuset=...>, canonical text, NULL = any CPU */
    config_cpuset_t cpuset_bits;
    unsigned cpu_shares;      /* <cputune><shares>, 0 = unset (scheduler default) */
    uint64_t cpu_period;      /* <cputune><period>, us, 0 = unset */
    int64_t cpu_quota;        /* <cputune><quota>, us per period and vCPU, 0 = unset, -1 = unlimited */
    uint64_t cpu_global_period; /* <cputune><global_period>, us, 0 = unset */
    int64_t cpu_global_quota;   /* <cputune><global_quota>, us per period for the whole VM */
    struct config_vcpupin *vcpupins; /* sorted by vcpu, at most one per vCPU */
    unsigned n_vcpupins;
    uint64_t hard_limit;      /* <memtune><hard_limit>, bytes, 0 = none */

    /* --- <os> --- */
    char *arch;               /* "x86_64", "riscv64" or NULL (from the engine) */
    char *machine;            /* <type machine=...>, kept verbatim, or NULL */
    char *dtb;
    char *loader;
    int loader_readonly;      /* -1 unset, 0 no, 1 yes */
    char *loader_type;        /* "rom", "pflash" or NULL */

    /* --- <cpu>, <clock>, <features> --- */
    vmm_cpu_mode_t cpu_mode;
    char **cpu_disabled;      /* <feature policy='disable' name=...>, sorted, unique */
    unsigned n_cpu_disabled;
    vmm_clock_offset_t clock_offset;
    unsigned features;        /* VMM_FEATURE_* bits */

    /* --- lifecycle --- */
    vmm_lifecycle_action_t on_poweroff;
    vmm_lifecycle_action_t on_reboot;
    vmm_lifecycle_action_t on_crash;

    /* --- <devices> --- */
    vmm_disk_config_t *disks; /* strings owned by the config */
    unsigned n_disks;
    vmm_net_config_t *nets;
    unsigned n_nets;
    vmm_chardev_type_t serial;   /* <serial>/<console> type */
    char *serial_path;           /* for VMM_CHARDEV_FILE */
    int rng;                     /* <rng model='virtio'> with /dev/urandom */
    int balloon;                 /* <memballoon model='virtio'> */
    unsigned balloon_flags;      /* VMM_BALLOON_* */
    unsigned balloon_period;     /* <stats period>, seconds */
    vmm_device_config_t *devices; /* host-written raw devices; name and ops owned */
    unsigned n_devices;

    /* --- virtio-console, virtio-vsock (config_vio.c) --- */
    vmm_chardev_type_t vcon;     /* <console> with target type='virtio'; NONE = none */
    char *vcon_path;             /* its UNIX socket */
    struct config_port *ports;   /* <channel> with target type='virtio' */
    unsigned n_ports;
    uint32_t vsock_cid;          /* <vsock><cid address>; 0 = no vsock */
    char *vsock_path;            /* libvmm metadata: the host side's socket */
};

#define CONFIG_MAX_DEVICES 32

/* Frees what one raw-device entry owns (its name and ops copies). */
void config_device_clear(vmm_device_config_t *d);

/* A copy of a disk's backend ops (sized in), or NULL with VMM_ENOMEM set. */
vmm_blk_backend_ops_t *config_blk_ops_dup(const vmm_blk_backend_ops_t *ops);

/* One named virtio-console port. */
struct config_port {
    char *name;
    vmm_chardev_type_t type;
    char *path;                  /* UNIX only */
};

/* config_vio.c: copies cfg's console ports and vsock into n (whose fields
 * hold cfg's pointers from a struct copy), setting *failed on ENOMEM; frees
 * them. */
void config_vio_clone(vmm_config_t *n, const vmm_config_t *cfg, int *failed);
void config_vio_free(vmm_config_t *c);

/* Deep equality of two configs, for the XML round trip and the fuzzer.
 * Returns 1 when equal; otherwise 0 and, if why is non-NULL, the name of the
 * first field that differs. */
int config_equal(const vmm_config_t *a, const vmm_config_t *b, const char **why);

/* Whether two configs describe the same machine, as a restore or an
 * incoming migration needs: engine (auto matches any), memory, vCPUs, boot
 * files and command line, deterministic time, CPU features, devices.
 * Names, UUIDs, descriptions, lifecycle actions and tuning may differ. 1
 * when equal; otherwise 0 and *why names the first difference. */
int config_machine_equal(const vmm_config_t *a, const vmm_config_t *b, const char **why);

/* Generates a random (version 4) UUID in canonical text form into out. */
int config_uuid_generate(char out[VMM_UUID_STRING_LEN + 1]);

/* Parses a UUID as libvirt accepts it (32 hex digits, optionally in the
 * 8-4-4-4-12 dashed form) into canonical form. 0 or VMM_EINVAL. */
int config_uuid_parse(const char *text, char out[VMM_UUID_STRING_LEN + 1]);

/* Replaces *slot with a copy of s (NULL clears). 0 or VMM_ENOMEM naming what. */
int config_set_string(char **slot, const char *s, const char *what);

/* Frees the strings of one disk / interface entry. */
void config_disk_clear(vmm_disk_config_t *d);
void config_net_clear(vmm_net_config_t *n);

#endif
