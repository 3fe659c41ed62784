"""Memory overcommit end to end: riscv64 Linux on the soft engine with a
virtio-balloon, driven through the bindings, running
tests/guest/linux/tests/balloon.sh:

  - the guest touches nearly all its free memory (~200 MiB) with memhog and
    frees it: the VM's committed guest RAM (touched) grows by as much;
  - the host inflates the balloon by 200 MiB: touched drops by >= 190 MiB
    (the pages went back to the host by hole punching), the guest sees
    MemTotal shrink by 200 MiB;
  - the guest's statistics arrive and agree with its /proc/meminfo;
  - the host deflates the balloon: the guest's MemTotal comes back and it
    can touch that memory again;
  - during that second hog the host shrinks its memory pool below what the
    guest is taking: the VM is paused with a POOL_EXHAUSTED memory event;
    the host lifts the limit, resumes it, and the guest finishes.

Skipped without the guest images ($LIBVMM_CACHE/riscv, scripts/guest/all.sh),
a failure under CI=true."""

import os
import re
import tempfile
import unittest

import vmm

CACHE = os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))
IMAGE, INITRD = f"{CACHE}/riscv/Image", f"{CACHE}/riscv/initramfs.cpio.gz"
GUEST = os.environ.get("VMM_TEST_GUEST", "")          # tests/guest/core echo, riscv64
GUEST_X86 = os.environ.get("VMM_TEST_GUEST_X86", "")  # the same for x86 (kvm)
# tests/guest/hostile/balloon-guest.c, a bare-metal balloon driver
BALLOON_GUEST_RISCV = os.environ.get("VMM_TEST_BALLOON_GUEST_RISCV", "")
BALLOON_GUEST_X86 = os.environ.get("VMM_TEST_BALLOON_GUEST_X86", "")
MiB = 1 << 20
GUEST_RAM = 256 * MiB
BALLOON = 200 * MiB


def initramfs_has(path, *names):
    import gzip
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return all(name.encode() + b"\0" in data for name in names)


def skip_or_fail(test, why):
    if os.environ.get("CI") == "true":
        test.fail(f"CI=true, must run: {why}")
    test.skipTest(why)


class Console:
    """The guest's console as text, with the lines seen so far."""

    def __init__(self):
        self.text = ""

    def feed(self, data):
        self.text += data.decode(errors="replace")

    def line(self, pattern):
        m = re.search(pattern, self.text)
        return m


class BalloonLinuxTest(unittest.TestCase):
    def setUp(self):
        if not (os.path.isfile(IMAGE) and os.path.isfile(INITRD)):
            skip_or_fail(self, f"no riscv64 Linux in {CACHE}/riscv (scripts/guest/all.sh)")
        if not initramfs_has(INITRD, "tests/balloon.sh", "bin/memhog"):
            skip_or_fail(self, f"{INITRD} predates balloon.sh (rebuild: scripts/guest/all.sh)")

    def wait_line(self, host, console, pattern, timeout=240):
        ok = host.wait_for(lambda: console.line(pattern) or "FAIL" in console.text, timeout)
        self.assertNotIn("FAIL", console.text, console.text[-2000:])
        self.assertTrue(ok, f"no console line /{pattern}/ in {timeout} s:\n{console.text[-2000:]}")
        return console.line(pattern)

    def test_inflate_deflate_stats_and_pool_exhaustion(self):
        console = Console()
        memory_events = []
        # The pool: 4x overcommitted so it can later be shrunk below what
        # the VM was admitted with.
        with vmm.Host(overcommit=4.0) as host, \
                vmm.Config(engine="soft", kernel=IMAGE, initrd=INITRD, memory=GUEST_RAM,
                           cmdline="console=ttyS0 libvmm.test=run:balloon") as cfg:
            cfg.set_balloon(stats_period=1)
            vm = host.create_vm(cfg)
            vm.on_console = console.feed
            vm.on_memory = lambda what, info: memory_events.append((what, info))
            sock = os.path.join(tempfile.mkdtemp(prefix="balloon-qmp-"), "qmp.sock")
            ctl = vm.control_listen("unix:" + sock)
            vm.start()
            qmp = vmm.QMPClient(sock, pump=host.poll, timeout=60)

            self.wait_line(host, console, r"balloon: ok driver bound")
            before = vm.memory_stats()
            self.assertEqual(before.configured, GUEST_RAM)
            self.assertTrue(before.has_balloon)
            idle = self.wait_line(host, console, r"balloon: idle total=(\d+) free=(\d+)")
            guest_total, guest_free = int(idle.group(1)) * 1024, int(idle.group(2)) * 1024
            touched_hog = vm.memory_stats().touched
            hog = int(self.wait_line(host, console, r"hog=(\d+)").group(1))
            print(f"\nguest hogged {hog} MiB: touched {before.touched / MiB:.1f} -> "
                  f"{touched_hog / MiB:.1f} MiB")
            self.assertGreater(touched_hog, before.touched + (hog - 10) * MiB)

            # Statistics: fresh ones on request, matching /proc/meminfo.
            updates = vm.memory_stats().stats_updates
            vm.balloon_request_stats()
            self.assertTrue(host.wait_for(lambda: vm.memory_stats().stats_updates > updates, 30),
                            "no statistics report after balloon_request_stats()")
            s = vm.memory_stats()
            print(f"guest stats: total {s.total / MiB:.1f} MiB (meminfo {guest_total / MiB:.1f}),"
                  f" free {s.free / MiB:.1f} MiB (meminfo {guest_free / MiB:.1f})")
            self.assertEqual(s.total, guest_total)
            self.assertLess(abs(s.free - guest_free), 16 * MiB)
            self.assertNotEqual(s.available, vmm.UNSET)
            self.assertTrue(any(w == vmm.MemoryEvent.STATS for w, _ in memory_events))

            # Inflate by 200 MiB.
            vm.set_balloon_target(GUEST_RAM - BALLOON)
            self.assertEqual(vm.balloon_target, GUEST_RAM - BALLOON)
            self.assertTrue(host.wait_for(lambda: vm.memory_stats().ballooned == BALLOON, 240),
                            f"balloon never reached {BALLOON} bytes: {vm.memory_stats().as_dict()}")
            self.wait_line(host, console, r"balloon: ok inflated")
            inflated = vm.memory_stats()
            drop = touched_hog - inflated.touched
            print(f"inflated 200 MiB: touched {touched_hog / MiB:.1f} -> "
                  f"{inflated.touched / MiB:.1f} MiB (drop {drop / MiB:.1f} MiB), resident "
                  f"{inflated.resident / MiB:.1f} MiB")
            self.assertGreaterEqual(drop, 190 * MiB)
            self.assertGreaterEqual(inflated.inflated, BALLOON)
            self.assertEqual(inflated.balloon_errors, 0)
            self.assertTrue(any(w == vmm.MemoryEvent.BALLOON and i["ballooned"] == BALLOON
                                for w, i in memory_events))
            self.assertEqual(qmp.execute("query-balloon"), {"actual": GUEST_RAM - BALLOON})
            while qmp.wait_event("BALLOON_CHANGE")["data"]["actual"] != GUEST_RAM - BALLOON:
                pass
            q = qmp.execute("x-query-memory-stats")
            self.assertEqual(q["balloon"]["actual"], GUEST_RAM - BALLOON)
            self.assertLessEqual(q["stats"]["stat-total-memory"], s.total)  # shrinking
            self.assertLess(abs(q["touched"] - vm.memory_stats().touched), MiB)  # the guest runs
            for bad, why in ((0, "above 0"), (GUEST_RAM + 4096, "above VM"), (4096, "minimum")):
                with self.assertRaises(vmm.QMPError) as e:
                    qmp.execute("balloon", {"value": bad})
                self.assertIn(why, e.exception.desc)

            # Deflate (through QMP); the guest hogs again, and the pool runs
            # out under it.
            self.assertEqual(qmp.execute("balloon", {"value": GUEST_RAM}), {})
            while qmp.wait_event("BALLOON_CHANGE")["data"]["actual"] != GUEST_RAM:
                pass
            self.assertTrue(host.wait_for(lambda: vm.memory_stats().ballooned == 0, 240))
            self.wait_line(host, console, r"balloon: ok deflated")
            self.assertGreaterEqual(vm.memory_stats().deflated, BALLOON)
            self.wait_line(host, console, r"balloon: hog again")
            now = host.memory_touched
            host.memory_limit = now + 64 * MiB
            paused = lambda: any(w == vmm.MemoryEvent.POOL_EXHAUSTED for w, _ in memory_events)
            self.assertTrue(host.wait_for(paused, 240),
                            f"never paused: touched {host.memory_touched / MiB:.1f} MiB")
            info = next(i for w, i in memory_events if w == vmm.MemoryEvent.POOL_EXHAUSTED)
            print(f"paused: pool touched {info['pool_touched'] / MiB:.1f} MiB above its limit "
                  f"{info['limit'] / MiB:.1f} MiB")
            self.assertEqual(vm.state, vmm.State.PAUSED)
            self.assertGreater(info["pool_touched"], info["limit"])
            self.assertEqual(info["limit"], now + 64 * MiB)
            self.assertNotIn("after deflation", console.text)
            ev = qmp.wait_event("MEMORY_POOL_EXHAUSTED")["data"]
            self.assertEqual(ev["limit"], now + 64 * MiB)
            self.assertEqual(qmp.execute("query-status")["status"], "paused")
            host.memory_limit = 0  # the host's physical memory again
            vm.resume()
            self.wait_line(host, console, r"balloon: ok touched \d+ MiB after deflation")
            qmp.close()
            ctl.close()
            out = vm.wait(timeout=120)
            self.assertIn(out.kind, (vmm.OutcomeKind.POWEROFF, vmm.OutcomeKind.DEBUG_EXIT), out)
            self.assertEqual(out.exit_code, 0, console.text[-2000:])


    def test_deflate_on_oom_gives_memory_back_instead_of_killing(self):
        if not initramfs_has(INITRD, "tests/balloonoom.sh"):
            skip_or_fail(self, f"{INITRD} predates balloonoom.sh (rebuild: scripts/guest/all.sh)")
        console = Console()
        events = []
        with vmm.Host() as host, \
                vmm.Config(engine="soft", kernel=IMAGE, initrd=INITRD, memory=GUEST_RAM,
                           current_memory=64 * MiB,
                           cmdline="console=ttyS0 libvmm.test=run:balloonoom") as cfg:
            cfg.set_balloon(deflate_on_oom=True)
            vm = host.create_vm(cfg)
            vm.on_console = console.feed
            vm.on_memory = lambda what, info: events.append((what, info))
            vm.start()
            self.assertEqual(vm.balloon_target, 64 * MiB)
            self.wait_line(host, console, r"oom: inflated")
            held = vm.memory_stats().ballooned
            self.assertGreater(held, 100 * MiB)
            self.wait_line(host, console, r"oom: ok touched")
            out = vm.wait(timeout=120)
            self.assertEqual(out.exit_code, 0, console.text[-2000:])
            s = vm.memory_stats()
            print(f"\nballoon held {held / MiB:.0f} MiB; deflated {s.deflated / MiB:.0f} MiB on OOM")
            self.assertGreater(s.deflated, 0)
            self.assertNotIn("Killed process", console.text)

    def test_free_page_reporting_returns_what_the_guest_freed(self):
        if not initramfs_has(INITRD, "tests/memidle.sh"):
            skip_or_fail(self, f"{INITRD} predates memidle.sh (rebuild: scripts/guest/all.sh)")
        console = Console()
        with vmm.Host() as host, \
                vmm.Config(engine="soft", kernel=IMAGE, initrd=INITRD, memory=GUEST_RAM,
                           cmdline="console=ttyS0 libvmm.test=run:memidle memidle.mib=160") as cfg:
            cfg.set_balloon(free_page_reporting=True)
            vm = host.create_vm(cfg)
            vm.on_console = console.feed
            vm.start()
            self.wait_line(host, console, r"memhog: touched 160 MiB")
            peak = vm.memory_stats().touched
            self.wait_line(host, console, r"memidle: idle")
            # Linux reports free blocks of 2 MiB and more, 2 s after they
            # gather; no balloon target was set.
            # (two readings: the RAM's resident pages and the device's
            # count, which follows each buffer's discard)
            ok = host.wait_for(lambda: vm.memory_stats().touched < peak - 128 * MiB
                               and vm.memory_stats().reported >= 128 * MiB, 60)
            s = vm.memory_stats()
            print(f"\nfree page reporting: touched {peak / MiB:.1f} -> {s.touched / MiB:.1f} MiB,"
                  f" {s.reported / MiB:.0f} MiB reported")
            self.assertTrue(ok, f"touched {s.touched / MiB:.1f} MiB, "
                                f"reported {s.reported / MiB:.0f} MiB after 60 s")
            self.assertGreaterEqual(s.reported, 128 * MiB)
            self.assertEqual(s.ballooned, 0)
            self.assertEqual(s.balloon_errors, 0)
            vm.stop()


def require_kvm(test):
    """As test_vmm.require_kvm: skip without /dev/kvm, fail under CI=true
    when it is there but does not open."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
    except FileNotFoundError as e:
        test.skipTest(f"/dev/kvm: {e.strerror} \u2014 kvm tests skipped")
    except OSError as e:
        why = f"/dev/kvm: {e.strerror} (exists but does not open read-write)"
        if os.environ.get("CI") == "true":
            test.fail(f"CI=true, must run: {why}")
        test.skipTest(why)


class MemoryApiTest(unittest.TestCase):
    """Per-VM memory figures and limits on a small bare-metal guest (the
    echo guest of tests/guest/core), on both engines."""

    def boot(self, host, engine, guest, balloon=False, memory=64 * MiB):
        if not os.path.exists(guest):
            self.skipTest(f"guest {guest!r} not built")
        cfg = vmm.Config(kernel=guest, memory=memory, engine=engine)
        if balloon:
            cfg.set_balloon(stats_period=2)
        vm = host.create_vm(cfg)
        cfg.close()
        self.console = bytearray()
        vm.on_console = self.console.extend
        vm.start()
        self.assertTrue(vm.wait_for(lambda: b"ready\n" in self.console, 20))
        return vm

    def check_without_balloon(self, engine, guest, memory):
        with vmm.Host() as host:
            vm = self.boot(host, engine, guest, memory=memory)
            s = vm.memory_stats()
            self.assertEqual(s.configured, memory)
            self.assertFalse(s.has_balloon)
            # Committed only when touched: a guest that touched a few pages.
            self.assertGreater(s.touched, 0)
            self.assertLess(s.touched, 4 * MiB)
            self.assertEqual(s.free, vmm.UNSET)
            self.assertEqual(vm.balloon_target, memory)
            for call in (lambda: vm.set_balloon_target(32 * MiB), vm.balloon_request_stats):
                with self.assertRaises(vmm.Error) as e:
                    call()
                self.assertEqual(e.exception.name, "VMM_ENOTSUP")
                self.assertIn("no balloon", str(e.exception))
            with self.assertRaises(vmm.Error) as e:
                vm.set_memory_limit(4097)
            self.assertIn("4097", str(e.exception))
            self.assertEqual(host.memory_touched, s.touched)

    def check_limit_pauses(self, engine, guest):
        events = []
        with vmm.Host() as host:
            vm = self.boot(host, engine, guest)
            vm.on_memory = lambda what, info: events.append((what, info))
            vm.set_memory_limit(4096)  # below what the guest already holds
            self.assertTrue(host.wait_for(lambda: events, 10), "no memory event")
            what, info = events[0]
            self.assertEqual(what, vmm.MemoryEvent.LIMIT_REACHED)
            self.assertEqual(info["limit"], 4096)
            self.assertGreater(info["touched"], 4096)
            self.assertEqual(vm.state, vmm.State.PAUSED)
            self.assertEqual(vm.memory_stats().limit, 4096)
            vm.set_memory_limit(0)
            vm.resume()
            vm.console_write("ok")
            self.assertTrue(vm.wait_for(lambda: b"OK" in self.console, 20))
            self.assertEqual(len(events), 1)

    def test_soft_memory_stats_without_a_balloon(self):
        self.check_without_balloon("soft", GUEST, 64 * MiB)

    def test_soft_memory_limit_pauses_the_vm_with_an_event(self):
        self.check_limit_pauses("soft", GUEST)

    def test_kvm_memory_stats_without_a_balloon(self):
        require_kvm(self)
        self.check_without_balloon("kvm", GUEST_X86, 1 << 30)

    def test_kvm_memory_limit_pauses_the_vm_with_an_event(self):
        require_kvm(self)
        self.check_limit_pauses("kvm", GUEST_X86)

    def test_kvm_board_has_the_balloon_and_takes_a_target(self):
        # The x86 board places the device (virtio_slots); a bare-metal guest
        # has no driver, so the target waits in config space.
        require_kvm(self)
        with vmm.Host() as host:
            vm = self.boot(host, "kvm", GUEST_X86, balloon=True)
            s = vm.memory_stats()
            self.assertTrue(s.has_balloon)
            self.assertFalse(s.balloon_driver)
            self.assertEqual(s.ballooned, 0)
            vm.set_balloon_target(40 * MiB)
            self.assertEqual(vm.balloon_target, 40 * MiB)
            self.assertEqual(vm.memory_stats().balloon_target, 24 * MiB)
            with self.assertRaises(vmm.Error) as e:
                vm.set_balloon_target(65 * MiB)
            self.assertIn("above", str(e.exception))

    def test_a_snapshot_keeps_the_balloon_target(self):
        with vmm.Host() as host:
            vm = self.boot(host, "soft", GUEST, balloon=True)
            vm.set_balloon_target(40 * MiB)
            path = os.path.join(tempfile.mkdtemp(prefix="balloon-snap-"), "vm.snap")
            vm.save(path, stop=True)
            back = host.restore(path)
            self.assertEqual(back.balloon_target, 40 * MiB)
            self.assertTrue(back.memory_stats().has_balloon)
            self.console = bytearray()
            back.on_console = self.console.extend
            back.start()
            back.console_write("ok")
            self.assertTrue(back.wait_for(lambda: b"OK" in self.console, 20))
            os.unlink(path)


class BareMetalBalloonTest(unittest.TestCase):
    """tests/guest/hostile/balloon-guest.c drives the balloon from bare
    metal on both engines (the kvm variant: x86 Linux does not finish
    booting on kvm_pvm hosts): statistics, inflation returning exactly the
    arena's pages to the host (and the guest reading zeros there), two
    hostile PFNs refused and counted, deflation and the pages usable again."""

    ARENA = 64 * 4096

    def run_guest(self, engine, guest):
        if not guest or not os.path.exists(guest):
            self.skipTest(f"balloon guest for {engine} not built")
        console = Console()
        events = []
        with vmm.Host() as host, \
                vmm.Config(kernel=guest, memory=64 * MiB, engine=engine) as cfg:
            cfg.set_balloon()
            vm = host.create_vm(cfg)
            vm.on_console = console.feed
            vm.on_memory = lambda what, info: events.append((what, info))
            vm.start()
            wait = lambda pat: self.assertTrue(
                host.wait_for(lambda: re.search(pat, console.text) or "FAIL" in console.text, 60)
                and "FAIL" not in console.text, f"/{pat}/: {console.text}")
            wait(r"balloon-guest: touched")
            self.assertTrue(host.wait_for(lambda: vm.memory_stats().stats_updates >= 1, 10))
            s = vm.memory_stats()
            self.assertEqual(s.free, 12345 * 4096)
            self.assertEqual(s.total, 64 * MiB)
            self.assertEqual(s.available, vmm.UNSET)
            before = s.touched
            vm.set_balloon_target(64 * MiB - self.ARENA)
            wait(r"balloon-guest: inflated")
            self.assertTrue(host.wait_for(lambda: vm.memory_stats().ballooned == self.ARENA, 10))
            after = vm.memory_stats()
            print(f"\n{engine}: touched {before} -> {after.touched} bytes")
            self.assertGreaterEqual(before - after.touched, self.ARENA)
            self.assertEqual(after.inflated, self.ARENA)
            self.assertEqual(after.balloon_errors, 2)
            vm.set_balloon_target(64 * MiB)
            wait(r"balloon-guest: ok pages gone")
            wait(r"balloon-guest: PASS")
            out = vm.wait(30)
            self.assertEqual(out.exit_code, 0 if engine == "soft" else 1)  # x86: (0 << 1) | 1
            self.assertEqual(vm.memory_stats().deflated, self.ARENA)
            self.assertTrue(any(w == vmm.MemoryEvent.BALLOON and i["ballooned"] == self.ARENA
                                for w, i in events))

    def test_soft_engine(self):
        self.run_guest("soft", BALLOON_GUEST_RISCV)

    def test_kvm_engine(self):
        require_kvm(self)
        self.run_guest("kvm", BALLOON_GUEST_X86)

if __name__ == "__main__":
    unittest.main()
