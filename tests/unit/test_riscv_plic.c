/* PLIC behaviour: priorities, enables, thresholds, claim/complete with
 * level-triggered sources, and the per-context output lines. */
#include <string.h>

#include "arch/riscv/plic.h"
#include "unit.h"
#include "vmm/error.h"

#define CTX_M0 0
#define CTX_S0 1
#define CTX_S1 3

static int out[4];
static int changes;

static void set_output(void *o, unsigned ctx, int level)
{
    out[ctx] = level;
    changes++;
}

static struct plic p;
static const struct bus_dev_ops *b = &plic_bus_ops;

static void w32(uint64_t off, uint32_t v)
{
    b->write(&p, off, 4, v);
}
static uint32_t r32(uint64_t off)
{
    return (uint32_t)b->read(&p, off, 4);
}
static void enable(unsigned ctx, unsigned irq)
{
    uint64_t off = 0x2000 + 0x80 * ctx + 4 * (irq / 32);
    w32(off, r32(off) | 1u << (irq % 32));
}
static uint32_t claim(unsigned ctx)
{
    return r32(0x200004 + 0x1000 * ctx);
}
static void complete(unsigned ctx, uint32_t irq)
{
    w32(0x200004 + 0x1000 * ctx, irq);
}

static void setup(void)
{
    memset(out, 0, sizeof(out));
    changes = 0;
    CU_ASSERT_EQUAL_FATAL(plic_init(&p, 4, set_output, NULL), 0);
}

static void test_disabled_source_raises_nothing(void)
{
    setup();
    w32(4 * 10, 1);
    CU_ASSERT_EQUAL(plic_set_irq(&p, 10, 1), 0);
    CU_ASSERT_EQUAL(out[CTX_S0], 0);
    CU_ASSERT_EQUAL(r32(0x1000), 1u << 10); /* pending all the same */
    plic_destroy(&p);
}

static void test_enabled_source_raises_only_its_context(void)
{
    setup();
    w32(4 * 10, 1);
    enable(CTX_S0, 10);
    plic_set_irq(&p, 10, 1);
    CU_ASSERT_EQUAL(out[CTX_S0], 1);
    CU_ASSERT_EQUAL(out[CTX_M0], 0);
    CU_ASSERT_EQUAL(out[CTX_S1], 0);
    plic_destroy(&p);
}

static void test_priority_zero_never_interrupts(void)
{
    setup();
    enable(CTX_S0, 10);
    plic_set_irq(&p, 10, 1);
    CU_ASSERT_EQUAL(out[CTX_S0], 0);
    CU_ASSERT_EQUAL(claim(CTX_S0), 0);
    plic_destroy(&p);
}

static void test_threshold_masks_lower_priorities(void)
{
    setup();
    w32(4 * 5, 3);
    enable(CTX_S0, 5);
    w32(0x201000, 3); /* context 1 threshold */
    CU_ASSERT_EQUAL(r32(0x201000), 3);
    plic_set_irq(&p, 5, 1);
    CU_ASSERT_EQUAL(out[CTX_S0], 0);
    w32(0x201000, 2);
    CU_ASSERT_EQUAL(out[CTX_S0], 1);
    plic_destroy(&p);
}

static void test_claim_returns_highest_priority_then_lowest_id(void)
{
    setup();
    w32(4 * 3, 2);
    w32(4 * 7, 5);
    w32(4 * 40, 5);
    enable(CTX_S0, 3);
    enable(CTX_S0, 7);
    enable(CTX_S0, 40);
    plic_set_irq(&p, 3, 1);
    plic_set_irq(&p, 40, 1);
    plic_set_irq(&p, 7, 1);
    CU_ASSERT_EQUAL(claim(CTX_S0), 7);
    CU_ASSERT_EQUAL(claim(CTX_S0), 40);
    CU_ASSERT_EQUAL(claim(CTX_S0), 3);
    CU_ASSERT_EQUAL(claim(CTX_S0), 0);
    CU_ASSERT_EQUAL(out[CTX_S0], 0);
    plic_destroy(&p);
}

static void test_level_source_repends_after_complete_while_high(void)
{
    setup();
    w32(4 * 10, 1);
    enable(CTX_S0, 10);
    plic_set_irq(&p, 10, 1);
    CU_ASSERT_EQUAL(claim(CTX_S0), 10);
    CU_ASSERT_EQUAL(out[CTX_S0], 0); /* in service: not pending */
    CU_ASSERT_EQUAL(r32(0x1000), 0);
    complete(CTX_S0, 10);
    CU_ASSERT_EQUAL(out[CTX_S0], 1); /* the line is still high */
    CU_ASSERT_EQUAL(claim(CTX_S0), 10);
    plic_set_irq(&p, 10, 0);
    complete(CTX_S0, 10);
    CU_ASSERT_EQUAL(out[CTX_S0], 0);
    CU_ASSERT_EQUAL(claim(CTX_S0), 0);
    plic_destroy(&p);
}

static void test_lowering_the_line_withdraws_the_interrupt(void)
{
    setup();
    w32(4 * 10, 1);
    enable(CTX_M0, 10);
    plic_set_irq(&p, 10, 1);
    CU_ASSERT_EQUAL(out[CTX_M0], 1);
    plic_set_irq(&p, 10, 0);
    CU_ASSERT_EQUAL(out[CTX_M0], 0);
    CU_ASSERT_EQUAL(claim(CTX_M0), 0);
    plic_destroy(&p);
}

static void test_complete_of_a_source_not_enabled_is_ignored(void)
{
    setup();
    w32(4 * 10, 1);
    enable(CTX_S0, 10);
    plic_set_irq(&p, 10, 1);
    CU_ASSERT_EQUAL(claim(CTX_S0), 10);
    complete(CTX_S1, 10); /* context 3 does not enable 10 */
    CU_ASSERT_EQUAL(out[CTX_S0], 0);
    complete(CTX_S0, 10);
    CU_ASSERT_EQUAL(out[CTX_S0], 1);
    plic_destroy(&p);
}

static void test_registers_keep_their_widths(void)
{
    setup();
    w32(4 * 1, 0xffffffff);
    CU_ASSERT_EQUAL(r32(4 * 1), 7);
    w32(0x2000, 0xffffffff); /* source 0 cannot be enabled */
    CU_ASSERT_EQUAL(r32(0x2000), 0xfffffffe);
    w32(0x1000, 0xffffffff); /* pending is read-only */
    CU_ASSERT_EQUAL(r32(0x1000), 0);
    CU_ASSERT_EQUAL(b->read(&p, 4, 8), 0); /* only 32-bit accesses */
    plic_destroy(&p);
}

static void test_out_of_range_accesses_are_harmless(void)
{
    setup();
    w32(0x2000 + 0x80 * 4, 0xffffffff);   /* context 4 does not exist */
    w32(0x200000 + 0x1000 * 200, 1);
    CU_ASSERT_EQUAL(r32(0x200004 + 0x1000 * 4), 0);
    CU_ASSERT_EQUAL(r32(4 * 96), 0);
    CU_ASSERT_EQUAL(plic_set_irq(&p, 0, 1), VMM_EINVAL);
    CU_ASSERT_EQUAL(plic_set_irq(&p, 96, 1), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "96"));
    CU_ASSERT_EQUAL(changes, 0);
    plic_destroy(&p);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "disabled source raises nothing", test_disabled_source_raises_nothing },
        { "enabled source raises only its context", test_enabled_source_raises_only_its_context },
        { "priority zero never interrupts", test_priority_zero_never_interrupts },
        { "threshold masks lower priorities", test_threshold_masks_lower_priorities },
        { "claim returns highest priority then lowest id", test_claim_returns_highest_priority_then_lowest_id },
        { "level source re-pends after complete while high", test_level_source_repends_after_complete_while_high },
        { "lowering the line withdraws the interrupt", test_lowering_the_line_withdraws_the_interrupt },
        { "complete of a source not enabled is ignored", test_complete_of_a_source_not_enabled_is_ignored },
        { "registers keep their widths", test_registers_keep_their_widths },
        { "out-of-range accesses are harmless", test_out_of_range_accesses_are_harmless },
        { NULL, NULL },
    };
    return unit_main("riscv-plic", tests);
}
