/* The x86 loaders (arch/x86) on guest memory alone, no /dev/kvm: which
 * files boot, where the pieces land, and the errors for bad input. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/x86_boot.h"
#include "machine/machine.h"
#include "unit.h"
#include "util/error.h"

#define MiB (1024ULL * 1024ULL)

static char tmpdir[] = "/tmp/test_x86_loaders.XXXXXX";

static const char *write_tmp(const char *name, const void *data, size_t len)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

static void machine_with_ram(struct machine *m, uint64_t ram, unsigned vcpus)
{
    CU_ASSERT_EQUAL_FATAL(machine_init(m, vcpus), 0);
    CU_ASSERT_EQUAL_FATAL(platform_x86_64.layout_memory(m, ram), 0);
}

static int load(struct machine *m, const char *kernel, const char *cmdline, const char *initrd,
                struct x86_entry *e)
{
    struct boot_spec spec = { .kernel = kernel, .initrd = initrd, .cmdline = cmdline ? cmdline : "",
                              .ram_size = m->mem.ram_bytes, .nr_vcpus = m->nr_vcpus };
    return x86_load(m, &spec, e);
}

/* A synthetic bzImage: 4 setup sectors + boot sector, protocol 2.15, a
 * 64-bit entry, a 16-byte command line limit, and `payload` bytes. */
static uint8_t *make_bzimage(size_t payload, size_t *len)
{
    size_t setup = 5 * 512;
    *len = setup + payload;
    uint8_t *b = calloc(1, *len);
    b[0x1f1] = 4;
    x86_wr16(b + 0x1fe, 0xaa55);
    b[0x200] = 0xeb;
    b[0x201] = 0x66; /* header ends at 0x268 */
    memcpy(b + 0x202, "HdrS", 4);
    x86_wr16(b + 0x206, 0x020f);
    b[0x211] = 0x01; /* LOADED_HIGH */
    x86_wr32(b + 0x214, 0x100000);
    x86_wr32(b + 0x22c, 0x37ffffff);
    x86_wr32(b + 0x230, 0x200000);
    x86_wr16(b + 0x236, 0x1); /* XLF_KERNEL_64 */
    x86_wr32(b + 0x238, 16);  /* cmdline_size */
    x86_wr32(b + 0x260, 0x100000); /* init_size: 1 MiB */
    for (size_t i = 0; i < payload; i++)
        b[setup + i] = (uint8_t)(i * 7);
    return b;
}

static void test_missing_kernel_is_enoent(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    CU_ASSERT_EQUAL(load(&m, "/nonexistent/vmlinuz", NULL, NULL, &e), VMM_ENOENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "/nonexistent/vmlinuz"));
    machine_destroy(&m);
}

static void test_flat_binary_is_not_a_kernel(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    uint8_t junk[9000];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 13 + 1);
    const char *p = write_tmp("junk.bin", junk, sizeof(junk));
    CU_ASSERT_EQUAL(load(&m, p, NULL, NULL, &e), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "not a kernel"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), p));
    machine_destroy(&m);
}

static void test_truncated_bzimage_is_refused(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    size_t len;
    uint8_t *b = make_bzimage(4096, &len);
    const char *p = write_tmp("short.bz", b, 2048); /* inside the setup sectors */
    CU_ASSERT_EQUAL(load(&m, p, NULL, NULL, &e), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "truncated"));
    free(b);
    machine_destroy(&m);
}

static void test_bzimage_boots_64bit_with_zero_page(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    size_t len;
    uint8_t *b = make_bzimage(8192, &len);
    const char *p = write_tmp("ok.bz", b, len);
    const char *initrd = write_tmp("initrd.img", "INITRD", 6);
    CU_ASSERT_EQUAL_FATAL(load(&m, p, "console=ttyS0", initrd, &e), 0);
    CU_ASSERT_EQUAL(e.mode, X86_ENTRY_LONG64);
    CU_ASSERT_EQUAL(e.rip, 0x100200);
    CU_ASSERT_EQUAL(e.rsi, X86_INFO_ADDR);
    uint8_t *kernel = guest_mem_ptr(&m.mem, 0x100000, 8192);
    CU_ASSERT_EQUAL(memcmp(kernel, b + 5 * 512, 8192), 0);
    uint8_t *bp = guest_mem_ptr(&m.mem, X86_INFO_ADDR, 4096);
    CU_ASSERT_EQUAL(bp[0x210], 0xff); /* type_of_loader */
    CU_ASSERT_EQUAL(x86_rd32(bp + 0x228), X86_CMDLINE_ADDR);
    CU_ASSERT_STRING_EQUAL((char *)guest_mem_ptr(&m.mem, X86_CMDLINE_ADDR, 14), "console=ttyS0");
    /* e820: low RAM, EBDA..1 MiB reserved, RAM to 32 MiB, the MMIO gap. */
    CU_ASSERT_EQUAL(bp[0x1e8], 4);
    CU_ASSERT_EQUAL(x86_rd64(bp + 0x2d0 + 20 * 2), 0x100000);
    CU_ASSERT_EQUAL(x86_rd64(bp + 0x2d0 + 20 * 2 + 8), 31 * MiB);
    CU_ASSERT_EQUAL(x86_rd32(bp + 0x2d0 + 20 * 1 + 16), X86_E820_RESERVED);
    CU_ASSERT_EQUAL(x86_rd64(bp + 0x2d0 + 20 * 3), 0xc0000000ULL);
    uint32_t rd = x86_rd32(bp + 0x218);
    CU_ASSERT_EQUAL(x86_rd32(bp + 0x21c), 6);
    CU_ASSERT(rd >= 0x200000 && rd + 6 <= 32 * MiB);
    CU_ASSERT_EQUAL(memcmp(guest_mem_ptr(&m.mem, rd, 6), "INITRD", 6), 0);
    /* The ACPI RSDP and the MP floating pointer are where guests scan. */
    CU_ASSERT_EQUAL(memcmp(guest_mem_ptr(&m.mem, X86_ACPI_ADDR, 8), "RSD PTR ", 8), 0);
    CU_ASSERT_EQUAL(memcmp(guest_mem_ptr(&m.mem, X86_MPTABLE_ADDR, 4), "_MP_", 4), 0);
    free(b);
    machine_destroy(&m);
}

static void test_cmdline_longer_than_cmdline_size_is_erange(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    size_t len;
    uint8_t *b = make_bzimage(4096, &len);
    const char *p = write_tmp("cmd.bz", b, len);
    CU_ASSERT_EQUAL(load(&m, p, "console=ttyS0 earlyprintk=ttyS0", NULL, &e), VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "31 bytes"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "16 bytes"));
    free(b);
    machine_destroy(&m);
}

static void test_initrd_that_does_not_fit_is_erange(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 4 * MiB, 1);
    size_t len;
    uint8_t *b = make_bzimage(4096, &len);
    const char *p = write_tmp("rd.bz", b, len);
    size_t big = 3 * MiB;
    uint8_t *rd = calloc(1, big);
    const char *initrd = write_tmp("big.img", rd, big);
    CU_ASSERT_EQUAL(load(&m, p, "", initrd, &e), VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "3145728 bytes"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "initrd"));
    free(rd);
    free(b);
    machine_destroy(&m);
}

/* An ELF32 with one PT_LOAD at `paddr`. */
static uint8_t *make_elf32(uint32_t paddr, size_t *len)
{
    *len = 52 + 32 + 16;
    uint8_t *b = calloc(1, *len);
    memcpy(b, "\x7f" "ELF", 4);
    b[4] = 1; /* ELFCLASS32 */
    b[5] = 1; /* little-endian */
    b[6] = 1;
    x86_wr16(b + 16, 2);  /* ET_EXEC */
    x86_wr16(b + 18, 3);  /* EM_386 */
    x86_wr32(b + 20, 1);
    x86_wr32(b + 24, paddr); /* e_entry */
    x86_wr32(b + 28, 52);    /* e_phoff */
    x86_wr16(b + 42, 32);    /* e_phentsize */
    x86_wr16(b + 44, 1);     /* e_phnum */
    uint8_t *ph = b + 52;
    x86_wr32(ph, 1);         /* PT_LOAD */
    x86_wr32(ph + 4, 84);    /* p_offset */
    x86_wr32(ph + 8, paddr);
    x86_wr32(ph + 12, paddr);
    x86_wr32(ph + 16, 16);   /* p_filesz */
    x86_wr32(ph + 20, 4096); /* p_memsz */
    memset(b + 84, 0x90, 16);
    return b;
}

static void test_elf_segment_outside_ram_is_erange(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    size_t len;
    uint8_t *b = make_elf32(0x10000000, &len);
    const char *p = write_tmp("far.elf", b, len);
    CU_ASSERT_EQUAL(load(&m, p, NULL, NULL, &e), VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "ELF segment 0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "0x10000000"));
    free(b);
    machine_destroy(&m);
}

static void test_elf32_enters_protected_mode_at_e_entry(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    size_t len;
    uint8_t *b = make_elf32(0x200000, &len);
    const char *p = write_tmp("ok.elf", b, len);
    CU_ASSERT_EQUAL_FATAL(load(&m, p, NULL, NULL, &e), 0);
    CU_ASSERT_EQUAL(e.mode, X86_ENTRY_PROTECTED32);
    CU_ASSERT_EQUAL(e.rip, 0x200000);
    uint8_t *seg = guest_mem_ptr(&m.mem, 0x200000, 4096);
    CU_ASSERT_EQUAL(seg[0], 0x90);
    CU_ASSERT_EQUAL(seg[16], 0); /* bss zeroed */
    free(b);
    machine_destroy(&m);
}

/* An ELF32 with one PT_LOAD at paddr and a PT_NOTE holding the Xen PVH
 * entry note (type 18) with an 8-byte descriptor. */
static uint8_t *make_elf32_pvh(uint32_t paddr, uint64_t pvh_entry, size_t *len)
{
    *len = 52 + 2 * 32 + 28 + 16;
    uint8_t *b = calloc(1, *len);
    memcpy(b, "\x7f" "ELF", 4);
    b[4] = 1;
    b[5] = 1;
    b[6] = 1;
    x86_wr16(b + 16, 2);
    x86_wr16(b + 18, 3);
    x86_wr32(b + 20, 1);
    x86_wr32(b + 24, 0xc1000000); /* virtual e_entry, unused with PVH */
    x86_wr32(b + 28, 52);
    x86_wr16(b + 42, 32);
    x86_wr16(b + 44, 2);
    uint8_t *ph = b + 52;
    x86_wr32(ph, 1); /* PT_LOAD */
    x86_wr32(ph + 4, 144);
    x86_wr32(ph + 8, paddr);
    x86_wr32(ph + 12, paddr);
    x86_wr32(ph + 16, 16);
    x86_wr32(ph + 20, 4096);
    ph += 32;
    x86_wr32(ph, 4); /* PT_NOTE */
    x86_wr32(ph + 4, 116);
    x86_wr32(ph + 16, 28);
    x86_wr32(ph + 20, 28);
    uint8_t *n = b + 116;
    x86_wr32(n, 4);
    x86_wr32(n + 4, 8);
    x86_wr32(n + 8, 18); /* XEN_ELFNOTE_PHYS32_ENTRY */
    memcpy(n + 12, "Xen", 4);
    x86_wr64(n + 16, pvh_entry);
    memset(b + 144, 0x90, 16);
    return b;
}

/* Found by fuzzing (tests/fuzz/loader-corpus/x86/crash-pvh-entry-above-4g):
 * the PVH note's entry was taken as is, so a 64-bit value or an address
 * outside RAM was accepted as the 32-bit start of the vCPU. */
static void test_elf_pvh_entry_must_be_ram_below_4g(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    size_t len;
    uint8_t *b = make_elf32_pvh(0x200000, 0x200010, &len);
    const char *p = write_tmp("pvh.elf", b, len);
    CU_ASSERT_EQUAL_FATAL(load(&m, p, NULL, NULL, &e), 0);
    CU_ASSERT_EQUAL(e.mode, X86_ENTRY_PROTECTED32);
    CU_ASSERT_EQUAL(e.rip, 0x200010);
    CU_ASSERT_EQUAL(e.rbx, X86_INFO_ADDR);
    free(b);
    b = make_elf32_pvh(0x200000, 0x7c00000000100020ULL, &len);
    p = write_tmp("pvh-far.elf", b, len);
    CU_ASSERT_EQUAL(load(&m, p, NULL, NULL, &e), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "PVH entry 0x7c00000000100020"));
    free(b);
    b = make_elf32_pvh(0x200000, 0x10000000, &len); /* beyond the 32 MiB of RAM */
    p = write_tmp("pvh-hole.elf", b, len);
    CU_ASSERT_EQUAL(load(&m, p, NULL, NULL, &e), VMM_EFORMAT);
    free(b);
    machine_destroy(&m);
}

/* Found by review while fuzzing: thousands of program headers over the
 * same range each passed the RAM check, and copying them all took hours
 * for a 2 MiB file. Their sum is now bounded by RAM. */
static void test_elf_overlapping_segments_beyond_ram_are_eformat(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    unsigned n = 3; /* 3 x 16 MiB over the same range in a 32 MiB guest */
    size_t len = 52 + 32 * n + 16;
    uint8_t *b = calloc(1, len);
    memcpy(b, "\x7f" "ELF", 4);
    b[4] = 1;
    b[5] = 1;
    b[6] = 1;
    x86_wr16(b + 16, 2);
    x86_wr16(b + 18, 3);
    x86_wr32(b + 24, 0x200000);
    x86_wr32(b + 28, 52);
    x86_wr16(b + 42, 32);
    x86_wr16(b + 44, (uint16_t)n);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *ph = b + 52 + 32 * i;
        x86_wr32(ph, 1);
        x86_wr32(ph + 4, (uint32_t)(len - 16));
        x86_wr32(ph + 12, 0x200000);
        x86_wr32(ph + 16, 16);
        x86_wr32(ph + 20, 16 * MiB);
    }
    const char *p = write_tmp("overlap.elf", b, len);
    CU_ASSERT_EQUAL(load(&m, p, NULL, NULL, &e), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "overlapping"));
    x86_wr16(b + 44, 1); /* one of them alone loads */
    p = write_tmp("overlap1.elf", b, len);
    CU_ASSERT_EQUAL(load(&m, p, NULL, NULL, &e), 0);
    free(b);
    machine_destroy(&m);
}

static void test_elf_segment_over_loader_area_is_erange(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    size_t len;
    uint8_t *b = make_elf32(0x7000, &len);
    const char *p = write_tmp("low.elf", b, len);
    CU_ASSERT_EQUAL(load(&m, p, NULL, NULL, &e), VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "loader"));
    free(b);
    machine_destroy(&m);
}

static void test_multiboot_aout_kludge_loads_at_load_addr(void)
{
    struct machine m;
    struct x86_entry e;
    machine_with_ram(&m, 32 * MiB, 1);
    /* Header at offset 16: image loads at 0x200000, entry 0x200040. */
    uint8_t img[256];
    memset(img, 0xcc, sizeof(img));
    uint8_t *h = img + 16;
    uint32_t flags = 0x00010002;
    x86_wr32(h, 0x1badb002);
    x86_wr32(h + 4, flags);
    x86_wr32(h + 8, (uint32_t)-(0x1badb002 + flags));
    x86_wr32(h + 12, 0x200010); /* header_addr */
    x86_wr32(h + 16, 0x200000); /* load_addr */
    x86_wr32(h + 20, 0);        /* load_end: whole file */
    x86_wr32(h + 24, 0x201000); /* bss_end */
    x86_wr32(h + 28, 0x200040); /* entry */
    const char *p = write_tmp("mb.bin", img, sizeof(img));
    CU_ASSERT_EQUAL_FATAL(load(&m, p, "mb args", NULL, &e), 0);
    CU_ASSERT_EQUAL(e.mode, X86_ENTRY_PROTECTED32);
    CU_ASSERT_EQUAL(e.rip, 0x200040);
    CU_ASSERT_EQUAL(e.rax, 0x2badb002);
    CU_ASSERT_EQUAL(e.rbx, X86_INFO_ADDR);
    CU_ASSERT_EQUAL(memcmp(guest_mem_ptr(&m.mem, 0x200000, sizeof(img)), img, sizeof(img)), 0);
    uint8_t *mbi = guest_mem_ptr(&m.mem, X86_INFO_ADDR, 120);
    CU_ASSERT_EQUAL(x86_rd32(mbi + 4), 639);          /* mem_lower KiB */
    CU_ASSERT_EQUAL(x86_rd32(mbi + 8), 31 * 1024);    /* mem_upper KiB */
    CU_ASSERT_STRING_EQUAL((char *)guest_mem_ptr(&m.mem, x86_rd32(mbi + 16), 8), "mb args");
    machine_destroy(&m);
}

static void test_lz4_legacy_literals_decode(void)
{
    /* magic, one block (token 0x50: 5 literals, no match), trailer 5. */
    const uint8_t s[] = { 0x02, 0x21, 0x4c, 0x18, 6, 0, 0, 0, 0x50, 'h', 'e', 'l', 'l', 'o',
                          5, 0, 0, 0 };
    uint8_t *out;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(x86_lz4_legacy_decode(s, sizeof(s), 1 << 20, &out, &n), 0);
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(memcmp(out, "hello", 5), 0);
    free(out);
}

static void test_lz4_match_and_bad_offset(void)
{
    /* One 8-byte block: "ab", a match (offset 2, length 0 + 4) giving
     * "abab", then the closing literals "ab": "abababab". */
    const uint8_t g[] = { 0x02, 0x21, 0x4c, 0x18, 8, 0, 0, 0,
                          0x20, 'a', 'b', 0x02, 0x00, 0x20, 'a', 'b',
                          8, 0, 0, 0 };
    uint8_t *out;
    size_t n;
    int rc = x86_lz4_legacy_decode(g, sizeof(g), 1 << 20, &out, &n);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc == 0) {
        CU_ASSERT_EQUAL(n, 8);
        CU_ASSERT_EQUAL(memcmp(out, "abababab", 8), 0);
        free(out);
    }
    uint8_t bad[sizeof(g)];
    memcpy(bad, g, sizeof(g));
    bad[11] = 9; /* offset 9 reaches before the block start */
    CU_ASSERT_EQUAL(x86_lz4_legacy_decode(bad, sizeof(bad), 1 << 20, &out, &n), VMM_EFORMAT);
    uint8_t trunc[sizeof(g)];
    memcpy(trunc, g, sizeof(g));
    trunc[4] = 40; /* block size past the end */
    CU_ASSERT_EQUAL(x86_lz4_legacy_decode(trunc, sizeof(trunc), 1 << 20, &out, &n), VMM_EFORMAT);
}


/* With virtio devices on the board, the DSDT (found through the FADT)
 * reserves their windows as motherboard resources; the tables still sum to
 * zero. When iasl (acpica-tools) is installed it must disassemble the DSDT
 * and show both windows. */
static void test_dsdt_reserves_the_virtio_windows(void)
{
    struct machine m;
    machine_with_ram(&m, 32 * MiB, 1);
    struct x86_board board;
    memset(&board, 0, sizeof(board));
    board.virtio.nr = 2;
    board.virtio.slot[0].base = X86_VIRTIO_BASE;
    board.virtio.slot[1].base = X86_VIRTIO_BASE + X86_VIRTIO_STRIDE;
    m.board = &board;
    CU_ASSERT_EQUAL_FATAL(x86_acpi_write(&m), 0);
    const uint8_t *rsdp = guest_mem_ptr(&m.mem, X86_ACPI_ADDR, 20);
    const uint8_t *rsdt = guest_mem_ptr(&m.mem, x86_rd32(rsdp + 16), 44);
    const uint8_t *fadt = guest_mem_ptr(&m.mem, x86_rd32(rsdt + 40), 116);
    CU_ASSERT_EQUAL_FATAL(memcmp(fadt, "FACP", 4), 0);
    uint32_t dsdt_addr = x86_rd32(fadt + 40);
    const uint8_t *dsdt = guest_mem_ptr(&m.mem, dsdt_addr, 36);
    CU_ASSERT_EQUAL_FATAL(memcmp(dsdt, "DSDT", 4), 0);
    uint32_t len = x86_rd32(dsdt + 4);
    dsdt = guest_mem_ptr(&m.mem, dsdt_addr, len);
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + dsdt[i]);
    CU_ASSERT_EQUAL(sum, 0);
    static const uint8_t pnp0c02[] = { 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
    CU_ASSERT_PTR_NOT_NULL(memmem(dsdt, len, pnp0c02, sizeof(pnp0c02)));
    CU_ASSERT_PTR_NOT_NULL(memmem(dsdt, len, "VRTS", 4));
    if (system("command -v iasl >/dev/null 2>&1") == 0) {
        char dir[] = "/tmp/libvmm-dsdt-XXXXXX";
        CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
        char path[128], cmd[512];
        snprintf(path, sizeof(path), "%s/dsdt.aml", dir);
        FILE *f = fopen(path, "wb");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        fwrite(dsdt, 1, len, f);
        fclose(f);
        snprintf(cmd, sizeof(cmd),
                 "cd %s && iasl -d dsdt.aml >/dev/null 2>&1 && grep -q 'PNP0C02' dsdt.dsl && "
                 "grep -q '0xD0000000' dsdt.dsl && grep -q '0xD0001000' dsdt.dsl && "
                 "grep -q '_S5' dsdt.dsl",
                 dir);
        CU_ASSERT_EQUAL(system(cmd), 0);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CU_ASSERT_EQUAL(system(cmd), 0);
    } else {
        printf("(iasl not installed: AML not disassembled) ");
    }
    machine_destroy(&m);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    static const struct unit_test tests[] = {
        { "missing kernel is ENOENT", test_missing_kernel_is_enoent },
        { "flat binary is not a kernel", test_flat_binary_is_not_a_kernel },
        { "truncated bzImage is refused", test_truncated_bzimage_is_refused },
        { "bzImage boots 64-bit with a zero page", test_bzimage_boots_64bit_with_zero_page },
        { "cmdline longer than cmdline_size is ERANGE",
          test_cmdline_longer_than_cmdline_size_is_erange },
        { "initrd that does not fit is ERANGE", test_initrd_that_does_not_fit_is_erange },
        { "ELF segment outside RAM is ERANGE", test_elf_segment_outside_ram_is_erange },
        { "ELF32 enters protected mode at e_entry", test_elf32_enters_protected_mode_at_e_entry },
        { "ELF PVH entry must be RAM below 4 GiB", test_elf_pvh_entry_must_be_ram_below_4g },
        { "ELF overlapping segments beyond RAM are EFORMAT",
          test_elf_overlapping_segments_beyond_ram_are_eformat },
        { "ELF segment over the loader area is ERANGE",
          test_elf_segment_over_loader_area_is_erange },
        { "Multiboot a.out kludge loads at load_addr",
          test_multiboot_aout_kludge_loads_at_load_addr },
        { "LZ4 legacy literals decode", test_lz4_legacy_literals_decode },
        { "DSDT reserves the virtio windows", test_dsdt_reserves_the_virtio_windows },
        { "LZ4 match, and a bad offset is EFORMAT", test_lz4_match_and_bad_offset },
        { NULL, NULL },
    };
    int rc = unit_main("x86_loaders", tests);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return rc;
}
