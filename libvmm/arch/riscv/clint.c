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

const struct component_ops clint_component_ops = {
    .type = "clint",
    .state_version = 1,
    .destroy = clint_free,
};
