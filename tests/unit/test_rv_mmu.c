/* Sv39/Sv48 translation and the shadow page table of the soft engine's CPU
 * core: A/D updates in guest memory, every page-fault rule, sfence.vma,
 * MPRV, and the TLB counters. */
#include <stdio.h>

#include "rv_rig.h"

#define HANDLER (RAM_BASE + 0x1000)
#define ROOT (RAM_BASE + 0x100000)
#define L1 (RAM_BASE + 0x101000)
#define L0 (RAM_BASE + 0x102000)
#define DATA (RAM_BASE + 0x200000)
#define VA 0x40000000ULL

#define V 0x1ULL
#define R 0x2ULL
#define W 0x4ULL
#define X 0x8ULL
#define U 0x10ULL
#define A 0x40ULL
#define D 0x80ULL

static uint64_t pte(uint64_t pa, uint64_t flags)
{
    return (pa >> 12) << 10 | flags;
}

/* Identity gigapages for MMIO (0-1 GiB) and RAM (2-3 GiB), a table for
 * 1-2 GiB whose first entries map VA + i * 4 KiB to DATA + i * 4 KiB with
 * the flags given per test. Returns the satp value. */
static uint64_t sv39_setup(struct rig *r)
{
    put64(r, ROOT + 0 * 8, pte(0, V | R | W | A | D));
    put64(r, ROOT + 2 * 8, pte(RAM_BASE, V | R | W | X | A | D));
    put64(r, ROOT + 1 * 8, pte(L1, V));
    put64(r, L1 + 0 * 8, pte(L0, V));
    return (8ULL << 60) | (ROOT >> 12);
}

static void map4k(struct rig *r, int i, uint64_t flags)
{
    put64(r, L0 + (uint64_t)i * 8, pte(DATA + (uint64_t)i * 4096, flags));
}

/* S-mode rig with paging enabled by the first two instructions; faults go
 * to an M handler that ends the run. */
static void rig_paged(struct rig *r)
{
    rig_init_mode(r, RV_PRIV_S, 0);
    rv_cpu(&r->h)->mtvec = HANDLER;
    uint64_t save = r->at;
    r->at = HANDLER;
    emit_exit(r);
    r->at = save;
    r->h.x[30] = sv39_setup(r);
    emit32(r, CSRRW(0, 0x180, 30));
    emit32(r, 0x12000073u); /* sfence.vma */
}

static void test_sv39_load_and_store_set_accessed_and_dirty(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W);
    map4k(&r, 1, V | R | W);
    put64(&r, DATA + 8, 0x5555);
    r.h.x[1] = VA;
    r.h.x[2] = 0x77;
    emit32(&r, LD(3, 1, 8));
    emit32(&r, SD(2, 1, 2040));        /* page 0, offset 2040 */
    emit32(&r, LUI(4, 0x40001));      /* x4 = VA + 4096 */
    emit32(&r, LD(5, 4, 0));          /* load only: page 1 */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[3], 0x5555);
    CU_ASSERT_EQUAL(get64(&r, DATA + 2040), 0x77);
    uint64_t p0 = get64(&r, L0), p1 = get64(&r, L0 + 8);
    CU_ASSERT((p0 & (A | D)) == (A | D));
    CU_ASSERT(p1 & A);
    CU_ASSERT_FALSE(p1 & D);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, 0);
    CU_ASSERT(r.m.vcpus[0].stats.tlb_misses >= 3);
    CU_ASSERT(r.m.vcpus[0].stats.tlb_flushes >= 2);
    rig_destroy(&r);
}

static void expect_fault(struct rig *r, uint64_t cause, uint64_t tval)
{
    rig_run(r);
    CU_ASSERT_EQUAL(rv_cpu(&r->h)->mcause, cause);
    CU_ASSERT_EQUAL(rv_cpu(&r->h)->mtval, tval);
    if (rv_cpu(&r->h)->mcause != cause || rv_cpu(&r->h)->mtval != tval)
        fprintf(stderr, "  got cause %llu tval 0x%llx\n",
                (unsigned long long)rv_cpu(&r->h)->mcause, (unsigned long long)rv_cpu(&r->h)->mtval);
}

static void test_unmapped_page_gives_load_page_fault(void)
{
    struct rig r;
    rig_paged(&r);
    r.h.x[1] = VA + 5 * 4096 + 16;
    emit32(&r, LD(3, 1, 0));
    expect_fault(&r, RV_EXC_LOAD_PAGE, VA + 5 * 4096 + 16);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mepc, RAM_BASE + 8);
    rig_destroy(&r);
}

static void test_store_to_read_only_page_faults(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | A);
    r.h.x[1] = VA;
    emit32(&r, LD(3, 1, 0));  /* fine */
    emit32(&r, SD(3, 1, 0));  /* store page fault */
    expect_fault(&r, RV_EXC_STORE_PAGE, VA);
    CU_ASSERT_FALSE(get64(&r, L0) & D);
    rig_destroy(&r);
}

/* A misaligned store whose second half faults writes nothing at all: the
 * spec's "a faulting store has no effect", also for the bytes on the page
 * that could have been written. */
static void test_misaligned_store_into_unmapped_memory_writes_nothing(void)
{
    struct rig r;
    rig_init(&r); /* M-mode: physical addresses */
    rv_cpu(&r.h)->mtvec = HANDLER;
    uint64_t save = r.at;
    r.at = HANDLER;
    emit_exit(&r);
    r.at = save;
    uint64_t last = RAM_BASE + RAM_SIZE - 8; /* the last 8 bytes of RAM */
    put64(&r, last, 0x1111111111111111ULL);
    r.h.x[1] = last + 4; /* 4 bytes of RAM, then 4 bytes of nothing */
    r.h.x[2] = 0x2222222222222222ULL;
    emit32(&r, SD(2, 1, 0));
    expect_fault(&r, RV_EXC_STORE_ACCESS, RAM_BASE + RAM_SIZE);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mepc, RAM_BASE);
    CU_ASSERT_EQUAL(get64(&r, last), 0x1111111111111111ULL);
    rig_destroy(&r);
}

static void test_misaligned_store_into_a_read_only_page_writes_nothing(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W | A | D);
    map4k(&r, 1, V | R | A); /* read-only */
    put64(&r, DATA + 4088, 0x1111111111111111ULL);
    put64(&r, DATA + 4096, 0x3333333333333333ULL);
    r.h.x[1] = VA + 4092;
    r.h.x[2] = 0x2222222222222222ULL;
    r.h.x[3] = VA;
    emit32(&r, SD(2, 3, 0)); /* page 0 is now in the shadow TLB */
    emit32(&r, SD(2, 1, 0));
    /* mtval: the first address of the part that faulted */
    expect_fault(&r, RV_EXC_STORE_PAGE, VA + 4096);
    CU_ASSERT_EQUAL(get64(&r, DATA + 4088), 0x1111111111111111ULL);
    CU_ASSERT_EQUAL(get64(&r, DATA + 4096), 0x3333333333333333ULL);
    CU_ASSERT_FALSE(get64(&r, L0 + 8) & D);
    rig_destroy(&r);
}

static void test_misaligned_store_into_an_unmapped_page_writes_nothing(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W | A | D); /* page 1 left invalid */
    put64(&r, DATA + 4088, 0x1111111111111111ULL);
    r.h.x[1] = VA + 4094;
    r.h.x[2] = 0x22222222;
    emit32(&r, SW(2, 1, 0));
    expect_fault(&r, RV_EXC_STORE_PAGE, VA + 4096);
    CU_ASSERT_EQUAL(get64(&r, DATA + 4088), 0x1111111111111111ULL);
    rig_destroy(&r);
}

static void test_misaligned_store_across_two_pages_writes_both(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W | A | D);
    map4k(&r, 1, V | R | W | A | D);
    r.h.x[1] = VA + 4093;
    r.h.x[2] = 0x8877665544332211ULL;
    emit32(&r, SD(0, 1, 0));   /* through a page walk of each page */
    emit32(&r, SD(2, 1, 0));   /* through the shadow TLB */
    emit32(&r, LD(3, 1, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mcause, 0);
    CU_ASSERT_EQUAL(r.h.x[3], 0x8877665544332211ULL);
    const uint8_t *p = rig_ptr(&r, DATA + 4093);
    CU_ASSERT_EQUAL(p[0], 0x11);
    CU_ASSERT_EQUAL(p[2], 0x33);
    CU_ASSERT_EQUAL(*(const uint8_t *)rig_ptr(&r, DATA + 4096), 0x44);
    CU_ASSERT_EQUAL(*(const uint8_t *)rig_ptr(&r, DATA + 4100), 0x88);
    rig_destroy(&r);
}

static void test_user_page_needs_sum_in_s_mode(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W | U);
    r.h.x[1] = VA;
    r.h.x[2] = MSTATUS_SUM;
    emit32(&r, CSRRS(0, 0x100, 2)); /* SUM on */
    emit32(&r, LD(3, 1, 0));        /* allowed */
    emit32(&r, CSRRC(0, 0x100, 2)); /* SUM off */
    emit32(&r, LD(4, 1, 0));        /* faults, even though the TLB has it */
    expect_fault(&r, RV_EXC_LOAD_PAGE, VA);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mepc, RAM_BASE + 20);
    rig_destroy(&r);
}

static void test_s_mode_never_executes_user_pages(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | X | U);
    r.h.x[1] = VA;
    r.h.x[2] = MSTATUS_SUM;
    emit32(&r, CSRRS(0, 0x100, 2));
    emit32(&r, enc_i(0, 1, 0, 0, 0x67)); /* jr VA */
    expect_fault(&r, RV_EXC_INSN_PAGE, VA);
    rig_destroy(&r);
}

static void test_fetch_from_non_executable_page_faults(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W);
    r.h.x[1] = VA + 0x10;
    emit32(&r, enc_i(0, 1, 0, 0, 0x67));
    expect_fault(&r, RV_EXC_INSN_PAGE, VA + 0x10);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mepc, VA + 0x10);
    rig_destroy(&r);
}

static void test_mxr_makes_executable_pages_readable(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | X);
    put64(&r, DATA, 0xabcdef);
    r.h.x[1] = VA;
    r.h.x[2] = MSTATUS_MXR;
    emit32(&r, CSRRS(0, 0x100, 2));
    emit32(&r, LD(3, 1, 0)); /* allowed with MXR */
    emit32(&r, CSRRC(0, 0x100, 2));
    emit32(&r, LD(4, 1, 0)); /* not without */
    expect_fault(&r, RV_EXC_LOAD_PAGE, VA);
    CU_ASSERT_EQUAL(r.h.x[3], 0xabcdef);
    rig_destroy(&r);
}

static void test_misaligned_superpage_faults(void)
{
    struct rig r;
    rig_paged(&r);
    put64(&r, ROOT + 3 * 8, pte(RAM_BASE + 0x200000, V | R | W | A | D)); /* 1 GiB leaf, not aligned */
    r.h.x[1] = 3ULL << 30;
    emit32(&r, LD(3, 1, 0));
    expect_fault(&r, RV_EXC_LOAD_PAGE, 3ULL << 30);
    rig_destroy(&r);
}

static void test_reserved_pte_bits_and_w_without_r_fault(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W | (1ULL << 60));
    map4k(&r, 1, V | W);
    r.h.x[1] = VA;
    emit32(&r, LD(3, 1, 0));
    expect_fault(&r, RV_EXC_LOAD_PAGE, VA);
    rig_destroy(&r);

    rig_paged(&r);
    map4k(&r, 1, V | W);
    r.h.x[1] = VA + 4096;
    emit32(&r, LD(3, 1, 0));
    expect_fault(&r, RV_EXC_LOAD_PAGE, VA + 4096);
    rig_destroy(&r);
}

static void test_non_canonical_address_faults(void)
{
    struct rig r;
    rig_paged(&r);
    r.h.x[1] = 1ULL << 40; /* bits 63..39 not copies of bit 38 */
    emit32(&r, SD(0, 1, 0));
    expect_fault(&r, RV_EXC_STORE_PAGE, 1ULL << 40);
    rig_destroy(&r);
}

static void test_sfence_vma_makes_new_mapping_visible(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W | A | D);
    put64(&r, DATA, 1);
    put64(&r, DATA + 4096, 2);
    r.h.x[1] = VA;
    r.h.x[2] = L0;
    r.h.x[6] = pte(DATA + 4096, V | R | W | A | D);
    emit32(&r, LD(3, 1, 0));        /* 1, now cached */
    emit32(&r, SD(6, 2, 0));        /* remap VA -> DATA + 4096 (L0 is identity-mapped) */
    emit32(&r, enc_r(0x09, 0, 1, 0, 0, 0x73)); /* sfence.vma VA */
    emit32(&r, LD(4, 1, 0));        /* 2 */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[3], 1);
    CU_ASSERT_EQUAL(r.h.x[4], 2);
    rig_destroy(&r);
}

static void test_sfence_vma_of_one_address_drops_the_whole_superpage(void)
{
    struct rig r;
    rig_paged(&r);
    /* L1[1]: a 2 MiB page at VA + 2 MiB -> data2, later moved to data3 */
    uint64_t data2 = RAM_BASE + 0x400000, data3 = RAM_BASE + 0x600000;
    put64(&r, L1 + 8, pte(data2, V | R | W | A | D));
    put64(&r, data2 + 0x5000, 1);
    put64(&r, data3 + 0x5000, 2);
    r.h.x[1] = VA + 0x200000;
    r.h.x[2] = L1 + 8;
    r.h.x[6] = pte(data3, V | R | W | A | D);
    emit32(&r, LUI(7, 0x5));          /* x7 = 0x5000 */
    emit32(&r, OP(0, 0, 8, 1, 7));    /* x8 = VA + 2 MiB + 0x5000 */
    emit32(&r, LD(3, 8, 0));          /* 1: cached */
    emit32(&r, SD(6, 2, 0));          /* move the superpage */
    emit32(&r, enc_r(0x09, 0, 1, 0, 0, 0x73)); /* sfence.vma VA + 2 MiB (another 4 KiB page) */
    emit32(&r, LD(4, 8, 0));          /* 2 */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[3], 1);
    CU_ASSERT_EQUAL(r.h.x[4], 2);
    rig_destroy(&r);
}

/* The same for a 1 GiB page, flushed through an address in another 2 MiB
 * region of it: sfence.vma skips its scan of the TLB only for addresses no
 * cached superpage can hold, and this one is held by the gigapage. */
static void test_sfence_vma_of_one_address_drops_the_whole_gigapage(void)
{
    struct rig r;
    rig_paged(&r);
    put64(&r, ROOT + 3 * 8, pte(RAM_BASE, V | R | W | A | D)); /* 3 GiB -> RAM */
    put64(&r, RAM_BASE + 0x5000, 7);
    r.h.x[8] = 0xc0005000ULL;
    r.h.x[1] = 0xc0300000ULL; /* same gigapage, another 2 MiB region */
    r.h.x[2] = ROOT + 3 * 8;  /* identity-mapped through the RAM gigapage */
    emit32(&r, LD(3, 8, 0));  /* 7: cached */
    emit32(&r, SD(0, 2, 0));  /* unmap the gigapage */
    emit32(&r, enc_r(0x09, 0, 1, 0, 0, 0x73)); /* sfence.vma 3 GiB + 3 MiB */
    emit32(&r, LD(4, 8, 0));  /* faults */
    emit_exit(&r);
    expect_fault(&r, RV_EXC_LOAD_PAGE, 0xc0005000ULL);
    CU_ASSERT_EQUAL(r.h.x[3], 7);
    rig_destroy(&r);
}

static void test_u_mode_cannot_access_supervisor_pages(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W | X | U | A);
    map4k(&r, 1, V | R | W | A);
    /* user code at VA: exit via ecall -> M handler */
    uint32_t code[2] = { LD(3, 1, 0), ECALL };
    memcpy(rig_ptr(&r, DATA), code, sizeof(code));
    r.h.x[1] = VA + 4096;
    rv_cpu(&r.h)->sepc = VA;
    emit32(&r, SRET); /* SPP = U */
    expect_fault(&r, RV_EXC_LOAD_PAGE, VA + 4096);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->mepc, VA);
    CU_ASSERT_EQUAL((rv_cpu(&r.h)->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT, RV_PRIV_U);
    rig_destroy(&r);
}

static void test_mprv_translates_m_mode_data_accesses(void)
{
    struct rig r;
    rig_init(&r);
    struct rv_cpu *c = rv_cpu(&r.h);
    c->satp = sv39_setup(&r);
    map4k(&r, 0, V | R | W | A | D);
    put64(&r, DATA + 16, 0x1234);
    c->mstatus = MSTATUS_MPRV | (1ULL << MSTATUS_MPP_SHIFT); /* MPP = S */
    rv_cpu_update_ctx(&r.h);
    r.h.x[1] = VA;
    emit32(&r, LD(3, 1, 16));
    r.h.x[31] = EXIT_ADDR; /* identity gigapage maps it */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[3], 0x1234);
    rig_destroy(&r);
}

static void test_sv48_translation_works(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 0);
    rv_cpu(&r.h)->mtvec = HANDLER;
    uint64_t top = RAM_BASE + 0x110000;
    /* level 3 entry 0 -> the Sv39 root used as level 2 */
    sv39_setup(&r);
    put64(&r, top, pte(ROOT, V));
    map4k(&r, 0, V | R | W);
    put64(&r, DATA, 0x48);
    r.h.x[30] = (9ULL << 60) | (top >> 12);
    r.h.x[1] = VA;
    emit32(&r, CSRRW(0, 0x180, 30));
    emit32(&r, CSRRS(5, 0x180, 0));
    emit32(&r, LD(3, 1, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[5] >> 60, 9);
    CU_ASSERT_EQUAL(r.h.x[3], 0x48);
    rig_destroy(&r);
}

static void test_unsupported_satp_mode_is_ignored(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 0);
    r.h.x[1] = (10ULL << 60) | 0x1234; /* Sv57 */
    emit32(&r, CSRRW(0, 0x180, 1));
    emit32(&r, CSRRS(2, 0x180, 0));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[2], 0);
    rig_destroy(&r);
}

static void test_tlb_hits_are_counted(void)
{
    struct rig r;
    rig_paged(&r);
    map4k(&r, 0, V | R | W | A | D);
    r.h.x[1] = VA;
    r.h.x[2] = 100;
    emit32(&r, LD(3, 1, 0));
    emit32(&r, ADDI(2, 2, -1));
    emit32(&r, enc_b(-8, 0, 2, 1));
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT(r.m.vcpus[0].stats.tlb_hits >= 99);
    rig_destroy(&r);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "Sv39 load and store set accessed and dirty", test_sv39_load_and_store_set_accessed_and_dirty },
        { "unmapped page gives load page fault", test_unmapped_page_gives_load_page_fault },
        { "store to read-only page faults", test_store_to_read_only_page_faults },
        { "misaligned store into unmapped memory writes nothing", test_misaligned_store_into_unmapped_memory_writes_nothing },
        { "misaligned store into a read-only page writes nothing", test_misaligned_store_into_a_read_only_page_writes_nothing },
        { "misaligned store into an unmapped page writes nothing", test_misaligned_store_into_an_unmapped_page_writes_nothing },
        { "misaligned store across two pages writes both", test_misaligned_store_across_two_pages_writes_both },
        { "user page needs SUM in S mode", test_user_page_needs_sum_in_s_mode },
        { "S mode never executes user pages", test_s_mode_never_executes_user_pages },
        { "fetch from non-executable page faults", test_fetch_from_non_executable_page_faults },
        { "MXR makes executable pages readable", test_mxr_makes_executable_pages_readable },
        { "misaligned superpage faults", test_misaligned_superpage_faults },
        { "reserved PTE bits and W without R fault", test_reserved_pte_bits_and_w_without_r_fault },
        { "non-canonical address faults", test_non_canonical_address_faults },
        { "sfence.vma makes new mapping visible", test_sfence_vma_makes_new_mapping_visible },
        { "sfence.vma of one address drops the whole superpage", test_sfence_vma_of_one_address_drops_the_whole_superpage },
        { "sfence.vma of one address drops the whole gigapage",
          test_sfence_vma_of_one_address_drops_the_whole_gigapage },
        { "U mode cannot access supervisor pages", test_u_mode_cannot_access_supervisor_pages },
        { "MPRV translates M-mode data accesses", test_mprv_translates_m_mode_data_accesses },
        { "Sv48 translation works", test_sv48_translation_works },
        { "unsupported satp mode is ignored", test_unsupported_satp_mode_is_ignored },
        { "TLB hits are counted", test_tlb_hits_are_counted },
        { NULL, NULL },
    };
    return unit_main("rv_mmu", tests);
}
