/* The riscv64 platform: RAM at 0x80000000 and the boot of a Linux Image
 * (S-mode, SBI from the VMM) or of M-mode firmware (an ELF, e.g. the
 * bare-metal test guests, or a raw binary such as OpenSBI's fw_jump.bin).
 * With both (spec->firmware and a kernel Image), the firmware sits at the
 * start of RAM and runs first in M-mode, the Image where the boot protocol
 * puts it (RAM + text_offset, which is where fw_jump jumps), and the SBI
 * comes from the firmware instead of the VMM.
 */
#include "arch/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/riscv/dtb.h"
#include "arch/riscv/image.h"
#include "arch/riscv/sbi.h"
#include "arch/riscv/virt.h"
#include "arch/riscv/board.h"
#include "util/error.h"
#include "util/file_buf.h"
#include "util/log.h"

/* What the soft engine's MMU translates (Bare, Sv39, Sv48); Linux probes
 * satp itself, the property is informative. */
#define RV_MMU_TYPE "riscv,sv48"

#define MIB (1024ULL * 1024)
#define RV_MIN_RAM (2 * MIB)

static uint64_t align_down(uint64_t v, uint64_t a)
{
    return v & ~(a - 1);
}

static int riscv_layout_memory(struct machine *m, uint64_t ram_size)
{
    if (ram_size < RV_MIN_RAM || ram_size % 4096)
        return vmm_error(VMM_EINVAL,
                         "riscv64 RAM of %llu bytes: needs at least %llu, in 4 KiB pages",
                         (unsigned long long)ram_size, (unsigned long long)RV_MIN_RAM);
    if (ram_size > VIRT_RAM_LIMIT - VIRT_RAM_BASE)
        return vmm_error(VMM_EINVAL, "riscv64 RAM of %llu bytes: limit %llu (RAM ends below 2^39)",
                         (unsigned long long)ram_size,
                         (unsigned long long)(VIRT_RAM_LIMIT - VIRT_RAM_BASE));
    int rc = guest_mem_add_ram(&m->mem, VIRT_RAM_BASE, ram_size);
    if (rc == 0)
        m->ram_size = ram_size;
    return rc;
}

/* Reads a whole file of at most the RAM's size. */
static int read_file(const char *what, const char *path, uint64_t limit, struct file_buf *out)
{
    char limit_what[64];
    snprintf(limit_what, sizeof(limit_what), "the %llu bytes of RAM", (unsigned long long)limit);
    return file_buf_read(what, path, limit, limit_what, out);
}

struct rv_boot {
    enum rv_kernel_kind kind;
    uint64_t entry;      /* first instruction */
    uint64_t kernel_end; /* first byte above the kernel */
    uint64_t initrd_start, initrd_end;
    uint64_t dtb_addr;
};

/* Reads len bytes of fd (from offset 0) straight into guest RAM at gpa,
 * which must be RAM: no intermediate buffer, and the pages are committed
 * in one call instead of one fault each. */
static int read_into_guest(struct machine *m, int fd, const char *what, const char *path,
                           uint64_t gpa, uint64_t len)
{
    uint8_t *dst = guest_mem_ptr(&m->mem, gpa, len ? len : 1);
    if (!dst)
        return vmm_error(VMM_ERANGE, "%s '%s' at 0x%llx+0x%llx is not RAM", what, path,
                         (unsigned long long)gpa, (unsigned long long)len);
    guest_mem_prefault(&m->mem, gpa, len);
    guest_mem_mark_dirty(&m->mem, gpa, len);
    guest_mem_note_foreign_write(&m->mem);
    return file_read_exact(fd, what, path, dst, (size_t)len);
}

/* The kernel: a Linux Image or raw binary is read straight into guest RAM
 * (only its header first); an ELF is read whole and loaded by segment. */
static int load_kernel(struct machine *m, const char *path, struct rv_boot *b)
{
    int fd;
    uint64_t len;
    int rc = file_open_regular("kernel", path, &fd, &len);
    if (rc)
        return rc;
    if (len > m->ram_size) {
        close(fd);
        return vmm_error(VMM_ERANGE, "kernel '%s' is %llu bytes, larger than the %llu bytes of RAM",
                         path, (unsigned long long)len, (unsigned long long)m->ram_size);
    }
    uint8_t head[RV_IMAGE_HEADER_SIZE];
    size_t hlen = len < sizeof(head) ? (size_t)len : sizeof(head);
    rc = file_read_exact(fd, "kernel", path, head, hlen);
    if (rc == 0)
        rc = rv_kernel_kind(head, hlen, path, &b->kind);
    if (rc) {
        close(fd);
        return rc;
    }
    switch (b->kind) {
    case RV_KERNEL_IMAGE: {
        struct rv_image_header hdr;
        if ((rc = rv_image_parse(head, hlen, path, &hdr)))
            break;
        if (hdr.image_size < len) /* 0 in old kernels: the file is all there is */
            hdr.image_size = len;
        if (hdr.text_offset >= m->ram_size || hdr.image_size > m->ram_size - hdr.text_offset) {
            rc = vmm_error(VMM_ERANGE,
                           "kernel '%s' needs %llu bytes at offset 0x%llx, RAM is %llu bytes", path,
                           (unsigned long long)hdr.image_size, (unsigned long long)hdr.text_offset,
                           (unsigned long long)m->ram_size);
            break;
        }
        b->entry = VIRT_RAM_BASE + hdr.text_offset;
        b->kernel_end = b->entry + hdr.image_size;
        rc = read_into_guest(m, fd, "kernel", path, b->entry, len);
        break;
    }
    case RV_KERNEL_ELF: {
        struct file_buf f;
        rc = read_file("kernel", path, m->ram_size, &f);
        if (rc == 0)
            rc = rv_elf_load(&m->mem, f.data, f.len, path, &b->entry, &b->kernel_end);
        file_buf_free(&f);
        break;
    }
    case RV_KERNEL_RAW:
        b->entry = VIRT_RAM_BASE;
        b->kernel_end = VIRT_RAM_BASE + len;
        rc = read_into_guest(m, fd, "kernel", path, VIRT_RAM_BASE, len);
        break;
    }
    close(fd);
    return rc;
}

/* M-mode firmware in front of the kernel: loaded at the start of RAM (an
 * ELF at its own addresses), and it must end below the kernel. */
static int load_firmware(struct machine *m, const char *path, const struct rv_boot *kernel,
                         uint64_t *entry)
{
    struct file_buf f;
    int rc = read_file("firmware", path, m->ram_size, &f);
    if (rc)
        return rc;
    const uint8_t *data = f.data;
    size_t len = f.len;
    enum rv_kernel_kind kind;
    uint64_t end = 0;
    rc = rv_kernel_kind(data, len, path, &kind);
    if (rc == 0 && kind == RV_KERNEL_IMAGE)
        rc = vmm_error(VMM_EFORMAT, "firmware '%s' is a Linux Image, not firmware", path);
    else if (rc == 0 && kind == RV_KERNEL_ELF) {
        rc = rv_elf_load(&m->mem, data, len, path, entry, &end);
        /* Like a raw binary, it must stay clear of the kernel (and so of
         * the initrd and device tree above it). The boot fails here, so
         * what the segments overwrote is never run. */
        if (rc == 0 && (end > kernel->entry || *entry >= kernel->entry))
            rc = vmm_error(VMM_ERANGE,
                           "firmware '%s' occupies up to 0x%llx with its entry at 0x%llx; both "
                           "must be below the kernel at 0x%llx",
                           path, (unsigned long long)end, (unsigned long long)*entry,
                           (unsigned long long)kernel->entry);
    }
    else if (rc == 0) {
        end = VIRT_RAM_BASE + len;
        if (end > kernel->entry)
            rc = vmm_error(VMM_ERANGE,
                           "firmware '%s' is %zu bytes; it must end below the kernel at 0x%llx",
                           path, len, (unsigned long long)kernel->entry);
        else
            rc = guest_mem_write(&m->mem, VIRT_RAM_BASE, data, len);
        *entry = VIRT_RAM_BASE;
    }
    file_buf_free(&f);
    return rc;
}

/* Does the structure block of a device tree (version 17 and later) walk
 * to FDT_END with every tag, node name and property inside it? libfdt
 * 1.6's fdt_check_full() does not check that a property's length keeps
 * the walk going forward: a length of 0xfffffff4 steps back onto the same
 * tag and it loops for ever (found by the loader fuzzer). So this walk
 * comes first; fdt_check_full() then checks the rest. */
static int dtb_struct_walks(const uint8_t *blob, size_t len)
{
    uint32_t off = fdt32_ld((const fdt32_t *)(blob + 8));   /* off_dt_struct */
    uint32_t size = fdt32_ld((const fdt32_t *)(blob + 36)); /* size_dt_struct */
    if (off > len || size > len - off)
        return 0;
    const uint8_t *s = blob + off;
    size_t pos = 0;
    while (size - pos >= 4) {
        uint32_t tag = fdt32_ld((const fdt32_t *)(s + pos));
        pos += 4;
        if (tag == FDT_BEGIN_NODE) { /* a NUL-terminated name, padded to 4 */
            const uint8_t *nul = memchr(s + pos, 0, size - pos);
            if (!nul)
                return 0;
            pos = (size_t)(nul - s) + 1;
        } else if (tag == FDT_PROP) { /* length, name offset, value */
            if (size - pos < 8)
                return 0;
            uint32_t plen = fdt32_ld((const fdt32_t *)(s + pos));
            pos += 8;
            if (plen > size - pos)
                return 0;
            pos += plen;
        } else if (tag == FDT_END) {
            return 1;
        } else if (tag != FDT_END_NODE && tag != FDT_NOP) {
            return 0;
        }
        pos = (pos + 3) & ~(size_t)3;
        if (pos > size)
            return 0;
    }
    return 0; /* no FDT_END */
}

/* A device tree from a file instead of the generated one; /chosen gets the
 * command line and initrd as for the generated tree. */
static int load_dtb_file(const char *path, const struct dtb_params *dp, void *dst, size_t room,
                         size_t *size)
{
    struct file_buf f;
    char limit_what[64];
    snprintf(limit_what, sizeof(limit_what), "the %zu bytes a device tree may take", room);
    int rc = file_buf_read("device tree", path, room, limit_what, &f);
    if (rc)
        return rc;
    const uint8_t *data = f.data;
    size_t len = f.len;
    /* fdt_check_header() alone lets through blobs whose blocks overlap or
     * whose reservation map runs off its block, on which fdt_open_into()
     * copies with a negative length: check the whole structure first.
     * fdt_check_full() itself (libfdt 1.6) dereferences NULL on blobs of
     * the old formats (seen with version 2), so only version 17 (what dtc
     * and QEMU write) and later ones get that far. */
    uint32_t version = len >= sizeof(struct fdt_header) ? fdt_version(data) : 0;
    if (len >= sizeof(struct fdt_header) && fdt_magic(data) == FDT_MAGIC && version < 17) {
        file_buf_free(&f);
        return vmm_error(VMM_EFORMAT, "device tree '%s': version %u, libvmm reads 17 and later",
                         path, version);
    }
    if (len >= sizeof(struct fdt_header) && fdt_magic(data) == FDT_MAGIC &&
        !dtb_struct_walks(data, len)) {
        unsigned ssize = fdt_size_dt_struct(data), soff = fdt_off_dt_struct(data);
        file_buf_free(&f);
        return vmm_error(VMM_EFORMAT,
                         "device tree '%s': its structure block (%u bytes at offset %u of %zu) "
                         "has a tag, name or property running past its end, or no FDT_END",
                         path, ssize, soff, len);
    }
    int err = len < sizeof(struct fdt_header) ? -FDT_ERR_TRUNCATED : fdt_check_full(data, len);
    if (err == 0)
        err = fdt_open_into(data, dst, (int)room);
    file_buf_free(&f);
    if (err)
        return vmm_error(VMM_EFORMAT, "device tree '%s': %s (at most %zu bytes)", path,
                         fdt_strerror(err), room);
    int chosen = fdt_path_offset(dst, "/chosen");
    if (chosen < 0)
        chosen = fdt_add_subnode(dst, 0, "chosen");
    if (chosen >= 0 && dp->cmdline && *dp->cmdline)
        err = fdt_setprop_string(dst, chosen, "bootargs", dp->cmdline);
    if (chosen >= 0 && !err && dp->initrd_end) {
        err = fdt_setprop_u64(dst, chosen, "linux,initrd-start", dp->initrd_start);
        if (!err)
            err = fdt_setprop_u64(dst, chosen, "linux,initrd-end", dp->initrd_end);
    }
    if (chosen < 0 || err)
        return vmm_error(VMM_ERANGE, "device tree '%s': no room for /chosen in %zu bytes: %s",
                         path, room, fdt_strerror(chosen < 0 ? chosen : err));
    fdt_pack(dst);
    *size = fdt_totalsize(dst);
    return 0;
}

/* The device tree goes at the top of RAM, 2 MiB aligned when there is room
 * (as QEMU does, so the kernel's early fixmap covers it), else page aligned. */
static int place_dtb(struct machine *m, struct rv_boot *b)
{
    uint64_t ram_end = VIRT_RAM_BASE + m->ram_size;
    uint64_t addr = align_down(ram_end - DTB_MAX_SIZE, 2 * MIB);
    if (addr < VIRT_RAM_BASE || addr < b->kernel_end)
        addr = align_down(ram_end - DTB_MAX_SIZE, 4096);
    if (addr < b->kernel_end)
        return vmm_error(VMM_ERANGE,
                         "kernel ends at 0x%llx: no room for the %d-byte device tree below the "
                         "end of RAM at 0x%llx",
                         (unsigned long long)b->kernel_end, DTB_MAX_SIZE,
                         (unsigned long long)ram_end);
    b->dtb_addr = addr;
    return 0;
}

/* The initrd goes right below the device tree, page aligned, read from
 * its file straight into guest RAM. */
static int load_initrd(struct machine *m, const char *path, struct rv_boot *b)
{
    int fd;
    uint64_t len;
    int rc = file_open_regular("initrd", path, &fd, &len);
    if (rc)
        return rc;
    uint64_t room = b->dtb_addr > b->kernel_end ? b->dtb_addr - b->kernel_end : 0;
    uint64_t start = b->dtb_addr >= len ? align_down(b->dtb_addr - len, 4096) : 0;
    if (len > room || start < b->kernel_end) {
        close(fd);
        return vmm_error(VMM_ERANGE,
                         "initrd '%s' is %llu bytes; only %llu bytes of RAM are free between the "
                         "kernel and the device tree (RAM %llu bytes)",
                         path, (unsigned long long)len, (unsigned long long)room,
                         (unsigned long long)m->ram_size);
    }
    rc = read_into_guest(m, fd, "initrd", path, start, len);
    close(fd);
    b->initrd_start = start;
    b->initrd_end = start + len;
    return rc;
}

static int riscv_boot(struct machine *m, const struct boot_spec *spec)
{
    struct rv_board *sv = m->board;
    if (!sv)
        return vmm_error(VMM_EINVAL, "riscv64 boot needs the riscv board");
    const char *cmdline = spec->cmdline ? spec->cmdline : "";
    size_t cmdlen = strlen(cmdline);
    if (cmdlen >= DTB_CMDLINE_MAX)
        return vmm_error(VMM_ERANGE, "kernel command line is %zu bytes, limit %d", cmdlen,
                         DTB_CMDLINE_MAX - 1);

    struct rv_boot b = { 0 };
    int rc = load_kernel(m, spec->kernel, &b);
    if (rc == 0)
        rc = place_dtb(m, &b);
    if (rc == 0 && spec->initrd)
        rc = load_initrd(m, spec->initrd, &b);
    if (rc)
        return rc;

    uint64_t virtio_base[VIRTIO_SLOTS_MAX];
    unsigned virtio_irq[VIRTIO_SLOTS_MAX];
    for (unsigned i = 0; i < sv->virtio.nr; i++) {
        virtio_base[i] = sv->virtio.slot[i].base;
        virtio_irq[i] = sv->virtio.slot[i].irq;
    }
    struct dtb_params dp = {
        .virtio_base = virtio_base,
        .virtio_irq = virtio_irq,
        .nr_virtio = sv->virtio.nr,
        .ram_base = VIRT_RAM_BASE,
        .ram_size = m->ram_size,
        .nr_harts = sv->nr_harts,
        .cmdline = cmdline,
        .initrd_start = b.initrd_start,
        .initrd_end = b.initrd_end,
        .mmu_type = RV_MMU_TYPE,
    };
    void *dtb = guest_mem_ptr(&m->mem, b.dtb_addr, DTB_MAX_SIZE);
    size_t dtb_size;
    if (!dtb)
        return vmm_error(VMM_ERANGE, "device tree at 0x%llx is outside RAM",
                         (unsigned long long)b.dtb_addr);
    if (spec->dtb)
        rc = load_dtb_file(spec->dtb, &dp, dtb, DTB_MAX_SIZE, &dtb_size);
    else
        rc = dtb_build(&dp, dtb, DTB_MAX_SIZE, &dtb_size);
    if (rc)
        return rc;

    int firmware = b.kind != RV_KERNEL_IMAGE;
    if (spec->firmware) {
        if (firmware)
            return vmm_error(VMM_EFORMAT, "firmware '%s' needs a Linux Image as the kernel; "
                             "'%s' is not one", spec->firmware, spec->kernel);
        uint64_t fw_entry;
        if ((rc = load_firmware(m, spec->firmware, &b, &fw_entry)))
            return rc;
        b.entry = fw_entry;
        firmware = 1;
    }
    for (unsigned i = 0; i < sv->nr_harts; i++) {
        struct rv_hart *h = rv_board_hart(sv, i);
        if (!h)
            return vmm_error(VMM_EINVAL, "riscv64 boot: vCPU %u was not created", i);
        if (firmware) {
            /* like QEMU -bios none: every hart enters the firmware */
            rv_hart_set_boot(h, b.entry, i, b.dtb_addr, RV_PRIV_M, 0);
            atomic_store(&h->hsm_state, SBI_HSM_STARTED);
        } else {
            /* Linux boot protocol: a0 = hartid, a1 = dtb; the other harts
             * wait for SBI HSM hart_start */
            rv_hart_set_boot(h, b.entry, i, b.dtb_addr, RV_PRIV_S, 1);
            atomic_store(&h->hsm_state, i == 0 ? SBI_HSM_STARTED : SBI_HSM_STOPPED);
        }
    }
    log_debug("riscv64 boot: %s '%s' entry 0x%llx end 0x%llx, initrd 0x%llx-0x%llx, dtb 0x%llx "
              "(%zu bytes), %u harts",
              firmware ? "firmware" : "Image", spec->kernel, (unsigned long long)b.entry,
              (unsigned long long)b.kernel_end, (unsigned long long)b.initrd_start,
              (unsigned long long)b.initrd_end, (unsigned long long)b.dtb_addr, dtb_size,
              sv->nr_harts);
    return 0;
}

const struct platform platform_riscv64 = {
    .arch = "riscv64",
    .engine = &engine_soft,
    .layout_memory = riscv_layout_memory,
    .board_create = rv_board_create,
    .board_destroy = rv_board_destroy,
    .boot = riscv_boot,
};
