#!/usr/bin/env python3
"""Writes the seed corpus of the snapshot reader's fuzz target
(fuzz_snapshot.c) from real snapshots: the echo guest of tests/guest/core
runs on the soft engine (riscv64) and, where /dev/kvm works, on kvm
(x86_64), with 1 and 2 vCPUs and with virtio devices (disk, rng, virtio
console with a named port, vsock), is paused after it echoed input and is
saved; each file is packed as the target reads it (see the top of
fuzz_snapshot.c): a flags byte, the file's head (header, configuration,
state stream, memory table) and one record per page of memory that is not
all zero.

Each snapshot gives three seeds: checksums repaired + round trip (the
fuzzer's main road into the parsers), map mode, and as saved (no repair:
the checksum checks themselves).

The configurations name their kernels and disk in /tmp/libvmm-fuzz-snapshot
(the target creates those names when they are missing), so the seeds do not
depend on where the tree is built.

usage: LIBVMM_LIBRARY=build/libvmm.so PYTHONPATH=bindings/python \\
       make-snapshot-seeds.py BUILD_DIR OUT_DIR"""
import os
import shutil
import struct
import sys
import tempfile

import vmm

FIXTURE = "/tmp/libvmm-fuzz-snapshot"
PAGE = 4096
F_REPAIR, F_MAP, F_ROUND_TRIP = 1, 2, 4
MEMORY = 16 << 20

DEVICES = """
    <disk type='file' device='disk'><source file='{fixture}/disk.img'/>
      <target dev='vda' bus='virtio'/></disk>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <channel type='null'><target type='virtio' name='org.example.port'/></channel>
    <vsock model='virtio'><cid auto='no' address='7'/></vsock>
"""


def pack(path, flags):
    """The snapshot at `path` in the target's input layout."""
    with open(path, "rb") as f:
        data = f.read()
    regions_offset, = struct.unpack_from("<Q", data, 112)
    nr, = struct.unpack_from("<I", data, 120)
    first_data = min(struct.unpack_from("<Q", data, regions_offset + 32 * i + 16)[0]
                     for i in range(nr))
    head = data[:first_data]
    out = bytearray([flags]) + struct.pack("<I", len(head)) + head
    zero = bytes(PAGE)
    for page in range(first_data // PAGE, len(data) // PAGE):
        chunk = data[page * PAGE:(page + 1) * PAGE]
        if chunk != zero:
            out += struct.pack("<I", page) + chunk
    return bytes(out)


def snapshot(engine, kernel, vcpus, devices, path):
    cfg = vmm.Config(kernel=kernel, memory=MEMORY, vcpus=vcpus, engine=engine)
    if devices:
        xml = cfg.to_xml().replace("</devices>", DEVICES.format(fixture=FIXTURE) + "</devices>")
        cfg.close()
        cfg = vmm.Config.from_xml(xml, host_checks=False)
    host = vmm.Host()
    try:
        vm = host.create_vm(cfg)
        cfg.close()
        out = bytearray()
        vm.on_console = out.extend
        vm.start()
        if not vm.wait_for(lambda: b"ready\n" in out, 20):
            raise RuntimeError(f"{engine}: the echo guest did not start: {bytes(out)!r}")
        for ch in "sxy":  # one at a time (the UART holds one byte); not q, e, r: commands
            vm.console_write(ch)
            if not vm.wait_for(lambda: ch.upper().encode() in out[-1:], 20):
                raise RuntimeError(f"{engine}: the echo guest did not echo: {bytes(out)!r}")
        vm.pause()
        vm.save(path, stop=True)
        vm.destroy()
    finally:
        host.close()


def main():
    build, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(FIXTURE, exist_ok=True)
    for name in ("echo-riscv.elf", "echo-x86.elf"):
        shutil.copy(os.path.join(build, "tests/guest/core", name), os.path.join(FIXTURE, name))
    with open(os.path.join(FIXTURE, "disk.img"), "wb") as f:
        f.truncate(1 << 20)
    kinds = [("soft", "echo-riscv.elf")]
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        kinds.append(("kvm", "echo-x86.elf"))
    else:
        print("no usable /dev/kvm: soft seeds only", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for engine, kernel in kinds:
            for vcpus, devices in ((1, False), (2, False), (1, True)):
                name = f"{engine}-{vcpus}cpu" + ("-devices" if devices else "")
                path = os.path.join(tmp, name + ".snap")
                snapshot(engine, os.path.join(FIXTURE, kernel), vcpus, devices, path)
                for suffix, flags in (("repaired", F_REPAIR | F_ROUND_TRIP), ("map", F_MAP),
                                      ("as-saved", 0)):
                    seed = pack(path, flags)
                    with open(os.path.join(out_dir, f"seed-{name}-{suffix}"), "wb") as f:
                        f.write(seed)
                print(f"{name}: {os.path.getsize(path)} byte file, seed {len(seed)} bytes")


if __name__ == "__main__":
    main()
