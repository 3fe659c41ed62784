/* Kernel file parsing: RISC-V Image headers and ELF loading. */
#include <string.h>

#include "arch/riscv/image.h"
#include "unit.h"
#include "vmm/error.h"

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void make_image(uint8_t *buf, size_t len, uint64_t text_offset, uint64_t image_size)
{
    memset(buf, 0, len);
    put64(buf + 8, text_offset);
    put64(buf + 16, image_size);
    memcpy(buf + 48, "RISCV\0\0\0", 8);
    memcpy(buf + 0x38, "RSC\x05", 4);
}

static void test_image_header_fields_are_read(void)
{
    uint8_t img[4096];
    make_image(img, sizeof(img), 0x200000, 0x1400000);
    enum rv_kernel_kind k;
    CU_ASSERT_EQUAL(rv_kernel_kind(img, sizeof(img), "Image", &k), 0);
    CU_ASSERT_EQUAL(k, RV_KERNEL_IMAGE);
    struct rv_image_header h;
    CU_ASSERT_EQUAL(rv_image_parse(img, sizeof(img), "Image", &h), 0);
    CU_ASSERT_EQUAL(h.text_offset, 0x200000);
    CU_ASSERT_EQUAL(h.image_size, 0x1400000);
}

static void test_image_size_is_at_least_the_file(void)
{
    uint8_t img[8192];
    make_image(img, sizeof(img), 0, 0);
    struct rv_image_header h;
    CU_ASSERT_EQUAL(rv_image_parse(img, sizeof(img), "Image", &h), 0);
    CU_ASSERT_EQUAL(h.image_size, sizeof(img));
    CU_ASSERT_EQUAL(h.text_offset, RV_IMAGE_DEFAULT_OFFSET);
}

static void test_truncated_header_is_eformat_naming_file_and_size(void)
{
    uint8_t img[64];
    make_image(img, sizeof(img), 0x200000, 0);
    enum rv_kernel_kind k;
    CU_ASSERT_EQUAL(rv_kernel_kind(img, 40, "/tmp/cut-Image", &k), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "/tmp/cut-Image"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "40 bytes"));
    struct rv_image_header h;
    CU_ASSERT_EQUAL(rv_image_parse(img, 63, "/tmp/cut-Image", &h), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "63 bytes"));
}

static void test_unaligned_text_offset_is_eformat(void)
{
    uint8_t img[128];
    make_image(img, sizeof(img), 0x200010, 0);
    struct rv_image_header h;
    CU_ASSERT_EQUAL(rv_image_parse(img, sizeof(img), "Image", &h), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "0x200010"));
}

static void test_other_files_are_raw_firmware(void)
{
    uint8_t raw[128] = { 0x97, 0x02, 0, 0 };
    enum rv_kernel_kind k;
    CU_ASSERT_EQUAL(rv_kernel_kind(raw, sizeof(raw), "fw.bin", &k), 0);
    CU_ASSERT_EQUAL(k, RV_KERNEL_RAW);
}

/* A minimal ELF64 RISC-V file with one PT_LOAD of 16 file bytes, 64 in memory. */
static size_t make_elf(uint8_t *buf, uint64_t paddr, uint16_t machine)
{
    memset(buf, 0, 256);
    memcpy(buf, "\x7f" "ELF", 4);
    buf[4] = 2;
    buf[5] = 1;
    buf[6] = 1;
    put16(buf + 16, 2);
    put16(buf + 18, machine);
    put64(buf + 24, paddr + 4); /* entry */
    put64(buf + 32, 64);        /* phoff */
    put16(buf + 52, 64);
    put16(buf + 54, 56);
    put16(buf + 56, 1);
    uint8_t *ph = buf + 64;
    put32(ph, 1);
    put64(ph + 8, 128);
    put64(ph + 16, paddr);
    put64(ph + 24, paddr);
    put64(ph + 32, 16);
    put64(ph + 40, 64);
    memset(buf + 128, 0xab, 16);
    return 144;
}

static void test_elf_segments_load_and_bss_is_zeroed(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&gm, 0x80000000ULL, 0x100000), 0);
    uint8_t *ram = guest_mem_ptr(&gm, 0x80000000ULL, 0x100000);
    memset(ram, 0x55, 0x100);
    uint8_t elf[256];
    size_t len = make_elf(elf, 0x80000000ULL, 243);
    uint64_t entry = 0, end = 0;
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, len, "t.elf", &entry, &end), 0);
    CU_ASSERT_EQUAL(entry, 0x80000004ULL);
    CU_ASSERT_EQUAL(end, 0x80000040ULL);
    CU_ASSERT_EQUAL(ram[0], 0xab);
    CU_ASSERT_EQUAL(ram[15], 0xab);
    CU_ASSERT_EQUAL(ram[16], 0);
    CU_ASSERT_EQUAL(ram[63], 0);
    CU_ASSERT_EQUAL(ram[64], 0x55);
    guest_mem_destroy(&gm);
}

static void test_elf_outside_ram_is_erange(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&gm, 0x80000000ULL, 0x100000), 0);
    uint8_t elf[256];
    uint64_t entry, end;
    size_t len = make_elf(elf, 0x800ffff0ULL, 243); /* 64 bytes cross the end */
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, len, "t.elf", &entry, &end), VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "0x800ffff0"));
    guest_mem_destroy(&gm);
}

static void test_elf_for_another_machine_or_truncated_is_eformat(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&gm, 0x80000000ULL, 0x100000), 0);
    uint8_t elf[256];
    uint64_t entry, end;
    size_t len = make_elf(elf, 0x80000000ULL, 62);
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, len, "x86.elf", &entry, &end), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "x86.elf"));
    len = make_elf(elf, 0x80000000ULL, 243);
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, 130, "cut.elf", &entry, &end), VMM_EFORMAT);
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, 100, "cut.elf", &entry, &end), VMM_EFORMAT);
    put16(elf + 56, 60000); /* absurd phnum */
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, len, "cut.elf", &entry, &end), VMM_EFORMAT);
    guest_mem_destroy(&gm);
}

/* Found by fuzzing (tests/fuzz/loader-corpus/riscv/crash-elf-entry-outside-ram):
 * the segments load but e_entry points elsewhere; the hart would start
 * outside RAM. */
static void test_elf_entry_outside_ram_is_eformat(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&gm, 0x80000000ULL, 0x100000), 0);
    uint8_t elf[256];
    uint64_t entry = 0, end = 0;
    size_t len = make_elf(elf, 0x80000000ULL, 243);
    put64(elf + 24, 0x4000000080000000ULL);
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, len, "far.elf", &entry, &end), VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "0x4000000080000000"));
    CU_ASSERT_EQUAL(entry, 0);
    put64(elf + 24, 0x80100000ULL); /* just past the end of RAM */
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, len, "far.elf", &entry, &end), VMM_EFORMAT);
    guest_mem_destroy(&gm);
}

/* Found by review while fuzzing: many segments over the same range each
 * fit RAM, but copying them all cost time without bound. */
static void test_elf_overlapping_segments_beyond_ram_are_eformat(void)
{
    struct guest_mem gm;
    guest_mem_init(&gm);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&gm, 0x80000000ULL, 0x100000), 0);
    uint8_t elf[256]; /* make_elf fills 256 bytes; 3 phdrs need 64 + 3 * 56 */
    size_t len = make_elf(elf, 0x80000000ULL, 243); /* header + one phdr */
    memset(elf + 64, 0, sizeof(elf) - 64);
    put16(elf + 56, 3);
    for (int i = 0; i < 3; i++) { /* 3 x 512 KiB over 1 MiB of RAM */
        uint8_t *ph = elf + 64 + 56 * i;
        put32(ph, 1);
        put64(ph + 8, 64 + 3 * 56);
        put64(ph + 24, 0x80000000ULL);
        put64(ph + 32, 16);
        put64(ph + 40, 0x80000);
    }
    (void)len;
    uint64_t entry, end;
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, sizeof(elf), "overlap.elf", &entry, &end),
                    VMM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "overlapping"));
    put16(elf + 56, 2); /* two of them fit */
    CU_ASSERT_EQUAL(rv_elf_load(&gm, elf, sizeof(elf), "overlap.elf", &entry, &end), 0);
    guest_mem_destroy(&gm);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "image header fields are read", test_image_header_fields_are_read },
        { "image size is at least the file", test_image_size_is_at_least_the_file },
        { "truncated header is EFORMAT naming file and size", test_truncated_header_is_eformat_naming_file_and_size },
        { "unaligned text_offset is EFORMAT", test_unaligned_text_offset_is_eformat },
        { "other files are raw firmware", test_other_files_are_raw_firmware },
        { "ELF segments load and bss is zeroed", test_elf_segments_load_and_bss_is_zeroed },
        { "ELF outside RAM is ERANGE", test_elf_outside_ram_is_erange },
        { "ELF for another machine or truncated is EFORMAT", test_elf_for_another_machine_or_truncated_is_eformat },
        { "ELF entry outside RAM is EFORMAT", test_elf_entry_outside_ram_is_eformat },
        { "ELF overlapping segments beyond RAM are EFORMAT",
          test_elf_overlapping_segments_beyond_ram_are_eformat },
        { NULL, NULL },
    };
    return unit_main("riscv-image", tests);
}
