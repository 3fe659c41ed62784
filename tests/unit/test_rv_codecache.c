/* The soft engine's decoded-instruction cache and lazy FP flags: stores
 * over decoded code (every width and alignment, AMOs, the very next
 * instruction) are seen at once; an instruction spanning two pages; a
 * decoded page evicted from the cache while a fetch TLB entry in another
 * slot still points at it; guest fflags exact while the host's MXCSR holds
 * them, and the host's own MXCSR flags neither leaking in nor lost. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "rv_rig.h"

#define S (RAM_BASE + 0x40)

/* Calls a subroutine at S (x6 = 1; return) so it gets decoded, runs
 * `store` (x1 = S, x2 = patch_insn) over it, and calls it again: x6 shows
 * which version ran. */
static void sub_prog(struct rig *r, uint32_t patch_insn, uint32_t store)
{
    r->h.x[1] = S;
    r->h.x[2] = patch_insn;
    emit32(r, enc_j(0x40 - 0, 5));
    emit32(r, store);
    emit32(r, enc_j(0x40 - 8, 5));
    emit_exit(r);
    r->at = S;
    emit32(r, ADDI(6, 0, 1));
    emit32(r, enc_i(0, 5, 0, 0, 0x67));
}

static void test_halfword_store_over_decoded_code_is_seen(void)
{
    struct rig r;
    rig_init(&r);
    sub_prog(&r, ADDI(6, 0, 0x55) >> 16, STOREI(1, 2, 1, 2));
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[6], 0x55);
    rig_destroy(&r);
}

static void test_byte_store_into_an_instruction_is_seen(void)
{
    struct rig r;
    rig_init(&r);
    sub_prog(&r, 0x55, STOREI(0, 2, 1, 3));
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[6], 0x551);
    rig_destroy(&r);
}

static void test_amo_over_decoded_code_is_seen(void)
{
    struct rig r;
    rig_init(&r);
    /* amoswap.w x7, x2, (x1) */
    sub_prog(&r, ADDI(6, 0, 0x77), enc_r(0x01 << 2, 2, 1, 2, 7, 0x2f));
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[6], 0x77);
    CU_ASSERT_EQUAL(r.h.x[7], (uint64_t)(int64_t)(int32_t)ADDI(6, 0, 1));
    rig_destroy(&r);
}

static void test_store_patching_the_next_decoded_instruction_is_seen(void)
{
    struct rig r;
    rig_init(&r);
    /* loop twice: the second time, a store patches the very next
     * instruction, already decoded in the first */
    r.h.x[1] = RAM_BASE + 8;
    r.h.x[2] = ADDI(6, 6, 1);
    r.h.x[9] = ADDI(6, 6, 100) - ADDI(6, 6, 1);
    r.h.x[8] = 2;
    emit32(&r, ADDI(0, 0, 0));          /* 0 */
    emit32(&r, SW(2, 1, 0));            /* 4: patch 8 */
    emit32(&r, ADDI(6, 6, 1));          /* 8 */
    emit32(&r, OP(0, 0, 2, 2, 9));      /* c: add x2, x2, x9 */
    emit32(&r, ADDI(8, 8, -1));         /* 10 */
    emit32(&r, enc_b(-16, 0, 8, 1));    /* 14: bne x8, x0, 4 */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[6], 101);
    rig_destroy(&r);
}

static void test_misaligned_store_across_two_instructions_is_seen(void)
{
    struct rig r;
    rig_init(&r);
    /* sw at S+2 (misaligned): upper half of insn 0 and lower half of insn 1 */
    uint32_t a = ADDI(6, 0, 0x33), b = enc_i(0, 5, 0, 0, 0x67);
    sub_prog(&r, (a >> 16) | (b & 0xffff) << 16, STOREI(2, 2, 1, 2));
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[6], 0x33);
    rig_destroy(&r);
}

static void test_store_over_compressed_instruction_is_seen(void)
{
    struct rig r;
    rig_init(&r);
    /* c.li x6, 5 = 010 imm5 rd imm4:0 01 */
    uint16_t cli5 = (uint16_t)(0x4000 | 6 << 7 | 5 << 2 | 1);
    uint16_t cli9 = (uint16_t)(0x4000 | 6 << 7 | 9 << 2 | 1);
    r.h.x[1] = S;
    r.h.x[2] = cli9;
    emit32(&r, enc_j(0x40 - 0, 5));
    emit32(&r, STOREI(1, 2, 1, 0));
    emit32(&r, enc_j(0x40 - 8, 5));
    emit_exit(&r);
    r.at = S;
    emit16(&r, cli5);
    emit16(&r, 0x0001); /* c.nop */
    emit32(&r, enc_i(0, 5, 0, 0, 0x67));
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[6], 9);
    rig_destroy(&r);
}

/* Straight-line code runs off a page's end into the next page, from a
 * 4-byte and from a 2-byte last instruction: the step past a decoded
 * page's last slot lands on its never-written guard and ends the page. */
static void test_straight_line_code_runs_off_a_page_end(void)
{
    struct rig r;
    rig_init(&r);
    emit32(&r, enc_j(0xff8, 0));    /* 0: j 0xff8 */
    r.at = RAM_BASE + 0xff8;
    emit32(&r, ADDI(7, 0, 1));      /* ff8 */
    emit32(&r, ADDI(7, 7, 2));      /* ffc: the last instruction of the page */
    emit32(&r, ADDI(7, 7, 4));      /* 1000 */
    emit32(&r, enc_j(0x1ffc - 0x1004, 0)); /* 1004: j 1ffc */
    r.at = RAM_BASE + 0x1ffc;
    emit16(&r, 0x0001);             /* 1ffc: c.nop */
    emit16(&r, 0x07a1);             /* 1ffe: c.addi x15, 8 (the last, 2 bytes) */
    emit32(&r, ADDI(7, 7, 16));     /* 2000 */
    emit_exit(&r);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[7], 23);
    CU_ASSERT_EQUAL(r.h.x[15], 8);
    rig_destroy(&r);
}

static void test_instructions_spanning_pages_link_and_branch(void)
{
    struct rig r;
    rig_init(&r);
    emit32(&r, enc_j(0xff0, 0));                 /* 0: j 0xff0 */
    r.at = RAM_BASE + 0xff0;
    emit32(&r, ADDI(7, 0, 5));                   /* ff0 */
    emit32(&r, ADDI(0, 0, 0));                   /* ff4 */
    emit32(&r, ADDI(0, 0, 0));                   /* ff8 */
    emit16(&r, 0x0001);                          /* ffc: c.nop */
    emit32(&r, AUIPC(8, 0));                     /* ffe: auipc x8 (crosses) */
    emit32(&r, ADDI(0, 0, 0));                   /* 1002 */
    emit16(&r, 0x0001);                          /* 1006 */
    /* second page: loop back to a crossing jal */
    emit32(&r, ADDI(7, 7, -1));                  /* 1008 */
    emit32(&r, enc_b(0x1ffe - 0x100c, 0, 7, 1)); /* 100c: bne x7, x0, 1ffe */
    emit_exit(&r);                               /* 1010 */
    r.at = RAM_BASE + 0x1ffe;
    emit32(&r, enc_j(0x1008 - 0x1ffe, 9));       /* 1ffe: jal x9, 1008 (crosses) */
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[8], RAM_BASE + 0xffe);
    CU_ASSERT_EQUAL(r.h.x[9], RAM_BASE + 0x2002);
    CU_ASSERT_EQUAL(r.h.x[7], 0);
    CU_ASSERT_EQUAL(r.h.pc, RAM_BASE + 0x1014);
    rig_destroy(&r);
}

#define FOP(f7, rs2, rs1, rm, rd) enc_r(f7, rs2, rs1, rm, rd, 0x53)
static void test_fflags_exact_with_lazy_mxcsr(void)
{
    struct rig r;
    rig_init(&r);
    r.h.x[1] = 0x6000;
    r.h.x[2] = 1;
    r.h.x[3] = 3;
    r.h.x[4] = 0;
    emit32(&r, CSRRS(0, 0x300, 1));          /* mstatus.FS on */
    emit32(&r, FOP(0x69, 2, 2, 0, 1));       /* fcvt.d.l f1 = 1 */
    emit32(&r, FOP(0x69, 2, 3, 0, 3));       /* fcvt.d.l f3 = 3 */
    emit32(&r, FOP(0x69, 2, 4, 0, 4));       /* fcvt.d.l f4 = 0 */
    emit32(&r, FOP(0x0d, 3, 1, 7, 5));       /* fdiv.d f5 = 1/3: NX */
    emit32(&r, CSRRW(10, 0x001, 0));         /* x10 = fflags, clear */
    emit32(&r, FOP(0x01, 1, 1, 7, 6));       /* fadd.d f6 = 2: exact */
    emit32(&r, CSRRS(11, 0x001, 0));         /* x11 = fflags (0) */
    emit32(&r, FOP(0x0d, 4, 1, 0, 7));       /* fdiv.d 1/0: DZ */
    emit32(&r, FOP(0x0d, 3, 1, 1, 8));       /* fdiv.d rtz 1/3: NX (bracketed) */
    emit32(&r, FOP(0x01, 1, 1, 0, 6));       /* fadd.d exact */
    emit32(&r, CSRRS(12, 0x003, 0));         /* x12 = fcsr */
    emit32(&r, CSRRW(0, 0x001, 0));          /* clear */
    emit32(&r, FOP(0x01, 1, 1, 0, 6));       /* fadd.d exact, then leave rv_exec */
    emit_exit(&r);
#if defined(__x86_64__)
    __builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() | 0x04); /* host ZE set */
#endif
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[10], 0x01);
    CU_ASSERT_EQUAL(r.h.x[11], 0);
    CU_ASSERT_EQUAL(r.h.x[12], 0x09);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->fflags, 0);
    CU_ASSERT_EQUAL(rv_cpu(&r.h)->fp_live, 0);
#if defined(__x86_64__)
    CU_ASSERT_EQUAL(__builtin_ia32_stmxcsr() & 0x3f, 0x04); /* host's, kept */
    __builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() & ~0x3fu);
#endif
    rig_destroy(&r);
}

static void test_pages_sharing_a_cache_slot_alternate(void)
{
    struct rig r;
    rig_init(&r);
    /* Code at P and at P + 4 MiB share a decode-cache slot: call each in
     * turn 100 times; each adds its own constant. */
    uint64_t p1 = RAM_BASE + 0x1000, p2 = RAM_BASE + 0x401000;
    r.h.x[1] = p1; r.h.x[2] = p2; r.h.x[8] = 100;
    emit32(&r, enc_i(0, 1, 0, 5, 0x67));        /* 0: jalr x5, 0(x1) */
    emit32(&r, enc_i(0, 2, 0, 5, 0x67));        /* 4: jalr x5, 0(x2) */
    emit32(&r, ADDI(8, 8, -1));                 /* 8 */
    emit32(&r, enc_b(-12, 0, 8, 1));            /* c: bne x8, x0, 0 */
    emit_exit(&r);
    r.at = p1;
    emit32(&r, ADDI(6, 6, 1));
    emit32(&r, enc_i(0, 5, 0, 0, 0x67));
    r.at = p2;
    emit32(&r, ADDI(7, 7, 3));
    emit32(&r, enc_i(0, 5, 0, 0, 0x67));
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[6], 100);
    CU_ASSERT_EQUAL(r.h.x[7], 300);
    rig_destroy(&r);
}

#define ROOT (RAM_BASE + 0x100000)
#define L1 (RAM_BASE + 0x101000)
#define L0 (RAM_BASE + 0x102000)
static uint64_t pte(uint64_t pa, uint64_t flags) { return (pa >> 12) << 10 | flags; }
static void test_evicted_decoded_page_is_not_used_through_fetch_tlb(void)
{
    struct rig r;
    rig_init_mode(&r, RV_PRIV_S, 0);
    rv_cpu(&r.h)->mtvec = RAM_BASE + 0x1000;
    uint64_t save = r.at;
    r.at = RAM_BASE + 0x1000;
    emit_exit(&r);
    r.at = save;
    put64(&r, ROOT + 0 * 8, pte(0, 0xcf));
    put64(&r, ROOT + 2 * 8, pte(RAM_BASE, 0xcf));
    put64(&r, ROOT + 1 * 8, pte(L1, 1));
    put64(&r, L1 + 0 * 8, pte(L0, 1));
    uint64_t p1 = RAM_BASE + 0x602000, p2pa = RAM_BASE + 0x202000, p2va = 0x40005000;
    put64(&r, L0 + 5 * 8, pte(p2pa, 0xcf));
    r.h.x[30] = (8ULL << 60) | (ROOT >> 12);
    emit32(&r, CSRRW(0, 0x180, 30));
    emit32(&r, 0x12000073u);
    uint64_t loop = r.at;
    r.h.x[1] = p1; r.h.x[2] = p2va; r.h.x[8] = 100;
    emit32(&r, enc_i(0, 1, 0, 5, 0x67));
    emit32(&r, enc_i(0, 2, 0, 5, 0x67));
    emit32(&r, ADDI(8, 8, -1));
    emit32(&r, enc_b((int)(loop - r.at), 0, 8, 1));
    emit_exit(&r);
    r.at = p1;
    emit32(&r, ADDI(6, 6, 1));
    emit32(&r, enc_i(0, 5, 0, 0, 0x67));
    r.at = p2pa;
    emit32(&r, ADDI(7, 7, 3));
    emit32(&r, enc_i(0, 5, 0, 0, 0x67));
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[6], 100);
    CU_ASSERT_EQUAL(r.h.x[7], 300);
    CU_ASSERT_EQUAL(r.h.x[8], 0);
    rig_destroy(&r);
}

/* Bytes of [p, p + len) the OS backs with memory of this process's own (p
 * page-aligned): pages present and exclusively mapped, from
 * /proc/self/pagemap (bits 63 and 56, readable without privileges). A page
 * only ever read maps the shared zero page, which mincore would count but
 * resident-set size does not. */
static size_t resident_bytes(void *p, size_t len)
{
    size_t pages = (len + 4095) / 4096, n = 0;
    uint64_t *ent = calloc(pages, sizeof(*ent));
    CU_ASSERT_FATAL(ent != NULL);
    FILE *f = fopen("/proc/self/pagemap", "rb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fseek(f, (long)((uintptr_t)p / 4096 * 8), SEEK_SET) == 0);
    CU_ASSERT_FATAL(fread(ent, 8, pages, f) == pages);
    fclose(f);
    for (size_t i = 0; i < pages; i++)
        n += (ent[i] >> 63) & (ent[i] >> 56) & 1;
    free(ent);
    return n * 4096;
}

/* Code that runs, twice, n pieces `stride` bytes apart from `first` on,
 * each adding 1 to x5 and jumping to the next (rig_run runs it). */
static void emit_pieces_twice(struct rig *r, uint64_t first, unsigned stride, unsigned n)
{
    r->h.x[1] = first;
    r->h.x[8] = 2;
    emit32(r, enc_i(0, 1, 0, 0, 0x67)); /* jr first */
    for (unsigned i = 0; i < n; i++) {
        r->at = first + (uint64_t)stride * i;
        emit32(r, ADDI(5, 5, 1));
        emit32(r, enc_j((int)stride - 4, 0)); /* to the next piece */
    }
    r->at = first + (uint64_t)stride * n;
    emit32(r, ADDI(8, 8, -1));
    emit32(r, enc_b(8, 0, 8, 0));       /* beq x8, x0, exit */
    emit32(r, enc_i(0, 1, 0, 0, 0x67)); /* jr first: the second round */
    emit_exit(r);
}

/* Code on twice as many pages as the decode cache has slots, run twice:
 * every slot gets used and reused, and the hart's host memory (what it
 * allocated, and what the OS backs of the cache) stays within the bound
 * the host pool is told about. */
static void test_decode_cache_stays_within_its_host_memory_bound(void)
{
    struct rig r;
    rig_init(&r);
    struct rv_cpu *c = rv_cpu(&r.h);
    const unsigned npages = 2 * RV_DC_SLOTS + 100;
    CU_ASSERT_FATAL((npages + 2) * 4096ULL <= RAM_SIZE);
    size_t before = rv_cpu_host_bytes(&r.h);
    CU_ASSERT(before > RV_DC_SLOTS * RV_DC_SLOT_BYTES);
    CU_ASSERT(before <= RV_CPU_MAX_HOST_BYTES);

    emit_pieces_twice(&r, RAM_BASE + 0x1000, 4096, npages);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[5], 2 * npages);

    unsigned live = 0;
    for (unsigned i = 0; i < RV_DC_SLOTS; i++)
        live += (c->dpages[i].key & 1) && c->dpages[i].gen == c->icache_gen;
    CU_ASSERT_EQUAL(live, RV_DC_SLOTS); /* full, and no page beyond it */
    CU_ASSERT_EQUAL(rv_cpu_host_bytes(&r.h), before);
    size_t resident = resident_bytes(c->dinsn, RV_DC_BYTES);
    CU_ASSERT(resident <= RV_DC_SLOTS * RV_DC_SLOT_BYTES);
    CU_ASSERT(resident > 0);
    /* Reusing a slot empties it without making the OS back all 16 KiB of
     * it, and nothing but instructions is written into a slot: each page
     * ran two instructions at its start, so one host page of each slot is
     * resident, not the 4 a memset of the whole slot would touch (nor,
     * as before, a page for a header and one for end marks). */
    CU_ASSERT(resident <= (size_t)RV_DC_SLOTS * 4096);
    if (resident > (size_t)RV_DC_SLOTS * 4096)
        fprintf(stderr, "  %zu bytes of the decode cache resident\n", resident);
    CU_ASSERT(sizeof(*c) + RV_DC_SLOTS * RV_DC_SLOT_BYTES <= RV_CPU_MAX_HOST_BYTES);
    rig_destroy(&r);
}

/* Code in twice as many 1 KiB pieces as the decode cache may keep host
 * pages for (each piece decodes into a host page of its slot of its own),
 * run twice: the cache gives its memory back when decoding has written
 * RV_DC_RESIDENT_PAGES host pages, what stays resident is within that
 * budget (plus the few pages decoded before the run could stop), and the
 * second round, decoded again after the releases, counts right. */
static void test_decode_cache_gives_memory_back_past_its_budget(void)
{
    struct rig r;
    rig_init(&r);
    struct rv_cpu *c = rv_cpu(&r.h);
    const unsigned npieces = 2 * RV_DC_RESIDENT_PAGES + 160;
    CU_ASSERT_FATAL(npieces / 4 + 1 < RV_DC_SLOTS); /* no page evicts another */
    CU_ASSERT_FATAL(RAM_BASE + 0x1000 + 1024ULL * (npieces + 4) <= RAM_BASE + RAM_SIZE);
    emit_pieces_twice(&r, RAM_BASE + 0x1000, 1024, npieces);
    rig_run(&r);
    CU_ASSERT_EQUAL(r.h.x[5], 2 * npieces);
    CU_ASSERT(c->dc_releases >= 2);
    size_t resident = resident_bytes(c->dinsn, RV_DC_BYTES);
    CU_ASSERT(resident > 0);
    CU_ASSERT(resident <= (RV_DC_RESIDENT_PAGES + 16) * 4096ULL);
    if (resident > (RV_DC_RESIDENT_PAGES + 16) * 4096ULL || c->dc_releases < 2)
        fprintf(stderr, "  %zu bytes of the decode cache resident, %llu releases\n", resident,
                (unsigned long long)c->dc_releases);
    rig_destroy(&r);
}

/* Interpreting code on 300 pages and then on the 300 pages 4 MiB further
 * on, which take over their decode-cache slots, twice (fewer host pages
 * than the cache's budget, RV_DC_RESIDENT_PAGES, so it never gives its
 * memory back here): each slot's host page costs one page fault. It is
 * written before it is first read (rv_dc_prefault): read first, it would
 * map the kernel's zero page and then take a copy-on-write fault, with a
 * TLB flush across the process's CPUs. A slot taken over is cleared
 * without reading the host pages of it that decoding never wrote
 * (dpage_clear): a read would map the zero page there, a fault for
 * nothing. */
static void test_decoding_costs_one_fault_a_host_page(void)
{
    struct rig r;
    rig_init(&r);
    r.h.jit = 0;
    const unsigned n = 300;
    CU_ASSERT_FATAL(n < RV_DC_RESIDENT_PAGES);
    uint64_t a = RAM_BASE + 0x1000, b = a + (uint64_t)RV_DC_SLOTS * 4096;
    CU_ASSERT_FATAL(b + (n + 1) * 4096ULL <= RAM_BASE + RAM_SIZE);
    r.h.x[1] = a;
    r.h.x[2] = b;
    r.h.x[8] = 2;
    emit32(&r, enc_i(0, 1, 0, 0, 0x67)); /* jr a */
    for (unsigned i = 0; i < 2 * n; i++) {
        r.at = (i < n ? a : b) + 4096ULL * (i % n);
        emit32(&r, ADDI(5, 5, 1));
        if (i == n - 1)
            emit32(&r, enc_i(0, 2, 0, 0, 0x67)); /* jr b */
        else
            emit32(&r, enc_j(4096 - 4, 0));       /* to the next page */
    }
    r.at = b + 4096ULL * n;
    emit32(&r, ADDI(8, 8, -1));
    emit32(&r, enc_b(8, 0, 8, 0));       /* beq x8, x0, exit */
    emit32(&r, enc_i(0, 1, 0, 0, 0x67)); /* jr a: the second round */
    emit_exit(&r);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    rig_run(&r);
    getrusage(RUSAGE_SELF, &after);
    CU_ASSERT_EQUAL(r.h.x[5], 4 * n);
    long faults = after.ru_minflt - before.ru_minflt;
    CU_ASSERT(faults >= n / 2);
    CU_ASSERT(faults < n + n / 2);
    if (faults >= n + n / 2)
        fprintf(stderr, "  %ld page faults decoding 2 x %u pages in %u slots\n", faults, n, n);
    rig_destroy(&r);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "straight-line code runs off a page end", test_straight_line_code_runs_off_a_page_end },
        { "halfword store over decoded code is seen", test_halfword_store_over_decoded_code_is_seen },
        { "byte store into an instruction is seen", test_byte_store_into_an_instruction_is_seen },
        { "AMO over decoded code is seen", test_amo_over_decoded_code_is_seen },
        { "store patching the next decoded instruction is seen", test_store_patching_the_next_decoded_instruction_is_seen },
        { "misaligned store across two instructions is seen", test_misaligned_store_across_two_instructions_is_seen },
        { "store over compressed instruction is seen", test_store_over_compressed_instruction_is_seen },
        { "instructions spanning pages link and branch", test_instructions_spanning_pages_link_and_branch },
        { "fflags exact with lazy MXCSR", test_fflags_exact_with_lazy_mxcsr },
        { "pages sharing a cache slot alternate", test_pages_sharing_a_cache_slot_alternate },
        { "evicted decoded page is not used through fetch TLB", test_evicted_decoded_page_is_not_used_through_fetch_tlb },
        { "decode cache stays within its host memory bound", test_decode_cache_stays_within_its_host_memory_bound },
        { "decode cache gives memory back past its budget", test_decode_cache_gives_memory_back_past_its_budget },
        { "decoding costs one fault a host page", test_decoding_costs_one_fault_a_host_page },
        { NULL, NULL },
    };
    return unit_main("rv_codecache", tests);
}
