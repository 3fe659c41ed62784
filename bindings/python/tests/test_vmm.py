"""The Python bindings against real guests: the echo guests from
tests/guest/core on the soft engine (path in $VMM_TEST_GUEST) and on the kvm
engine (path in $VMM_TEST_GUEST_X86; needs /dev/kvm, see require_kvm)."""

import os
import struct
import time
import unittest

import vmm

GUEST = os.environ.get("VMM_TEST_GUEST", "")
COUNTER = 0x80100000  # where the echo guest counts
GUEST_X86 = os.environ.get("VMM_TEST_GUEST_X86", "")
COUNTER_X86 = 0x300000
KVM_DEV = "/dev/kvm"


def require_kvm(test):
    """The bindings' twin of harness_need_kvm() (tests/integration/core/
    guest_harness.h): returns when /dev/kvm opens read-write. A host with no
    device node skips the test, also under CI=true (some CI hosts have no
    KVM at all); a node that is there but does not open fails the test
    under CI=true and skips it otherwise."""
    try:
        os.close(os.open(KVM_DEV, os.O_RDWR | os.O_CLOEXEC))
    except FileNotFoundError as e:
        test.skipTest(f"{KVM_DEV}: {e.strerror} \u2014 kvm tests skipped")
    except OSError as e:
        why = (f"{KVM_DEV}: {e.strerror} (the device exists but does not open "
               f"read-write as uid {os.getuid()})")
        if os.environ.get("CI") == "true":
            test.fail(f"CI=true, must run: {why}")
        test.skipTest(why)


class BindingsTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(GUEST):
            self.skipTest(f"guest {GUEST!r} not built")
        self.host = vmm.Host()
        self.console = bytearray()
        self.states = []

    def tearDown(self):
        if hasattr(self, "host"):
            self.host.close()

    def boot(self, **settings):
        cfg = vmm.Config(kernel=GUEST, memory=64 << 20, **settings)
        vm = self.host.create_vm(cfg)
        cfg.close()
        vm.on_console = self.console.extend
        vm.on_state = lambda old, new: self.states.append(new)
        vm.start()
        self.assertTrue(vm.wait_for(lambda: b"ready\n" in self.console, 20))
        return vm

    def test_console_round_trip_and_poweroff(self):
        vm = self.boot()
        self.assertEqual(vm.engine, "soft")
        vm.console_write("hi")
        self.assertTrue(vm.wait_for(lambda: b"HI" in self.console, 20))
        vm.console_write(b"q")
        outcome = vm.wait(20)
        self.assertEqual(outcome.kind, vmm.OutcomeKind.POWEROFF)
        self.assertEqual(self.states[-1], vmm.State.SHUTOFF)

    def test_pause_freezes_guest_memory(self):
        vm = self.boot()
        vm.pause()
        self.assertEqual(vm.state, vmm.State.PAUSED)
        first = struct.unpack("<Q", vm.read_phys(COUNTER, 8))[0]
        self.assertEqual(struct.unpack("<Q", vm.read_phys(COUNTER, 8))[0], first)
        vm.resume()
        self.assertTrue(vm.wait_for(
            lambda: struct.unpack("<Q", vm.read_phys(COUNTER, 8))[0] > first, 20))
        self.assertGreater(vm.vcpu_stats(0).instructions, 0)

    def test_jit_setting_picks_translator_or_interpreter(self):
        # Config(jit=False) interprets; jit=True (the default) translates
        # the guest's hot loop where the library has a translator. Same
        # guest-visible behaviour either way.
        translates = "jit" in vmm.Capabilities().features
        for jit in (False, True):
            with self.subTest(jit=jit):
                self.console.clear()
                vm = self.boot(jit=jit)
                first = struct.unpack("<Q", vm.read_phys(COUNTER, 8))[0]
                self.assertTrue(vm.wait_for(
                    lambda: struct.unpack("<Q", vm.read_phys(COUNTER, 8))[0] > first + 10000, 20))
                stats = vm.vcpu_stats(0)
                if jit and translates and os.environ.get("LIBVMM_SOFT_JIT") != "0":
                    self.assertGreater(stats.jit_blocks, 0)
                else:
                    self.assertEqual(stats.jit_blocks, 0)
                vm.console_write("ok")
                self.assertTrue(vm.wait_for(lambda: b"OK" in self.console, 20))
                vm.console_write(b"q")
                self.assertEqual(vm.wait(20).kind, vmm.OutcomeKind.POWEROFF)

    def test_guest_exit_code(self):
        vm = self.boot()
        vm.console_write("e")
        outcome = vm.wait(20)
        self.assertEqual(outcome.kind, vmm.OutcomeKind.DEBUG_EXIT)
        self.assertEqual(outcome.exit_code, 42)

    def test_errors_carry_the_library_message(self):
        with self.assertRaises(vmm.Error) as ctx:
            vmm.Config(vcpus=0)
        self.assertEqual(ctx.exception.code, -1)
        self.assertIn("vcpus 0 out of range", ctx.exception.message)
        with self.assertRaises(vmm.Error) as ctx:
            self.host.create_vm(vmm.Config(kernel="/nonexistent/kernel"))
        self.assertIn("/nonexistent/kernel", str(ctx.exception))

    def test_xml_round_trip(self):
        xml = ("<domain type='qemu'><name>py</name><memory unit='MiB'>64</memory>"
               "<vcpu>1</vcpu><os><type arch='riscv64'>hvm</type>"
               f"<kernel>{GUEST}</kernel></os></domain>")
        cfg = vmm.Config.from_xml(xml)
        out = cfg.to_xml()
        self.assertIn("<name>py</name>", out)
        self.assertIn("65536", out)
        with self.assertRaises(vmm.Error) as ctx:
            vmm.Config.from_xml("<domain type='kvm'><name>x</name>")
        self.assertIn("line", ctx.exception.message)


    def test_an_exception_in_a_callback_is_raised_from_the_next_wait(self):
        vm = self.boot()

        def broken(data):
            raise RuntimeError(f"console handler broke on {data!r}")

        vm.on_console = broken
        vm.console_write("x")
        with self.assertRaises(RuntimeError) as ctx:
            vm.wait_for(lambda: False, 20)
        self.assertIn("console handler broke", str(ctx.exception))
        vm.on_console = self.console.extend
        vm.stop()  # the VM itself is fine

    def test_pause_async_and_stop_async_call_back_from_the_loop(self):
        vm = self.boot()
        done = []
        vm.pause_async(lambda v, err: done.append(("pause", v is vm, err, v.state)))
        self.assertEqual(done, [])  # never from inside the call
        self.assertTrue(vm.wait_for(lambda: done, 20))
        self.assertEqual(done, [("pause", True, None, vmm.State.PAUSED)])
        regs = vm.vcpu_regs(0)
        self.assertNotEqual(regs.pc, 0)
        vm.stop_async(lambda v, err: done.append(("stop", err, v.state)))
        self.assertEqual(self.host.run(), 0)  # DEFAULT: until nothing is pending
        self.assertEqual(done[-1], ("stop", None, vmm.State.SHUTOFF))
        self.assertEqual(vm.outcome.kind, vmm.OutcomeKind.STOPPED)
        self.assertIsNone(vm.last_error)

    def test_a_failed_pause_is_the_vms_last_error(self):
        vm = self.boot()
        errors = []
        vm.pause_async(lambda v, err: errors.append(err))
        vm.stop()  # the run ends before the loop saw the vCPUs parked
        self.host.run()
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0].name, "VMM_ESTATE")
        self.assertEqual(vm.last_error.code, errors[0].code)
        self.assertIn("stopped before the pause completed", vm.last_error.message)

    def test_an_exception_in_a_completion_is_raised_from_run(self):
        vm = self.boot()

        def broken(v, err):
            raise ValueError("completion broke")

        vm.stop_async(broken)
        with self.assertRaises(ValueError):
            self.host.run()
        self.assertEqual(vm.state, vmm.State.SHUTOFF)

    def test_destroy_cancels_a_pending_operation(self):
        vm = self.boot()
        errors = []
        vm.pause_async(lambda v, err: errors.append(err))
        vm.destroy()
        self.assertEqual([e.name for e in errors], ["VMM_ECANCELED"])

    def test_a_vm_is_a_context_manager(self):
        with vmm.Config(kernel=GUEST, memory=64 << 20) as cfg, self.host.create_vm(cfg) as vm:
            vm.start()
            self.assertEqual(vm.state, vmm.State.RUNNING)
        with self.assertRaises(ValueError):
            vm.start()
        self.assertEqual(self.host.memory_used, 0)


class SchedulerBindingsTest(unittest.TestCase):
    """The vCPU scheduler pool from Python: worker count, run-time shares
    and caps, and the run/steal figures in the vCPU stats."""

    def setUp(self):
        if not os.path.exists(GUEST):
            self.skipTest(f"guest {GUEST!r} not built")
        self.host = vmm.Host(workers=1)

    def tearDown(self):
        if hasattr(self, "host"):
            self.host.close()

    def busy_vm(self):
        cfg = vmm.Config(kernel=GUEST, memory=64 << 20)
        vm = self.host.create_vm(cfg)
        cfg.close()
        vm.start()
        return vm

    def cpu_ns(self, vm):
        return vm.vcpu_stats(0).cpu_ns

    def test_one_worker_shared_by_weight_and_capped_at_run_time(self):
        self.assertEqual(self.host.workers, 1)
        a, b = self.busy_vm(), self.busy_vm()
        with self.assertRaises(vmm.Error):
            self.host.workers = 2  # VMs already run on the pool
        a.set_cpu_shares(3072)  # 3:1 against b's default 1024
        a.wait_for(lambda: False, 0.3)
        a0, b0 = self.cpu_ns(a), self.cpu_ns(b)
        a.wait_for(lambda: False, 1.5)
        da, db = self.cpu_ns(a) - a0, self.cpu_ns(b) - b0
        self.assertAlmostEqual(da / (da + db), 0.75, delta=0.05)
        st = b.vcpu_stats(0)
        self.assertGreater(st.wait_ns, 0)  # b waited while a ran
        self.assertGreater(st.slices, 10)
        self.assertGreaterEqual(st.run_ns, st.cpu_ns)
        # A cap of 10 % of a CPU on a, then b gets the rest of the worker.
        a.set_cpu_quota(100000, 10000)
        a.wait_for(lambda: False, 0.3)
        a0, t0 = self.cpu_ns(a), time.monotonic()
        a.wait_for(lambda: False, 1.5)
        used = (self.cpu_ns(a) - a0) / 1e9 / (time.monotonic() - t0)
        self.assertLessEqual(used, 0.11)
        with self.assertRaises(vmm.Error) as e:
            a.set_cpu_shares(1)
        self.assertIn("shares 1 out of range", str(e.exception))


class KvmBindingsTest(unittest.TestCase):
    """The same bindings on the kvm engine with the x86 echo guest."""

    def setUp(self):
        require_kvm(self)
        if not os.path.exists(GUEST_X86):
            self.skipTest(f"guest {GUEST_X86!r} not built")
        self.host = vmm.Host()
        self.console = bytearray()

    def tearDown(self):
        if hasattr(self, "host"):
            self.host.close()

    def test_console_round_trip_and_debug_exit(self):
        cfg = vmm.Config(kernel=GUEST_X86, engine="kvm", memory=64 << 20)
        vm = self.host.create_vm(cfg)
        cfg.close()
        vm.on_console = self.console.extend
        vm.start()
        self.assertTrue(vm.wait_for(lambda: b"ready\n" in self.console, 20))
        self.assertEqual(vm.engine, "kvm")
        first = struct.unpack("<I", vm.read_phys(COUNTER_X86, 4))[0]
        self.assertTrue(vm.wait_for(
            lambda: struct.unpack("<I", vm.read_phys(COUNTER_X86, 4))[0] != first, 20))
        vm.console_write("hi")
        self.assertTrue(vm.wait_for(lambda: b"HI" in self.console, 20))
        vm.console_write(b"q")
        outcome = vm.wait(20)
        self.assertEqual(outcome.kind, vmm.OutcomeKind.DEBUG_EXIT)
        self.assertEqual(outcome.exit_code, 1)


if __name__ == "__main__":
    unittest.main()
