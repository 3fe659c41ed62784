/* Privileged architecture of the soft engine's CPU core: CSRs, traps and
 * their delegation, xRET, interrupts (enables, delegation, priority,
 * vectoring), WFI, SBI hypercalls, HSM start and counter access control. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rv_rig.h"
#include "vmm/error.h"

#define HANDLER (RAM_BASE + 0x1000)
#define SHANDLER (RAM_BASE + 0x2000)
#define USER (RAM_BASE + 0x3000)

static struct rv_cpu *C(struct rig *r)
{
    return rv_cpu(&r->h);
}

/* A trap handler that just ends the run. */
static void handler_exit(struct rig *r, uint64_t at)
{
    uint64_t save = r->at;
    r->at = at;
    emit_exit(r);
    r->at = save;
}

static void test_csr_instructions_read_and_write(void)
{
    struct rig r;
    rig_init(&r);
    r.h.x[1] = 0x1234;
    r.h.x[2] = 0xff00;
    emit32(&r, CSRRW(0, 0x340, 1));  /* mscratch = 0x1234 */
    emit32(&r, CSRRS(3, 0x340, 2));  /* x3 = 0x1234; mscratch |= 0xff00 */
    emit32(&r, CSRRC(4, 0x340, 1));  /* x4 = 0xff34; mscratch &= ~0x1234 */
    emit32(&r, CSRRS(5, 0x340, 0));  /* x5 = mscratch */
    emit32(&r, CSRRS(6, 0xf14, 0));  /* mhartid */
    emit32(&r, CSRRS(7, 0x301, 0));  /* misa */
    emit32(&r, CSRRS(8, 0xf11, 0));  /* mvendorid */
    emit32(&r, CSRRWI(9, 0x340, 7)); /* x9 = old, mscratch = 7 */
    emit32(&r, CSRRS(10, 0x340, 0));
    emit32(&r, CSRRS(11, 0x3b0, 0)); /* pmpaddr0 reads 0 */
    emit32(&r, CSRRW(0, 0x3a0, 1));  /* pmpcfg0 accepted */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[3], 0x1234);
    CU_ASSERT_EQUAL(r.h.x[4], 0xff34);
    CU_ASSERT_EQUAL(r.h.x[5], 0xed00);
    CU_ASSERT_EQUAL(r.h.x[6], 0);
    CU_ASSERT_EQUAL(r.h.x[7] >> 62, 2);
    CU_ASSERT_EQUAL(r.h.x[7] & 0x3ffffff, 0x14112d); /* ACDFIMSU */
    CU_ASSERT_EQUAL(r.h.x[8], 0);
    CU_ASSERT_EQUAL(r.h.x[9], 0xed00);
    CU_ASSERT_EQUAL(r.h.x[10], 7);
    CU_ASSERT_EQUAL(r.h.x[11], 0);
    rig_destroy(&r);
}

static void test_writing_a_read_only_csr_is_illegal(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    r.h.x[1] = 5;
    emit32(&r, CSRRS(2, 0xf14, 0)); /* reading is fine */
    emit32(&r, CSRRW(0, 0xf14, 1)); /* writing mhartid is not */
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ILLEGAL);
    CU_ASSERT_EQUAL(C(&r)->mepc, RAM_BASE + 4);
    CU_ASSERT_EQUAL(C(&r)->mtval, CSRRW(0, 0xf14, 1));
    rig_destroy(&r);
}

static void test_s_mode_cannot_touch_m_csrs(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 0);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    emit32(&r, CSRRS(1, 0x300, 0)); /* csrr mstatus from S */
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ILLEGAL);
    CU_ASSERT_EQUAL(r.h.priv, RV_PRIV_M);
    CU_ASSERT_EQUAL((C(&r)->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, RV_PRIV_S);
    rig_destroy(&r);
}

static void test_sstatus_is_a_restricted_view_of_mstatus(void)
{
    struct rig r;
    rig_init(&r);
    r.h.x[1] = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SUM;
    emit32(&r, CSRRS(0, 0x100, 1)); /* sstatus |= SIE|MIE|SUM: MIE ignored */
    emit32(&r, CSRRS(2, 0x300, 0));
    emit32(&r, CSRRS(3, 0x100, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT(r.h.x[2] & MSTATUS_SIE);
    CU_ASSERT(r.h.x[2] & MSTATUS_SUM);
    CU_ASSERT_FALSE(r.h.x[2] & MSTATUS_MIE);
    CU_ASSERT_FALSE(r.h.x[3] & MSTATUS_MPP);
    CU_ASSERT_EQUAL((r.h.x[2] >> 32) & 3, 2); /* UXL = 64 */
    rig_destroy(&r);
}

static void test_fs_dirty_sets_sd(void)
{
    struct rig r;
    rig_init(&r);
    r.h.x[1] = 1ULL << MSTATUS_FS_SHIFT; /* FS = Initial */
    emit32(&r, CSRRS(0, 0x300, 1));
    emit32(&r, CSRRS(2, 0x300, 0));
    emit32(&r, CSRRWI(0, 0x001, 1)); /* write fflags: FS -> Dirty */
    emit32(&r, CSRRS(3, 0x300, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_FALSE(r.h.x[2] >> 63);
    CU_ASSERT_EQUAL((r.h.x[3] & MSTATUS_FS) >> MSTATUS_FS_SHIFT, 3);
    CU_ASSERT_EQUAL(r.h.x[3] >> 63, 1);
    rig_destroy(&r);
}

/* M sets up delegation and drops to U with mret; U does ecall. */
static void test_ecall_from_u_is_delegated_to_s(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->medeleg = 1 << RV_EXC_ECALL_U;
    C(&r)->stvec = SHANDLER;
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    handler_exit(&r, SHANDLER);
    C(&r)->mepc = USER;
    C(&r)->mstatus = MSTATUS_SIE; /* MPP = U */
    emit32(&r, MRET);
    r.at = USER;
    emit32(&r, ADDI(1, 0, 1));
    emit32(&r, ECALL);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.priv, RV_PRIV_S);
    CU_ASSERT_EQUAL(C(&r)->scause, RV_EXC_ECALL_U);
    CU_ASSERT_EQUAL(C(&r)->sepc, USER + 4);
    CU_ASSERT_EQUAL(C(&r)->stval, 0);
    CU_ASSERT_EQUAL(r.h.x[1], 1);
    CU_ASSERT_FALSE(C(&r)->mstatus & MSTATUS_SPP);  /* came from U */
    CU_ASSERT(C(&r)->mstatus & MSTATUS_SPIE);       /* SIE was 1 */
    CU_ASSERT_FALSE(C(&r)->mstatus & MSTATUS_SIE);
    CU_ASSERT_EQUAL(C(&r)->mcause, 0);              /* M saw nothing */
    rig_destroy(&r);
}

static void test_ecall_from_s_without_delegation_goes_to_m(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 0);
    C(&r)->mtvec = HANDLER;
    C(&r)->medeleg = 1 << RV_EXC_ECALL_U; /* not S */
    handler_exit(&r, HANDLER);
    emit32(&r, ECALL);
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ECALL_S);
    CU_ASSERT_EQUAL(C(&r)->mepc, RAM_BASE);
    CU_ASSERT_EQUAL((C(&r)->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, RV_PRIV_S);
    rig_destroy(&r);
}

static void test_sret_returns_to_spp_and_restores_sie(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 0);
    C(&r)->sepc = USER;
    C(&r)->mstatus = MSTATUS_SPIE | MSTATUS_SPP; /* return to S with SIE=1 */
    emit32(&r, SRET);
    r.at = USER;
    emit32(&r, CSRRS(5, 0x100, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.priv, RV_PRIV_S);
    CU_ASSERT(r.h.x[5] & MSTATUS_SIE);
    CU_ASSERT(r.h.x[5] & MSTATUS_SPIE);
    CU_ASSERT_FALSE(r.h.x[5] & MSTATUS_SPP);
    rig_destroy(&r);
}

static void test_mret_to_u_clears_mprv(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->mepc = USER;
    C(&r)->mstatus = MSTATUS_MPRV | MSTATUS_MPIE;
    C(&r)->medeleg = 1 << RV_EXC_ECALL_U;
    C(&r)->stvec = SHANDLER;
    handler_exit(&r, SHANDLER);
    emit32(&r, MRET);
    r.at = USER;
    emit32(&r, ECALL);
    rig_run(&r);
    CU_ASSERT_FALSE(C(&r)->mstatus & MSTATUS_MPRV);
    CU_ASSERT(C(&r)->mstatus & MSTATUS_MPIE);
    rig_destroy(&r);
}

static void test_tsr_tw_tvm_trap_s_mode(void)
{
    const uint32_t insns[3] = { SRET, WFI, CSRRS(1, 0x180, 0) };
    static const uint64_t bits[3] = { MSTATUS_TSR, MSTATUS_TW, MSTATUS_TVM };
    for (int i = 0; i < 3; i++) {
        struct rig r;
        rig_init_mode(&r, RV_PRIV_S, 0);
        C(&r)->mtvec = HANDLER;
        C(&r)->mstatus |= bits[i];
        handler_exit(&r, HANDLER);
        emit32(&r, insns[i]);
        rig_run(&r);
        CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ILLEGAL);
        CU_ASSERT_EQUAL(C(&r)->mtval, insns[i]);
        rig_destroy(&r);
    }
}

/* An illegal instruction's tval is its bits (16 or 32 of them), which the
 * decoded-instruction cache does not keep: rv_trap reads them back from
 * guest memory at the trapping pc. Each case runs as the suite is set up
 * (translator or interpreter) and with every block translated. */
static void test_illegal_instruction_tval_is_its_bits(void)
{
    enum { FS_ON, FS_OFF };
    static const struct {
        uint64_t off; /* where it sits (0x5ffe: across two pages) */
        unsigned len;
        uint32_t bits;
        int fs;
    } cases[] = {
        { 0x5000, 4, 0xffffffffu, FS_ON },                                /* no such opcode */
        { 0x5000, 2, 0x0004, FS_ON },                                     /* c.addi4spn, imm 0 */
        { 0x5000, 4, (8u << 20) | (2u << 15) | (3u << 12) | (1u << 7) | 0x07, FS_OFF }, /* fld */
        { 0x5000, 2, 0x20a2, FS_OFF },                                    /* c.fldsp f1, 8(sp) */
        { 0x5ffe, 4, 0xffffffffu, FS_ON },
        { 0x5ffe, 4, (8u << 20) | (2u << 15) | (3u << 12) | (1u << 7) | 0x07, FS_OFF },
    };
    const char *mode = getenv("LIBVMM_SOFT_JIT");
    char *saved = mode ? strdup(mode) : NULL;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            setenv("LIBVMM_SOFT_JIT", "all", 1);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct rig r;
            rig_init(&r);
            C(&r)->mtvec = HANDLER;
            handler_exit(&r, HANDLER);
            if (cases[i].fs == FS_OFF)
                C(&r)->mstatus &= ~MSTATUS_FS;
            else
                C(&r)->mstatus |= MSTATUS_FS;
            r.at = RAM_BASE + cases[i].off;
            if (cases[i].len == 4) {
                emit16(&r, (uint16_t)cases[i].bits); /* two halves: may cross a page */
                emit16(&r, (uint16_t)(cases[i].bits >> 16));
            } else {
                emit16(&r, (uint16_t)cases[i].bits);
            }
            r.h.pc = RAM_BASE + cases[i].off;
            rig_run(&r);
            CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ILLEGAL);
            CU_ASSERT_EQUAL(C(&r)->mepc, RAM_BASE + cases[i].off);
            CU_ASSERT_EQUAL(C(&r)->mtval, cases[i].bits);
            if (C(&r)->mtval != cases[i].bits)
                fprintf(stderr, "  pass %d case %zu: mtval 0x%llx, want 0x%x\n", pass, i,
                        (unsigned long long)C(&r)->mtval, cases[i].bits);
            rig_destroy(&r);
        }
    }
    if (saved) {
        setenv("LIBVMM_SOFT_JIT", saved, 1);
        free(saved);
    } else {
        unsetenv("LIBVMM_SOFT_JIT");
    }
}

static void test_timer_interrupt_is_taken_when_enabled(void)
{
    struct rig r;
    rig_init(&r);
    r.h.deterministic = 1;
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    atomic_store(&r.h.mtimecmp, 50); /* after ~500 instructions */
    r.h.x[1] = RV_IRQ_MTIP;
    r.h.x[2] = MSTATUS_MIE;
    emit32(&r, CSRRS(0, 0x304, 1)); /* mie.MTIE */
    emit32(&r, CSRRS(0, 0x300, 2)); /* mstatus.MIE */
    emit32(&r, ADDI(3, 3, 1));      /* loop: x3++ */
    emit32(&r, enc_j(-4, 0));
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_CAUSE_INTR | 7);
    CU_ASSERT(r.h.x[3] >= 400);
    CU_ASSERT(r.h.x[3] < 10000);
    CU_ASSERT(C(&r)->mstatus & MSTATUS_MPIE);
    CU_ASSERT_FALSE(C(&r)->mstatus & MSTATUS_MIE);
    rig_destroy(&r);
}

static void test_interrupts_disabled_in_m_mode_are_not_taken(void)
{
    struct rig r;
    rig_init(&r);
    r.h.deterministic = 1;
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    atomic_store(&r.h.mtimecmp, 0);
    C(&r)->mie = RV_IRQ_MTIP; /* MIE clear */
    r.h.x[1] = 2000;
    emit32(&r, ADDI(1, 1, -1));
    emit32(&r, enc_b(-4, 0, 1, 1));
    emit32(&r, CSRRS(5, 0x344, 0)); /* mip */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, 0);
    CU_ASSERT(r.h.x[5] & RV_IRQ_MTIP);
    rig_destroy(&r);
}

static void test_delegated_software_interrupt_goes_to_s(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 0);
    C(&r)->mideleg = RV_IRQ_SSIP;
    C(&r)->mie = RV_IRQ_SSIP;
    C(&r)->stvec = SHANDLER | 1; /* vectored */
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    handler_exit(&r, SHANDLER + 4 * 1);
    r.h.x[1] = RV_IRQ_SSIP;
    emit32(&r, CSRRS(0, 0x144, 1)); /* sip.SSIP = 1 (allowed: delegated) */
    emit32(&r, CSRRWI(0, 0x100, MSTATUS_SIE)); /* sstatus.SIE */
    emit32(&r, ADDI(2, 0, 1));
    emit32(&r, enc_j(0, 0)); /* spin */
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->scause, RV_CAUSE_INTR | 1);
    CU_ASSERT_EQUAL(r.h.priv, RV_PRIV_S);
    CU_ASSERT_EQUAL(C(&r)->mcause, 0);
    rig_destroy(&r);
}

static void test_interrupt_priority_prefers_external(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    atomic_store(&r.h.mtimecmp, 0);
    rv_hart_set_irq(&r.h, RV_IRQ_MSIP | RV_IRQ_MEIP, 1);
    C(&r)->mie = RV_IRQ_MSIP | RV_IRQ_MEIP | RV_IRQ_MTIP;
    C(&r)->mstatus = MSTATUS_MIE;
    emit32(&r, enc_j(0, 0));
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_CAUSE_INTR | 11);
    rig_destroy(&r);
}

static void test_wfi_fast_forwards_time_in_deterministic_mode(void)
{
    struct rig r;
    rig_init(&r);
    r.h.deterministic = 1;
    atomic_store(&r.h.mtimecmp, 1000000); /* 0.1 s of guest time */
    C(&r)->mie = RV_IRQ_MTIP;             /* enabled but MIE off: WFI just returns */
    emit32(&r, WFI);
    emit32(&r, CSRRS(5, 0xc01, 0)); /* rdtime */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT(r.h.x[5] >= 1000000);
    CU_ASSERT(r.h.x[5] < 1000010);
    CU_ASSERT_EQUAL(r.m.vcpus[0].stats.halts, 1);
    rig_destroy(&r);
}

static void test_wfi_sleeps_until_the_timer(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    C(&r)->mie = RV_IRQ_MTIP;
    C(&r)->mstatus = MSTATUS_MIE;
    atomic_store(&r.h.mtimecmp, rv_hart_time(&r.h) + 200000); /* 20 ms */
    emit32(&r, WFI);
    emit32(&r, enc_j(-4, 0));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rig_run(&r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_CAUSE_INTR | 7);
    CU_ASSERT(ms >= 15);
    CU_ASSERT(ms < 2000);
    CU_ASSERT(r.m.vcpus[0].stats.instructions < 1000); /* it slept, not spun */
    rig_destroy(&r);
}

static void *raise_later(void *arg)
{
    struct rig *r = arg;
    usleep(20000);
    rv_hart_set_irq(&r->h, RV_IRQ_MEIP, 1);
    return NULL;
}

static void test_set_irq_from_another_thread_wakes_wfi(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    C(&r)->mie = RV_IRQ_MEIP;
    C(&r)->mstatus = MSTATUS_MIE;
    emit32(&r, WFI);
    emit32(&r, enc_j(-4, 0));
    pthread_t t;
    pthread_create(&t, NULL, raise_later, &r);
    rig_run(&r);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_CAUSE_INTR | 11);
    rig_destroy(&r);
}

static void test_sbi_ecall_reaches_the_hook_and_advances_pc(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 1);
    r.h.x[10] = 41;
    emit32(&r, ECALL);               /* hook: a0++ */
    emit32(&r, ADDI(5, 10, 0));
    emit32(&r, ADDI(17, 0, 0x99));   /* a7 = exit */
    emit32(&r, ECALL);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[5], 42);
    CU_ASSERT_EQUAL(r.sbi_calls, 2);
    CU_ASSERT_EQUAL(r.m.vcpus[0].stats.hypercalls, 2);
    rig_destroy(&r);
}

/* One ECALL is one hypercall: the core counts it once, and the rig's hook
 * counts nothing itself, so any second count would show here. */
static void test_one_sbi_ecall_counts_one_hypercall(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 1);
    r.h.x[17] = 0x10; /* any extension but the rig's exit */
    emit32(&r, ECALL);
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.sbi_calls, 1);
    CU_ASSERT_EQUAL(r.m.vcpus[0].stats.hypercalls, 1);
    CU_ASSERT_EQUAL(r.h.pc, RAM_BASE + 8);
    rig_destroy(&r);
}

static void test_sbi_mode_delegates_page_faults_and_reads_time(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 1);
    CU_ASSERT(C(&r)->medeleg & (1 << RV_EXC_LOAD_PAGE));
    CU_ASSERT_FALSE(C(&r)->medeleg & (1 << RV_EXC_ECALL_S));
    CU_ASSERT(C(&r)->mideleg & RV_IRQ_STIP);
    emit32(&r, CSRRS(5, 0xc01, 0)); /* rdtime from S: allowed */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->scause, 0);
    rig_destroy(&r);
}

static void test_sbi_timer_raises_stip(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 1);
    r.h.deterministic = 1;
    C(&r)->stvec = SHANDLER;
    handler_exit(&r, SHANDLER);
    atomic_store(&r.h.sbi_timecmp, 100);
    C(&r)->mie = RV_IRQ_STIP;
    C(&r)->mstatus = MSTATUS_SIE;
    emit32(&r, WFI);
    emit32(&r, enc_j(-4, 0));
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->scause, RV_CAUSE_INTR | 5);
    rig_destroy(&r);
}

static void test_hsm_stopped_hart_starts_at_the_given_pc(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 1);
    atomic_store(&r.h.hsm_state, 1);
    r.h.hsm_start_pc = USER;
    r.h.hsm_start_opaque = 0xabc;
    r.h.x[10] = 99;
    r.at = USER;
    emit32(&r, ADDI(5, 11, 0));
    emit32(&r, ADDI(6, 10, 0));
    emit_exit(&r);
    /* start it from "another hart" after it has parked */
    atomic_store(&r.h.hsm_state, 2);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[5], 0xabc);
    CU_ASSERT_EQUAL(r.h.x[6], 0);
    CU_ASSERT_EQUAL(atomic_load(&r.h.hsm_state), 0);
    CU_ASSERT_EQUAL(r.h.priv, RV_PRIV_S);
    rig_destroy(&r);
}

static void test_counter_access_follows_counteren(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->medeleg = 0;
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    C(&r)->mepc = USER;
    C(&r)->mcounteren = 2;
    C(&r)->scounteren = 0; /* U may not read time */
    emit32(&r, MRET);
    r.at = USER;
    emit32(&r, CSRRS(5, 0xc01, 0));
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ILLEGAL);
    CU_ASSERT_EQUAL(C(&r)->mepc, USER);
    rig_destroy(&r);
}

/* mcycle and minstret are M-mode read/write: a write sets the counter
 * (the next instruction reads exactly the value written, the write
 * replacing the instruction's own increment), reads continue from it, and
 * cycle/instret follow. Guest time is not a counter: a minstret write must
 * not move it, even where time is derived from instructions retired. */
static void test_mcycle_and_minstret_writes_set_the_counters(void)
{
    struct rig r;
    rig_init(&r);
    r.h.deterministic = 1; /* time = instructions retired / 10 */
    r.h.x[6] = 1ULL << 40;
    r.h.x[12] = 5ULL << 50;
    emit32(&r, CSRRS(5, 0xc01, 0));  /* time before */
    emit32(&r, CSRRW(0, 0xb02, 6));  /* minstret = 2^40 */
    emit32(&r, CSRRS(7, 0xb02, 0));  /* 2^40 */
    emit32(&r, CSRRS(8, 0xc02, 0));  /* instret: 2^40 + 1 */
    emit32(&r, CSRRW(0, 0xb00, 12)); /* mcycle = 5 * 2^50 */
    emit32(&r, CSRRS(9, 0xb00, 0));  /* 5 * 2^50 */
    emit32(&r, CSRRS(10, 0xc00, 0)); /* cycle: 5 * 2^50 + 1 */
    emit32(&r, CSRRS(11, 0xc01, 0)); /* time after: not moved */
    emit32(&r, CSRRWI(13, 0xb02, 0)); /* x13 = 2^40 + 6; minstret = 0 */
    emit32(&r, ADDI(0, 0, 0));        /* (reads of minstret here: 0) */
    emit32(&r, CSRRS(14, 0xb02, 0));  /* 1 */
    emit32(&r, CSRRS(15, 0xb00, 0));  /* 5 * 2^50 + 6 */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[7], 1ULL << 40);
    CU_ASSERT_EQUAL(r.h.x[8], (1ULL << 40) + 1);
    CU_ASSERT_EQUAL(r.h.x[9], 5ULL << 50);
    CU_ASSERT_EQUAL(r.h.x[10], (5ULL << 50) + 1);
    CU_ASSERT_EQUAL(r.h.x[11], r.h.x[5]); /* 8 instructions: still tick 0 */
    CU_ASSERT_EQUAL(r.h.x[13], (1ULL << 40) + 6);
    CU_ASSERT_EQUAL(r.h.x[14], 1);
    CU_ASSERT_EQUAL(r.h.x[15], (5ULL << 50) + 6);
    /* the host's count of instructions is untouched */
    CU_ASSERT_EQUAL(r.m.vcpus[0].stats.instructions, 13);
    CU_ASSERT(rv_hart_time(&r.h) < 10);
    rig_destroy(&r);
}

static void test_cycle_and_instret_stay_read_only(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    r.h.x[1] = 5;
    emit32(&r, CSRRW(0, 0xc02, 1)); /* instret is a read-only shadow */
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ILLEGAL);
    CU_ASSERT_EQUAL(C(&r)->mepc, RAM_BASE);
    rig_destroy(&r);
}

static void test_s_mode_cannot_write_mcycle(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 0);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    r.h.x[1] = 5;
    emit32(&r, CSRRW(0, 0xb00, 1));
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ILLEGAL);
    CU_ASSERT_EQUAL(C(&r)->mepc, RAM_BASE);
    rig_destroy(&r);
}

/* The debug trigger CSRs of a hart with no triggers (debug spec 0.13/1.0,
 * as OpenSBI and Linux probe them): tselect reads 0 whatever was written,
 * tdata1 reads 0 (type 0: no trigger), tinfo reads 1 (only type 0), the
 * others read 0; writes are ignored; nothing traps in M-mode. */
static void test_trigger_csrs_read_as_no_triggers(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    r.h.x[1] = 5;
    for (unsigned i = 2; i <= 12; i++)
        r.h.x[i] = 0xdead;
    emit32(&r, CSRRW(2, 0x7a0, 1));  /* tselect = 5: x2 = old (0) */
    emit32(&r, CSRRS(3, 0x7a0, 0));  /* still 0 */
    emit32(&r, CSRRW(0, 0x7a1, 1));  /* tdata1: ignored */
    emit32(&r, CSRRS(4, 0x7a1, 0));
    emit32(&r, CSRRW(5, 0x7a2, 1));  /* tdata2 */
    emit32(&r, CSRRS(6, 0x7a2, 0));
    emit32(&r, CSRRW(7, 0x7a3, 1));  /* tdata3 */
    emit32(&r, CSRRS(8, 0x7a4, 0));  /* tinfo: 1 */
    emit32(&r, CSRRW(0, 0x7a4, 1));  /* tinfo write: ignored */
    emit32(&r, CSRRS(9, 0x7a4, 0));
    emit32(&r, CSRRW(10, 0x7a5, 1)); /* tcontrol */
    emit32(&r, CSRRS(11, 0x7a5, 0));
    emit32(&r, CSRRW(0, 0x7a8, 1));  /* mcontext */
    emit32(&r, CSRRS(12, 0x7a8, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, 0);
    CU_ASSERT_EQUAL(r.h.x[2], 0);
    CU_ASSERT_EQUAL(r.h.x[3], 0);
    CU_ASSERT_EQUAL(r.h.x[4], 0);
    CU_ASSERT_EQUAL(r.h.x[5], 0);
    CU_ASSERT_EQUAL(r.h.x[6], 0);
    CU_ASSERT_EQUAL(r.h.x[7], 0);
    CU_ASSERT_EQUAL(r.h.x[8], 1);
    CU_ASSERT_EQUAL(r.h.x[9], 1);
    CU_ASSERT_EQUAL(r.h.x[10], 0);
    CU_ASSERT_EQUAL(r.h.x[11], 0);
    CU_ASSERT_EQUAL(r.h.x[12], 0);
    rig_destroy(&r);
}

static void test_trigger_csrs_trap_below_m_mode(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 0);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    emit32(&r, CSRRS(1, 0x7a0, 0)); /* csrr tselect from S */
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ILLEGAL);
    CU_ASSERT_EQUAL(C(&r)->mtval, CSRRS(1, 0x7a0, 0));
    rig_destroy(&r);
}

static void test_debug_mode_csrs_stay_illegal_in_m_mode(void)
{
    struct rig r;
    rig_init(&r);
    C(&r)->mtvec = HANDLER;
    handler_exit(&r, HANDLER);
    emit32(&r, CSRRS(1, 0x7b0, 0)); /* dcsr: only in Debug Mode */
    rig_run(&r);
    CU_ASSERT_EQUAL(C(&r)->mcause, RV_EXC_ILLEGAL);
    rig_destroy(&r);
}

static void test_trap_to_m_without_firmware_crashes_cleanly(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 1);
    r.h.x[1] = 8;
    emit32(&r, CSRRW(0, 0x300, 1)); /* illegal from S, and mstatus is M-only */
    C(&r)->medeleg = 0;             /* force it to M */
    rv_hart_run(&r.h);
    CU_ASSERT_EQUAL(r.m.outcome.kind, VMM_OUTCOME_CRASH);
    rig_destroy(&r);
}

static void test_saved_state_resumes_on_a_new_hart(void)
{
    struct rig a;
    rig_init(&a);
    C(&a)->mscratch = 0x55;
    C(&a)->medeleg = 1 << RV_EXC_ECALL_U;
    C(&a)->stvec = SHANDLER;
    C(&a)->mstatus = 1ULL << MSTATUS_FS_SHIFT;
    atomic_store(&a.h.mtimecmp, 12345);
    a.h.x[5] = 7;
    a.h.f[3] = 0x4000000000000000ULL;
    /* first program: x5 += 1, then exit */
    emit32(&a, ADDI(5, 5, 1));
    emit_exit(&a);
    rig_run(&a);
    struct rv_hart_state st;
    rv_hart_save(&a.h, &st);
    CU_ASSERT_EQUAL(st.x[5], 8);
    CU_ASSERT_EQUAL(st.mscratch, 0x55);
    CU_ASSERT_EQUAL(st.mtimecmp, 12345);
    CU_ASSERT_EQUAL(st.pc, RAM_BASE + 8);
    CU_ASSERT_EQUAL(st.instret, 2);
    uint64_t t_saved = st.time;
    rig_destroy(&a);

    struct rig b;
    rig_init(&b);
    /* the new machine's memory holds the continuation at the saved pc */
    b.at = RAM_BASE + 8;
    emit32(&b, CSRRS(6, 0x340, 0)); /* mscratch */
    emit32(&b, CSRRS(7, 0xc01, 0)); /* time */
    emit_exit(&b);
    CU_ASSERT_EQUAL(rv_hart_load(&b.h, &st), 0);
    rig_run(&b);
    CU_ASSERT_EQUAL(b.h.x[5], 8);
    CU_ASSERT_EQUAL(b.h.x[6], 0x55);
    CU_ASSERT(b.h.x[7] >= t_saved);
    CU_ASSERT(b.h.x[7] < t_saved + 10000000); /* within a second */
    CU_ASSERT_EQUAL(b.h.f[3], 0x4000000000000000ULL);
    CU_ASSERT_EQUAL(C(&b)->stvec, SHANDLER);
    CU_ASSERT_EQUAL(atomic_load(&b.h.mtimecmp), 12345);

    struct rv_hart_state bad = st;
    bad.priv = 2;
    CU_ASSERT_EQUAL(rv_hart_load(&b.h, &bad), VMM_EINVAL);
    bad = st;
    bad.satp = 10ULL << 60;
    CU_ASSERT_EQUAL(rv_hart_load(&b.h, &bad), VMM_EINVAL);
    rig_destroy(&b);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "CSR instructions read and write", test_csr_instructions_read_and_write },
        { "writing a read-only CSR is illegal", test_writing_a_read_only_csr_is_illegal },
        { "S mode cannot touch M CSRs", test_s_mode_cannot_touch_m_csrs },
        { "sstatus is a restricted view of mstatus", test_sstatus_is_a_restricted_view_of_mstatus },
        { "FS dirty sets SD", test_fs_dirty_sets_sd },
        { "ecall from U is delegated to S", test_ecall_from_u_is_delegated_to_s },
        { "ecall from S without delegation goes to M", test_ecall_from_s_without_delegation_goes_to_m },
        { "sret returns to SPP and restores SIE", test_sret_returns_to_spp_and_restores_sie },
        { "mret to U clears MPRV", test_mret_to_u_clears_mprv },
        { "TSR TW TVM trap S mode", test_tsr_tw_tvm_trap_s_mode },
        { "illegal instruction tval is its bits", test_illegal_instruction_tval_is_its_bits },
        { "timer interrupt is taken when enabled", test_timer_interrupt_is_taken_when_enabled },
        { "interrupts disabled in M mode are not taken", test_interrupts_disabled_in_m_mode_are_not_taken },
        { "delegated software interrupt goes to S (vectored)", test_delegated_software_interrupt_goes_to_s },
        { "interrupt priority prefers external", test_interrupt_priority_prefers_external },
        { "WFI fast-forwards time in deterministic mode", test_wfi_fast_forwards_time_in_deterministic_mode },
        { "WFI sleeps until the timer", test_wfi_sleeps_until_the_timer },
        { "set_irq from another thread wakes WFI", test_set_irq_from_another_thread_wakes_wfi },
        { "SBI ecall reaches the hook and advances pc", test_sbi_ecall_reaches_the_hook_and_advances_pc },
        { "one SBI ecall counts one hypercall", test_one_sbi_ecall_counts_one_hypercall },
        { "SBI mode delegates page faults and reads time", test_sbi_mode_delegates_page_faults_and_reads_time },
        { "SBI timer raises STIP", test_sbi_timer_raises_stip },
        { "HSM stopped hart starts at the given pc", test_hsm_stopped_hart_starts_at_the_given_pc },
        { "counter access follows counteren", test_counter_access_follows_counteren },
        { "mcycle and minstret writes set the counters", test_mcycle_and_minstret_writes_set_the_counters },
        { "cycle and instret stay read-only", test_cycle_and_instret_stay_read_only },
        { "S mode cannot write mcycle", test_s_mode_cannot_write_mcycle },
        { "trigger CSRs read as no triggers", test_trigger_csrs_read_as_no_triggers },
        { "trigger CSRs trap below M mode", test_trigger_csrs_trap_below_m_mode },
        { "debug-mode CSRs stay illegal in M mode", test_debug_mode_csrs_stay_illegal_in_m_mode },
        { "trap to M without firmware crashes cleanly", test_trap_to_m_without_firmware_crashes_cleanly },
        { "saved state resumes on a new hart", test_saved_state_resumes_on_a_new_hart },
        { NULL, NULL },
    };
    return unit_main("rv_priv", tests);
}
