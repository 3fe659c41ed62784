#!/usr/bin/env python3
"""libvmm benchmarks, side by side with QEMU (python3 standard library only).

usage: bench/run.sh [--build DIR] [--runs N] [--out FILE] [--quick] [WHAT ...]

WHAT selects benchmarks: all (default), kvm (launch create io rss), soft
(mips linux net blk snapshot snapshot-1g migrate sched memory), or names:
launch create io rss mips linux net blk snapshot snapshot-1g migrate sched
memory. Each benchmark
prints one table: what was measured, the libvmm figure, the QEMU (or raw
KVM) figure, their ratio, and the target. Every figure is also written to a
JSON file (default BUILD/bench/results.json; the path is printed).

Whole-process figures are wall-clock times of fork+exec to reaped exit,
taken here (posix_spawn + wait4, which also gives each run's peak RSS); each
command runs once to warm the page cache, then --runs times, and the tables
quote the median (the minimum beside it). No timing is asserted anywhere:
the targets are printed as met / not met.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

IOLOOP_COUNT = 100000  # bench/guests/x86-ioloop.S default
KVMTOOL_LAUNCH_MS = 26.0  # quoted: measured on this kind of host, kvmtool is not in Debian 12
QEMU_DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
QEMU_QUIET = ["-nographic", "-nodefaults", "-no-user-config", "-display", "none"]
LINUX_APPEND = "console=ttyS0 libvmm.test=poweroff"
GROUPS = {
    "kvm": ["launch", "create", "io", "rss"],
    "soft": ["mips", "linux", "net"],
}
ALL = GROUPS["kvm"] + GROUPS["soft"]


# ---------------------------------------------------------------- running


class Run:
    """One finished process: wall/user/sys seconds, peak RSS, status, output."""

    def __init__(self, wall, user, sys_, maxrss_kb, rc, out, err, timed_out):
        self.wall, self.user, self.sys = wall, user, sys_
        self.maxrss_kb, self.rc = maxrss_kb, rc
        self.out, self.err, self.timed_out = out, err, timed_out


def run_once(argv, timeout, peak_rss=None):
    """Runs argv with stdin /dev/null. With `peak_rss` (bench/peak_rss), the
    command runs under it, so its ru_maxrss is its own and not this Python
    process's (see peak_rss.c)."""
    exe = shutil.which(argv[0])
    if not exe:
        raise FileNotFoundError(argv[0])
    rss_file = None
    if peak_rss:
        fd, rss_file = tempfile.mkstemp(prefix="bench-rss-", suffix=".json")
        os.close(fd)
        argv = [peak_rss, rss_file] + [exe] + argv[1:]
        exe = peak_rss
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, fout.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, ferr.fileno(), 2),
        ]
        killed = []

        def kill(pid):
            killed.append(True)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        start = time.perf_counter()
        pid = os.posix_spawn(exe, argv, os.environ, file_actions=actions)
        timer = threading.Timer(timeout, kill, (pid,))
        timer.start()
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        timer.cancel()
        rc = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        out = fout.read().decode("utf-8", "replace")
        err = ferr.read().decode("utf-8", "replace")
    maxrss = ru.ru_maxrss
    if rss_file:
        try:
            with open(rss_file) as f:
                maxrss = json.load(f)["maxrss_kb"]
        except (OSError, ValueError, KeyError):
            maxrss = None
        os.unlink(rss_file)
    return Run(wall, ru.ru_utime, ru.ru_stime, maxrss, rc, out, err, bool(killed))


class Series:
    """Repeated runs of one command; `error` says why it has no figures."""

    def __init__(self, label, argv):
        self.label, self.argv = label, argv
        self.runs = []
        self.error = None
        self.first = None  # the warm-up run (its output is kept for checks)

    def walls(self):
        return [r.wall for r in self.runs]

    def median(self, attr="wall"):
        return statistics.median(getattr(r, attr) for r in self.runs) if self.runs else None

    def min(self, attr="wall"):
        return min(getattr(r, attr) for r in self.runs) if self.runs else None

    def max(self, attr="wall"):
        vals = [getattr(r, attr) for r in self.runs if getattr(r, attr) is not None]
        return max(vals) if vals else None

    def ok(self):
        return self.error is None and bool(self.runs)

    def to_json(self):
        d = {"label": self.label, "argv": self.argv}
        if self.error:
            d["error"] = self.error
        if self.runs:
            d.update({
                "runs": len(self.runs),
                "wall_s": [round(w, 6) for w in self.walls()],
                "wall_s_median": self.median(),
                "wall_s_min": self.min(),
                "user_s_median": self.median("user"),
                "sys_s_median": self.median("sys"),
                "maxrss_kb_max": self.max("maxrss_kb"),
            })
        return d


def describe_failure(run, expect_rc):
    if run.timed_out:
        return "timed out"
    tail = (run.err.strip() or run.out.strip()).splitlines()[-1:] or [""]
    return "exit %d (expected %d): %s" % (run.rc, expect_rc, tail[0][:160])


def measure(label, argv, runs, expect_rc=0, timeout=60.0, budget=20.0, check=None,
            peak_rss=None):
    """Runs argv once (warm-up) and then up to `runs` times, fewer when one
    run is slow (about `budget` seconds in all, at least 3 runs). `check`
    may look at a run's output and return an error text."""
    s = Series(label, argv)
    try:
        first = run_once(argv, timeout, peak_rss)
    except FileNotFoundError as e:
        s.error = "not found: %s" % e
        return s
    s.first = first
    if first.rc != expect_rc or first.timed_out:
        s.error = describe_failure(first, expect_rc)
        return s
    if check:
        problem = check(first)
        if problem:
            s.error = problem
            return s
    n = runs
    if first.wall * runs > budget:
        n = max(3, min(runs, int(budget / max(first.wall, 1e-6))))
    for _ in range(n):
        r = run_once(argv, timeout, peak_rss)
        if r.rc != expect_rc or r.timed_out:
            s.error = describe_failure(r, expect_rc)
            break
        s.runs.append(r)
    return s


def measure_group(specs, runs, budget=30.0):
    """Like measure() for several commands at once, interleaved: one warm-up
    of each, then rounds A B C, A B C, ... so that drift in the machine's
    speed hits every command alike and pairwise ratios stay meaningful.
    specs: dicts with label, argv and optionally expect_rc, timeout, check,
    peak_rss. Returns one Series per spec, in order."""
    series = []
    round_time = 0.0
    for sp in specs:
        s = Series(sp["label"], sp["argv"])
        series.append(s)
        try:
            first = run_once(sp["argv"], sp.get("timeout", 60.0), sp.get("peak_rss"))
        except FileNotFoundError as e:
            s.error = "not found: %s" % e
            continue
        s.first = first
        expect = sp.get("expect_rc", 0)
        if first.rc != expect or first.timed_out:
            s.error = describe_failure(first, expect)
            continue
        problem = sp.get("check") and sp["check"](first)
        if problem:
            s.error = problem
            continue
        round_time += first.wall
    n = runs
    if round_time * runs > budget:
        n = max(3, min(runs, int(budget / max(round_time, 1e-6))))
    for _ in range(n):
        for sp, s in zip(specs, series):
            if s.error:
                continue
            r = run_once(sp["argv"], sp.get("timeout", 60.0), sp.get("peak_rss"))
            expect = sp.get("expect_rc", 0)
            if r.rc != expect or r.timed_out:
                s.error = describe_failure(r, expect)
                continue
            s.runs.append(r)
    return series


def pair_ratio(a, b):
    """Median of the run-by-run ratios a/b of two interleaved series."""
    if not (a.ok() and b.ok()) or len(a.runs) != len(b.runs):
        return None
    return statistics.median(x.wall / y.wall for x, y in zip(a.runs, b.runs))


def run_json(argv, timeout=120.0):
    """Runs one of our own C programs that prints a JSON object; returns
    (object or None, error text or None, skipped flag)."""
    try:
        r = run_once(argv, timeout)
    except FileNotFoundError as e:
        return None, "not found: %s" % e, False
    if r.rc == 77:
        return None, (r.out.strip() or r.err.strip() or "skipped"), True
    if r.rc != 0 or r.timed_out:
        return None, describe_failure(r, 0), False
    for line in reversed(r.out.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line), None, False
            except ValueError as e:
                return None, "bad JSON from %s: %s" % (argv[0], e), False
    return None, "no JSON from %s" % argv[0], False


# ---------------------------------------------------------------- output


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "ms":
        return "%.2f ms" % (v * 1e3) if v < 10 else "%.0f ms" % (v * 1e3)
    if unit == "s":
        return "%.3f s" % v
    if unit == "us":
        return "%.1f us" % v
    if unit == "MIPS":
        return "%.1f MIPS" % v
    if unit == "MB":
        return "%.1f MB" % (v / 1024.0)
    return str(v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2f" % (a / b)


def print_table(title, header, rows, notes=()):
    widths = [len(h) for h in header]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(str(c)))
    line = "  ".join("%-*s" % (widths[i], h) for i, h in enumerate(header))
    print()
    print("== %s" % title)
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join("%-*s" % (widths[i], str(c)) for i, c in enumerate(r)))
    for n in notes:
        print("   * %s" % n)
    sys.stdout.flush()


def verdict(met):
    return "met" if met else "NOT met"


# ---------------------------------------------------------------- context


class Ctx:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.runs = args.runs
        self.quick = args.quick
        self.bench_dir = os.path.join(self.build, "bench")
        self.vmmctl = os.path.join(self.build, "examples", "vmmctl", "vmmctl")
        self.results = {}

    def prog(self, name):
        return os.path.join(self.bench_dir, name)

    def guest(self, name):
        return os.path.join(self.bench_dir, name)

    def have_kvm(self):
        return os.access("/dev/kvm", os.R_OK | os.W_OK)

    def missing(self, *paths):
        return [p for p in paths if not os.path.exists(p)]


def qemu_x86(machine, kernel, mem="256M"):
    return (["qemu-system-x86_64", "-M", machine, "-accel", "kvm", "-m", mem]
            + QEMU_DEBUG_EXIT + QEMU_QUIET + ["-kernel", kernel])


def qemu_rv(kernel, mem="256M", extra=()):
    return (["qemu-system-riscv64", "-M", "virt", "-m", mem, "-nographic", "-bios", "none"]
            + list(extra) + ["-kernel", kernel])


def vmmctl_run(ctx, engine, kernel, mem="256M", extra=()):
    return [ctx.vmmctl, "run", "--engine", engine, "--memory", mem, "--kernel", kernel] + list(extra)


def series_row(s, unit, ref=None, what=None):
    """A table row for a whole-process series: what, median, min, ratio."""
    if not s.ok():
        return [what or s.label, "FAILED" if s.error else "-", "", "", s.error or ""]
    r = ""
    if ref is not None and ref.ok():
        pr = pair_ratio(ref, s)
        r = "%.2f" % pr if pr is not None else ratio(ref.median(), s.median())
    return [what or s.label, fmt(s.median(), unit), fmt(s.min(), unit), r,
            "%d runs" % len(s.runs)]


# ---------------------------------------------------------------- benchmarks


def bench_launch(ctx):
    """1. x86/kvm launch-to-exit of the minimal guest, whole process."""
    guest = ctx.guest("x86-exit.elf")
    res = {"guest": guest, "memory": "256M"}
    ctx.results["launch"] = res
    if not ctx.have_kvm():
        print("\n== 1. launch: skipped (no usable /dev/kvm)")
        res["skipped"] = "no /dev/kvm"
        return
    runs = ctx.runs
    lib, micro, raw, rawfull = measure_group([
        {"label": "libvmm vmmctl --engine kvm", "argv": vmmctl_run(ctx, "kvm", guest),
         "expect_rc": 1},
        {"label": "QEMU -M microvm (qboot)", "argv": qemu_x86("microvm", guest), "expect_rc": 1},
        {"label": "raw KVM process: VM, slot, vCPU, run",
         "argv": [ctx.prog("raw_kvm_io"), "1", "1"]},
        {"label": "raw + irqchip + PIT + memfd RAM",
         "argv": [ctx.prog("raw_kvm_io"), "1", "1", "pit", "memfd", "huge"]},
    ], runs)
    # SeaBIOS runs at CPL0, which kvm_pvm emulates: seconds, so measured apart.
    pc = measure("QEMU -M pc (SeaBIOS)", qemu_x86("pc", guest), runs, expect_rc=1, budget=15)
    res["series"] = [s.to_json() for s in (lib, micro, pc, raw, rawfull)]
    rows = [
        series_row(lib, "ms"),
        series_row(micro, "ms", ref=lib),
        series_row(pc, "ms", ref=lib),
        series_row(raw, "ms", ref=lib),
        series_row(rawfull, "ms", ref=lib),
        ["kvmtool (quoted, not run)", fmt(KVMTOOL_LAUNCH_MS / 1e3, "ms"), "",
         ratio(lib.median() * 1e3 if lib.ok() else None, KVMTOOL_LAUNCH_MS), "not in Debian 12"],
    ]
    notes = ["ratio = libvmm / that row, median of run-by-run ratios (interleaved runs; "
             "below 1: libvmm is faster)",
             "raw rows: bench/raw_kvm_io.c as a whole process, 256 MiB, the same `out` to 0xf4; "
             "the second adds KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2 + memfd/MADV_HUGEPAGE RAM, "
             "as libvmm's kvm engine does"]
    if lib.ok():
        target = KVMTOOL_LAUNCH_MS / 2
        met = lib.median() * 1e3 <= target
        notes.append("target: libvmm <= half of kvmtool's %.0f ms = %.0f ms: %s (%.2f ms)"
                     % (KVMTOOL_LAUNCH_MS, target, verdict(met), lib.median() * 1e3))
        res["target_met"] = met
        res["libvmm_ms_median"] = lib.median() * 1e3
    print_table("1. x86/kvm launch-to-exit, minimal PVH guest (one `out` to 0xf4), 256 MiB",
                ["what", "median", "min", "libvmm/this", "runs / error"], rows, notes)


def bench_create(ctx):
    """2. In-process VM creation latency against raw KVM ioctls."""
    guest = ctx.guest("x86-exit.elf")
    n = 20 if ctx.quick else 100
    res = {"repeats": n}
    ctx.results["create"] = res
    if not ctx.have_kvm():
        print("\n== 2. create: skipped (no usable /dev/kvm)")
        res["skipped"] = "no /dev/kvm"
        return
    lib, lib_err, _ = run_json([ctx.prog("libvmm_bench"), "create", "kvm", guest, str(n), "256"])
    raw, raw_err, _ = run_json([ctx.prog("raw_kvm_create"), str(n), "256"])
    full, full_err, _ = run_json([ctx.prog("raw_kvm_create"), str(n), "256", "pit", "memfd",
                                  "huge"])
    res.update({"libvmm": lib, "libvmm_error": lib_err, "raw": raw, "raw_error": raw_err,
                "raw_irqchip_pit": full, "raw_irqchip_pit_error": full_err})
    rows = []
    raw_med = raw["create_us_median"] if raw else None
    if lib:
        rows.append(["libvmm vmm_vm_create (256 MiB, 1 vCPU, kernel loaded)",
                     fmt(lib["create_us_median"], "us"), fmt(lib["create_us_min"], "us"),
                     ratio(lib["create_us_median"], raw_med)])
        rows.append(["libvmm vmm_vm_destroy", fmt(lib["destroy_us_median"], "us"),
                     fmt(lib["destroy_us_min"], "us"), ""])
        rows.append(["libvmm create + start + guest exit + destroy",
                     fmt(lib["create_run_destroy_us_median"], "us"),
                     fmt(lib["create_run_destroy_us_min"], "us"),
                     ratio(lib["create_run_destroy_us_median"], raw_med)])
    else:
        rows.append(["libvmm", "FAILED", "", "", lib_err])
    if raw:
        rows.append(["raw KVM_CREATE_VM + 256 MiB slot + 1 vCPU", fmt(raw["create_us_median"], "us"),
                     fmt(raw["create_us_min"], "us"), "1.00"])
        rows.append(["raw teardown (close, munmap)", fmt(raw["destroy_us_median"], "us"),
                     fmt(raw["destroy_us_min"], "us"), ""])
    else:
        rows.append(["raw KVM", "FAILED", "", "", raw_err])
    if full:
        rows.append(["raw + KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2 + memfd RAM",
                     fmt(full["create_us_median"], "us"), fmt(full["create_us_min"], "us"),
                     ratio(full["create_us_median"], raw_med)])
        rows.append(["raw teardown of that", fmt(full["destroy_us_median"], "us"),
                     fmt(full["destroy_us_min"], "us"), ""])
    else:
        rows.append(["raw KVM + irqchip + PIT", "FAILED", "", "", full_err])
    print_table("2. in-process VM create latency, N=%d" % n,
                ["what", "median", "min", "/raw create", "error"], rows,
                ["ratio = that row's median / raw KVM create median (0.39 ms quoted for this host kind)",
                 "destroy includes one loop turn (uv_run NOWAIT), where libvmm closes the VM"])


def bench_io(ctx):
    """3. I/O exit round trip: per-exit cost of the `out` loop guest."""
    exit_g, io_g = ctx.guest("x86-exit.elf"), ctx.guest("x86-ioloop.elf")
    reps = 3 if ctx.quick else 5
    res = {"count": IOLOOP_COUNT}
    ctx.results["io"] = res
    if not ctx.have_kvm():
        print("\n== 3. io: skipped (no usable /dev/kvm)")
        res["skipped"] = "no /dev/kvm"
        return
    rows, notes = [], []
    # In process, interleaved round by round: the raw loop, then libvmm's
    # empty guest and loop guest (start -> exit each).
    raw_ns, full_ns, lib_ns, pair, pair_full, err = [], [], [], [], [], None
    for _ in range(reps + 2):
        raw, e1, _ = run_json([ctx.prog("raw_kvm_io"), str(IOLOOP_COUNT), "1"], timeout=300)
        full, e0, _ = run_json([ctx.prog("raw_kvm_io"), str(IOLOOP_COUNT), "1", "pit", "memfd",
                                "huge"], timeout=300)
        e, e2, _ = run_json([ctx.prog("libvmm_bench"), "run", "kvm", exit_g, "1", "256"])
        i, e3, _ = run_json([ctx.prog("libvmm_bench"), "run", "kvm", io_g, "1", "256"], timeout=300)
        err = e0 or e1 or e2 or e3
        if err:
            break
        if i["io_exits"] < IOLOOP_COUNT:
            err = "libvmm counted %d I/O exits, fewer than the %d `out`s" % (i["io_exits"],
                                                                           IOLOOP_COUNT)
            break
        raw_ns.append(raw["per_exit_ns_median"])
        full_ns.append(full["per_exit_ns_median"])
        lib_ns.append((i["run_us_median"] - e["run_us_median"]) * 1e3 / IOLOOP_COUNT)
        pair.append(lib_ns[-1] / raw_ns[-1])
        pair_full.append(lib_ns[-1] / full_ns[-1])
    res.update({"raw_per_exit_ns": raw_ns, "raw_irqchip_pit_per_exit_ns": full_ns,
                "libvmm_per_exit_ns": lib_ns, "error": err})
    if err:
        rows.append(["libvmm in process / raw loop", "FAILED", "", "", err])
    else:
        rows.append(["libvmm in process (start->exit, loop - empty)",
                     "%.0f ns" % statistics.median(lib_ns), "%.0f ns" % min(lib_ns),
                     "%.3f" % statistics.median(pair), "%d rounds" % len(pair)])
        rows.append(["raw KVM_RUN loop (bench/raw_kvm_io.c)", "%.0f ns" % statistics.median(raw_ns),
                     "%.0f ns" % min(raw_ns), "1.000", ""])
        rows.append(["raw loop + irqchip + PIT + memfd RAM", "%.0f ns" % statistics.median(full_ns),
                     "%.0f ns" % min(full_ns), "%.3f" % statistics.median(
                         [f / r for f, r in zip(full_ns, raw_ns)]),
                     "libvmm / this: %.3f" % statistics.median(pair_full)])

    # Whole processes, interleaved: loop run minus empty run.
    wp = {}
    specs = []
    for label, mk in (("libvmm vmmctl", lambda g: vmmctl_run(ctx, "kvm", g)),
                      ("QEMU -M microvm", lambda g: qemu_x86("microvm", g))):
        specs.append({"label": label + " empty", "argv": mk(exit_g), "expect_rc": 1})
        specs.append({"label": label + " loop", "argv": mk(io_g), "expect_rc": 1,
                      "timeout": 300})
    series = measure_group(specs, reps, budget=60)
    res["whole_process"] = [x.to_json() for x in series]
    raw_med = statistics.median(raw_ns) if raw_ns else None
    for k in range(0, len(series), 2):
        a, b = series[k], series[k + 1]
        label = a.label[:-len(" empty")]
        if a.ok() and b.ok():
            ns = (b.median() - a.median()) * 1e9 / IOLOOP_COUNT
            wp[label] = ns
            rows.append([label + " (whole process, loop - empty)", "%.0f ns" % ns,
                         "%.0f ns" % ((b.min() - a.min()) * 1e9 / IOLOOP_COUNT),
                         ratio(ns, raw_med), "%d runs" % len(b.runs)])
        else:
            rows.append([label, "FAILED", "", "", a.error or b.error])
    res["whole_process_per_exit_ns"] = wp
    if pair:
        met = statistics.median(pair) <= 1.05
        res["target_met"] = met
        notes.append("target: libvmm within 5%% of the raw loop: %s (%+.1f%%, median of "
                     "round-by-round ratios)" % (verdict(met), (statistics.median(pair) - 1) * 100))
    notes.append("whole-process ratios are against the raw loop's median (not interleaved with it)")
    print_table("3. I/O exit round trip, %d x `out %%al,$0x80` (32-bit guest)" % IOLOOP_COUNT,
                ["what", "per exit (median)", "min", "/raw", "note"], rows, notes)


def bench_rss(ctx):
    """4. VMM resident memory above the guest memory touched."""
    res = {}
    ctx.results["rss"] = res
    rows, notes = [], []
    reps = 3
    cases = []
    if ctx.have_kvm():
        g = ctx.guest("x86-exit.elf")
        cases.append(("kvm", g, 1, [("QEMU -M microvm", qemu_x86("microvm", g)),
                                    ("QEMU -M pc", qemu_x86("pc", g))]))
    else:
        notes.append("kvm rows skipped: no usable /dev/kvm")
    g = ctx.guest("riscv-exit.elf")
    cases.append(("soft", g, 0, [("QEMU riscv64 virt (TCG)", qemu_rv(g))]))
    helper = ctx.prog("peak_rss")
    if not os.path.exists(helper):
        print("\n== 4. rss: skipped (%s not built)" % helper)
        res["skipped"] = "peak_rss not built"
        return
    base = measure("/bin/true (a process's floor)", ["true"], reps, peak_rss=helper)
    if base.ok():
        rows.append([base.label, fmt(base.max("maxrss_kb"), "MB"), "", "", ""])
        res["true_kb"] = base.max("maxrss_kb")
    for engine, guest, rc, qemus in cases:
        lib = measure("libvmm vmmctl --engine %s" % engine, vmmctl_run(ctx, engine, guest), reps,
                      expect_rc=rc, peak_rss=helper)
        inproc, err, _ = run_json([ctx.prog("libvmm_bench"), "run", engine, guest, "1", "256"])
        touched = inproc["guest_rss_kb"] if inproc else None
        entry = {"vmmctl": lib.to_json(), "in_process": inproc, "in_process_error": err}
        if lib.ok():
            peak = lib.max("maxrss_kb")
            above = peak - touched if touched is not None and touched >= 0 else None
            split = ""
            if inproc and inproc.get("rss_anon_kb", -1) >= 0:
                split = "in process: %s anon + %s file-backed (libraries)" % (
                    fmt(inproc["rss_anon_kb"], "MB"), fmt(inproc["rss_file_kb"], "MB"))
            rows.append(["libvmm vmmctl --engine %s" % engine, fmt(peak, "MB"),
                         fmt(touched, "MB") if touched is not None else "?",
                         fmt(above, "MB") if above is not None else "?", err or split])
            entry["peak_kb"], entry["guest_touched_kb"], entry["above_kb"] = peak, touched, above
            if above is not None:
                met = above <= 2048
                entry["target_met"] = met
                notes.append("target (%s): at most 2 MB above guest memory touched: %s (%.2f MB)"
                             % (engine, verdict(met), above / 1024.0))
        else:
            rows.append(["libvmm vmmctl --engine %s" % engine, "FAILED", "", "", lib.error])
        for label, argv in qemus:
            q = measure(label, argv, reps, expect_rc=rc, budget=12, peak_rss=helper)
            entry[label] = q.to_json()
            if q.ok():
                rows.append([label, fmt(q.max("maxrss_kb"), "MB"), "", "",
                             "libvmm/QEMU peak %s" % (ratio(lib.max("maxrss_kb"), q.max("maxrss_kb"))
                                                      if lib.ok() else "-")])
            else:
                rows.append([label, "FAILED", "", "", q.error])
        res[engine] = entry
    notes.append("peak = largest ru_maxrss of the runs (wait4 in bench/peak_rss.c); guest touched "
                 "= resident pages of libvmm's guest RAM mapping after the same run in "
                 "libvmm_bench (smaps)")
    print_table("4. peak resident memory, minimal guest with 256 MiB RAM",
                ["what", "peak RSS", "guest touched", "above guest", "note"], rows, notes)


def parse_cpu_console(text):
    m = re.search(r"checksum=([0-9a-f]+) instret=([0-9a-f]+)", text or "")
    if not m:
        return None, None
    return m.group(1), int(m.group(2), 16)


def mips_variant(ctx, elf, empty, reps, rows, notes):
    """Rates of one riscv-cpu build on libvmm and QEMU; adds table rows and
    returns its JSON record."""
    name = os.path.basename(elf)
    res = {"guest": elf}
    # The dynamic instruction count: QEMU with -icount shift=0 makes minstret
    # count instructions, and the guest prints it.
    q_icount = measure("QEMU icount", qemu_rv(elf, extra=["-icount", "shift=0"]), 1, timeout=300)
    ref_sum, ref_count = parse_cpu_console(q_icount.first.out if q_icount.first else "")
    res["qemu_icount_instret"], res["qemu_checksum"] = ref_count, ref_sum
    if ref_count is None:
        notes.append("%s: QEMU icount run failed (%s): instruction count from libvmm's counter"
                     % (name, q_icount.error))
    # (LIBVMM_SOFT_JIT_PROFILE=1: the translator also counts block runs,
    # for the chaining figures; the timed vmmctl runs below do not)
    inproc, err, _ = run_json(["env", "LIBVMM_SOFT_JIT_PROFILE=1", ctx.prog("libvmm_bench"), "run",
                               "soft", elf, str(min(reps, 3)), "256"], timeout=900)
    res["libvmm_in_process"], res["libvmm_error"] = inproc, err
    lib_sum = None
    if inproc:
        lib_sum, lib_instret = parse_cpu_console(inproc["console"])
        notes.append("%s: libvmm counted %d instructions (whole run; guest minstret %s), "
                     "QEMU -icount %s" % (name, inproc["instructions"], lib_instret, ref_count))
    count = ref_count or (inproc["instructions"] if inproc else None)
    res["instructions"] = count

    lib, lib0, q, q0 = measure_group([
        {"label": "libvmm vmmctl --engine soft", "argv": vmmctl_run(ctx, "soft", elf),
         "timeout": 900},
        {"label": "libvmm vmmctl empty", "argv": vmmctl_run(ctx, "soft", empty)},
        {"label": "QEMU TCG", "argv": qemu_rv(elf), "timeout": 300},
        {"label": "QEMU empty", "argv": qemu_rv(empty)},
    ], reps, budget=120)
    if lib.first and lib.first.rc == 0:
        lib_sum = lib_sum or parse_cpu_console(lib.first.out)[0]
    res["series"] = [x.to_json() for x in (lib, lib0, q, q0)]

    def rate(a, b):
        if not (a.ok() and b.ok()) or not count:
            return None
        return count / (a.median() - b.median()) / 1e6

    lib_rate, q_rate = rate(lib, lib0), rate(q, q0)
    res["libvmm_mips"], res["qemu_mips"] = lib_rate, q_rate
    if inproc and count:
        r = count / (inproc["run_us_median"] * 1e-6) / 1e6
        rows.append([name + ": libvmm in process (vmm_vm_start -> exit)", fmt(r, "MIPS"),
                     "%.3f s" % (inproc["run_us_median"] / 1e6), ratio(r, q_rate), ""])
        res["libvmm_in_process_mips"] = r
    elif err:
        rows.append([name + ": libvmm in process", "FAILED", "", "", err])
    for label, a, b, rt in (("libvmm vmmctl --engine soft", lib, lib0, lib_rate),
                            ("QEMU -M virt -bios none (TCG)", q, q0, q_rate)):
        if rt is not None:
            rows.append([name + ": " + label, fmt(rt, "MIPS"), "%.3f s" % a.median(),
                         ratio(rt, q_rate), "%d runs" % len(a.runs)])
        else:
            rows.append([name + ": " + label, "FAILED", "", "",
                         a.error or b.error or "no instruction count"])
    if ref_sum and lib_sum and ref_sum != lib_sum:
        notes.append("%s: WRONG RESULT: libvmm's checksum %s differs from QEMU's %s"
                     % (name, lib_sum, ref_sum))
        res["checksum_mismatch"] = True
    elif ref_sum and lib_sum:
        notes.append("%s: checksum %s identical on libvmm and QEMU" % (name, ref_sum))
    res["launch"] = (lib0, q0)
    return res


def bench_mips(ctx):
    """5. soft engine instruction rate on the CPU-bound bare-metal guest."""
    cpu, mixed = ctx.guest("riscv-cpu.elf"), ctx.guest("riscv-cpu-mixed.elf")
    empty = ctx.guest("riscv-exit.elf")
    reps = 3 if ctx.quick else 5
    res = {}
    ctx.results["mips"] = res
    rows, notes = [], []
    missing = ctx.missing(cpu, mixed, empty)
    if missing:
        print("\n== 5. mips: skipped (not built: %s)" % ", ".join(missing))
        res["skipped"] = "not built"
        return
    main = mips_variant(ctx, cpu, empty, reps, rows, notes)
    side = mips_variant(ctx, mixed, empty, 3, rows, notes)
    lib0, q0 = main.pop("launch")
    side.pop("launch")
    res["separate_pages"], res["mixed_page"] = main, side
    # Another shape: indirect jumps (a bytecode interpreter) and calls.
    dispatch = ctx.guest("riscv-dispatch.elf")
    if not ctx.missing(dispatch):
        other = mips_variant(ctx, dispatch, empty, 3, rows, notes)
        other.pop("launch")
        res["dispatch"] = other
    # And floating point: FMA, both widths, division, square roots, conversions.
    fp = ctx.guest("riscv-fp.elf")
    if not ctx.missing(fp):
        other = mips_variant(ctx, fp, empty, 3, rows, notes)
        other.pop("launch")
        res["fp"] = other
    # The translator's own counters, from the in-process runs.
    for key, label in (("separate_pages", "riscv-cpu.elf"), ("mixed_page", "riscv-cpu-mixed.elf"),
                       ("dispatch", "riscv-dispatch.elf"), ("fp", "riscv-fp.elf")):
        ip = (res.get(key) or {}).get("libvmm_in_process") or {}
        if ip.get("jit_blocks"):
            runs = ip.get("jit_block_runs") or 0
            mem = (ip.get("tlb_hits") or 0) + (ip.get("tlb_misses") or 0)
            notes.append("%s translator: %d blocks, %.2f ms translating, %d KiB code, %d flushes; "
                         "%.4f%% of %d block runs through the lookup (the rest chained); "
                         "TLB misses %.5f%% of %d accesses"
                         % (label, ip["jit_blocks"], ip.get("jit_translate_ns", 0) / 1e6,
                            (ip.get("jit_code_bytes") or 0) // 1024, ip.get("jit_flushes") or 0,
                            100.0 * (ip.get("jit_lookups") or 0) / max(runs, 1), runs,
                            100.0 * (ip.get("tlb_misses") or 0) / max(mem, 1), mem))
    if lib0.ok() and q0.ok():
        rows.append(["launch-to-exit, empty guest (riscv-exit.S): libvmm", fmt(lib0.median(), "ms"),
                     "", "%.2f" % pair_ratio(lib0, q0), "time ratio"])
        rows.append(["launch-to-exit, empty guest (riscv-exit.S): QEMU", fmt(q0.median(), "ms"),
                     "", "1.00", ""])
    if main.get("libvmm_mips") and main.get("qemu_mips"):
        r = main["libvmm_mips"] / main["qemu_mips"]
        met = r >= 1.0
        res["target_met"], res["ratio"] = met, r
        res["goal_met"] = r >= 1.65
        notes.append("target (riscv-cpu.elf): at least QEMU's rate: %s (%.2f); goal 1.65x: %s"
                     % (verdict(met), r, verdict(r >= 1.65)))
    notes.append("rate = instructions / (workload run - empty guest run), whole processes, "
                 "interleaved; riscv-cpu-mixed.elf has its data on the code page (worst case for "
                 "decoded-code caches), riscv-cpu.elf on pages of its own; riscv-dispatch.elf is "
                 "control flow (jump-table interpreter, recursive calls); riscv-fp.elf floating "
                 "point (FMA, single and double, division, square roots, conversions; fflags in "
                 "its checksum)")
    print_table("5. soft engine instruction rate, bench/guests/riscv-cpu.c (M-mode, bare metal)",
                ["what", "rate", "time (median)", "this/QEMU", "note"], rows, notes)


def bench_linux(ctx):
    """6. soft engine: Linux launch to poweroff against QEMU (OpenSBI), time and peak RSS."""
    cache = os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))
    image = os.path.join(cache, "riscv", "Image")
    initrd = os.path.join(cache, "riscv", "initramfs.cpio.gz")
    res = {"kernel": image, "initrd": initrd, "append": LINUX_APPEND}
    ctx.results["linux"] = res
    missing = ctx.missing(image, initrd)
    if missing:
        print("\n== 6. linux: skipped (missing %s; scripts/guest/build-riscv-*.sh make them)"
              % ", ".join(missing))
        res["skipped"] = "missing guest"
        return
    reps = 3 if ctx.quick else 5
    helper = ctx.prog("peak_rss")
    helper = helper if os.path.exists(helper) else None

    def check(run):
        if "libvmm-guest: poweroff" not in run.out:
            return "no 'libvmm-guest: poweroff' on the console"
        return None

    lib, q = measure_group([
        {"label": "libvmm vmmctl --engine soft", "timeout": 600, "check": check,
         "peak_rss": helper,
         "argv": vmmctl_run(ctx, "soft", image, extra=["--initrd", initrd, "--append",
                                                       LINUX_APPEND])},
        {"label": "QEMU -M virt -bios default (OpenSBI, TCG)", "timeout": 300, "check": check,
         "peak_rss": helper,
         "argv": ["qemu-system-riscv64", "-M", "virt", "-m", "256M", "-nographic", "-bios",
                  "default", "-kernel", image, "-initrd", initrd, "-append", LINUX_APPEND]},
    ], reps, budget=120)
    res["series"] = [lib.to_json(), q.to_json()]
    rows = [series_row(lib, "s"), series_row(q, "s", ref=lib)]
    notes = ["ratio = libvmm / QEMU, median of run-by-run ratios (interleaved); QEMU runs OpenSBI "
             "first, libvmm is its own SBI (no firmware)"]
    if lib.ok() and q.ok():
        pr = pair_ratio(lib, q)
        met = pr <= 0.5
        res["target_met"], res["ratio"] = met, pr
        notes.append("target: at most half of QEMU's time: %s (%.2f)" % (verdict(met), pr))
    elif not lib.ok() and lib.first is not None:
        tail = (lib.first.out + lib.first.err).strip().splitlines()[-5:]
        notes.extend("libvmm console tail: " + t for t in tail)

    # The same boot in process: what the guest itself touched of its RAM, and
    # the translator's figures (LIBVMM_SOFT_JIT_PROFILE=1 counts block runs).
    inproc, err, _ = run_json(["env", "LIBVMM_SOFT_JIT_PROFILE=1", ctx.prog("libvmm_bench"), "run",
                               "soft", image, "1", "256", initrd, LINUX_APPEND], timeout=300)
    res["in_process"], res["in_process_error"] = inproc, err
    if inproc:
        inproc.pop("console", None)
        runs, lookups = inproc.get("jit_block_runs", 0), inproc.get("jit_lookups", 0)
        acc = inproc["tlb_hits"] + inproc["tlb_misses"]
        notes.append("translator: %d blocks, %.1f ms translating, %d KiB code; %.2f%% of %d block "
                     "runs through the lookup; TLB misses %.3f%% of %d accesses; %d instructions"
                     % (inproc["jit_blocks"], inproc["jit_translate_ns"] / 1e6,
                        inproc["jit_code_bytes"] // 1024,
                        100.0 * lookups / runs if runs else 0.0, runs,
                        100.0 * inproc["tlb_misses"] / acc if acc else 0.0, acc,
                        inproc["instructions"]))
    if helper and lib.ok() and q.ok():
        peak, qpeak = lib.max("maxrss_kb"), q.max("maxrss_kb")
        touched = inproc["guest_rss_kb"] if inproc else None
        res["peak_rss_kb"], res["qemu_peak_rss_kb"], res["guest_touched_kb"] = peak, qpeak, touched
        rows.append(["peak RSS: libvmm vmmctl --engine soft", fmt(peak, "MB"), "",
                     ratio(peak, qpeak), "guest RAM touched %s, VMM above it %s" % (
                         fmt(touched, "MB") if touched is not None else "?",
                         fmt(peak - touched, "MB") if touched is not None else "?")])
        rows.append(["peak RSS: QEMU", fmt(qpeak, "MB"), "", "1.00", ""])
        met = peak <= 16 * 1024
        res["rss_target_met"] = met
        notes.append("target: peak RSS at most 16 MB: %s (%.1f MB%s)" % (
            verdict(met), peak / 1024.0,
            "; the guest alone writes %.1f MB of its RAM" % (touched / 1024.0)
            if touched is not None else ""))
        notes.append("peak RSS = largest ru_maxrss of the runs (bench/peak_rss.c); guest RAM "
                     "touched = resident pages of the guest RAM mapping after the same boot in "
                     "libvmm_bench")
    print_table("6. soft engine: riscv64 Linux + initramfs, launch to poweroff, 256 MiB",
                ["what", "median", "min", "libvmm/this", "runs / error"], rows, notes)


def bench_net(ctx):
    """7. virtio-net: guest -> host TCP throughput over a tap, libvmm soft
    engine against QEMU TCG, same kernel and initramfs (bench/net-throughput.sh,
    one run each in a network namespace of its own; needs root)."""
    cache = os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))
    image = os.path.join(cache, "riscv", "Image")
    initrd = os.path.join(cache, "riscv", "initramfs.cpio.gz")
    mb = 16 if ctx.quick else 64
    res = {"kernel": image, "initrd": initrd, "mib": mb}
    ctx.results["net"] = res
    missing = ctx.missing(image, initrd)
    if missing:
        print("\n== 7. net: skipped (missing %s)" % ", ".join(missing))
        res["skipped"] = "missing guest"
        return
    script = os.path.join(HERE, "net-throughput.sh")
    reps = 3 if ctx.quick else 5
    got = {"libvmm": [], "qemu": []}
    errors = {}
    for _ in range(reps):  # interleaved, like the other tables
        for eng in ("libvmm", "qemu"):
            if eng in errors:
                continue
            obj, err, skipped = run_json(["bash", script, eng, ctx.vmmctl, image, initrd,
                                          str(mb)], timeout=900.0)
            if obj is None:
                errors[eng] = ("skipped: " if skipped else "") + (err or "?")
            else:
                got[eng].append(obj["mb_s"])
    res["mb_s"] = got
    res["errors"] = errors
    rows = []
    med = {}
    for eng, label in (("libvmm", "libvmm soft, tap (IFF_VNET_HDR, csum+TSO offloads)"),
                       ("qemu", "QEMU -M virt TCG, -netdev tap (vnet_hdr)")):
        if got[eng]:
            med[eng] = statistics.median(got[eng])
            rows.append([label, "%.1f MB/s" % med[eng], "%.1f MB/s" % max(got[eng]),
                         "", "%d runs" % len(got[eng])])
        else:
            rows.append([label, "FAILED", "", "", errors.get(eng, "")])
    notes = ["MiB/s of %d MiB sent by busybox nc in the guest to a TCP sink on the tap's host "
             "side, timed from the first byte to the end of the stream; 1 vCPU, 256 MiB" % mb]
    if "libvmm" in med and "qemu" in med:
        r = med["libvmm"] / med["qemu"]
        res["ratio"] = r
        rows[0][3] = "%.2f" % r
        rows[1][3] = "1.00"
        notes.append("ratio = libvmm / QEMU throughput (medians); higher is better")
    print_table("7. virtio-net: guest -> host TCP throughput over tap, riscv64 Linux",
                ["what", "median", "best", "libvmm/QEMU", "runs / error"], rows, notes)


BENCHES = {
    "launch": bench_launch, "create": bench_create, "io": bench_io, "rss": bench_rss,
    "mips": bench_mips, "linux": bench_linux, "net": bench_net,
}


# ---------------------------------------------------------------- 7. blk
# Kept apart from the dict above (and registered below) so that benchmarks
# added on other branches merge without touching the same lines.

BLK_DISK_MIB = 256
BLK_PASSES = 4          # sequential: 4 passes over the 256 MiB disk, 1 GiB moved
BLK_RAND_SECONDS = 2
BLK_WORKLOADS = [
    # (key, blkbench job, table label)
    ("idle", "idle", "boot only (no I/O; subtracted from the CPU figures)"),
    ("seqread", "seqread,1024,%d,%d" % (BLK_DISK_MIB, BLK_PASSES), "sequential read, 1 MiB"),
    ("seqwrite", "seqwrite,1024,%d,%d" % (BLK_DISK_MIB, BLK_PASSES), "sequential write, 1 MiB"),
    ("rand1", "randread,4,%d,1" % BLK_RAND_SECONDS, "4 KiB random read, QD 1"),
    ("rand16", "randread,4,%d,16" % BLK_RAND_SECONDS, "4 KiB random read, QD 16"),
]


def parse_blkbench(text):
    """The `blkbench: op=... k=v ...` lines of a run's console, as dicts."""
    out = []
    for m in re.finditer(r"^blkbench: (op=.*)$", text or "", re.M):
        d = {}
        for kv in m.group(1).split():
            k, _, v = kv.partition("=")
            try:
                d[k] = float(v) if "." in v else int(v)
            except ValueError:
                d[k] = v
        out.append(d)
    return out


def blk_domain_xml(name, kernel, initrd, append, image, mem_mib=256):
    return """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>%d</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>%s</cmdline>
  </os>
  <devices>
    <serial type='stdio'><target port='0'/></serial>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
""" % (name, mem_mib, kernel, initrd, append, image)


def bench_blk(ctx):
    """7. soft engine: virtio-blk throughput, IOPS and host CPU per GB against QEMU."""
    cache = os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))
    # The names `scripts/guest/all.sh --env` prints override the cache paths
    # (e.g. a private copy of an initramfs that has tests/blkbench.sh).
    image = os.environ.get("LIBVMM_RISCV_KERNEL") or os.path.join(cache, "riscv", "Image")
    initrd = (os.environ.get("LIBVMM_RISCV_INITRD")
              or os.path.join(cache, "riscv", "initramfs.cpio.gz"))
    res = {"kernel": image, "initrd": initrd, "disk_mib": BLK_DISK_MIB, "passes": BLK_PASSES,
           "rand_seconds": BLK_RAND_SECONDS}
    ctx.results["blk"] = res
    missing = ctx.missing(image, initrd)
    if missing:
        print("\n== 7. blk: skipped (missing %s; scripts/guest/build-riscv-*.sh make them)"
              % ", ".join(missing))
        res["skipped"] = "missing guest"
        return
    reps = 3 if ctx.quick else ctx.runs
    load_before = os.getloadavg()[0]
    work = tempfile.mkdtemp(prefix="bench-blk-")
    try:
        # A fully allocated image of non-zero bytes (no holes: reads go
        # through the host's page cache, warm after the first run).
        disk = os.path.join(work, "disk.img")
        chunk = os.urandom(1 << 20)
        with open(disk, "wb") as f:
            for _ in range(BLK_DISK_MIB):
                f.write(chunk)
        specs = []
        for key, job, _ in BLK_WORKLOADS:
            append = "console=ttyS0 libvmm.test=run:blkbench libvmm.blkbench=%s" % job
            xml = os.path.join(work, "%s.xml" % key)
            with open(xml, "w") as f:
                f.write(blk_domain_xml("blkbench-" + key, image, initrd, append, disk))
            want = 0 if key == "idle" else 1

            def check(run, want=want):
                if "blkbench: done" not in run.out:
                    if "run blkbench" in run.out and "blkbench:" not in run.out:
                        return "no blkbench in the initramfs (rerun scripts/guest/all.sh)"
                    return "no 'blkbench: done' on the console"
                if "blkbench: FAIL" in run.out:
                    return "the guest reported: " + re.search(r"blkbench: FAIL.*", run.out).group(0)
                if len(parse_blkbench(run.out)) != want:
                    return "expected %d blkbench result line(s)" % want
                return None

            specs.append({"label": "libvmm " + key, "argv": [ctx.vmmctl, "run", xml],
                          "timeout": 300, "check": check})
            specs.append({"label": "QEMU " + key, "timeout": 300, "check": check,
                          "argv": ["qemu-system-riscv64", "-M", "virt", "-m", "256M",
                                   "-nographic", "-bios", "default", "-kernel", image,
                                   "-initrd", initrd, "-append", append,
                                   "-drive", "file=%s,format=raw,if=none,id=d0" % disk,
                                   "-device", "virtio-blk-device,drive=d0"]})
        series = measure_group(specs, reps, budget=300)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    by = {}
    for (key, _, _), k in zip(BLK_WORKLOADS, range(0, len(series), 2)):
        by[key] = (series[k], series[k + 1])
    res["series"] = [s.to_json() for s in series]

    def cpu(r):
        return r.user + r.sys

    def figures(s, idle):
        """Per run: the guest's result line and net host CPU s per GB (this
        run's user+sys minus the idle run's of the same round)."""
        rows = []
        if not s.ok():
            return rows
        for i, r in enumerate(s.runs):
            line = parse_blkbench(r.out)[0]
            net = None
            if idle.ok() and i < len(idle.runs):
                net = (cpu(r) - cpu(idle.runs[i])) / (line["bytes"] / 1e9)
            rows.append({"mbps": line["mbps"], "iops": line["iops"], "bytes": line["bytes"],
                         "lat_us": line["lat_us"], "cpu_s": cpu(r), "cpu_s_per_gb": net})
        return rows

    def med(rows, k):
        vals = [x[k] for x in rows if x[k] is not None]
        return statistics.median(vals) if vals else None

    def pair_vals(a, b, k):
        if not a or len(a) != len(b):
            return []
        return [x[k] / y[k] for x, y in zip(a, b) if x[k] is not None and y[k]]

    def pair_med(a, b, k):
        vals = pair_vals(a, b, k)
        return statistics.median(vals) if vals else None

    def spread(a, b, k):
        vals = pair_vals(a, b, k)
        return "%.2f-%.2f" % (min(vals), max(vals)) if vals else ""

    lib_idle, q_idle = by["idle"]
    rows, notes, fig = [], [], {}
    for key, job, label in BLK_WORKLOADS[1:]:
        ls, qs = by[key]
        lf, qf = figures(ls, lib_idle), figures(qs, q_idle)
        fig[key] = {"job": job, "libvmm": lf, "qemu": qf}
        err = ls.error or qs.error
        if not lf or not qf:
            rows.append([label, "FAILED" if ls.error else "", "FAILED" if qs.error else "", "",
                         "", err or ""])
            continue
        seq = key.startswith("seq")
        unit, k = ("MB/s", "mbps") if seq else ("IOPS", "iops")
        r = pair_med(lf, qf, k)
        fig[key]["ratio"] = r
        tgt = verdict(r >= 1.0) if key in ("seqread", "seqwrite", "rand1") else "(no target)"
        rows.append([label + " " + unit, "%.0f" % med(lf, k), "%.0f" % med(qf, k), "%.2f" % r,
                     spread(lf, qf, k), tgt + "  (>= QEMU)" if tgt != "(no target)" else tgt])
    for key, job, label in BLK_WORKLOADS[1:]:
        f = fig.get(key)
        if not f or not f["libvmm"] or not f["qemu"]:
            continue
        lc, qc = med(f["libvmm"], "cpu_s_per_gb"), med(f["qemu"], "cpu_s_per_gb")
        r = pair_med(f["libvmm"], f["qemu"], "cpu_s_per_gb")
        f["cpu_ratio"] = r
        tgt = verdict(r is not None and r < 1.0) + "  (< QEMU)"
        rows.append(["host CPU s/GB, " + label, "%.2f" % lc if lc is not None else "-",
                     "%.2f" % qc if qc is not None else "-",
                     "%.2f" % r if r is not None else "-",
                     spread(f["libvmm"], f["qemu"], "cpu_s_per_gb"), tgt])
    if lib_idle.ok() and q_idle.ok():
        rows.append([BLK_WORKLOADS[0][2] + ": wall / CPU s",
                     "%.2f / %.2f" % (lib_idle.median(), statistics.median(
                         cpu(r) for r in lib_idle.runs)),
                     "%.2f / %.2f" % (q_idle.median(), statistics.median(
                         cpu(r) for r in q_idle.runs)), "", "", ""])
    else:
        rows.append([BLK_WORKLOADS[0][2], "FAILED" if lib_idle.error else "",
                     "FAILED" if q_idle.error else "", "", "", lib_idle.error or q_idle.error or ""])
    res["figures"] = fig
    res["loadavg"] = [load_before, os.getloadavg()[0]]
    notes.append("host load average (1 min) before / after: %.1f / %.1f on %d CPUs; throughput "
                 "and IOPS move with it, the CPU figures much less" % (load_before,
                                                                      os.getloadavg()[0],
                                                                      os.cpu_count()))
    notes.append("throughput: guest clock_gettime around the requests (tests/guest/linux/tools/"
                 "blkbench.c), O_DIRECT on raw /dev/vda, %d MiB disk image on the host's page "
                 "cache; sequential: %d passes (%d MiB moved), random: %d s; MB = 10^6 bytes"
                 % (BLK_DISK_MIB, BLK_PASSES, BLK_DISK_MIB * BLK_PASSES, BLK_RAND_SECONDS))
    notes.append("host CPU s/GB: (user+sys of the whole VMM process, wait4) minus the boot-only "
                 "run's of the same round, over bytes moved (10^9); one process per workload")
    notes.append("ratio = libvmm / QEMU, median of run-by-run ratios (interleaved, %d rounds; "
                 "range: the lowest and highest round); "
                 "QEMU: -M virt -bios default (OpenSBI, TCG), -drive if=none,format=raw "
                 "(cache=writeback, aio=threads) -device virtio-blk-device" % reps)
    print_table("7. soft engine: virtio-blk from riscv64 Linux, libvmm vs QEMU",
                ["what", "libvmm", "QEMU", "libvmm/QEMU", "range", "target"], rows, notes)


BENCHES["blk"] = bench_blk
GROUPS["soft"].append("blk")
ALL.append("blk")


# ---------------------------------------------------------------- 9. snapshot
# Registered below like blk, so that other branches' benchmarks merge cleanly.

SNAP_APPEND = "console=ttyS0 libvmm.test=shell"
SNAP_READY = "libvmm-guest: shell"


class QmpClient:
    """A minimal QMP client on a unix socket (connects with retries while the
    VMM creates it; skips events while waiting for a reply)."""

    def __init__(self, path, timeout=30.0):
        import socket
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise RuntimeError("no QMP socket at %s" % path)
                time.sleep(0.001)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.read_msg()  # greeting
        self.cmd("qmp_capabilities")

    def read_msg(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            m = self.read_msg()
            if "return" in m:
                return m["return"]
            if "error" in m:
                raise RuntimeError("QMP %s: %s" % (name, m["error"].get("desc", m["error"])))

    def close(self):
        self.sock.close()


class SnapVm:
    """One VMM process with a console file, stdin kept open and a QMP socket."""

    def __init__(self, argv, work, tag):
        self.console = os.path.join(work, tag + ".console")
        self.qmp_path = os.path.join(work, tag + ".qmp")
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        self.argv = argv + ["-qmp" if "qemu" in os.path.basename(argv[0]) else "--qmp",
                            "unix:%s,server=on,wait=off" % self.qmp_path]
        self.out = open(self.console, "wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        self.qmp = None

    def text(self):
        with open(self.console, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def connect(self, timeout=30.0):
        self.qmp = QmpClient(self.qmp_path, timeout)

    def wait_console(self, needle, timeout):
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None:
                raise RuntimeError("exited %d before '%s': %s" % (
                    self.proc.returncode, needle, self.text().strip()[-200:]))
            if time.monotonic() > deadline:
                raise RuntimeError("no '%s' on the console in %.0f s" % (needle, timeout))
            time.sleep(0.01)

    def wait_running(self, timeout=60.0):
        """Polls query-status until the VM runs (sending cont once if it comes
        up paused, as QEMU does after an incoming migration from a stopped
        source); returns seconds since spawn."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.qmp.cmd("query-status")
            if st.get("running"):
                return time.monotonic() - self.t0
            if st.get("status") in ("paused", "postmigrate"):
                self.qmp.cmd("cont")
                continue
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("never running (status %s)" % st.get("status"))
            time.sleep(0.001)

    def check_shell(self, timeout=30.0):
        """Proves the guest runs: its shell computes 6*7 for us."""
        self.proc.stdin.write(b"echo snap$((6*7))ok\n")
        self.proc.stdin.flush()
        self.wait_console("snap42ok", timeout)

    def stop(self):
        try:
            if self.qmp:
                try:
                    self.qmp.cmd("quit")
                except (RuntimeError, OSError):
                    pass
                self.qmp.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        finally:
            self.out.close()


def file_blocks(path):
    """Bytes allocated on disk (what du reports) and the apparent size."""
    st = os.stat(path)
    return st.st_blocks * 512, st.st_size


def dd_seconds(path, nbytes):
    """Wall time of dd writing nbytes of zeros (1 MiB blocks, to the page
    cache like both savers: no fsync)."""
    mib = max(1, (nbytes + (1 << 20) - 1) >> 20)
    t0 = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=1M", "count=%d" % mib],
                   check=True, capture_output=True)
    t = time.monotonic() - t0
    os.unlink(path)
    return t, mib << 20


def snapshot_clones(ctx, snap, n):
    """Runs bench/snapshot_clones.py on a libvmm snapshot: n map-mode
    restores in one process through the Python bindings."""
    if not os.path.exists(snap):
        return {"error": "no libvmm snapshot to clone"}
    lib = os.path.join(ctx.build, "libvmm.so.0")
    if not os.path.exists(lib):
        lib = os.path.join(ctx.build, "libvmm", "libvmm.so.0")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"),
               LIBVMM_LIBRARY=lib)
    try:
        r = subprocess.run([sys.executable, os.path.join(HERE, "snapshot_clones.py"), snap,
                            str(n)], env=env, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as e:
        return {"error": str(e)}
    if r.returncode != 0:
        tail = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1:] or [""]
        return {"error": "exit %d: %s" % (r.returncode, tail[0][:160])}
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as e:
        return {"error": "bad output: %s" % e}


def bench_snapshot(ctx):
    """9. soft engine: snapshot save and restore of a paused riscv64 Linux
    guest (256 MiB) against QEMU TCG, both driven over QMP."""
    cache = os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))
    image = os.environ.get("LIBVMM_RISCV_KERNEL") or os.path.join(cache, "riscv", "Image")
    initrd = (os.environ.get("LIBVMM_RISCV_INITRD")
              or os.path.join(cache, "riscv", "initramfs.cpio.gz"))
    res = {"kernel": image, "initrd": initrd, "append": SNAP_APPEND, "mem_mib": 256}
    ctx.results["snapshot"] = res
    missing = ctx.missing(image, initrd, ctx.vmmctl)
    if missing:
        print("\n== 9. snapshot: skipped (missing %s)" % ", ".join(missing))
        res["skipped"] = "missing " + ", ".join(missing)
        return
    reps = 3 if ctx.quick else ctx.runs
    lib_argv = [ctx.vmmctl, "run", "--engine", "soft", "--memory", "256M", "--kernel", image,
                "--initrd", initrd, "--append", SNAP_APPEND]
    q_argv = ["qemu-system-riscv64", "-M", "virt", "-m", "256M", "-nographic", "-bios",
              "default", "-kernel", image, "-initrd", initrd, "-append", SNAP_APPEND]
    keys = ["lib_save", "q_save", "lib_read", "lib_map", "q_restore",
            "lib_dd", "q_dd"]
    t = {k: [] for k in keys}
    sizes = {"lib": [], "q": []}
    errors = {}
    work = tempfile.mkdtemp(prefix="bench-snap-")
    load_before = os.getloadavg()[0]

    def save(tag, argv, uri_of):
        snap = os.path.join(work, tag + ".snap")
        if os.path.exists(snap):
            os.unlink(snap)
        vm = SnapVm(argv, work, tag + "-src")
        try:
            vm.wait_console(SNAP_READY, 300)
            time.sleep(0.3)  # let the shell reach its prompt
            vm.connect()
            vm.qmp.cmd("stop")
            t0 = time.monotonic()
            vm.qmp.cmd("migrate", {"uri": uri_of(snap)})
            while True:
                st = vm.qmp.cmd("query-migrate").get("status")
                # libvmm's file: migrate answers once the file is written and
                # then reports no migration ({}); QEMU's runs in the background.
                if st == "completed" or st is None:
                    break
                if st in ("failed", "cancelled"):
                    raise RuntimeError("migration %s" % st)
                time.sleep(0.001)
            dt = time.monotonic() - t0
        finally:
            vm.stop()
        return snap, dt

    def restore(tag, argv):
        vm = SnapVm(argv, work, tag)
        try:
            vm.connect()
            dt = vm.wait_running()
            vm.check_shell()
        finally:
            vm.stop()
        return dt

    try:
        for _ in range(reps):
            for side in ("lib", "q"):
                if side in errors:
                    continue
                try:
                    if side == "lib":
                        snap, dt = save("lib", lib_argv, lambda p: "file:" + p)
                    else:
                        snap, dt = save("q", q_argv, lambda p: "exec:cat > " + p)
                    t[side + "_save"].append(dt)
                    on_disk, apparent = file_blocks(snap)
                    sizes[side].append((on_disk, apparent))
                    ddt, ddb = dd_seconds(os.path.join(work, "dd.out"), on_disk)
                    t[side + "_dd"].append((ddt, ddb))
                    if side == "lib":
                        t["lib_read"].append(restore(
                            "lib-read", lib_argv + ["--incoming", "file:" + snap]))
                        t["lib_map"].append(restore(
                            "lib-map", lib_argv + ["--incoming", "file:" + snap,
                                                   "--incoming-map"]))
                    else:
                        t["q_restore"].append(restore(
                            "q-restore", q_argv + ["-incoming", "exec:cat " + snap]))
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    errors[side] = "%s: %s" % (type(e).__name__, e)
        clones = snapshot_clones(ctx, os.path.join(work, "lib.snap"), 3 if ctx.quick else 100)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["clones"] = clones
    res["times_s"] = t
    res["sizes"] = sizes
    res["errors"] = errors
    res["loadavg"] = [load_before, os.getloadavg()[0]]

    def med(k):
        vals = [x[0] if isinstance(x, tuple) else x for x in t[k]]
        return statistics.median(vals) if vals else None

    def pair(a, b):
        if not t[a] or len(t[a]) != len(t[b]):
            return None
        return statistics.median(x / y for x, y in zip(t[a], t[b]))

    def mb_s(side):
        if not sizes[side] or not t[side + "_save"]:
            return None
        return statistics.median(sz[0] / dt / 1e6 for sz, dt in zip(sizes[side],
                                                                  t[side + "_save"]))

    def dd_mb_s(k):
        return statistics.median(b / x / 1e6 for x, b in t[k]) if t[k] else None

    def msz(side, i):
        return statistics.median(s[i] for s in sizes[side]) / 1e6 if sizes[side] else None

    rows = []

    def row(what, a, b, r, extra=""):
        rows.append([what, a, b, "%.2f" % r if r is not None else "-", extra])

    row("save (QMP stop, then migrate until completed)", fmt(med("lib_save"), "ms"),
        fmt(med("q_save"), "ms"), pair("lib_save", "q_save"), "lower is better")
    lib_mbs, q_mbs = mb_s("lib"), mb_s("q")
    row("  save rate, on-disk MB / s", "%.0f MB/s" % lib_mbs if lib_mbs else "-",
        "%.0f MB/s" % q_mbs if q_mbs else "-",
        lib_mbs / q_mbs if lib_mbs and q_mbs else None, "higher is better")
    row("  file size on disk (du) / apparent, MB",
        "%.1f / %.1f" % (msz("lib", 0), msz("lib", 1)) if sizes["lib"] else "-",
        "%.1f / %.1f" % (msz("q", 0), msz("q", 1)) if sizes["q"] else "-",
        msz("lib", 0) / msz("q", 0) if sizes["lib"] and sizes["q"] else None,
        "on disk; lower is better")
    ld, qd = dd_mb_s("lib_dd"), dd_mb_s("q_dd")
    rows.append(["  floor: dd of the same on-disk size, 1 MiB blocks",
                 "%.0f MB/s, %s" % (ld, fmt(med("lib_dd"), "ms")) if ld else "-",
                 "%.0f MB/s, %s" % (qd, fmt(med("q_dd"), "ms")) if qd else "-", "", ""])
    row("restore: spawn to running, read (libvmm) / -incoming exec:cat (QEMU)",
        fmt(med("lib_read"), "ms"), fmt(med("q_restore"), "ms"),
        pair("lib_read", "q_restore"), "lower is better")
    row("restore: spawn to running, libvmm --incoming-map (copy-on-write)",
        fmt(med("lib_map"), "ms"), fmt(med("q_restore"), "ms"),
        pair("lib_map", "q_restore"), "lower is better")
    if clones.get("error"):
        rows.append(["map-mode clones in one Python process", "FAILED", "", "", clones["error"]])
    else:
        rows.append(["%d map-mode clones, one Python process (restored, not started)"
                     % clones["clones"],
                     "%s total, %s each" % (fmt(clones["total_s"], "ms"),
                                            fmt(clones["per_clone_s"], "ms")), "", "", ""])
        rows.append(["  RSS increase for those clones",
                     "%.1f MB (%.0f KB each)" % (clones["rss_increase_kb"] / 1024.0,
                                                 clones["rss_increase_kb"] / clones["clones"]),
                     "", "", "lower is better"])
    for side, err in sorted(errors.items()):
        rows.append(["ERROR " + ("libvmm" if side == "lib" else "QEMU"), "", "", "", err[:160]])
    res["medians"] = {k: med(k) for k in keys}
    res["ratios"] = {"save": pair("lib_save", "q_save"),
                     "restore_read": pair("lib_read", "q_restore"),
                     "restore_map": pair("lib_map", "q_restore")}
    notes = [
        "guest: riscv64 Linux + initramfs, %s, 256 MiB, 1 vCPU, paused (QMP stop) at its shell "
        "prompt; libvmm: vmmctl run --engine soft --qmp, migrate {\"uri\": \"file:PATH\"}; "
        "QEMU %s: -M virt -bios default (OpenSBI, TCG), migrate {\"uri\": \"exec:cat > PATH\"}"
        % (SNAP_APPEND, "7.2" if "7.2" in host_info()["qemu"] else ""),
        "save: QMP migrate sent -> query-migrate says completed (libvmm answers migrate "
        "after writing; QEMU polled every 1 ms); written to the page cache, no fsync, "
        "on %s" % tempfile.gettempdir(),
        "restore: process spawn -> query-status running (QMP polled every 1 ms; includes "
        "the VMM's start-up and QEMU's cat pipe); after each restore the guest shell is asked "
        "to print $((6*7)) (checked, not timed)",
        "clones: bench/snapshot_clones.py, vmm.Host(memory_limit=...) raised above physical "
        "memory (the pool counts nominal RAM); RSS = VmRSS after minus before the n restores",
        "a restored libvmm VM runs at once; QEMU comes up paused (its source was stopped) and "
        "gets a QMP cont, inside the timed span",
        "ratio = libvmm / QEMU, median of run-by-run ratios (interleaved, %d rounds)" % reps,
        "host load average (1 min) before / after: %.1f / %.1f on %d CPUs"
        % (load_before, os.getloadavg()[0], os.cpu_count()),
    ]
    print_table("9. soft engine: snapshot save / restore, riscv64 Linux 256 MiB, libvmm vs QEMU",
                ["what", "libvmm", "QEMU", "libvmm/QEMU", "better"], rows, notes)


BENCHES["snapshot"] = bench_snapshot
GROUPS["soft"].append("snapshot")
ALL.append("snapshot")


# ------------------------------------------------ 9. snapshot-1g and migrate
# Issue 9's first and last benchmark bullets, side by side with QEMU: a
# 1 GiB riscv64 Linux guest that filled 256 MiB with a pattern
# (tests/guest/linux/tests/memtouch.sh) saved to a file, and the same guest
# migrated live over loopback TCP while it rewrites 64 MiB in a loop. Both
# VMMs are driven over QMP with the same commands (SnapVm, QmpClient above).

BIG_MEM = "1G"
TOUCH_MIB = 256
REWRITE_MIB = 64
MIGRATE_DOWNTIME_MS = 20    # the issue's downtime target, asked of both VMMs
MIGRATE_BANDWIDTH = 10 << 30  # bytes/s: no practical limit on loopback


def riscv_linux_images():
    cache = os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))
    image = os.environ.get("LIBVMM_RISCV_KERNEL") or os.path.join(cache, "riscv", "Image")
    initrd = (os.environ.get("LIBVMM_RISCV_INITRD")
              or os.path.join(cache, "riscv", "initramfs.cpio.gz"))
    return image, initrd


def memtouch_argvs(ctx, image, initrd, rewrite_mib):
    """(libvmm argv, QEMU argv) of the memtouch guest: 1 GiB, 1 vCPU."""
    append = "console=ttyS0 libvmm.test=run:memtouch libvmm.touch_mib=%d" % TOUCH_MIB
    if rewrite_mib:
        append += " libvmm.rewrite_mib=%d" % rewrite_mib
    lib = [ctx.vmmctl, "run", "--engine", "soft", "--memory", BIG_MEM, "--kernel", image,
           "--initrd", initrd, "--append", append]
    q = ["qemu-system-riscv64", "-M", "virt", "-m", BIG_MEM, "-nographic", "-bios", "default",
         "-kernel", image, "-initrd", initrd, "-append", append]
    return lib, q


def wait_migrated(qmp, timeout):
    """Polls query-migrate every 5 ms until the migration ends; returns
    QEMU's fields (status, total-time, downtime, ram ...)."""
    deadline = time.monotonic() + timeout
    while True:
        st = qmp.cmd("query-migrate")
        if st.get("status") in ("completed", "failed", "cancelled"):
            return st
        if time.monotonic() > deadline:
            qmp.cmd("migrate_cancel")
            raise RuntimeError("migration still %s after %.0f s" % (st.get("status"), timeout))
        time.sleep(0.005)


def snapshot_table(path):
    """Non-zero guest pages a libvmm snapshot holds, from its memory table
    (doc/snapshot-format.md), in bytes."""
    import struct
    with open(path, "rb") as f:
        hdr = f.read(160)
        table_off, nr = struct.unpack_from("<QI", hdr, 112)
        f.seek(table_off)
        table = f.read(32 * nr)
    return sum(struct.unpack_from("<I", table, 32 * i + 28)[0] for i in range(nr)) * 4096


def dd_fsync_seconds(path, nbytes):
    """Wall time of `dd conv=fsync` writing nbytes (1 MiB blocks) to path:
    the disk's floor for writing the same amount durably."""
    mib = max(1, (nbytes + (1 << 20) - 1) >> 20)
    t0 = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=1M", "count=%d" % mib,
                    "conv=fsync"], check=True, capture_output=True)
    t = time.monotonic() - t0
    os.unlink(path)
    return t, mib << 20


def bench_snapshot_1g(ctx):
    """9. soft engine: save a 1 GiB riscv64 Linux guest with 256 MiB touched,
    durably (fsync), against dd conv=fsync of the same bytes and QEMU."""
    image, initrd = riscv_linux_images()
    res = {"kernel": image, "initrd": initrd, "mem": BIG_MEM, "touched_mib": TOUCH_MIB}
    ctx.results["snapshot-1g"] = res
    missing = ctx.missing(image, initrd, ctx.vmmctl)
    if missing:
        print("\n== 9. snapshot-1g: skipped (missing %s)" % ", ".join(missing))
        res["skipped"] = "missing " + ", ".join(missing)
        return
    reps = 2 if ctx.quick else ctx.runs
    lib_argv, q_argv = memtouch_argvs(ctx, image, initrd, 0)
    work = tempfile.mkdtemp(prefix="bench-snap1g-")
    rows_raw = {"lib": [], "q": []}
    errors = {}
    load_before = os.getloadavg()[0]

    def save(side):
        snap = os.path.join(work, side + ".snap")
        if os.path.exists(snap):
            os.unlink(snap)
        vm = SnapVm(lib_argv if side == "lib" else q_argv, work, side + "-1g")
        try:
            vm.wait_console("memtouch: idle", 600)
            vm.connect()
            vm.qmp.cmd("stop")
            t0 = time.monotonic()
            vm.qmp.cmd("migrate", {"uri": ("file:" if side == "lib" else "exec:cat > ") + snap})
            st = wait_migrated(vm.qmp, 300)
            if st.get("status") != "completed":
                raise RuntimeError("save %s: %s" % (st.get("status"), st))
            done = time.monotonic() - t0
            # libvmm's save fsyncs before it completes; QEMU's cat does not:
            # its file is fsynced here, inside the timed span, so both
            # figures are "until the snapshot is on disk".
            fd = os.open(snap, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            durable = time.monotonic() - t0
        finally:
            vm.stop()
        on_disk, apparent = file_blocks(snap)
        r = {"completed_s": done, "durable_s": durable, "on_disk": on_disk,
             "apparent": apparent}
        if side == "lib":
            r["guest_pages_bytes"] = snapshot_table(snap)
        # The floor: the same number of bytes through dd conv=fsync, to the
        # same directory, right after.
        r["dd_s"], r["dd_bytes"] = dd_fsync_seconds(os.path.join(work, "dd.out"), on_disk)
        os.unlink(snap)
        return r

    try:
        for _ in range(reps):
            for side in ("lib", "q"):
                if side in errors:
                    continue
                try:
                    rows_raw[side].append(save(side))
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    errors[side] = "%s: %s" % (type(e).__name__, e)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["runs"] = rows_raw
    res["errors"] = errors
    res["loadavg"] = [load_before, os.getloadavg()[0]]

    def med(side, key):
        vals = [r[key] for r in rows_raw[side]]
        return statistics.median(vals) if vals else None

    def rate(side):  # on-disk MB per second of durable save
        vals = [r["on_disk"] / r["durable_s"] / 1e6 for r in rows_raw[side]]
        return statistics.median(vals) if vals else None

    def vs_dd(side):  # save rate / dd rate, run by run
        vals = [(r["on_disk"] / r["durable_s"]) / (r["dd_bytes"] / r["dd_s"])
                for r in rows_raw[side]]
        return statistics.median(vals) if vals else None

    def dd_rate(side):
        vals = [r["dd_bytes"] / r["dd_s"] / 1e6 for r in rows_raw[side]]
        return statistics.median(vals) if vals else None

    rows = []
    lr, qr = rate("lib"), rate("q")
    rows.append(["save until on disk (QMP migrate -> completed -> fsync)",
                 fmt(med("lib", "durable_s"), "s"), fmt(med("q", "durable_s"), "s"),
                 ratio(med("lib", "durable_s"), med("q", "durable_s")), "lower is better"])
    rows.append(["  of which until QMP says completed", fmt(med("lib", "completed_s"), "s"),
                 fmt(med("q", "completed_s"), "s"), "", "libvmm fsyncs before completing"])
    rows.append(["  save rate, on-disk MB / s", "%.0f MB/s" % lr if lr else "-",
                 "%.0f MB/s" % qr if qr else "-", ratio(lr, qr), "higher is better"])
    lv, qv = vs_dd("lib"), vs_dd("q")
    rows.append(["  save rate / dd conv=fsync rate of the same bytes",
                 "%.2f x (dd %.0f MB/s)" % (lv, dd_rate("lib")) if lv else "-",
                 "%.2f x (dd %.0f MB/s)" % (qv, dd_rate("q")) if qv else "-", "",
                 "target >= 0.8 x: %s" % (verdict(lv >= 0.8) if lv else "-")])
    l_disk, q_disk = med("lib", "on_disk"), med("q", "on_disk")
    l_app = med("lib", "apparent")
    rows.append(["file size on disk (du), MiB",
                 "%.1f (apparent %.0f)" % (l_disk / 2**20, l_app / 2**20) if l_disk else "-",
                 "%.1f" % (q_disk / 2**20) if q_disk else "-", ratio(l_disk, q_disk),
                 "lower is better"])
    pages = med("lib", "guest_pages_bytes")
    if l_disk and pages:
        over_touch = l_disk - TOUCH_MIB * 2**20
        over_pages = l_disk - pages
        rows.append(["  libvmm: on disk - %d MiB touched" % TOUCH_MIB,
                     "%.2f MiB" % (over_touch / 2**20), "", "",
                     "target < 1 MiB: %s" % verdict(over_touch < 2**20)])
        rows.append(["  libvmm: guest's non-zero pages / file overhead beyond them",
                     "%.1f MiB / %.0f KiB" % (pages / 2**20, over_pages / 1024), "", "",
                     "kernel, page cache, ... are non-zero too"])
    for side, err in sorted(errors.items()):
        rows.append(["ERROR " + ("libvmm" if side == "lib" else "QEMU"), "", "", "", err[:160]])
    res["medians"] = {"lib_durable_s": med("lib", "durable_s"),
                      "q_durable_s": med("q", "durable_s"), "lib_mb_s": lr, "q_mb_s": qr,
                      "lib_vs_dd": lv, "q_vs_dd": qv, "lib_on_disk": l_disk,
                      "q_on_disk": q_disk, "lib_guest_pages_bytes": pages}
    notes = [
        "guest: riscv64 Linux + initramfs, %s RAM, 1 vCPU, run:memtouch (tests/guest/linux/"
        "tests/memtouch.sh) filled %d MiB of RAM (a rootfs file of pattern lines) and idles; "
        "paused with QMP stop; one fresh boot per save" % (BIG_MEM, TOUCH_MIB),
        "libvmm: vmmctl run --engine soft --qmp, migrate {\"uri\": \"file:PATH\"} (sparse "
        "file, fsynced, renamed); QEMU %s: -M virt -bios default (TCG), migrate {\"uri\": "
        "\"exec:cat > PATH\"}, then fsync of the file (QEMU 7.2 has no file: migration)"
        % ("7.2" if "7.2" in host_info()["qemu"] else ""),
        "dd: dd if=/dev/zero bs=1M conv=fsync of the same on-disk size, in the same directory "
        "(%s), right after each save" % tempfile.gettempdir(),
        "%d rounds, libvmm and QEMU interleaved; medians (of run-by-run ratios for x dd)"
        % reps,
        "host load average (1 min) before / after: %.1f / %.1f on %d CPUs"
        % (load_before, os.getloadavg()[0], os.cpu_count()),
    ]
    print_table("9. soft engine: save a 1 GiB guest with %d MiB touched, libvmm vs QEMU vs dd"
                % TOUCH_MIB, ["what", "libvmm", "QEMU", "libvmm/QEMU", "target / note"],
                rows, notes)


def bindings_env(ctx):
    """Environment for a helper script using the Python bindings."""
    lib = os.path.join(ctx.build, "libvmm.so.0")
    if not os.path.exists(lib):
        lib = os.path.join(ctx.build, "libvmm", "libvmm.so.0")
    return dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"),
                LIBVMM_LIBRARY=lib)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tcp_listening(port):
    """Whether something on this host listens on TCP port `port`."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    local, state = line.split()[1], line.split()[3]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def last_pass(text):
    passes = re.findall(r"memtouch: pass (\d+)", text)
    return int(passes[-1]) if passes else 0


def bench_migrate(ctx):
    """9. soft engine: live migration over loopback TCP of the 1 GiB guest
    while it rewrites 64 MiB in a loop, libvmm vs QEMU."""
    image, initrd = riscv_linux_images()
    res = {"kernel": image, "initrd": initrd, "mem": BIG_MEM, "touched_mib": TOUCH_MIB,
           "rewrite_mib": REWRITE_MIB, "downtime_limit_ms": MIGRATE_DOWNTIME_MS,
           "max_bandwidth": MIGRATE_BANDWIDTH}
    ctx.results["migrate"] = res
    missing = ctx.missing(image, initrd, ctx.vmmctl)
    if missing:
        print("\n== 9. migrate: skipped (missing %s)" % ", ".join(missing))
        res["skipped"] = "missing " + ", ".join(missing)
        return
    reps = 2 if ctx.quick else ctx.runs
    lib_argv, q_argv = memtouch_argvs(ctx, image, initrd, REWRITE_MIB)
    work = tempfile.mkdtemp(prefix="bench-migrate-")
    runs = {"lib": [], "q": []}
    errors = {}
    load_before = os.getloadavg()[0]
    params = {"downtime-limit": MIGRATE_DOWNTIME_MS, "max-bandwidth": MIGRATE_BANDWIDTH}

    def wait_listening(dst, port):
        # The destination must listen before the source connects; a probe
        # connection would be taken for the migration, so the kernel's
        # socket table is asked instead.
        deadline = time.monotonic() + 30
        while not tcp_listening(port):
            if dst.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("destination never listened on port %d: %s"
                                   % (port, dst.text().strip()[-200:]))
            time.sleep(0.01)

    def check_destination(dst):
        # vmmctl --incoming reads the whole stream before it offers QMP;
        # QEMU's QMP is up all along. The guest must go on with its loop.
        dst.connect(60)
        dst.wait_running(60)
        dst.wait_console("memtouch: pass", 60)
        return last_pass(dst.text())

    def migrate_lib():
        port = free_port()
        dst = SnapVm(lib_argv + ["--incoming", "tcp:127.0.0.1:%d" % port], work, "lib-dst")
        try:
            wait_listening(dst, port)
            append = lib_argv[-1]  # memtouch_argvs ends with --append TEXT
            r = subprocess.run([sys.executable, os.path.join(HERE, "migrate_source.py"), image,
                                initrd, append, str(1 << 30), str(port),
                                str(MIGRATE_DOWNTIME_MS), str(MIGRATE_BANDWIDTH)],
                               env=bindings_env(ctx), capture_output=True, text=True,
                               timeout=900)
            if r.returncode != 0:
                tail = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1:] or [""]
                raise RuntimeError("source exit %d: %s" % (r.returncode, tail[0][:160]))
            out = json.loads(r.stdout.strip().splitlines()[-1])
            if out.get("error"):
                raise RuntimeError("migration failed: %s" % out["error"])
            first_dst = check_destination(dst)
        finally:
            dst.stop()
        return {"total_ms": out["total_ms"], "downtime_ms": out["downtime_ms"],
                "setup_ms": out["setup_ms"], "wall_s": out["wall_s"],
                "transferred": out["bytes_sent"], "rounds": out["rounds"],
                "passes_during": out["passes_during"], "first_pass_on_destination": first_dst}

    def migrate_qemu():
        port = free_port()
        src = SnapVm(q_argv, work, "q-src")
        dst = None
        try:
            src.wait_console("memtouch: pass 3", 600)
            dst = SnapVm(q_argv + ["-incoming", "tcp:127.0.0.1:%d" % port], work, "q-dst")
            src.connect()
            src.qmp.cmd("migrate-set-parameters", params)
            wait_listening(dst, port)
            at_start = last_pass(src.text())
            t0 = time.monotonic()
            src.qmp.cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % port})
            st = wait_migrated(src.qmp, 300)
            wall = time.monotonic() - t0
            if st.get("status") != "completed":
                raise RuntimeError("migration %s: %s" % (st.get("status"), st))
            at_end = last_pass(src.text())
            first_dst = check_destination(dst)
        finally:
            if dst:
                dst.stop()
            src.stop()
        ram = st.get("ram", {})
        return {"total_ms": st.get("total-time"), "downtime_ms": st.get("downtime"),
                "setup_ms": st.get("setup-time"), "wall_s": wall,
                "transferred": ram.get("transferred"), "rounds": ram.get("dirty-sync-count"),
                "passes_during": at_end - at_start, "first_pass_on_destination": first_dst}

    def migrate(side):
        return migrate_lib() if side == "lib" else migrate_qemu()

    try:
        for _ in range(reps):
            for side in ("lib", "q"):
                if side in errors:
                    continue
                try:
                    runs[side].append(migrate(side))
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    errors[side] = "%s: %s" % (type(e).__name__, e)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["runs"] = runs
    res["errors"] = errors
    res["loadavg"] = [load_before, os.getloadavg()[0]]

    def med(side, key):
        vals = [r[key] for r in runs[side] if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    def pair(key):
        if not runs["lib"] or len(runs["lib"]) != len(runs["q"]):
            return None
        vals = [a[key] / b[key] for a, b in zip(runs["lib"], runs["q"])
                if a.get(key) is not None and b.get(key)]
        return statistics.median(vals) if vals else None

    def ms(v):
        return "%.0f ms" % v if v is not None else "-"

    rows = []
    lt, qt = med("lib", "total_ms"), med("q", "total_ms")
    ld, qd = med("lib", "downtime_ms"), med("q", "downtime_ms")
    tr = pair("total_ms")
    dr = pair("downtime_ms")
    rows.append(["total time (query-migrate total-time)", ms(lt), ms(qt),
                 "%.2f" % tr if tr is not None else "-", "lower is better"])
    rows.append(["downtime (query-migrate downtime)", ms(ld), ms(qd),
                 "%.2f" % dr if dr is not None else "-",
                 "target <= %d ms and below QEMU's: %s" % (
                     MIGRATE_DOWNTIME_MS, verdict(ld is not None and qd is not None and
                                                  ld <= MIGRATE_DOWNTIME_MS and ld < qd)
                     if ld is not None else "-")])
    lx, qx = med("lib", "transferred"), med("q", "transferred")
    rows.append(["RAM sent, MiB", "%.0f" % (lx / 2**20) if lx else "-",
                 "%.0f" % (qx / 2**20) if qx else "-", ratio(lx, qx), ""])
    lr_, qr_ = med("lib", "rounds"), med("q", "rounds")
    rows.append(["dirty-page rounds (libvmm rounds, QEMU dirty-sync-count)",
                 "%s" % lr_, "%s" % qr_, "", ""])
    rows.append(["guest rewrite passes (64 MiB each) during the migration",
                 "%s" % med("lib", "passes_during"), "%s" % med("q", "passes_during"), "",
                 "the workload kept running"])
    for side, err in sorted(errors.items()):
        rows.append(["ERROR " + ("libvmm" if side == "lib" else "QEMU"), "", "", "", err[:160]])
    res["medians"] = {"lib_total_ms": lt, "q_total_ms": qt, "lib_downtime_ms": ld,
                      "q_downtime_ms": qd, "total_ratio": tr, "downtime_ratio": dr}
    notes = [
        "guest: riscv64 Linux + initramfs, %s RAM, 1 vCPU, run:memtouch with %d MiB filled, "
        "then rewriting %d MiB in place in a loop (dd, alternating sources); migrated after "
        "its third pass" % (BIG_MEM, TOUCH_MIB, REWRITE_MIB),
        "libvmm: source bench/migrate_source.py (Python bindings, vm.migrate, the call vmmctl "
        "--qmp makes underneath) -> "
        "vmmctl run --engine soft ... --incoming tcp:127.0.0.1:PORT; QEMU: qemu-system-riscv64 "
        "-M virt -bios default (TCG) --qmp -> ... -incoming tcp:...; loopback, this host",
        "both asked the same: downtime limit %d ms, max bandwidth %d MiB/s (QEMU: "
        "migrate-set-parameters); figures are each VMM's own (vmm_vm_migrate_stats, "
        "query-migrate): total from start to completion, downtime from the source's pause to "
        "the end of the stream" % (MIGRATE_DOWNTIME_MS, MIGRATE_BANDWIDTH >> 20),
        "after each migration the destination must run on and print its next pass "
        "(checked, not timed)",
        "%d rounds, libvmm and QEMU interleaved; medians, ratios are medians of run-by-run "
        "ratios" % reps,
        "host load average (1 min) before / after: %.1f / %.1f on %d CPUs"
        % (load_before, os.getloadavg()[0], os.cpu_count()),
    ]
    print_table("9. soft engine: live migration, 1 GiB guest rewriting %d MiB, libvmm vs QEMU"
                % REWRITE_MIB, ["what", "libvmm", "QEMU", "libvmm/QEMU", "target / note"],
                rows, notes)


BENCHES["snapshot-1g"] = bench_snapshot_1g
BENCHES["migrate"] = bench_migrate
GROUPS["soft"] += ["snapshot-1g", "migrate"]
ALL += ["snapshot-1g", "migrate"]

# ---------------------------------------------------------------- 10. sched
# The vCPU scheduler: how much guest speed multiplexing 8 vCPUs on a worker
# costs against one vCPU per worker, beside QEMU's multi-threaded TCG with
# the same vCPU counts on the same host CPUs, and how fast a vCPU in WFI
# wakes after an IPI while other VMs keep the workers busy.

SCHED_SECONDS = 2.0


def sched_guest(ctx):
    return os.path.join(ctx.build, "tests", "guest", "core", "sched-riscv.elf")


def qmp_words(qmp, addr, n):
    """n 64-bit words of guest-physical memory, through HMP's xp."""
    out = qmp.cmd("human-monitor-command", {"command-line": "xp /%dgx 0x%x" % (n, addr)})
    words = []
    for line in out.splitlines():
        if ":" in line:
            words += [int(w, 16) for w in line.split(":", 1)[1].split()]
    return words[:n]


class QemuSched:
    """A QEMU riscv64 virt machine (MTTCG) running the scheduler guest,
    pinned to the host CPUs the libvmm pool uses, with a QMP socket."""

    def __init__(self, ctx, work, tag, smp, cpus, mode=0):
        self.qmp_path = os.path.join(work, tag + ".qmp")
        argv = ["taskset", "-c", cpus, "qemu-system-riscv64", "-M", "virt", "-m", "64M",
                "-bios", "none", "-accel", "tcg,thread=multi", "-smp", str(smp)] + QEMU_QUIET
        argv += ["-qmp", "unix:%s,server=on,wait=off" % self.qmp_path, "-kernel", sched_guest(ctx)]
        if mode:
            argv += ["-device", "loader,addr=0x80200000,data=%d,data-len=8" % mode]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.qmp = QmpClient(self.qmp_path)

    def close(self):
        try:
            self.qmp.close()
        except OSError:
            pass
        self.proc.kill()
        self.proc.wait()


def qemu_rate(ctx, work, smp, cpus):
    vm = QemuSched(ctx, work, "rate%d" % smp, smp, cpus)
    try:
        time.sleep(0.5)
        c0, t0 = sum(qmp_words(vm.qmp, 0x80100000, smp)), time.monotonic()
        time.sleep(SCHED_SECONDS)
        c1, t1 = sum(qmp_words(vm.qmp, 0x80100000, smp)), time.monotonic()
    finally:
        vm.close()
    return (c1 - c0) * 4 / (t1 - t0) / 1e6


def qemu_ipi(ctx, work, load, cpus):
    vms = []
    try:
        for i in range(load):
            vms.append(QemuSched(ctx, work, "load%d" % i, 1, cpus))
        ipi = QemuSched(ctx, work, "ipi", 2, cpus, mode=3)
        vms.append(ipi)
        deadline = time.monotonic() + 60
        while qmp_words(ipi.qmp, 0x80200008, 1)[0] < 200:
            if time.monotonic() > deadline:
                raise RuntimeError("QEMU: fewer than 200 IPIs in 60 s")
            time.sleep(0.05)
        return [w / 10.0 for w in qmp_words(ipi.qmp, 0x80300000, 200)]
    finally:
        for v in vms:
            v.close()


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]


def bench_sched(ctx):
    """10. the vCPU scheduler: overcommit cost and IPI wake-up latency."""
    import tempfile
    res = {}
    ctx.results["sched"] = res
    guest, prog = sched_guest(ctx), ctx.prog("sched_bench")
    missing = ctx.missing(guest, prog)
    if missing:
        print("\n== 10. sched: skipped (not built: %s)" % ", ".join(missing))
        res["skipped"] = "not built"
        return
    workers = min(2, os.cpu_count() or 1)
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:workers])
    runs = 3 if ctx.quick else 5
    have_qemu = shutil.which("qemu-system-riscv64") and shutil.which("taskset")
    series = {"lib1": [], "lib8": [], "q1": [], "q8": []}
    with tempfile.TemporaryDirectory() as work:
        for _ in range(runs):  # interleaved: the host's load drifts
            for key, n in (("lib1", workers), ("lib8", 8 * workers)):
                out, err, _ = run_json([prog, "rate", guest, str(workers), str(n),
                                        str(SCHED_SECONDS)], timeout=60)
                if out:
                    series[key].append(out["mips_counter"])
            if have_qemu:
                for key, n in (("q1", workers), ("q8", 8 * workers)):
                    try:
                        series[key].append(qemu_rate(ctx, work, n, cpus))
                    except Exception as e:  # noqa: BLE001 - reported in the table
                        res.setdefault("qemu_errors", []).append(str(e))
        ipi_lib, err, _ = run_json([prog, "ipi", guest, str(workers), "3"], timeout=120)
        ipi_q = None
        if have_qemu:
            try:
                ipi_q = qemu_ipi(ctx, work, 3, cpus)
            except Exception as e:  # noqa: BLE001
                res.setdefault("qemu_errors", []).append(str(e))
    res["series_mips"] = series
    med = {k: (statistics.median(v) if v else None) for k, v in series.items()}
    rows, notes = [], []

    def loss(a, b):
        return None if not (a and b) else (1 - b / a) * 100

    def paired(a, b):
        # Each round ran both back to back: the median of the rounds' own
        # losses is less at the mercy of the host's drifting load.
        pairs = [(1 - y / x) * 100 for x, y in zip(series[a], series[b]) if x and y]
        return statistics.median(pairs) if pairs else None

    lib_loss, q_loss = paired("lib1", "lib8"), paired("q1", "q8")
    for label, key, base in (("libvmm, 1 vCPU per worker (%d on %d)" % (workers, workers),
                              "lib1", None),
                             ("libvmm, 8 vCPUs per worker (%d on %d)" % (8 * workers, workers),
                              "lib8", "lib1"),
                             ("QEMU MTTCG -smp %d on %d CPUs" % (workers, workers), "q1", None),
                             ("QEMU MTTCG -smp %d on %d CPUs" % (8 * workers, workers), "q8",
                              "q1")):
        v = med[key]
        rows.append([label, fmt(v, "MIPS") if v else "FAILED",
                     ("%.1f %% (paired %.1f %%)" % (loss(med[base], v),
                                                    paired(base, key) or 0.0))
                     if base and v and med[base] else "",
                     ratio(v, med[{"lib1": "q1", "lib8": "q8"}.get(key, key)]) if v else "",
                     "%d runs: %s" % (len(series[key]),
                                      " ".join("%.0f" % x for x in series[key]))])
    res["libvmm_loss_pct"], res["qemu_loss_pct"] = lib_loss, q_loss
    if lib_loss is not None:
        met = lib_loss <= 3.0
        res["target_met"] = met
        notes.append("target: at most 3 %% loss from 1 to 8 vCPUs per worker: %s (%.1f %%, the "
                     "median of each round's own loss; QEMU's: %s)"
                     % (verdict(met), lib_loss,
                        "%.1f %%" % q_loss if q_loss is not None else "-"))
    for label, samples in (("libvmm", ipi_lib["samples_us"] if ipi_lib else None),
                           ("QEMU MTTCG", ipi_q)):
        if samples:
            res["ipi_" + label.split()[0].lower()] = {
                "median_us": statistics.median(samples), "p99_us": percentile(samples, 0.99),
                "max_us": max(samples)}
            rows.append(["IPI -> WFI wake-up under load: %s" % label,
                         "median %.1f us" % statistics.median(samples),
                         "p99 %.1f us" % percentile(samples, 0.99), "",
                         "max %.1f us, 200 IPIs" % max(samples)])
        else:
            rows.append(["IPI -> WFI wake-up under load: %s" % label, "FAILED", "", "",
                         err or "; ".join(res.get("qemu_errors", [])[-1:])])
    notes.append("rate = 4 x (increments of the harts' counters) / wall time: every hart of "
                 "tests/guest/core/sched-riscv.S spins on ld/addi/sd/j; libvmm: one VM on a "
                 "pool of %d workers (sched_bench, in process); QEMU: one process, "
                 "-accel tcg,thread=multi, taskset -c %s; %.0f s each after 0.5 s, interleaved"
                 % (workers, cpus, SCHED_SECONDS))
    notes.append("wake-up: guest mtime from hart 0's CLINT IPI to hart 1 running after its WFI, "
                 "while 3 other 1-vCPU VMs spin (libvmm: same pool; QEMU: 3 more processes on the "
                 "same CPUs); the host's own load adds to both")
    print_table("10. vCPU scheduler: %d host CPUs, 1 vs 8 vCPUs per worker, libvmm vs QEMU "
                "MTTCG" % workers, ["what", "rate", "loss", "libvmm/QEMU", "note"], rows, notes)


BENCHES["sched"] = bench_sched
GROUPS["soft"].append("sched")
ALL.append("sched")
# ---------------------------------------------------------------- 11. memory


def bench_memory(ctx):
    """11. memory overcommit: bench/memory.py (an idle 4 GiB guest on both
    engines; 10 idle 1 GiB guests with and without free page reporting,
    libvmm vs QEMU, each with a virtio-balloon), in a process of its own."""
    out = os.path.join(ctx.bench_dir, "memory.json")
    argv = [sys.executable, os.path.join(HERE, "memory.py"), "--build", ctx.build, "--out", out]
    argv += ["--quick"] if ctx.quick else ["--runs", str(min(ctx.runs, 3))]
    r = subprocess.run(argv, timeout=7200)
    try:
        with open(out) as f:
            ctx.results["memory"] = json.load(f)
    except (OSError, ValueError):
        ctx.results["memory"] = {"error": "bench/memory.py exited %d" % r.returncode}


BENCHES["memory"] = bench_memory
GROUPS["soft"].append("memory")
ALL.append("memory")


# ---------------------------------------------------------------- main


def host_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    kvm_mods = []
    try:
        kvm_mods = sorted(m for m in os.listdir("/sys/module") if m.startswith("kvm"))
    except OSError:
        pass
    qemu = "?"
    try:
        qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
            "kvm_modules": kvm_mods, "qemu": qemu, "python": platform.python_version()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="WHAT: all, kvm (%s), soft (%s), or names"
                                 % (" ".join(GROUPS["kvm"]), " ".join(GROUPS["soft"])))
    ap.add_argument("what", nargs="*", default=["all"])
    ap.add_argument("--build", default=os.environ.get("MESON_BUILD_ROOT",
                                                       os.path.join(ROOT, "build")),
                    help="meson build directory (default: ./build or $MESON_BUILD_ROOT)")
    ap.add_argument("--runs", type=int, default=10,
                    help="counted runs per whole-process command (default 10, after 1 warm-up)")
    ap.add_argument("--out", help="JSON results file (default BUILD/bench/results.json)")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = ap.parse_args()
    if args.runs < 1 or args.runs > 1000:
        ap.error("--runs must be 1..1000")
    if args.quick:
        args.runs = min(args.runs, 3)
    selected = []
    for w in args.what:
        names = ALL if w == "all" else GROUPS.get(w, [w])
        for n in names:
            if n not in BENCHES:
                ap.error("unknown benchmark '%s' (all, kvm, soft, %s)" % (n, ", ".join(ALL)))
            if n not in selected:
                selected.append(n)
    ctx = Ctx(args)
    if not os.path.isdir(ctx.bench_dir):
        sys.exit("bench: %s has no bench/ directory: run `meson setup %s -Dbench=true` and "
                 "`ninja -C %s` first" % (ctx.build, ctx.build, ctx.build))
    info = host_info()
    print("libvmm benchmarks, %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    print("host: %s, %d CPUs, Linux %s, %s; %s" % (info["cpu"], info["cpus"], info["kernel"],
                                                   ",".join(info["kvm_modules"]) or "no kvm",
                                                   info["qemu"]))
    print("build: %s; whole-process figures: 1 warm-up + up to %d runs, median and min"
          % (ctx.build, args.runs))
    for n in selected:
        try:
            BENCHES[n](ctx)
        except Exception as e:  # one broken benchmark must not hide the others
            print("\n== %s: ERROR %s: %s" % (n, type(e).__name__, e))
            ctx.results[n] = {"error": "%s: %s" % (type(e).__name__, e)}
    out = args.out or os.path.join(ctx.bench_dir, "results.json")
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "host": info,
           "runs": args.runs, "benchmarks": ctx.results}
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print("\nresults: %s" % out)


if __name__ == "__main__":
    main()
