/* An address space (port I/O or MMIO) of device ranges.
 *
 * Every guest access the engine does not handle itself is dispatched here:
 * the bus is the monitor's interposition point. Ranges are registered while
 * the machine is built (before any vCPU runs) and never removed while vCPUs
 * run, so dispatch takes no lock; devices lock their own state.
 * Accesses to unmapped addresses read as all-ones and are logged once.
 */
#ifndef LIBVMM_BUS_BUS_H
#define LIBVMM_BUS_BUS_H

#include <pthread.h>
#include <stdint.h>

struct bus_dev_ops {
    /* `offset` is relative to the range base; size is 1, 2, 4 or 8. */
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, unsigned size, uint64_t value);
};

struct bus_range {
    uint64_t base;
    uint64_t size;
    const struct bus_dev_ops *ops;
    void *opaque;
    const char *name; /* static string, for logs */
};

#define BUS_MAX_LOGGED 64

struct bus {
    const char *name; /* "pio" or "mmio" */
    struct bus_range *ranges; /* sorted by base, non-overlapping */
    int nr_ranges;
    int cap_ranges;
    pthread_mutex_t log_lock; /* guards the unmapped-access log only */
    uint64_t logged[BUS_MAX_LOGGED];
    int nr_logged;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Adds [base, base + size). VMM_EINVAL on overlap or empty/wrapping range. */
int bus_register(struct bus *bus, uint64_t base, uint64_t size, const struct bus_dev_ops *ops,
                 void *opaque, const char *name);

/* The range containing addr, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/* Dispatch an access. Return 0 when a device took it, 1 when the address
 * is unmapped (read gives all-ones of `size` bytes; write is dropped). */
int bus_read(struct bus *bus, uint64_t addr, unsigned size, uint64_t *value);
int bus_write(struct bus *bus, uint64_t addr, unsigned size, uint64_t value);

#endif
