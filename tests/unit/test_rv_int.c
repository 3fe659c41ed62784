/* RV64IM + C on the soft engine's CPU core: integer arithmetic, the M
 * extension's division corner cases, compressed instructions, loads and
 * stores (sign extension, misaligned), illegal instructions, and the
 * decoded-instruction cache seeing self-modifying code. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "rv_rig.h"

static void test_integer_alu_ops_compute_rv64_results(void)
{
    struct rig r;
    rig_init(&r);
    r.h.x[1] = 0xfffffffffffffff0ULL; /* -16 */
    r.h.x[2] = 3;
    emit32(&r, OP(0, 0, 3, 1, 2));       /* add x3 = -13 */
    emit32(&r, OP(0x20, 0, 4, 1, 2));    /* sub x4 = -19 */
    emit32(&r, OP(0, 1, 5, 2, 2));       /* sll x5 = 3 << 3 = 24 */
    emit32(&r, OP(0, 2, 6, 1, 2));       /* slt x6 = 1 */
    emit32(&r, OP(0, 3, 7, 1, 2));       /* sltu x7 = 0 */
    emit32(&r, OP(0x20, 5, 8, 1, 2));    /* sra x8 = -2 */
    emit32(&r, OP(0, 5, 9, 1, 2));       /* srl x9 */
    emit32(&r, LUI(10, 0x80000));        /* lui x10 = 0xffffffff80000000 */
    emit32(&r, ADDIW(11, 10, -1));       /* addiw x11 = 0x7fffffff */
    emit32(&r, OP32(0x20, 5, 12, 1, 2)); /* sraw x12 = -2 */
    emit32(&r, OP32(0, 5, 13, 1, 2));    /* srlw x13 = 0x1ffffffe */
    emit32(&r, AUIPC(14, 1));            /* auipc x14 = pc + 0x1000 */
    emit32(&r, enc_i(0x7ff, 1, 4, 15, 0x13)); /* xori x15 = -16 ^ 0x7ff */
    emit32(&r, enc_i(-1, 2, 3, 16, 0x13));    /* sltiu x16 = 3 < ~0 = 1 */
    emit32(&r, enc_i(0x43f, 1, 5, 17, 0x13)); /* srai x17 = -16 >> 63 = -1 */
    emit32(&r, ADDI(0, 2, 5));                /* addi x0: stays 0 */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[3], (uint64_t)-13);
    CU_ASSERT_EQUAL(r.h.x[4], (uint64_t)-19);
    CU_ASSERT_EQUAL(r.h.x[5], 24);
    CU_ASSERT_EQUAL(r.h.x[6], 1);
    CU_ASSERT_EQUAL(r.h.x[7], 0);
    CU_ASSERT_EQUAL(r.h.x[8], (uint64_t)-2);
    CU_ASSERT_EQUAL(r.h.x[9], 0xfffffffffffffff0ULL >> 3);
    CU_ASSERT_EQUAL(r.h.x[10], 0xffffffff80000000ULL);
    CU_ASSERT_EQUAL(r.h.x[11], 0x7fffffffULL);
    CU_ASSERT_EQUAL(r.h.x[12], (uint64_t)-2);
    CU_ASSERT_EQUAL(r.h.x[13], 0x1ffffffeULL);
    CU_ASSERT_EQUAL(r.h.x[14], RAM_BASE + 11 * 4 + 0x1000);
    CU_ASSERT_EQUAL(r.h.x[15], 0xfffffffffffffff0ULL ^ 0x7ff);
    CU_ASSERT_EQUAL(r.h.x[16], 1);
    CU_ASSERT_EQUAL(r.h.x[17], (uint64_t)-1);
    CU_ASSERT_EQUAL(r.h.x[0], 0);
    CU_ASSERT_EQUAL(r.m.vcpus[0].stats.instructions, 17); /* with the exit store */
    rig_destroy(&r);
}

static void test_m_extension_division_corner_cases(void)
{
    struct rig r;
    rig_init(&r);
    r.h.x[1] = 0x8000000000000000ULL; /* INT64_MIN */
    r.h.x[2] = (uint64_t)-1;
    r.h.x[3] = 0;
    r.h.x[4] = 7;
    r.h.x[5] = 0xffffffff80000000ULL; /* INT32_MIN */
    emit32(&r, OP(1, 4, 10, 1, 2));   /* div MIN/-1 = MIN */
    emit32(&r, OP(1, 6, 11, 1, 2));   /* rem MIN%-1 = 0 */
    emit32(&r, OP(1, 4, 12, 4, 3));   /* div 7/0 = -1 */
    emit32(&r, OP(1, 5, 13, 4, 3));   /* divu 7/0 = all ones */
    emit32(&r, OP(1, 6, 14, 4, 3));   /* rem 7%0 = 7 */
    emit32(&r, OP(1, 7, 15, 4, 3));   /* remu 7%0 = 7 */
    emit32(&r, OP32(1, 4, 16, 5, 2)); /* divw MIN32/-1 = MIN32 */
    emit32(&r, OP32(1, 6, 17, 5, 2)); /* remw = 0 */
    emit32(&r, OP32(1, 5, 18, 4, 3)); /* divuw 7/0 = -1 */
    emit32(&r, OP(1, 1, 19, 2, 2));   /* mulh -1*-1 = 0 */
    emit32(&r, OP(1, 3, 20, 2, 2));   /* mulhu ~0*~0 = ~0 - 1 */
    emit32(&r, OP(1, 2, 21, 2, 2));   /* mulhsu -1 * ~0 = -1 */
    emit32(&r, OP32(1, 0, 22, 5, 2)); /* mulw MIN32*-1 = MIN32 (wraps) */
    emit32(&r, OP(1, 4, 23, 2, 4));   /* div -1/7 = 0 */
    emit32(&r, OP(1, 6, 24, 2, 4));   /* rem -1%7 = -1 */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[10], 0x8000000000000000ULL);
    CU_ASSERT_EQUAL(r.h.x[11], 0);
    CU_ASSERT_EQUAL(r.h.x[12], (uint64_t)-1);
    CU_ASSERT_EQUAL(r.h.x[13], ~0ULL);
    CU_ASSERT_EQUAL(r.h.x[14], 7);
    CU_ASSERT_EQUAL(r.h.x[15], 7);
    CU_ASSERT_EQUAL(r.h.x[16], 0xffffffff80000000ULL);
    CU_ASSERT_EQUAL(r.h.x[17], 0);
    CU_ASSERT_EQUAL(r.h.x[18], ~0ULL);
    CU_ASSERT_EQUAL(r.h.x[19], 0);
    CU_ASSERT_EQUAL(r.h.x[20], ~0ULL - 1);
    CU_ASSERT_EQUAL(r.h.x[21], ~0ULL);
    CU_ASSERT_EQUAL(r.h.x[22], 0xffffffff80000000ULL);
    CU_ASSERT_EQUAL(r.h.x[23], 0);
    CU_ASSERT_EQUAL(r.h.x[24], (uint64_t)-1);
    rig_destroy(&r);
}

static void test_compressed_instructions_expand_correctly(void)
{
    struct rig r;
    rig_init(&r);
    r.h.x[2] = RAM_BASE + 0x8000; /* sp */
    emit16(&r, 0x4515);  /* c.li a0, 5 */
    emit16(&r, 0x0505);  /* c.addi a0, 1 -> 6 */
    emit16(&r, 0x85aa);  /* c.mv a1, a0 */
    emit16(&r, 0x95aa);  /* c.add a1, a0 -> 12 */
    emit16(&r, 0x058e);  /* c.slli a1, 3 -> 96 */
    emit16(&r, 0xc02e);  /* c.swsp a1, 0(sp) */
    emit16(&r, 0x4602);  /* c.lwsp a2, 0(sp) -> 96 */
    emit16(&r, 0x8e09);  /* c.sub a2, a0 -> 90 */
    emit16(&r, 0x8a3d);  /* c.andi a2, 15 -> 10 */
    emit16(&r, 0x1179);  /* c.addi sp, -2 ... (c.addi x2,-2) */
    emit16(&r, 0xc111);  /* c.beqz a0, +4 (not taken) */
    emit16(&r, 0xa019);  /* c.j +6 */
    emit16(&r, 0x4681);  /* c.li a3, 0 (skipped) */
    emit16(&r, 0x0001);  /* c.nop (skipped) */
    emit16(&r, 0x4705);  /* c.li a4, 1 */
    emit16(&r, 0x57fd);  /* c.li a5, -1 */
    emit16(&r, 0x8785);  /* c.srai a5, 1 -> -1 */
    emit16(&r, 0x2705);  /* c.addiw a4, 1 -> 2 */
    emit_exit(&r);
    r.h.x[13] = 77;
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[10], 6);
    CU_ASSERT_EQUAL(r.h.x[11], 96);
    CU_ASSERT_EQUAL(r.h.x[12], 10);
    CU_ASSERT_EQUAL(r.h.x[2], RAM_BASE + 0x8000 - 2);
    CU_ASSERT_EQUAL(r.h.x[13], 77);
    CU_ASSERT_EQUAL(r.h.x[14], 2);
    CU_ASSERT_EQUAL(r.h.x[15], (uint64_t)-1);
    rig_destroy(&r);
}

static void test_loads_sign_and_zero_extend(void)
{
    struct rig r;
    rig_init(&r);
    uint64_t data = RAM_BASE + 0x10000;
    put64(&r, data, 0x8081828384858687ULL);
    r.h.x[1] = data;
    emit32(&r, LOADI(0, 2, 1, 0)); /* lb 0x87 -> sext */
    emit32(&r, LOADI(4, 3, 1, 0)); /* lbu */
    emit32(&r, LOADI(1, 4, 1, 0)); /* lh 0x8687 */
    emit32(&r, LOADI(5, 5, 1, 0)); /* lhu */
    emit32(&r, LOADI(2, 6, 1, 0)); /* lw 0x84858687 */
    emit32(&r, LOADI(6, 7, 1, 0)); /* lwu */
    emit32(&r, LD(8, 1, 0));
    emit32(&r, LOADI(0, 0, 1, 0)); /* lb x0: no effect */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[2], 0xffffffffffffff87ULL);
    CU_ASSERT_EQUAL(r.h.x[3], 0x87);
    CU_ASSERT_EQUAL(r.h.x[4], 0xffffffffffff8687ULL);
    CU_ASSERT_EQUAL(r.h.x[5], 0x8687);
    CU_ASSERT_EQUAL(r.h.x[6], 0xffffffff84858687ULL);
    CU_ASSERT_EQUAL(r.h.x[7], 0x84858687ULL);
    CU_ASSERT_EQUAL(r.h.x[8], 0x8081828384858687ULL);
    CU_ASSERT_EQUAL(r.h.x[0], 0);
    rig_destroy(&r);
}

static void test_misaligned_loads_and_stores_are_performed(void)
{
    struct rig r;
    rig_init(&r);
    uint64_t page_end = RAM_BASE + 0x11000;
    r.h.x[1] = page_end - 3; /* crosses a page boundary */
    r.h.x[2] = 0x1122334455667788ULL;
    r.h.x[5] = RAM_BASE + 0x12001;
    emit32(&r, SD(2, 1, 0));
    emit32(&r, LD(3, 1, 0));
    emit32(&r, LOADI(2, 4, 1, 1)); /* lw at page_end - 2 */
    emit32(&r, STOREI(1, 2, 5, 0)); /* sh at odd address */
    emit32(&r, LOADI(5, 6, 5, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[3], 0x1122334455667788ULL);
    CU_ASSERT_EQUAL(r.h.x[4], 0x44556677ULL);
    CU_ASSERT_EQUAL(r.h.x[6], 0x7788);
    uint8_t *p = rig_ptr(&r, page_end - 3);
    CU_ASSERT_EQUAL(p[0], 0x88);
    CU_ASSERT_EQUAL(p[7], 0x11);
    rig_destroy(&r);
}

static void test_branches_and_jumps_link_and_loop(void)
{
    struct rig r;
    rig_init(&r);
    /* x1 = 0; for (x2 = 10; x2 != 0; x2--) x1 += x2; call/return via jal/jalr */
    emit32(&r, ADDI(2, 0, 10));
    emit32(&r, ADDI(1, 0, 0));
    emit32(&r, OP(0, 0, 1, 1, 2));   /* loop: add x1, x1, x2 */
    emit32(&r, ADDI(2, 2, -1));
    emit32(&r, enc_b(-8, 0, 2, 1));  /* bne x2, x0, loop */
    emit32(&r, enc_j(12, 5));        /* jal x5, +12 (to func) */
    emit32(&r, ADDI(7, 0, 42));      /* after return */
    emit_exit(&r);
    emit32(&r, ADDI(6, 0, 1));       /* func: x6 = 1 */
    emit32(&r, enc_i(0, 5, 0, 0, 0x67)); /* jalr x0, 0(x5) */
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[1], 55);
    CU_ASSERT_EQUAL(r.h.x[5], RAM_BASE + 24);
    CU_ASSERT_EQUAL(r.h.x[6], 1);
    CU_ASSERT_EQUAL(r.h.x[7], 42);
    rig_destroy(&r);
}

static void test_illegal_instruction_traps_with_bits_in_mtval(void)
{
    struct rig r;
    rig_init(&r);
    rv_cpu(&r.h)->mtvec = RAM_BASE + 0x100;
    emit32(&r, 0xffffffffu); /* not an instruction */
    r.at = RAM_BASE + 0x100;
    emit_exit(&r);
    rig_run(&r);
    struct rv_cpu *c = rv_cpu(&r.h);
    CU_ASSERT_EQUAL(c->mcause, RV_EXC_ILLEGAL);
    CU_ASSERT_EQUAL(c->mtval, 0xffffffffu);
    CU_ASSERT_EQUAL(c->mepc, RAM_BASE);
    rig_destroy(&r);
}

static void test_compressed_illegal_reports_16_bits(void)
{
    struct rig r;
    rig_init(&r);
    rv_cpu(&r.h)->mtvec = RAM_BASE + 0x100;
    emit16(&r, 0x0000); /* the all-zero parcel is illegal */
    r.at = RAM_BASE + 0x100;
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_ILLEGAL);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mtval, 0);
    rig_destroy(&r);
}

static void test_access_outside_ram_and_mmio_faults(void)
{
    struct rig r;
    rig_init(&r);
    rv_cpu(&r.h)->mtvec = RAM_BASE + 0x100;
    r.h.x[1] = 0x40000000; /* nothing there */
    emit32(&r, LD(2, 1, 8));
    r.at = RAM_BASE + 0x100;
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_LOAD_ACCESS);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mtval, 0x40000008);
    rig_destroy(&r);
}

static void test_jump_to_unmapped_address_gives_fetch_access_fault(void)
{
    struct rig r;
    rig_init(&r);
    rv_cpu(&r.h)->mtvec = RAM_BASE + 0x100;
    r.h.x[1] = 0x20000000;
    emit32(&r, enc_i(0, 1, 0, 0, 0x67)); /* jr x1 */
    r.at = RAM_BASE + 0x100;
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, RV_EXC_INSN_ACCESS);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mepc, 0x20000000);
    rig_destroy(&r);
}

static void test_instruction_spanning_two_pages_executes(void)
{
    struct rig r;
    rig_init(&r);
    /* jump to page_end - 2 where a 32-bit addi straddles the boundary */
    uint64_t at = RAM_BASE + 0x3000 - 2;
    r.h.x[1] = at;
    emit32(&r, enc_i(0, 1, 0, 0, 0x67));
    r.at = at;
    emit32(&r, ADDI(5, 0, 123));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[5], 123);
    rig_destroy(&r);
}

static void test_stores_to_decoded_code_are_seen(void)
{
    struct rig r;
    rig_init(&r);
    /* Execute a slot once, overwrite it with a different instruction,
     * execute it again: the second run must see the new instruction. */
    uint64_t slot = RAM_BASE + 0x40;
    r.h.x[1] = slot;
    r.h.x[2] = ADDI(6, 6, 100);
    emit32(&r, enc_j(0x40 - 0, 5));   /* 0x00: jal x5, slot */
    emit32(&r, SW(2, 1, 0));          /* 0x04: patch slot */
    emit32(&r, enc_j(0x40 - 8, 5));   /* 0x08: jal x5, slot */
    emit_exit(&r);                    /* 0x0c */
    r.at = slot;
    emit32(&r, ADDI(6, 6, 1));        /* slot: x6 += 1 (later += 100) */
    emit32(&r, enc_i(4, 5, 0, 0, 0x67)); /* jalr x0, 4(x5)? returns to x5 + 4? */
    /* x5 = return address (insn after jal); jalr x0, 0(x5) */
    r.at = slot + 4;
    emit32(&r, enc_i(0, 5, 0, 0, 0x67));
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[6], 101);
    rig_destroy(&r);
}

static void test_interpreter_speed_is_reported(void)
{
    struct rig r;
    rig_init(&r);
    /* A loop of 50M iterations of 4 instructions plus a load/store. */
    r.h.x[1] = 50000000;
    r.h.x[3] = RAM_BASE + 0x20000;
    emit32(&r, LD(4, 3, 0));         /* loop: ld x4, 0(x3) */
    emit32(&r, ADDI(4, 4, 1));
    emit32(&r, SD(4, 3, 0));
    emit32(&r, ADDI(1, 1, -1));
    emit32(&r, enc_b(-16, 0, 1, 1)); /* bne x1, x0, loop */
    emit_exit(&r);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rig_run(&r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    uint64_t n = r.m.vcpus[0].stats.instructions;
    fprintf(stderr, "  %llu instructions in %.3f s: %.0f MIPS (tlb hits %llu misses %llu)\n",
            (unsigned long long)n, s, (double)n / s / 1e6,
            (unsigned long long)r.m.vcpus[0].stats.tlb_hits,
            (unsigned long long)r.m.vcpus[0].stats.tlb_misses);
    CU_ASSERT_EQUAL(get64(&r, RAM_BASE + 0x20000), 50000000);
    CU_ASSERT(n >= 250000000);
    rig_destroy(&r);
}

struct stopper {
    struct rig *r;
    int ms;
};

static void *stop_after(void *arg)
{
    struct stopper *s = arg;
    usleep((useconds_t)s->ms * 1000);
    machine_set_outcome(&s->r->m, VMM_OUTCOME_STOPPED, 0, "time up");
    rv_hart_kick(&s->r->h);
    return NULL;
}

/* Fills 64 KiB with random instruction words (biased towards real opcodes,
 * compressed and not), points every trap vector and register somewhere
 * random, and runs each mix for a while: whatever the guest does, the host
 * must survive and the run must end when asked. */
static void test_random_instruction_streams_never_crash_the_host(void)
{
    static const uint32_t opcodes[] = { 0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f,
                                        0x33, 0x37, 0x3b, 0x43, 0x47, 0x4b, 0x4f, 0x53, 0x63,
                                        0x67, 0x6f, 0x73 };
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 8; round++) {
        struct rig r;
        int priv = round % 3 == 0 ? RV_PRIV_M : round % 3 == 1 ? RV_PRIV_S : RV_PRIV_U;
        rig_init_mode(&r, priv == RV_PRIV_U ? RV_PRIV_M : priv, round & 1);
        if (priv == RV_PRIV_U)
            r.h.priv = RV_PRIV_U;
        struct rv_cpu *c = rv_cpu(&r.h);
        for (uint64_t a = 0; a < 0x10000; a += 4) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint32_t w = (uint32_t)(seed >> 32);
            if ((seed & 3) == 0)
                w = (w & ~0x7fu) | opcodes[(seed >> 8) % (sizeof(opcodes) / 4)];
            memcpy(rig_ptr(&r, RAM_BASE + a), &w, 4);
        }
        for (int i = 1; i < 31; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            r.h.x[i] = (seed & 1) ? RAM_BASE + ((seed >> 16) & 0xffff8) : seed;
        }
        c->mtvec = RAM_BASE + 0x100;
        c->stvec = RAM_BASE + 0x200 + (uint64_t)round * 4;
        c->medeleg = round & 2 ? 0xb1ff : 0;
        c->satp = round & 4 ? (8ULL << 60) | ((RAM_BASE + 0x4000) >> 12) : 0;
        c->mstatus |= MSTATUS_FS;
        rv_cpu_update_ctx(&r.h);
        struct stopper s = { &r, 150 };
        pthread_t t;
        pthread_create(&t, NULL, stop_after, &s);
        rv_hart_run(&r.h);
        pthread_join(t, NULL);
        CU_ASSERT(r.m.outcome_set);
        rig_destroy(&r);
    }
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "integer ALU ops compute RV64 results", test_integer_alu_ops_compute_rv64_results },
        { "M extension division corner cases", test_m_extension_division_corner_cases },
        { "compressed instructions expand correctly", test_compressed_instructions_expand_correctly },
        { "loads sign and zero extend", test_loads_sign_and_zero_extend },
        { "misaligned loads and stores are performed", test_misaligned_loads_and_stores_are_performed },
        { "branches and jumps link and loop", test_branches_and_jumps_link_and_loop },
        { "illegal instruction traps with bits in mtval", test_illegal_instruction_traps_with_bits_in_mtval },
        { "compressed illegal reports 16 bits", test_compressed_illegal_reports_16_bits },
        { "access outside RAM and MMIO faults", test_access_outside_ram_and_mmio_faults },
        { "jump to unmapped address gives fetch access fault", test_jump_to_unmapped_address_gives_fetch_access_fault },
        { "instruction spanning two pages executes", test_instruction_spanning_two_pages_executes },
        { "stores to decoded code are seen", test_stores_to_decoded_code_are_seen },
        { "interpreter speed is reported", test_interpreter_speed_is_reported },
        { "random instruction streams never crash the host", test_random_instruction_streams_never_crash_the_host },
        { NULL, NULL },
    };
    return unit_main("rv_int", tests);
}
