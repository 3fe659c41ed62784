#!/usr/bin/env python3
"""usage: snapshot_clones.py SNAPSHOT N

Restores N VMs from one snapshot file in this process with map=True
(guest memory mapped copy-on-write from the file) through the Python
bindings, and prints one JSON line: total and per-clone seconds and the
process's resident set before and after (VmRSS). The clones are restored,
not started. Run by bench/run.py (benchmark `snapshot`) with PYTHONPATH
pointing at bindings/python and LIBVMM_LIBRARY at the built library."""

import json
import sys
import time

import vmm


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    # The host pool counts each VM's nominal RAM (256 MiB + the soft
    # engine's vCPU cache allowance) even when it is mapped from the file;
    # by default it is capped at the host's physical memory, which 100
    # clones of a 256 MiB guest exceed on a 24 GiB machine. Raise the cap
    # to what the clones nominally need.
    host = vmm.Host(memory_limit=(n + 1) * (320 << 20))
    first = host.restore(path, map=True)  # loads whatever the first restore loads lazily
    before = rss_kb()
    t0 = time.monotonic()
    clones = [host.restore(path, map=True) for _ in range(n)]
    total = time.monotonic() - t0
    after = rss_kb()
    print(json.dumps({"clones": len(clones), "total_s": total, "per_clone_s": total / n,
                      "rss_before_kb": before, "rss_after_kb": after,
                      "rss_increase_kb": after - before}))
    sys.stdout.flush()
    del first, clones


if __name__ == "__main__":
    main()
