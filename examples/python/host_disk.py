#!/usr/bin/env python3
"""Serves a virtio-blk disk from a Python object through the ctypes bindings.

    PYTHONPATH=bindings/python LIBVMM_LIBRARY=build/libvmm.so.0 \\
        examples/python/host_disk.py KERNEL INITRD [CMDLINE]

The disk is an 8 MiB bytearray whose first MiB holds byte i % 251 at offset
i. The riscv64 test Linux (tests/guest/linux/tests/hostdisk.sh) reads and
checks that MiB and writes the second one as 0x5a bytes; this program
verifies the write once the guest has powered off.
"""
import sys
import threading

import vmm

MIB = 1 << 20


class RamDisk:
    """What a disk backend object provides: capacity, read, write (flush
    and discard are optional). Called on the disk's worker thread."""

    def __init__(self, size):
        self.capacity = size
        self.data = bytearray(i % 251 for i in range(MIB)) + bytearray(size - MIB)
        self.lock = threading.Lock()
        self.counts = {"read": 0, "write": 0, "flush": 0}

    def read(self, offset, length):
        with self.lock:
            self.counts["read"] += 1
            return bytes(self.data[offset:offset + length])

    def write(self, offset, data):
        with self.lock:
            self.counts["write"] += 1
            self.data[offset:offset + len(data)] = data

    def flush(self):
        self.counts["flush"] += 1


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    disk = RamDisk(8 * MIB)
    cmdline = sys.argv[3] if len(sys.argv) > 3 else "console=ttyS0 libvmm.test=run:hostdisk"
    with vmm.Host() as host:
        with vmm.Config(kernel=sys.argv[1], initrd=sys.argv[2], cmdline=cmdline,
                        memory=128 << 20) as cfg:
            cfg.add_disk(None, "vda", serial="HOSTDISK", backend=disk)
            vm = host.create_vm(cfg)
        vm.on_console = lambda data: (sys.stdout.write(data.decode(errors="replace")),
                                      sys.stdout.flush())
        vm.start()
        outcome = vm.wait()
    ok = disk.data[MIB:2 * MIB] == b"Z" * MIB
    print(f"\nhost_disk.py: {disk.counts['read']} reads, {disk.counts['write']} writes, "
          f"{disk.counts['flush']} flushes; second MiB "
          f"{'as the guest wrote it' if ok else 'WRONG'}")
    return 0 if ok and outcome.kind == vmm.OutcomeKind.POWEROFF else 1


if __name__ == "__main__":
    sys.exit(main())
