/* 16550A UART: the guest console. The same device is COM1 on x86 (port I/O
 * 0x3f8, IRQ 4) and the riscv virt machine's UART (MMIO 0x10000000, IRQ 10).
 * TX bytes go to machine_console_out(); RX bytes come from the host through
 * uart16550_receive(). The interrupt line is level-driven through
 * machine_set_irq() whenever the IIR's pending state changes.
 */
#ifndef LIBVMM_DEVICES_UART16550_H
#define LIBVMM_DEVICES_UART16550_H

#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"
#include "bus/bus.h"
#include "machine/component.h"

struct uart16550;

/* Bus ops; the range opaque is the struct uart16550 *. Register i lives at
 * offset i << reg_shift. */
extern const struct bus_dev_ops uart16550_ops;

/* Creates a UART raising `irq` on `m`. reg_shift: 0 for byte-spaced
 * registers (COM1, virt). Returns NULL with vmm_last_error() set. */
struct uart16550 *uart16550_new(struct machine *m, unsigned irq, unsigned reg_shift);
void uart16550_free(void *uart);

/* Queues host bytes on the receive side. Returns the number accepted (the
 * receive buffer holds UART16550_RX_BUFFER bytes). Any thread. */
#define UART16550_RX_BUFFER 65536
size_t uart16550_receive(struct uart16550 *u, const uint8_t *buf, size_t len);


/* The device as a machine component (reset, save, load, destroy). */
extern const struct component_ops uart16550_component_ops;

#endif
