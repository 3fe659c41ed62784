/* libvmm — VM configuration.
 *
 * A vmm_config_t describes one machine: engine, memory, vCPUs and what to
 * boot. Setters validate what they can without touching the host (ranges,
 * lengths); vmm_vm_create() checks the rest (files exist, limits of the host
 * and the engine). A config is plain data: any thread, but not concurrently.
 */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stdint.h>

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

#ifdef __cplusplus
}
#endif
#endif
