#include "arch/riscv/plic.h"

#include <stdlib.h>

#include "arch/riscv/virt.h"
#include "util/error.h"

#define PLIC_PRIORITY 0x0
#define PLIC_PENDING 0x1000
#define PLIC_ENABLE 0x2000
#define PLIC_ENABLE_STRIDE 0x80
#define PLIC_CONTEXT 0x200000
#define PLIC_CONTEXT_STRIDE 0x1000

int plic_init(struct plic *p, unsigned nr_contexts,
              void (*set_output)(void *opaque, unsigned ctx, int level), void *opaque)
{
    if (nr_contexts == 0 || nr_contexts > PLIC_MAX_CONTEXTS)
        return vmm_error(VMM_EINVAL, "PLIC: %u contexts, limit 1..%u", nr_contexts,
                         PLIC_MAX_CONTEXTS);
    *p = (struct plic){ 0 };
    p->ctx = calloc(nr_contexts, sizeof(*p->ctx));
    if (!p->ctx)
        return vmm_error(VMM_ENOMEM, "PLIC: %u contexts", nr_contexts);
    p->nr_contexts = nr_contexts;
    p->set_output = set_output;
    p->opaque = opaque;
    pthread_mutex_init(&p->lock, NULL);
    return 0;
}

void plic_destroy(struct plic *p)
{
    if (!p->ctx)
        return;
    free(p->ctx);
    p->ctx = NULL;
    pthread_mutex_destroy(&p->lock);
}

/* The best source for context c: highest priority above the threshold among
 * pending and enabled ones, ties to the lowest id; 0 when none. */
static unsigned plic_best(const struct plic *p, const struct plic_context *c)
{
    unsigned best = 0;
    uint32_t best_prio = c->threshold;
    for (unsigned w = 0; w < PLIC_WORDS; w++) {
        uint32_t bits = p->pending[w] & c->enable[w];
        while (bits) {
            unsigned irq = w * 32 + (unsigned)__builtin_ctz(bits);
            bits &= bits - 1;
            if (p->priority[irq] > best_prio) {
                best_prio = p->priority[irq];
                best = irq;
            }
        }
    }
    return best;
}

/* Re-evaluates every context's output after a change. Lock held. */
static void plic_update(struct plic *p)
{
    for (unsigned i = 0; i < p->nr_contexts; i++) {
        struct plic_context *c = &p->ctx[i];
        int out = plic_best(p, c) != 0;
        if (out != c->output) {
            c->output = out;
            if (p->set_output)
                p->set_output(p->opaque, i, out);
        }
    }
}

/* Level-triggered: a source is pending while its line is high and it is not
 * being serviced. */
static void plic_refresh_source(struct plic *p, unsigned irq)
{
    uint32_t bit = 1u << (irq % 32);
    unsigned w = irq / 32;
    if ((p->level[w] & bit) && !(p->claimed[w] & bit))
        p->pending[w] |= bit;
    else
        p->pending[w] &= ~bit;
}

int plic_set_irq(struct plic *p, unsigned irq, int level)
{
    if (irq == 0 || irq >= PLIC_NR_SOURCES)
        return vmm_error(VMM_EINVAL, "PLIC: interrupt source %u, limit 1..%u", irq,
                         PLIC_NR_SOURCES - 1);
    pthread_mutex_lock(&p->lock);
    uint32_t bit = 1u << (irq % 32);
    if (level)
        p->level[irq / 32] |= bit;
    else
        p->level[irq / 32] &= ~bit;
    plic_refresh_source(p, irq);
    plic_update(p);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static uint32_t plic_claim(struct plic *p, struct plic_context *c)
{
    unsigned irq = plic_best(p, c);
    if (irq) {
        p->claimed[irq / 32] |= 1u << (irq % 32);
        plic_refresh_source(p, irq);
        plic_update(p);
    }
    return irq;
}

static void plic_complete(struct plic *p, struct plic_context *c, uint64_t irq)
{
    /* A completion naming a source the context does not enable is ignored
     * (PLIC spec 1.0.0, "Interrupt Completion"). */
    if (irq == 0 || irq >= PLIC_NR_SOURCES)
        return;
    uint32_t bit = 1u << (irq % 32);
    if (!(c->enable[irq / 32] & bit))
        return;
    p->claimed[irq / 32] &= ~bit;
    plic_refresh_source(p, (unsigned)irq);
    plic_update(p);
}

static uint64_t plic_read(void *opaque, uint64_t off, unsigned size)
{
    struct plic *p = opaque;
    uint64_t v = 0;
    if (size != 4 || off % 4)
        return 0; /* the PLIC is a 32-bit device */
    pthread_mutex_lock(&p->lock);
    if (off < PLIC_PENDING) {
        if (off / 4 < PLIC_NR_SOURCES)
            v = p->priority[off / 4];
    } else if (off < PLIC_ENABLE) {
        uint64_t w = (off - PLIC_PENDING) / 4;
        if (w < PLIC_WORDS)
            v = p->pending[w];
    } else if (off < PLIC_CONTEXT) {
        uint64_t ctx = (off - PLIC_ENABLE) / PLIC_ENABLE_STRIDE;
        uint64_t w = (off - PLIC_ENABLE) % PLIC_ENABLE_STRIDE / 4;
        if (ctx < p->nr_contexts && w < PLIC_WORDS)
            v = p->ctx[ctx].enable[w];
    } else {
        uint64_t ctx = (off - PLIC_CONTEXT) / PLIC_CONTEXT_STRIDE;
        uint64_t reg = (off - PLIC_CONTEXT) % PLIC_CONTEXT_STRIDE;
        if (ctx < p->nr_contexts) {
            if (reg == 0)
                v = p->ctx[ctx].threshold;
            else if (reg == 4)
                v = plic_claim(p, &p->ctx[ctx]);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return v;
}

static void plic_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    struct plic *p = opaque;
    if (size != 4 || off % 4)
        return;
    uint32_t v = (uint32_t)value;
    pthread_mutex_lock(&p->lock);
    if (off < PLIC_PENDING) {
        uint64_t irq = off / 4;
        if (irq > 0 && irq < PLIC_NR_SOURCES) {
            p->priority[irq] = v & PLIC_MAX_PRIORITY;
            plic_update(p);
        }
    } else if (off < PLIC_ENABLE) {
        /* pending bits are read-only */
    } else if (off < PLIC_CONTEXT) {
        uint64_t ctx = (off - PLIC_ENABLE) / PLIC_ENABLE_STRIDE;
        uint64_t w = (off - PLIC_ENABLE) % PLIC_ENABLE_STRIDE / 4;
        if (ctx < p->nr_contexts && w < PLIC_WORDS) {
            /* source 0 does not exist: its enable bit is hardwired to 0 */
            p->ctx[ctx].enable[w] = w == 0 ? v & ~1u : v;
            plic_update(p);
        }
    } else {
        uint64_t ctx = (off - PLIC_CONTEXT) / PLIC_CONTEXT_STRIDE;
        uint64_t reg = (off - PLIC_CONTEXT) % PLIC_CONTEXT_STRIDE;
        if (ctx < p->nr_contexts) {
            if (reg == 0) {
                p->ctx[ctx].threshold = v & PLIC_MAX_PRIORITY;
                plic_update(p);
            } else if (reg == 4) {
                plic_complete(p, &p->ctx[ctx], v);
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
}

const struct bus_dev_ops plic_bus_ops = { plic_read, plic_write };

struct plic *plic_new(unsigned nr_contexts, void (*set_output)(void *opaque, unsigned ctx, int level),
                      void *opaque)
{
    struct plic *p = calloc(1, sizeof(*p));
    if (!p) {
        vmm_error(VMM_ENOMEM, "PLIC");
        return NULL;
    }
    if (plic_init(p, nr_contexts, set_output, opaque)) {
        free(p);
        return NULL;
    }
    return p;
}

void plic_free(void *plic)
{
    plic_destroy(plic);
    free(plic);
}

/* --- component: reset, save, load --- */

static void plic_reset(void *opaque)
{
    struct plic *p = opaque;
    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < PLIC_NR_SOURCES; i++)
        p->priority[i] = 0;
    for (unsigned w = 0; w < PLIC_WORDS; w++)
        p->level[w] = p->pending[w] = p->claimed[w] = 0;
    for (unsigned i = 0; i < p->nr_contexts; i++) {
        for (unsigned w = 0; w < PLIC_WORDS; w++)
            p->ctx[i].enable[w] = 0;
        p->ctx[i].threshold = 0;
    }
    plic_update(p); /* lowers every output that was high */
    pthread_mutex_unlock(&p->lock);
}

/* State layout, version 1 (bit i of word w is source 32w + i):
 *   u32 contexts                     must equal this PLIC's context count
 *   u8  priority * PLIC_NR_SOURCES   0..PLIC_MAX_PRIORITY; source 0's is 0
 *   u32 level * PLIC_WORDS           input line levels
 *   u32 pending * PLIC_WORDS         = level & ~claimed (checked on load)
 *   u32 claimed * PLIC_WORDS         claimed and not yet completed
 *   per context, 0 first:
 *     u32 enable * PLIC_WORDS
 *     u8  threshold                  0..PLIC_MAX_PRIORITY
 * Bit 0 (source 0, which does not exist) is 0 in every word. The context
 * outputs are not stored: a load recomputes and drives every one of them.
 */
static int plic_save(void *opaque, struct state_writer *w)
{
    struct plic *p = opaque;
    pthread_mutex_lock(&p->lock);
    state_put_u32(w, p->nr_contexts);
    for (unsigned i = 0; i < PLIC_NR_SOURCES; i++)
        state_put_u8(w, (uint8_t)p->priority[i]);
    for (unsigned k = 0; k < PLIC_WORDS; k++)
        state_put_u32(w, p->level[k]);
    for (unsigned k = 0; k < PLIC_WORDS; k++)
        state_put_u32(w, p->pending[k]);
    for (unsigned k = 0; k < PLIC_WORDS; k++)
        state_put_u32(w, p->claimed[k]);
    for (unsigned i = 0; i < p->nr_contexts; i++) {
        for (unsigned k = 0; k < PLIC_WORDS; k++)
            state_put_u32(w, p->ctx[i].enable[k]);
        state_put_u8(w, (uint8_t)p->ctx[i].threshold);
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* Everything but the per-context part, read before it is applied. */
struct plic_image {
    uint8_t priority[PLIC_NR_SOURCES];
    uint32_t level[PLIC_WORDS], pending[PLIC_WORDS], claimed[PLIC_WORDS];
};

static int check_no_source0(const char *field, uint32_t word0)
{
    if (word0 & 1)
        return vmm_error(VMM_EFORMAT, "plic state: %s has source 0 set (sources are 1..%u)",
                         field, PLIC_NR_SOURCES - 1);
    return 0;
}

static int plic_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct plic *p = opaque;
    uint32_t n;
    int rc = state_get_u32(r, &n);
    if (rc)
        return rc;
    if (n != p->nr_contexts)
        return vmm_error(VMM_EFORMAT, "plic state: %u contexts, this PLIC has %u", n,
                         p->nr_contexts);
    struct plic_image im;
    state_get_bytes(r, im.priority, PLIC_NR_SOURCES);
    for (unsigned k = 0; k < PLIC_WORDS; k++)
        state_get_u32(r, &im.level[k]);
    for (unsigned k = 0; k < PLIC_WORDS; k++)
        state_get_u32(r, &im.pending[k]);
    for (unsigned k = 0; k < PLIC_WORDS; k++)
        state_get_u32(r, &im.claimed[k]);
    const size_t ctx_bytes = PLIC_WORDS * 4 + 1;
    if (state_left(r) != (size_t)n * ctx_bytes)
        return vmm_error(VMM_EFORMAT, "plic state: %zu bytes for %u contexts, expected %zu",
                         state_left(r), n, (size_t)n * ctx_bytes);
    struct plic_context *ctx = calloc(n, sizeof(*ctx));
    if (!ctx)
        return vmm_error(VMM_ENOMEM, "plic state: %u contexts", n);
    for (unsigned i = 0; i < n; i++) {
        for (unsigned k = 0; k < PLIC_WORDS; k++)
            state_get_u32(r, &ctx[i].enable[k]);
        uint8_t t;
        state_get_u8(r, &t);
        ctx[i].threshold = t;
    }
    rc = state_check_done(r);
    for (unsigned i = 0; rc == 0 && i < PLIC_NR_SOURCES; i++)
        if (im.priority[i] > PLIC_MAX_PRIORITY || (i == 0 && im.priority[i]))
            rc = vmm_error(VMM_EFORMAT, "plic state: priority of source %u is %u, limit %u", i,
                           im.priority[i], i == 0 ? 0 : PLIC_MAX_PRIORITY);
    if (rc == 0 && !(rc = check_no_source0("level", im.level[0])) &&
        !(rc = check_no_source0("pending", im.pending[0])))
        rc = check_no_source0("claimed", im.claimed[0]);
    for (unsigned k = 0; rc == 0 && k < PLIC_WORDS; k++)
        if (im.pending[k] != (im.level[k] & ~im.claimed[k]))
            rc = vmm_error(VMM_EFORMAT, "plic state: pending word %u is 0x%08x, but level 0x%08x "
                           "and claimed 0x%08x make it 0x%08x", k, im.pending[k], im.level[k],
                           im.claimed[k], im.level[k] & ~im.claimed[k]);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        if (ctx[i].enable[0] & 1)
            rc = vmm_error(VMM_EFORMAT, "plic state: context %u enables source 0 (sources are "
                           "1..%u)", i, PLIC_NR_SOURCES - 1);
        else if (ctx[i].threshold > PLIC_MAX_PRIORITY)
            rc = vmm_error(VMM_EFORMAT, "plic state: threshold of context %u is %u, limit %u", i,
                           ctx[i].threshold, PLIC_MAX_PRIORITY);
    }
    if (rc == 0) {
        pthread_mutex_lock(&p->lock);
        for (unsigned i = 0; i < PLIC_NR_SOURCES; i++)
            p->priority[i] = im.priority[i];
        for (unsigned k = 0; k < PLIC_WORDS; k++) {
            p->level[k] = im.level[k];
            p->pending[k] = im.pending[k];
            p->claimed[k] = im.claimed[k];
        }
        /* Drive every context's output, whatever it was before: the harts'
         * external-interrupt inputs must match the new state. */
        for (unsigned i = 0; i < n; i++) {
            for (unsigned k = 0; k < PLIC_WORDS; k++)
                p->ctx[i].enable[k] = ctx[i].enable[k];
            p->ctx[i].threshold = ctx[i].threshold;
        }
        for (unsigned i = 0; i < n; i++) {
            p->ctx[i].output = plic_best(p, &p->ctx[i]) != 0;
            if (p->set_output)
                p->set_output(p->opaque, i, p->ctx[i].output);
        }
        pthread_mutex_unlock(&p->lock);
    }
    free(ctx);
    return rc;
}

const struct component_ops plic_component_ops = {
    .type = "plic",
    .state_version = 1,
    .reset = plic_reset,
    .save = plic_save,
    .load = plic_load,
    .destroy = plic_free,
};
