/* A platform pairs an engine with the architecture code that lays out guest
 * memory and loads the guest: x86_64 on kvm, riscv64 on soft. Core picks one
 * by config (or by looking at the kernel file) and never looks inside.
 */
#ifndef LIBVMM_ARCH_PLATFORM_H
#define LIBVMM_ARCH_PLATFORM_H

#include <stdint.h>

#include "backend/backend.h"
#include "vmm/config.h"

struct boot_spec {
    const char *kernel;  /* path; required */
    const char *initrd;  /* path or NULL */
    const char *cmdline; /* never NULL ("" when empty) */
    const char *firmware; /* path or NULL: M-mode firmware in front of the
                           * kernel (riscv64 only; e.g. OpenSBI fw_jump) */
    const char *dtb;      /* path or NULL: device tree instead of the
                           * generated one (riscv64 only) */
    uint64_t ram_size;
    unsigned nr_vcpus;
};

struct platform {
    const char *arch;                /* "x86_64", "riscv64" */
    const struct engine_ops *engine; /* &engine_kvm, &engine_soft */

    /* Adds the RAM regions for ram_size bytes of guest RAM to m->mem (x86:
     * below the 3 GiB MMIO gap, the rest from 4 GiB; riscv: at 0x80000000). */
    int (*layout_memory)(struct machine *m, uint64_t ram_size);

    /* Adds the board's components (devices, interrupt controllers the
     * engine does not provide, and the virtio devices cfg asks for; cfg may
     * be NULL) to m after vm_create/vcpu_create, and connects m->irq and
     * m->console_in (arch/<arch>/board.c). */
    int (*board_create)(struct machine *m, const vmm_config_t *cfg);
    /* Frees what board_create kept in m->board; components are the
     * machine's. Safe after a failed board_create. */
    void (*board_destroy)(struct machine *m);

    /* Loads kernel, initrd and command line into guest memory and sets every
     * vCPU's initial state. Runs after board_create, and again after a reset
     * (restart), on RAM that is all zero again. Errors name the file and the limit it broke:
     * VMM_ENOENT, VMM_EFORMAT (not a kernel, truncated), VMM_ERANGE (initrd
     * or cmdline does not fit). */
    int (*boot)(struct machine *m, const struct boot_spec *spec);
};

extern const struct platform platform_x86_64;  /* arch/x86/platform.c */
extern const struct platform platform_riscv64; /* arch/riscv/platform.c */

/* Reads the head of `path` and returns &platform_riscv64 for a RISC-V Linux
 * Image (magic "RSC\x05" at offset 0x38) or an ELF with e_machine RISC-V,
 * else &platform_x86_64. NULL with vmm_last_error() set when the file cannot
 * be read. */
const struct platform *platform_for_kernel(const char *path);

#endif
