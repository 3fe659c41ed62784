/* A device the host program writes itself, in ~100 lines: an MMIO register
 * that reads back twice what the guest wrote, a write-protected register
 * whose writes the device refuses, and state that follows restarts.
 *
 *   custom-device GUEST.elf
 *
 * GUEST is a riscv64 bare-metal guest (tests/guest/core/hostdev-riscv.S)
 * that talks to the device at 0x40000000 and exits with the value it read
 * back. The program prints what the device saw and exits with the guest's
 * code (42 when the device behaved).
 */
#include <stdio.h>
#include <string.h>
#include <vmm/vmm.h>

#define DEVICE_BASE 0x40000000ULL

struct doubler {
    uint64_t value;     /* last value written to +0 */
    unsigned reads, writes;
};

/* Called on the vCPU thread that made the access: short and non-blocking. */
static uint64_t dev_read(void *opaque, uint64_t offset, unsigned width)
{
    struct doubler *d = opaque;
    d->reads++;
    return offset == 0 ? d->value * 2 : 0;
}

static int dev_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
    struct doubler *d = opaque;
    if (offset != 0)
        return -1; /* refuse: the register at +8 is write-protected */
    d->value = value;
    d->writes++;
    return 0;
}

static void dev_reset(void *opaque)
{
    struct doubler *d = opaque;
    d->value = 0;
}

/* Snapshots carry the register (the counters are statistics, not state). */
static size_t dev_save(void *opaque, void *buf, size_t cap)
{
    struct doubler *d = opaque;
    if (cap >= sizeof(d->value))
        memcpy(buf, &d->value, sizeof(d->value));
    return sizeof(d->value);
}

static int dev_load(void *opaque, const void *buf, size_t len)
{
    struct doubler *d = opaque;
    if (len != sizeof(d->value))
        return -1;
    memcpy(&d->value, buf, len);
    return 0;
}

static void on_event(const vmm_event_t *ev, void *opaque)
{
    if (ev->type == VMM_EVENT_CONSOLE)
        fwrite(ev->u.console.data, 1, ev->u.console.len, stdout);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s GUEST.elf\n", argv[0]);
        return 2;
    }
    static struct doubler dev;
    static const vmm_device_ops_t ops = {
        .size = sizeof(ops),
        .read = dev_read,
        .write = dev_write,
        .reset = dev_reset,
        .save = dev_save,
        .load = dev_load,
    };
    vmm_device_config_t dc = {
        .size = sizeof(dc),
        .name = "doubler",
        .space = VMM_SPACE_MMIO,
        .base = DEVICE_BASE,
        .length = 16,
        .irq = -1,
        .ops = &ops,
        .opaque = &dev,
    };

    vmm_host_t *host;
    vmm_config_t *cfg;
    vmm_vm_t *vm;
    if (vmm_host_new(&host, NULL) || vmm_config_new(&cfg))
        return 1;
    vmm_config_set_engine(cfg, "soft");
    vmm_config_set_kernel(cfg, argv[1]);
    vmm_config_set_memory(cfg, 16 << 20);
    int rc = vmm_config_add_device(cfg, &dc);
    if (rc == 0)
        rc = vmm_vm_create(host, cfg, &vm);
    vmm_config_free(cfg);
    if (rc) {
        fprintf(stderr, "custom-device: %s\n", vmm_last_error());
        return 1;
    }
    vmm_vm_set_event_cb(vm, on_event, NULL);
    if (vmm_vm_start(vm)) {
        fprintf(stderr, "custom-device: %s\n", vmm_last_error());
        return 1;
    }
    vmm_vm_wait(vm);
    vmm_outcome_t out = { .size = sizeof(out) };
    vmm_vm_outcome(vm, &out);
    printf("device: %u reads, %u writes accepted, %llu refused\n", dev.reads, dev.writes,
           (unsigned long long)vmm_vm_device_refused(vm, "doubler"));
    vmm_vm_destroy(vm);
    vmm_host_free(host);
    return out.kind == VMM_OUTCOME_DEBUG_EXIT ? out.exit_code : 1;
}
