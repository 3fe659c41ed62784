/* The translator against the interpreter (rv_diff.h): random programs with
 * fixed seeds must leave identical state on both; and targeted cases of
 * what translated code must get exactly right (precise traps mid-block,
 * stores into the running block, the instruction budget of a tight loop).
 */
#include "rv_diff.h"

#include "backend/soft/jit/jit.h"

#define PROGRAMS 400
#define ITEMS 300

static void test_random_programs_match_the_interpreter(void)
{
    char buf[256];
    unsigned failed = 0;
    for (unsigned seed = 1; seed <= PROGRAMS; seed++) {
        struct diff_src g = { NULL, 0, 0, 0x9e3779b97f4a7c15ULL * seed };
        const char *why = diff_one(&g, ITEMS, buf, sizeof(buf));
        if (why) {
            if (failed++ < 5)
                fprintf(stderr, "  seed %u: %s\n", seed, why);
        }
    }
    CU_ASSERT_EQUAL(failed, 0);
}

/* The tester is only worth something if the translator really runs. */
static void test_the_translator_runs_the_programs(void)
{
    if (!rv_jit_supported())
        return; /* not an x86-64 host: both sides interpret */
    static struct diff_prog p;
    static struct rig r;
    struct diff_src g = { NULL, 0, 0, 12345 };
    diff_generate(&g, &p, ITEMS);
    diff_rig(&r, &p, 1);
    diff_run(&r);
    struct rv_jit_stats st;
    rv_jit_get_stats(&r.h, &st);
    CU_ASSERT(st.blocks > 10);
    CU_ASSERT(st.code_bytes > 0);
    rig_destroy(&r);
}

/* A load fault in the middle of a block: the handler sees that load's pc
 * and exactly the instructions before it as retired. */
static void test_fault_mid_block_is_precise(void)
{
    for (int jit = 0; jit <= 1; jit++) {
        struct rig r;
        rig_init(&r);
        r.h.jit = jit ? 2 : 0;
        rv_cpu(&r.h)->mtvec = RAM_BASE + 0x1000;
        r.h.x[5] = 0x1234; /* no memory there */
        emit32(&r, ADDI(1, 0, 7));
        emit32(&r, ADDI(1, 1, 1));
        emit32(&r, LD(2, 5, 0)); /* faults: pc RAM_BASE + 8, 2 retired */
        emit32(&r, ADDI(1, 1, 100));
        r.at = RAM_BASE + 0x1000;
        emit32(&r, CSRRS(3, 0x341, 0)); /* mepc */
        emit32(&r, CSRRS(4, 0xb02, 0)); /* minstret */
        emit_exit(&r);
        rig_run(&r);
        CU_ASSERT_EQUAL(r.h.x[1], 8);
        CU_ASSERT_EQUAL(r.h.x[3], RAM_BASE + 8);
        CU_ASSERT_EQUAL(r.h.x[4], 3); /* the two before the fault, and the csrr of mepc */
        CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_LOAD_ACCESS);
        rig_destroy(&r);
    }
}

/* A store that rewrites the next instruction of the block being run: the
 * new instruction runs, not the translation of the old one. */
static void test_store_into_the_running_block_takes_effect(void)
{
    for (int jit = 0; jit <= 1; jit++) {
        struct rig r;
        rig_init(&r);
        r.h.jit = jit ? 2 : 0;
        r.h.x[6] = ADDI(7, 7, 40); /* the new instruction */
        r.h.x[8] = RAM_BASE + 12;  /* where it goes */
        emit32(&r, ADDI(7, 0, 2));
        emit32(&r, ADDI(7, 7, 0));
        emit32(&r, SW(6, 8, 0));
        emit32(&r, ADDI(7, 7, 1)); /* replaced before it runs */
        emit_exit(&r);
        rig_run(&r);
        CU_ASSERT_EQUAL(r.h.x[7], 42);
        rig_destroy(&r);
    }
}

/* A tight loop (one block chained to itself) still returns to the run
 * loop: a pause or stop request set from outside ends it. */
static void *stop_later(void *arg)
{
    struct rig *r = arg;
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    machine_set_outcome(&r->m, VMM_OUTCOME_POWEROFF, 0, "stopped from outside");
    rv_hart_kick(&r->h);
    return NULL;
}

static void test_tight_loop_honours_a_stop_request(void)
{
    struct rig r;
    rig_init(&r);
    emit32(&r, ADDI(1, 1, 1));
    emit32(&r, enc_j(-4, 0)); /* j back to the addi, forever */
    pthread_t t;
    pthread_create(&t, NULL, stop_later, &r);
    rig_run(&r);
    pthread_join(t, NULL);
    CU_ASSERT(r.h.x[1] > 1000);
    CU_ASSERT(r.h.pc == RAM_BASE || r.h.pc == RAM_BASE + 4);
    /* every iteration retired both instructions, and the count says so */
    uint64_t n = r.h.vcpu->stats.instructions;
    CU_ASSERT(n == 2 * r.h.x[1] || n == 2 * r.h.x[1] - 1);
    rig_destroy(&r);
}

/* Deterministic mode: a run slice ends after exactly 4096 instructions
 * (where interrupts are taken), whatever is translated: here a 3-instruction
 * loop, which 4096 does not divide, from cold and from hot code. */
static void test_deterministic_slices_are_exact(void)
{
    if (!rv_jit_supported())
        return;
    for (int jit = 1; jit <= 2; jit++) {
        struct rig r;
        rig_init(&r);
        r.h.jit = jit;
        r.h.deterministic = 1;
        emit32(&r, ADDI(1, 1, 1));
        emit32(&r, ADDI(2, 2, 2));
        emit32(&r, enc_j(-8, 0));
        for (int slice = 1; slice <= 3; slice++) {
            rv_exec(&r.h);
            CU_ASSERT_EQUAL(r.h.vcpu->stats.instructions, 4096u * (unsigned)slice);
        }
        rig_destroy(&r);
    }
}

/* A "DMA" device for the next tests: a write of v stores v, an
 * instruction, into guest RAM at RAM_BASE + 0x100 straight through the
 * host mapping, as a device does, unseen by the hart's store path; the
 * device says so (guest_mem_note_foreign_write), as virtio queues do when
 * they hand a buffer back. Only a fence.i makes the hart see the new
 * instruction. A write of 0 writes nothing. */
static uint64_t dma_read(void *o, uint64_t off, unsigned size)
{
    return 0;
}

static void dma_write(void *o, uint64_t off, unsigned size, uint64_t v)
{
    struct rig *r = o;
    uint32_t insn = (uint32_t)v;
    if (!insn)
        return;
    guest_mem_note_foreign_write(&r->m.mem);
    memcpy(guest_mem_ptr(&r->m.mem, RAM_BASE + 0x100, 4), &insn, 4);
}

static const struct bus_dev_ops dma_ops = { dma_read, dma_write };

/* Code rewritten behind the hart's back after its blocks were chained
 * together: the fence.i that follows unlinks the chains, so the jump into
 * the rewritten block runs the new instruction and not the old
 * translation. */
static void test_fence_i_unlinks_chains_into_rewritten_code(void)
{
    for (int jit = 0; jit <= 2; jit += 2) {
        struct rig r;
        rig_init(&r);
        r.h.jit = jit;
        CU_ASSERT_FATAL(bus_register(&r.m.mmio, EXIT_ADDR + 0x1000, 0x1000, &dma_ops, &r, "dma") == 0);
        r.h.x[9] = EXIT_ADDR + 0x1000;
        r.h.x[6] = ADDI(2, 2, 10); /* the rewrite */
        emit32(&r, ADDI(5, 0, 3));      /* 0x00: three rounds */
        emit32(&r, enc_j(0xfc, 0));     /* 0x04: loop: j B (0x100) */
        emit32(&r, ADDI(5, 5, -1));     /* 0x08: C */
        emit32(&r, enc_b(-8, 0, 5, 1)); /* 0x0c: bne x5, x0, loop */
        emit32(&r, enc_b(24, 0, 7, 1)); /* 0x10: bne x7, x0, done */
        emit32(&r, ADDI(7, 0, 1));      /* 0x14: second phase */
        emit32(&r, SW(6, 9, 0));        /* 0x18: the device rewrites B */
        emit32(&r, 0x0000100fu);        /* 0x1c: fence.i */
        emit32(&r, ADDI(5, 0, 3));      /* 0x20 */
        emit32(&r, enc_j(-32, 0));      /* 0x24: j loop */
        emit_exit(&r);                  /* 0x28: done */
        r.at = RAM_BASE + 0x100;
        emit32(&r, ADDI(2, 2, 1));      /* 0x100: B */
        emit32(&r, enc_j(-0xfc, 0));    /* 0x104: j C */
        rig_run(&r);
        CU_ASSERT_EQUAL(r.h.x[2], 3 * 1 + 3 * 10);
        if (jit) {
            struct rv_jit_stats st;
            rv_jit_get_stats(&r.h, &st);
            CU_ASSERT(st.chain_patches > 0); /* the jump into B was linked */
            CU_ASSERT(st.unchains > 0);
        }
        CU_ASSERT_EQUAL(rv_cpu(&r.h)->fences_kept, 0);
        rig_destroy(&r);
    }
}

/* The same program with a device write that changes nothing and a hart
 * that rewrites B itself: its own store drops the old translation at once,
 * and the fence.i after it (nothing foreign written since the last flush)
 * keeps every other translation and decoded page. */
static void test_fence_i_after_own_stores_keeps_translations(void)
{
    for (int jit = 0; jit <= 2; jit += 2) {
        struct rig r;
        rig_init(&r);
        r.h.jit = jit;
        r.h.x[6] = ADDI(2, 2, 10);
        r.h.x[8] = RAM_BASE + 0x100;
        emit32(&r, ADDI(5, 0, 3));      /* 0x00 */
        emit32(&r, enc_j(0xfc, 0));     /* 0x04: loop: j B */
        emit32(&r, ADDI(5, 5, -1));     /* 0x08: C */
        emit32(&r, enc_b(-8, 0, 5, 1)); /* 0x0c: bne x5, x0, loop */
        emit32(&r, enc_b(24, 0, 7, 1)); /* 0x10: bne x7, x0, done */
        emit32(&r, ADDI(7, 0, 1));      /* 0x14 */
        emit32(&r, SW(6, 8, 0));        /* 0x18: the hart rewrites B */
        emit32(&r, 0x0000100fu);        /* 0x1c: fence.i */
        emit32(&r, ADDI(5, 0, 3));      /* 0x20 */
        emit32(&r, enc_j(-32, 0));      /* 0x24: j loop */
        emit_exit(&r);                  /* 0x28 */
        r.at = RAM_BASE + 0x100;
        emit32(&r, ADDI(2, 2, 1));      /* 0x100: B */
        emit32(&r, enc_j(-0xfc, 0));    /* 0x104: j C */
        /* the loader's writes are foreign: a first fence.i drops all */
        rv_cpu(&r.h)->fence_foreign = guest_mem_foreign_writes(&r.m.mem);
        rig_run(&r);
        CU_ASSERT_EQUAL(r.h.x[2], 3 * 1 + 3 * 10);
        CU_ASSERT_EQUAL(rv_cpu(&r.h)->fences_kept, 1);
        if (jit) {
            struct rv_jit_stats st;
            rv_jit_get_stats(&r.h, &st);
            CU_ASSERT_EQUAL(st.unchains, 0);
            CU_ASSERT(st.invalidations > 0); /* B went at the store */
        }
        rig_destroy(&r);
    }
}

/* Registers kept in host registers across chained blocks: A and B jump to
 * each other, B leaves x1, x3 and x7 where A's entry loads would put them
 * (so the link enters A past its loads; A does not leave x9 where B wants
 * it, so that link must not), and A's load faults after 3000
 * rounds (address RAM end), crossing budget slices on the way. The
 * handler, and the state at the end, see exactly the interpreter's
 * registers, pc and instruction count, in every mode. */
static void run_chained_pair(struct rig *r, int jit, int deterministic)
{
    rig_init(r);
    r->h.jit = jit;
    r->h.deterministic = deterministic;
    rv_cpu(&r->h)->mtvec = RAM_BASE + 0x1000;
    r->h.x[7] = RAM_BASE + RAM_SIZE - 3000 * 8;
    r->h.x[9] = 5;
    emit32(r, enc_j(0x08, 0));         /* 0x00: j A */
    r->at = RAM_BASE + 0x08;
    emit32(r, ADDI(1, 1, 1));          /* 0x08: A */
    emit32(r, enc_i(3, 1, 1, 6, 0x13)); /* 0x0c: slli x6, x1, 3 */
    emit32(r, OP(0, 0, 6, 6, 7));      /* 0x10: add x6, x6, x7 */
    emit32(r, LD(2, 6, 0));            /* 0x14: faults once x1 = 3000 */
    emit32(r, OP(0, 0, 3, 3, 1));      /* 0x18: add x3, x3, x1 */
    emit32(r, enc_j(0x40 - 0x1c, 0));  /* 0x1c: j B */
    r->at = RAM_BASE + 0x40;
    emit32(r, OP(0x20, 0, 5, 3, 1));   /* 0x40: B: sub x5, x3, x1 */
    emit32(r, OP(0, 0, 5, 5, 9));      /* 0x44: add x5, x5, x9 (A leaves x2 where x9 goes) */
    emit32(r, OP(0, 0, 5, 5, 7));      /* 0x48: add x5, x5, x7 */
    emit32(r, enc_j(0x08 - 0x4c, 0));  /* 0x4c: j A */
    r->at = RAM_BASE + 0x1000;
    emit32(r, CSRRS(10, 0x341, 0));    /* mepc */
    emit32(r, CSRRS(11, 0xb02, 0));    /* minstret */
    emit_exit(r);
    rig_run(r);
}

static void test_registers_across_chained_blocks_are_exact(void)
{
    static struct rig ref, r;
    run_chained_pair(&ref, 0, 0);
    CU_ASSERT_EQUAL(ref.h.x[1], 3000);
    CU_ASSERT_EQUAL(ref.h.x[3], 2999u * 3000u / 2u);
    CU_ASSERT_EQUAL(ref.h.x[10], RAM_BASE + 0x14);
    CU_ASSERT_EQUAL(ref.h.x[5], 2998u * 2999u / 2u + 5u + ref.h.x[7]);
    for (int mode = 0; mode < 4; mode++) {
        run_chained_pair(&r, mode & 1 ? 2 : 1, mode >> 1);
        for (int i = 1; i < 32; i++)
            CU_ASSERT_EQUAL(r.h.x[i], ref.h.x[i]);
        CU_ASSERT_EQUAL(r.h.vcpu->stats.instructions, ref.h.vcpu->stats.instructions);
        CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_LOAD_ACCESS);
        if (rv_jit_supported()) {
            struct rv_jit_stats st;
            rv_jit_get_stats(&r.h, &st);
            CU_ASSERT(st.fast_links > 0); /* B -> A kept the registers */
        }
        rig_destroy(&r);
    }
    rig_destroy(&ref);
}

/* Stores put off within a run of pure instructions (a register written
 * again before anything can look at h->x): a span that rewrites registers
 * while more of them are live than the host has registers for (so some
 * put-off values are evicted), then a faulting load, then the handler:
 * every register as the interpreter leaves it. */
static void run_rewrites(struct rig *r, int jit)
{
    rig_init(r);
    r->h.jit = jit;
    rv_cpu(&r->h)->mtvec = RAM_BASE + 0x1000;
    r->h.x[20] = 0x1234; /* no memory there */
    for (unsigned i = 1; i <= 9; i++)
        emit32(r, ADDI(i, 0, (int)(i * 3)));       /* x1..x9 = 3i */
    for (unsigned i = 1; i <= 9; i++) {
        emit32(r, OP(0, 0, i, i, i % 9 + 1));      /* xi += x(i+1) */
        emit32(r, enc_i(5, i, 1, i, 0x13));        /* xi <<= 5 */
        emit32(r, OP(0, 4, 10, 10, i));            /* x10 ^= xi */
    }
    emit32(r, LD(11, 20, 0));                      /* faults */
    emit32(r, ADDI(1, 0, 0));
    r->at = RAM_BASE + 0x1000;
    emit32(r, CSRRS(12, 0x341, 0));
    emit_exit(r);
    rig_run(r);
}

static void test_put_off_stores_are_exact(void)
{
    static struct rig ref, r;
    run_rewrites(&ref, 0);
    CU_ASSERT_EQUAL(ref.h.x[12], RAM_BASE + 36 * 4); /* the load */
    for (int jit = 1; jit <= 2; jit++) {
        run_rewrites(&r, jit);
        for (int i = 1; i < 32; i++)
            CU_ASSERT_EQUAL(r.h.x[i], ref.h.x[i]);
        rig_destroy(&r);
    }
    rig_destroy(&ref);
}

/* Loads and stores whose TLB entries keep evicting each other (two
 * pages 256 pages apart share a set: every access takes the slow path,
 * through the shared code of cache.c) in a loop that keeps more guest
 * registers live than the host holds: every register, the stores' data
 * and the instruction count as the interpreter leaves them. The slow
 * path keeps the guest registers that live in caller-saved host
 * registers and reloads only a load's rd. */
static void run_slow_paths(struct rig *r, int jit)
{
    rig_init(r);
    r->h.jit = jit;
    uint64_t a = RAM_BASE + 0x100000, b = a + (uint64_t)RV_TLB_SIZE * 4096;
    r->h.x[20] = a;
    r->h.x[21] = b;
    for (unsigned i = 1; i <= 7; i++)
        emit32(r, ADDI(i, 0, (int)(i * 11)));
    emit32(r, ADDI(8, 0, 200)); /* past the hot threshold (64) */
    uint64_t loop = r->at;
    emit32(r, SD(1, 20, 0));           /* misses: b's entry holds the set */
    emit32(r, SD(2, 21, 8));           /* misses: a's */
    emit32(r, LD(9, 20, 0));
    emit32(r, LD(10, 21, 8));
    emit32(r, OP(0, 0, 3, 3, 9));      /* x3 += x9 */
    emit32(r, OP(0, 0, 4, 4, 10));     /* x4 += x10 */
    emit32(r, OP(0, 4, 5, 5, 3));      /* x5 ^= x3 */
    emit32(r, OP(0, 0, 6, 6, 1));      /* x6 += x1 */
    emit32(r, OP(0x20, 0, 7, 7, 2));   /* x7 -= x2 */
    emit32(r, LW(11, 21, 8));          /* rd cached afterwards */
    emit32(r, OP(0, 0, 11, 11, 6));
    emit32(r, SW(11, 20, 16));
    emit32(r, ADDI(1, 1, 1));
    emit32(r, ADDI(2, 2, 3));
    emit32(r, ADDI(8, 8, -1));
    emit32(r, enc_b((int)(loop - r->at), 0, 8, 1)); /* bne x8, x0, loop */
    emit_exit(r);
    rig_run(r);
}

static void test_registers_survive_the_slow_paths(void)
{
    static struct rig ref, r;
    run_slow_paths(&ref, 0);
    CU_ASSERT_EQUAL(ref.h.x[8], 0);
    CU_ASSERT_EQUAL(ref.h.x[1], 11 + 200);
    for (int jit = 1; jit <= 2; jit++) {
        run_slow_paths(&r, jit);
        for (int i = 1; i < 32; i++)
            CU_ASSERT_EQUAL(r.h.x[i], ref.h.x[i]);
        CU_ASSERT_EQUAL(get64(&r, RAM_BASE + 0x100010), get64(&ref, RAM_BASE + 0x100010));
        CU_ASSERT_EQUAL(get64(&r, RAM_BASE + 0x100000), get64(&ref, RAM_BASE + 0x100000));
        CU_ASSERT_EQUAL(r.h.vcpu->stats.instructions, ref.h.vcpu->stats.instructions);
        if (rv_jit_supported()) {
            struct rv_jit_stats st;
            rv_jit_get_stats(&r.h, &st);
            CU_ASSERT(st.blocks > 0);
        }
        CU_ASSERT(r.h.vcpu->stats.tlb_misses >= 4 * 200); /* the slow paths ran */
        rig_destroy(&r);
    }
    rig_destroy(&ref);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "random programs match the interpreter", test_random_programs_match_the_interpreter },
        { "the translator runs the programs", test_the_translator_runs_the_programs },
        { "fault mid-block is precise", test_fault_mid_block_is_precise },
        { "store into the running block takes effect", test_store_into_the_running_block_takes_effect },
        { "tight loop honours a stop request", test_tight_loop_honours_a_stop_request },
        { "deterministic slices are exact", test_deterministic_slices_are_exact },
        { "fence.i unlinks chains into rewritten code", test_fence_i_unlinks_chains_into_rewritten_code },
        { "fence.i after own stores keeps translations", test_fence_i_after_own_stores_keeps_translations },
        { "registers across chained blocks are exact", test_registers_across_chained_blocks_are_exact },
        { "put-off stores are exact", test_put_off_stores_are_exact },
        { "registers survive the slow paths", test_registers_survive_the_slow_paths },
        { NULL, NULL },
    };
    return unit_main("rv_jit_diff", tests);
}
