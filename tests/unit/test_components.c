/* Every component type but KVM's (tests/unit/test_kvm_components.c) through
 * reset, save and load: see component_rig.h for what each kind is put
 * through. Devices are driven through their bus ops as a guest would; the
 * soft engine's hart runs a few instructions in deterministic mode. */
#include <pthread.h>
#include <time.h>

#include "arch/riscv/clint.h"
#include "arch/riscv/plic.h"
#include "backend/backend.h"
#include "backend/soft/engine.h"
#include "component_rig.h"
#include "devices/acpi_pm.h"
#include "devices/cmos.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/sifive_test.h"
#include "devices/uart16550.h"

/* --- a machine for a device --- */

static int record_irq(void *opaque, unsigned irq, int level)
{
    struct inst *i = opaque;
    if (irq < sizeof(i->level) / sizeof(i->level[0]))
        i->level[irq] = level;
    return 0;
}

static void device_machine(struct inst *i)
{
    CU_ASSERT_EQUAL_FATAL(machine_init(&i->m, 1), 0);
    i->m.irq = (struct machine_irq_controller){ record_irq, i };
}

static void add(struct inst *i, const char *name, const struct component_ops *ops, void *dev)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(dev);
    i->dev = dev;
    i->c = machine_add_component(&i->m, name, ops, dev);
    CU_ASSERT_PTR_NOT_NULL_FATAL(i->c);
}

static void device_destroy(struct inst *i)
{
    machine_destroy(&i->m); /* destroys the component too */
}

/* --- 16550 UART (COM1 wiring: IRQ 4, byte-spaced registers) --- */

#define UART_IRQ 4

static uint8_t ur(struct inst *i, unsigned reg)
{
    return (uint8_t)uart16550_ops.read(i->dev, reg, 1);
}

static void uw(struct inst *i, unsigned reg, uint8_t v)
{
    uart16550_ops.write(i->dev, reg, 1, v);
}

static void uart_create(struct inst *i)
{
    device_machine(i);
    add(i, "uart0", &uart16550_component_ops, uart16550_new(&i->m, UART_IRQ, 0));
}

static void uart_drive(struct inst *i)
{
    uw(i, 3, 0x80); /* DLAB */
    uw(i, 0, 0x01); /* 115200 baud */
    uw(i, 1, 0x00);
    uw(i, 3, 0x1b); /* 8 bits, even parity */
    uw(i, 2, 0xc7); /* FIFO on, clear, trigger 14 */
    uw(i, 4, 0x0b); /* DTR RTS OUT2 */
    uw(i, 7, 0x5a);
    uw(i, 1, 0x03); /* RDI | THRI: THRE latches at once */
    CU_ASSERT_EQUAL(uart16550_receive(i->dev, (const uint8_t *)"hello", 5), 5);
    CU_ASSERT_EQUAL(ur(i, 0), 'h');
    CU_ASSERT_EQUAL(i->level[UART_IRQ], 1);
}

static void uart_probe(struct inst *i, struct probe_log *l)
{
    static const unsigned regs[] = { 1, 3, 4, 5, 6, 7, 2 };
    for (unsigned k = 0; k < sizeof(regs) / sizeof(regs[0]); k++)
        log_u64(l, ur(i, regs[k]));
    uint8_t lcr = ur(i, 3);
    uw(i, 3, lcr | 0x80);
    log_u64(l, ur(i, 0)); /* DLL */
    log_u64(l, ur(i, 1)); /* DLM */
    uw(i, 3, lcr);
    for (int k = 0; k < 5; k++) {
        log_u64(l, ur(i, 5));
        log_u64(l, ur(i, 0));
        log_u64(l, (uint64_t)i->level[UART_IRQ]);
    }
    log_u64(l, ur(i, 2)); /* THRE acknowledged by the earlier IIR read? */
}

static void uart_after_load(struct inst *a, struct inst *b)
{
    /* the loaded UART drove its line to what the original's is */
    CU_ASSERT_EQUAL(b->level[UART_IRQ], 1);
    CU_ASSERT_EQUAL(a->level[UART_IRQ], 1);
}

static void uart_after_reset(struct inst *i)
{
    CU_ASSERT_EQUAL(i->level[UART_IRQ], 0); /* reset lowered the line */
    CU_ASSERT_EQUAL(ur(i, 4), 0x08);         /* MCR: OUT2 */
    CU_ASSERT_EQUAL(ur(i, 5) & 0x01, 0);     /* nothing received */
}

/* Payload: IER LCR MCR SCR FCR DLL DLM THRE, u32 count, 4 bytes "ello". */
static int uart_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    CU_ASSERT_EQUAL(len, 8 + 4 + 4);
    switch (n) {
    case 0: p[0] = 0x10; *msg = "IER 0x10 has bits outside 0x0f"; return 1;
    case 1: p[2] = 0x20; *msg = "MCR 0x20 has bits outside 0x1f"; return 1;
    case 2: p[4] = 0x02; *msg = "FCR 0x02 has bits outside 0xc1"; return 1;
    case 3: p[7] = 2; *msg = "THRE latch 2, limit 0..1"; return 1;
    case 4:
        put_le(p + 8, UART16550_RX_BUFFER + 1, 4);
        *msg = "65537 bytes in the receive buffer, limit 65536";
        return 1;
    case 5: put_le(p + 8, 5, 4); *msg = "receive buffer of 5 bytes, but 4 bytes follow"; return 1;
    case 6: put_le(p + 8, 3, 4); *msg = "receive buffer of 3 bytes, but 4 bytes follow"; return 1;
    case 7: put_le(p + 8, 0xffffffffu, 4); *msg = "4294967295 bytes"; return 1;
    default: return 0;
    }
}

static const struct kind uart_kind = {
    .type = "uart16550", .create = uart_create, .drive = uart_drive, .probe = uart_probe,
    .after_load = uart_after_load, .after_reset = uart_after_reset,
    .destroy = device_destroy, .damage = uart_damage,
};

static void test_uart16550(void)
{
    run_kind(&uart_kind);
}

static void test_uart16550_full_receive_buffer(void)
{
    /* A full ring that wraps: the save puts it out oldest first, and the
     * loaded copy hands out the same bytes. */
    struct inst *a = rig_new(&uart_kind), *b = rig_new(&uart_kind);
    uint8_t *buf = malloc(UART16550_RX_BUFFER);
    for (size_t k = 0; k < UART16550_RX_BUFFER; k++)
        buf[k] = (uint8_t)(k * 7);
    CU_ASSERT_EQUAL(uart16550_receive(a->dev, buf, 1000), 1000);
    for (int k = 0; k < 600; k++)
        ur(a, 0);
    CU_ASSERT_EQUAL(uart16550_receive(a->dev, buf, UART16550_RX_BUFFER), UART16550_RX_BUFFER - 400);
    /* b's ring does not start at 0 either: the load replaces it whole */
    CU_ASSERT_EQUAL(uart16550_receive(b->dev, (const uint8_t *)"xyz", 3), 3);
    ur(b, 0);
    ur(b, 0);
    struct state_buffer sa, sb;
    rig_save(a, &sa);
    CU_ASSERT_EQUAL(component_load_from_buffer(b->c, &sa), 0);
    rig_save(b, &sb);
    rig_same(&sa, &sb, "full ring");
    int same = 1;
    for (size_t k = 0; k < UART16550_RX_BUFFER; k++)
        same &= ur(a, 0) == ur(b, 0);
    CU_ASSERT(same);
    CU_ASSERT_EQUAL(ur(b, 5) & 0x01, 0);
    state_buffer_free(&sa);
    state_buffer_free(&sb);
    free(buf);
    rig_free(&uart_kind, a);
    rig_free(&uart_kind, b);
}

/* --- i8042 --- */

static void kbd_create(struct inst *i)
{
    device_machine(i);
    add(i, "i8042", &i8042_component_ops, i8042_new(&i->m));
}

static void kbd_drive(struct inst *i)
{
    i8042_cmd_ops.write(i->dev, 0, 1, 0x60);  /* write config ... */
    i8042_data_ops.write(i->dev, 0, 1, 0x47); /* ... 0x47 */
    i8042_cmd_ops.write(i->dev, 0, 1, 0xaa);  /* self test: 0x55 */
    i8042_cmd_ops.write(i->dev, 0, 1, 0x20);  /* read config: 0x47 */
    i8042_cmd_ops.write(i->dev, 0, 1, 0xd0);  /* read output port: 0x03 */
    CU_ASSERT_EQUAL(i8042_data_ops.read(i->dev, 0, 1), 0x55);
    i8042_cmd_ops.write(i->dev, 0, 1, 0xd1); /* write output port: data pending */
    CU_ASSERT_EQUAL(i8042_cmd_ops.read(i->dev, 0, 1), 0x0d);
}

static void kbd_probe(struct inst *i, struct probe_log *l)
{
    log_u64(l, i8042_cmd_ops.read(i->dev, 0, 1));
    for (int k = 0; k < 3; k++)
        log_u64(l, i8042_data_ops.read(i->dev, 0, 1));
    log_u64(l, i8042_cmd_ops.read(i->dev, 0, 1));
    /* the pending 0xd1 takes this byte as the output port (bit 0 set: no reset) */
    i8042_data_ops.write(i->dev, 0, 1, 0x01);
    i8042_cmd_ops.write(i->dev, 0, 1, 0xd0);
    log_u64(l, i8042_data_ops.read(i->dev, 0, 1));
    log_u64(l, (uint64_t)i->m.outcome_set);
}

static void kbd_after_reset(struct inst *i)
{
    CU_ASSERT_EQUAL(i8042_cmd_ops.read(i->dev, 0, 1), 0x04); /* SYS only */
}

/* Payload: status config outport pending count, then "count" bytes (2). */
static int kbd_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    CU_ASSERT_EQUAL(len, 5 + 2);
    switch (n) {
    case 0: p[0] = 0x0c; *msg = "output-buffer-full flag 0 with 2 bytes queued"; return 1;
    case 1: p[0] = 0x09; *msg = "status 0x09 lacks the system flag 0x04"; return 1;
    case 2: p[0] = 0x8d; *msg = "status 0x8d has bits outside 0x0d"; return 1;
    case 3: p[3] = 0xaa; *msg = "pending command 0xaa, expected 0, 0x60 or 0xd1"; return 1;
    case 4: p[4] = 5; *msg = "5 bytes queued, limit 4"; return 1;
    case 5: p[4] = 3; *msg = "shorter than its reader expects"; return 1;
    case 6: p[4] = 1; *msg = "1 bytes left unread"; return 1;
    default: return 0;
    }
}

static const struct kind kbd_kind = {
    .type = "i8042", .create = kbd_create, .drive = kbd_drive, .probe = kbd_probe,
    .after_reset = kbd_after_reset, .destroy = device_destroy, .damage = kbd_damage,
};

static void test_i8042(void)
{
    run_kind(&kbd_kind);
}

/* --- CMOS --- */

static uint8_t cmos_at(struct inst *i, uint8_t reg)
{
    cmos_ops.write(i->dev, 0, 1, reg);
    return (uint8_t)cmos_ops.read(i->dev, 1, 1);
}

static void cmos_create(struct inst *i)
{
    device_machine(i);
    add(i, "cmos", &cmos_component_ops, cmos_new(256ULL << 20));
}

static void cmos_drive(struct inst *i)
{
    cmos_ops.write(i->dev, 0, 1, 0x0b);
    cmos_ops.write(i->dev, 1, 1, 0x06); /* binary, 24 h */
    cmos_ops.write(i->dev, 0, 1, 0x0a);
    cmos_ops.write(i->dev, 1, 1, 0xaf); /* UIP dropped: 0x2f */
    cmos_ops.write(i->dev, 0, 1, 0x40);
    cmos_ops.write(i->dev, 1, 1, 0x99);
    cmos_ops.write(i->dev, 0, 1, 0x17);
    cmos_ops.write(i->dev, 1, 1, 0x12);
    cmos_ops.write(i->dev, 0, 1, 0x00);
    cmos_ops.write(i->dev, 1, 1, 0x33); /* the clock: dropped */
    cmos_ops.write(i->dev, 0, 1, 0x8e); /* NMI mask bit + index 0x0e */
    cmos_ops.write(i->dev, 1, 1, 0x77);
}

static void cmos_probe(struct inst *i, struct probe_log *l)
{
    log_u64(l, cmos_ops.read(i->dev, 1, 1)); /* the index the guest left: 0x0e */
    log_u64(l, cmos_ops.read(i->dev, 0, 1));
    static const uint8_t regs[] = { 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x17, 0x18, 0x30, 0x34, 0x35,
                                    0x40, 0x7f };
    for (unsigned k = 0; k < sizeof(regs); k++)
        log_u64(l, cmos_at(i, regs[k]));
}

/* Payload: u8 index, 128 register bytes (register r at 1 + r). */
static int cmos_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    CU_ASSERT_EQUAL(len, 129);
    switch (n) {
    case 0: p[0] = 0x80; *msg = "index 128, limit 0..127"; return 1;
    case 1: p[1 + 0x00] = 0x12; *msg = "clock register 0x00 holds 0x12"; return 1;
    case 2: p[1 + 0x32] = 0x20; *msg = "clock register 0x32 holds 0x20"; return 1;
    case 3: p[1 + 0x0a] = 0xa6; *msg = "register A 0xa6 has the read-only UIP bit"; return 1;
    case 4: p[1 + 0x0c] = 0x80; *msg = "register C 0x80, must be 0"; return 1;
    case 5: p[1 + 0x0d] = 0x00; *msg = "register D 0x00, must be 0x80"; return 1;
    default: return 0;
    }
}

static void cmos_after_load(struct inst *a, struct inst *b)
{
    CU_ASSERT_EQUAL(cmos_ops.read(b->dev, 1, 1), 0x77);
}

static const struct kind cmos_kind = {
    .type = "cmos", .create = cmos_create, .drive = cmos_drive, .probe = cmos_probe,
    .after_load = cmos_after_load, .destroy = device_destroy, .damage = cmos_damage,
};

static void test_cmos(void)
{
    run_kind(&cmos_kind);
}

static void test_cmos_clock_follows_the_loaded_format(void)
{
    /* B (register B binary/24h) loaded into a fresh CMOS: the clock reads in
     * binary from then on, hours 0..23 without the PM bit. */
    struct inst *a = rig_new(&cmos_kind), *b = rig_new(&cmos_kind);
    cmos_drive(a);
    struct state_buffer sa;
    rig_save(a, &sa);
    CU_ASSERT_EQUAL(component_load_from_buffer(b->c, &sa), 0);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    uint8_t year = cmos_at(b, 0x09);
    CU_ASSERT(year == tm.tm_year % 100 || year == (tm.tm_year + 1) % 100);
    CU_ASSERT(cmos_at(b, 0x04) < 24);
    state_buffer_free(&sa);
    rig_free(&cmos_kind, a);
    rig_free(&cmos_kind, b);
}

/* --- ACPI PM --- */

static void pm_create(struct inst *i)
{
    device_machine(i);
    add(i, "acpi-pm", &acpi_pm_component_ops, acpi_pm_new(&i->m));
}

static void pm_drive(struct inst *i)
{
    acpi_pm_ops.write(i->dev, 2, 2, 0x0121);    /* PM1a_EN */
    acpi_pm_ops.write(i->dev, 4, 2, 0x2400);    /* SLP_TYP 1 + SLP_EN: not S5, no effect */
    acpi_pm_ops.write(i->dev, 0, 2, 0xffff);    /* clearing nothing */
    acpi_pm_ops.write(i->dev, 5, 1, 0x04);      /* high byte of CNT: SLP_TYP 1 */
    CU_ASSERT_EQUAL(i->m.outcome_set, 0);
}

static void pm_probe(struct inst *i, struct probe_log *l)
{
    for (unsigned off = 0; off < ACPI_PM_SIZE; off += 2)
        log_u64(l, acpi_pm_ops.read(i->dev, off, 2));
    log_u64(l, acpi_pm_ops.read(i->dev, 4, 4));
    log_u64(l, acpi_pm_ops.read(i->dev, 3, 1));
}

static void pm_after_load(struct inst *a, struct inst *b)
{
    CU_ASSERT_EQUAL(acpi_pm_ops.read(b->dev, 2, 2), 0x0121);
    CU_ASSERT_EQUAL(acpi_pm_ops.read(b->dev, 4, 2), 0x0401);
}

/* Payload: u16 STS, u16 EN, u16 CNT. */
static int pm_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    CU_ASSERT_EQUAL(len, 6);
    switch (n) {
    case 0: put_le(p, 0x0001, 2); *msg = "PM1a_STS 0x0001"; return 1;
    case 1: put_le(p + 4, 0x0400, 2); *msg = "PM1a_CNT 0x0400 lacks SCI_EN 0x0001"; return 1;
    case 2: put_le(p + 4, 0x3401, 2); *msg = "PM1a_CNT 0x3401 has the write-only SLP_EN"; return 1;
    default: return 0;
    }
}

static const struct kind pm_kind = {
    .type = "acpi-pm", .create = pm_create, .drive = pm_drive, .probe = pm_probe,
    .after_load = pm_after_load, .destroy = device_destroy, .damage = pm_damage,
};

static void test_acpi_pm(void)
{
    run_kind(&pm_kind);
}

/* --- debug-exit and sifive-test: stateless, empty sections --- */

static void dbg_create(struct inst *i)
{
    device_machine(i);
    i->c = machine_add_component(&i->m, "debug-exit", &debug_exit_component_ops, &i->m);
}

static void test_create(struct inst *i)
{
    device_machine(i);
    i->c = machine_add_component(&i->m, "test0", &sifive_test_component_ops, &i->m);
}

static void stateless_after_load(struct inst *a, struct inst *b)
{
    struct state_buffer s;
    rig_save(a, &s);
    const uint8_t *p;
    size_t len;
    rig_payload(&s, &p, &len);
    CU_ASSERT_EQUAL(len, 0); /* an empty section, present all the same */
    CU_ASSERT_PTR_NULL(a->c->ops->save);
    CU_ASSERT_PTR_NULL(a->c->ops->load);
    state_buffer_free(&s);
}

static int stateless_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    return 0; /* nothing to damage; one byte too many is refused by the rig */
}

static const struct kind dbg_kind = {
    .type = "debug-exit", .create = dbg_create, .after_load = stateless_after_load,
    .destroy = device_destroy, .damage = stateless_damage,
};
static const struct kind test_kind = {
    .type = "sifive-test", .create = test_create, .after_load = stateless_after_load,
    .destroy = device_destroy, .damage = stateless_damage,
};

static void test_debug_exit(void)
{
    run_kind(&dbg_kind);
    /* a byte in its section is refused with the reason */
    struct inst *i = rig_new(&dbg_kind);
    struct state_buffer s;
    rig_section(&s, "debug-exit", 1, "\0", 1);
    CU_ASSERT_EQUAL(component_load_from_buffer(i->c, &s), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "should be empty, has 1 bytes"));
    state_buffer_free(&s);
    rig_free(&dbg_kind, i);
}

static void test_sifive_test(void)
{
    run_kind(&test_kind);
}

/* --- CLINT (2 harts, recording callbacks) --- */

static void clint_msip_cb(void *o, unsigned hart, int level)
{
    ((struct inst *)o)->msip[hart] = level;
}
static uint64_t clint_get_cmp(void *o, unsigned hart)
{
    return ((struct inst *)o)->timecmp[hart];
}
static void clint_set_cmp(void *o, unsigned hart, uint64_t v)
{
    ((struct inst *)o)->timecmp[hart] = v;
}
static uint64_t clint_time(void *o)
{
    return 1234;
}
static const struct clint_ops clint_cb = { clint_msip_cb, clint_get_cmp, clint_set_cmp, clint_time };

static void clint_create(struct inst *i)
{
    device_machine(i);
    add(i, "clint", &clint_component_ops, clint_new(2, &clint_cb, i));
}

static void clint_drive(struct inst *i)
{
    clint_bus_ops.write(i->dev, 4, 4, 1);          /* msip of hart 1 */
    clint_bus_ops.write(i->dev, 0x4000, 8, 99999); /* mtimecmp: the hart's, not saved here */
    CU_ASSERT_EQUAL(i->msip[1], 1);
}

static void clint_probe(struct inst *i, struct probe_log *l)
{
    log_u64(l, clint_bus_ops.read(i->dev, 0, 4));
    log_u64(l, clint_bus_ops.read(i->dev, 4, 4));
    log_u64(l, (uint64_t)i->msip[1]);
}

static void clint_after_load(struct inst *a, struct inst *b)
{
    /* the load drove every hart's MSIP */
    CU_ASSERT_EQUAL(b->msip[0], 0);
    CU_ASSERT_EQUAL(b->msip[1], 1);
}

static void clint_after_reset(struct inst *i)
{
    CU_ASSERT_EQUAL(i->msip[1], 0);
    CU_ASSERT_EQUAL(clint_bus_ops.read(i->dev, 4, 4), 0);
}

/* Payload: u32 harts, u8 msip per hart. */
static int clint_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    CU_ASSERT_EQUAL(len, 6);
    switch (n) {
    case 0: put_le(p, 3, 4); *msg = "3 harts, this CLINT has 2"; return 1;
    case 1: put_le(p, 0x10000, 4); *msg = "65536 harts, this CLINT has 2"; return 1;
    case 2: p[4] = 2; *msg = "msip of hart 0 is 2, limit 0..1"; return 1;
    case 3: p[5] = 0xff; *msg = "msip of hart 1 is 255, limit 0..1"; return 1;
    default: return 0;
    }
}

static const struct kind clint_kind = {
    .type = "clint", .create = clint_create, .drive = clint_drive, .probe = clint_probe,
    .after_load = clint_after_load, .after_reset = clint_after_reset,
    .destroy = device_destroy, .damage = clint_damage,
};

static void test_clint(void)
{
    run_kind(&clint_kind);
}

/* --- PLIC (4 contexts, recording callback) --- */

static void plic_out_cb(void *o, unsigned ctx, int level)
{
    ((struct inst *)o)->out[ctx] = level;
}

static void pw(struct inst *i, uint64_t off, uint32_t v)
{
    plic_bus_ops.write(i->dev, off, 4, v);
}

static uint32_t pr(struct inst *i, uint64_t off)
{
    return (uint32_t)plic_bus_ops.read(i->dev, off, 4);
}

#define PRIO(src) (4u * (src))
#define PENDING(w) (0x1000u + 4u * (w))
#define ENABLE(ctx, w) (0x2000u + 0x80u * (ctx) + 4u * (w))
#define THRESHOLD(ctx) (0x200000u + 0x1000u * (ctx))
#define CLAIM(ctx) (THRESHOLD(ctx) + 4)

static void plic_create(struct inst *i)
{
    device_machine(i);
    add(i, "plic", &plic_component_ops, plic_new(4, plic_out_cb, i));
}

static void plic_drive(struct inst *i)
{
    pw(i, PRIO(5), 1);
    pw(i, PRIO(10), 3);
    pw(i, PRIO(33), 7);
    pw(i, PRIO(95), 9); /* kept: 9 & 7 = 1 */
    pw(i, ENABLE(0, 0), 1u << 5 | 1u); /* source 0's bit is hardwired to 0 */
    pw(i, ENABLE(1, 0), 1u << 10);
    pw(i, ENABLE(1, 1), 1u << 1); /* source 33 */
    pw(i, THRESHOLD(1), 2);
    pw(i, THRESHOLD(3), 6);
    CU_ASSERT_EQUAL(plic_set_irq(i->dev, 5, 1), 0);
    CU_ASSERT_EQUAL(plic_set_irq(i->dev, 10, 1), 0);
    CU_ASSERT_EQUAL(plic_set_irq(i->dev, 33, 1), 0);
    CU_ASSERT_EQUAL(plic_set_irq(i->dev, 95, 1), 0);
    CU_ASSERT_EQUAL(pr(i, CLAIM(1)), 33); /* highest priority first */
    CU_ASSERT_EQUAL(i->out[0], 1);
    CU_ASSERT_EQUAL(i->out[1], 1); /* 10 (priority 3) is still above threshold 2 */
}

/* An output never driven (-1) is low. */
static uint64_t out_level(const struct inst *i, unsigned ctx)
{
    return i->out[ctx] > 0;
}

static void plic_probe(struct inst *i, struct probe_log *l)
{
    for (unsigned k = 0; k < 4; k++)
        log_u64(l, out_level(i, k));
    static const unsigned srcs[] = { 0, 5, 10, 33, 95 };
    for (unsigned k = 0; k < 5; k++)
        log_u64(l, pr(i, PRIO(srcs[k])));
    for (unsigned w = 0; w < 3; w++)
        log_u64(l, pr(i, PENDING(w)));
    for (unsigned ctx = 0; ctx < 4; ctx++) {
        for (unsigned w = 0; w < 3; w++)
            log_u64(l, pr(i, ENABLE(ctx, w)));
        log_u64(l, pr(i, THRESHOLD(ctx)));
    }
    log_u64(l, pr(i, CLAIM(1))); /* 10 */
    log_u64(l, pr(i, CLAIM(1))); /* nothing left */
    log_u64(l, out_level(i, 1));
    pw(i, CLAIM(1), 33); /* complete 33: its line is still high */
    log_u64(l, pr(i, PENDING(1)));
    log_u64(l, out_level(i, 1));
    log_u64(l, pr(i, CLAIM(1))); /* 33 again */
    log_u64(l, pr(i, CLAIM(0))); /* 5 */
    log_u64(l, out_level(i, 0));
}

static void plic_after_load(struct inst *a, struct inst *b)
{
    for (unsigned k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(b->out[k], a->out[k] < 0 ? 0 : a->out[k]); /* every one driven */
}

static void plic_after_reset(struct inst *i)
{
    for (unsigned k = 0; k < 4; k++)
        CU_ASSERT(i->out[k] <= 0);
    CU_ASSERT_EQUAL(pr(i, PENDING(0)), 0);
}

/* Payload: u32 contexts @0, u8 priority[96] @4, u32 level[3] @100,
 * pending[3] @112, claimed[3] @124, then per context (13 bytes from 136)
 * u32 enable[3] and u8 threshold. */
static int plic_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    CU_ASSERT_EQUAL(len, 136 + 4 * 13);
    switch (n) {
    case 0: put_le(p, 5, 4); *msg = "5 contexts, this PLIC has 4"; return 1;
    case 1: p[4 + 10] = 8; *msg = "priority of source 10 is 8, limit 7"; return 1;
    case 2: p[4 + 0] = 1; *msg = "priority of source 0 is 1, limit 0"; return 1;
    case 3:
        put_le(p + 100, get_le(p + 100, 4) | 1, 4);
        *msg = "level has source 0 set";
        return 1;
    case 4:
        put_le(p + 112, 0, 4);
        *msg = "pending word 0 is 0x00000000, but level 0x00000420 and claimed 0x00000000 make "
               "it 0x00000420";
        return 1;
    case 5:
        put_le(p + 128, 0, 4); /* claimed word 1 without 33: pending must then have it */
        *msg = "pending word 1 is 0x00000000";
        return 1;
    case 6: put_le(p + 136, 0x21, 4); *msg = "context 0 enables source 0"; return 1;
    case 7: p[136 + 13 + 12] = 8; *msg = "threshold of context 1 is 8, limit 7"; return 1;
    case 8: put_le(p + 124, 1, 4); *msg = "claimed has source 0 set"; return 1;
    default: return 0;
    }
}

static const struct kind plic_kind = {
    .type = "plic", .create = plic_create, .drive = plic_drive, .probe = plic_probe,
    .after_load = plic_after_load, .after_reset = plic_after_reset,
    .destroy = device_destroy, .damage = plic_damage,
};

static void test_plic(void)
{
    run_kind(&plic_kind);
}

/* --- rv-hart: a soft-engine vCPU in deterministic mode --- */

#define RAM 0x80000000ULL
#define RAM_SIZE (1ULL << 20)
#define EXIT 0x10000000ULL

static void exit_write(void *o, uint64_t off, unsigned size, uint64_t v)
{
    struct inst *i = o;
    machine_set_outcome(&i->m, VMM_OUTCOME_POWEROFF, 0, "test exit");
}
static uint64_t exit_read(void *o, uint64_t off, unsigned size)
{
    return 0;
}
static const struct bus_dev_ops exit_ops = { exit_read, exit_write };

static uint32_t i_type(int imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
    return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
#define ADDI(rd, rs1, imm) i_type(imm, rs1, 0, rd, 0x13)
#define CSRRW(rd, csr, rs1) i_type(csr, rs1, 1, rd, 0x73)
#define CSRRS(rd, csr, rs1) i_type(csr, rs1, 2, rd, 0x73)
#define LUI(rd, imm20) ((uint32_t)(imm20) << 12 | (rd) << 7 | 0x37)
#define SW_X0_X31 (31u << 15 | 2u << 12 | 0x23) /* sw x0, 0(x31) */
#define JAL_SELF 0x0000006fu
#define MSCRATCH 0x340

static void hart_create(struct inst *i)
{
    CU_ASSERT_EQUAL_FATAL(machine_init(&i->m, 1), 0);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&i->m.mem, RAM, RAM_SIZE), 0);
    i->m.ram_size = RAM_SIZE;
    CU_ASSERT_EQUAL_FATAL(bus_register(&i->m.mmio, EXIT, 0x1000, &exit_ops, i, "exit"), 0);
    struct engine_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.soft.deterministic = 1;
    CU_ASSERT_EQUAL_FATAL(engine_soft.vm_create(&i->m, &opt), 0);
    i->engine = 1;
    CU_ASSERT_EQUAL_FATAL(engine_soft.vcpu_create(&i->m, 0), 0);
    i->c = machine_find_component(&i->m, "cpu0");
    i->dev = soft_hart(&i->m, 0);
    /* The program, in every instance's RAM: phase 1 ends at the first
     * exit store, phase 2 at the second. */
    uint32_t prog[64];
    unsigned n = 0;
    prog[n++] = ADDI(1, 0, 123);
    prog[n++] = LUI(2, 0x12345);
    prog[n++] = CSRRW(0, MSCRATCH, 1);
    for (int k = 0; k < 20; k++)
        prog[n++] = ADDI(3, 3, 1);
    prog[n++] = SW_X0_X31;
    prog[n++] = ADDI(4, 0, 77);
    prog[n++] = CSRRS(5, MSCRATCH, 0);
    prog[n++] = ADDI(3, 3, 5);
    prog[n++] = SW_X0_X31;
    prog[n++] = JAL_SELF;
    memcpy(guest_mem_ptr(&i->m.mem, RAM, sizeof(prog)), prog, n * 4);
}

static void hart_destroy(struct inst *i)
{
    machine_destroy_components(&i->m);
    if (i->engine)
        engine_soft.vm_destroy(&i->m);
    machine_destroy(&i->m);
}

struct watchdog {
    struct inst *i;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

static void *watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20;
    pthread_mutex_lock(&w->lock);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0) {
            machine_set_outcome(&w->i->m, VMM_OUTCOME_CRASH, 0, "watchdog");
            engine_soft.vcpu_kick(&w->i->m, 0);
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Runs the hart on this thread until the guest's next exit store. */
static void hart_run(struct inst *i)
{
    machine_clear_outcome(&i->m);
    struct watchdog w = { i, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    pthread_t t;
    pthread_create(&t, NULL, watchdog_main, &w);
    engine_soft.vcpu_run(&i->m, 0);
    pthread_mutex_lock(&w.lock);
    w.done = 1;
    pthread_cond_signal(&w.cond);
    pthread_mutex_unlock(&w.lock);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(i->m.outcome.kind, VMM_OUTCOME_POWEROFF);
}

static void hart_drive(struct inst *i)
{
    struct rv_hart *h = i->dev;
    rv_hart_set_boot(h, RAM, 0, 0, RV_PRIV_M, 0);
    h->x[31] = EXIT;
    atomic_store(&h->mtimecmp, 5000);
    atomic_store(&h->sbi_timecmp, 7000);
    hart_run(i);
    CU_ASSERT_EQUAL(h->x[3], 20);
}

static void hart_probe(struct inst *i, struct probe_log *l)
{
    vmm_vcpu_regs_t regs;
    memset(&regs, 0, sizeof(regs));
    CU_ASSERT_EQUAL(engine_soft.vcpu_get_regs(&i->m, 0, &regs), 0);
    log_bytes(l, &regs, sizeof(regs));
    log_u64(l, rv_hart_time(i->dev));
    hart_run(i); /* phase 2, from where the saved state stopped */
    memset(&regs, 0, sizeof(regs));
    CU_ASSERT_EQUAL(engine_soft.vcpu_get_regs(&i->m, 0, &regs), 0);
    log_bytes(l, &regs, sizeof(regs));
    log_u64(l, rv_hart_time(i->dev)); /* deterministic: the same on both */
    CU_ASSERT_EQUAL(regs.gpr[5], 123);
    CU_ASSERT_EQUAL(regs.gpr[3], 25);
}

/* The messages rv_hart_load() gives for these are checked directly (test
 * "rv-hart load messages"); through the component the same messages arrive
 * (vmm_error formats through a scratch buffer, so re-quoting
 * vmm_last_error() keeps it). */
#define HART_MSG(m) (m)

/* Payload: struct rv_hart_state field by field (hart_component.c):
 * x @0, f @256, pc @512, priv @520, sbi_in_vmm @524, 18 CSRs @528
 * (mstatus first, satp @648), fflags @672, frm @676, mip_ext @680,
 * mtimecmp @688, sbi_timecmp @696, hsm_state @704, ..., instret @732,
 * mcycle/minstret offsets @740: 756 bytes. */
static int hart_damage(int n, uint8_t *p, size_t len, const char **msg)
{
    CU_ASSERT_EQUAL(len, 756);
    switch (n) {
    case 0: put_le(p + 520, 2, 4); *msg = HART_MSG("privilege 2 is not 0, 1 or 3"); return 1;
    case 1:
        put_le(p + 648, 5ULL << 60, 8);
        *msg = HART_MSG("satp mode 5 is not bare, Sv39 or Sv48");
        return 1;
    case 2: put_le(p + 704, 3, 4); *msg = HART_MSG("HSM state 3 is not 0..2"); return 1;
    case 3:
        put_le(p + 528, (get_le(p + 528, 8) & ~(3ULL << 11)) | 2ULL << 11, 8);
        *msg = HART_MSG("mstatus.MPP is the reserved value 2");
        return 1;
    case 4: put_le(p + 676, 8, 4); *msg = HART_MSG("frm 8 / fflags"); return 1;
    default: return 0;
    }
}

static const struct kind hart_kind = {
    .type = "rv-hart", .create = hart_create, .drive = hart_drive, .probe = hart_probe,
    .destroy = hart_destroy, .damage = hart_damage,
};

static void test_rv_hart(void)
{
    run_kind(&hart_kind);
}

static void test_rv_hart_load_messages(void)
{
    struct inst *i = rig_new(&hart_kind);
    struct rv_hart_state s;
    static const struct {
        int field;
        const char *msg;
    } cases[] = {
        { 0, "hart 0 state: privilege 2 is not 0, 1 or 3" },
        { 1, "hart 0 state: satp mode 5 is not bare, Sv39 or Sv48" },
        { 2, "hart 0 state: HSM state 3 is not 0..2" },
        { 3, "hart 0 state: mstatus.MPP is the reserved value 2" },
        { 4, "hart 0 state: frm 8 / fflags 0x0 out of range" },
    };
    for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        rv_hart_save(i->dev, &s);
        switch (cases[k].field) {
        case 0: s.priv = 2; break;
        case 1: s.satp = 5ULL << 60; break;
        case 2: s.hsm_state = 3; break;
        case 3: s.mstatus = (s.mstatus & ~(3ULL << 11)) | 2ULL << 11; break;
        case 4: s.frm = 8; break;
        }
        CU_ASSERT_EQUAL(rv_hart_load(i->dev, &s), VMM_EINVAL);
        CU_ASSERT_STRING_EQUAL(vmm_last_error(), cases[k].msg);
    }
    rig_free(&hart_kind, i);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "uart16550", test_uart16550 },
        { "uart16550 full receive buffer", test_uart16550_full_receive_buffer },
        { "i8042", test_i8042 },
        { "cmos", test_cmos },
        { "cmos clock follows the loaded format", test_cmos_clock_follows_the_loaded_format },
        { "acpi-pm", test_acpi_pm },
        { "debug-exit", test_debug_exit },
        { "sifive-test", test_sifive_test },
        { "clint", test_clint },
        { "plic", test_plic },
        { "rv-hart", test_rv_hart },
        { "rv-hart load messages", test_rv_hart_load_messages },
        { NULL, NULL },
    };
    return unit_main("components", tests);
}
