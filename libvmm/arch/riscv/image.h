/* RISC-V kernel files: the Linux Image (Documentation/riscv/boot-image-header.rst),
 * RISC-V ELF executables (firmware / bare-metal guests) and raw binaries.
 */
#ifndef LIBVMM_ARCH_RISCV_IMAGE_H
#define LIBVMM_ARCH_RISCV_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

#define RV_IMAGE_HEADER_SIZE 64
#define RV_IMAGE_MAGIC2_OFF 0x38
#define RV_IMAGE_DEFAULT_OFFSET 0x200000ULL /* RV64 kernels ask for 2 MiB */

enum rv_kernel_kind {
    RV_KERNEL_IMAGE, /* Linux Image: S-mode, SBI from the VMM */
    RV_KERNEL_ELF,   /* ELF: M-mode firmware or bare-metal guest */
    RV_KERNEL_RAW,   /* anything else: raw M-mode firmware at RAM base */
};

struct rv_image_header {
    uint64_t text_offset; /* load offset from the start of RAM */
    uint64_t image_size;  /* bytes the kernel occupies once loaded */
};

/* What kind of file `data` (len bytes) holds. A file shorter than an Image
 * header that carries no ELF magic is VMM_EFORMAT ("truncated"), so a cut
 * Image is never run as raw firmware. */
int rv_kernel_kind(const uint8_t *data, size_t len, const char *path, enum rv_kernel_kind *kind);

/* Parses and validates an Image header (magic, text_offset alignment).
 * VMM_EFORMAT naming the file and its size. */
int rv_image_parse(const uint8_t *data, size_t len, const char *path, struct rv_image_header *out);

/* Loads the PT_LOAD segments of a little-endian ELF64 RISC-V executable at
 * their physical addresses. Every segment must lie in RAM (VMM_ERANGE) and
 * inside the file (VMM_EFORMAT). Writes the entry point and the highest
 * loaded address. */
int rv_elf_load(struct guest_mem *gm, const uint8_t *data, size_t len, const char *path,
                uint64_t *entry, uint64_t *end);

#endif
