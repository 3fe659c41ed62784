/* Internals of the x86 platform shared by its loaders: the guest's low
 * memory map, the entry state a loader asks for, and helpers to read files
 * and place the kernel, initrd and command line in guest memory.
 *
 * Low memory the loaders own (below the kernel at 1 MiB):
 *   0x00500  boot GDT
 *   0x01000  PML4, 0x2000 PDPT, 0x3000-0x6fff four PDs: 0-4 GiB identity
 *            mapped with 2 MiB pages (for 64-bit entries)
 *   0x07000  zero page / hvm_start_info / multiboot info (one page)
 *   0x08000  e820 / memmap / module lists (one page)
 *   0x09000  small strings (boot loader name, module names)
 *   0x20000  kernel command line (up to 64 KiB)
 *   0x9fc00  EBDA (reserved in the e820 map) .. 0x100000
 *   0xe0000  ACPI RSDP, RSDT, MADT (within the reserved BIOS area)
 *   0xf0000  MP table (within the reserved BIOS area)
 *   0x100000 kernel
 */
#ifndef LIBVMM_ARCH_X86_X86_BOOT_H
#define LIBVMM_ARCH_X86_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "arch/platform.h"
#include "arch/virtio_slots.h"

#define X86_GDT_ADDR 0x500ULL
#define X86_PML4_ADDR 0x1000ULL
#define X86_PDPT_ADDR 0x2000ULL
#define X86_PD_ADDR 0x3000ULL
#define X86_INFO_ADDR 0x7000ULL
#define X86_TABLES_ADDR 0x8000ULL
#define X86_STRINGS_ADDR 0x9000ULL
#define X86_CMDLINE_ADDR 0x20000ULL
#define X86_CMDLINE_MAX 0x10000ULL
#define X86_LOADER_END 0x30000ULL /* end of the area above */
#define X86_EBDA_ADDR 0x9fc00ULL
#define X86_ACPI_ADDR 0xe0000ULL
/* Port of the ACPI PM1a event block (PM1a control at +4) the FADT names;
 * core/board.c puts devices/acpi_pm there. */
#define X86_ACPI_PM_PORT 0x600
/* The SCI line (FADT SCI_INT; level-triggered, active high by the MADT's
 * interrupt source override) devices/acpi_pm drives. */
#define X86_ACPI_SCI_IRQ 9
/* virtio-mmio windows: in the MMIO gap, clear of the IOAPIC (0xfec00000),
 * the LAPIC (0xfee00000) and KVM's TSS/identity map below 4 GiB. */
#define X86_VIRTIO_BASE 0xd0000000ULL
#define X86_VIRTIO_STRIDE 0x1000ULL
#define X86_MPTABLE_ADDR 0xf0000ULL
#define X86_HIGH_MEM 0x100000ULL
#define X86_KERNEL_ADDR 0x100000ULL

#define X86_MMIO_GAP_START 0xc0000000ULL /* 3 GiB */
#define X86_MMIO_GAP_END 0x100000000ULL  /* 4 GiB */

/* Segment selectors of the boot GDT (Linux's __BOOT_CS / __BOOT_DS). */
#define X86_SEL_CODE 0x10
#define X86_SEL_DATA 0x18

enum x86_entry_mode {
    X86_ENTRY_PROTECTED32 = 32, /* flat 32-bit protected mode, paging off */
    X86_ENTRY_LONG64 = 64,      /* long mode, 0-4 GiB identity mapped */
};

/* The state a loader wants the boot vCPU in. Registers not named are 0. */
struct x86_entry {
    enum x86_entry_mode mode;
    uint64_t rip;
    uint64_t rax, rbx, rsi, rsp;
};

/* What a loader needs and leaves behind. */
struct x86_boot_ctx {
    struct machine *m;
    const struct boot_spec *spec;
    const uint8_t *image; /* the whole kernel file */
    size_t image_size;
    uint64_t kernel_end;  /* first byte above the loaded kernel */
    uint64_t initrd_addr, initrd_size; /* 0 when none */
    struct x86_entry entry;
};

/* End of the RAM below the MMIO gap (min(ram, 3 GiB)). */
uint64_t x86_low_ram_end(const struct machine *m);

/* Checks that [gpa, gpa + len) is guest RAM and clear of the loader's own
 * low-memory area; `what` names the piece in the error (VMM_ERANGE). */
int x86_check_load_range(const struct machine *m, uint64_t gpa, uint64_t len, const char *what);

/* Copies the command line to X86_CMDLINE_ADDR after checking it against
 * `limit` (the kernel's cmdline_size; bytes without the NUL). */
int x86_place_cmdline(struct x86_boot_ctx *c, uint64_t limit);

/* Reads spec->initrd (if any) to the highest `align`ed address whose end is
 * at most max_end and above c->kernel_end. Sets c->initrd_*. */
int x86_place_initrd(struct x86_boot_ctx *c, uint64_t max_end, uint64_t align);

/* The e820-style map of the guest: fills up to `max` entries, returns how
 * many. Types: 1 RAM, 2 reserved. */
struct x86_mem_range {
    uint64_t addr, size;
    uint32_t type;
};
#define X86_E820_RAM 1
#define X86_E820_RESERVED 2
int x86_memory_map(const struct machine *m, struct x86_mem_range *out, int max);

/* Loaders. Each fills c->entry; they assume the file was recognised. */
int x86_bzimage_detect(const uint8_t *img, size_t len);
int x86_bzimage_load(struct x86_boot_ctx *c);
int x86_multiboot_detect(const uint8_t *img, size_t len); /* header offset or -1 */
int x86_multiboot_load(struct x86_boot_ctx *c, size_t header_off);
int x86_elf_detect(const uint8_t *img, size_t len);
int x86_elf_load(struct x86_boot_ctx *c); /* PVH note or plain ELF */
/* Loads only the ELF's PT_LOAD segments (used by Multiboot as well);
 * sets c->kernel_end and *entry to e_entry. */
int x86_elf_load_segments(struct x86_boot_ctx *c, uint64_t *entry, int *is64);

/* x86_lz4.c: the LZ4 legacy frame format of CONFIG_KERNEL_LZ4 payloads.
 * Inflates into a malloc'd buffer of at most `limit` bytes. VMM_EFORMAT
 * for a corrupt stream. */
int x86_lz4_is_legacy(const uint8_t *in, size_t len);
int x86_lz4_legacy_decode(const uint8_t *in, size_t len, size_t limit, uint8_t **out,
                          size_t *out_len);

/* Writes an Intel MP table for nr_vcpus CPUs, the IOAPIC and ISA IRQs. */
int x86_mptable_write(struct machine *m);

/* Writes the ACPI RSDP/RSDT/MADT at X86_ACPI_ADDR (x86_acpi.c). */
int x86_acpi_write(struct machine *m);

/* Loads kernel, initrd and cmdline and writes the MP and ACPI tables; fills *entry.
 * Needs only guest memory (no engine), so tests can call it directly. */
int x86_load(struct machine *m, const struct boot_spec *spec, struct x86_entry *entry);

/* Writes GDT and page tables and sets the boot vCPU's registers for `e`;
 * other vCPUs wait for INIT/SIPI. Needs the kvm engine. */
int x86_cpu_setup(struct machine *m, const struct x86_entry *e);

/* Little-endian field access into images and guest structures. */
static inline uint16_t x86_rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t x86_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t x86_rd64(const uint8_t *p)
{
    return (uint64_t)x86_rd32(p) | (uint64_t)x86_rd32(p + 4) << 32;
}
static inline void x86_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void x86_wr32(uint8_t *p, uint32_t v)
{
    x86_wr16(p, (uint16_t)v);
    x86_wr16(p + 2, (uint16_t)(v >> 16));
}
static inline void x86_wr64(uint8_t *p, uint64_t v)
{
    x86_wr32(p, (uint32_t)v);
    x86_wr32(p + 4, (uint32_t)(v >> 32));
}

/* x86_board.c: the board's components; m->board is a struct x86_board. */
struct x86_board {
    struct virtio_slots virtio; /* announced on the kernel command line */
};
int x86_board_create(struct machine *m, const vmm_config_t *cfg);
void x86_board_destroy(struct machine *m);

#endif
