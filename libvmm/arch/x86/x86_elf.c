/* ELF kernels: PT_LOAD segments copied to their physical addresses
 * (p_paddr), each bounds-checked against guest RAM and the file.
 *
 * With a PVH entry note (Xen ELF note type 18, XEN_ELFNOTE_PHYS32_ENTRY, as
 * Linux's vmlinux has) the guest is entered there in flat 32-bit protected
 * mode with EBX pointing at an hvm_start_info (memory map, command line,
 * the initrd as module 0, rsdp 0). Without one: an ELF32 is entered at
 * e_entry in flat 32-bit protected mode, an ELF64 in long mode with 0-4 GiB
 * identity mapped; neither gets boot information.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "util/error.h"
#include "util/log.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578u
#define HVM_MEMMAP_MAX 16

int x86_elf_detect(const uint8_t *img, size_t len)
{
    return len >= EI_NIDENT && memcmp(img, ELFMAG, SELFMAG) == 0;
}

/* One program header, widened to 64 bits. */
struct phdr {
    uint32_t type;
    uint64_t offset, paddr, filesz, memsz, align;
};

struct elf_view {
    int is64;
    uint64_t entry;
    uint64_t phoff;
    unsigned phentsize, phnum;
};

static int elf_view(struct x86_boot_ctx *c, struct elf_view *v)
{
    const uint8_t *img = c->image;
    size_t len = c->image_size;
    const char *path = c->spec->kernel;
    if (len < EI_NIDENT)
        return vmm_error(VMM_EFORMAT, "kernel '%s': truncated ELF header", path);
    v->is64 = img[EI_CLASS] == ELFCLASS64;
    if (img[EI_CLASS] != ELFCLASS32 && !v->is64)
        return vmm_error(VMM_EFORMAT, "kernel '%s': ELF class %u is neither 32 nor 64-bit", path,
                         img[EI_CLASS]);
    if (img[EI_DATA] != ELFDATA2LSB)
        return vmm_error(VMM_EFORMAT, "kernel '%s': big-endian ELF", path);
    size_t ehsize = v->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    if (len < ehsize)
        return vmm_error(VMM_EFORMAT, "kernel '%s': truncated ELF header (%zu of %zu bytes)", path,
                         len, ehsize);
    unsigned machine = x86_rd16(img + 18);
    if (machine != EM_386 && machine != EM_X86_64)
        return vmm_error(VMM_EFORMAT, "kernel '%s': ELF machine %u is not x86 (%u or %u)", path,
                         machine, EM_386, EM_X86_64);
    if (v->is64) {
        v->entry = x86_rd64(img + 24);
        v->phoff = x86_rd64(img + 32);
        v->phentsize = x86_rd16(img + 54);
        v->phnum = x86_rd16(img + 56);
    } else {
        v->entry = x86_rd32(img + 24);
        v->phoff = x86_rd32(img + 28);
        v->phentsize = x86_rd16(img + 42);
        v->phnum = x86_rd16(img + 44);
    }
    size_t want = v->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    if (v->phnum == 0 || v->phentsize < want)
        return vmm_error(VMM_EFORMAT, "kernel '%s': no program headers (%u of size %u)", path,
                         v->phnum, v->phentsize);
    if (v->phoff > len || (uint64_t)v->phnum * v->phentsize > len - v->phoff)
        return vmm_error(VMM_EFORMAT,
                         "kernel '%s': program headers at 0x%llx (%u x %u bytes) pass the end of "
                         "the file (%zu bytes)",
                         path, (unsigned long long)v->phoff, v->phnum, v->phentsize, len);
    return 0;
}

static struct phdr elf_phdr(const struct x86_boot_ctx *c, const struct elf_view *v, unsigned i)
{
    const uint8_t *p = c->image + v->phoff + (uint64_t)i * v->phentsize;
    struct phdr h;
    h.type = x86_rd32(p);
    if (v->is64) {
        h.offset = x86_rd64(p + 8);
        h.paddr = x86_rd64(p + 24);
        h.filesz = x86_rd64(p + 32);
        h.memsz = x86_rd64(p + 40);
        h.align = x86_rd64(p + 48);
    } else {
        h.offset = x86_rd32(p + 4);
        h.paddr = x86_rd32(p + 12);
        h.filesz = x86_rd32(p + 16);
        h.memsz = x86_rd32(p + 20);
        h.align = x86_rd32(p + 28);
    }
    return h;
}

int x86_elf_load_segments(struct x86_boot_ctx *c, uint64_t *entry, int *is64)
{
    struct elf_view v;
    int rc = elf_view(c, &v);
    if (rc < 0)
        return rc;
    const char *path = c->spec->kernel;
    int loaded = 0;
    uint64_t total = 0; /* memory bytes of the segments so far */
    c->kernel_end = 0;
    for (unsigned i = 0; i < v.phnum; i++) {
        struct phdr h = elf_phdr(c, &v, i);
        if (h.type != PT_LOAD || h.memsz == 0)
            continue;
        if (h.filesz > h.memsz || h.offset > c->image_size || h.filesz > c->image_size - h.offset)
            return vmm_error(VMM_EFORMAT,
                             "kernel '%s': ELF segment %u (offset 0x%llx, %llu file bytes, %llu "
                             "memory bytes) does not fit the file (%zu bytes)",
                             path, i, (unsigned long long)h.offset, (unsigned long long)h.filesz,
                             (unsigned long long)h.memsz, c->image_size);
        char what[64];
        snprintf(what, sizeof(what), "ELF segment %u", i);
        rc = x86_check_load_range(c->m, h.paddr, h.memsz, what);
        if (rc < 0)
            return rc;
        /* Segments do not overlap in a real kernel: bounding their sum by
         * RAM stops a file of thousands of segments over the same range
         * from costing hours of copying. */
        if (h.memsz > c->m->mem.ram_bytes - total)
            return vmm_error(VMM_EFORMAT,
                             "kernel '%s': ELF segments up to %u need more than the %llu bytes "
                             "of guest RAM in all (overlapping segments?)",
                             path, i, (unsigned long long)c->m->mem.ram_bytes);
        total += h.memsz;
        uint8_t *dst = guest_mem_ptr(&c->m->mem, h.paddr, h.memsz);
        memcpy(dst, c->image + h.offset, h.filesz);
        /* The bss: zeros that commit no host memory until the guest writes. */
        if ((rc = guest_mem_clear(&c->m->mem, h.paddr + h.filesz, h.memsz - h.filesz)))
            return rc;
        if (h.paddr + h.memsz > c->kernel_end)
            c->kernel_end = h.paddr + h.memsz;
        loaded++;
    }
    if (!loaded)
        return vmm_error(VMM_EFORMAT, "kernel '%s': ELF has no loadable segment", path);
    *entry = v.entry;
    *is64 = v.is64;
    return 0;
}

/* Looks through PT_NOTE segments for the PVH entry. 1 and *entry when found. */
static int elf_find_pvh(const struct x86_boot_ctx *c, const struct elf_view *v, uint64_t *entry)
{
    for (unsigned i = 0; i < v->phnum; i++) {
        struct phdr h = elf_phdr(c, v, i);
        if (h.type != PT_NOTE || h.offset > c->image_size || h.filesz > c->image_size - h.offset)
            continue;
        const uint8_t *p = c->image + h.offset;
        uint64_t left = h.filesz;
        while (left >= 12) {
            uint32_t namesz = x86_rd32(p), descsz = x86_rd32(p + 4), type = x86_rd32(p + 8);
            uint64_t name_al = ((uint64_t)namesz + 3) & ~3ULL;
            uint64_t desc_al = ((uint64_t)descsz + 3) & ~3ULL;
            if (12 + name_al + desc_al > left)
                break;
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && memcmp(p + 12, "Xen", 4) == 0 &&
                (descsz == 4 || descsz == 8)) {
                *entry = descsz == 4 ? x86_rd32(p + 12 + name_al) : x86_rd64(p + 12 + name_al);
                return 1;
            }
            p += 12 + name_al + desc_al;
            left -= 12 + name_al + desc_al;
        }
    }
    return 0;
}

/* hvm_start_info (version 1) at X86_INFO_ADDR, its memory map and module
 * list in X86_TABLES_ADDR. */
static int pvh_start_info(struct x86_boot_ctx *c)
{
    uint8_t *si = guest_mem_ptr(&c->m->mem, X86_INFO_ADDR, 56);
    uint8_t *tab = guest_mem_ptr(&c->m->mem, X86_TABLES_ADDR, 4096);
    if (!si || !tab)
        return vmm_error(VMM_ERANGE, "PVH start info at 0x%llx is not RAM",
                         (unsigned long long)X86_INFO_ADDR);
    memset(si, 0, 56);
    memset(tab, 0, 4096);
    struct x86_mem_range map[HVM_MEMMAP_MAX];
    int n = x86_memory_map(c->m, map, HVM_MEMMAP_MAX);
    for (int i = 0; i < n; i++) {
        uint8_t *e = tab + 24 * i;
        x86_wr64(e, map[i].addr);
        x86_wr64(e + 8, map[i].size);
        x86_wr32(e + 16, map[i].type);
    }
    uint64_t modlist = X86_TABLES_ADDR + 24 * HVM_MEMMAP_MAX;
    if (c->initrd_size) {
        uint8_t *mod = tab + 24 * HVM_MEMMAP_MAX;
        x86_wr64(mod, c->initrd_addr);
        x86_wr64(mod + 8, c->initrd_size);
    }
    x86_wr32(si, HVM_START_MAGIC);
    x86_wr32(si + 4, 1); /* version */
    x86_wr32(si + 12, c->initrd_size ? 1 : 0);
    x86_wr64(si + 16, c->initrd_size ? modlist : 0);
    x86_wr64(si + 24, X86_CMDLINE_ADDR);
    x86_wr64(si + 32, X86_ACPI_ADDR); /* rsdp (x86_acpi.c writes it) */
    x86_wr64(si + 40, X86_TABLES_ADDR);
    x86_wr32(si + 48, (uint32_t)n);
    return 0;
}

int x86_elf_load(struct x86_boot_ctx *c)
{
    struct elf_view v;
    int rc = elf_view(c, &v);
    if (rc < 0)
        return rc;
    uint64_t entry, pvh_entry;
    int is64;
    rc = x86_elf_load_segments(c, &entry, &is64);
    if (rc < 0)
        return rc;
    memset(&c->entry, 0, sizeof(c->entry));
    if (elf_find_pvh(c, &v, &pvh_entry)) {
        /* The note's address is where the vCPU starts, in 32-bit mode
         * without paging: it must be RAM below 4 GiB. */
        if (pvh_entry >= X86_MMIO_GAP_END || !guest_mem_ptr(&c->m->mem, pvh_entry, 1))
            return vmm_error(VMM_EFORMAT,
                             "kernel '%s': PVH entry 0x%llx is not in guest RAM below 4 GiB",
                             c->spec->kernel, (unsigned long long)pvh_entry);
        rc = x86_place_cmdline(c, X86_CMDLINE_MAX - 1);
        if (rc == 0)
            rc = x86_place_initrd(c, X86_MMIO_GAP_START, 0x1000);
        if (rc == 0)
            rc = pvh_start_info(c);
        if (rc < 0)
            return rc;
        c->entry.mode = X86_ENTRY_PROTECTED32;
        c->entry.rip = pvh_entry;
        c->entry.rbx = X86_INFO_ADDR;
        log_debug("x86: ELF '%s' with PVH entry 0x%llx", c->spec->kernel,
                  (unsigned long long)pvh_entry);
        return 0;
    }
    if (c->spec->initrd)
        log_warn("x86: ELF '%s' has no boot protocol; the initrd is not passed",
                 c->spec->kernel);
    c->entry.mode = is64 ? X86_ENTRY_LONG64 : X86_ENTRY_PROTECTED32;
    c->entry.rip = entry;
    /* Only 0-4 GiB is mapped at entry, so the entry must be there. */
    if (entry >= X86_MMIO_GAP_END || !guest_mem_ptr(&c->m->mem, entry, 1))
        return vmm_error(VMM_EFORMAT,
                         "kernel '%s': ELF entry 0x%llx is not in guest RAM below 4 GiB (a "
                         "virtual address? only a PVH note gives a physical entry)",
                         c->spec->kernel, (unsigned long long)entry);
    return 0;
}
