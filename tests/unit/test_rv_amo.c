/* The A extension on the soft engine's CPU core: AMO semantics, LR/SC,
 * alignment rules, and atomicity across two harts on two host threads. */
#include <stdio.h>
#include <unistd.h>

#include "rv_rig.h"

#define DATA (RAM_BASE + 0x10000)
#define HANDLER (RAM_BASE + 0x1000)

static void test_amo_operations_return_old_value_and_update_memory(void)
{
    struct rig r;
    rig_init(&r);
    static const struct {
        unsigned f5, f3;
        uint64_t mem, src, want_rd, want_mem;
    } cases[] = {
        { 0x00, 3, 5, 7, 5, 12 },                                   /* amoadd.d */
        { 0x01, 3, 5, 7, 5, 7 },                                    /* amoswap.d */
        { 0x0c, 3, 0xff, 0x0f, 0xff, 0x0f },                        /* amoand.d */
        { 0x08, 3, 0xf0, 0x0f, 0xf0, 0xff },                        /* amoor.d */
        { 0x04, 3, 0xff, 0x0f, 0xff, 0xf0 },                        /* amoxor.d */
        { 0x10, 3, (uint64_t)-5, 3, (uint64_t)-5, (uint64_t)-5 },   /* amomin.d */
        { 0x14, 3, (uint64_t)-5, 3, (uint64_t)-5, 3 },              /* amomax.d */
        { 0x18, 3, (uint64_t)-5, 3, (uint64_t)-5, 3 },              /* amominu.d */
        { 0x1c, 3, (uint64_t)-5, 3, (uint64_t)-5, (uint64_t)-5 },   /* amomaxu.d */
        { 0x00, 2, 0x7fffffff, 1, 0x7fffffff, 0x80000000 },         /* amoadd.w */
        { 0x10, 2, 0x80000000, 1, 0xffffffff80000000ULL, 0x80000000 }, /* amomin.w */
        { 0x1c, 2, 0x80000000, 1, 0xffffffff80000000ULL, 0x80000000 }, /* amomaxu.w */
    };
    int n = (int)(sizeof(cases) / sizeof(cases[0]));
    for (int i = 0; i < n; i++)
        put64(&r, DATA + (uint64_t)i * 16, cases[i].mem);
    /* Build the program: for each case, set x1 from x10 + 16*i and run it. */
    r.at = RAM_BASE;
    r.h.x[10] = DATA;
    for (int i = 0; i < n; i++) {
        emit32(&r, ADDI(1, 10, i * 16));
        emit32(&r, LD(2, 11, i * 8));   /* src from a table at x11 */
        emit32(&r, AMO(cases[i].f5, cases[i].f3, 12 + i, 1, 2));
    }
    emit_exit(&r);
    uint64_t table = DATA + 0x1000;
    r.h.x[11] = table;
    for (int i = 0; i < n; i++)
        put64(&r, table + (uint64_t)i * 8, cases[i].src);
    rig_run(&r);
    for (int i = 0; i < n; i++) {
        uint64_t addr = DATA + (uint64_t)i * 16;
        uint64_t mem = cases[i].f3 == 3 ? get64(&r, addr) : (uint32_t)get64(&r, addr);
        CU_ASSERT_EQUAL(r.h.x[12 + i], cases[i].want_rd);
        CU_ASSERT_EQUAL(mem, cases[i].want_mem);
        if (r.h.x[12 + i] != cases[i].want_rd || mem != cases[i].want_mem)
            fprintf(stderr, "  case %d: rd 0x%llx mem 0x%llx\n", i,
                    (unsigned long long)r.h.x[12 + i], (unsigned long long)mem);
    }
    rig_destroy(&r);
}

static void test_lr_sc_pair_succeeds(void)
{
    struct rig r;
    rig_init(&r);
    put64(&r, DATA, 10);
    r.h.x[1] = DATA;
    r.h.x[2] = 99;
    emit32(&r, AMO(0x02, 3, 3, 1, 0)); /* lr.d x3, (x1) */
    emit32(&r, AMO(0x03, 3, 4, 1, 2)); /* sc.d x4, x2, (x1) */
    emit32(&r, AMO(0x03, 3, 5, 1, 2)); /* a second sc fails: no reservation */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[3], 10);
    CU_ASSERT_EQUAL(r.h.x[4], 0);
    CU_ASSERT_EQUAL(r.h.x[5], 1);
    CU_ASSERT_EQUAL(get64(&r, DATA), 99);
    rig_destroy(&r);
}

static void test_sc_fails_after_the_word_changed(void)
{
    struct rig r;
    rig_init(&r);
    put64(&r, DATA, 0xffffffff00000010ULL);
    r.h.x[1] = DATA;
    r.h.x[2] = 99;
    r.h.x[6] = 11;
    emit32(&r, AMO(0x02, 2, 3, 1, 0)); /* lr.w x3: sign-extended 0x10 */
    emit32(&r, SW(6, 1, 0));           /* an intervening store */
    emit32(&r, AMO(0x03, 2, 4, 1, 2)); /* sc.w fails */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[3], 0x10);
    CU_ASSERT_EQUAL(r.h.x[4], 1);
    CU_ASSERT_EQUAL((uint32_t)get64(&r, DATA), 11);
    CU_ASSERT_EQUAL(get64(&r, DATA) >> 32, 0xffffffffULL); /* sc.w touches 4 bytes only */
    rig_destroy(&r);
}

static void test_misaligned_amo_raises_address_misaligned(void)
{
    struct rig r;
    rig_init(&r);
    rv_cpu(&r.h)->mtvec = HANDLER;
    uint64_t save = r.at;
    r.at = HANDLER;
    emit_exit(&r);
    r.at = save;
    r.h.x[1] = DATA + 4;
    emit32(&r, AMO(0x00, 3, 3, 1, 2)); /* amoadd.d at +4 */
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_STORE_MISALIGNED);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mtval, DATA + 4);
    rig_destroy(&r);

    rig_init(&r);
    rv_cpu(&r.h)->mtvec = HANDLER;
    r.at = HANDLER;
    emit_exit(&r);
    r.at = RAM_BASE;
    r.h.x[1] = DATA + 2;
    emit32(&r, AMO(0x02, 2, 3, 1, 0)); /* lr.w at +2 */
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_LOAD_MISALIGNED);
    rig_destroy(&r);
}

struct two {
    struct machine m;
    struct rv_hart h[2];
};

static void *hart_thread(void *arg)
{
    rv_hart_run(arg);
    return NULL;
}

static void two_harts_run(const uint32_t *code, int ncode, uint64_t *counter, uint64_t *counter2)
{
    static struct two t;
    memset(&t, 0, sizeof(t));
    CU_ASSERT_FATAL(machine_init(&t.m, 2) == 0);
    CU_ASSERT_FATAL(guest_mem_add_ram(&t.m.mem, RAM_BASE, RAM_SIZE) == 0);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_FATAL(rv_hart_init(&t.h[i], &t.m, (unsigned)i, NULL) == 0);
        rv_hart_set_boot(&t.h[i], RAM_BASE, 0, 0, RV_PRIV_M, 0);
        t.h[i].x[1] = DATA;
        t.h[i].x[2] = 200000; /* iterations */
        t.h[i].x[7] = DATA + 64; /* done counter */
    }
    memcpy(guest_mem_ptr(&t.m.mem, RAM_BASE, 4096), code, (size_t)ncode * 4);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, hart_thread, &t.h[i]);
    /* wait until both harts bumped the done counter */
    uint64_t *done = guest_mem_ptr(&t.m.mem, DATA + 64, 8);
    for (int i = 0; i < 20000 && __atomic_load_n(done, __ATOMIC_SEQ_CST) < 2; i++)
        usleep(1000);
    machine_set_outcome(&t.m, VMM_OUTCOME_STOPPED, 0, "done");
    for (int i = 0; i < 2; i++) {
        rv_hart_kick(&t.h[i]);
        pthread_join(th[i], NULL);
    }
    *counter = *(uint64_t *)guest_mem_ptr(&t.m.mem, DATA, 8);
    *counter2 = *done;
    for (int i = 0; i < 2; i++)
        rv_hart_destroy(&t.h[i]);
    machine_destroy(&t.m);
}

static void test_amoadd_is_atomic_across_two_harts(void)
{
    uint32_t code[] = {
        ADDI(3, 0, 1),
        AMO(0x00, 3, 0, 1, 3),  /* loop: amoadd.d x0, x3, (x1) */
        ADDI(2, 2, -1),
        enc_b(-8, 0, 2, 1),     /* bne x2, x0, loop */
        AMO(0x00, 3, 0, 7, 3),  /* done++ */
        WFI,
        enc_j(-4, 0),
    };
    uint64_t counter, done;
    two_harts_run(code, (int)(sizeof(code) / 4), &counter, &done);
    CU_ASSERT_EQUAL(done, 2);
    CU_ASSERT_EQUAL(counter, 400000);
}

static void test_lr_sc_loop_is_atomic_across_two_harts(void)
{
    uint32_t code[] = {
        AMO(0x02, 3, 4, 1, 0),  /* loop: lr.d x4, (x1) */
        ADDI(4, 4, 1),
        AMO(0x03, 3, 5, 1, 4),  /* sc.d x5, x4, (x1) */
        enc_b(-12, 0, 5, 1),    /* bnez x5, loop */
        ADDI(2, 2, -1),
        enc_b(-20, 0, 2, 1),    /* bnez x2, loop */
        ADDI(3, 0, 1),
        AMO(0x00, 3, 0, 7, 3),  /* done++ */
        WFI,
        enc_j(-4, 0),
    };
    uint64_t counter, done;
    two_harts_run(code, (int)(sizeof(code) / 4), &counter, &done);
    CU_ASSERT_EQUAL(done, 2);
    CU_ASSERT_EQUAL(counter, 400000);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "AMO operations return old value and update memory", test_amo_operations_return_old_value_and_update_memory },
        { "LR/SC pair succeeds", test_lr_sc_pair_succeeds },
        { "SC fails after the word changed", test_sc_fails_after_the_word_changed },
        { "misaligned AMO raises address misaligned", test_misaligned_amo_raises_address_misaligned },
        { "amoadd is atomic across two harts", test_amoadd_is_atomic_across_two_harts },
        { "LR/SC loop is atomic across two harts", test_lr_sc_loop_is_atomic_across_two_harts },
        { NULL, NULL },
    };
    return unit_main("rv_amo", tests);
}
