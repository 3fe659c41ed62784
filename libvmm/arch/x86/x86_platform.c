/* The x86_64 platform: guest memory around the 32-bit MMIO gap, and boot
 * by looking at the kernel file: a bzImage ("HdrS"), a Multiboot v1 kernel
 * (magic in the first 8 KiB), an ELF (PVH note or plain), else refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "util/error.h"
#include "util/file_buf.h"

/* Largest kernel file read into memory; real ones are tens of MiB. */
#define X86_KERNEL_FILE_MAX (1ULL << 30)

int x86_layout_memory(struct machine *m, uint64_t ram_size); /* x86_mem.c */

int x86_load(struct machine *m, const struct boot_spec *spec, struct x86_entry *entry)
{
    if (!spec->kernel)
        return vmm_error(VMM_EINVAL, "no kernel to boot");
    struct x86_boot_ctx c;
    memset(&c, 0, sizeof(c));
    c.m = m;
    c.spec = spec;
    struct file_buf f;
    char limit_what[48];
    snprintf(limit_what, sizeof(limit_what), "the limit %llu", (unsigned long long)X86_KERNEL_FILE_MAX);
    int rc = file_buf_read("kernel", spec->kernel, X86_KERNEL_FILE_MAX, limit_what, &f);
    if (rc < 0)
        return rc;
    const uint8_t *img = f.data;
    size_t len = f.len;
    c.image = img;
    c.image_size = len;
    int mb_off;
    if (x86_bzimage_detect(img, len))
        rc = x86_bzimage_load(&c);
    else if ((mb_off = x86_multiboot_detect(img, len)) >= 0)
        rc = x86_multiboot_load(&c, (size_t)mb_off);
    else if (x86_elf_detect(img, len))
        rc = x86_elf_load(&c);
    else
        rc = vmm_error(VMM_EFORMAT, "not a kernel: %s (no bzImage header, ELF or Multiboot magic)",
                       spec->kernel);
    file_buf_free(&f);
    if (rc == 0)
        rc = x86_mptable_write(m);
    if (rc == 0)
        rc = x86_acpi_write(m);
    if (rc == 0)
        *entry = c.entry;
    return rc;
}

static int x86_boot(struct machine *m, const struct boot_spec *spec)
{
    if (spec->firmware || spec->dtb)
        return vmm_error(VMM_ENOTSUP, "%s '%s': x86_64 boots kernels directly; firmware and "
                         "device trees are riscv64 only",
                         spec->firmware ? "firmware" : "device tree",
                         spec->firmware ? spec->firmware : spec->dtb);
    /* The board's virtio-mmio devices reach Linux through the command line
     * (the virtio_mmio driver's device= parameter): "4K@base:irq" each. */
    const struct x86_board *b = m->board;
    struct boot_spec with_virtio = *spec;
    char *cmdline = NULL;
    if (b && b->virtio.nr) {
        size_t cap = strlen(spec->cmdline) + 64 * b->virtio.nr + 1;
        cmdline = malloc(cap);
        if (!cmdline)
            return vmm_error(VMM_ENOMEM, "kernel command line");
        size_t n = (size_t)snprintf(cmdline, cap, "%s", spec->cmdline);
        for (unsigned i = 0; i < b->virtio.nr; i++)
            n += (size_t)snprintf(cmdline + n, cap - n, "%svirtio_mmio.device=4K@0x%llx:%u",
                                  n ? " " : "", (unsigned long long)b->virtio.slot[i].base,
                                  b->virtio.slot[i].irq);
        with_virtio.cmdline = cmdline;
    }
    struct x86_entry e;
    int rc = x86_load(m, &with_virtio, &e);
    free(cmdline);
    if (rc < 0)
        return rc;
    return x86_cpu_setup(m, &e);
}

const struct platform platform_x86_64 = {
    .arch = "x86_64",
    .engine = &engine_kvm,
    .layout_memory = x86_layout_memory,
    .board_create = x86_board_create,
    .board_destroy = x86_board_destroy,
    .boot = x86_boot,
};
