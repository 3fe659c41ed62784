/* The x86_64 board (a PC without PCI): which components sit where. The
 * interrupt controllers (PIC, IOAPIC, LAPICs, PIT) are KVM's, in the kernel:
 * the kvm engine adds them as component "kvm-irqchip" and installs them as
 * the machine's interrupt controller. The board adds COM1, the i8042 (its
 * reset line reboots), the CMOS RTC, the ACPI PM block the FADT points at,
 * and QEMU's isa-debug-exit port.
 */
#include <stdlib.h>

#include "arch/x86/x86_boot.h"
#include "devices/acpi_pm.h"
#include "devices/cmos.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/uart16550.h"
#include "util/error.h"

#define X86_COM1_PORT 0x3f8
#define X86_COM1_IRQ 4
#define X86_I8042_DATA 0x60
#define X86_I8042_CMD 0x64
#define X86_CMOS_PORT 0x70

static size_t uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
    return uart16550_receive(opaque, buf, len);
}

/* Adds a component or reports why not (the component is freed on failure). */
static struct component *add(struct machine *m, const char *name, const struct component_ops *ops,
                             void *dev)
{
    if (!dev)
        return NULL; /* the constructor set the error */
    return machine_add_component(m, name, ops, dev);
}

/* Virtio-mmio windows in the 32-bit MMIO gap, on ISA lines no legacy
 * device of this board uses (as Firecracker does); the guest learns of
 * them through virtio_mmio.device= on the kernel command line. */
static const unsigned virtio_irqs[] = { 5, 6, 7, 10, 11, 12, 14, 15 };
static const struct virtio_layout virtio_layout = {
    .base = X86_VIRTIO_BASE,
    .stride = X86_VIRTIO_STRIDE,
    .irqs = virtio_irqs,
    .max = sizeof(virtio_irqs) / sizeof(virtio_irqs[0]),
    .edge = 1, /* ISA lines: the guest programs them edge-triggered */
};

void x86_board_destroy(struct machine *m)
{
    free(m->board);
    m->board = NULL;
}

int x86_board_create(struct machine *m, const vmm_config_t *cfg)
{
    struct component *c;
    int rc;
    struct x86_board *b = calloc(1, sizeof(*b));
    if (!b)
        return vmm_error(VMM_ENOMEM, "x86 board");
    m->board = b;

    struct uart16550 *u = uart16550_new(m, X86_COM1_IRQ, 0);
    if (!(c = add(m, "uart0", &uart16550_component_ops, u)))
        return VMM_ENOMEM;
    if ((rc = component_map(m, c, &m->pio, X86_COM1_PORT, 8, &uart16550_ops, u)) ||
        (rc = component_claim_irq(m, c, X86_COM1_IRQ)))
        return rc;
    m->console_in = (struct machine_console_input){ uart_receive, u, UART16550_RX_BUFFER };

    struct i8042 *kbd = i8042_new(m);
    if (!(c = add(m, "i8042", &i8042_component_ops, kbd)))
        return VMM_ENOMEM;
    if ((rc = component_map(m, c, &m->pio, X86_I8042_DATA, 1, &i8042_data_ops, kbd)) ||
        (rc = component_map(m, c, &m->pio, X86_I8042_CMD, 1, &i8042_cmd_ops, kbd)))
        return rc;

    struct cmos *rtc = cmos_new(m->ram_size);
    if (!(c = add(m, "cmos", &cmos_component_ops, rtc)))
        return VMM_ENOMEM;
    if ((rc = component_map(m, c, &m->pio, X86_CMOS_PORT, 2, &cmos_ops, rtc)))
        return rc;

    struct acpi_pm *pm = acpi_pm_new(m);
    if (!(c = add(m, "acpi-pm", &acpi_pm_component_ops, pm)))
        return VMM_ENOMEM;
    if ((rc = component_map(m, c, &m->pio, X86_ACPI_PM_PORT, ACPI_PM_SIZE, &acpi_pm_ops, pm)))
        return rc;
    /* The SCI and the fixed power button the host may press (QMP
     * system_powerdown). */
    if ((rc = component_claim_irq(m, c, X86_ACPI_SCI_IRQ)))
        return rc;
    acpi_pm_connect_sci(pm, X86_ACPI_SCI_IRQ);
    m->power_button = (struct machine_power_button){ acpi_pm_power_button, pm };

    if (!(c = add(m, "debug-exit", &debug_exit_component_ops, m)))
        return VMM_ENOMEM;
    if ((rc = component_map(m, c, &m->pio, DEBUG_EXIT_PORT, 1, &debug_exit_ops, m)))
        return rc;

    return virtio_slots_populate(m, cfg, &virtio_layout, &b->virtio);
}
