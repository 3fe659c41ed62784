/* Minimal ACPI tables for guests that ignore MP tables (Debian's kernels
 * are built without CONFIG_X86_MPPARSE): an RSDP in the BIOS area, where
 * guests scan for "RSD PTR ", an RSDT, a MADT listing one enabled local
 * APIC per vCPU, the IOAPIC (GSI n = pin n, as KVM routes them) and LINT1
 * as NMI, and a FADT whose PM1a blocks are the board's ACPI PM device, with
 * a DSDT that defines \_S5 — enough for a guest to power off — and lists
 * the board's virtio-mmio windows as motherboard resources (PNP0C02), so
 * the guest never hands those addresses to anything else. The devices
 * themselves reach Linux through virtio_mmio.device= on the command line:
 * describing them as LNRO0005 devices too would make Linux probe each twice.
 */
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "util/error.h"

#define ACPI_RSDT (X86_ACPI_ADDR + 0x40)
#define ACPI_FADT (X86_ACPI_ADDR + 0x100)
#define ACPI_MADT (X86_ACPI_ADDR + 0x200)
/* The DSDT follows the MADT, whose size depends on the vCPU count. */
#define ACPI_FADT_LEN 116 /* ACPI 1.0 FADT */

/* DSDT body, AML: Name (\_S5, Package (4) { 5, 5, 0, 0 }) — the SLP_TYP
 * values for soft-off that devices/acpi_pm.c acts on. */
static const uint8_t dsdt_aml[] = {
    0x08, '_', 'S', '5', '_',  /* NameOp "_S5_" */
    0x12, 0x08, 0x04,          /* PackageOp, PkgLength 8, 4 elements */
    0x0a, 0x05, 0x0a, 0x05,    /* BytePrefix 5, BytePrefix 5 */
    0x00, 0x00,                /* Zero, Zero */
};
#define ACPI_HDR_LEN 36
#define ACPI_SPACE 0x10000

/* Appends an AML PkgLength for `len` bytes of content (the encoding's own
 * bytes included, as the spec counts them); returns the bytes written. */
static size_t aml_pkglen(uint8_t *out, size_t len)
{
    if (len + 1 < 64) {
        out[0] = (uint8_t)(len + 1);
        return 1;
    }
    size_t total = len + 2; /* two-byte form: up to 4095 */
    out[0] = (uint8_t)(0x40 | (total & 0xf));
    out[1] = (uint8_t)(total >> 4);
    return 2;
}

/* Scope (\_SB) { Device (VRTS) { Name (_HID, EisaId ("PNP0C02"))
 *   Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, base, size)... }) } }
 * Returns the bytes written into out (room: at least 64 + 12 per window). */
static size_t aml_virtio_reservations(uint8_t *out, const struct virtio_slots *v)
{
    uint8_t crs[12 * VIRTIO_SLOTS_MAX + 2];
    size_t n = 0;
    for (unsigned i = 0; i < v->nr; i++) {
        crs[n++] = 0x86; /* Memory32Fixed, length 9 */
        crs[n++] = 0x09;
        crs[n++] = 0x00;
        crs[n++] = 0x01; /* read-write */
        x86_wr32(crs + n, (uint32_t)v->slot[i].base);
        x86_wr32(crs + n + 4, (uint32_t)X86_VIRTIO_STRIDE);
        n += 8;
    }
    crs[n++] = 0x79; /* end tag, checksum 0 */
    crs[n++] = 0x00;

    /* Innermost first, into a scratch buffer, so every PkgLength is known. */
    uint8_t buf[sizeof(crs) + 64];
    size_t b = 0;
    uint8_t body[sizeof(crs) + 32];
    size_t k = 0;
    body[k++] = 0x0a; /* BytePrefix: buffer size */
    body[k++] = (uint8_t)n;
    memcpy(body + k, crs, n);
    k += n;
    /* Name (_HID, EisaId ("PNP0C02")) */
    static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
    memcpy(buf + b, hid, sizeof(hid));
    b += sizeof(hid);
    /* Name (_CRS, Buffer (n) {...}) */
    static const uint8_t crs_name[] = { 0x08, '_', 'C', 'R', 'S', 0x11 };
    memcpy(buf + b, crs_name, sizeof(crs_name));
    b += sizeof(crs_name);
    b += aml_pkglen(buf + b, k);
    memcpy(buf + b, body, k);
    b += k;

    /* Device (VRTS) { buf } */
    uint8_t dev[sizeof(buf) + 16];
    size_t d = 0;
    dev[d++] = 0x5b; /* ExtOpPrefix */
    dev[d++] = 0x82; /* DeviceOp */
    size_t dev_content = 4 + b;
    d += aml_pkglen(dev + d, dev_content);
    memcpy(dev + d, "VRTS", 4);
    d += 4;
    memcpy(dev + d, buf, b);
    d += b;

    /* Scope (\_SB) { dev } */
    size_t o = 0;
    out[o++] = 0x10; /* ScopeOp */
    size_t scope_content = 5 + d;
    o += aml_pkglen(out + o, scope_content);
    memcpy(out + o, "\\_SB_", 5);
    o += 5;
    memcpy(out + o, dev, d);
    o += d;
    return o;
}

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
    uint32_t madt_len = ACPI_HDR_LEN + 8 + 8 * m->nr_vcpus + 12 + 10 + 6;
    uint64_t acpi_dsdt = (ACPI_MADT + madt_len + 15) & ~15ULL;
    const struct x86_board *board = m->board;
    uint8_t reservations[64 + 12 * VIRTIO_SLOTS_MAX + 32];
    size_t res_len = board && board->virtio.nr ? aml_virtio_reservations(reservations, &board->virtio)
                                               : 0;
    uint32_t dsdt_len = ACPI_HDR_LEN + (uint32_t)sizeof(dsdt_aml) + (uint32_t)res_len;
    uint64_t total = acpi_dsdt - X86_ACPI_ADDR + dsdt_len;
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
    e[0] = 2; /* interrupt source override: the SCI, ISA IRQ 9 = GSI 9, */
    e[1] = 10;
    e[2] = 0; /* ISA */
    e[3] = X86_ACPI_SCI_IRQ;
    x86_wr32(e + 4, X86_ACPI_SCI_IRQ);
    e[8] = 0x0d; /* active high (01), level-triggered (11 << 2) */
    e += 10;
    e[0] = 4; /* local APIC NMI: all processors, LINT1 */
    e[1] = 6;
    e[2] = 0xff;
    e[5] = 1;
    madt[9] = acpi_checksum(madt, madt_len);

    uint8_t *dsdt = base + (acpi_dsdt - X86_ACPI_ADDR);
    acpi_header(dsdt, "DSDT", dsdt_len, 1);
    memcpy(dsdt + ACPI_HDR_LEN, dsdt_aml, sizeof(dsdt_aml));
    memcpy(dsdt + ACPI_HDR_LEN + sizeof(dsdt_aml), reservations, res_len);
    dsdt[9] = acpi_checksum(dsdt, dsdt_len);

    uint8_t *fadt = base + (ACPI_FADT - X86_ACPI_ADDR);
    acpi_header(fadt, "FACP", ACPI_FADT_LEN, 1);
    x86_wr32(fadt + 40, (uint32_t)acpi_dsdt);
    fadt[46] = X86_ACPI_SCI_IRQ;                    /* SCI_INT (16 bits) */
    /* SMI_CMD (48) stays 0: no legacy mode, ACPI is always enabled. */
    x86_wr32(fadt + 56, X86_ACPI_PM_PORT);          /* PM1a_EVT_BLK */
    x86_wr32(fadt + 64, X86_ACPI_PM_PORT + 4);      /* PM1a_CNT_BLK */
    fadt[88] = 4;                                   /* PM1_EVT_LEN */
    fadt[89] = 2;                                   /* PM1_CNT_LEN */
    fadt[96] = 0x65;                                /* P_LVL2_LAT > 100: no C2 */
    fadt[98] = 0xe9;                                /* P_LVL3_LAT > 1000: no C3 */
    fadt[99] = 0x03;
    fadt[108] = 0x32;                               /* CENTURY: CMOS register */
    /* Flags: WBINVD, PROC_C1, SLP_BUTTON as a control method (there is no
     * sleep button). PWR_BUTTON (bit 4) clear: the power button is the
     * fixed-feature one of devices/acpi_pm (PWRBTN_STS/EN, on the SCI). */
    x86_wr32(fadt + 112, (1u << 0) | (1u << 2) | (1u << 5));
    fadt[9] = acpi_checksum(fadt, ACPI_FADT_LEN);

    uint8_t *rsdt = base + (ACPI_RSDT - X86_ACPI_ADDR);
    acpi_header(rsdt, "RSDT", ACPI_HDR_LEN + 8, 1);
    x86_wr32(rsdt + 36, (uint32_t)ACPI_MADT);
    x86_wr32(rsdt + 40, (uint32_t)ACPI_FADT);
    rsdt[9] = acpi_checksum(rsdt, ACPI_HDR_LEN + 8);

    uint8_t *rsdp = base;
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, "LIBVMM", 6);
    rsdp[15] = 0; /* ACPI 1.0 RSDP */
    x86_wr32(rsdp + 16, (uint32_t)ACPI_RSDT);
    rsdp[8] = acpi_checksum(rsdp, 20);
    return 0;
}
