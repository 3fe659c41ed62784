#include "devices/debug_exit.h"

#include "machine/machine.h"

static uint64_t debug_exit_read(void *opaque, uint64_t offset, unsigned size)
{
    return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static void debug_exit_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    struct machine *m = opaque;
    if (size < 4)
        value &= (1ULL << (size * 8)) - 1;
    int code = (int)(((uint32_t)value << 1) | 1);
    machine_set_outcome(m, VMM_OUTCOME_DEBUG_EXIT, code, "debug-exit write of 0x%llx",
                        (unsigned long long)value);
}

const struct bus_dev_ops debug_exit_ops = { debug_exit_read, debug_exit_write };

/* No state: the device only turns guest writes into an outcome. The opaque
 * is the machine, which the component does not own. */
const struct component_ops debug_exit_component_ops = {
    .type = "debug-exit",
    .state_version = 1,
};
