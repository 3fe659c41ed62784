/* The legacy devices, driven through their bus ops as a guest would. */
#include <string.h>

#include "machine/machine.h"
#include "devices/acpi_pm.h"
#include "devices/cmos.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/sifive_test.h"
#include "devices/uart16550.h"
#include "unit.h"

/* What the devices did to the machine: console bytes and the IRQ line. */
static char console[256];
static size_t console_len;
static int irq_level = -1;
static unsigned irq_number;

static void record_console(void *opaque, const uint8_t *buf, size_t len)
{
    if (console_len + len < sizeof(console)) {
        memcpy(console + console_len, buf, len);
        console_len += len;
    }
}

static int record_irq(void *opaque, unsigned irq, int level)
{
    irq_number = irq;
    irq_level = level;
    return 0;
}

static const struct machine_host_ops host_ops = { .console_out = record_console };

static void machine_for_test(struct machine *m)
{
    CU_ASSERT_EQUAL_FATAL(machine_init(m, 1), 0);
    m->host = &host_ops;
    m->irq = (struct machine_irq_controller){ record_irq, NULL };
    console_len = 0;
    irq_level = -1;
}

static void test_uart_transmits_to_the_console(void)
{
    struct machine m;
    machine_for_test(&m);
    struct uart16550 *u = uart16550_new(&m, 4, 0);
    for (const char *p = "hello"; *p; p++)
        uart16550_ops.write(u, 0, 1, (uint8_t)*p);
    CU_ASSERT_EQUAL(console_len, 5);
    CU_ASSERT_NSTRING_EQUAL(console, "hello", 5);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 5, 1) & 0x60, 0x60); /* THRE | TEMT */
    uart16550_free(u);
    machine_destroy(&m);
}

static void test_uart_receive_raises_irq_until_drained(void)
{
    struct machine m;
    machine_for_test(&m);
    struct uart16550 *u = uart16550_new(&m, 4, 0);
    uart16550_ops.write(u, 1, 1, 0x01); /* IER: receive data available */
    CU_ASSERT_EQUAL(uart16550_receive(u, (const uint8_t *)"ab", 2), 2);
    CU_ASSERT_EQUAL(irq_number, 4);
    CU_ASSERT_EQUAL(irq_level, 1);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 2, 1) & 0x0f, 0x04); /* IIR: RDI */
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 5, 1) & 0x01, 0x01);  /* LSR: DR */
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 0, 1), 'a');
    CU_ASSERT_EQUAL(irq_level, 1);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 0, 1), 'b');
    CU_ASSERT_EQUAL(irq_level, 0);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 5, 1) & 0x01, 0x00);
    uart16550_free(u);
    machine_destroy(&m);
}

static void test_uart_thre_interrupt_on_enable_and_ack_by_iir(void)
{
    struct machine m;
    machine_for_test(&m);
    struct uart16550 *u = uart16550_new(&m, 10, 0);
    uart16550_ops.write(u, 1, 1, 0x02); /* IER: THRE */
    CU_ASSERT_EQUAL(irq_level, 1);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 2, 1) & 0x0f, 0x02);
    CU_ASSERT_EQUAL(irq_level, 0);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 2, 1) & 0x0f, 0x01); /* none */
    uart16550_ops.write(u, 0, 1, 'x');
    CU_ASSERT_EQUAL(irq_level, 1);
    uart16550_free(u);
    machine_destroy(&m);
}

static void test_uart_loopback_and_scratch_as_linux_probes(void)
{
    struct machine m;
    machine_for_test(&m);
    struct uart16550 *u = uart16550_new(&m, 4, 0);
    uart16550_ops.write(u, 7, 1, 0xa5);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 7, 1), 0xa5);
    uart16550_ops.write(u, 4, 1, 0x1a); /* loop | OUT2 | RTS */
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 6, 1) & 0xf0, 0x90);
    uart16550_ops.write(u, 0, 1, 'q');
    CU_ASSERT_EQUAL(console_len, 0);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 0, 1), 'q');
    /* The divisor latch hides RBR/IER while DLAB is set. */
    uart16550_ops.write(u, 3, 1, 0x80);
    uart16550_ops.write(u, 0, 1, 0x01);
    uart16550_ops.write(u, 1, 1, 0x00);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 0, 1), 0x01);
    uart16550_ops.write(u, 3, 1, 0x03);
    CU_ASSERT_EQUAL(console_len, 0);
    uart16550_free(u);
    machine_destroy(&m);
}

static void test_uart_on_mmio_with_register_shift(void)
{
    struct machine m;
    machine_for_test(&m);
    struct uart16550 *u = uart16550_new(&m, 10, 2);
    uart16550_ops.write(u, 7 << 2, 4, 0x3c);
    CU_ASSERT_EQUAL(uart16550_ops.read(u, 7 << 2, 4), 0x3c);
    uart16550_ops.write(u, 0, 4, 'z');
    CU_ASSERT_EQUAL(console_len, 1);
    uart16550_free(u);
    machine_destroy(&m);
}

static void test_debug_exit_code_is_v_shifted_or_one(void)
{
    struct machine m;
    machine_for_test(&m);
    debug_exit_ops.write(&m, 0, 1, 0x21);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_DEBUG_EXIT);
    CU_ASSERT_EQUAL(m.outcome.exit_code, 0x43);
    CU_ASSERT_EQUAL(atomic_load(&m.request), MACHINE_STOP);
    /* The first outcome wins. */
    debug_exit_ops.write(&m, 0, 1, 0x00);
    CU_ASSERT_EQUAL(m.outcome.exit_code, 0x43);
    machine_destroy(&m);
}

static void test_sifive_test_pass_reset_and_fail_code(void)
{
    struct machine m;
    machine_for_test(&m);
    sifive_test_ops.write(&m, 0, 4, 0x1234); /* ignored */
    CU_ASSERT_FALSE(m.outcome_set);
    sifive_test_ops.write(&m, 0, 4, (7u << 16) | 0x3333);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_DEBUG_EXIT);
    CU_ASSERT_EQUAL(m.outcome.exit_code, 7);
    machine_destroy(&m);

    machine_for_test(&m);
    sifive_test_ops.write(&m, 0, 4, 0x5555);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_POWEROFF);
    machine_destroy(&m);

    machine_for_test(&m);
    sifive_test_ops.write(&m, 0, 4, 0x7777);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_RESET);
    machine_destroy(&m);
}

static void test_i8042_self_test_and_reset_line(void)
{
    struct machine m;
    machine_for_test(&m);
    struct i8042 *k = i8042_new(&m);
    i8042_cmd_ops.write(k, 0, 1, 0xaa);
    CU_ASSERT_EQUAL(i8042_cmd_ops.read(k, 0, 1) & 0x01, 0x01);
    CU_ASSERT_EQUAL(i8042_data_ops.read(k, 0, 1), 0x55);
    CU_ASSERT_EQUAL(i8042_cmd_ops.read(k, 0, 1) & 0x01, 0x00);
    i8042_cmd_ops.write(k, 0, 1, 0x60);
    i8042_data_ops.write(k, 0, 1, 0x47);
    i8042_cmd_ops.write(k, 0, 1, 0x20);
    CU_ASSERT_EQUAL(i8042_data_ops.read(k, 0, 1), 0x47);
    CU_ASSERT_FALSE(m.outcome_set);
    i8042_cmd_ops.write(k, 0, 1, 0xfe);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_RESET);
    i8042_free(k);
    machine_destroy(&m);
}

static void test_cmos_clock_in_bcd_and_binary(void)
{
    struct cmos *c = cmos_new(256 << 20);
    cmos_ops.write(c, 0, 1, 0x09); /* year */
    uint64_t bcd = cmos_ops.read(c, 1, 1);
    CU_ASSERT((bcd & 0x0f) <= 9 && (bcd >> 4) <= 9);
    cmos_ops.write(c, 0, 1, 0x0b);
    cmos_ops.write(c, 1, 1, 0x06); /* binary, 24h */
    cmos_ops.write(c, 0, 1, 0x09);
    uint64_t bin = cmos_ops.read(c, 1, 1);
    CU_ASSERT_EQUAL(bin, (bcd >> 4) * 10 + (bcd & 0x0f));
    cmos_ops.write(c, 0, 1, 0x80 | 0x40); /* NMI bit is not part of the index */
    cmos_ops.write(c, 1, 1, 0x5a);
    cmos_ops.write(c, 0, 1, 0x40);
    CU_ASSERT_EQUAL(cmos_ops.read(c, 1, 1), 0x5a);
    cmos_ops.write(c, 0, 1, 0x0d);
    CU_ASSERT_EQUAL(cmos_ops.read(c, 1, 1), 0x80);
    cmos_free(c);
}

static void test_acpi_pm_s5_powers_off_and_sts_clears_by_writing_one(void)
{
    struct machine m;
    machine_for_test(&m);
    struct acpi_pm *pm = acpi_pm_new(&m);
    CU_ASSERT_EQUAL(acpi_pm_ops.read(pm, 4, 2) & 1, 1); /* SCI_EN: ACPI mode */
    acpi_pm_ops.write(pm, 2, 2, 0x0100);                 /* PM1_EN: power button */
    CU_ASSERT_EQUAL(acpi_pm_ops.read(pm, 2, 2), 0x0100);
    acpi_pm_ops.write(pm, 0, 2, 0xffff);                 /* clearing nothing set */
    CU_ASSERT_EQUAL(acpi_pm_ops.read(pm, 0, 2), 0);
    acpi_pm_ops.write(pm, 4, 2, 5 << 10);                /* SLP_TYP alone: nothing */
    CU_ASSERT_FALSE(m.outcome_set);
    acpi_pm_ops.write(pm, 4, 2, (3 << 10) | 0x2000);     /* S3 is not offered */
    CU_ASSERT_FALSE(m.outcome_set);
    CU_ASSERT_EQUAL(acpi_pm_ops.read(pm, 4, 2) & 0x2000, 0); /* SLP_EN reads 0 */
    acpi_pm_ops.write(pm, 5, 1, ((5 << 10) | 0x2000) >> 8);  /* byte write of the high half */
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_POWEROFF);
    acpi_pm_free(pm);
    machine_destroy(&m);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "uart transmits to the console", test_uart_transmits_to_the_console },
        { "uart receive raises irq until drained", test_uart_receive_raises_irq_until_drained },
        { "uart THRE interrupt on enable, acked by IIR", test_uart_thre_interrupt_on_enable_and_ack_by_iir },
        { "uart loopback and scratch as Linux probes", test_uart_loopback_and_scratch_as_linux_probes },
        { "uart on MMIO with register shift", test_uart_on_mmio_with_register_shift },
        { "debug-exit code is (v << 1) | 1", test_debug_exit_code_is_v_shifted_or_one },
        { "SiFive test pass, reset and fail code", test_sifive_test_pass_reset_and_fail_code },
        { "i8042 self test and reset line", test_i8042_self_test_and_reset_line },
        { "cmos clock in BCD and binary", test_cmos_clock_in_bcd_and_binary },
        { "ACPI PM: S5 powers off, status clears by writing one",
          test_acpi_pm_s5_powers_off_and_sts_clears_by_writing_one },
        { NULL, NULL },
    };
    return unit_main("devices", tests);
}
