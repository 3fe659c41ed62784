#include "arch/riscv/clint.h"

#include <stdlib.h>

#include "arch/riscv/virt.h"
#include "util/error.h"
#include "util/log.h"

#define CLINT_MSIP 0x0
#define CLINT_MTIMECMP 0x4000
#define CLINT_MTIME 0xbff8

int clint_init(struct clint *c, unsigned nr_harts, const struct clint_ops *ops, void *opaque)
{
    if (nr_harts == 0 || nr_harts > CLINT_MAX_HARTS)
        return vmm_error(VMM_EINVAL, "CLINT: %u harts, limit 1..%u", nr_harts, CLINT_MAX_HARTS);
    c->nr_harts = nr_harts;
    c->ops = ops;
    c->opaque = opaque;
    c->msip = calloc(nr_harts, sizeof(*c->msip));
    if (!c->msip)
        return vmm_error(VMM_ENOMEM, "CLINT: msip array for %u harts", nr_harts);
    return 0;
}

void clint_destroy(struct clint *c)
{
    free((void *)c->msip);
    c->msip = NULL;
}

/* Reads `size` bytes at byte `shift` of a 64-bit register. */
static uint64_t reg_slice(uint64_t reg, unsigned shift, unsigned size)
{
    uint64_t v = reg >> (shift * 8);
    return size >= 8 ? v : v & ((1ULL << (size * 8)) - 1);
}

/* Replaces `size` bytes at byte `shift` of a 64-bit register. */
static uint64_t reg_merge(uint64_t reg, unsigned shift, unsigned size, uint64_t value)
{
    if (size >= 8)
        return value;
    uint64_t mask = ((1ULL << (size * 8)) - 1) << (shift * 8);
    return (reg & ~mask) | ((value << (shift * 8)) & mask);
}

static uint64_t clint_read(void *opaque, uint64_t off, unsigned size)
{
    struct clint *c = opaque;
    if (off < CLINT_MTIMECMP) {
        uint64_t hart = off / 4;
        if (hart < c->nr_harts && off % 4 == 0)
            return atomic_load(&c->msip[hart]);
        return 0;
    }
    if (off >= CLINT_MTIMECMP && off < CLINT_MTIME) {
        uint64_t hart = (off - CLINT_MTIMECMP) / 8;
        unsigned shift = (off - CLINT_MTIMECMP) % 8;
        if (hart >= c->nr_harts || shift + size > 8)
            return 0;
        return reg_slice(c->ops->get_mtimecmp(c->opaque, (unsigned)hart), shift, size);
    }
    if (off >= CLINT_MTIME && off + size <= CLINT_MTIME + 8)
        return reg_slice(c->ops->read_time(c->opaque), (unsigned)(off - CLINT_MTIME), size);
    return 0;
}

static void clint_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    struct clint *c = opaque;
    if (off < CLINT_MTIMECMP) {
        uint64_t hart = off / 4;
        if (hart < c->nr_harts && off % 4 == 0) {
            uint32_t bit = value & 1;
            atomic_store(&c->msip[hart], bit);
            c->ops->set_msip(c->opaque, (unsigned)hart, (int)bit);
        }
        return;
    }
    if (off >= CLINT_MTIMECMP && off < CLINT_MTIME) {
        uint64_t hart = (off - CLINT_MTIMECMP) / 8;
        unsigned shift = (off - CLINT_MTIMECMP) % 8;
        if (hart >= c->nr_harts || shift + size > 8)
            return;
        uint64_t old = c->ops->get_mtimecmp(c->opaque, (unsigned)hart);
        c->ops->set_mtimecmp(c->opaque, (unsigned)hart, reg_merge(old, shift, size, value));
        return;
    }
    /* mtime is kept by the host clock; guests (OpenSBI, Linux) never set it. */
    log_debug("CLINT: ignored write of 0x%llx at offset 0x%llx", (unsigned long long)value,
              (unsigned long long)off);
}

const struct bus_dev_ops clint_bus_ops = { clint_read, clint_write };

struct clint *clint_new(unsigned nr_harts, const struct clint_ops *ops, void *opaque)
{
    struct clint *c = calloc(1, sizeof(*c));
    if (!c) {
        vmm_error(VMM_ENOMEM, "CLINT");
        return NULL;
    }
    if (clint_init(c, nr_harts, ops, opaque)) {
        free(c);
        return NULL;
    }
    return c;
}

void clint_free(void *clint)
{
    clint_destroy(clint);
    free(clint);
}

/* --- component: reset, save, load ---
 *
 * The CLINT's only own state is msip. mtimecmp lives in the harts (the
 * board's get/set_mtimecmp callbacks reach rv_hart.mtimecmp) and is saved
 * and reset with them, as part of each hart's section; mtime is the harts'
 * clock (rv_hart_time) and likewise theirs. No lock: msip is atomic, and
 * reset/save/load run while no vCPU does.
 */

static void clint_reset(void *opaque)
{
    struct clint *c = opaque;
    for (unsigned i = 0; i < c->nr_harts; i++) {
        if (atomic_exchange(&c->msip[i], 0))
            c->ops->set_msip(c->opaque, i, 0);
    }
}

/* State layout, version 1:
 *   u32 harts          must equal this CLINT's hart count
 *   u8 msip * harts    each 0 or 1, hart 0 first
 */
static int clint_save(void *opaque, struct state_writer *w)
{
    struct clint *c = opaque;
    state_put_u32(w, c->nr_harts);
    for (unsigned i = 0; i < c->nr_harts; i++)
        state_put_u8(w, (uint8_t)atomic_load(&c->msip[i]));
    return 0;
}

static int clint_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct clint *c = opaque;
    uint32_t n;
    int rc = state_get_u32(r, &n);
    if (rc)
        return rc;
    if (n != c->nr_harts)
        return vmm_error(VMM_EFORMAT, "clint state: %u harts, this CLINT has %u", n, c->nr_harts);
    if (state_left(r) != n)
        return vmm_error(VMM_EFORMAT, "clint state: %zu msip bytes for %u harts", state_left(r),
                         n);
    uint8_t *msip = malloc(n);
    if (!msip)
        return vmm_error(VMM_ENOMEM, "clint state: %u harts", n);
    rc = state_get_bytes(r, msip, n);
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        if (msip[i] > 1)
            rc = vmm_error(VMM_EFORMAT, "clint state: msip of hart %u is %u, limit 0..1", i,
                           msip[i]);
    /* Apply, and drive each hart's MSIP to match. */
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        atomic_store(&c->msip[i], msip[i]);
        c->ops->set_msip(c->opaque, i, msip[i]);
    }
    free(msip);
    return rc;
}

const struct component_ops clint_component_ops = {
    .type = "clint",
    .state_version = 1,
    .reset = clint_reset,
    .save = clint_save,
    .load = clint_load,
    .destroy = clint_free,
};
