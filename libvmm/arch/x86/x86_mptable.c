/* An Intel MultiProcessor Specification 1.4 table at 0xf0000 (inside the
 * reserved BIOS area, where guests scan for "_MP_"), so a guest without
 * ACPI still finds every vCPU, the IOAPIC and how ISA IRQs reach it.
 * KVM's default routing sends GSI n to IOAPIC pin n, so ISA IRQ n is
 * pin n here too.
 */
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "util/error.h"

#define MP_LAPIC_ADDR 0xfee00000u
#define MP_IOAPIC_ADDR 0xfec00000u
#define MP_LAPIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_ISA_IRQS 16
#define MP_SPACE 0x10000 /* 0xf0000 .. 0xfffff */

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)(0x100 - sum);
}

int x86_mptable_write(struct machine *m)
{
    /* One byte of APIC id each, and the IOAPIC takes the id after them. */
    if (m->nr_vcpus > 254)
        return vmm_error(VMM_ERANGE, "MP table: %u vCPUs, at most 254 have 8-bit APIC ids",
                         m->nr_vcpus);
    size_t cfg_len = 44 + 20 * (size_t)m->nr_vcpus + 8 + 8 + 8 * MP_ISA_IRQS + 8 * 2;
    if (16 + cfg_len > MP_SPACE)
        return vmm_error(VMM_ERANGE, "MP table for %u vCPUs needs %zu bytes, the BIOS area has %d",
                         m->nr_vcpus, 16 + cfg_len, MP_SPACE);
    uint8_t *fp = guest_mem_ptr(&m->mem, X86_MPTABLE_ADDR, 16 + cfg_len);
    if (!fp)
        return vmm_error(VMM_ERANGE, "MP table at 0x%llx is not RAM",
                         (unsigned long long)X86_MPTABLE_ADDR);
    uint8_t *cfg = fp + 16;
    memset(fp, 0, 16 + cfg_len);

    /* Configuration table entries. */
    uint8_t *e = cfg + 44;
    unsigned count = 0;
    uint8_t ioapic_id = (uint8_t)m->nr_vcpus;
    for (unsigned i = 0; i < m->nr_vcpus; i++, e += 20, count++) {
        e[0] = 0; /* processor */
        e[1] = (uint8_t)i;
        e[2] = MP_LAPIC_VERSION;
        e[3] = (uint8_t)(1 | (i == 0 ? 2 : 0)); /* enabled, BSP */
        x86_wr32(e + 4, 0x600);                 /* family 6 */
        x86_wr32(e + 8, 0x201);                 /* FPU, APIC */
    }
    e[0] = 1; /* bus 0: ISA */
    e[1] = 0;
    memcpy(e + 2, "ISA   ", 6);
    e += 8, count++;
    e[0] = 2; /* IOAPIC */
    e[1] = ioapic_id;
    e[2] = MP_IOAPIC_VERSION;
    e[3] = 1;
    x86_wr32(e + 4, MP_IOAPIC_ADDR);
    e += 8, count++;
    for (unsigned irq = 0; irq < MP_ISA_IRQS; irq++, e += 8, count++) {
        e[0] = 3; /* I/O interrupt: INT, conforming polarity/trigger */
        e[1] = 0;
        e[4] = 0;
        e[5] = (uint8_t)irq;
        e[6] = ioapic_id;
        e[7] = (uint8_t)irq;
    }
    /* Local interrupts: ExtINT on LINT0, NMI on LINT1, for every LAPIC. */
    for (unsigned lint = 0; lint < 2; lint++, e += 8, count++) {
        e[0] = 4;
        e[1] = (uint8_t)(lint == 0 ? 3 : 1);
        e[6] = 0xff;
        e[7] = (uint8_t)lint;
    }

    memcpy(cfg, "PCMP", 4);
    x86_wr16(cfg + 4, (uint16_t)cfg_len);
    cfg[6] = 4; /* spec 1.4 */
    memcpy(cfg + 8, "LIBVMM  ", 8);
    memcpy(cfg + 16, "X86_64      ", 12);
    x86_wr16(cfg + 34, (uint16_t)count);
    x86_wr32(cfg + 36, MP_LAPIC_ADDR);
    cfg[7] = mp_checksum(cfg, cfg_len);

    memcpy(fp, "_MP_", 4);
    x86_wr32(fp + 4, (uint32_t)(X86_MPTABLE_ADDR + 16));
    fp[8] = 1; /* length in 16-byte units */
    fp[9] = 4;
    fp[10] = mp_checksum(fp, 16);
    return 0;
}
