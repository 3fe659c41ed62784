"""Snapshots and live migration through the bindings, on the soft engine
with the echo guest from tests/guest/core ($VMM_TEST_GUEST): the guest counts
at COUNTER and echoes console input upper-cased, so a restored or migrated
guest shows both that its memory came along (the count goes on from where
it was) and that its devices work (the echo)."""

import os
import socket
import struct
import subprocess
import sys
import tempfile
import unittest

import vmm

GUEST = os.environ.get("VMM_TEST_GUEST", "")
COUNTER = 0x80100000
MEMORY = 64 << 20


def count(vm):
    return struct.unpack("<Q", vm.read_phys(COUNTER, 8))[0]


def config():
    return vmm.Config(kernel=GUEST, memory=MEMORY)


class GuestTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(GUEST):
            self.skipTest(f"guest {GUEST!r} not built")
        self.host = vmm.Host()
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        if hasattr(self, "host"):
            self.host.close()
            self.dir.cleanup()

    def boot(self):
        cfg = config()
        vm = self.host.create_vm(cfg)
        cfg.close()
        out = bytearray()
        vm.on_console = out.extend
        vm.start()
        self.assertTrue(vm.wait_for(lambda: b"ready\n" in out, 20))
        self.assertTrue(vm.wait_for(lambda: count(vm) > 0, 20))
        return vm

    def assert_alive(self, vm, after):
        """vm runs the guest on from `after` and still echoes."""
        out = bytearray()
        vm.on_console = out.extend
        vm.start()
        self.assertTrue(vm.wait_for(lambda: count(vm) > after, 20))
        vm.console_write("snap")
        self.assertTrue(vm.wait_for(lambda: b"SNAP" in out, 20), out)

class SnapshotTest(GuestTest):
    def test_save_restore_continues_the_guest(self):
        vm = self.boot()
        path = os.path.join(self.dir.name, "vm.snap")
        vm.save(path)
        self.assertEqual(vm.state, vmm.State.RUNNING)  # saved without stopping
        vm.pause()
        at_pause = count(vm)
        vm.destroy()
        for mapped in (False, True):
            with self.subTest(map=mapped):
                expect = config()
                back = self.host.restore(path, expect=expect, map=mapped)
                expect.close()
                self.assertEqual(back.state, vmm.State.DEFINED)
                saved = count(back)
                self.assertGreater(saved, 0)
                self.assertLessEqual(saved, at_pause)
                self.assert_alive(back, saved)
                back.destroy()

    def test_save_stop(self):
        vm = self.boot()
        path = os.path.join(self.dir.name, "stop.snap")
        vm.save(path, stop=True)
        self.assertEqual(vm.state, vmm.State.SHUTOFF)
        self.assertTrue(os.path.getsize(path) > 0)

    def test_bad_files_are_refused_by_name(self):
        missing = os.path.join(self.dir.name, "nothing.snap")
        with self.assertRaises(vmm.Error) as ctx:
            self.host.restore(missing)
        self.assertIn("nothing.snap", str(ctx.exception))
        vm = self.boot()
        path = os.path.join(self.dir.name, "vm.snap")
        vm.save(path)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size // 2)
        with self.assertRaises(vmm.Error) as ctx:
            self.host.restore(path)
        self.assertTrue(str(ctx.exception))
        with open(path, "r+b") as f:
            f.seek(0)
            f.write(b"NOTASNAP")
        with self.assertRaises(vmm.Error):
            self.host.restore(path)
        other = vmm.Config(kernel=GUEST, memory=MEMORY * 2)
        vm.save(path)
        with self.assertRaises(vmm.Error) as ctx:
            self.host.restore(path, expect=other)
        other.close()
        self.assertIn("memory", str(ctx.exception).lower())
        self.assertEqual(vm.state, vmm.State.RUNNING)  # none of this touched the source


# The destination, in a process of its own (as in a real migration): takes
# the stream from fd argv[1], continues the guest, checks it counts on and
# echoes, and says so.
DEST = r"""
import struct, sys, vmm
fd, guest = int(sys.argv[1]), sys.argv[2]
with vmm.Host() as host:
    expect = vmm.Config(kernel=guest, memory=%d)
    vm = host.incoming(fd, expect=expect)
    expect.close()
    first = struct.unpack("<Q", vm.read_phys(%d, 8))[0]
    out = bytearray()
    vm.on_console = out.extend
    vm.start()
    vm.console_write("hop")  # "e" and "q" are the guest's exit commands
    ok = vm.wait_for(lambda: b"HOP" in out and
                     struct.unpack("<Q", vm.read_phys(%d, 8))[0] > first, 20)
    print("dest", "ok" if ok else "stuck", first, vm.state, bytes(out), flush=True)
    vm.stop()
""" % (MEMORY, COUNTER, COUNTER)


class MigrateTest(GuestTest):
    def test_live_migration_to_another_process(self):
        vm = self.boot()
        src, dst = socket.socketpair()
        child = subprocess.Popen([sys.executable, "-c", DEST, str(dst.fileno()), GUEST],
                                 pass_fds=[dst.fileno()], stdout=subprocess.PIPE, text=True)
        dst.close()
        ended = []
        vm.migrate(src.fileno(), downtime_limit_ms=100,
                   callback=lambda _vm, err: ended.append(err))
        self.assertEqual(vm.migrate_stats().status, vmm.MigrateStatus.ACTIVE)
        self.assertTrue(self.host.wait_for(lambda: ended, 60), "the migration did not end")
        self.assertIsNone(ended[0])
        stats = vm.migrate_stats()
        self.assertEqual(stats.status, vmm.MigrateStatus.COMPLETED)
        self.assertGreaterEqual(stats.ram_transferred, 4096)
        self.assertGreaterEqual(stats.bytes_sent, stats.ram_transferred)
        self.assertEqual(vm.state, vmm.State.SHUTOFF)
        self.assertIn("migrated", vm.outcome.reason)
        out, _ = child.communicate(timeout=60)
        src.close()
        self.assertEqual(child.returncode, 0, out)
        self.assertTrue(out.startswith("dest ok "), out)
        self.assertGreater(int(out.split()[2]), 0)

    def test_cancel_keeps_the_vm_running(self):
        vm = self.boot()
        src, dst = socket.socketpair()
        dst.close()  # nobody reads: the stream fails, or we cancel first
        ended = []
        vm.migrate_set(max_bandwidth=1 << 20)
        vm.migrate(src.fileno(), callback=lambda _vm, err: ended.append(err))
        try:
            vm.migrate_cancel()
        except vmm.Error:
            pass  # it may have failed already
        self.assertTrue(self.host.wait_for(lambda: ended, 30))
        self.assertIsInstance(ended[0], vmm.Error)
        self.assertIn(vm.migrate_stats().status,
                      (vmm.MigrateStatus.CANCELLED, vmm.MigrateStatus.FAILED))
        self.assertEqual(vm.state, vmm.State.RUNNING)
        before = count(vm)
        self.assertTrue(vm.wait_for(lambda: count(vm) > before, 20))
        src.close()


if __name__ == "__main__":
    unittest.main()
