/* Guest memory for x86: the RAM layout around the 32-bit MMIO gap, the
 * e820-style map every boot protocol hands the guest, and placing the
 * pieces a loader copies in (files, command line, initrd), each checked
 * against the room there is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/x86_boot.h"
#include "util/error.h"
#include "util/file_buf.h"

uint64_t x86_low_ram_end(const struct machine *m)
{
    const struct guest_region *r = guest_mem_region(&m->mem, 0);
    return r ? r->size : 0;
}

int x86_layout_memory(struct machine *m, uint64_t ram_size);
int x86_layout_memory(struct machine *m, uint64_t ram_size)
{
    if (ram_size < X86_HIGH_MEM * 2)
        return vmm_error(VMM_EINVAL, "x86 guest RAM of %llu bytes is below the minimum %llu",
                         (unsigned long long)ram_size, (unsigned long long)(X86_HIGH_MEM * 2));
    uint64_t low = ram_size < X86_MMIO_GAP_START ? ram_size : X86_MMIO_GAP_START;
    int rc = guest_mem_add_ram(&m->mem, 0, low);
    if (rc < 0)
        return rc;
    if (ram_size > low) {
        rc = guest_mem_add_ram(&m->mem, X86_MMIO_GAP_END, ram_size - low);
        if (rc < 0)
            return rc;
    }
    m->ram_size = ram_size;
    return 0;
}

int x86_memory_map(const struct machine *m, struct x86_mem_range *out, int max)
{
    struct x86_mem_range all[8];
    int n = 0;
    uint64_t low = x86_low_ram_end(m);
    all[n++] = (struct x86_mem_range){ 0, X86_EBDA_ADDR, X86_E820_RAM };
    all[n++] = (struct x86_mem_range){ X86_EBDA_ADDR, X86_HIGH_MEM - X86_EBDA_ADDR,
                                       X86_E820_RESERVED };
    if (low > X86_HIGH_MEM)
        all[n++] = (struct x86_mem_range){ X86_HIGH_MEM, low - X86_HIGH_MEM, X86_E820_RAM };
    all[n++] = (struct x86_mem_range){ X86_MMIO_GAP_START, X86_MMIO_GAP_END - X86_MMIO_GAP_START,
                                       X86_E820_RESERVED };
    for (int i = 0; i < m->mem.nr_regions; i++) {
        const struct guest_region *r = &m->mem.regions[i];
        if (r->gpa >= X86_MMIO_GAP_END && n < 8)
            all[n++] = (struct x86_mem_range){ r->gpa, r->size, X86_E820_RAM };
    }
    int k = n < max ? n : max;
    memcpy(out, all, (size_t)k * sizeof(*out));
    return k;
}

int x86_check_load_range(const struct machine *m, uint64_t gpa, uint64_t len, const char *what)
{
    if (gpa + len < gpa || !guest_mem_ptr(&m->mem, gpa, len ? len : 1))
        return vmm_error(VMM_ERANGE,
                         "%s at 0x%llx+0x%llx is outside guest RAM (RAM below 4 GiB ends at 0x%llx, "
                         "%llu bytes in all)",
                         what, (unsigned long long)gpa, (unsigned long long)len,
                         (unsigned long long)x86_low_ram_end(m),
                         (unsigned long long)m->mem.ram_bytes);
    if (gpa < X86_LOADER_END || (gpa < X86_HIGH_MEM && gpa + len > X86_EBDA_ADDR))
        return vmm_error(VMM_ERANGE,
                         "%s at 0x%llx+0x%llx overlaps memory the loader uses (below 0x%llx and "
                         "0x%llx-0x%llx)",
                         what, (unsigned long long)gpa, (unsigned long long)len,
                         (unsigned long long)X86_LOADER_END, (unsigned long long)X86_EBDA_ADDR,
                         (unsigned long long)X86_HIGH_MEM);
    return 0;
}

int x86_place_cmdline(struct x86_boot_ctx *c, uint64_t limit)
{
    size_t len = strlen(c->spec->cmdline);
    if (limit > X86_CMDLINE_MAX - 1)
        limit = X86_CMDLINE_MAX - 1;
    if (len > limit)
        return vmm_error(VMM_ERANGE,
                         "command line is %zu bytes, longer than the kernel's limit of %llu bytes "
                         "(cmdline_size)",
                         len, (unsigned long long)limit);
    return guest_mem_write(&c->m->mem, X86_CMDLINE_ADDR, c->spec->cmdline, len + 1);
}

int x86_place_initrd(struct x86_boot_ctx *c, uint64_t max_end, uint64_t align)
{
    c->initrd_addr = c->initrd_size = 0;
    if (!c->spec->initrd)
        return 0;
    int fd;
    uint64_t size;
    int rc = file_open_regular("initrd", c->spec->initrd, &fd, &size);
    if (rc < 0)
        return rc;
    uint64_t low_end = x86_low_ram_end(c->m);
    uint64_t top = max_end < low_end ? max_end : low_end;
    /* kernel_end comes from file fields (pref_address + init_size) and
     * may be near 2^64: rounding it up must not wrap to 0. */
    uint64_t floor = c->kernel_end > top ? top : (c->kernel_end + align - 1) & ~(align - 1);
    uint64_t room = top > floor ? top - floor : 0;
    if (size > room) {
        close(fd);
        return vmm_error(VMM_ERANGE,
                         "initrd '%s' is %llu bytes but only %llu fit between the kernel end 0x%llx "
                         "and 0x%llx (RAM end 0x%llx, kernel limit 0x%llx)",
                         c->spec->initrd, (unsigned long long)size, (unsigned long long)room,
                         (unsigned long long)c->kernel_end, (unsigned long long)top,
                         (unsigned long long)low_end, (unsigned long long)max_end);
    }
    uint64_t addr = (top - size) & ~(align - 1);
    uint8_t *dst = guest_mem_ptr(&c->m->mem, addr, size ? size : 1);
    rc = dst ? file_read_exact(fd, "initrd", c->spec->initrd, dst, (size_t)size)
             : vmm_error(VMM_ERANGE, "initrd at 0x%llx is not RAM", (unsigned long long)addr);
    close(fd);
    if (rc < 0)
        return rc;
    c->initrd_addr = addr;
    c->initrd_size = size;
    return 0;
}
