#include "machine/component.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/machine.h"
#include "util/error.h"

static void component_free(struct component *c)
{
    if (c->ops->destroy)
        c->ops->destroy(c->opaque);
    free(c);
}

struct component *machine_add_component(struct machine *m, const char *name,
                                        const struct component_ops *ops, void *opaque)
{
    struct component *c = calloc(1, sizeof(*c));
    if (!c) {
        if (ops->destroy)
            ops->destroy(opaque);
        vmm_error(VMM_ENOMEM, "component '%s'", name);
        return NULL;
    }
    c->ops = ops;
    c->opaque = opaque;
    size_t n = strlen(name);
    if (n == 0 || n > COMPONENT_NAME_MAX) {
        component_free(c);
        vmm_error(VMM_EINVAL, "component name '%s': length %zu, limit 1..%d", name, n,
                  COMPONENT_NAME_MAX);
        return NULL;
    }
    memcpy(c->name, name, n + 1);
    if (machine_find_component(m, name)) {
        component_free(c);
        vmm_error(VMM_EINVAL, "component '%s' added twice", name);
        return NULL;
    }
    if (m->nr_components == m->cap_components) {
        int cap = m->cap_components ? m->cap_components * 2 : 16;
        struct component **list = realloc(m->components, (size_t)cap * sizeof(*list));
        if (!list) {
            component_free(c);
            vmm_error(VMM_ENOMEM, "component table (%d entries)", cap);
            return NULL;
        }
        m->components = list;
        m->cap_components = cap;
    }
    m->components[m->nr_components++] = c;
    return c;
}

struct component *machine_find_component(struct machine *m, const char *name)
{
    for (int i = 0; i < m->nr_components; i++)
        if (strcmp(m->components[i]->name, name) == 0)
            return m->components[i];
    return NULL;
}

void machine_destroy_components(struct machine *m)
{
    for (int i = m->nr_components - 1; i >= 0; i--)
        component_free(m->components[i]);
    free(m->components);
    m->components = NULL;
    m->nr_components = m->cap_components = 0;
}

static int add_claim(struct component *c, enum component_claim_kind kind, uint64_t base,
                     uint64_t size)
{
    if (c->nr_claims >= COMPONENT_MAX_CLAIMS)
        return vmm_error(VMM_EINVAL, "component '%s': more than %d claims", c->name,
                         COMPONENT_MAX_CLAIMS);
    c->claims[c->nr_claims++] = (struct component_claim){ kind, base, size };
    return 0;
}

int component_map(struct machine *m, struct component *c, struct bus *bus, uint64_t base,
                  uint64_t size, const struct bus_dev_ops *ops, void *opaque)
{
    enum component_claim_kind kind = bus == &m->pio ? CLAIM_PIO : CLAIM_MMIO;
    const struct bus_range *other = bus_find(bus, base);
    if (!other && size)
        other = bus_find(bus, base + size - 1);
    if (other)
        return vmm_error(VMM_EINVAL, "%s range 0x%llx+0x%llx of '%s' overlaps '%s' at 0x%llx",
                         bus->name, (unsigned long long)base, (unsigned long long)size, c->name,
                         other->name, (unsigned long long)other->base);
    int rc = add_claim(c, kind, base, size);
    if (rc)
        return rc;
    rc = bus_register(bus, base, size, ops, opaque, c->name);
    if (rc)
        c->nr_claims--;
    return rc;
}

int component_claim_irq(struct machine *m, struct component *c, unsigned irq)
{
    for (int i = 0; i < m->nr_components; i++) {
        const struct component *o = m->components[i];
        for (int k = 0; k < o->nr_claims; k++)
            if (o->claims[k].kind == CLAIM_IRQ && o->claims[k].base == irq)
                return vmm_error(VMM_EINVAL, "interrupt line %u of '%s' is already driven by '%s'",
                                 irq, c->name, o->name);
    }
    return add_claim(c, CLAIM_IRQ, irq, 1);
}

void machine_reset_components(struct machine *m)
{
    for (int i = 0; i < m->nr_components; i++)
        if (m->components[i]->ops->reset)
            m->components[i]->ops->reset(m->components[i]->opaque);
}

/* One section; a stateless component (no save) gets an empty one, so a
 * load can tell "no state" from "missing". A save that fails sends nothing
 * of its section, and its message is what the caller sees. */
static int save_one(struct component *c, struct state_writer *w)
{
    int rc = state_begin(w, c->name, c->ops->state_version);
    if (rc)
        return rc;
    if (c->ops->save && (rc = c->ops->save(c->opaque, w))) {
        state_cancel(w);
        return rc;
    }
    return state_end(w);
}

int machine_save_components(struct machine *m, struct state_writer *w)
{
    for (int i = 0; i < m->nr_components; i++) {
        int rc = save_one(m->components[i], w);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_one(struct component *c, struct state_reader *r, uint32_t version)
{
    if (version == 0)
        return vmm_error(VMM_EFORMAT, "state of '%s' (%s) has version 0; versions start at 1",
                         c->name, c->ops->type);
    if (version > c->ops->state_version)
        return vmm_error(VMM_EFORMAT,
                         "state of '%s' (%s) has version %u, this library reads up to %u",
                         c->name, c->ops->type, version, c->ops->state_version);
    int rc = 0;
    if (c->ops->load)
        rc = c->ops->load(c->opaque, r, version);
    else if (state_left(r))
        rc = vmm_error(VMM_EFORMAT, "state of '%s' (%s) should be empty, has %zu bytes", c->name,
                       c->ops->type, state_left(r));
    if (rc == 0)
        rc = state_check_done(r);
    return rc;
}

int machine_load_components(struct machine *m, struct state_reader *r, unsigned flags)
{
    int n = m->nr_components;
    unsigned char *seen = calloc((size_t)n + 1, 1);
    if (!seen)
        return vmm_error(VMM_ENOMEM, "load: %d components", n);
    int rc;
    const char *name;
    uint32_t version;
    while ((rc = state_next(r, &name, &version)) == 1) {
        int idx = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(m->components[i]->name, name) == 0)
                idx = i;
        if (idx < 0) {
            if (flags & MACHINE_LOAD_SKIP_UNKNOWN)
                continue;
            rc = vmm_error(VMM_EFORMAT, "state has a section '%s' that this machine has no "
                           "component for", name);
            break;
        }
        if (seen[idx]) {
            rc = vmm_error(VMM_EFORMAT, "state has section '%s' twice", name);
            break;
        }
        seen[idx] = 1;
        if ((rc = load_one(m->components[idx], r, version)))
            break;
    }
    for (int i = 0; rc == 0 && i < n; i++)
        if (!seen[i])
            rc = vmm_error(VMM_EFORMAT, "state has no section for component '%s' (%s)",
                           m->components[i]->name, m->components[i]->ops->type);
    free(seen);
    return rc;
}

int component_save_to_buffer(struct component *c, struct state_buffer *buf)
{
    struct state_sink sink = state_buffer_sink(buf);
    struct state_writer *w;
    int rc = state_writer_new(&w, &sink);
    if (rc)
        return rc;
    rc = save_one(c, w);
    if (rc == 0)
        rc = state_writer_finish(w);
    state_writer_free(w);
    return rc;
}

int component_load_from_buffer(struct component *c, struct state_buffer *buf)
{
    buf->pos = 0;
    struct state_source src = state_buffer_source(buf);
    struct state_reader *r;
    int rc = state_reader_new(&r, &src);
    if (rc)
        return rc;
    const char *name;
    uint32_t version;
    rc = state_next(r, &name, &version);
    if (rc == 1 && strcmp(name, c->name) != 0)
        rc = vmm_error(VMM_EFORMAT, "state section '%s' is not component '%s'", name, c->name);
    else if (rc == 1)
        rc = load_one(c, r, version);
    else if (rc == 0)
        rc = vmm_error(VMM_EFORMAT, "state stream has no section for '%s'", c->name);
    if (rc == 0) {
        int more = state_next(r, &name, &version);
        if (more == 1)
            rc = vmm_error(VMM_EFORMAT, "state stream for '%s' has more than one section",
                           c->name);
        else if (more < 0)
            rc = more; /* a bad trailer: state_next said what */
    }
    state_reader_free(r);
    return rc;
}
