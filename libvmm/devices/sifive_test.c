#include "devices/sifive_test.h"

#include "machine/machine.h"

#define TEST_FAIL 0x3333
#define TEST_PASS 0x5555
#define TEST_RESET 0x7777

static uint64_t sifive_test_read(void *opaque, uint64_t offset, unsigned size)
{
    return 0;
}

static void sifive_test_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    struct machine *m = opaque;
    if (offset != 0)
        return;
    uint32_t v = (uint32_t)value;
    switch (v & 0xffff) {
    case TEST_PASS:
        machine_set_outcome(m, VMM_OUTCOME_POWEROFF, 0, "SiFive test device: pass");
        break;
    case TEST_RESET:
        machine_set_outcome(m, VMM_OUTCOME_RESET, 0, "SiFive test device: reset");
        break;
    case TEST_FAIL:
        machine_set_outcome(m, VMM_OUTCOME_DEBUG_EXIT, (int)(v >> 16),
                            "SiFive test device: fail with code %u", v >> 16);
        break;
    default:
        break;
    }
}

const struct bus_dev_ops sifive_test_ops = { sifive_test_read, sifive_test_write };

/* No state: the device only turns guest writes into an outcome. The opaque
 * is the machine, which the component does not own. */
const struct component_ops sifive_test_component_ops = {
    .type = "sifive-test",
    .state_version = 1,
};
