#include "bus/bus.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"

void bus_init(struct bus *bus, const char *name)
{
    memset(bus, 0, sizeof(*bus));
    bus->name = name;
    pthread_mutex_init(&bus->log_lock, NULL);
}

void bus_destroy(struct bus *bus)
{
    free(bus->ranges);
    bus->ranges = NULL;
    bus->nr_ranges = bus->cap_ranges = 0;
    pthread_mutex_destroy(&bus->log_lock);
}

int bus_register(struct bus *bus, uint64_t base, uint64_t size, const struct bus_dev_ops *ops,
                 void *opaque, const char *name)
{
    if (size == 0 || base + size < base)
        return vmm_error(VMM_EINVAL, "%s range %s at 0x%llx+0x%llx is empty or wraps", bus->name,
                         name, (unsigned long long)base, (unsigned long long)size);
    int pos = 0;
    while (pos < bus->nr_ranges && bus->ranges[pos].base < base)
        pos++;
    for (int i = pos - 1; i <= pos; i++) {
        if (i < 0 || i >= bus->nr_ranges)
            continue;
        const struct bus_range *r = &bus->ranges[i];
        if (base < r->base + r->size && r->base < base + size)
            return vmm_error(VMM_EINVAL, "%s range %s at 0x%llx+0x%llx overlaps %s at 0x%llx+0x%llx",
                             bus->name, name, (unsigned long long)base, (unsigned long long)size,
                             r->name, (unsigned long long)r->base, (unsigned long long)r->size);
    }
    if (bus->nr_ranges == bus->cap_ranges) {
        int cap = bus->cap_ranges ? bus->cap_ranges * 2 : 16;
        struct bus_range *n = realloc(bus->ranges, (size_t)cap * sizeof(*n));
        if (!n)
            return vmm_error(VMM_ENOMEM, "growing the %s bus to %d ranges", bus->name, cap);
        bus->ranges = n;
        bus->cap_ranges = cap;
    }
    memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
            (size_t)(bus->nr_ranges - pos) * sizeof(bus->ranges[0]));
    bus->ranges[pos] = (struct bus_range){ base, size, ops, opaque, name };
    bus->nr_ranges++;
    return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
    int lo = 0, hi = bus->nr_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const struct bus_range *r = &bus->ranges[mid];
        if (addr < r->base)
            hi = mid - 1;
        else if (addr - r->base >= r->size)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

static void log_unmapped(struct bus *bus, uint64_t addr, const char *what)
{
    pthread_mutex_lock(&bus->log_lock);
    int seen = 0;
    for (int i = 0; i < bus->nr_logged; i++)
        if (bus->logged[i] == addr)
            seen = 1;
    if (!seen && bus->nr_logged < BUS_MAX_LOGGED)
        bus->logged[bus->nr_logged++] = addr;
    pthread_mutex_unlock(&bus->log_lock);
    if (!seen)
        log_debug("%s: %s of unmapped address 0x%llx (reads as all-ones; logged once)", bus->name,
                  what, (unsigned long long)addr);
}

int bus_read(struct bus *bus, uint64_t addr, unsigned size, uint64_t *value)
{
    const struct bus_range *r = bus_find(bus, addr);
    if (!r || !r->ops->read) {
        *value = size >= 8 ? ~0ULL : ((1ULL << (size * 8)) - 1);
        log_unmapped(bus, addr, "read");
        return 1;
    }
    *value = r->ops->read(r->opaque, addr - r->base, size);
    return 0;
}

int bus_write(struct bus *bus, uint64_t addr, unsigned size, uint64_t value)
{
    const struct bus_range *r = bus_find(bus, addr);
    if (!r || !r->ops->write) {
        log_unmapped(bus, addr, "write");
        return 1;
    }
    r->ops->write(r->opaque, addr - r->base, size, value);
    return 0;
}
