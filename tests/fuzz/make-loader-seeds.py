#!/usr/bin/env python3
"""Writes the seed corpora of the loader fuzz targets: small, valid (or
nearly valid) kernel files of every kind the loaders recognise, so libFuzzer
starts past the magic numbers. Each seed is a few KiB.

usage: make-loader-seeds.py OUT_DIR   (writes OUT_DIR/x86 and OUT_DIR/riscv)

The seed-* files in tests/fuzz/loader-corpus/ were made with this script
(seed-regress-* reproduce a fixed bug); the crash-* files next to them are
the inputs libFuzzer found for the other fixed bugs, kept as regressions."""
import os
import struct
import sys


def le16(v): return struct.pack('<H', v)
def le32(v): return struct.pack('<I', v & 0xffffffff)
def le64(v): return struct.pack('<Q', v)


def put(buf, off, data):
    buf[off:off + len(data)] = data


# --- ELF -------------------------------------------------------------------

def elf(is64, machine, entry, segments, notes=b''):
    """segments: list of (paddr, data, memsz). A PT_NOTE with `notes` is
    added when given. Returns the file."""
    ehsize = 64 if is64 else 52
    phentsize = 56 if is64 else 32
    phdrs = [(1, paddr, data, memsz) for paddr, data, memsz in segments]
    if notes:
        phdrs.append((4, 0, notes, len(notes)))
    off = ehsize + phentsize * len(phdrs)
    body = b''
    ph = b''
    for ptype, paddr, data, memsz in phdrs:
        o = off + len(body)
        if is64:
            ph += le32(ptype) + le32(7) + le64(o) + le64(paddr) + le64(paddr) + \
                le64(len(data)) + le64(memsz) + le64(16)
        else:
            ph += le32(ptype) + le32(o) + le32(paddr) + le32(paddr) + le32(len(data)) + \
                le32(memsz) + le32(7) + le32(16)
        body += data + b'\0' * (-len(data) % 16)
    ident = b'\x7fELF' + bytes([2 if is64 else 1, 1, 1]) + b'\0' * 9
    if is64:
        eh = ident + le16(2) + le16(machine) + le32(1) + le64(entry) + le64(ehsize) + \
            le64(0) + le32(0) + le16(ehsize) + le16(phentsize) + le16(len(phdrs)) + \
            le16(64) + le16(0) + le16(0)
    else:
        eh = ident + le16(2) + le16(machine) + le32(1) + le32(entry) + le32(ehsize) + \
            le32(0) + le32(0) + le16(ehsize) + le16(phentsize) + le16(len(phdrs)) + \
            le16(40) + le16(0) + le16(0)
    return eh + ph + body


def xen_note(ntype, desc):
    name = b'Xen\0'
    return le32(len(name)) + le32(len(desc)) + le32(ntype) + name + desc + \
        b'\0' * (-len(desc) % 4)


CODE = bytes(range(256)) * 2  # stands in for machine code


# --- x86 -------------------------------------------------------------------

def bzimage(version=0x020f, payload=CODE, setup_sects=4, xlf=1, init_size=0x100000,
            payload_field=None):
    setup = ((setup_sects or 4) + 1) * 512
    b = bytearray(setup)
    b[0x1f1] = setup_sects
    put(b, 0x1fe, le16(0xaa55))
    b[0x200] = 0xeb
    b[0x201] = 0x66
    put(b, 0x202, b'HdrS')
    put(b, 0x206, le16(version))
    b[0x211] = 0x01
    put(b, 0x214, le32(0x100000))
    put(b, 0x22c, le32(0x37ffffff))
    put(b, 0x230, le32(0x200000))
    b[0x234] = 1
    put(b, 0x236, le16(xlf))
    put(b, 0x238, le32(2048))
    if payload_field:
        put(b, 0x248, le32(payload_field[0]))
        put(b, 0x24c, le32(payload_field[1]))
    put(b, 0x258, le64(0x100000))
    put(b, 0x260, le32(init_size))
    return bytes(b) + payload


def lz4_lit_len(n):
    """The literal-length nibble and extension bytes for n literals."""
    if n < 15:
        return n, b''
    ext = n - 15
    return 15, b'\xff' * (ext // 255) + bytes([ext % 255])


def lz4_legacy(data):
    """A legacy frame with one block: literals up to the first run of equal
    bytes, one overlapping match (offset 1) over the run, then the rest as
    literals, so the decoder's match path is seeded."""
    p = next(i for i in range(len(data) - 8) if data[i:i + 8] == data[i:i + 1] * 8)
    run = 1
    while p + run < len(data) and data[p + run] == data[p] and run < 18:
        run += 1
    lit1, mlen = data[:p + 1], run - 1  # 4 <= mlen <= 17
    nib, ext = lz4_lit_len(len(lit1))
    mnib = min(mlen - 4, 15)
    block = bytes([nib << 4 | mnib]) + ext + lit1 + le16(1)
    if mnib == 15:
        block += bytes([mlen - 4 - 15])
    rest = data[p + 1 + mlen:]
    nib, ext = lz4_lit_len(len(rest))
    block += bytes([nib << 4]) + ext + rest
    return le32(0x184C2102) + le32(len(block)) + block + le32(len(data))


def x86_seeds():
    s = {}
    s['bzimage-2.15-64bit'] = bzimage()
    s['bzimage-2.02'] = bzimage(version=0x0202, xlf=0)
    s['bzimage-2.10-32bit'] = bzimage(version=0x020a, xlf=0, setup_sects=0)
    vmlinux = elf(True, 62, 0x100000, [(0x100000, b'\0' * 16 + CODE, 0x2000)])
    payload = lz4_legacy(vmlinux)
    # payload_offset is relative to the protected-mode code
    s['bzimage-lz4-vmlinux'] = bzimage(payload=b'\0' * 64 + payload,
                                       payload_field=(64, len(payload)))
    mb = bytearray(le32(0x1BADB002) + le32(0x10003) + le32(-(0x1BADB002 + 0x10003)) +
                   le32(0x100000) + le32(0x100000) + le32(0) + le32(0x102000) +
                   le32(0x100020))
    s['multiboot-aout'] = bytes(mb) + CODE
    mbh = le32(0x1BADB002) + le32(0x3) + le32(-(0x1BADB002 + 0x3))
    # regression: pref_address + init_size just below 2^64 made the initrd
    # floor wrap to 0, so the initrd landed inside the kernel's init_size
    s['regress-bzimage-pref-near-2e64'] = bytes(
        bytearray(bzimage(version=0x020a, init_size=0x700000))[:0x258] +
        le64((1 << 64) - 0x800 - 0x700000) +
        bytearray(bzimage(version=0x020a, init_size=0x700000))[0x260:])
    s['multiboot-elf32'] = elf(False, 3, 0x100000, [(0x100000, mbh + CODE, 0x1000)])
    s['elf32-plain'] = elf(False, 3, 0x100000, [(0x100000, CODE, 0x1000)])
    s['elf64-plain'] = elf(True, 62, 0x200000,
                           [(0x100000, CODE, 0x800), (0x200000, CODE, 0x1000)])
    s['elf64-pvh'] = elf(True, 62, 0xffffffff81000000, [(0x100000, CODE, 0x1000)],
                         xen_note(18, le32(0x100010)))
    s['elf32-pvh-desc8'] = elf(False, 3, 0xc1000000, [(0x100000, CODE, 0x1000)],
                               xen_note(6, b'linux\0\0\0') + xen_note(18, le64(0x100020)))
    return s


# --- riscv -----------------------------------------------------------------

def rv_image(text_offset, image_size, code=CODE):
    h = bytearray(64)
    put(h, 0, le32(0x0000006f))  # j .
    put(h, 8, le64(text_offset))
    put(h, 16, le64(image_size))
    put(h, 24, le64(0))
    put(h, 32, le32(2))
    put(h, 48, b'RISCV\0\0\0')
    put(h, 0x38, b'RSC\x05')
    return bytes(h) + code


def fdt(nodes):
    """nodes: list of (path_components, {prop: bytes}) in depth-first order,
    the root first. A minimal v17 blob."""
    strings = b''
    offs = {}

    def name_off(n):
        nonlocal strings
        if n not in offs:
            offs[n] = len(strings)
            strings += n.encode() + b'\0'
        return offs[n]

    def be32(v): return struct.pack('>I', v)
    st = b''
    depth = 0
    for path, props in nodes:
        while depth > len(path):
            st += be32(2)
            depth -= 1
        name = (path[-1] if path else '').encode() + b'\0'
        st += be32(1) + name + b'\0' * (-len(name) % 4)
        depth += 1
        for k, v in props.items():
            st += be32(3) + be32(len(v)) + be32(name_off(k)) + v + b'\0' * (-len(v) % 4)
    while depth:
        st += be32(2)
        depth -= 1
    st += be32(9)
    rsv = b'\0' * 16
    off_rsv = 40
    off_struct = off_rsv + len(rsv)
    off_strings = off_struct + len(st)
    total = off_strings + len(strings)
    hdr = be32(0xd00dfeed) + be32(total) + be32(off_struct) + be32(off_strings) + \
        be32(off_rsv) + be32(17) + be32(16) + be32(0) + be32(len(strings)) + be32(len(st))
    return hdr + rsv + st + strings


def riscv_seeds():
    s = {}
    s['image-2m'] = rv_image(0x200000, 0x1000)
    s['image-default-offset'] = rv_image(0, 0)
    s['elf64-riscv'] = elf(True, 243, 0x80000000,
                           [(0x80000000, CODE, 0x1000), (0x80100000, CODE, 0x2000)])
    s['raw-firmware'] = b'\x73\x00\x50\x10' * 64  # wfi
    cells = struct.pack('>I', 2)
    s['dtb-virt'] = fdt([
        ([], {'#address-cells': cells, '#size-cells': cells,
              'compatible': b'riscv-virtio\0', 'model': b'fuzz\0'}),
        (['chosen'], {'bootargs': b'console=ttyS0\0', 'stdout-path': b'/soc/serial\0'}),
        (['memory@80000000'], {'device_type': b'memory\0',
                               'reg': struct.pack('>QQ', 0x80000000, 0x800000)}),
        (['cpus'], {'#address-cells': struct.pack('>I', 1), '#size-cells': b'\0\0\0\0'}),
        (['cpus', 'cpu@0'], {'device_type': b'cpu\0', 'reg': b'\0\0\0\0'}),
    ])
    s['dtb-no-chosen'] = fdt([([], {'compatible': b'x\0'})])
    return s


def main():
    out = sys.argv[1]
    for arch, seeds in (('x86', x86_seeds()), ('riscv', riscv_seeds())):
        d = os.path.join(out, arch)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            assert len(data) < 65536, name
            with open(os.path.join(d, 'seed-' + name), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
