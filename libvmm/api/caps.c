/* vmm_caps_*: what this host and this build can do, probed once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/platform.h"
#include "backend/soft/jit/jit.h"
#include "config/xml/xml_dl.h"
#include "util/error.h"
#include "vmm/caps.h"
#include "vmm/config.h"

#define CAPS_MAX_FEATURES 12

struct caps_engine {
    const char *name; /* static: the engine's own */
    const char *arch;
    int available;
    unsigned max_vcpus;
    char why[256];
};

struct vmm_caps {
    struct caps_engine engines[2];
    unsigned nr_engines;
    const char *features[CAPS_MAX_FEATURES];
    unsigned nr_features;
};

static void probe_engine(struct caps_engine *e, const struct platform *p)
{
    e->name = p->engine->name;
    e->arch = p->arch;
    int rc = p->engine->probe();
    if (rc) {
        snprintf(e->why, sizeof(e->why), "%s", vmm_last_error());
        if (!e->why[0])
            snprintf(e->why, sizeof(e->why), "%s", vmm_strerror(rc));
        return;
    }
    e->available = 1;
    unsigned max = p->engine->max_vcpus();
    e->max_vcpus = max < VMM_CONFIG_MAX_VCPUS ? max : VMM_CONFIG_MAX_VCPUS;
}

static const struct caps_engine *find_engine(const vmm_caps_t *caps, const char *name)
{
    if (!caps || !name)
        return NULL;
    for (unsigned i = 0; i < caps->nr_engines; i++)
        if (strcmp(caps->engines[i].name, name) == 0)
            return &caps->engines[i];
    return NULL;
}

int vmm_caps_new(vmm_caps_t **out)
{
    if (!out)
        return vmm_error(VMM_EINVAL, "vmm_caps_new: out is NULL");
    *out = NULL;
    vmm_caps_t *caps = calloc(1, sizeof(*caps));
    if (!caps)
        return vmm_error(VMM_ENOMEM, "allocating the capability object");
    probe_engine(&caps->engines[caps->nr_engines++], &platform_x86_64);
    probe_engine(&caps->engines[caps->nr_engines++], &platform_riscv64);

    if (xml_dl_available())
        caps->features[caps->nr_features++] = "xml";
    const struct caps_engine *soft = find_engine(caps, VMM_ENGINE_SOFT);
    if (soft && soft->available)
        caps->features[caps->nr_features++] = "deterministic";
    if (soft && soft->available && rv_jit_supported())
        caps->features[caps->nr_features++] = "jit"; /* soft engine translates guest code */
    caps->features[caps->nr_features++] = "lifecycle-restart";
    caps->features[caps->nr_features++] = "async-lifecycle";
    /* virtio-console (hvc console, named ports) and virtio-vsock */
    caps->features[caps->nr_features++] = "virtio-console";
    caps->features[caps->nr_features++] = "vsock";
    vmm_error_clear(); /* a failed probe is an answer, not an error */
    *out = caps;
    return 0;
}

void vmm_caps_free(vmm_caps_t *caps)
{
    free(caps);
}

unsigned vmm_caps_engine_count(const vmm_caps_t *caps)
{
    return caps ? caps->nr_engines : 0;
}

const char *vmm_caps_engine_name(const vmm_caps_t *caps, unsigned index)
{
    return caps && index < caps->nr_engines ? caps->engines[index].name : NULL;
}

int vmm_caps_engine_available(const vmm_caps_t *caps, const char *engine, const char **why)
{
    if (!caps || !engine)
        return vmm_error(VMM_EINVAL, "vmm_caps_engine_available: caps and engine are required");
    const struct caps_engine *e = find_engine(caps, engine);
    if (!e)
        return vmm_error(VMM_EINVAL, "engine '%s' unknown (known: %s, %s)", engine,
                         caps->engines[0].name, caps->engines[1].name);
    if (why)
        *why = e->why;
    return e->available;
}

unsigned vmm_caps_engine_max_vcpus(const vmm_caps_t *caps, const char *engine)
{
    const struct caps_engine *e = find_engine(caps, engine);
    return e && e->available ? e->max_vcpus : 0;
}

const char *vmm_caps_engine_arch(const vmm_caps_t *caps, const char *engine)
{
    const struct caps_engine *e = find_engine(caps, engine);
    return e ? e->arch : NULL;
}

int vmm_caps_has(const vmm_caps_t *caps, const char *feature)
{
    if (!caps || !feature)
        return 0;
    for (unsigned i = 0; i < caps->nr_features; i++)
        if (strcmp(caps->features[i], feature) == 0)
            return 1;
    return 0;
}

unsigned vmm_caps_feature_count(const vmm_caps_t *caps)
{
    return caps ? caps->nr_features : 0;
}

const char *vmm_caps_feature_name(const vmm_caps_t *caps, unsigned index)
{
    return caps && index < caps->nr_features ? caps->features[index] : NULL;
}
