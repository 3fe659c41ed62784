/* SBI calls handled by the VMM, on a machine with two soft-engine harts
 * and the riscv board (created through engine_soft and rv_board_create,
 * not run): each call is made the way the
 * CPU core makes it, registers in, a0/a1 out. */
#include <string.h>

#include "arch/riscv/board.h"
#include "arch/riscv/sbi.h"
#include "backend/backend.h"
#include "backend/soft/engine.h"
#include "unit.h"

#define RAM 0x80000000ULL
#define RAM_SIZE (4ULL << 20)

static struct machine m;
static struct soft_vm *sv;
static char console[8192];
static size_t console_len;

static void on_console(void *opaque, const uint8_t *buf, size_t len)
{
    if (len > sizeof(console) - 1 - console_len)
        len = sizeof(console) - 1 - console_len;
    memcpy(console + console_len, buf, len);
    console_len += len;
    console[console_len] = '\0';
}

static const struct machine_host_ops host_ops = { .console_out = on_console };

static void setup(void)
{
    console_len = 0;
    console[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(machine_init(&m, 2), 0);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&m.mem, RAM, RAM_SIZE), 0);
    m.ram_size = RAM_SIZE;
    m.host = &host_ops;
    struct engine_options opt = { .soft.deterministic = 0 };
    CU_ASSERT_EQUAL_FATAL(engine_soft.vm_create(&m, &opt), 0);
    CU_ASSERT_EQUAL_FATAL(engine_soft.vcpu_create(&m, 0), 0);
    CU_ASSERT_EQUAL_FATAL(engine_soft.vcpu_create(&m, 1), 0);
    CU_ASSERT_EQUAL_FATAL(rv_board_create(&m, NULL), 0);
    sv = m.engine_vm;
    CU_ASSERT_PTR_NOT_NULL_FATAL(sv);
    for (unsigned i = 0; i < 2; i++)
        rv_hart_set_boot(&sv->harts[i], RAM, i, 0, RV_PRIV_S, 1);
    atomic_store(&sv->harts[1].hsm_state, SBI_HSM_STOPPED);
}

static void teardown(void)
{
    machine_destroy_components(&m);
    engine_soft.vm_destroy(&m);
    rv_board_destroy(&m);
    machine_destroy(&m);
}

struct ret {
    int64_t error, value;
};

static struct ret call(unsigned hart, uint64_t eid, uint64_t fid, uint64_t a0, uint64_t a1,
                       uint64_t a2, uint64_t a3)
{
    struct rv_hart *h = &sv->harts[hart];
    h->x[17] = eid;
    h->x[16] = fid;
    h->x[10] = a0;
    h->x[11] = a1;
    h->x[12] = a2;
    h->x[13] = a3;
    CU_ASSERT_EQUAL(sbi_call(h), 0);
    return (struct ret){ (int64_t)h->x[10], (int64_t)h->x[11] };
}

static void test_base_reports_version_ids_and_probes(void)
{
    setup();
    struct ret r = call(0, SBI_EXT_BASE, 0, 0, 0, 0, 0);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.value, 0x02000000);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_BASE, 1, 0, 0, 0, 0).value, SBI_IMPL_ID);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_BASE, 2, 0, 0, 0, 0).value, SBI_IMPL_VERSION);
    uint64_t exts[] = { SBI_EXT_TIME, SBI_EXT_IPI, SBI_EXT_RFENCE, SBI_EXT_HSM,
                        SBI_EXT_SRST, SBI_EXT_DBCN, SBI_EXT_BASE, 0x01 };
    for (unsigned i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        CU_ASSERT_EQUAL(call(0, SBI_EXT_BASE, 3, exts[i], 0, 0, 0).value, 1);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_BASE, 3, 0x504D55, 0, 0, 0).value, 0); /* PMU */
    for (unsigned fid = 4; fid <= 6; fid++) {
        r = call(0, SBI_EXT_BASE, fid, 0, 0, 0, 0);
        CU_ASSERT_EQUAL(r.error, 0);
        CU_ASSERT_EQUAL(r.value, 0);
    }
    teardown();
}

static void test_unknown_extension_or_function_is_not_supported(void)
{
    setup();
    CU_ASSERT_EQUAL(call(0, 0x0badc0de, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_BASE, 7, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_TIME, 1, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_RFENCE, 3, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 3, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    teardown();
}

static void test_set_timer_programs_the_harts_deadline(void)
{
    setup();
    CU_ASSERT_EQUAL(call(1, SBI_EXT_TIME, 0, 123456789, 0, 0, 0).error, 0);
    CU_ASSERT_EQUAL(atomic_load(&sv->harts[1].sbi_timecmp), 123456789);
    CU_ASSERT_EQUAL(atomic_load(&sv->harts[0].sbi_timecmp), UINT64_MAX);
    call(1, SBI_EXT_LEGACY_SET_TIMER, 0, 42, 0, 0, 0);
    CU_ASSERT_EQUAL(atomic_load(&sv->harts[1].sbi_timecmp), 42);
    teardown();
}

static void test_send_ipi_raises_ssip_on_the_masked_harts_only(void)
{
    setup();
    CU_ASSERT_EQUAL(call(0, SBI_EXT_IPI, 0, 0x2, 0, 0, 0).error, 0);
    CU_ASSERT(atomic_load(&sv->harts[1].mip_ext) & RV_IRQ_SSIP);
    CU_ASSERT_FALSE(atomic_load(&sv->harts[0].mip_ext) & RV_IRQ_SSIP);
    /* the mask is relative to the base */
    CU_ASSERT_EQUAL(call(1, SBI_EXT_IPI, 0, 0x1, 0, 0, 0).error, 0);
    CU_ASSERT(atomic_load(&sv->harts[0].mip_ext) & RV_IRQ_SSIP);
    teardown();
}

static void test_hart_masks_naming_missing_harts_are_invalid(void)
{
    setup();
    CU_ASSERT_EQUAL(call(0, SBI_EXT_IPI, 0, 0x1, 100, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_IPI, 0, 0x4, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_IPI, 0, 0x3, UINT64_MAX - 1, 0, 0).error,
                    SBI_ERR_INVALID_PARAM); /* base + bit wraps */
    CU_ASSERT_FALSE(atomic_load(&sv->harts[0].mip_ext) & RV_IRQ_SSIP); /* nothing sent */
    CU_ASSERT_EQUAL(call(0, SBI_EXT_RFENCE, 0, 0x8, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    /* base -1 means every hart, whatever the mask */
    CU_ASSERT_EQUAL(call(0, SBI_EXT_RFENCE, 1, 0, UINT64_MAX, 0, 0).error, 0);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_IPI, 0, 0, UINT64_MAX, 0, 0).error, 0);
    CU_ASSERT(atomic_load(&sv->harts[0].mip_ext) & RV_IRQ_SSIP);
    CU_ASSERT(atomic_load(&sv->harts[1].mip_ext) & RV_IRQ_SSIP);
    teardown();
}

static void test_hsm_starts_a_stopped_hart_once(void)
{
    setup();
    struct ret r = call(0, SBI_EXT_HSM, 2, 1, 0, 0, 0);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.value, SBI_HSM_STOPPED);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 2, 0, 0, 0, 0).value, SBI_HSM_STARTED);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 0, 1, RAM + 0x1000, 0x55, 0).error, 0);
    CU_ASSERT_EQUAL(atomic_load(&sv->harts[1].hsm_state), SBI_HSM_START_PENDING);
    CU_ASSERT_EQUAL(sv->harts[1].hsm_start_pc, RAM + 0x1000);
    CU_ASSERT_EQUAL(sv->harts[1].hsm_start_opaque, 0x55);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 0, 1, RAM, 0, 0).error, SBI_ERR_ALREADY_AVAILABLE);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 0, 0, RAM, 0, 0).error, SBI_ERR_ALREADY_AVAILABLE);
    teardown();
}

static void test_hsm_rejects_bad_harts_and_addresses(void)
{
    setup();
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 0, 7, RAM, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 2, 7, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 0, 1, 0x1000, 0, 0).error, SBI_ERR_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 0, 1, RAM + RAM_SIZE, 0, 0).error,
                    SBI_ERR_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(atomic_load(&sv->harts[1].hsm_state), SBI_HSM_STOPPED);
    teardown();
}

static void test_hsm_stop_stops_the_calling_hart(void)
{
    setup();
    CU_ASSERT_EQUAL(call(0, SBI_EXT_HSM, 1, 0, 0, 0, 0).error, 0);
    CU_ASSERT_EQUAL(atomic_load(&sv->harts[0].hsm_state), SBI_HSM_STOPPED);
    CU_ASSERT_EQUAL(call(1, SBI_EXT_HSM, 1, 0, 0, 0, 0).error, SBI_ERR_DENIED); /* already */
    teardown();
}

static void test_srst_shutdown_powers_off(void)
{
    setup();
    CU_ASSERT_EQUAL(call(0, SBI_EXT_SRST, 0, 0, 0, 0, 0).error, 0);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_POWEROFF);
    CU_ASSERT(machine_should_exit(&m));
    teardown();
}

static void test_srst_reboots_reset_and_failures_crash(void)
{
    setup();
    call(0, SBI_EXT_SRST, 0, 1, 0, 0, 0);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_RESET);
    teardown();
    setup();
    call(0, SBI_EXT_SRST, 0, 2, 0, 0, 0);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_RESET);
    teardown();
    setup();
    call(1, SBI_EXT_SRST, 0, 0, 1, 0, 0);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_CRASH);
    CU_ASSERT_PTR_NOT_NULL(strstr(m.outcome.reason, "system failure"));
    teardown();
}

static void test_srst_reserved_values_are_invalid(void)
{
    setup();
    CU_ASSERT_EQUAL(call(0, SBI_EXT_SRST, 0, 3, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_SRST, 0, 0, 2, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_SRST, 0, 0xF0000000u, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_NONE);
    teardown();
}

static void test_dbcn_writes_guest_buffers_to_the_console(void)
{
    setup();
    const char msg[] = "hello, console";
    CU_ASSERT_EQUAL(guest_mem_write(&m.mem, RAM + 0x100, msg, sizeof(msg) - 1), 0);
    struct ret r = call(0, SBI_EXT_DBCN, 0, sizeof(msg) - 1, RAM + 0x100, 0, 0);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.value, (int64_t)sizeof(msg) - 1);
    CU_ASSERT_STRING_EQUAL(console, msg);
    /* base_addr_hi holds the upper half of the address */
    r = call(0, SBI_EXT_DBCN, 0, 5, (RAM + 0x100) & 0xffffffff, (RAM + 0x100) >> 32, 0);
    CU_ASSERT_EQUAL(r.value, 5);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_DBCN, 2, '!', 0, 0, 0).error, 0);
    CU_ASSERT_STRING_EQUAL(console, "hello, consolehello!");
    teardown();
}

static void test_dbcn_buffers_outside_ram_are_refused(void)
{
    setup();
    CU_ASSERT_EQUAL(call(0, SBI_EXT_DBCN, 0, 16, 0x1000, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_DBCN, 0, 16, RAM + RAM_SIZE - 8, 0, 0).error,
                    SBI_ERR_INVALID_PARAM); /* runs off the end */
    CU_ASSERT_EQUAL(call(0, SBI_EXT_DBCN, 0, 16, 0xfffffff8, 0xffffffff, 0).error,
                    SBI_ERR_INVALID_PARAM); /* wraps */
    CU_ASSERT_EQUAL(call(0, SBI_EXT_DBCN, 1, 16, 0x1000, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CU_ASSERT_EQUAL(console_len, 0);
    teardown();
}

static void test_dbcn_long_writes_are_partial(void)
{
    setup();
    struct ret r = call(0, SBI_EXT_DBCN, 0, RAM_SIZE, RAM, 0, 0);
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.value, SBI_DBCN_MAX_CHUNK);
    r = call(0, SBI_EXT_DBCN, 1, 64, RAM, 0, 0); /* read: no input */
    CU_ASSERT_EQUAL(r.error, 0);
    CU_ASSERT_EQUAL(r.value, 0);
    teardown();
}

static void test_legacy_console_ipi_and_shutdown(void)
{
    setup();
    CU_ASSERT_EQUAL(call(0, SBI_EXT_LEGACY_PUTCHAR, 0, 'x', 0, 0, 0).error, 0);
    CU_ASSERT_STRING_EQUAL(console, "x");
    CU_ASSERT_EQUAL(call(0, SBI_EXT_LEGACY_GETCHAR, 0, 0, 0, 0, 0).error, -1);
    /* a hart mask in guest memory: hart 1 */
    uint64_t mask = 2;
    CU_ASSERT_EQUAL(guest_mem_write(&m.mem, RAM + 0x200, &mask, 8), 0);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_LEGACY_SEND_IPI, 0, RAM + 0x200, 0, 0, 0).error, 0);
    CU_ASSERT(atomic_load(&sv->harts[1].mip_ext) & RV_IRQ_SSIP);
    CU_ASSERT_FALSE(atomic_load(&sv->harts[0].mip_ext) & RV_IRQ_SSIP);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_LEGACY_SEND_IPI, 0, 0x10, 0, 0, 0).error,
                    SBI_ERR_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(call(0, SBI_EXT_LEGACY_FENCE_I, 0, 0, 0, 0, 0).error, 0); /* all */
    call(0, SBI_EXT_LEGACY_SHUTDOWN, 0, 0, 0, 0, 0);
    CU_ASSERT_EQUAL(m.outcome.kind, VMM_OUTCOME_POWEROFF);
    teardown();
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "BASE reports version, ids and probes", test_base_reports_version_ids_and_probes },
        { "unknown extension or function is NOT_SUPPORTED", test_unknown_extension_or_function_is_not_supported },
        { "set_timer programs the hart's deadline", test_set_timer_programs_the_harts_deadline },
        { "send_ipi raises SSIP on the masked harts only", test_send_ipi_raises_ssip_on_the_masked_harts_only },
        { "hart masks naming missing harts are invalid", test_hart_masks_naming_missing_harts_are_invalid },
        { "HSM starts a stopped hart once", test_hsm_starts_a_stopped_hart_once },
        { "HSM rejects bad harts and addresses", test_hsm_rejects_bad_harts_and_addresses },
        { "HSM stop stops the calling hart", test_hsm_stop_stops_the_calling_hart },
        { "SRST shutdown powers off", test_srst_shutdown_powers_off },
        { "SRST reboots reset and failures crash", test_srst_reboots_reset_and_failures_crash },
        { "SRST reserved values are invalid", test_srst_reserved_values_are_invalid },
        { "DBCN writes guest buffers to the console", test_dbcn_writes_guest_buffers_to_the_console },
        { "DBCN buffers outside RAM are refused", test_dbcn_buffers_outside_ram_are_refused },
        { "DBCN long writes are partial", test_dbcn_long_writes_are_partial },
        { "legacy console, IPI and shutdown", test_legacy_console_ipi_and_shutdown },
        { NULL, NULL },
    };
    return unit_main("riscv-sbi", tests);
}
