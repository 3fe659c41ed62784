#!/usr/bin/env python3
"""Writes the seed corpus of the virtqueue fuzz target (fuzz_virtq.c): one
small input per kind of chain virtq_pop() accepts and per rule it enforces,
so libFuzzer starts from every branch. The input layout is described at the
top of fuzz_virtq.c: a 6-byte header (queue size, feature flags, the
device's start index, the driver's avail index), then guest memory from
address 0 with the rings packed at the bottom.

usage: make-virtq-seeds.py OUT_DIR

The seed-* files in tests/fuzz/virtq-corpus/ were made with this script;
crash-* files there (if any) are inputs libFuzzer found for fixed bugs."""
import os
import struct
import sys

NEXT, WRITE, INDIRECT = 1, 2, 4
F_INDIRECT, F_EVENT_IDX, F_AVAIL_EVENT = 1, 2, 4
RAM1 = 0x20000
HOLE = 0x10000


def desc(addr, length, flags=0, nxt=0):
    return struct.pack('<QIHH', addr & 0xffffffffffffffff, length & 0xffffffff, flags, nxt)


def seed(log2, flags=0, start=0, avail=None, descs=None, heads=(0,), tables=None,
         used_event=None):
    """descs: {index: (addr, len, flags, next)}; heads: ring entries from
    `start` on; tables: {gpa: [desc tuples]}; avail defaults to
    start + len(heads)."""
    size = 1 << log2
    avail_gpa = 16 * size
    used_gpa = (avail_gpa + 6 + 2 * size + 3) & ~3
    end = used_gpa + 6 + 8 * size
    mem = bytearray(max(end, 0x800))

    def put(off, data):
        if len(mem) < off + len(data):
            mem.extend(bytes(off + len(data) - len(mem)))
        mem[off:off + len(data)] = data

    for i, d in (descs or {}).items():
        put(16 * i, desc(*d))
    for k, h in enumerate(heads):
        put(avail_gpa + 4 + 2 * ((start + k) % size), struct.pack('<H', h))
    if avail is None:
        avail = (start + len(heads)) & 0xffff
    if used_event is not None:
        put(avail_gpa + 4 + 2 * size, struct.pack('<H', used_event))
    for gpa, entries in (tables or {}).items():
        for i, d in enumerate(entries):
            put(gpa + 16 * i, desc(*d))
    # Buffer contents: something to read back.
    for i in range(0x400, 0x800):
        if i < len(mem) and mem[i] == 0:
            mem[i] = i & 0xff
    header = bytes([log2, flags]) + struct.pack('<HH', start & 0xffff, avail)
    return header + bytes(mem)


def seeds():
    buf = 0x400
    s = {}
    s['seed-direct-chain'] = seed(3, descs={
        2: (buf, 16, NEXT, 5), 5: (buf + 0x20, 32, NEXT, 0),
        0: (buf + 0x100, 100, WRITE | NEXT, 7), 7: (buf + 0x180, 4, WRITE)}, heads=(2,))
    s['seed-many-chains'] = seed(3, descs={i: (buf + 0x40 * i, 0x40, WRITE if i & 1 else 0)
                                           for i in range(8)}, heads=tuple(range(8)))
    s['seed-indirect'] = seed(3, F_INDIRECT, descs={
        6: (buf, 5, NEXT, 3), 3: (0x900, 48, INDIRECT)}, heads=(6,), tables={
        0x900: [(buf + 0x10, 10, NEXT, 2), (buf + 0x30, 30, WRITE), (buf + 0x20, 20, WRITE | NEXT, 1)]})
    s['seed-event-idx-wrap'] = seed(2, F_EVENT_IDX | F_AVAIL_EVENT, start=65534, descs={
        i: (buf + 0x10 * i, 16, WRITE) for i in range(4)}, heads=(0, 1, 2, 3), used_event=65535)
    s['seed-ram1-buffers'] = seed(3, descs={
        0: (RAM1, 64, NEXT, 1), 1: (RAM1 + 0x4000 - 64, 64, WRITE)}, heads=(0,))
    s['seed-size-1'] = seed(0, descs={0: (buf, 8, WRITE)}, heads=(0,))
    s['seed-size-1024'] = seed(10, descs={1023: (buf, 8, NEXT, 512), 512: (buf + 8, 8, WRITE)},
                               heads=(1023,))
    s['seed-max-segs'] = seed(3, F_INDIRECT, descs={0: (0x1000, 1024 * 16, INDIRECT)}, tables={
        0x1000: [(buf + i % 0x400, 1, NEXT if i < 1023 else 0, i + 1) for i in range(1024)]})
    s['seed-zero-length'] = seed(3, descs={0: (0xdead0000, 0, NEXT, 1), 1: (buf, 8, WRITE)})
    # One per rule.
    s['seed-loop'] = seed(3, descs={1: (buf, 8, NEXT, 3), 3: (buf, 8, NEXT, 1)}, heads=(1,))
    s['seed-next-beyond'] = seed(3, descs={0: (buf, 8, NEXT, 8)})
    s['seed-head-beyond'] = seed(3, descs={0: (buf, 8)}, heads=(8,))
    s['seed-avail-jump'] = seed(3, descs={0: (buf, 8)}, avail=9)
    s['seed-outside-ram'] = seed(3, descs={0: (0x80000000, 8)})
    s['seed-hole'] = seed(3, descs={0: (HOLE + 0x100, 8, WRITE)})
    s['seed-off-region-end'] = seed(3, descs={0: (0x10000 - 8, 9)})
    s['seed-wrap-2-64'] = seed(3, descs={0: (0xfffffffffffff000, 0x2000)})
    s['seed-readable-after-writable'] = seed(3, descs={
        0: (buf, 8, NEXT, 1), 1: (buf, 8, WRITE | NEXT, 2), 2: (buf, 8)})
    s['seed-indirect-no-feature'] = seed(3, descs={0: (0x900, 16, INDIRECT)},
                                         tables={0x900: [(buf, 8)]})
    s['seed-indirect-with-next'] = seed(3, F_INDIRECT, descs={
        0: (0x900, 16, INDIRECT | NEXT, 1), 1: (buf, 8, WRITE)}, tables={0x900: [(buf, 8)]})
    s['seed-indirect-nested'] = seed(3, F_INDIRECT, descs={0: (0x900, 32, INDIRECT)}, tables={
        0x900: [(buf, 8, NEXT, 1), (0xa00, 16, INDIRECT)], 0xa00: [(buf, 8)]})
    s['seed-indirect-len-0'] = seed(3, F_INDIRECT, descs={0: (0x900, 0, INDIRECT)})
    s['seed-indirect-len-24'] = seed(3, F_INDIRECT, descs={0: (0x900, 24, INDIRECT)},
                                     tables={0x900: [(buf, 8)]})
    s['seed-indirect-over-limit'] = seed(3, F_INDIRECT, descs={0: (0x900, 1025 * 16, INDIRECT)})
    s['seed-indirect-loop'] = seed(3, F_INDIRECT, descs={0: (0x900, 48, INDIRECT)}, tables={
        0x900: [(buf, 8, NEXT, 1), (buf, 8, NEXT, 2), (buf, 8, NEXT, 0)]})
    s['seed-indirect-next-beyond'] = seed(3, F_INDIRECT, descs={0: (0x900, 32, INDIRECT)},
                                          tables={0x900: [(buf, 8, NEXT, 2), (buf, 8)]})
    s['seed-over-max-segs'] = seed(3, F_INDIRECT, descs={
        0: (buf, 4, NEXT, 1), 1: (0x1000, 1024 * 16, INDIRECT)}, tables={
        0x1000: [(buf + i % 0x400, 1, NEXT if i < 1023 else 0, i + 1) for i in range(1024)]})
    return s


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
