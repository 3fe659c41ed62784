/* The device tree the riscv64 board hands its guest (a1 at boot): memory,
 * harts, CLINT, PLIC, UART, SiFive test with syscon poweroff/reboot, and
 * /chosen (command line, initrd, stdout). Built with libfdt.
 */
#ifndef LIBVMM_ARCH_RISCV_DTB_H
#define LIBVMM_ARCH_RISCV_DTB_H

#include <stddef.h>
#include <stdint.h>

/* Room for the blob; enough for 32 harts and the longest command line. */
#define DTB_MAX_SIZE 0x10000
/* Longest command line, including the NUL: Linux riscv's COMMAND_LINE_SIZE
 * (arch/riscv/include/uapi/asm/setup.h); the kernel truncates beyond it. */
#define DTB_CMDLINE_MAX 1024

#define DTB_ISA "rv64imafdc_zicsr_zifencei"

struct dtb_params {
    uint64_t ram_base, ram_size;
    unsigned nr_harts;
    const char *cmdline;          /* NULL or "" for none */
    uint64_t initrd_start, initrd_end; /* both 0: no initrd */
    const char *mmu_type;         /* "riscv,sv39" / "riscv,sv48" */
    /* virtio-mmio windows to list (as QEMU virt does: "virtio,mmio"). */
    const uint64_t *virtio_base;
    const unsigned *virtio_irq;
    unsigned nr_virtio;
};

/* Writes the blob into buf (bufsize bytes) and its size into *size.
 * VMM_ERANGE when the command line is DTB_CMDLINE_MAX bytes or longer (the
 * message names both lengths) or the blob does not fit; VMM_EINVAL for
 * 0 harts. */
int dtb_build(const struct dtb_params *p, void *buf, size_t bufsize, size_t *size);

#endif
