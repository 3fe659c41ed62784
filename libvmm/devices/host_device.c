#include "devices/host_device.h"

#include <stdlib.h>
#include <string.h>

#include "machine/component.h"
#include "util/error.h"
#include "util/log.h"

struct host_device {
    struct machine *m;
    vmm_device_ops_t ops;
    void *opaque;
    int irq;
    char name[32];
    _Atomic uint64_t refused;
};

static uint64_t hd_read(void *opaque, uint64_t offset, unsigned size)
{
    struct host_device *d = opaque;
    if (!d->ops.read)
        return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
    return d->ops.read(d->opaque, offset, size);
}

static void hd_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    struct host_device *d = opaque;
    if (d->ops.write && d->ops.write(d->opaque, offset, size, value) != 0) {
        /* Interposition: the program denied this access. */
        if (atomic_fetch_add(&d->refused, 1) == 0)
            log_debug("device '%s' refused a %u-byte write of 0x%llx at +0x%llx", d->name, size,
                      (unsigned long long)value, (unsigned long long)offset);
    }
}

static const struct bus_dev_ops hd_bus_ops = { hd_read, hd_write };

static void hd_reset(void *opaque)
{
    struct host_device *d = opaque;
    if (d->ops.reset)
        d->ops.reset(d->opaque);
}

/* The program's bytes, as a u32 length and the bytes. */
static int hd_save(void *opaque, struct state_writer *w)
{
    struct host_device *d = opaque;
    if (!d->ops.save) {
        state_put_u32(w, 0);
        return 0;
    }
    size_t cap = 256;
    uint8_t *buf = NULL;
    for (;;) {
        uint8_t *n = realloc(buf, cap);
        if (!n) {
            free(buf);
            return vmm_error(VMM_ENOMEM, "state of device '%s' (%zu bytes)", d->name, cap);
        }
        buf = n;
        size_t need = d->ops.save(d->opaque, buf, cap);
        if (need > STATE_SECTION_MAX - 64) {
            free(buf);
            return vmm_error(VMM_ERANGE, "device '%s' state is %zu bytes, limit %u", d->name,
                             need, STATE_SECTION_MAX - 64);
        }
        if (need <= cap) {
            state_put_u32(w, (uint32_t)need);
            state_put_bytes(w, buf, need);
            free(buf);
            return 0;
        }
        cap = need;
    }
}

static int hd_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct host_device *d = opaque;
    uint32_t len;
    int rc = state_get_u32(r, &len);
    if (rc)
        return rc;
    if (len > state_left(r))
        return vmm_error(VMM_EFORMAT, "device '%s' state: %u bytes announced, %zu present",
                         d->name, len, state_left(r));
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return vmm_error(VMM_ENOMEM, "state of device '%s'", d->name);
    state_get_bytes(r, buf, len);
    rc = 0;
    if (d->ops.load && d->ops.load(d->opaque, buf, len) != 0)
        rc = vmm_error(VMM_EFORMAT, "device '%s' refused its saved state (%u bytes)", d->name,
                       len);
    else if (!d->ops.load && len)
        rc = vmm_error(VMM_EFORMAT, "device '%s' has no load callback for %u bytes of state",
                       d->name, len);
    free(buf);
    return rc;
}

static void hd_destroy(void *opaque)
{
    struct host_device *d = opaque;
    if (d->ops.destroy)
        d->ops.destroy(d->opaque);
    free(d);
}

static const struct component_ops host_device_ops = {
    .type = "host-device",
    .state_version = 1,
    .reset = hd_reset,
    .save = hd_save,
    .load = hd_load,
    .destroy = hd_destroy,
};

int host_device_create(struct machine *m, const vmm_device_config_t *cfg)
{
    struct host_device *d = calloc(1, sizeof(*d));
    if (!d)
        return vmm_error(VMM_ENOMEM, "device '%s'", cfg->name);
    d->m = m;
    d->ops = *cfg->ops;
    d->opaque = cfg->opaque;
    d->irq = cfg->irq;
    strncpy(d->name, cfg->name, sizeof(d->name) - 1);
    struct component *c = machine_add_component(m, cfg->name, &host_device_ops, d);
    if (!c)
        return VMM_EINVAL;
    struct bus *bus = cfg->space == VMM_SPACE_PIO ? &m->pio : &m->mmio;
    int rc = component_map(m, c, bus, cfg->base, cfg->length, &hd_bus_ops, d);
    if (rc == 0 && cfg->irq >= 0)
        rc = component_claim_irq(m, c, (unsigned)cfg->irq);
    return rc;
}

static struct host_device *find(struct machine *m, const char *name)
{
    struct component *c = name ? machine_find_component(m, name) : NULL;
    return c && c->ops == &host_device_ops ? c->opaque : NULL;
}

int host_device_set_irq(struct machine *m, const char *name, int level)
{
    struct host_device *d = find(m, name);
    if (!d)
        return vmm_error(VMM_ENOENT, "no host device '%s'", name ? name : "(null)");
    if (d->irq < 0)
        return vmm_error(VMM_EINVAL, "device '%s' has no interrupt line", d->name);
    return machine_set_irq(m, (unsigned)d->irq, level ? 1 : 0);
}

int host_device_refused(struct machine *m, const char *name, uint64_t *count)
{
    struct host_device *d = find(m, name);
    if (!d)
        return vmm_error(VMM_ENOENT, "no host device '%s'", name ? name : "(null)");
    *count = atomic_load(&d->refused);
    return 0;
}
