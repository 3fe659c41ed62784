#include "arch/riscv/dtb.h"

#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "arch/riscv/plic.h"
#include "arch/riscv/virt.h"
#include "util/error.h"

/* phandles: 1..N the harts' interrupt controllers, then these */
#define PH_PLIC(n) ((n) + 1)
#define PH_TEST(n) ((n) + 2)
#define PH_INTC(h) ((h) + 1)

#define IRQ_S_SOFT 1
#define IRQ_M_SOFT 3
#define IRQ_S_TIMER 5
#define IRQ_M_TIMER 7
#define IRQ_S_EXT 9
#define IRQ_M_EXT 11

/* libfdt calls return negative FDT_ERR_*; the first failure sticks. */
struct fdt_w {
    void *fdt;
    int err;
};

static void w_check(struct fdt_w *w, int rc)
{
    if (rc < 0 && !w->err)
        w->err = rc;
}

static void begin(struct fdt_w *w, const char *name)
{
    w_check(w, fdt_begin_node(w->fdt, name));
}

static void end(struct fdt_w *w)
{
    w_check(w, fdt_end_node(w->fdt));
}

static void prop_u32(struct fdt_w *w, const char *name, uint32_t v)
{
    w_check(w, fdt_property_u32(w->fdt, name, v));
}

static void prop_u64(struct fdt_w *w, const char *name, uint64_t v)
{
    w_check(w, fdt_property_u64(w->fdt, name, v));
}

static void prop_str(struct fdt_w *w, const char *name, const char *s)
{
    w_check(w, fdt_property_string(w->fdt, name, s));
}

static void prop_empty(struct fdt_w *w, const char *name)
{
    w_check(w, fdt_property(w->fdt, name, NULL, 0));
}

/* A list of NUL-separated strings, e.g. compatible. */
static void prop_strs(struct fdt_w *w, const char *name, const char *const *list, int n)
{
    char buf[256];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(list[i]) + 1;
        if (len + l > sizeof(buf)) {
            w_check(w, -FDT_ERR_NOSPACE);
            return;
        }
        memcpy(buf + len, list[i], l);
        len += l;
    }
    w_check(w, fdt_property(w->fdt, name, buf, (int)len));
}

/* A list of big-endian cells. */
static void prop_cells(struct fdt_w *w, const char *name, const uint32_t *cells, int n)
{
    fdt32_t be[4 * 32 + 4];
    if (n > (int)(sizeof(be) / sizeof(be[0]))) {
        w_check(w, -FDT_ERR_NOSPACE);
        return;
    }
    for (int i = 0; i < n; i++)
        be[i] = cpu_to_fdt32(cells[i]);
    w_check(w, fdt_property(w->fdt, name, be, n * (int)sizeof(be[0])));
}

/* reg = <addr-hi addr-lo size-hi size-lo> with #address-cells = #size-cells = 2 */
static void prop_reg(struct fdt_w *w, uint64_t base, uint64_t size)
{
    uint32_t c[4] = { (uint32_t)(base >> 32), (uint32_t)base, (uint32_t)(size >> 32),
                      (uint32_t)size };
    prop_cells(w, "reg", c, 4);
}

static void node_cpus(struct fdt_w *w, const struct dtb_params *p)
{
    static const char *const exts[] = { "i", "m", "a", "f", "d", "c", "zicsr", "zifencei" };
    begin(w, "cpus");
    prop_u32(w, "#address-cells", 1);
    prop_u32(w, "#size-cells", 0);
    prop_u32(w, "timebase-frequency", 10000000);
    for (unsigned h = 0; h < p->nr_harts; h++) {
        char name[32];
        snprintf(name, sizeof(name), "cpu@%u", h);
        begin(w, name);
        prop_str(w, "device_type", "cpu");
        prop_u32(w, "reg", h);
        prop_str(w, "status", "okay");
        prop_str(w, "compatible", "riscv");
        prop_str(w, "riscv,isa", DTB_ISA);
        prop_str(w, "riscv,isa-base", "rv64i");
        prop_strs(w, "riscv,isa-extensions", exts, (int)(sizeof(exts) / sizeof(exts[0])));
        prop_str(w, "mmu-type", p->mmu_type);
        begin(w, "interrupt-controller");
        prop_u32(w, "#interrupt-cells", 1);
        prop_empty(w, "interrupt-controller");
        prop_str(w, "compatible", "riscv,cpu-intc");
        prop_u32(w, "phandle", PH_INTC(h));
        end(w);
        end(w);
    }
    end(w);
}

/* interrupts-extended: for each hart, <&intc irq_a &intc irq_b> */
static void prop_irqs_ext(struct fdt_w *w, unsigned nr_harts, uint32_t irq_a, uint32_t irq_b)
{
    uint32_t c[4 * 32];
    unsigned n = 0;
    for (unsigned h = 0; h < nr_harts && n + 4 <= 4 * 32; h++) {
        c[n++] = PH_INTC(h);
        c[n++] = irq_a;
        c[n++] = PH_INTC(h);
        c[n++] = irq_b;
    }
    prop_cells(w, "interrupts-extended", c, (int)n);
}

static void node_soc(struct fdt_w *w, const struct dtb_params *p)
{
    unsigned n = p->nr_harts;
    char name[48];

    begin(w, "soc");
    prop_u32(w, "#address-cells", 2);
    prop_u32(w, "#size-cells", 2);
    prop_str(w, "compatible", "simple-bus");
    prop_empty(w, "ranges");

    static const char *const clint_compat[] = { "sifive,clint0", "riscv,clint0" };
    snprintf(name, sizeof(name), "clint@%llx", (unsigned long long)VIRT_CLINT_BASE);
    begin(w, name);
    prop_strs(w, "compatible", clint_compat, 2);
    prop_reg(w, VIRT_CLINT_BASE, VIRT_CLINT_SIZE);
    prop_irqs_ext(w, n, IRQ_M_SOFT, IRQ_M_TIMER);
    end(w);

    static const char *const plic_compat[] = { "sifive,plic-1.0.0", "riscv,plic0" };
    snprintf(name, sizeof(name), "plic@%llx", (unsigned long long)VIRT_PLIC_BASE);
    begin(w, name);
    prop_strs(w, "compatible", plic_compat, 2);
    prop_reg(w, VIRT_PLIC_BASE, VIRT_PLIC_SIZE);
    prop_u32(w, "#address-cells", 0);
    prop_u32(w, "#interrupt-cells", 1);
    prop_empty(w, "interrupt-controller");
    prop_u32(w, "riscv,ndev", VIRT_PLIC_NDEV);
    prop_irqs_ext(w, n, IRQ_M_EXT, IRQ_S_EXT); /* context 2h: M, 2h+1: S */
    prop_u32(w, "phandle", PH_PLIC(n));
    end(w);

    snprintf(name, sizeof(name), "serial@%llx", (unsigned long long)VIRT_UART_BASE);
    begin(w, name);
    prop_str(w, "compatible", "ns16550a");
    prop_reg(w, VIRT_UART_BASE, VIRT_UART_SIZE);
    prop_u32(w, "clock-frequency", VIRT_UART_CLOCK);
    prop_u32(w, "interrupts", VIRT_UART_IRQ);
    prop_u32(w, "interrupt-parent", PH_PLIC(n));
    end(w);

    for (unsigned i = 0; i < p->nr_virtio; i++) {
        snprintf(name, sizeof(name), "virtio_mmio@%llx", (unsigned long long)p->virtio_base[i]);
        begin(w, name);
        prop_str(w, "compatible", "virtio,mmio");
        prop_reg(w, p->virtio_base[i], VIRT_VIRTIO_SIZE);
        prop_u32(w, "interrupts", p->virtio_irq[i]);
        prop_u32(w, "interrupt-parent", PH_PLIC(n));
        end(w);
    }

    static const char *const test_compat[] = { "sifive,test1", "sifive,test0", "syscon" };
    snprintf(name, sizeof(name), "test@%llx", (unsigned long long)VIRT_TEST_BASE);
    begin(w, name);
    prop_strs(w, "compatible", test_compat, 3);
    prop_reg(w, VIRT_TEST_BASE, VIRT_TEST_SIZE);
    prop_u32(w, "phandle", PH_TEST(n));
    end(w);

    end(w);
}

static void node_syscon(struct fdt_w *w, const char *name, const char *compat, uint32_t value,
                        unsigned nr_harts)
{
    begin(w, name);
    prop_str(w, "compatible", compat);
    prop_u32(w, "regmap", PH_TEST(nr_harts));
    prop_u32(w, "offset", 0);
    prop_u32(w, "value", value);
    end(w);
}

int dtb_build(const struct dtb_params *p, void *buf, size_t bufsize, size_t *size)
{
    const char *cmdline = p->cmdline ? p->cmdline : "";
    size_t cmdlen = strlen(cmdline);
    if (cmdlen >= DTB_CMDLINE_MAX)
        return vmm_error(VMM_ERANGE, "kernel command line is %zu bytes, limit %d", cmdlen,
                         DTB_CMDLINE_MAX - 1);
    if (p->nr_harts == 0 || p->nr_harts > 32)
        return vmm_error(VMM_EINVAL, "device tree: %u harts, limit 1..32", p->nr_harts);
    if (bufsize > INT32_MAX)
        bufsize = INT32_MAX;

    struct fdt_w w = { buf, 0 };
    char name[48];
    w_check(&w, fdt_create(buf, (int)bufsize));
    w_check(&w, fdt_finish_reservemap(buf));
    begin(&w, "");
    prop_u32(&w, "#address-cells", 2);
    prop_u32(&w, "#size-cells", 2);
    prop_str(&w, "compatible", "riscv-virtio");
    prop_str(&w, "model", "libvmm,riscv-virt");

    begin(&w, "chosen");
    if (cmdlen)
        prop_str(&w, "bootargs", cmdline);
    snprintf(name, sizeof(name), "/soc/serial@%llx", (unsigned long long)VIRT_UART_BASE);
    prop_str(&w, "stdout-path", name);
    if (p->initrd_end > p->initrd_start) {
        prop_u64(&w, "linux,initrd-start", p->initrd_start);
        prop_u64(&w, "linux,initrd-end", p->initrd_end);
    }
    end(&w);

    snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)p->ram_base);
    begin(&w, name);
    prop_str(&w, "device_type", "memory");
    prop_reg(&w, p->ram_base, p->ram_size);
    end(&w);

    node_cpus(&w, p);
    node_soc(&w, p);
    node_syscon(&w, "poweroff", "syscon-poweroff", 0x5555, p->nr_harts);
    node_syscon(&w, "reboot", "syscon-reboot", 0x7777, p->nr_harts);
    end(&w);
    w_check(&w, fdt_finish(buf));

    if (w.err == -FDT_ERR_NOSPACE)
        return vmm_error(VMM_ERANGE, "device tree does not fit in %zu bytes", bufsize);
    if (w.err)
        return vmm_error(VMM_EINVAL, "building the device tree: %s", fdt_strerror(w.err));
    *size = fdt_totalsize(buf);
    return 0;
}
