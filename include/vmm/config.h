/* libvmm — VM configuration.
 *
 * A vmm_config_t describes one machine: engine, memory, vCPUs and what to
 * boot. Setters validate what they can without touching the host (ranges,
 * lengths); vmm_vm_create() checks the rest (files exist, limits of the host
 * and the engine). A config is plain data: any thread, but not concurrently.
 */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmm_config vmm_config_t;

/* Engine names accepted by vmm_config_set_engine(). */
#define VMM_ENGINE_AUTO "auto" /* by the kernel file: RISC-V Image -> soft, else kvm */
#define VMM_ENGINE_KVM "kvm"   /* x86-64 on /dev/kvm */
#define VMM_ENGINE_SOFT "soft" /* RV64GC in software */

/* Upper bounds the config itself enforces (the engine may be stricter). */
#define VMM_CONFIG_MAX_VCPUS 256
#define VMM_CONFIG_MAX_CMDLINE 65536

/* Creates a config with defaults: engine "auto", 256 MiB, 1 vCPU, no kernel. */
int vmm_config_new(vmm_config_t **out);
/* Frees a config. NULL is a no-op. */
void vmm_config_free(vmm_config_t *cfg);
/* Deep copy. */
int vmm_config_clone(const vmm_config_t *cfg, vmm_config_t **out);

/* "auto", "kvm" or "soft"; anything else is VMM_EINVAL. */
int vmm_config_set_engine(vmm_config_t *cfg, const char *engine);
const char *vmm_config_engine(const vmm_config_t *cfg);

/* The VM's name (for logs and XML); default "vm". */
int vmm_config_set_name(vmm_config_t *cfg, const char *name);
const char *vmm_config_name(const vmm_config_t *cfg);

/* Guest RAM in bytes: at least 1 MiB and a multiple of 4 KiB (VMM_EINVAL). */
int vmm_config_set_memory(vmm_config_t *cfg, uint64_t bytes);
uint64_t vmm_config_memory(const vmm_config_t *cfg);

/* Number of vCPUs: 1..VMM_CONFIG_MAX_VCPUS (VMM_EINVAL). */
int vmm_config_set_vcpus(vmm_config_t *cfg, unsigned n);
unsigned vmm_config_vcpus(const vmm_config_t *cfg);

/* Kernel to boot directly (bzImage, ELF vmlinux with PVH note, Multiboot,
 * other ELF; or a RISC-V Image). Path is copied; NULL clears. */
int vmm_config_set_kernel(vmm_config_t *cfg, const char *path);
const char *vmm_config_kernel(const vmm_config_t *cfg);

/* Initial ramdisk; NULL clears. */
int vmm_config_set_initrd(vmm_config_t *cfg, const char *path);
const char *vmm_config_initrd(const vmm_config_t *cfg);

/* Kernel command line; at most VMM_CONFIG_MAX_CMDLINE - 1 bytes here, and the
 * kernel's own limit (from its boot header) is checked at vmm_vm_create(). */
int vmm_config_set_cmdline(vmm_config_t *cfg, const char *cmdline);
const char *vmm_config_cmdline(const vmm_config_t *cfg);

/* Where the guest console goes. EVENTS (default) delivers VMM_EVENT_CONSOLE
 * events and accepts vmm_vm_console_write(); NONE discards output. */
typedef enum vmm_console_mode {
    VMM_CONSOLE_EVENTS = 0,
    VMM_CONSOLE_NONE,
} vmm_console_mode_t;
int vmm_config_set_console(vmm_config_t *cfg, vmm_console_mode_t mode);
vmm_console_mode_t vmm_config_console(const vmm_config_t *cfg);

/* Soft engine: guest time advances with retired instructions instead of the
 * host clock, so identical input gives an identical run. 0 or 1. */
int vmm_config_set_deterministic(vmm_config_t *cfg, int on);
int vmm_config_deterministic(const vmm_config_t *cfg);

/* Soft engine: 1 (the default) runs guest code translated to host code
 * where the host can (x86-64; vmm_caps_has(caps, "jit")), 0 interprets it
 * instruction by instruction. Both give the same guest-visible results;
 * the interpreter is slower and there for comparison, debugging and hosts
 * without a translator. The environment variable LIBVMM_SOFT_JIT=0 forces
 * the interpreter for every VM of the process (test suites). 0 or 1; the
 * kvm engine ignores it. XML: <metadata><libvmm:domain><libvmm:jit
 * enabled='no'/>. */
int vmm_config_set_jit(vmm_config_t *cfg, int on);
int vmm_config_jit(const vmm_config_t *cfg);

/* ------------------------------------------------------------------------
 * libvirt-shaped settings. Each one mirrors an element or attribute of
 * libvirt's domain XML (named in brackets); doc/xml-support.md has the full
 * matrix. All are plain data: any thread, but not concurrently on one config.
 * Setters return 0, VMM_EINVAL (bad value; vmm_last_error() names it and the
 * limit) or VMM_ENOMEM. String getters return pointers owned by the config,
 * valid until the next setter call or vmm_config_free().
 * ------------------------------------------------------------------------ */

/* Limits of the config itself. */
#define VMM_CONFIG_MAX_HOST_CPUS 1024 /* CPU numbers in a cpuset: 0..1023 */
#define VMM_CONFIG_MAX_DISKS 32
#define VMM_CONFIG_MAX_NETS 16
#define VMM_CONFIG_MAX_CPU_FEATURES 64
#define VMM_UUID_STRING_LEN 36        /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */

/* [uuid] 32 hex digits, dashed (8-4-4-4-12) or not. vmm_config_new() and the
 * XML reader generate a random one when none is given. The getter returns
 * the canonical lower-case dashed form. */
int vmm_config_set_uuid(vmm_config_t *cfg, const char *uuid);
const char *vmm_config_uuid(const vmm_config_t *cfg);

/* [title] one line (no newline), NULL clears; [description] any text. */
int vmm_config_set_title(vmm_config_t *cfg, const char *title);
const char *vmm_config_title(const vmm_config_t *cfg);
int vmm_config_set_description(vmm_config_t *cfg, const char *text);
const char *vmm_config_description(const vmm_config_t *cfg);

/* [metadata] the child elements of <metadata> as an XML fragment, kept
 * verbatim and written back (whitespace between elements excepted). Every
 * top-level node must be an element in its own XML namespace, as libvirt
 * requires. NULL clears. Errors: VMM_EFORMAT for a fragment that is not
 * well-formed or not namespaced. */
int vmm_config_set_metadata(vmm_config_t *cfg, const char *xml_fragment);
const char *vmm_config_metadata(const vmm_config_t *cfg);

/* [currentMemory] RAM the guest is meant to use at boot, in bytes; 0 (the
 * default) means all of vmm_config_memory(). At most the memory size, which
 * vmm_config_validate() checks. A multiple of 4 KiB. */
int vmm_config_set_current_memory(vmm_config_t *cfg, uint64_t bytes);
uint64_t vmm_config_current_memory(const vmm_config_t *cfg);

/* [vcpu placement] STATIC (default) uses the cpuset below; AUTO lets the
 * host pick (the cpuset is then ignored, as in libvirt). */
typedef enum vmm_placement {
    VMM_PLACEMENT_STATIC = 0,
    VMM_PLACEMENT_AUTO,
} vmm_placement_t;
int vmm_config_set_vcpu_placement(vmm_config_t *cfg, vmm_placement_t placement);
vmm_placement_t vmm_config_vcpu_placement(const vmm_config_t *cfg);

/* [vcpu cpuset] host CPUs all vCPU threads may run on, in libvirt syntax
 * ("0-3,^2,6"); NULL clears (any CPU). The getter returns the canonical
 * form ("0-1,3,6") or NULL. VMM_ERANGE for a CPU >= VMM_CONFIG_MAX_HOST_CPUS;
 * CPUs the host lacks are refused by vmm_config_validate(). */
int vmm_config_set_vcpu_cpuset(vmm_config_t *cfg, const char *cpuset);
const char *vmm_config_vcpu_cpuset(const vmm_config_t *cfg);

/* [cputune/shares] relative weight of this VM's vCPUs against other VMs'
 * (libvirt's shares; the scheduler's weight), 2..262144. 0 = unset
 * (default weight 1024). */
int vmm_config_set_cpu_shares(vmm_config_t *cfg, unsigned shares);
unsigned vmm_config_cpu_shares(const vmm_config_t *cfg);

/* [cputune/period, cputune/quota] a cap: each vCPU may run at most quota_us
 * of every period_us. period 1000..1000000 (or 0 = unset); quota
 * 1000..17592186044415, -1 = unlimited, 0 = unset. */
int vmm_config_set_cpu_quota(vmm_config_t *cfg, uint64_t period_us, int64_t quota_us);
uint64_t vmm_config_cpu_period(const vmm_config_t *cfg);
int64_t vmm_config_cpu_quota(const vmm_config_t *cfg);

/* [cputune/global_period, cputune/global_quota] a cap on the whole VM: all
 * its vCPUs together run at most quota_us of every period_us (libvirt's
 * meaning; 2 * period = two host CPUs' worth). Same ranges as above. */
int vmm_config_set_cpu_global_quota(vmm_config_t *cfg, uint64_t period_us, int64_t quota_us);
uint64_t vmm_config_cpu_global_period(const vmm_config_t *cfg);
int64_t vmm_config_cpu_global_quota(const vmm_config_t *cfg);

/* [cputune/vcpupin] pins vCPU `vcpu` (< VMM_CONFIG_MAX_VCPUS) to the host
 * CPUs in `cpuset` (libvirt syntax); NULL removes the pin. The getter
 * returns the canonical text or NULL when that vCPU is not pinned. A pin for
 * a vCPU the VM does not have is refused by vmm_config_validate(). */
int vmm_config_set_vcpu_pin(vmm_config_t *cfg, unsigned vcpu, const char *cpuset);
const char *vmm_config_vcpu_pin(const vmm_config_t *cfg, unsigned vcpu);

/* [memtune/hard_limit] most host memory the VM may hold, in bytes; 0 = no
 * limit. The host's memory pool refuses a VM above it. */
int vmm_config_set_memory_hard_limit(vmm_config_t *cfg, uint64_t bytes);
uint64_t vmm_config_memory_hard_limit(const vmm_config_t *cfg);

/* [os/type arch] "x86_64" or "riscv64"; NULL = follow the engine. The XML
 * reader refuses an arch the engine cannot run. */
int vmm_config_set_arch(vmm_config_t *cfg, const char *arch);
const char *vmm_config_arch(const vmm_config_t *cfg);

/* [os/type machine] kept verbatim and written back (libvmm has one machine
 * model per architecture). NULL clears. */
int vmm_config_set_machine(vmm_config_t *cfg, const char *machine);
const char *vmm_config_machine(const vmm_config_t *cfg);

/* [os/dtb] a device tree blob for riscv64 guests instead of the generated
 * one; [os/loader] a firmware image. Paths are copied; NULL clears. */
int vmm_config_set_dtb(vmm_config_t *cfg, const char *path);
const char *vmm_config_dtb(const vmm_config_t *cfg);
int vmm_config_set_loader(vmm_config_t *cfg, const char *path);
const char *vmm_config_loader(const vmm_config_t *cfg);

/* [cpu mode] */
typedef enum vmm_cpu_mode {
    VMM_CPU_DEFAULT = 0,       /* no <cpu> element: the engine's default model */
    VMM_CPU_HOST_PASSTHROUGH,  /* the host CPU's features, as far as the engine allows */
    VMM_CPU_HOST_MODEL,        /* same in libvmm: there is no CPU model catalogue */
} vmm_cpu_mode_t;
int vmm_config_set_cpu_mode(vmm_config_t *cfg, vmm_cpu_mode_t mode);
vmm_cpu_mode_t vmm_config_cpu_mode(const vmm_config_t *cfg);

/* [cpu/feature policy='disable'] hides a CPUID feature from an x86_64 guest.
 * `name` uses libvirt's names ("x2apic", "avx2", "xsave", "sse4.2"...); an
 * unknown name is VMM_EINVAL. Adding a name twice is a no-op. At most
 * VMM_CONFIG_MAX_CPU_FEATURES. The list is kept sorted by name. */
int vmm_config_cpu_disable_feature(vmm_config_t *cfg, const char *name);
unsigned vmm_config_cpu_disabled_count(const vmm_config_t *cfg);
const char *vmm_config_cpu_disabled(const vmm_config_t *cfg, unsigned index);

/* [clock offset] what the guest's RTC reads at boot. */
typedef enum vmm_clock_offset {
    VMM_CLOCK_UTC = 0,
    VMM_CLOCK_LOCALTIME,
} vmm_clock_offset_t;
int vmm_config_set_clock_offset(vmm_config_t *cfg, vmm_clock_offset_t offset);
vmm_clock_offset_t vmm_config_clock_offset(const vmm_config_t *cfg);

/* [features] x86 platform features offered to the guest. */
#define VMM_FEATURE_ACPI 0x1u /* <acpi/>: ACPI tables */
#define VMM_FEATURE_APIC 0x2u /* <apic/>: local APIC / IOAPIC (MP tables) */
#define VMM_FEATURE_PAE 0x4u  /* <pae/> */
int vmm_config_set_features(vmm_config_t *cfg, unsigned features);
unsigned vmm_config_features(const vmm_config_t *cfg);

/* [on_poweroff, on_reboot, on_crash] what happens when the guest powers off,
 * asks for a reset, or crashes:
 *   DESTROY  the run ends: state SHUTOFF (CRASHED for a crash), outcome
 *            POWEROFF / RESET / CRASH;
 *   RESTART  the machine is reset and the guest boots again (no final state);
 *   PRESERVE the run ends as with DESTROY, and the vCPU registers and guest
 *            memory stay readable until vmm_vm_destroy().
 * Defaults of vmm_config_new(): DESTROY, DESTROY, DESTROY; the XML reader
 * uses libvirt's defaults when an element is absent: destroy, restart,
 * destroy. */
typedef enum vmm_lifecycle_action {
    VMM_ACTION_DESTROY = 0,
    VMM_ACTION_RESTART,
    VMM_ACTION_PRESERVE,
} vmm_lifecycle_action_t;
typedef enum vmm_lifecycle_event {
    VMM_LIFECYCLE_POWEROFF = 0,
    VMM_LIFECYCLE_REBOOT,
    VMM_LIFECYCLE_CRASH,
} vmm_lifecycle_event_t;
int vmm_config_set_lifecycle(vmm_config_t *cfg, vmm_lifecycle_event_t event,
                             vmm_lifecycle_action_t action);
vmm_lifecycle_action_t vmm_config_lifecycle(const vmm_config_t *cfg, vmm_lifecycle_event_t event);

/* [devices/disk type='file' device='disk'] a raw image on virtio-blk.
 * A sized struct (vmm/abi.h): set .size = sizeof(vmm_disk_config_t) before
 * vmm_config_add_disk(); the copies vmm_config_disk() returns carry the
 * library's size. */
typedef struct vmm_disk_config {
    uint64_t size;      /* bytes of this struct the writer knew (vmm/abi.h) */
    const char *path;   /* source file, absolute; NULL with a backend */
    const char *target; /* guest name hint, "vda".."vdz", "vdaa".. ; unique */
    int readonly;       /* <readonly/> */
    const char *serial; /* <serial>, NULL = none; at most 20 bytes (virtio-blk) */
    /* A disk the host program serves itself (vmm/device.h) instead of a file:
     * its callbacks (copied), their opaque and the size in bytes (a non-zero
     * multiple of 512). Such a disk has no domain XML form: vmm_config_to_xml
     * leaves it out. */
    const vmm_blk_backend_ops_t *backend;
    void *backend_opaque;
    uint64_t capacity;
} vmm_disk_config_t;
/* Appends a disk; the strings are copied. VMM_EINVAL for a bad or duplicate
 * target, a relative path, a too long serial or a bad disk->size; VMM_ENOTSUP
 * when disk->size is larger than this library's and sets fields it does not
 * know; VMM_ERANGE past VMM_CONFIG_MAX_DISKS. */
int vmm_config_add_disk(vmm_config_t *cfg, const vmm_disk_config_t *disk);
unsigned vmm_config_disk_count(const vmm_config_t *cfg);
/* The disk at `index` (NULL when out of range), owned by the config. */
const vmm_disk_config_t *vmm_config_disk(const vmm_config_t *cfg, unsigned index);

/* [devices/interface] a virtio-net NIC and how it reaches the outside. */
typedef enum vmm_net_type {
    VMM_NET_TAP = 0, /* type='ethernet': a host tap device */
    VMM_NET_UDP,     /* type='udp': one frame per UDP datagram (QEMU -netdev dgram) */
    VMM_NET_SERVER,  /* type='server': a stream socket server, frames preceded by a
                      * 4-byte big-endian length (QEMU -netdev stream,server=on) */
    VMM_NET_CLIENT,  /* type='client': the same, connecting to a server */
    VMM_NET_HOST,    /* the host program's own backend (vmm/device.h); no XML form */
} vmm_net_type_t;

/* A sized struct (vmm/abi.h): set .size = sizeof(vmm_net_config_t) before
 * vmm_config_add_nic(); the copies vmm_config_net() returns carry the
 * library's size. Fields after `mac` came later: check VMM_HAS_FIELD()
 * before reading them from an older library. */
typedef struct vmm_net_config {
    uint64_t size;      /* bytes of this struct the writer knew (vmm/abi.h) */
    const char *tap;    /* TAP: <target dev>, 1..15 bytes; NULL with managed = the
                         * kernel picks a name. Other types: NULL */
    uint8_t mac[6];     /* <mac address>, unicast; all zero = generate 52:54:00:xx:xx:xx */
    vmm_net_type_t type;
    int managed;        /* TAP: 1 = libvmm creates the tap (it must not exist) and it
                         * disappears with the VM (<target managed='yes'> or absent);
                         * 0 = attach to an existing tap (managed='no') */
    const char *address; /* <source address>: UDP the remote host, SERVER the address to
                          * listen on (NULL = any), CLIENT the server; numeric IPv4 or
                          * IPv6. SERVER/CLIENT: a path starting with '/' is a unix
                          * socket (port 0; no libvirt form, so not written as XML) */
    unsigned port;      /* <source port>: 1..65535 (0 with a unix path) */
    const char *local_address; /* UDP <source><local address>: where to bind */
    unsigned local_port;       /* UDP <source><local port> */
    /* HOST: the host program carries the frames (vmm/device.h): its ops
     * (copied) and their opaque. No domain XML form: vmm_config_to_xml
     * leaves such a NIC out. */
    const vmm_net_backend_ops_t *backend;
    void *backend_opaque;
} vmm_net_config_t;

/* Appends an existing tap device NIC (type TAP, managed 0); tap is copied.
 * mac NULL generates one in 52:54:00:xx:xx:xx. VMM_EINVAL for a bad tap
 * name, a multicast or duplicate MAC; VMM_ERANGE past VMM_CONFIG_MAX_NETS. */
int vmm_config_add_net(vmm_config_t *cfg, const char *tap, const uint8_t mac[6]);
/* Appends a NIC of any type; the strings are copied. VMM_EINVAL for a bad
 * tap name, address or port, fields the type does not use, a duplicate tap
 * or MAC, a bad nic->size; VMM_ENOTSUP when nic->size is larger than this
 * library's and sets fields it does not know; VMM_ERANGE past
 * VMM_CONFIG_MAX_NETS. */
int vmm_config_add_nic(vmm_config_t *cfg, const vmm_net_config_t *nic);
unsigned vmm_config_net_count(const vmm_config_t *cfg);
/* The NIC at `index` (NULL when out of range), owned by the config. */
const vmm_net_config_t *vmm_config_net(const vmm_config_t *cfg, unsigned index);

/* [devices/serial, devices/console] where the guest's serial console goes.
 * It is libvmm's one console (the UART, or SBI on riscv64): setting it also
 * sets vmm_config_console() to EVENTS for PTY/STDIO/FILE and NONE for
 * NONE/NULL. The library itself only delivers console events; the host
 * program (vmmctl) connects them to a pty, its stdio or the file. */
typedef enum vmm_chardev_type {
    VMM_CHARDEV_NONE = 0, /* no serial device in the XML */
    VMM_CHARDEV_NULL,     /* type='null': output discarded */
    VMM_CHARDEV_PTY,      /* type='pty' */
    VMM_CHARDEV_STDIO,    /* type='stdio' */
    VMM_CHARDEV_FILE,     /* type='file' <source path=...>: output appended to path */
    VMM_CHARDEV_UNIX,     /* type='unix' <source mode='bind' path=...>: a unix socket
                           * the host program serves (virtio console and ports only) */
} vmm_chardev_type_t;
/* path is required (absolute) for FILE and must be NULL otherwise. */
int vmm_config_set_serial(vmm_config_t *cfg, vmm_chardev_type_t type, const char *path);
/* Returns the type; *path (if path is non-NULL) gets the file or NULL. */
vmm_chardev_type_t vmm_config_serial(const vmm_config_t *cfg, const char **path);

/* [devices/rng model='virtio'] a virtio-rng device fed from /dev/urandom. */
int vmm_config_set_rng(vmm_config_t *cfg, int on);
int vmm_config_rng(const vmm_config_t *cfg);

/* [devices/memballoon model='virtio'] a virtio-balloon device: the host
 * takes guest memory back by setting a target (<currentMemory> at boot,
 * vmm_vm_set_balloon_target() at run time) and the guest's pages given up
 * return to the host. `flags`: VMM_BALLOON_* below. `stats_period`
 * (<stats period='N'/>): seconds between the guest's memory statistics
 * reports, 0 = only when asked (vmm_vm_memory_stats() with a refresh), at
 * most VMM_BALLOON_STATS_PERIOD_MAX. on = 0 removes the device. Errors:
 * VMM_EINVAL naming an unknown flag or a period above the limit. */
#define VMM_BALLOON_DEFLATE_ON_OOM 1u       /* autodeflate='on': the guest may take
                                             * pages back before its OOM killer runs */
#define VMM_BALLOON_FREE_PAGE_REPORTING 2u  /* freePageReporting='on': free guest pages
                                             * go back to the host as the guest frees them */
#define VMM_BALLOON_STATS_PERIOD_MAX 86400u
int vmm_config_set_balloon(vmm_config_t *cfg, int on, unsigned flags, unsigned stats_period);
/* 1 when the config has a balloon (then *flags and *stats_period, when not
 * NULL, get its settings), else 0. */
int vmm_config_balloon(const vmm_config_t *cfg, unsigned *flags, unsigned *stats_period);

/* --- virtio-console and virtio-vsock ------------------------------------ */

#define VMM_CONFIG_MAX_PORTS 16     /* named virtio-console ports */
#define VMM_CONFIG_PORT_NAME_MAX 64 /* bytes of a port name */

/* [devices/console type=... with <target type='virtio'/>] the VM's console
 * on port 0 of a virtio-console device (hvc0 in a Linux guest: put
 * console=hvc0 on the kernel command line) instead of the UART. Its output
 * arrives as VMM_EVENT_CONSOLE events exactly like the UART's (the UART
 * stays, and what the guest still writes there arrives too), and
 * vmm_vm_console_write() feeds hvc0. `type`: NONE removes it; PTY, STDIO or
 * UNIX (path: absolute, a socket the host program serves) keep console
 * events on; NULL discards output. Like vmm_config_set_serial(), it sets
 * vmm_config_console(). path is required for UNIX and must be NULL
 * otherwise (VMM_EINVAL). */
int vmm_config_set_virtio_console(vmm_config_t *cfg, vmm_chardev_type_t type, const char *path);
/* The type (NONE: no virtio console); *path (if path is non-NULL) gets the
 * UNIX socket path or NULL. */
vmm_chardev_type_t vmm_config_virtio_console(const vmm_config_t *cfg, const char **path);

/* [devices/channel type=... with <target type='virtio' name=.../>] a named
 * virtio-console port: the guest sees /dev/vport<D>p<N> (N = 1 + index),
 * named `name` in /sys/class/virtio-ports/vport<D>p<N>/name. The host
 * program reads what the guest writes from VMM_EVENT_PORT events and writes
 * with vmm_vm_port_write(). `name`: 1..VMM_CONFIG_PORT_NAME_MAX bytes of
 * A-Z a-z 0-9 . _ -, unique. `type` says how the host program exposes the
 * port (the library only delivers events): PTY, UNIX (path: absolute; vmmctl
 * listens there and relays) or NULL. Errors: VMM_EINVAL (bad or duplicate
 * name, bad type or path), VMM_ERANGE past VMM_CONFIG_MAX_PORTS. */
int vmm_config_add_port(vmm_config_t *cfg, const char *name, vmm_chardev_type_t type,
                        const char *path);
unsigned vmm_config_port_count(const vmm_config_t *cfg);
/* The name of port `index` (NULL when out of range, owned by the config);
 * *type and *path (each if non-NULL) get its type and path (or NULL). */
const char *vmm_config_port(const vmm_config_t *cfg, unsigned index, vmm_chardev_type_t *type,
                            const char **path);

/* [devices/vsock model='virtio' <cid auto='no' address=.../>] a virtio-vsock
 * device with guest CID `cid` (3..0xfffffffe; 0 removes the device).
 * [metadata <libvmm:vsock socket=.../>] `uds_path`: NULL, or the absolute
 * path of the host side's unix socket, in Firecracker's hybrid convention:
 * the VM listens there; a host program connects, writes "CONNECT <port>\n"
 * and, once the guest accepted on vsock port <port>, reads
 * "OK <hostport>\n" and then has the stream; a guest connection to host
 * port P connects to the unix socket "<uds_path>_P". At most 96 bytes (a
 * socket address must fit "_<port>" after it). VMM_EINVAL otherwise. */
int vmm_config_set_vsock(vmm_config_t *cfg, uint32_t cid, const char *uds_path);
/* 0 when there is no vsock device. */
uint32_t vmm_config_vsock_cid(const vmm_config_t *cfg);
const char *vmm_config_vsock_path(const vmm_config_t *cfg);

/* Checks a config as a whole and against this host: vcpupins within the
 * vCPU count, currentMemory <= memory, a kernel when initrd/cmdline/dtb are
 * set, every cpuset within the host's CPUs, the kernel, initrd, dtb, loader
 * and disk files present (and the kernel readable), arch matching the engine.
 * Returns 0 or the code of the first problem; when problems is non-NULL it
 * receives a malloc'd text (free()) listing every problem, one per line, or
 * NULL when there is none. Any thread. */
int vmm_config_validate(const vmm_config_t *cfg, char **problems);

/* ------------------------------------------------------------------------
 * libvirt domain XML (libxml2).
 * ------------------------------------------------------------------------ */

/* Flags for vmm_config_from_xml*(). */
#define VMM_XML_LENIENT 1u        /* unknown / unsupported elements and attributes
                                   * become warnings instead of errors */
#define VMM_XML_NO_HOST_CHECKS 2u /* skip the host checks of vmm_config_validate()
                                   * (files, host CPUs): for a domain meant for
                                   * another machine, or to reformat it */

/* Largest document the reader accepts. */
#define VMM_XML_MAX_SIZE (10u << 20)

/* Reads a libvirt domain XML document (`len` bytes at `xml`, no NUL needed)
 * into a new config (*out, free with vmm_config_free()). The document is
 * checked in full before anything is returned: every problem is collected,
 * each as "PATH, line N: message", e.g.
 *   "/domain/devices/hostdev, line 42: not supported".
 * Elements and attributes libvmm does not support are errors unless flags has
 * VMM_XML_LENIENT, then warnings; a few harmless ones (<emulator>, <address>,
 * <controller>, ...) are always just warnings. Unless VMM_XML_NO_HOST_CHECKS,
 * vmm_config_validate() runs on the result.
 *
 * `warnings` (may be NULL) receives a malloc'd text (free()) or NULL:
 *   - on success, the warnings, one per line, each starting "warning: ";
 *   - on failure, every problem, one per line, each starting "error: " or
 *     "warning: ", so a caller can list them all (vmmctl validate does).
 * On failure *out is NULL and vmm_last_error() holds the first error (and how
 * many more there are).
 *
 * Safety: the document is untrusted. Network access, DTD loading and entity
 * substitution are off; a DOCTYPE is refused outright (no entity expansion,
 * no external entities); documents above VMM_XML_MAX_SIZE are refused;
 * libxml2 prints nothing (its errors become problems with line and column).
 *
 * Errors: VMM_EFORMAT (malformed XML, not a domain), VMM_ENOTSUP (unsupported
 * element/attribute/value), VMM_EINVAL (bad value), VMM_ERANGE (a value does
 * not fit, e.g. memory overflowing 64 bits), VMM_ENOENT (a file the domain
 * names is missing), VMM_ENOMEM. Any thread; calls on different threads are
 * independent (no shared libxml2 state is left changed). */
int vmm_config_from_xml(const char *xml, size_t len, unsigned flags, vmm_config_t **out,
                        char **warnings);

/* Same, reading the file at `path` (VMM_ENOENT / VMM_EIO when it cannot be
 * read, VMM_ERANGE when larger than VMM_XML_MAX_SIZE). */
int vmm_config_from_xml_file(const char *path, unsigned flags, vmm_config_t **out,
                             char **warnings);

/* Writes `cfg` as libvirt domain XML (two-space indented, no XML
 * declaration, like `virsh dumpxml`) into a malloc'd NUL-terminated string,
 * *out_xml, that the caller frees with free(). What it writes validates
 * against libvirt's domain schema, and vmm_config_from_xml() reads it back to
 * an equal config (deterministic mode excepted: libvirt has no such element).
 * Engine "auto" is written as type 'qemu' when arch is riscv64, else 'kvm'.
 * Errors: VMM_EINVAL (a relative kernel/initrd/dtb/loader path, or text XML
 * cannot carry: control characters, invalid UTF-8), VMM_ENOMEM. Any thread. */
int vmm_config_to_xml(const vmm_config_t *cfg, char **out_xml);
#ifdef __cplusplus
}
#endif
#endif
