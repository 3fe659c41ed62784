#!/usr/bin/env python3
"""usage: migrate_source.py KERNEL INITRD CMDLINE MEMORY PORT DOWNTIME_MS BANDWIDTH

The source side of benchmark `migrate` (bench/run.py) for libvmm, through
the Python bindings: boots the riscv64 Linux guest on the soft engine,
waits until its run:memtouch workload has rewritten its 64 MiB three times,
connects to the destination (`vmmctl run ... --incoming tcp:127.0.0.1:PORT`,
already listening) and migrates with vm.migrate() (downtime limit and
bandwidth as given), then prints one JSON line: the library's own figures
(vmm_vm_migrate_stats: total, downtime, setup, bytes, rounds), the wall time
seen here, and the last workload pass printed at the source.

Why not vmmctl --qmp here as for QEMU: when this benchmark was written a
vmmctl source exited as soon as the guest had gone on elsewhere, before a
QMP client could read "completed" (it now stays in postmigrate until quit,
as QEMU does); the library call is what vmmctl runs underneath either way. Run with PYTHONPATH pointing at
bindings/python and LIBVMM_LIBRARY at the built library."""

import json
import re
import socket
import sys
import time

import vmm


def main():
    kernel, initrd, cmdline, memory, port, downtime, bandwidth = sys.argv[1:8]
    host = vmm.Host()
    cfg = vmm.Config(kernel=kernel, initrd=initrd, cmdline=cmdline, memory=int(memory),
                     engine="soft")
    vm = host.create_vm(cfg)
    cfg.close()
    out = bytearray()
    vm.on_console = out.extend
    vm.start()

    def passes():
        found = re.findall(rb"memtouch: pass (\d+)", bytes(out))
        return int(found[-1]) if found else 0

    if not vm.wait_for(lambda: passes() >= 3, 600):
        sys.exit("the guest's workload did not start: %r" % bytes(out)[-300:])
    sock = socket.create_connection(("127.0.0.1", int(port)), 30)
    sock.settimeout(None)  # blocking again: the library's sender expects a blocking fd
    ended = []
    at_start = passes()
    t0 = time.monotonic()
    vm.migrate(sock.fileno(), max_bandwidth=int(bandwidth), downtime_limit_ms=int(downtime),
               callback=lambda v, err: ended.append(err))
    if not vm.wait_for(lambda: ended, 300):
        vm.migrate_cancel()
        sys.exit("migration still running after 300 s")
    wall = time.monotonic() - t0
    s = vm.migrate_stats()
    sock.close()
    print(json.dumps({"error": str(ended[0]) if ended[0] else None,
                      "total_ms": s.total_ms, "downtime_ms": s.downtime_ms,
                      "setup_ms": s.setup_ms, "bytes_sent": s.bytes_sent,
                      "ram_transferred": s.ram_transferred, "rounds": s.rounds,
                      "wall_s": wall, "passes_during": passes() - at_start}))
    sys.stdout.flush()
    vm.destroy()
    host.close()


if __name__ == "__main__":
    main()
