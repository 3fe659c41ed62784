/* The Linux x86 boot protocol for bzImage files (Documentation/arch/x86/
 * boot.rst): setup header at 0x1f1 with "HdrS" at 0x202, the protected-mode
 * kernel after the real-mode setup sectors, loaded at 1 MiB; a zero page
 * (struct boot_params) with the e820 map, command line and initrd.
 *
 * Entry: 64-bit at startup_64 (code32_start + 0x200) when the header says
 * the kernel has one (version >= 2.12, XLF_KERNEL_64), in long mode with
 * 0-4 GiB identity mapped; otherwise the 32-bit entry at code32_start in
 * flat protected mode. Either way RSI/ESI points at the zero page.
 * Supported versions: 2.02 (command line pointer) and newer, loaded high.
 *
 * Inflating on the host: when the payload (2.08+: payload_offset/length)
 * is LZ4 (Debian's kernels), libvmm inflates it itself, loads the vmlinux
 * ELF inside at its physical addresses and enters the kernel proper at its
 * ELF entry (startup_64, physical) in long mode with the same zero page,
 * as the in-guest decompressor would have. This skips billions of guest
 * instructions that kvm_pvm would emulate one by one at CPL0 (minutes) and
 * is as valid on VT-x. Other formats, or a payload that does not inflate,
 * take the normal path through the kernel's own decompressor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "util/error.h"
#include "util/log.h"

/* Offsets in the file / the zero page. */
#define BP_E820_ENTRIES 0x1e8
#define BP_SETUP_SECTS 0x1f1
#define BP_BOOT_FLAG 0x1fe
#define BP_JUMP 0x200
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_CODE32_START 0x214
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_RELOCATABLE 0x234
#define BP_XLOADFLAGS 0x236
#define BP_CMDLINE_SIZE 0x238
#define BP_PAYLOAD_OFFSET 0x248
#define BP_PAYLOAD_LENGTH 0x24c
#define BP_PREF_ADDRESS 0x258
#define BP_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define BP_SIZE 4096

#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01
#define MIN_VERSION 0x0202
#define DEFAULT_INITRD_MAX 0x37ffffffULL
#define DEFAULT_CMDLINE_SIZE 255

int x86_bzimage_detect(const uint8_t *img, size_t len)
{
    return len >= BP_HEADER + 4 && memcmp(img + BP_HEADER, "HdrS", 4) == 0;
}

/* The zero page: the setup header as the file has it, then what the
 * loader fills in. */
static int bz_zero_page(struct x86_boot_ctx *c, uint8_t *bp, unsigned version)
{
    size_t hdr_end = BP_HEADER + 2 + c->image[BP_JUMP + 1]; /* 0x202 + jump offset */
    if (hdr_end > BP_SIZE || hdr_end > c->image_size)
        return vmm_error(VMM_EFORMAT, "kernel '%s': setup header end 0x%zx beyond %s",
                         c->spec->kernel, hdr_end,
                         hdr_end > BP_SIZE ? "the zero page" : "the file");
    memset(bp, 0, BP_SIZE);
    memcpy(bp + BP_SETUP_SECTS, c->image + BP_SETUP_SECTS, hdr_end - BP_SETUP_SECTS);
    bp[BP_TYPE_OF_LOADER] = 0xff; /* undefined loader */
    bp[BP_LOADFLAGS] = (uint8_t)((bp[BP_LOADFLAGS] & ~0x20 /* QUIET */) | CAN_USE_HEAP);
    x86_wr16(bp + BP_HEAP_END_PTR, 0xfe00);
    x86_wr32(bp + BP_CMD_LINE_PTR, (uint32_t)X86_CMDLINE_ADDR);
    x86_wr32(bp + BP_RAMDISK_IMAGE, (uint32_t)c->initrd_addr);
    x86_wr32(bp + BP_RAMDISK_SIZE, (uint32_t)c->initrd_size);
    (void)version;

    struct x86_mem_range map[BP_E820_MAX];
    int n = x86_memory_map(c->m, map, BP_E820_MAX);
    for (int i = 0; i < n; i++) {
        uint8_t *e = bp + BP_E820_TABLE + 20 * i;
        x86_wr64(e, map[i].addr);
        x86_wr64(e + 8, map[i].size);
        x86_wr32(e + 16, map[i].type);
    }
    bp[BP_E820_ENTRIES] = (uint8_t)n;
    return 0;
}

/* Inflates an LZ4 payload and loads the vmlinux inside. 1 when done, 0
 * when the payload is not something libvmm inflates, <0 on error. */
static int bz_load_inflated(struct x86_boot_ctx *c, unsigned version, size_t setup_size)
{
    const uint8_t *img = c->image;
    if (version < 0x0208)
        return 0;
    uint64_t off = (uint64_t)setup_size + x86_rd32(img + BP_PAYLOAD_OFFSET);
    uint64_t len = x86_rd32(img + BP_PAYLOAD_LENGTH);
    if (off > c->image_size || len > c->image_size - off ||
        !x86_lz4_is_legacy(img + off, (size_t)len))
        return 0;
    uint8_t *elf;
    size_t elf_len;
    size_t limit = (size_t)(c->m->mem.ram_bytes < (1ULL << 30) ? c->m->mem.ram_bytes : (1ULL << 30));
    if (x86_lz4_legacy_decode(img + off, (size_t)len, limit, &elf, &elf_len) < 0) {
        log_warn("x86: kernel '%s': %s; using the kernel's own decompressor", c->spec->kernel,
                 vmm_last_error());
        return 0;
    }
    if (!x86_elf_detect(elf, elf_len) || elf_len < 5 || elf[4] != 2 /* ELFCLASS64 */) {
        free(elf);
        log_warn("x86: kernel '%s': the payload is not a 64-bit ELF; using the kernel's own "
                 "decompressor", c->spec->kernel);
        return 0;
    }
    const uint8_t *saved = c->image;
    size_t saved_len = c->image_size;
    c->image = elf;
    c->image_size = elf_len;
    uint64_t entry;
    int is64;
    int rc = x86_elf_load_segments(c, &entry, &is64);
    c->image = saved;
    c->image_size = saved_len;
    free(elf);
    if (rc < 0)
        return rc;
    if (entry >= X86_MMIO_GAP_END || !guest_mem_ptr(&c->m->mem, entry, 1))
        return vmm_error(VMM_EFORMAT, "kernel '%s': vmlinux entry 0x%llx is not guest RAM",
                         c->spec->kernel, (unsigned long long)entry);
    c->entry.mode = X86_ENTRY_LONG64;
    c->entry.rip = entry;
    log_debug("x86: kernel '%s': inflated %llu LZ4 bytes to a %zu-byte vmlinux, entry 0x%llx",
              c->spec->kernel, (unsigned long long)len, elf_len, (unsigned long long)entry);
    return 1;
}

int x86_bzimage_load(struct x86_boot_ctx *c)
{
    const uint8_t *img = c->image;
    const char *path = c->spec->kernel;
    if (c->image_size < BP_SIZE / 2 || x86_rd16(img + BP_BOOT_FLAG) != 0xaa55)
        return vmm_error(VMM_EFORMAT, "kernel '%s': bzImage is truncated or lacks the 0xaa55 boot flag",
                         path);
    unsigned version = x86_rd16(img + BP_VERSION);
    if (version < MIN_VERSION)
        return vmm_error(VMM_EFORMAT, "kernel '%s': boot protocol %u.%02u, libvmm needs %u.%02u or newer",
                         path, version >> 8, version & 0xff, MIN_VERSION >> 8, MIN_VERSION & 0xff);
    if (!(img[BP_LOADFLAGS] & LOADED_HIGH))
        return vmm_error(VMM_EFORMAT, "kernel '%s': a zImage (loaded low) is not supported", path);
    unsigned setup_sects = img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4;
    size_t setup_size = (size_t)(setup_sects + 1) * 512;
    if (setup_size >= c->image_size)
        return vmm_error(VMM_EFORMAT,
                         "kernel '%s' is truncated: %zu bytes, the setup code alone is %zu bytes",
                         path, c->image_size, setup_size);
    size_t pm_size = c->image_size - setup_size;

    /* The kernel decompresses in place and needs init_size bytes from its
     * load address (2.10+); before that only the file's size is known. */
    uint64_t need = pm_size;
    if (version >= 0x020a && x86_rd32(img + BP_INIT_SIZE) > need)
        need = x86_rd32(img + BP_INIT_SIZE);
    memset(&c->entry, 0, sizeof(c->entry));
    int inflated = bz_load_inflated(c, version, setup_size);
    if (inflated < 0)
        return inflated;
    int rc;
    if (!inflated) {
        rc = x86_check_load_range(c->m, X86_KERNEL_ADDR, need, "kernel (init_size)");
        if (rc < 0)
            return rc;
        rc = guest_mem_write(&c->m->mem, X86_KERNEL_ADDR, img + setup_size, pm_size);
        if (rc < 0)
            return rc;
        if (X86_KERNEL_ADDR + need > c->kernel_end)
            c->kernel_end = X86_KERNEL_ADDR + need;
    }
    /* A relocatable kernel moves itself up to pref_address before it
     * decompresses; keep the initrd clear of that too. */
    if (version >= 0x020a && img[BP_RELOCATABLE]) {
        uint64_t pref = x86_rd64(img + BP_PREF_ADDRESS);
        uint64_t init = x86_rd32(img + BP_INIT_SIZE);
        if (pref + init > c->kernel_end)
            c->kernel_end = pref + init;
    }

    uint64_t cmdline_size = version >= 0x0206 ? x86_rd32(img + BP_CMDLINE_SIZE)
                                              : DEFAULT_CMDLINE_SIZE;
    rc = x86_place_cmdline(c, cmdline_size);
    if (rc < 0)
        return rc;
    uint64_t initrd_max = version >= 0x0203 ? x86_rd32(img + BP_INITRD_ADDR_MAX)
                                            : DEFAULT_INITRD_MAX;
    rc = x86_place_initrd(c, initrd_max + 1, 0x1000);
    if (rc < 0)
        return rc;

    uint8_t *bp = guest_mem_ptr(&c->m->mem, X86_INFO_ADDR, BP_SIZE);
    if (!bp)
        return vmm_error(VMM_ERANGE, "zero page at 0x%llx is not RAM",
                         (unsigned long long)X86_INFO_ADDR);
    rc = bz_zero_page(c, bp, version);
    if (rc < 0)
        return rc;
    x86_wr32(bp + BP_CODE32_START, (uint32_t)X86_KERNEL_ADDR);

    c->entry.rsi = X86_INFO_ADDR;
    if (inflated) {
        /* entry set by bz_load_inflated */
    } else if (version >= 0x020c && (x86_rd16(img + BP_XLOADFLAGS) & XLF_KERNEL_64)) {
        c->entry.mode = X86_ENTRY_LONG64;
        c->entry.rip = X86_KERNEL_ADDR + 0x200;
    } else {
        c->entry.mode = X86_ENTRY_PROTECTED32;
        c->entry.rip = X86_KERNEL_ADDR;
    }
    log_debug("x86: bzImage %s protocol %u.%02u, %zu setup bytes, %zu kernel bytes, %d-bit entry "
              "at 0x%llx", path, version >> 8, version & 0xff, setup_size, pm_size,
              (int)c->entry.mode, (unsigned long long)c->entry.rip);
    return 0;
}
