"""The Python bindings without a guest: the ABI check at import, every config
setting, XML warnings, errors, capabilities, the loop API, context managers."""

import ctypes
import os
import re
import unittest

import vmm

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_H = os.path.join(HERE, "..", "..", "..", "include", "vmm", "config.h")
BINDINGS = os.path.join(HERE, "..", "vmm", "__init__.py")


class AbiCheckTest(unittest.TestCase):
    def test_the_loaded_library_matches_the_bindings(self):
        for ident, (name, mirror) in vmm._SIZED_STRUCTS.items():
            self.assertEqual(vmm._lib.vmm_struct_size(ident), ctypes.sizeof(mirror), name)

    def test_a_struct_size_mismatch_refuses_to_load(self):
        class OldStats(ctypes.Structure):
            _fields_ = [("size", ctypes.c_uint64), ("exits", ctypes.c_uint64)]

        with self.assertRaises(ImportError) as ctx:
            vmm._check_abi(vmm._lib, "/some/libvmm.so.0", {1: ("vmm_vcpu_stats_t", OldStats)})
        msg = str(ctx.exception)
        self.assertIn("/some/libvmm.so.0 does not match these bindings", msg)
        self.assertIn(f"vmm_vcpu_stats_t is {ctypes.sizeof(vmm.VcpuStats)} bytes in the library, "
                      "16 in the bindings", msg)

    def test_a_library_without_the_size_query_refuses_to_load(self):
        class NoQuery:
            pass

        with self.assertRaises(ImportError) as ctx:
            vmm._check_abi(NoQuery(), "/old/libvmm.so.0")
        self.assertIn("no vmm_struct_size()", str(ctx.exception))

    def test_no_separate_libuv_is_loaded(self):
        self.assertFalse(hasattr(vmm, "_uv"))
        with open(BINDINGS) as f:
            self.assertNotIn("libuv.so", f.read())


# A value for every one-value setting, and what the getter gives back.
SAMPLES = {
    "engine": ("soft", "soft"),
    "name": ("guest-1", "guest-1"),
    "memory": (128 << 20, 128 << 20),
    "vcpus": (3, 3),
    "kernel": ("/boot/vmlinuz", "/boot/vmlinuz"),
    "initrd": ("/boot/initrd", "/boot/initrd"),
    "cmdline": ("console=ttyS0 quiet", "console=ttyS0 quiet"),
    "console": (vmm.Console.NONE, vmm.Console.NONE),
    "deterministic": (True, True),
    "jit": (False, False),
    "uuid": ("C0FFEE00-1234-5678-9ABC-DEF012345678", "c0ffee00-1234-5678-9abc-def012345678"),
    "title": ("a title", "a title"),
    "description": ("a longer\ndescription", "a longer\ndescription"),
    "metadata": ("<x:a xmlns:x='urn:x'/>", None),  # canonicalised; checked below
    "current_memory": (64 << 20, 64 << 20),
    "vcpu_placement": (vmm.Placement.AUTO, vmm.Placement.AUTO),
    "vcpu_cpuset": ("0-3,^2", "0-1,3"),
    "cpu_shares": (2048, 2048),
    "memory_hard_limit": (1 << 30, 1 << 30),
    "arch": ("riscv64", "riscv64"),
    "machine": ("virt", "virt"),
    "dtb": ("/boot/board.dtb", "/boot/board.dtb"),
    "loader": ("/boot/fw_jump.bin", "/boot/fw_jump.bin"),
    "cpu_mode": (vmm.CpuMode.HOST_PASSTHROUGH, vmm.CpuMode.HOST_PASSTHROUGH),
    "clock_offset": (vmm.ClockOffset.LOCALTIME, vmm.ClockOffset.LOCALTIME),
    "features": (vmm.Feature.ACPI | vmm.Feature.PAE, vmm.Feature.ACPI | vmm.Feature.PAE),
    "rng": (True, True),
}


class ConfigTest(unittest.TestCase):
    def test_every_setter_of_config_h_is_reachable(self):
        with open(CONFIG_H) as f:
            header = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        setters = set(re.findall(r"\b(vmm_config_(?:set|add)_\w+|vmm_config_cpu_disable_feature)\s*\(",
                                 header))
        self.assertGreater(len(setters), 25)
        with open(BINDINGS) as f:
            source = f.read()
        reachable = {f"vmm_config_set_{name}" for name in vmm._SETTINGS}
        missing = sorted(s for s in setters if s not in reachable and s not in source)
        self.assertEqual(missing, [], "config setters the bindings do not reach")

    def test_every_one_value_setting_round_trips(self):
        self.assertEqual(set(SAMPLES), set(vmm._SETTINGS))
        with vmm.Config() as cfg:
            for key, (value, expect) in SAMPLES.items():
                with self.subTest(key=key):
                    setattr(cfg, key, value)
                    if expect is not None:
                        self.assertEqual(getattr(cfg, key), expect)
                        self.assertEqual(cfg.get(key), expect)
            self.assertIn("urn:x", cfg.metadata)
            cfg.title = None
            self.assertIsNone(cfg.title)

    def test_keywords_and_the_firmware_alias(self):
        with vmm.Config(memory=96 << 20, vcpus=2, firmware="/fw.bin") as cfg:
            self.assertEqual((cfg.memory, cfg.vcpus, cfg.loader), (96 << 20, 2, "/fw.bin"))
        with self.assertRaises(KeyError):
            vmm.Config(no_such_setting=1)

    def test_settings_with_several_values(self):
        with vmm.Config(vcpus=2) as cfg:
            cfg.set_cpu_quota(100000, 50000)
            self.assertEqual((cfg.cpu_period, cfg.cpu_quota), (100000, 50000))
            cfg.set_vcpu_pin(1, "2-3")
            self.assertEqual(cfg.vcpu_pin(1), "2-3")
            self.assertIsNone(cfg.vcpu_pin(0))
            cfg.disable_cpu_feature("avx2")
            cfg.disable_cpu_feature("x2apic")
            self.assertEqual(cfg.disabled_cpu_features, ["avx2", "x2apic"])
            cfg.set_lifecycle(vmm.LifecycleEvent.CRASH, vmm.LifecycleAction.PRESERVE)
            self.assertEqual(cfg.lifecycle(vmm.LifecycleEvent.CRASH), vmm.LifecycleAction.PRESERVE)
            cfg.add_disk("/img/a.raw", "vda", readonly=True, serial="SER1")
            self.assertEqual(cfg.disks, [vmm.Disk("/img/a.raw", "vda", True, "SER1")])
            cfg.add_net("tap7", "52:54:00:12:34:56")
            self.assertEqual([(n.tap, n.mac) for n in cfg.nets], [("tap7", "52:54:00:12:34:56")])
            cfg.set_serial(vmm.Chardev.FILE, "/tmp/console.log")
            self.assertEqual(cfg.serial, (vmm.Chardev.FILE, "/tmp/console.log"))
            clone = cfg.clone()
            self.assertEqual(clone.nets, cfg.nets)
            self.assertEqual(clone.disks, cfg.disks)
            clone.close()

    def test_nics_of_every_type_read_back(self):
        with vmm.Config() as cfg:
            cfg.add_nic(vmm.NetType.TAP, mac="52:54:00:00:00:01", tap="vmtap0", managed=True)
            cfg.add_nic(vmm.NetType.UDP, mac="52:54:00:00:00:02", address="127.0.0.1",
                        port=5001, local_address="127.0.0.1", local_port=5002)
            cfg.add_nic(vmm.NetType.SERVER, mac="52:54:00:00:00:03", port=5003)
            cfg.add_nic(vmm.NetType.CLIENT, mac="52:54:00:00:00:04", address="10.0.0.1",
                        port=5003)
            nets = cfg.nets
            self.assertEqual([n.type for n in nets], [vmm.NetType.TAP, vmm.NetType.UDP,
                                                      vmm.NetType.SERVER, vmm.NetType.CLIENT])
            self.assertEqual((nets[0].tap, nets[0].managed), ("vmtap0", True))
            self.assertEqual((nets[1].address, nets[1].port, nets[1].local_address,
                              nets[1].local_port), ("127.0.0.1", 5001, "127.0.0.1", 5002))
            self.assertEqual((nets[2].address, nets[2].port), (None, 5003))
            self.assertEqual(nets[3].mac, "52:54:00:00:00:04")
            xml = cfg.to_xml().replace("'", '"')
            self.assertIn('<interface type="udp">', xml)
            self.assertIn('<local address="127.0.0.1" port="5002"/>', xml)
            with self.assertRaises(vmm.Error) as ctx:
                cfg.add_nic(vmm.NetType.CLIENT, address="example.org", port=1)
            self.assertIn("example.org", ctx.exception.message)
            with self.assertRaises(vmm.Error):
                cfg.add_nic(vmm.NetType.UDP, address="127.0.0.1", port=70000,
                            local_address="127.0.0.1", local_port=1)

    def test_bad_values_raise_with_the_value_and_the_limit(self):
        with vmm.Config() as cfg:
            with self.assertRaises(vmm.Error) as ctx:
                cfg.vcpus = 0
            self.assertEqual(ctx.exception.name, "VMM_EINVAL")
            self.assertIn("vcpus 0 out of range 1..256", ctx.exception.message)
            with self.assertRaises(vmm.Error) as ctx:
                cfg.add_disk("relative.img", "vda")
            self.assertIn("relative.img", ctx.exception.message)
            with self.assertRaises(vmm.Error):
                cfg.set_lifecycle(7, 0)
            with self.assertRaises(ValueError):
                cfg.add_net("tap0", "not-a-mac")

    def test_validate_lists_every_problem(self):
        with vmm.Config(kernel="/nonexistent/kernel", initrd="/nonexistent/initrd") as cfg:
            problems = cfg.validate()
        self.assertGreaterEqual(len(problems), 2)
        self.assertTrue(any("/nonexistent/kernel" in p for p in problems))

    def test_a_closed_config_is_an_error_not_a_crash(self):
        cfg = vmm.Config()
        cfg.close()
        with self.assertRaises(ValueError):
            cfg.memory = 1 << 30
        cfg.close()  # twice is fine


XML = ("<domain type='qemu'><name>py</name><memory unit='MiB'>64</memory>"
       "<vcpu>1</vcpu><os><type arch='riscv64'>hvm</type><kernel>/boot/k</kernel></os>"
       "{extra}</domain>")


@unittest.skipUnless("xml" in vmm.capabilities().features, "libxml2 not available")
class XmlTest(unittest.TestCase):
    def test_from_xml_returns_its_warnings(self):
        cfg = vmm.Config.from_xml(XML.format(extra="<devices><emulator>/usr/bin/qemu</emulator>"
                                                    "</devices>"), host_checks=False)
        self.assertTrue(cfg.warnings)
        self.assertTrue(all(w.startswith("warning: ") for w in cfg.warnings), cfg.warnings)
        self.assertIn("emulator", " ".join(cfg.warnings))
        self.assertEqual(cfg.name, "py")
        cfg.close()

    def test_lenient_turns_errors_into_warnings(self):
        doc = XML.format(extra="<devices><hostdev mode='subsystem'/></devices>")
        with self.assertRaises(vmm.Error) as ctx:
            vmm.Config.from_xml(doc, host_checks=False)
        self.assertTrue(any("hostdev" in p for p in ctx.exception.problems), ctx.exception.problems)
        cfg = vmm.Config.from_xml(doc, lenient=True, host_checks=False)
        self.assertTrue(any("hostdev" in w for w in cfg.warnings), cfg.warnings)
        cfg.close()

    def test_a_broken_document_lists_the_problems(self):
        with self.assertRaises(vmm.Error) as ctx:
            vmm.Config.from_xml("<domain type='kvm'><name>x</name>")
        self.assertEqual(ctx.exception.name, "VMM_EFORMAT")
        self.assertIn("line", ctx.exception.message)
        self.assertTrue(ctx.exception.problems[0].startswith("error: "))

    def test_from_xml_file_and_back(self):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"vmm-py-{os.getpid()}.xml")
        with open(path, "w") as f:
            f.write(XML.format(extra=""))
        try:
            with vmm.Config.from_xml_file(path, host_checks=False) as cfg:
                self.assertEqual(cfg.warnings, [])
                self.assertIn("<name>py</name>", cfg.to_xml())
        finally:
            os.unlink(path)


class LibraryTest(unittest.TestCase):
    def test_error_names(self):
        self.assertEqual(vmm.err_name(-1), "VMM_EINVAL")
        self.assertEqual(vmm.err_name(-12), "VMM_ECRASHED")
        self.assertEqual(vmm.strerror(-1), "invalid argument")
        err = vmm.Error(-6, "VM 'x' is not running")
        self.assertEqual(str(err), "VMM_ESTATE: VM 'x' is not running")

    def test_capabilities(self):
        caps = vmm.capabilities()
        self.assertEqual(set(caps.engines), {"kvm", "soft"})
        soft = caps.engines["soft"]
        self.assertTrue(soft["available"])
        self.assertEqual(soft["arch"], "riscv64")
        self.assertGreaterEqual(soft["max_vcpus"], 1)
        self.assertIn("async-lifecycle", caps.features)
        if not caps.engines["kvm"]["available"]:
            self.assertTrue(caps.engines["kvm"]["why"])

    def test_host_loop_api(self):
        with vmm.Host() as host:
            self.assertEqual(host.run(vmm.RunMode.NOWAIT), 0)
            self.assertEqual(host.run(), 0)
            self.assertGreaterEqual(host.backend_fd, 0)
            self.assertGreaterEqual(host.backend_timeout, -1)
            with self.assertRaises(vmm.Error) as ctx:
                host.run(7)
            self.assertIn("run mode 7", ctx.exception.message)
        with self.assertRaises(ValueError):
            host.run()

    def test_context_managers_free_what_they_hold(self):
        with vmm.Host() as host:
            with vmm.Config() as cfg:
                pass
            self.assertIsNone(cfg._h)
        self.assertIsNone(host._h)



class MemoryOvercommitTest(unittest.TestCase):
    def test_balloon_settings_round_trip_through_xml(self):
        with vmm.Config() as cfg:
            self.assertIsNone(cfg.balloon)
            cfg.set_balloon(free_page_reporting=True, stats_period=5)
            self.assertEqual(cfg.balloon, {"deflate_on_oom": False, "free_page_reporting": True,
                                           "stats_period": 5})
            cfg.memory, cfg.kernel = 64 << 20, "/boot/vmlinuz"
            xml = cfg.to_xml()
            self.assertIn("freePageReporting=\"on\"", xml.replace("'", '"'))
            with vmm.Config.from_xml(xml, host_checks=False) as back:
                self.assertEqual(back.balloon, cfg.balloon)
            cfg.set_balloon(False)
            self.assertIsNone(cfg.balloon)

    def test_bad_balloon_period_is_refused_naming_the_limit(self):
        with vmm.Config() as cfg:
            with self.assertRaises(vmm.Error) as e:
                cfg.set_balloon(stats_period=100000)
            self.assertIn("86400", str(e.exception))

    def test_overcommit_ratio_is_checked_and_kept(self):
        with vmm.Host(memory_limit=1 << 30) as host:
            self.assertEqual(host.overcommit, 1.0)
            host.overcommit = 2.5
            self.assertEqual(host.overcommit, 2.5)
            self.assertEqual(host.memory_limit, 1 << 30)
            for bad in (0.5, 1000.0):
                with self.assertRaises(vmm.Error) as e:
                    host.overcommit = bad
                self.assertIn("outside 1..64", str(e.exception))
            self.assertEqual(host.memory_touched, 0)

if __name__ == "__main__":
    unittest.main()
