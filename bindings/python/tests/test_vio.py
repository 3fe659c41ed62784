"""The bindings' virtio console, named ports and vsock: the config calls
(and their XML), then riscv64 Linux on the soft engine running
tests/guest/linux/tests/console.sh through the API: console output from
hvc, console input, and a named port written with VM.port_write() and read
through VM.on_port. The Linux part is skipped without the guest images
($LIBVMM_CACHE/riscv, built by scripts/guest/all.sh)."""

import os
import tempfile
import unittest

import vmm

CACHE = os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))
IMAGE, INITRD = f"{CACHE}/riscv/Image", f"{CACHE}/riscv/initramfs.cpio.gz"
# The riscv64 test kernel's SBI console driver holds hvc0.
HVC = os.environ.get("LIBVMM_TEST_HVC", "hvc1")


def initramfs_has(path, *names):
    """Whether the gzip'd cpio at `path` holds every file in `names` (an
    initramfs built before a test script or tool was added lacks it)."""
    import gzip
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return all(name.encode() + b"\0" in data for name in names)


class ConfigTest(unittest.TestCase):
    def test_settings_round_trip_through_xml(self):
        with vmm.Config(kernel="/bin/sh", arch="riscv64", engine="soft") as cfg:
            self.assertEqual(cfg.virtio_console, (vmm.Chardev.NONE, None))
            cfg.set_virtio_console(vmm.Chardev.UNIX, "/tmp/console.sock")
            cfg.add_port("org.libvmm.a", vmm.Chardev.UNIX, "/tmp/a.sock")
            cfg.add_port("org.libvmm.b")
            cfg.set_vsock(7, "/tmp/vm.vsock")
            self.assertEqual(cfg.virtio_console, (vmm.Chardev.UNIX, "/tmp/console.sock"))
            self.assertEqual(cfg.ports, [vmm.Port("org.libvmm.a", vmm.Chardev.UNIX, "/tmp/a.sock"),
                                         vmm.Port("org.libvmm.b", vmm.Chardev.PTY)])
            self.assertEqual(cfg.vsock, (7, "/tmp/vm.vsock"))
            text = cfg.to_xml()
            self.assertIn("<vsock model=\"virtio\">", text)
            self.assertIn("https://libvmm.org/xmlns/domain/1", text)
            with vmm.Config.from_xml(text, host_checks=False) as back:
                self.assertEqual(back.ports, cfg.ports)
                self.assertEqual(back.vsock, cfg.vsock)
                self.assertEqual(back.virtio_console, cfg.virtio_console)

    def test_bad_values_raise(self):
        with vmm.Config() as cfg:
            with self.assertRaises(vmm.Error) as e:
                cfg.set_vsock(2)
            self.assertEqual(e.exception.name, "VMM_EINVAL")
            with self.assertRaises(vmm.Error):
                cfg.add_port("no spaces")
            cfg.add_port("twice")
            with self.assertRaises(vmm.Error):
                cfg.add_port("twice")
            with self.assertRaises(vmm.Error):
                cfg.set_virtio_console(vmm.Chardev.UNIX, "relative.sock")
            with self.assertRaises(vmm.Error):
                cfg.metadata = ("<libvmm:domain xmlns:libvmm='https://libvmm.org/xmlns/"
                                "domain/1'/>")


class LinuxTest(unittest.TestCase):
    def setUp(self):
        if not (os.path.isfile(IMAGE) and os.path.isfile(INITRD)):
            self.skipTest(f"no riscv64 Linux in {CACHE}/riscv")
        if not initramfs_has(INITRD, "tests/console.sh"):
            self.skipTest(f"{INITRD} predates console.sh (rebuild: scripts/guest/all.sh)")

    def test_console_and_named_port_through_the_api(self):
        console = bytearray()
        port = bytearray()
        opens = []
        with vmm.Host() as host:
            cfg = vmm.Config(kernel=IMAGE, initrd=INITRD, memory=128 << 20,
                             cmdline=f"console={HVC} libvmm.test=run:console")
            cfg.set_virtio_console(vmm.Chardev.PTY)
            cfg.add_port("org.libvmm.test")
            vm = host.create_vm(cfg)
            cfg.close()
            vm.on_console = console.extend

            def on_port(name, data, is_open):
                self.assertEqual(name, "org.libvmm.test")
                if data:
                    port.extend(data)
                else:
                    opens.append(is_open)

            vm.on_port = on_port
            vm.start()
            # Before the guest opened the port: it waits in the device.
            vm.port_write("org.libvmm.test", b"ping-from-host\n")
            self.assertTrue(vm.wait_for(lambda: b"console: waiting for input" in console, 120),
                            console.decode(errors="replace")[-2000:])
            vm.console_write("hello-console\n")
            self.assertTrue(vm.wait_for(lambda: b"\n" in port, 120))
            self.assertEqual(bytes(port), b"pong:ping-from-host\n")
            outcome = vm.wait(120)
            text = console.decode(errors="replace")
            self.assertEqual(outcome.kind, vmm.OutcomeKind.POWEROFF, text[-2000:])
            self.assertIn("console: done", text)
            self.assertNotIn("console: FAIL", text)
            self.assertIn(f"console: ok console is {HVC}", text)
            self.assertEqual(opens[:1], [True])
            self.assertFalse(opens[-1])
            with self.assertRaises(vmm.Error) as e:
                vm.port_write("org.libvmm.test", b"x")  # the VM has ended
            self.assertEqual(e.exception.name, "VMM_ESTATE")


if __name__ == "__main__":
    unittest.main()
