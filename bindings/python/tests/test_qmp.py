"""The control socket from Python: VM.control_listen() serves QMP, and
vmm.QMPClient talks to it from the same thread (pump=host.poll keeps the
host's loop turning while the client waits). The guest is the soft-engine
echo guest from tests/guest/core (path in $VMM_TEST_GUEST)."""

import os
import tempfile
import unittest

import vmm

GUEST = os.environ.get("VMM_TEST_GUEST", "")


class QMPTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(GUEST):
            self.skipTest(f"guest {GUEST!r} not built")
        self.tmp = tempfile.TemporaryDirectory(prefix="libvmm-pyqmp-")
        self.host = vmm.Host()
        self.console = bytearray()
        cfg = vmm.Config(kernel=GUEST, memory=64 << 20, vcpus=2)
        self.vm = self.host.create_vm(cfg)
        cfg.close()
        self.vm.on_console = self.console.extend
        self.path = os.path.join(self.tmp.name, "vm.qmp")
        self.ctl = self.vm.control_listen("unix:" + self.path)
        self.vm.start()
        self.assertTrue(self.vm.wait_for(lambda: b"ready\n" in self.console, 20))

    def tearDown(self):
        if hasattr(self, "host"):
            self.host.close()  # destroys the VM, which closes its control socket
        if hasattr(self, "tmp"):
            self.tmp.cleanup()

    def client(self):
        return vmm.QMPClient(self.path, pump=self.host.poll, timeout=10)

    def test_greeting_and_query_status(self):
        self.assertEqual(self.ctl.address, "unix:" + self.path)
        with self.client() as qmp:
            version = qmp.greeting["QMP"]["version"]["qemu"]
            self.assertEqual("%d.%d.%d" % (version["major"], version["minor"], version["micro"]),
                             vmm.version)
            self.assertEqual(qmp.execute("query-status"),
                             {"running": True, "singlestep": False, "status": "running"})
            self.assertEqual(self.ctl.client_count, 1)

    def test_stop_and_cont_with_events(self):
        with self.client() as qmp:
            self.assertEqual(qmp.execute("stop"), {})
            self.assertEqual(qmp.wait_event("STOP")["event"], "STOP")
            self.assertEqual(self.vm.state, vmm.State.PAUSED)
            self.assertEqual(qmp.execute("query-status")["status"], "paused")
            qmp.execute("cont")
            self.assertIn("timestamp", qmp.wait_event("RESUME"))
            self.assertEqual(self.vm.state, vmm.State.RUNNING)

    def test_errors_raise_qmp_error(self):
        with self.client() as qmp:
            with self.assertRaises(vmm.QMPError) as e:
                qmp.execute("no-such-command")
            self.assertEqual(e.exception.cls, "CommandNotFound")
            with self.assertRaises(vmm.QMPError) as e:
                qmp.execute("migrate", {"uri": "tcp:127.0.0.1:1"})
            self.assertEqual(e.exception.cls, "GenericError")
            self.assertIn("connecting to", e.exception.desc)
            qmp.send_raw("garbage\n")
            self.assertIn("JSON parse error", qmp.read_reply()["error"]["desc"])
            self.assertEqual(qmp.execute("query-status", id=5)["status"], "running")

    def test_negotiation_is_required_first(self):
        with vmm.QMPClient(self.path, pump=self.host.poll, timeout=10, negotiate=False) as qmp:
            with self.assertRaises(vmm.QMPError) as e:
                qmp.execute("query-status")
            self.assertEqual(e.exception.cls, "CommandNotFound")
            qmp.execute("qmp_capabilities")
            self.assertEqual(qmp.execute("query-status")["status"], "running")

    def test_query_cpus_fast_lists_every_vcpu(self):
        with self.client() as qmp:
            cpus = qmp.execute("query-cpus-fast")
            self.assertEqual([c["cpu-index"] for c in cpus], [0, 1])
            self.assertTrue(all(c["target"] == "riscv64" and c["thread-id"] > 0 for c in cpus))

    def test_system_reset_reboots_the_guest(self):
        with self.client() as qmp:
            qmp.execute("system_reset")
            data = qmp.wait_event("RESET")["data"]
            self.assertEqual(data, {"guest": False, "reason": "host-qmp-system-reset"})
            self.assertTrue(self.vm.wait_for(lambda: self.console.count(b"ready\n") == 2, 20))
            self.assertEqual(self.vm.state, vmm.State.RUNNING)

    def test_quit_stops_the_vm(self):
        with self.client() as qmp:
            self.assertFalse(self.ctl.quit_requested)
            qmp.execute("quit")
            self.assertEqual(qmp.wait_event("SHUTDOWN")["data"]["reason"], "host-qmp-quit")
        self.assertEqual(self.vm.wait(20).kind, vmm.OutcomeKind.STOPPED)
        self.assertTrue(self.ctl.quit_requested)

    def test_tcp_and_closing(self):
        ctl = self.vm.control_listen("tcp:127.0.0.1:0")
        self.assertTrue(ctl.address.startswith("tcp:127.0.0.1:"))
        qmp = vmm.QMPClient(ctl.address, pump=self.host.poll, timeout=10)
        self.assertEqual(qmp.execute("query-status")["status"], "running")
        ctl.close()
        with self.assertRaises((ConnectionError, OSError)):
            qmp.execute("query-status")
        qmp.close()
        with self.assertRaises(ValueError):
            ctl.client_count

    def test_bad_address_raises(self):
        with self.assertRaises(vmm.Error) as e:
            self.vm.control_listen("carrier-pigeon:coo")
        self.assertEqual(e.exception.name, "VMM_EINVAL")
        with self.assertRaises(vmm.Error) as e:
            self.vm.control_listen("unix:" + self.path)  # our own live server
        self.assertEqual(e.exception.name, "VMM_EBUSY")


if __name__ == "__main__":
    unittest.main()
