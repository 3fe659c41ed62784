/* libvmm — what this host and this build of the library can do.
 *
 * vmm_caps_new() probes once (opens /dev/kvm, looks for libxml2, ...) and
 * keeps the answers in an opaque object, so asking is cheap afterwards and
 * new questions can be added in later releases without changing any struct.
 *
 *     vmm_caps_t *caps;
 *     if (vmm_caps_new(&caps) == 0) {
 *         const char *why;
 *         if (vmm_caps_engine_available(caps, "kvm", &why) != 1)
 *             printf("no kvm here: %s\n", why);
 *         vmm_caps_free(caps);
 *     }
 */
#ifndef VMM_CAPS_H
#define VMM_CAPS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmm_caps vmm_caps_t;

/* Probes the host and the library. The object is the caller's, freed with
 * vmm_caps_free(); it is a snapshot (a /dev/kvm that appears later is not
 * seen). Errors: VMM_EINVAL (NULL out), VMM_ENOMEM. Any thread. */
int vmm_caps_new(vmm_caps_t **out);

/* Frees the object. NULL is a no-op. */
void vmm_caps_free(vmm_caps_t *caps);

/* Engines built into the library ("kvm", "soft"), available here or not:
 * the count, and the name at `index` (NULL when index >= count). Names are
 * static strings. Any thread. */
unsigned vmm_caps_engine_count(const vmm_caps_t *caps);
const char *vmm_caps_engine_name(const vmm_caps_t *caps, unsigned index);

/* 1 when `engine` can run VMs on this host, 0 when it cannot (then *why, if
 * why is non-NULL, says why, e.g. "/dev/kvm: Permission denied"; "" when
 * available; owned by caps). VMM_EINVAL for a NULL caps or engine, or an
 * engine name the library does not know (the message lists the known ones).
 * Any thread. */
int vmm_caps_engine_available(const vmm_caps_t *caps, const char *engine, const char **why);

/* The most vCPUs one VM may have on `engine` here (the engine's limit on this
 * host, capped by VMM_CONFIG_MAX_VCPUS); 0 when the engine is unknown or not
 * available. Any thread. */
unsigned vmm_caps_engine_max_vcpus(const vmm_caps_t *caps, const char *engine);

/* The guest architecture of `engine`: "x86_64" or "riscv64"; NULL when
 * unknown. Any thread. */
const char *vmm_caps_engine_arch(const vmm_caps_t *caps, const char *engine);

/* Optional features, by name. Known names:
 *   "xml"               libxml2 can be loaded: vmm_config_from_xml() and
 *                       vmm_config_to_xml() work (else VMM_ENOTSUP)
 *   "deterministic"     an engine that honours vmm_config_set_deterministic()
 *                       (soft) is available
 *   "jit"               the soft engine translates guest code to host code
 *                       (x86-64 hosts; vmm_config_set_jit())
 *   "lifecycle-restart" the config's on_poweroff/on_reboot/on_crash restart
 *   "async-lifecycle"   vmm_vm_pause_async() / vmm_vm_stop_async()
 *   "virtio-console"    vmm_config_set_virtio_console(), vmm_config_add_port(),
 *                       VMM_EVENT_PORT and vmm_vm_port_write()
 *   "vsock"             vmm_config_set_vsock()
 * vmm_caps_has() returns 1 when `feature` is present, 0 when it is not or
 * the name is unknown (a newer name asked of an older library). The list
 * functions give the features present here. Any thread. */
int vmm_caps_has(const vmm_caps_t *caps, const char *feature);
unsigned vmm_caps_feature_count(const vmm_caps_t *caps);
const char *vmm_caps_feature_name(const vmm_caps_t *caps, unsigned index);

#ifdef __cplusplus
}
#endif
#endif
