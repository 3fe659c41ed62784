/* Minimal ACPI tables for guests that ignore MP tables (Debian's kernels
 * are built without CONFIG_X86_MPPARSE): an RSDP in the BIOS area, where
 * guests scan for "RSD PTR ", an RSDT, and a MADT listing one enabled
 * local APIC per vCPU, the IOAPIC (GSI n = pin n, as KVM routes them) and
 * LINT1 as NMI. No FADT/DSDT: a guest runs without ACPI power management
 * and says so, which is what this board has.
 */
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "util/error.h"

#define ACPI_RSDT (X86_ACPI_ADDR + 0x40)
#define ACPI_MADT (X86_ACPI_ADDR + 0x80)
#define ACPI_HDR_LEN 36
#define ACPI_SPACE 0x10000

static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)(0x100 - sum);
}

static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    x86_wr32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, "LIBVMM", 6);
    memcpy(t + 16, "LIBVMMX8", 8);
    x86_wr32(t + 24, 1);
    memcpy(t + 28, "LVMM", 4);
    x86_wr32(t + 32, 1);
}

int x86_acpi_write(struct machine *m)
{
    uint32_t madt_len = ACPI_HDR_LEN + 8 + 8 * m->nr_vcpus + 12 + 6;
    uint64_t total = ACPI_MADT - X86_ACPI_ADDR + madt_len;
    if (m->nr_vcpus > 254 || total > ACPI_SPACE)
        return vmm_error(VMM_ERANGE, "ACPI MADT for %u vCPUs does not fit (at most 254)",
                         m->nr_vcpus);
    uint8_t *base = guest_mem_ptr(&m->mem, X86_ACPI_ADDR, total);
    if (!base)
        return vmm_error(VMM_ERANGE, "ACPI tables at 0x%llx are not RAM",
                         (unsigned long long)X86_ACPI_ADDR);
    memset(base, 0, total);

    uint8_t *madt = base + (ACPI_MADT - X86_ACPI_ADDR);
    acpi_header(madt, "APIC", madt_len, 3);
    x86_wr32(madt + 36, 0xfee00000u); /* local APIC address */
    x86_wr32(madt + 40, 1);           /* PCAT_COMPAT: 8259s present */
    uint8_t *e = madt + 44;
    for (unsigned i = 0; i < m->nr_vcpus; i++, e += 8) {
        e[0] = 0; /* processor local APIC */
        e[1] = 8;
        e[2] = (uint8_t)i; /* processor uid */
        e[3] = (uint8_t)i; /* APIC id */
        x86_wr32(e + 4, 1); /* enabled */
    }
    e[0] = 1; /* IOAPIC */
    e[1] = 12;
    e[2] = (uint8_t)m->nr_vcpus;
    x86_wr32(e + 4, 0xfec00000u);
    x86_wr32(e + 8, 0); /* GSI base */
    e += 12;
    e[0] = 4; /* local APIC NMI: all processors, LINT1 */
    e[1] = 6;
    e[2] = 0xff;
    e[5] = 1;
    madt[9] = acpi_checksum(madt, madt_len);

    uint8_t *rsdt = base + (ACPI_RSDT - X86_ACPI_ADDR);
    acpi_header(rsdt, "RSDT", ACPI_HDR_LEN + 4, 1);
    x86_wr32(rsdt + 36, (uint32_t)ACPI_MADT);
    rsdt[9] = acpi_checksum(rsdt, ACPI_HDR_LEN + 4);

    uint8_t *rsdp = base;
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, "LIBVMM", 6);
    rsdp[15] = 0; /* ACPI 1.0 RSDP */
    x86_wr32(rsdp + 16, (uint32_t)ACPI_RSDT);
    rsdp[8] = acpi_checksum(rsdp, 20);
    return 0;
}
