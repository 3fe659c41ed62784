/* One test routine for every component type (tests/unit/test_components.c,
 * tests/unit/test_kvm_components.c): a kind describes how to create an
 * instance, drive it into a non-trivial state, probe what the guest can
 * observe, and damage its state; run_kind() then checks
 *   (b) save -> load into a fresh instance -> save gives the same bytes,
 *   (c) the loaded instance answers the probe like the original,
 *   (d) reset gives the bytes of a fresh instance's save,
 *   (e) a truncated, lengthened, wrong-version or out-of-range section is
 *       refused with VMM_EFORMAT and the expected message, and leaves the
 *       instance as it was.
 */
#ifndef TESTS_UNIT_COMPONENT_RIG_H
#define TESTS_UNIT_COMPONENT_RIG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/component.h"
#include "machine/machine.h"
#include "machine/state.h"
#include "unit.h"
#include "util/error.h"

/* One instance under test, each on a machine of its own. */
struct inst {
    struct machine m;
    struct component *c;
    void *dev;
    int level[256];     /* interrupt lines as driven through m.irq (-1: never) */
    int msip[8];        /* CLINT callback: per hart (-1: never driven) */
    uint64_t timecmp[8];
    int out[8];         /* PLIC callback: per context (-1: never driven) */
    int engine;         /* an engine VM was created on m */
    void *extra;
};

/* What a probe observed, compared byte for byte between two instances. */
struct probe_log {
    uint8_t data[8192];
    size_t n;
};

static inline void log_bytes(struct probe_log *l, const void *p, size_t len)
{
    CU_ASSERT_FATAL(l->n + len <= sizeof(l->data));
    memcpy(l->data + l->n, p, len);
    l->n += len;
}

static inline void log_u64(struct probe_log *l, uint64_t v)
{
    log_bytes(l, &v, sizeof(v));
}

struct kind {
    const char *type;                         /* the component_ops type it must have */
    void (*create)(struct inst *i);           /* sets i->c (CU_FAIL_FATAL on error) */
    void (*drive)(struct inst *i);            /* NULL: nothing to drive */
    void (*probe)(struct inst *i, struct probe_log *l); /* NULL: nothing observable */
    void (*after_load)(struct inst *orig, struct inst *loaded); /* wiring checks */
    void (*after_reset)(struct inst *i);
    void (*destroy)(struct inst *i);
    /* Damage number `n` (0, 1, ...) of the saved payload `p` (a private
     * copy of `len` bytes): patch it, set *msg to what the refusal must
     * say, return 1; 0 when there are no more. */
    int (*damage)(int n, uint8_t *p, size_t len, const char **msg);
    /* Clears what may differ between two instances created at different
     * times (applied only to the reset comparison). */
    void (*normalize)(uint8_t *p, size_t len);
};

/* --- stream helpers --- */

/* The payload of the single section in `b`. */
static inline void rig_payload(const struct state_buffer *b, const uint8_t **p, size_t *len)
{
    size_t name_len = b->data[16 + 4];
    size_t at = 16 + 4 + 1 + name_len + 4;
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)b->data[at + i] << (8 * i);
    *p = b->data + at + 8;
    *len = (size_t)n;
}

/* A one-section stream with the given payload. */
static inline void rig_section(struct state_buffer *b, const char *name, uint32_t version,
                               const void *payload, size_t len)
{
    memset(b, 0, sizeof(*b));
    struct state_sink sink = state_buffer_sink(b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL_FATAL(state_begin(w, name, version), 0);
    state_put_bytes(w, payload, len);
    CU_ASSERT_EQUAL_FATAL(state_end(w), 0);
    CU_ASSERT_EQUAL_FATAL(state_writer_finish(w), 0);
    state_writer_free(w);
}

static inline void rig_save(struct inst *i, struct state_buffer *b)
{
    memset(b, 0, sizeof(*b));
    int rc = component_save_to_buffer(i->c, b);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
        fprintf(stderr, "\n  save of '%s': %s\n", i->c->name, vmm_last_error());
}

static inline int rig_same(const struct state_buffer *x, const struct state_buffer *y,
                           const char *what)
{
    int same = x->len == y->len && memcmp(x->data, y->data, x->len) == 0;
    CU_ASSERT(same);
    if (!same) {
        size_t at = 0;
        while (at < x->len && at < y->len && x->data[at] == y->data[at])
            at++;
        fprintf(stderr, "\n  %s: streams of %zu and %zu bytes differ from byte %zu\n", what,
                x->len, y->len, at);
    }
    return same;
}

static inline struct inst *rig_new(const struct kind *k)
{
    struct inst *i = calloc(1, sizeof(*i));
    CU_ASSERT_PTR_NOT_NULL_FATAL(i);
    memset(i->level, 0xff, sizeof(i->level));
    memset(i->msip, 0xff, sizeof(i->msip));
    memset(i->out, 0xff, sizeof(i->out));
    k->create(i);
    CU_ASSERT_PTR_NOT_NULL_FATAL(i->c);
    return i;
}

static inline void rig_free(const struct kind *k, struct inst *i)
{
    k->destroy(i);
    free(i);
}

/* Loads a damaged section into `b` and checks the refusal. */
static inline void rig_expect_refused(struct inst *b, const struct state_buffer *before,
                                      const uint8_t *payload, size_t len, uint32_t version,
                                      const char *msg, const char *what)
{
    struct state_buffer s, now;
    rig_section(&s, b->c->name, version, payload, len);
    vmm_error_clear();
    int rc = component_load_from_buffer(b->c, &s);
    CU_ASSERT_EQUAL(rc, VMM_EFORMAT);
    if (rc != VMM_EFORMAT)
        fprintf(stderr, "\n  %s (%s): load gave %d (%s)\n", b->c->ops->type, what, rc,
                vmm_last_error());
    if (msg && !strstr(vmm_last_error(), msg)) {
        CU_FAIL("refusal message");
        fprintf(stderr, "\n  %s (%s): expected \"%s\" in \"%s\"\n", b->c->ops->type, what, msg,
                vmm_last_error());
    }
    state_buffer_free(&s);
    rig_save(b, &now);
    if (!rig_same(before, &now, what))
        fprintf(stderr, "  (%s: a refused load changed the state)\n", b->c->ops->type);
    state_buffer_free(&now);
}

static inline void rig_refusals(const struct kind *k, struct inst *b, const struct state_buffer *good)
{
    struct state_buffer before;
    rig_save(b, &before);
    const uint8_t *p;
    size_t len;
    rig_payload(good, &p, &len);
    uint32_t version = b->c->ops->state_version;
    char what[64];
    /* every truncation, and one byte too many */
    for (size_t cut = 0; cut < len; cut++) {
        snprintf(what, sizeof(what), "cut to %zu of %zu bytes", cut, len);
        rig_expect_refused(b, &before, p, cut, version, NULL, what);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, p, len);
    longer[len] = 0;
    rig_expect_refused(b, &before, longer, len + 1, version, NULL, "one byte too many");
    free(longer);
    /* versions it cannot read */
    char msg[96];
    snprintf(msg, sizeof(msg), "has version %u, this library reads up to %u", version + 1,
             version);
    rig_expect_refused(b, &before, p, len, version + 1, msg, "newer version");
    rig_expect_refused(b, &before, p, len, 0, "version 0", "version 0");
    /* out-of-range values */
    for (int n = 0; k->damage; n++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, p, len);
        const char *want = NULL;
        if (!k->damage(n, copy, len, &want)) {
            free(copy);
            break;
        }
        snprintf(what, sizeof(what), "damage %d", n);
        rig_expect_refused(b, &before, copy, len, version, want, what);
        free(copy);
    }
    state_buffer_free(&before);
}

/* Replaces a saved stream by a new one over the normalized payload (so the
 * checksum covers what is compared). */
static inline void rig_normalized(const struct kind *k, struct inst *i, struct state_buffer *b)
{
    if (!k->normalize)
        return;
    const uint8_t *p;
    size_t len;
    rig_payload(b, &p, &len);
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    k->normalize(copy, len);
    state_buffer_free(b);
    rig_section(b, i->c->name, i->c->ops->state_version, copy, len);
    free(copy);
}

static inline void run_kind(const struct kind *k)
{
    struct inst *a = rig_new(k), *b = rig_new(k);
    CU_ASSERT_STRING_EQUAL(a->c->ops->type, k->type);
    if (k->drive)
        k->drive(a);

    /* (b) save, load into a fresh instance, save again */
    struct state_buffer sa, sa2, sb;
    rig_save(a, &sa);
    rig_save(a, &sa2);
    rig_same(&sa, &sa2, "saving twice");
    int rc = component_load_from_buffer(b->c, &sa);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc)
        fprintf(stderr, "\n  load of %s: %s\n", k->type, vmm_last_error());
    rig_save(b, &sb);
    rig_same(&sa, &sb, "save after load");
    if (k->after_load)
        k->after_load(a, b);

    /* (c) the guest cannot tell them apart */
    if (k->probe) {
        struct probe_log *la = calloc(1, sizeof(*la)), *lb = calloc(1, sizeof(*lb));
        k->probe(a, la);
        k->probe(b, lb);
        CU_ASSERT_EQUAL(la->n, lb->n);
        int same = la->n == lb->n && memcmp(la->data, lb->data, la->n) == 0;
        CU_ASSERT(same);
        for (size_t at = 0; !same && at + 8 <= la->n && at + 8 <= lb->n; at += 8)
            if (memcmp(la->data + at, lb->data + at, 8)) {
                uint64_t x, y;
                memcpy(&x, la->data + at, 8);
                memcpy(&y, lb->data + at, 8);
                fprintf(stderr, "\n  %s probe: value %zu is 0x%llx, loaded copy says 0x%llx\n",
                        k->type, at / 8, (unsigned long long)x, (unsigned long long)y);
            }
        free(la);
        free(lb);
        struct state_buffer pa, pb;
        rig_save(a, &pa);
        rig_save(b, &pb);
        rig_same(&pa, &pb, "saves after the probe");
        state_buffer_free(&pa);
        state_buffer_free(&pb);
    }

    /* (e) damaged sections are refused and change nothing */
    rig_refusals(k, b, &sa);

    /* (d) reset is power-on: an instance freshly driven (the probes may
     * have emptied queues on a), then reset */
    rig_free(k, a);
    a = rig_new(k);
    if (k->drive)
        k->drive(a);
    if (a->c->ops->reset)
        a->c->ops->reset(a->c->opaque);
    if (k->after_reset)
        k->after_reset(a);
    struct inst *c = rig_new(k);
    struct state_buffer sr, sc;
    rig_save(a, &sr);
    rig_save(c, &sc);
    rig_normalized(k, a, &sr);
    rig_normalized(k, c, &sc);
    rig_same(&sr, &sc, "reset vs fresh");

    state_buffer_free(&sa);
    state_buffer_free(&sa2);
    state_buffer_free(&sb);
    state_buffer_free(&sr);
    state_buffer_free(&sc);
    rig_free(k, a);
    rig_free(k, b);
    rig_free(k, c);
}

/* Little-endian patch helpers for damage functions. */
static inline void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t get_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif
