/* The boards: which standard devices sit where for each platform. */
#include <string.h>

#include "util/error.h"

#include "core/vm.h"
#include "arch/x86/x86_boot.h"
#include "devices/acpi_pm.h"
#include "devices/cmos.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/sifive_test.h"
#include "devices/uart16550.h"

#define X86_COM1_PORT 0x3f8
#define X86_COM1_IRQ 4
#define X86_I8042_DATA 0x60
#define X86_I8042_CMD 0x64
#define X86_CMOS_PORT 0x70

#define VIRT_UART_BASE 0x10000000
#define VIRT_UART_SIZE 0x100
#define VIRT_UART_IRQ 10

static int add_uart(struct vmm_vm *vm, struct bus *bus, uint64_t base, uint64_t size, unsigned irq)
{
    struct uart16550 *u = uart16550_new(&vm->m, irq, 0);
    if (!u)
        return VMM_ENOMEM;
    int rc = machine_add_device(&vm->m, u, uart16550_free);
    if (rc)
        return rc;
    vm->console_uart = u;
    return bus_register(bus, base, size, &uart16550_ops, u, "uart16550");
}

static int board_x86(struct vmm_vm *vm)
{
    struct machine *m = &vm->m;
    int rc = add_uart(vm, &m->pio, X86_COM1_PORT, 8, X86_COM1_IRQ);
    if (rc)
        return rc;

    struct i8042 *kbd = i8042_new(m);
    if (!kbd)
        return VMM_ENOMEM;
    if ((rc = machine_add_device(m, kbd, i8042_free)) ||
        (rc = bus_register(&m->pio, X86_I8042_DATA, 1, &i8042_data_ops, kbd, "i8042-data")) ||
        (rc = bus_register(&m->pio, X86_I8042_CMD, 1, &i8042_cmd_ops, kbd, "i8042-cmd")))
        return rc;

    struct cmos *rtc = cmos_new(m->ram_size);
    if (!rtc)
        return VMM_ENOMEM;
    if ((rc = machine_add_device(m, rtc, cmos_free)) ||
        (rc = bus_register(&m->pio, X86_CMOS_PORT, 2, &cmos_ops, rtc, "cmos")))
        return rc;

    struct acpi_pm *pm = acpi_pm_new(m);
    if (!pm)
        return VMM_ENOMEM;
    if ((rc = machine_add_device(m, pm, acpi_pm_free)) ||
        (rc = bus_register(&m->pio, X86_ACPI_PM_PORT, ACPI_PM_SIZE, &acpi_pm_ops, pm, "acpi-pm")))
        return rc;

    return bus_register(&m->pio, DEBUG_EXIT_PORT, 1, &debug_exit_ops, m, "debug-exit");
}

static int board_riscv(struct vmm_vm *vm)
{
    struct machine *m = &vm->m;
    int rc = add_uart(vm, &m->mmio, VIRT_UART_BASE, VIRT_UART_SIZE, VIRT_UART_IRQ);
    if (rc)
        return rc;
    return bus_register(&m->mmio, SIFIVE_TEST_BASE, SIFIVE_TEST_SIZE, &sifive_test_ops, m,
                        "sifive-test");
}

int board_add_devices(struct vmm_vm *vm)
{
    if (strcmp(vm->platform->arch, "riscv64") == 0)
        return board_riscv(vm);
    return board_x86(vm);
}
