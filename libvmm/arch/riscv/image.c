#include "arch/riscv/image.h"

#include <string.h>

#include "util/error.h"

#define EM_RISCV_NUM 243
#define PT_LOAD_NUM 1

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int is_elf(const uint8_t *data, size_t len)
{
    return len >= 4 && memcmp(data, "\x7f" "ELF", 4) == 0;
}

int rv_kernel_kind(const uint8_t *data, size_t len, const char *path, enum rv_kernel_kind *kind)
{
    if (is_elf(data, len)) {
        *kind = RV_KERNEL_ELF;
        return 0;
    }
    if (len < RV_IMAGE_HEADER_SIZE)
        return vmm_error(VMM_EFORMAT,
                         "kernel '%s' is %zu bytes, shorter than the %d-byte RISC-V Image header",
                         path, len, RV_IMAGE_HEADER_SIZE);
    *kind = memcmp(data + RV_IMAGE_MAGIC2_OFF, "RSC\x05", 4) == 0 ? RV_KERNEL_IMAGE : RV_KERNEL_RAW;
    return 0;
}

int rv_image_parse(const uint8_t *data, size_t len, const char *path, struct rv_image_header *out)
{
    if (len < RV_IMAGE_HEADER_SIZE)
        return vmm_error(VMM_EFORMAT,
                         "kernel '%s' is %zu bytes, shorter than the %d-byte RISC-V Image header",
                         path, len, RV_IMAGE_HEADER_SIZE);
    if (memcmp(data + RV_IMAGE_MAGIC2_OFF, "RSC\x05", 4) != 0)
        return vmm_error(VMM_EFORMAT, "kernel '%s' (%zu bytes) has no RISC-V Image magic at 0x%x",
                         path, len, RV_IMAGE_MAGIC2_OFF);
    out->text_offset = le64(data + 8);
    out->image_size = le64(data + 16);
    if (out->text_offset == 0)
        out->text_offset = RV_IMAGE_DEFAULT_OFFSET;
    if (out->text_offset % 4096)
        return vmm_error(VMM_EFORMAT, "kernel '%s': text_offset 0x%llx is not 4 KiB aligned", path,
                         (unsigned long long)out->text_offset);
    /* image_size 0 comes from old kernels: the file is all there is. */
    if (out->image_size < len)
        out->image_size = len;
    return 0;
}

int rv_elf_load(struct guest_mem *gm, const uint8_t *data, size_t len, const char *path,
                uint64_t *entry, uint64_t *end)
{
    if (len < 64 || !is_elf(data, len))
        return vmm_error(VMM_EFORMAT, "'%s' (%zu bytes) is not an ELF file", path, len);
    if (data[4] != 2 || data[5] != 1)
        return vmm_error(VMM_EFORMAT, "ELF '%s' is not 64-bit little-endian (class %u, data %u)",
                         path, data[4], data[5]);
    if (le16(data + 18) != EM_RISCV_NUM)
        return vmm_error(VMM_EFORMAT, "ELF '%s' is for machine %u, not RISC-V (%d)", path,
                         le16(data + 18), EM_RISCV_NUM);
    uint64_t phoff = le64(data + 32);
    unsigned phentsize = le16(data + 54), phnum = le16(data + 56);
    if (phentsize < 56 || phoff > len || (uint64_t)phnum * phentsize > len - phoff)
        return vmm_error(VMM_EFORMAT,
                         "ELF '%s': %u program headers of %u bytes at %llu overrun the "
                         "%zu-byte file",
                         path, phnum, phentsize, (unsigned long long)phoff, len);
    uint64_t top = 0, total = 0; /* total: memory bytes of the segments so far */
    unsigned loaded = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = data + phoff + (uint64_t)i * phentsize;
        if (le32(ph) != PT_LOAD_NUM)
            continue;
        uint64_t off = le64(ph + 8), paddr = le64(ph + 24);
        uint64_t filesz = le64(ph + 32), memsz = le64(ph + 40);
        if (filesz > memsz || off > len || filesz > len - off)
            return vmm_error(VMM_EFORMAT,
                             "ELF '%s': segment %u (offset %llu, %llu bytes) overruns the "
                             "%zu-byte file",
                             path, i, (unsigned long long)off, (unsigned long long)filesz, len);
        if (memsz == 0)
            continue;
        uint8_t *dst = guest_mem_ptr(gm, paddr, memsz);
        if (!dst)
            return vmm_error(VMM_ERANGE,
                             "ELF '%s': segment %u at 0x%llx (%llu bytes) is outside RAM", path,
                             i, (unsigned long long)paddr, (unsigned long long)memsz);
        /* Segments do not overlap in a real program: bounding their sum by
         * RAM stops a file of thousands of segments over the same range
         * from costing hours of copying. */
        if (memsz > gm->ram_bytes - total)
            return vmm_error(VMM_EFORMAT,
                             "ELF '%s': segments up to %u need more than the %llu bytes of RAM "
                             "in all (overlapping segments?)",
                             path, i, (unsigned long long)gm->ram_bytes);
        total += memsz;
        memcpy(dst, data + off, filesz);
        /* The bss: zeros that commit no host memory until the guest writes. */
        int rc = guest_mem_clear(gm, paddr + filesz, memsz - filesz);
        if (rc)
            return rc;
        if (paddr + memsz > top)
            top = paddr + memsz;
        loaded++;
    }
    if (!loaded)
        return vmm_error(VMM_EFORMAT, "ELF '%s' has no loadable segment", path);
    /* The hart starts there with translation off: it must be RAM. */
    uint64_t e_entry = le64(data + 24);
    if (!guest_mem_ptr(gm, e_entry, 1))
        return vmm_error(VMM_EFORMAT, "ELF '%s': entry point 0x%llx is outside RAM", path,
                         (unsigned long long)e_entry);
    *entry = e_entry;
    *end = top;
    return 0;
}
