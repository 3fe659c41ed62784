#!/usr/bin/env python3
"""Memory overcommit benchmark (issue 11), side by side with QEMU.

usage: bench/memory.py [--build DIR] [--runs N] [--guests N] [--mib M] [--hog H]
                       [--settle S] [--out FILE] [--quick] [idle] [fleet]

idle   host memory of one idle 4 GiB guest right after boot: guest RAM is
       committed only when touched. soft engine: riscv64 Linux at its shell;
       kvm engine: a bare-metal x86 guest waiting for console input (x86
       Linux does not finish booting on kvm_pvm hosts); QEMU TCG with the
       same riscv64 Linux for reference. Figures: the process's VmRSS and,
       for libvmm, the VM's committed guest RAM (vmm_memory_stats_t.touched).
fleet  resident memory of N (10) idle M (1024) MiB riscv64 Linux guests that
       each touched H (256) MiB with memhog and freed it
       (tests/guest/linux/tests/memidle.sh), measured S (15) seconds after
       the last one went idle: libvmm (all VMs in one process, soft engine)
       and QEMU (one TCG process a guest), each with a virtio-balloon,
       without and with free page reporting (libvmm --balloon=reporting /
       <memballoon freePageReporting='on'>, QEMU virtio-balloon-device
       free-page-reporting=on). Runs are interleaved: libvmm, QEMU,
       libvmm+reporting, QEMU+reporting, N times; the table quotes medians.

Figures go to a JSON file (default BUILD/bench/memory.json). The libvmm
side runs this script again as a child (--child ...) with the Python
bindings (PYTHONPATH=bindings/python, LIBVMM_LIBRARY=BUILD/libvmm.so.0.1.0)
so that each measurement has a process of its own. Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MiB = 1 << 20


def rss_kb(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cache_dir():
    return os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))


def linux_images():
    d = os.path.join(cache_dir(), "riscv")
    image, initrd = os.path.join(d, "Image"), os.path.join(d, "initramfs.cpio.gz")
    return (image, initrd) if os.path.isfile(image) and os.path.isfile(initrd) else (None, None)


# ------------------------------------------------------------ the children


def child_idle(engine, mib, guest, settle):
    """One idle VM of `mib` MiB in this process: prints VmRSS before the VM,
    after creating it, and `settle` s after the guest is idle, plus touched."""
    import vmm
    before = rss_kb()
    host = vmm.Host()
    cfg = vmm.Config(engine=engine, memory=mib * MiB, kernel=guest)
    image, initrd = linux_images()
    if engine == "soft":
        cfg.kernel, cfg.initrd = image, initrd
        cfg.cmdline = "console=ttyS0 libvmm.test=shell"
    out = bytearray()
    vm = host.create_vm(cfg)
    vm.on_console = out.extend
    created = rss_kb()
    vm.start()
    if engine == "soft":
        if not host.wait_for(lambda: b"libvmm-guest: shell" in out, 300):
            raise SystemExit("the guest never reached its shell")
    host.wait_for(lambda: False, settle)
    s = vm.memory_stats()
    res = {"engine": engine, "mib": mib, "rss_before_kb": before, "rss_created_kb": created,
           "rss_idle_kb": rss_kb(), "touched": s.touched, "resident": s.resident}
    print(json.dumps(res), flush=True)
    vm.destroy()
    host.close()


def child_fleet(n, mib, hog, settle, reporting):
    """n Linux VMs in this process, each running memidle.sh; prints the
    process's VmRSS and the VMs' touched guest RAM once all are idle and
    `settle` s passed."""
    import vmm
    image, initrd = linux_images()
    before = rss_kb()
    host = vmm.Host()
    consoles = [bytearray() for _ in range(n)]
    vms = []
    for i in range(n):
        cfg = vmm.Config(engine="soft", memory=mib * MiB, kernel=image, initrd=initrd,
                         name=f"fleet{i}",
                         cmdline=f"console=ttyS0 libvmm.test=run:memidle memidle.mib={hog}")
        cfg.set_balloon(free_page_reporting=reporting)
        vm = host.create_vm(cfg)
        vm.on_console = consoles[i].extend
        vm.start()
        vms.append(vm)
    t0 = time.monotonic()
    if not host.wait_for(lambda: all(b"memidle: idle" in c for c in consoles), 600):
        raise SystemExit("not every guest went idle: %r" % [bytes(c[-200:]) for c in consoles])
    idle_s = time.monotonic() - t0
    host.wait_for(lambda: False, settle)
    stats = [vm.memory_stats() for vm in vms]
    res = {"guests": n, "mib": mib, "hog": hog, "reporting": reporting, "settle_s": settle,
           "boot_to_idle_s": idle_s, "rss_before_kb": before, "rss_kb": rss_kb(),
           "touched": sum(s.touched for s in stats), "reported": sum(s.reported for s in stats)}
    print(json.dumps(res), flush=True)
    for vm in vms:
        vm.destroy()
    host.close()


# ------------------------------------------------------------ the parent


def run_child(build, *args, timeout=900):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python")
    env["LIBVMM_LIBRARY"] = os.path.join(build, "libvmm.so.0.1.0")
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", *map(str, args)],
                       env=env, capture_output=True, text=True, timeout=timeout)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if r.returncode or not lines:
        return {"error": (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]}
    return json.loads(lines[-1])


def qemu_rv(mib, append, balloon=None):
    image, initrd = linux_images()
    argv = ["qemu-system-riscv64", "-M", "virt", "-m", f"{mib}M", "-nographic", "-bios", "default",
            "-kernel", image, "-initrd", initrd, "-append", append]
    if balloon is not None:
        argv += ["-device", "virtio-balloon-device" + balloon]
    return argv


def qemu_fleet(n, mib, hog, settle, reporting):
    """n QEMU processes, each one guest running memidle.sh; the sum of their
    VmRSS once all are idle and `settle` s passed."""
    procs, outs = [], []
    append = f"console=ttyS0 libvmm.test=run:memidle memidle.mib={hog}"
    balloon = ",free-page-reporting=on" if reporting else ""
    try:
        for _ in range(n):
            p = subprocess.Popen(qemu_rv(mib, append, balloon), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            os.set_blocking(p.stdout.fileno(), False)
            procs.append(p)
            outs.append(bytearray())
        t0 = time.monotonic()
        while not all(b"memidle: idle" in o for o in outs):
            if time.monotonic() - t0 > 900:
                return {"error": "not every QEMU guest went idle"}
            for p, o in zip(procs, outs):
                try:
                    data = p.stdout.read()
                except OSError:
                    data = None
                if data:
                    o.extend(data)
            time.sleep(0.2)
        idle_s = time.monotonic() - t0
        time.sleep(settle)
        total = sum(rss_kb(p.pid) for p in procs)
        return {"guests": n, "mib": mib, "hog": hog, "reporting": reporting, "settle_s": settle,
                "boot_to_idle_s": idle_s, "rss_kb": total}
    finally:
        for p in procs:
            p.kill()
            p.wait()


def qemu_idle(mib, settle):
    """QEMU TCG with riscv64 Linux at its shell: VmRSS."""
    p = subprocess.Popen(qemu_rv(mib, "console=ttyS0 libvmm.test=shell"), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.set_blocking(p.stdout.fileno(), False)
    out = bytearray()
    t0 = time.monotonic()
    try:
        while b"libvmm-guest: shell" not in out:
            if time.monotonic() - t0 > 300:
                return {"error": "QEMU's guest never reached its shell"}
            data = p.stdout.read()
            if data:
                out.extend(data)
            time.sleep(0.1)
        time.sleep(settle)
        return {"engine": "qemu", "mib": mib, "rss_idle_kb": rss_kb(p.pid)}
    finally:
        p.kill()
        p.wait()


def fmt_mib(kb=None, b=None):
    if kb is None and b is None:
        return "-"
    return "%.1f MiB" % ((kb * 1024 if kb is not None else b) / MiB)


def print_table(title, header, rows, notes=()):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    print("\n== " + title)
    for r in [header] + rows:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    for n in notes:
        print("  note: " + n)


def bench_idle(args, results):
    image, _ = linux_images()
    x86 = os.path.join(args.build, "tests", "guest", "core", "echo-x86.elf")
    rows, res = [], {}
    if image:
        res["soft"] = run_child(args.build, "idle", "soft", 4096, "-", args.settle)
        res["qemu"] = qemu_idle(4096, args.settle)
    if os.path.exists("/dev/kvm") and os.path.isfile(x86):
        res["kvm"] = run_child(args.build, "idle", "kvm", 4096, x86, args.settle)
    for key, label in (("soft", "libvmm soft, riscv64 Linux at its shell"),
                       ("kvm", "libvmm kvm, bare-metal x86 guest (echo)"),
                       ("qemu", "QEMU TCG, riscv64 Linux at its shell")):
        r = res.get(key)
        if not r:
            continue
        if "error" in r:
            rows.append([label, "error: %s" % r["error"], "", ""])
            continue
        rows.append([label, fmt_mib(kb=r["rss_idle_kb"]),
                     fmt_mib(kb=r["rss_idle_kb"] - r.get("rss_before_kb", 0)) if "rss_before_kb" in r else "-",
                     fmt_mib(b=r["touched"]) if "touched" in r else "-"])
    results["idle"] = res
    print_table("memory: one idle 4 GiB guest (guest RAM committed only when touched)",
                ["what", "process VmRSS", "VmRSS - before the VM", "guest RAM touched"], rows,
                ["settled %g s after boot; touched = the memfd's allocated blocks" % args.settle])


def bench_fleet(args, results):
    image, _ = linux_images()
    if not image:
        print("\n== memory fleet: skipped (no riscv64 Linux in %s/riscv)" % cache_dir())
        return
    kinds = [("libvmm", False), ("qemu", False), ("libvmm", True), ("qemu", True)]
    runs = {k: [] for k in kinds}
    for i in range(args.runs):
        for who, rep in kinds:
            if who == "libvmm":
                r = run_child(args.build, "fleet", args.guests, args.mib, args.hog, args.settle,
                              int(rep))
            else:
                r = qemu_fleet(args.guests, args.mib, args.hog, args.settle, rep)
            print("  run %d %s%s: %s" % (i + 1, who, " +reporting" if rep else "", json.dumps(r)),
                  file=sys.stderr)
            runs[(who, rep)].append(r)
    rows = []
    med = {}
    for (who, rep), rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        label = ("libvmm soft, %d VMs in one process" % args.guests if who == "libvmm"
                 else "QEMU TCG, %d processes" % args.guests) + (", free page reporting" if rep else "")
        if not ok:
            rows.append([label, "error: %s" % rs[0].get("error") if rs else "no run", "", "", ""])
            continue
        m = statistics.median(r["rss_kb"] for r in ok)
        med[(who, rep)] = m
        touched = statistics.median(r["touched"] for r in ok) if "touched" in ok[0] else None
        rows.append([label, fmt_mib(kb=m), fmt_mib(kb=m / args.guests),
                     fmt_mib(b=touched) if touched is not None else "-", "%d" % len(ok)])
    notes = ["each guest: %d MiB, touched %d MiB with memhog and freed it, then idle; measured "
             "%g s after the last went idle; median of %d interleaved runs" %
             (args.mib, args.hog, args.settle, args.runs)]
    for rep in (False, True):
        if ("libvmm", rep) in med and ("qemu", rep) in med:
            notes.append("libvmm / QEMU%s: %.2f" % (" (reporting)" if rep else "",
                                                   med[("libvmm", rep)] / med[("qemu", rep)]))
    for who in ("libvmm", "qemu"):
        if (who, False) in med and (who, True) in med:
            notes.append("%s: free page reporting gives back %s" % (
                who, fmt_mib(kb=med[(who, False)] - med[(who, True)])))
    results["fleet"] = {"runs": {f"{w}{'+reporting' if r else ''}": v for (w, r), v in runs.items()},
                        "median_rss_kb": {f"{w}{'+reporting' if r else ''}": v for (w, r), v in med.items()}}
    print_table("memory: %d idle %d MiB riscv64 Linux guests after a %d MiB hog, with a balloon" %
                (args.guests, args.mib, args.hog),
                ["what", "total VmRSS", "per guest", "guest RAM touched", "runs"], rows, notes)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind = sys.argv[2]
        if kind == "idle":
            child_idle(sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6]))
        else:
            child_fleet(int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]),
                        bool(int(sys.argv[7])))
        return
    ap = argparse.ArgumentParser(description="memory overcommit benchmark (see the docstring)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--guests", type=int, default=10)
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--hog", type=int, default=256)
    ap.add_argument("--settle", type=float, default=15.0)
    ap.add_argument("--out")
    ap.add_argument("--quick", action="store_true", help="1 run, 3 guests, 5 s settle")
    ap.add_argument("what", nargs="*", default=["idle", "fleet"])
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    if args.quick:
        args.runs, args.guests, args.settle = 1, 3, 5.0
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "args": vars(args)}
    if "idle" in args.what:
        bench_idle(args, results)
    if "fleet" in args.what:
        bench_fleet(args, results)
    out = args.out or os.path.join(args.build, "bench", "memory.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print("\nfigures: " + out)


if __name__ == "__main__":
    main()
