/* Multiboot v1: a header (magic 0x1BADB002, flags, checksum) in the first
 * 8 KiB, 4-byte aligned. With flag bit 16 the a.out kludge addresses say
 * where the file goes; otherwise the file is an ELF and its segments are
 * loaded. Entry in flat 32-bit protected mode, EAX = 0x2BADB002, EBX = the
 * multiboot information (memory sizes, memory map, command line, the
 * initrd as the one module, boot loader name).
 */
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "util/error.h"
#include "util/log.h"

#define MB_MAGIC 0x1BADB002u
#define MB_BOOT_MAGIC 0x2BADB002u
#define MB_SEARCH 8192
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMINFO (1u << 1)
#define MB_FLAG_VIDEO (1u << 2)
#define MB_FLAG_AOUT (1u << 16)
#define MB_FLAGS_KNOWN (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMINFO | MB_FLAG_VIDEO)

/* multiboot_info flags and offsets. */
#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)
#define MBI_SIZE 120

static const char loader_name[] = "libvmm";

int x86_multiboot_detect(const uint8_t *img, size_t len)
{
    size_t end = len < MB_SEARCH ? len : MB_SEARCH;
    for (size_t off = 0; off + 12 <= end; off += 4) {
        uint32_t magic = x86_rd32(img + off), flags = x86_rd32(img + off + 4);
        if (magic == MB_MAGIC && magic + flags + x86_rd32(img + off + 8) == 0)
            return (int)off;
    }
    return -1;
}

/* The a.out kludge: header_addr is where the header itself lands, so the
 * file offset of load_addr is header_off - (header_addr - load_addr). */
static int mb_load_aout(struct x86_boot_ctx *c, const uint8_t *h, size_t header_off, uint64_t *entry)
{
    const char *path = c->spec->kernel;
    if (header_off + 32 > c->image_size)
        return vmm_error(VMM_EFORMAT, "kernel '%s': Multiboot header truncated", path);
    uint32_t header_addr = x86_rd32(h + 12), load_addr = x86_rd32(h + 16);
    uint32_t load_end = x86_rd32(h + 20), bss_end = x86_rd32(h + 24);
    *entry = x86_rd32(h + 28);
    if (load_addr > header_addr || header_addr - load_addr > header_off)
        return vmm_error(VMM_EFORMAT,
                         "kernel '%s': Multiboot load_addr 0x%x is above header_addr 0x%x or before "
                         "the file start",
                         path, load_addr, header_addr);
    uint64_t file_off = header_off - (header_addr - load_addr);
    uint64_t load_len = load_end ? (uint64_t)load_end - load_addr : c->image_size - file_off;
    if (load_end && load_end < load_addr)
        return vmm_error(VMM_EFORMAT, "kernel '%s': Multiboot load_end_addr 0x%x below load_addr 0x%x",
                         path, load_end, load_addr);
    if (load_len > c->image_size - file_off)
        return vmm_error(VMM_EFORMAT,
                         "kernel '%s' is truncated: Multiboot wants %llu bytes from offset %llu, the "
                         "file has %zu",
                         path, (unsigned long long)load_len, (unsigned long long)file_off,
                         c->image_size);
    uint64_t mem_end = (uint64_t)load_addr + load_len;
    if (bss_end && bss_end > mem_end)
        mem_end = bss_end;
    int rc = x86_check_load_range(c->m, load_addr, mem_end - load_addr, "Multiboot image");
    if (rc < 0)
        return rc;
    uint8_t *dst = guest_mem_ptr(&c->m->mem, load_addr, mem_end - load_addr);
    memcpy(dst, c->image + file_off, load_len);
    memset(dst + load_len, 0, mem_end - load_addr - load_len);
    c->kernel_end = mem_end;
    return 0;
}

static int mb_info(struct x86_boot_ctx *c)
{
    struct machine *m = c->m;
    uint8_t *mbi = guest_mem_ptr(&m->mem, X86_INFO_ADDR, MBI_SIZE);
    uint8_t *tab = guest_mem_ptr(&m->mem, X86_TABLES_ADDR, 4096);
    if (!mbi || !tab)
        return vmm_error(VMM_ERANGE, "multiboot info at 0x%llx is not RAM",
                         (unsigned long long)X86_INFO_ADDR);
    memset(mbi, 0, MBI_SIZE);
    memset(tab, 0, 4096);
    uint32_t flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME;
    uint64_t low = x86_low_ram_end(m);
    x86_wr32(mbi + 4, (uint32_t)(X86_EBDA_ADDR / 1024));          /* mem_lower, KiB */
    x86_wr32(mbi + 8, (uint32_t)((low - X86_HIGH_MEM) / 1024));   /* mem_upper, KiB */
    x86_wr32(mbi + 16, (uint32_t)X86_CMDLINE_ADDR);
    /* Memory map: entries of size(4) base(8) length(8) type(4); size
     * counts the 20 bytes after it. */
    struct x86_mem_range map[16];
    int n = x86_memory_map(m, map, 16);
    for (int i = 0; i < n; i++) {
        uint8_t *e = tab + 24 * i;
        x86_wr32(e, 20);
        x86_wr64(e + 4, map[i].addr);
        x86_wr64(e + 12, map[i].size);
        x86_wr32(e + 20, map[i].type);
    }
    x86_wr32(mbi + 44, (uint32_t)(24 * n));
    x86_wr32(mbi + 48, (uint32_t)X86_TABLES_ADDR);
    /* The module list follows the map; its string is the initrd's path. */
    if (c->initrd_size) {
        uint64_t mods = X86_TABLES_ADDR + 24 * 16;
        uint8_t *mod = tab + 24 * 16;
        x86_wr32(mod, (uint32_t)c->initrd_addr);
        x86_wr32(mod + 4, (uint32_t)(c->initrd_addr + c->initrd_size));
        x86_wr32(mod + 8, (uint32_t)(X86_STRINGS_ADDR + sizeof(loader_name)));
        size_t plen = strlen(c->spec->initrd);
        if (plen > 1024)
            plen = 1024;
        guest_mem_write(&m->mem, X86_STRINGS_ADDR + sizeof(loader_name), c->spec->initrd, plen);
        guest_mem_write(&m->mem, X86_STRINGS_ADDR + sizeof(loader_name) + plen, "", 1);
        x86_wr32(mbi + 20, 1);
        x86_wr32(mbi + 24, (uint32_t)mods);
        flags |= MBI_MODS;
    }
    guest_mem_write(&m->mem, X86_STRINGS_ADDR, loader_name, sizeof(loader_name));
    x86_wr32(mbi + 64, (uint32_t)X86_STRINGS_ADDR);
    x86_wr32(mbi, flags);
    return 0;
}

int x86_multiboot_load(struct x86_boot_ctx *c, size_t header_off)
{
    const uint8_t *h = c->image + header_off;
    uint32_t flags = x86_rd32(h + 4);
    const char *path = c->spec->kernel;
    uint32_t required = flags & 0xffffu;
    if (required & ~MB_FLAGS_KNOWN)
        return vmm_error(VMM_ENOTSUP, "kernel '%s': Multiboot requires features 0x%x libvmm lacks",
                         path, required & ~MB_FLAGS_KNOWN);
    if (flags & MB_FLAG_VIDEO)
        log_warn("x86: Multiboot kernel '%s' asks for a video mode; it gets none (text console)",
                 path);
    uint64_t entry;
    int rc;
    if (flags & MB_FLAG_AOUT) {
        rc = mb_load_aout(c, h, header_off, &entry);
    } else if (x86_elf_detect(c->image, c->image_size)) {
        int is64;
        rc = x86_elf_load_segments(c, &entry, &is64);
    } else {
        rc = vmm_error(VMM_EFORMAT,
                       "kernel '%s': Multiboot header without address fields (flag 16) in a "
                       "file that is not ELF",
                       path);
    }
    if (rc < 0)
        return rc;
    if (entry >= X86_MMIO_GAP_END || !guest_mem_ptr(&c->m->mem, entry, 1))
        return vmm_error(VMM_EFORMAT, "kernel '%s': Multiboot entry 0x%llx is not guest RAM", path,
                         (unsigned long long)entry);
    rc = x86_place_cmdline(c, X86_CMDLINE_MAX - 1);
    if (rc == 0)
        rc = x86_place_initrd(c, X86_MMIO_GAP_START, 0x1000);
    if (rc == 0)
        rc = mb_info(c);
    if (rc < 0)
        return rc;
    memset(&c->entry, 0, sizeof(c->entry));
    c->entry.mode = X86_ENTRY_PROTECTED32;
    c->entry.rip = entry;
    c->entry.rax = MB_BOOT_MAGIC;
    c->entry.rbx = X86_INFO_ADDR;
    return 0;
}
