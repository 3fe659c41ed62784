/* CLINT (SiFive core-local interruptor): per-hart software interrupt
 * (msip), timer compare (mtimecmp) and the shared timer (mtime).
 *
 * The CLINT knows nothing about harts: the engine passes callbacks that
 * raise MSIP, read/store mtimecmp and read the time. Register map:
 *   0x0000 + 4*hart  msip (bit 0)
 *   0x4000 + 8*hart  mtimecmp (64-bit; 32-bit halves allowed)
 *   0xbff8           mtime (read-only here; 32-bit halves allowed)
 */
#ifndef LIBVMM_ARCH_RISCV_CLINT_H
#define LIBVMM_ARCH_RISCV_CLINT_H

#include <stdatomic.h>
#include <stdint.h>

#include "bus/bus.h"
#include "machine/component.h"

#define CLINT_MAX_HARTS 4095 /* msip array 0x0..0x3ffc */

struct clint_ops {
    void (*set_msip)(void *opaque, unsigned hart, int level);
    uint64_t (*get_mtimecmp)(void *opaque, unsigned hart);
    void (*set_mtimecmp)(void *opaque, unsigned hart, uint64_t value);
    uint64_t (*read_time)(void *opaque);
};

struct clint {
    unsigned nr_harts;
    const struct clint_ops *ops;
    void *opaque;
    _Atomic uint32_t *msip; /* nr_harts entries, for read-back */
};

/* 0 or VMM_EINVAL (nr_harts out of range) / VMM_ENOMEM. */
int clint_init(struct clint *c, unsigned nr_harts, const struct clint_ops *ops, void *opaque);
void clint_destroy(struct clint *c);

/* Allocates and initialises a CLINT (NULL with vmm_last_error() set);
 * clint_free() undoes both. */
struct clint *clint_new(unsigned nr_harts, const struct clint_ops *ops, void *opaque);
void clint_free(void *clint);

/* The CLINT as a machine component; the board maps clint_bus_ops at
 * VIRT_CLINT_BASE through component_map(). */
extern const struct component_ops clint_component_ops;

/* The bus ops (exposed for unit tests). */
extern const struct bus_dev_ops clint_bus_ops;

#endif
