#include "devices/uart16550.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/error.h"

/* Register indexes (DLAB selects the divisor latch at 0 and 1). */
enum { REG_RBR_THR = 0, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR };

#define IER_RDI 0x01  /* receive data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04
#define IER_MSI 0x08

#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

/* Bits the registers keep of a guest write. */
#define IER_MASK 0x0f
#define MCR_MASK 0x1f
#define FCR_MASK (FCR_ENABLE | 0xc0)

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

struct uart16550 {
    struct machine *m;
    unsigned irq;
    unsigned reg_shift;
    pthread_mutex_t lock;
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
    int thr_ipending;  /* THRE interrupt latched until IIR read or THR write */
    int irq_level;     /* last level driven onto the line */
    uint8_t *rx;       /* ring buffer */
    size_t rx_head, rx_count;
};

static void power_on(struct uart16550 *u);

struct uart16550 *uart16550_new(struct machine *m, unsigned irq, unsigned reg_shift)
{
    struct uart16550 *u = calloc(1, sizeof(*u));
    uint8_t *rx = malloc(UART16550_RX_BUFFER);
    if (!u || !rx) {
        free(u);
        free(rx);
        vmm_error(VMM_ENOMEM, "allocating a 16550 UART");
        return NULL;
    }
    u->m = m;
    u->irq = irq;
    u->reg_shift = reg_shift;
    u->rx = rx;
    power_on(u);
    pthread_mutex_init(&u->lock, NULL);
    return u;
}

void uart16550_free(void *opaque)
{
    struct uart16550 *u = opaque;
    pthread_mutex_destroy(&u->lock);
    free(u->rx);
    free(u);
}

/* The highest-priority pending interrupt, as IIR reports it (low nibble). */
static uint8_t pending_iir(const struct uart16550 *u)
{
    if ((u->ier & IER_RDI) && u->rx_count)
        return IIR_RDI;
    if ((u->ier & IER_THRI) && u->thr_ipending)
        return IIR_THRI;
    return IIR_NONE;
}

/* Called with the lock held after any state change. */
static void update_irq(struct uart16550 *u)
{
    int level = pending_iir(u) != IIR_NONE;
    if (level != u->irq_level) {
        u->irq_level = level;
        machine_set_irq(u->m, u->irq, level);
    }
}

static void rx_push(struct uart16550 *u, uint8_t byte)
{
    if (u->rx_count == UART16550_RX_BUFFER)
        return; /* overrun: the byte is lost, as on real hardware */
    u->rx[(u->rx_head + u->rx_count) % UART16550_RX_BUFFER] = byte;
    u->rx_count++;
}

static void transmit(struct uart16550 *u, uint8_t byte)
{
    if (u->mcr & MCR_LOOP)
        rx_push(u, byte);
    else
        machine_console_out(u->m, &byte, 1);
    /* The byte leaves instantly, so the holding register is empty again. */
    u->thr_ipending = 1;
}

static uint8_t modem_status(const struct uart16550 *u)
{
    if (!(u->mcr & MCR_LOOP))
        return MSR_DCD | MSR_DSR | MSR_CTS;
    /* Loopback wires the modem outputs to the inputs; Linux probes this. */
    uint8_t msr = 0;
    if (u->mcr & MCR_RTS)
        msr |= MSR_CTS;
    if (u->mcr & MCR_DTR)
        msr |= MSR_DSR;
    if (u->mcr & MCR_OUT1)
        msr |= MSR_RI;
    if (u->mcr & MCR_OUT2)
        msr |= MSR_DCD;
    return msr;
}

static uint64_t uart_read(void *opaque, uint64_t offset, unsigned size)
{
    struct uart16550 *u = opaque;
    uint64_t reg = offset >> u->reg_shift;
    uint8_t v = 0;
    pthread_mutex_lock(&u->lock);
    switch (reg) {
    case REG_RBR_THR:
        if (u->lcr & LCR_DLAB) {
            v = u->dll;
        } else if (u->rx_count) {
            v = u->rx[u->rx_head];
            u->rx_head = (u->rx_head + 1) % UART16550_RX_BUFFER;
            u->rx_count--;
        }
        break;
    case REG_IER:
        v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
        break;
    case REG_IIR_FCR:
        v = pending_iir(u);
        if (v == IIR_THRI)
            u->thr_ipending = 0; /* reading IIR acknowledges THRE */
        if (u->fcr & FCR_ENABLE)
            v |= IIR_FIFO_ON;
        break;
    case REG_LCR: v = u->lcr; break;
    case REG_MCR: v = u->mcr; break;
    case REG_LSR:
        v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
        break;
    case REG_MSR: v = modem_status(u); break;
    case REG_SCR: v = u->scr; break;
    default: v = 0xff; break;
    }
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return v;
}

static void uart_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    struct uart16550 *u = opaque;
    uint64_t reg = offset >> u->reg_shift;
    uint8_t v = (uint8_t)value;
    pthread_mutex_lock(&u->lock);
    switch (reg) {
    case REG_RBR_THR:
        if (u->lcr & LCR_DLAB)
            u->dll = v;
        else
            transmit(u, v);
        break;
    case REG_IER:
        if (u->lcr & LCR_DLAB) {
            u->dlm = v;
        } else {
            /* Enabling THRE interrupts while the holder is empty raises one at
             * once; Linux's 8250 driver relies on it to start transmitting. */
            if (!(u->ier & IER_THRI) && (v & IER_THRI))
                u->thr_ipending = 1;
            u->ier = v & IER_MASK;
        }
        break;
    case REG_IIR_FCR:
        u->fcr = v & FCR_MASK;
        if (v & FCR_CLEAR_RX) {
            u->rx_head = 0;
            u->rx_count = 0;
        }
        break;
    case REG_LCR: u->lcr = v; break;
    case REG_MCR: u->mcr = v & MCR_MASK; break;
    case REG_SCR: u->scr = v; break;
    default: break; /* LSR and MSR are read-only */
    }
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
}

const struct bus_dev_ops uart16550_ops = { uart_read, uart_write };

size_t uart16550_receive(struct uart16550 *u, const uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&u->lock);
    size_t n = 0;
    while (n < len && u->rx_count < UART16550_RX_BUFFER)
        rx_push(u, buf[n++]);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return n;
}

/* --- component: reset, save, load --- */

/* Power-on register values (what uart16550_new() leaves). Lock held. */
static void power_on(struct uart16550 *u)
{
    u->ier = 0;
    u->lcr = 0;
    u->mcr = MCR_OUT2;
    u->scr = 0;
    u->fcr = 0;
    u->dll = 12; /* 9600 baud, as firmware leaves it */
    u->dlm = 0;
    u->thr_ipending = 0;
    u->rx_head = 0;
    u->rx_count = 0;
}

static void uart_reset(void *opaque)
{
    struct uart16550 *u = opaque;
    pthread_mutex_lock(&u->lock);
    power_on(u);
    update_irq(u); /* lowers the line if it was high */
    pthread_mutex_unlock(&u->lock);
}

/* State layout, version 1 (little-endian):
 *   u8  IER           bits 0..3
 *   u8  LCR
 *   u8  MCR           bits 0..4
 *   u8  SCR
 *   u8  FCR           as written, masked to FIFO enable and trigger (0xc1)
 *   u8  DLL, u8 DLM   divisor latch
 *   u8  THRE latched  0 or 1 (THRE interrupt pending until IIR read / THR write)
 *   u32 RX count      0..UART16550_RX_BUFFER
 *   RX count bytes    the receive buffer, oldest first
 * The interrupt line's level is not stored: it follows from the registers
 * and is driven again after a load. The register spacing (reg_shift), the
 * line number and the machine are wiring, not state. */
static int uart_save(void *opaque, struct state_writer *w)
{
    struct uart16550 *u = opaque;
    pthread_mutex_lock(&u->lock);
    state_put_u8(w, u->ier);
    state_put_u8(w, u->lcr);
    state_put_u8(w, u->mcr);
    state_put_u8(w, u->scr);
    state_put_u8(w, u->fcr);
    state_put_u8(w, u->dll);
    state_put_u8(w, u->dlm);
    state_put_u8(w, u->thr_ipending ? 1 : 0);
    state_put_u32(w, (uint32_t)u->rx_count);
    size_t first = UART16550_RX_BUFFER - u->rx_head;
    if (first > u->rx_count)
        first = u->rx_count;
    state_put_bytes(w, u->rx + u->rx_head, first);
    state_put_bytes(w, u->rx, u->rx_count - first);
    pthread_mutex_unlock(&u->lock);
    return 0;
}

static int check_mask(const char *field, unsigned v, unsigned mask)
{
    if (v & ~mask)
        return vmm_error(VMM_EFORMAT, "uart16550 state: %s 0x%02x has bits outside 0x%02x", field,
                         v, mask);
    return 0;
}

static int uart_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct uart16550 *u = opaque;
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, thr;
    uint32_t rx_count;
    state_get_u8(r, &ier);
    state_get_u8(r, &lcr);
    state_get_u8(r, &mcr);
    state_get_u8(r, &scr);
    state_get_u8(r, &fcr);
    state_get_u8(r, &dll);
    state_get_u8(r, &dlm);
    state_get_u8(r, &thr);
    int rc = state_get_u32(r, &rx_count);
    if (rc)
        return rc;
    if ((rc = check_mask("IER", ier, IER_MASK)) || (rc = check_mask("MCR", mcr, MCR_MASK)) ||
        (rc = check_mask("FCR", fcr, FCR_MASK)))
        return rc;
    if (thr > 1)
        return vmm_error(VMM_EFORMAT, "uart16550 state: THRE latch %u, limit 0..1", thr);
    if (rx_count > UART16550_RX_BUFFER)
        return vmm_error(VMM_EFORMAT, "uart16550 state: %u bytes in the receive buffer, limit %u",
                         rx_count, UART16550_RX_BUFFER);
    if (state_left(r) != rx_count)
        return vmm_error(VMM_EFORMAT, "uart16550 state: receive buffer of %u bytes, but %zu bytes "
                         "follow", rx_count, state_left(r));
    /* Everything is checked: apply. */
    pthread_mutex_lock(&u->lock);
    u->ier = ier;
    u->lcr = lcr;
    u->mcr = mcr;
    u->scr = scr;
    u->fcr = fcr;
    u->dll = dll;
    u->dlm = dlm;
    u->thr_ipending = thr;
    u->rx_head = 0;
    u->rx_count = rx_count;
    state_get_bytes(r, u->rx, rx_count); /* cannot come up short: checked above */
    /* Drive the line to match whatever the interrupt controller holds. */
    u->irq_level = pending_iir(u) != IIR_NONE;
    machine_set_irq(u->m, u->irq, u->irq_level);
    pthread_mutex_unlock(&u->lock);
    return 0;
}

const struct component_ops uart16550_component_ops = {
    .type = "uart16550",
    .state_version = 1,
    .reset = uart_reset,
    .save = uart_save,
    .load = uart_load,
    .destroy = uart16550_free,
};
