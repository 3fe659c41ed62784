#include "arch/riscv/board.h"

#include <stdlib.h>

#include "arch/riscv/sbi.h"
#include "arch/riscv/virt.h"
#include "backend/soft/engine.h"
#include "devices/sifive_test.h"
#include "devices/uart16550.h"
#include "util/error.h"

struct rv_hart *rv_board_hart(struct rv_board *b, uint64_t id)
{
    return id < b->nr_harts ? soft_hart(b->m, id) : NULL;
}

/* --- CLINT wiring: the CLINT drives each hart's MSIP and timer --- */

static void clint_set_msip(void *opaque, unsigned hart, int level)
{
    struct rv_hart *h = rv_board_hart(opaque, hart);
    if (h)
        rv_hart_set_irq(h, RV_IRQ_MSIP, level);
}

static uint64_t clint_get_mtimecmp(void *opaque, unsigned hart)
{
    struct rv_hart *h = rv_board_hart(opaque, hart);
    return h ? atomic_load(&h->mtimecmp) : UINT64_MAX;
}

static void clint_set_mtimecmp(void *opaque, unsigned hart, uint64_t value)
{
    struct rv_hart *h = rv_board_hart(opaque, hart);
    if (!h)
        return;
    atomic_store(&h->mtimecmp, value);
    /* a hart parked in WFI recomputes its wake-up deadline */
    rv_hart_kick(h);
}

/* mtime as the reading hart sees it (in deterministic mode each hart's time
 * follows its own retired instructions). */
static uint64_t clint_read_time(void *opaque)
{
    struct rv_board *b = opaque;
    struct rv_hart *h = soft_current_hart();
    if (!h || h->m != b->m)
        h = rv_board_hart(b, 0);
    return h ? rv_hart_time(h) : 0;
}

static const struct clint_ops board_clint_ops = {
    .set_msip = clint_set_msip,
    .get_mtimecmp = clint_get_mtimecmp,
    .set_mtimecmp = clint_set_mtimecmp,
    .read_time = clint_read_time,
};

/* --- PLIC wiring: context 2h is hart h's M-mode, 2h+1 its S-mode --- */

static void plic_output(void *opaque, unsigned ctx, int level)
{
    struct rv_hart *h = rv_board_hart(opaque, ctx / 2);
    if (h)
        rv_hart_set_irq(h, ctx % 2 ? RV_IRQ_SEIP : RV_IRQ_MEIP, level);
}

static int plic_line(void *opaque, unsigned irq, int level)
{
    return plic_set_irq(opaque, irq, level);
}

static size_t uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
    return uart16550_receive(opaque, buf, len);
}

/* QEMU virt's eight virtio-mmio windows and PLIC sources 1..8, then eight
 * more right after them on sources 11..18 (10 is the UART). */
static const unsigned virtio_irqs[] = { 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18 };
static const struct virtio_layout virtio_layout = {
    .base = VIRT_VIRTIO_BASE,
    .stride = VIRT_VIRTIO_SIZE,
    .irqs = virtio_irqs,
    .max = sizeof(virtio_irqs) / sizeof(virtio_irqs[0]),
};

int rv_board_create(struct machine *m, const vmm_config_t *cfg)
{
    struct rv_board *b = calloc(1, sizeof(*b));
    if (!b)
        return vmm_error(VMM_ENOMEM, "riscv board");
    b->m = m;
    b->nr_harts = m->nr_vcpus;
    pthread_mutex_init(&b->hsm_lock, NULL);
    m->board = b;

    struct component *c;
    b->clint = clint_new(b->nr_harts, &board_clint_ops, b);
    if (!b->clint || !(c = machine_add_component(m, "clint", &clint_component_ops, b->clint)))
        return VMM_ENOMEM;
    int rc = component_map(m, c, &m->mmio, VIRT_CLINT_BASE, VIRT_CLINT_SIZE, &clint_bus_ops,
                           b->clint);
    if (rc)
        return rc;

    b->plic = plic_new(2 * b->nr_harts, plic_output, b);
    if (!b->plic || !(c = machine_add_component(m, "plic", &plic_component_ops, b->plic)))
        return VMM_ENOMEM;
    if ((rc = component_map(m, c, &m->mmio, VIRT_PLIC_BASE, VIRT_PLIC_SIZE, &plic_bus_ops,
                            b->plic)))
        return rc;
    m->irq = (struct machine_irq_controller){ plic_line, b->plic };

    struct uart16550 *u = uart16550_new(m, VIRT_UART_IRQ, 0);
    if (!u || !(c = machine_add_component(m, "uart0", &uart16550_component_ops, u)))
        return VMM_ENOMEM;
    if ((rc = component_map(m, c, &m->mmio, VIRT_UART_BASE, VIRT_UART_SIZE, &uart16550_ops, u)) ||
        (rc = component_claim_irq(m, c, VIRT_UART_IRQ)))
        return rc;
    m->console_in = (struct machine_console_input){ uart_receive, u, UART16550_RX_BUFFER };

    if (!(c = machine_add_component(m, "test0", &sifive_test_component_ops, m)))
        return VMM_ENOMEM;
    if ((rc = component_map(m, c, &m->mmio, VIRT_TEST_BASE, VIRT_TEST_SIZE, &sifive_test_ops, m)))
        return rc;

    if ((rc = virtio_slots_populate(m, cfg, &virtio_layout, &b->virtio)))
        return rc;

    soft_set_sbi_handler(m, sbi_call, b);
    return 0;
}

void rv_board_destroy(struct machine *m)
{
    struct rv_board *b = m->board;
    if (!b)
        return;
    pthread_mutex_destroy(&b->hsm_lock);
    free(b);
    m->board = NULL;
}
