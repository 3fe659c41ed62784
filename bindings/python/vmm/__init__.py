"""Python bindings for libvmm (ctypes), the embeddable virtual machine monitor.

    import vmm
    with vmm.Host() as host:
        cfg = vmm.Config(kernel="Image", initrd="initramfs.cpio.gz",
                         cmdline="console=ttyS0", memory=256 << 20, vcpus=2)
        with host.create_vm(cfg) as vm:
            vm.on_console = lambda data: print(data.decode(errors="replace"), end="")
            vm.start()
            outcome = vm.wait()      # runs libvmm's loop until the guest ends

Every libvmm error raises vmm.Error with the code's name (VMM_EINVAL...) and
the library's message, which names the offending value and the limit.
Callbacks (on_console, on_state, on_restart, pause_async/stop_async
completions) run on the thread that drives the loop, inside wait(),
wait_for(), run() or poll(); an exception a callback raises is kept and
raised again from that call, never lost.

The shared library is found through $LIBVMM_LIBRARY, then the system's
library path (libvmm.so.0, honouring LD_LIBRARY_PATH), then the directory
`meson install` put it in. At import the bindings compare the sizes of the
structs they share with the library (vmm_struct_size()) and refuse to load a
library they do not match.

A VM can serve QEMU's machine protocol (QMP) on a socket, and QMPClient
talks to any QMP server (libvmm's or QEMU's):

    ctl = vm.control_listen("unix:/tmp/vm.qmp")
    qmp = vmm.QMPClient("/tmp/vm.qmp", pump=host.poll)  # same thread: pump the loop
    qmp.execute("stop")
    qmp.execute("query-status")   # {'running': False, 'singlestep': False, 'status': 'paused'}

Snapshots and live migration (vmm/snapshot.h):

    vm.save("/tmp/vm.snap")                  # paused for the write, then runs on
    clone = host.restore("/tmp/vm.snap", map=True)   # DEFINED; clone.start() continues
    vm.migrate(sock.fileno(), callback=lambda vm, err: ...)   # source
    dest = host.incoming(sock.fileno())      # destination (blocks until the stream ends)
"""

import ctypes
import ctypes.util
import enum
import json
import os
import select
import socket
import time

__all__ = [
    "Error", "State", "OutcomeKind", "Outcome", "Console", "Placement", "CpuMode",
    "ClockOffset", "Feature", "LifecycleEvent", "LifecycleAction", "Chardev", "RunMode",
    "Config", "Disk", "Net", "NetType", "Host", "VM", "VcpuStats", "VcpuRegs", "Capabilities",
    "capabilities", "err_name", "strerror", "version", "Control", "QMPClient", "QMPError",
    "Port", "MigrateStatus", "MigrateStats", "Progress",
]

_c_int, _c_uint, _c_u64, _c_i64 = ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int64
_c_size, _c_char_p, _p = ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p

# --- the structs shared with the library (include/vmm/*.h) ---


class _COutcome(ctypes.Structure):
    _fields_ = [("size", _c_u64), ("kind", _c_int), ("exit_code", _c_int),
                ("reason", ctypes.c_char * 256)]


class VcpuStats(ctypes.Structure):
    """A vCPU's counters (vmm_vcpu_stats_t)."""
    _fields_ = [("size", _c_u64)] + [(name, _c_u64) for name in (
        "exits", "io_exits", "mmio_exits", "halts", "hypercalls", "instructions",
        "tlb_hits", "tlb_misses", "tlb_flushes", "jit_blocks", "jit_translate_ns",
        "jit_code_bytes", "jit_flushes", "jit_block_runs", "jit_lookups",
        "run_ns", "wait_ns", "slices", "cpu_ns")]


class VcpuRegs(ctypes.Structure):
    """A vCPU's main registers (vmm_vcpu_regs_t): pc, sp, gpr[32], flags, mode."""
    _fields_ = [("size", _c_u64), ("pc", _c_u64), ("sp", _c_u64), ("gpr", _c_u64 * 32),
                ("flags", _c_u64), ("mode", _c_int)]


class MigrateStatus(enum.IntEnum):
    NONE = 0
    ACTIVE = 1
    COMPLETED = 2
    FAILED = 3
    CANCELLED = 4


class MigrateStats(ctypes.Structure):
    """Progress of a live migration (vmm_migrate_stats_t); status is a
    MigrateStatus value."""
    _fields_ = [("size", _c_u64), ("status", _c_int), ("rounds", _c_uint)] + [
        (name, _c_u64) for name in (
            "bytes_sent", "ram_transferred", "ram_remaining", "dirty_pages_rate",
            "expected_downtime_ms", "downtime_ms", "setup_ms", "total_ms")] + [
        ("throttle_pct", _c_uint), ("throttle_max_reached", _c_uint)]


class _CMigrateParams(ctypes.Structure):
    _fields_ = [("size", _c_u64), ("max_bandwidth", _c_u64), ("downtime_limit_ms", _c_u64),
                ("max_rounds", _c_uint), ("auto_converge", _c_int), ("throttle_initial", _c_uint),
                ("throttle_increment", _c_uint), ("throttle_max", _c_uint)]


def _migrate_params(max_bandwidth=0, downtime_limit_ms=0, max_rounds=0, auto_converge=None,
                    throttle_initial=0, throttle_increment=0, throttle_max=0):
    return _CMigrateParams(size=ctypes.sizeof(_CMigrateParams), max_bandwidth=max_bandwidth,
                           downtime_limit_ms=downtime_limit_ms, max_rounds=max_rounds,
                           auto_converge=0 if auto_converge is None else
                           (1 if auto_converge else -1),
                           throttle_initial=throttle_initial,
                           throttle_increment=throttle_increment, throttle_max=throttle_max)


class _StateEv(ctypes.Structure):
    _fields_ = [("old_state", _c_int), ("new_state", _c_int)]


class _ConsoleEv(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("len", _c_size)]


class _RestartEv(ctypes.Structure):
    _fields_ = [("previous", _COutcome), ("count", _c_uint)]


class _PortEv(ctypes.Structure):
    _fields_ = [("name", _c_char_p), ("data", ctypes.POINTER(ctypes.c_uint8)), ("len", _c_size),
                ("open", _c_int)]


class Progress(ctypes.Structure):
    """A VMM_EVENT_PROGRESS: kind is "save" or "migrate" (property), status a
    MigrateStatus value (ACTIVE until the last event of the operation)."""
    _fields_ = [("_kind", _c_int), ("status", _c_int), ("bytes_done", _c_u64),
                ("bytes_total", _c_u64), ("round", _c_uint), ("dirty_pages_rate", _c_u64),
                ("expected_downtime_ms", _c_u64)]

    @property
    def kind(self):
        return {1: "save", 2: "migrate"}.get(self._kind, str(self._kind))


class _MemoryEv(ctypes.Structure):
    _fields_ = [("what", _c_int), ("touched", _c_u64), ("limit", _c_u64),
                ("pool_touched", _c_u64), ("ballooned", _c_u64)]


class _EvUnion(ctypes.Union):
    _fields_ = [("state", _StateEv), ("console", _ConsoleEv), ("restart", _RestartEv),
                ("port", _PortEv), ("progress", Progress), ("memory", _MemoryEv)]


class MemoryEvent(enum.IntEnum):
    """What a memory event (VM.on_memory) says (vmm_memory_event_t)."""
    BALLOON = 1          # the guest's balloon changed size
    STATS = 2            # fresh guest memory statistics arrived
    POOL_EXHAUSTED = 3   # the host pool ran out; this VM was paused
    LIMIT_REACHED = 4    # the VM passed its own limit and was paused


UNSET = (1 << 64) - 1  # a guest statistic the guest did not report (VMM_MEMSTAT_UNSET)


class MemoryStats(ctypes.Structure):
    """vmm_memory_stats_t: bytes unless the name says otherwise; guest
    figures are UNSET until the guest reports them."""
    _fields_ = [("size", _c_u64), ("configured", _c_u64), ("touched", _c_u64),
                ("resident", _c_u64), ("limit", _c_u64), ("has_balloon", _c_int),
                ("balloon_driver", _c_int), ("balloon_target", _c_u64), ("ballooned", _c_u64),
                ("inflated", _c_u64), ("deflated", _c_u64), ("reported", _c_u64),
                ("balloon_errors", _c_u64), ("stats_updates", _c_u64), ("stats_age_ms", _c_u64),
                ("swap_in", _c_u64), ("swap_out", _c_u64), ("major_faults", _c_u64),
                ("minor_faults", _c_u64), ("free", _c_u64), ("total", _c_u64),
                ("available", _c_u64), ("disk_caches", _c_u64), ("hugetlb_allocs", _c_u64),
                ("hugetlb_failures", _c_u64)]

    def as_dict(self):
        return {name: getattr(self, name) for name, _ in self._fields_ if name != "size"}


# vmm_config_set_balloon() flags
BALLOON_DEFLATE_ON_OOM = 1
BALLOON_FREE_PAGE_REPORTING = 2


class _Event(ctypes.Structure):
    _fields_ = [("size", _c_u64), ("type", _c_int), ("vm", _p), ("u", _EvUnion)]


# vmm/device.h block backend: void submit(void *opaque, vmm_blk_request_t *req),
# uint64_t capacity(void *opaque), void destroy(void *opaque).
_BLK_SUBMIT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_BLK_CAPACITY = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)
_BLK_DESTROY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class _CBlkOps(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint64), ("submit", _BLK_SUBMIT),
                ("capacity", _BLK_CAPACITY), ("destroy", _BLK_DESTROY)]


class _CDisk(ctypes.Structure):
    _fields_ = [("size", _c_u64), ("path", _c_char_p), ("target", _c_char_p),
                ("readonly", _c_int), ("serial", _c_char_p),
                ("backend", ctypes.POINTER(_CBlkOps)), ("backend_opaque", ctypes.c_void_p),
                ("capacity", _c_u64)]


class _CNet(ctypes.Structure):
    _fields_ = [("size", _c_u64), ("tap", _c_char_p), ("mac", ctypes.c_uint8 * 6),
                ("type", _c_int), ("managed", _c_int), ("address", _c_char_p),
                ("port", _c_uint), ("local_address", _c_char_p), ("local_port", _c_uint),
                ("backend", ctypes.c_void_p), ("backend_opaque", ctypes.c_void_p)]


# vmm_struct_id_t -> (C name, our mirror)
_SIZED_STRUCTS = {
    1: ("vmm_vcpu_stats_t", VcpuStats),
    2: ("vmm_vcpu_regs_t", VcpuRegs),
    3: ("vmm_outcome_t", _COutcome),
    4: ("vmm_event_t", _Event),
    5: ("vmm_disk_config_t", _CDisk),
    6: ("vmm_net_config_t", _CNet),
    7: ("vmm_migrate_params_t", _CMigrateParams),
    8: ("vmm_migrate_stats_t", MigrateStats),
    9: ("vmm_memory_stats_t", MemoryStats),
}


def _load():
    """The library, and where it came from."""
    tried = []
    env = os.environ.get("LIBVMM_LIBRARY")
    candidates = [env] if env else []
    candidates.append("libvmm.so.0")
    try:
        from . import _paths  # written by `meson install`
        candidates.append(os.path.join(_paths.LIBDIR, "libvmm.so.0"))
    except ImportError:
        pass
    found = ctypes.util.find_library("vmm")
    if found:
        candidates.append(found)
    for path in candidates:
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise ImportError("vmm: cannot load libvmm (set LIBVMM_LIBRARY to its path); tried:\n  "
                      + "\n  ".join(tried))


def _check_abi(lib, path, structs=_SIZED_STRUCTS):
    """Refuses a library whose sized structs differ from ours: the bindings
    and the library then come from different libvmm versions, and sharing
    those structs would corrupt memory."""
    try:
        struct_size = lib.vmm_struct_size
    except AttributeError:
        raise ImportError(f"vmm: {path} has no vmm_struct_size(): it is older than these "
                          "bindings; install matching libvmm and bindings") from None
    struct_size.restype, struct_size.argtypes = _c_size, [_c_int]
    bad = []
    for ident, (name, mirror) in structs.items():
        theirs, ours = struct_size(ident), ctypes.sizeof(mirror)
        if theirs != ours:
            bad.append(f"{name} is {theirs} bytes in the library, {ours} in the bindings")
    if bad:
        raise ImportError(f"vmm: {path} does not match these bindings ("
                          + "; ".join(bad) + "): install the bindings of the same libvmm version")


_lib, library_path = _load()
_check_abi(_lib, library_path)


def _sig(name, res, *args):
    try:
        fn = getattr(_lib, name)
    except AttributeError:
        raise ImportError(f"vmm: {library_path} lacks {name}(): it is not the libvmm these "
                          "bindings were written for") from None
    fn.restype = res
    fn.argtypes = list(args)
    return fn


_EventCb = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Event), _p)
_DoneCb = ctypes.CFUNCTYPE(None, _p, _c_int, _p)

_strerror = _sig("vmm_strerror", _c_char_p, _c_int)
_err_name = _sig("vmm_err_name", _c_char_p, _c_int)
_last_error = _sig("vmm_last_error", _c_char_p)
_version = _sig("vmm_version", _c_char_p)
_host_new = _sig("vmm_host_new", _c_int, ctypes.POINTER(_p), _p)
_host_free = _sig("vmm_host_free", _c_int, _p)
_host_run = _sig("vmm_host_run", _c_int, _p, _c_int)
_host_backend_fd = _sig("vmm_host_backend_fd", _c_int, _p)
_host_backend_timeout = _sig("vmm_host_backend_timeout", _c_int, _p, ctypes.POINTER(_c_int))
_host_set_limit = _sig("vmm_host_set_memory_limit", _c_int, _p, _c_u64)
_host_used = _sig("vmm_host_memory_used", _c_u64, _p)
_host_set_workers = _sig("vmm_host_set_workers", _c_int, _p, _c_uint)
_host_workers = _sig("vmm_host_workers", _c_uint, _p)
_host_set_cgroup_parent = _sig("vmm_host_set_cgroup_parent", _c_int, _p, _c_char_p)
_host_cgroup_parent = _sig("vmm_host_cgroup_parent", _c_char_p, _p)
_host_set_overcommit = _sig("vmm_host_set_memory_overcommit", _c_int, _p, ctypes.c_double)
_host_overcommit = _sig("vmm_host_memory_overcommit", ctypes.c_double, _p)
_host_limit = _sig("vmm_host_memory_limit", _c_u64, _p)
_host_touched = _sig("vmm_host_memory_touched", _c_u64, _p)
_cfg_set_balloon = _sig("vmm_config_set_balloon", _c_int, _p, _c_int, _c_uint, _c_uint)
_cfg_balloon = _sig("vmm_config_balloon", _c_int, _p, ctypes.POINTER(_c_uint),
                    ctypes.POINTER(_c_uint))
_vm_memory_stats = _sig("vmm_vm_memory_stats", _c_int, _p, ctypes.POINTER(MemoryStats))
_vm_set_balloon_target = _sig("vmm_vm_set_balloon_target", _c_int, _p, _c_u64)
_vm_balloon_target = _sig("vmm_vm_balloon_target", _c_u64, _p)
_vm_balloon_request_stats = _sig("vmm_vm_balloon_request_stats", _c_int, _p)
_vm_set_memory_limit = _sig("vmm_vm_set_memory_limit", _c_int, _p, _c_u64)
_cfg_new = _sig("vmm_config_new", _c_int, ctypes.POINTER(_p))
_cfg_free = _sig("vmm_config_free", None, _p)
_cfg_clone = _sig("vmm_config_clone", _c_int, _p, ctypes.POINTER(_p))
_cfg_validate = _sig("vmm_config_validate", _c_int, _p, ctypes.POINTER(_p))
_cfg_from_xml = _sig("vmm_config_from_xml", _c_int, _c_char_p, _c_size, _c_uint,
                     ctypes.POINTER(_p), ctypes.POINTER(_p))
_cfg_from_xml_file = _sig("vmm_config_from_xml_file", _c_int, _c_char_p, _c_uint,
                          ctypes.POINTER(_p), ctypes.POINTER(_p))
_cfg_to_xml = _sig("vmm_config_to_xml", _c_int, _p, ctypes.POINTER(_p))
_cfg_set_cpu_quota = _sig("vmm_config_set_cpu_quota", _c_int, _p, _c_u64, _c_i64)
_cfg_cpu_period = _sig("vmm_config_cpu_period", _c_u64, _p)
_cfg_cpu_quota = _sig("vmm_config_cpu_quota", _c_i64, _p)
_cfg_set_cpu_gquota = _sig("vmm_config_set_cpu_global_quota", _c_int, _p, _c_u64, _c_i64)
_cfg_cpu_gperiod = _sig("vmm_config_cpu_global_period", _c_u64, _p)
_cfg_cpu_gquota = _sig("vmm_config_cpu_global_quota", _c_i64, _p)
_cfg_set_vcpu_pin = _sig("vmm_config_set_vcpu_pin", _c_int, _p, _c_uint, _c_char_p)
_cfg_vcpu_pin = _sig("vmm_config_vcpu_pin", _c_char_p, _p, _c_uint)
_cfg_cpu_disable = _sig("vmm_config_cpu_disable_feature", _c_int, _p, _c_char_p)
_cfg_cpu_disabled_count = _sig("vmm_config_cpu_disabled_count", _c_uint, _p)
_cfg_cpu_disabled = _sig("vmm_config_cpu_disabled", _c_char_p, _p, _c_uint)
_cfg_set_lifecycle = _sig("vmm_config_set_lifecycle", _c_int, _p, _c_int, _c_int)
_cfg_lifecycle = _sig("vmm_config_lifecycle", _c_int, _p, _c_int)
_cfg_add_disk = _sig("vmm_config_add_disk", _c_int, _p, ctypes.POINTER(_CDisk))
_cfg_disk_count = _sig("vmm_config_disk_count", _c_uint, _p)
_cfg_disk = _sig("vmm_config_disk", ctypes.POINTER(_CDisk), _p, _c_uint)
_cfg_add_net = _sig("vmm_config_add_net", _c_int, _p, _c_char_p, _p)
_cfg_add_nic = _sig("vmm_config_add_nic", _c_int, _p, ctypes.POINTER(_CNet))
_cfg_net_count = _sig("vmm_config_net_count", _c_uint, _p)
_blk_req_op = _sig("vmm_blk_request_op", _c_int, _p)
_blk_req_offset = _sig("vmm_blk_request_offset", _c_u64, _p)
_blk_req_length = _sig("vmm_blk_request_length", _c_u64, _p)
_blk_req_buffers = _sig("vmm_blk_request_buffers", _c_int, _p, ctypes.POINTER(_p))
_blk_req_complete = _sig("vmm_blk_request_complete", None, _p, _c_int)
_vm_disk_refresh = _sig("vmm_vm_disk_refresh", _c_int, _p, _c_char_p,
                        ctypes.POINTER(_c_u64))
_cfg_net = _sig("vmm_config_net", ctypes.POINTER(_CNet), _p, _c_uint)
_cfg_set_serial = _sig("vmm_config_set_serial", _c_int, _p, _c_int, _c_char_p)
_cfg_serial = _sig("vmm_config_serial", _c_int, _p, ctypes.POINTER(_c_char_p))
_vm_create = _sig("vmm_vm_create", _c_int, _p, _p, ctypes.POINTER(_p))
_vm_set_cb = _sig("vmm_vm_set_event_cb", None, _p, _EventCb, _p)
_vm_start = _sig("vmm_vm_start", _c_int, _p)
_vm_pause = _sig("vmm_vm_pause", _c_int, _p)
_vm_set_cpu_shares = _sig("vmm_vm_set_cpu_shares", _c_int, _p, _c_uint)
_vm_set_cpu_quota = _sig("vmm_vm_set_cpu_quota", _c_int, _p, _c_u64, _c_i64)
_vm_set_cpu_gquota = _sig("vmm_vm_set_cpu_global_quota", _c_int, _p, _c_u64, _c_i64)
_vm_resume = _sig("vmm_vm_resume", _c_int, _p)
_vm_stop = _sig("vmm_vm_stop", _c_int, _p)
_vm_pause_async = _sig("vmm_vm_pause_async", _c_int, _p, _DoneCb, _p)
_vm_pause_at = _sig("vmm_vm_pause_at", _c_int, _p, _c_u64, _DoneCb, _p)
_vm_stop_async = _sig("vmm_vm_stop_async", _c_int, _p, _DoneCb, _p)
_vm_destroy = _sig("vmm_vm_destroy", None, _p)
_vm_state = _sig("vmm_vm_state", _c_int, _p)
_vm_outcome = _sig("vmm_vm_outcome", _c_int, _p, ctypes.POINTER(_COutcome))
_vm_last_error = _sig("vmm_vm_last_error", _c_int, _p, ctypes.POINTER(_c_char_p))
_vm_console_write = _sig("vmm_vm_console_write", _c_int, _p, _c_char_p, _c_size)
_vm_engine = _sig("vmm_vm_engine", _c_char_p, _p)
_vm_vcpu_count = _sig("vmm_vm_vcpu_count", _c_uint, _p)
_vm_vcpu_stats = _sig("vmm_vm_vcpu_stats", _c_int, _p, _c_uint, ctypes.POINTER(VcpuStats))
_vm_vcpu_regs = _sig("vmm_vm_vcpu_regs", _c_int, _p, _c_uint, ctypes.POINTER(VcpuRegs))
_vm_read_phys = _sig("vmm_vm_read_phys", _c_int, _p, _c_u64, _p, _c_size)
_vm_write_phys = _sig("vmm_vm_write_phys", _c_int, _p, _c_u64, _c_char_p, _c_size)
_control_listen = _sig("vmm_control_listen", _c_int, _p, _c_char_p, ctypes.POINTER(_p))
_control_address = _sig("vmm_control_address", _c_char_p, _p)
_control_client_count = _sig("vmm_control_client_count", _c_uint, _p)
_control_quit_requested = _sig("vmm_control_quit_requested", _c_int, _p)
_control_close = _sig("vmm_control_close", None, _p)
# virtio console, named ports, vsock
_cfg_set_vcon = _sig("vmm_config_set_virtio_console", _c_int, _p, _c_int, _c_char_p)
_cfg_vcon = _sig("vmm_config_virtio_console", _c_int, _p, ctypes.POINTER(_c_char_p))
_cfg_add_port = _sig("vmm_config_add_port", _c_int, _p, _c_char_p, _c_int, _c_char_p)
_cfg_port_count = _sig("vmm_config_port_count", _c_uint, _p)
_cfg_port = _sig("vmm_config_port", _c_char_p, _p, _c_uint, ctypes.POINTER(_c_int),
                 ctypes.POINTER(_c_char_p))
_cfg_set_vsock = _sig("vmm_config_set_vsock", _c_int, _p, ctypes.c_uint32, _c_char_p)
_cfg_vsock_cid = _sig("vmm_config_vsock_cid", ctypes.c_uint32, _p)
_cfg_vsock_path = _sig("vmm_config_vsock_path", _c_char_p, _p)
_vm_port_write = _sig("vmm_vm_port_write", _c_int, _p, _c_char_p, _c_char_p, _c_size)
_vm_port_open = _sig("vmm_vm_port_open", _c_int, _p, _c_char_p)
_caps_new = _sig("vmm_caps_new", _c_int, ctypes.POINTER(_p))
_caps_free = _sig("vmm_caps_free", None, _p)
_caps_engine_count = _sig("vmm_caps_engine_count", _c_uint, _p)
_caps_engine_name = _sig("vmm_caps_engine_name", _c_char_p, _p, _c_uint)
_caps_engine_available = _sig("vmm_caps_engine_available", _c_int, _p, _c_char_p,
                              ctypes.POINTER(_c_char_p))
_caps_engine_max_vcpus = _sig("vmm_caps_engine_max_vcpus", _c_uint, _p, _c_char_p)
_caps_engine_arch = _sig("vmm_caps_engine_arch", _c_char_p, _p, _c_char_p)
_caps_feature_count = _sig("vmm_caps_feature_count", _c_uint, _p)
_caps_feature_name = _sig("vmm_caps_feature_name", _c_char_p, _p, _c_uint)
# snapshots and live migration
_SAVE_STOP, _SAVE_TRACK, _SAVE_DIFF, _RESTORE_MAP = 1, 2, 4, 1


def _save_flags(stop, track, diff):
    return (_SAVE_STOP if stop else 0) | (_SAVE_TRACK if track else 0) | (_SAVE_DIFF if diff else 0)
_vm_save = _sig("vmm_vm_save", _c_int, _p, _c_char_p, _c_uint)
_vm_save_start = _sig("vmm_vm_save_start", _c_int, _p, _c_char_p, _c_int, _c_uint, _DoneCb, _p)
_vm_save_cancel = _sig("vmm_vm_save_cancel", _c_int, _p)
_vm_save_stats = _sig("vmm_vm_save_stats", _c_int, _p, ctypes.POINTER(MigrateStats))
_vm_restore = _sig("vmm_vm_restore", _c_int, _p, _c_char_p, _p, _c_uint, ctypes.POINTER(_p))
_vm_migrate_start = _sig("vmm_vm_migrate_start", _c_int, _p, _c_int,
                         ctypes.POINTER(_CMigrateParams), _DoneCb, _p)
_vm_migrate_cancel = _sig("vmm_vm_migrate_cancel", _c_int, _p)
_vm_migrate_stats = _sig("vmm_vm_migrate_stats", _c_int, _p, ctypes.POINTER(MigrateStats))
_vm_migrate_set = _sig("vmm_vm_migrate_set", _c_int, _p, _c_u64, _c_u64)
_vm_migrate_configure = _sig("vmm_vm_migrate_configure", _c_int, _p,
                             ctypes.POINTER(_CMigrateParams))
_vm_incoming = _sig("vmm_vm_incoming", _c_int, _p, _c_int, _p, ctypes.POINTER(_p))
_free = ctypes.CDLL(None).free
_free.argtypes = [_p]

version = _version().decode()


def strerror(code):
    """The text of an error code ("invalid argument")."""
    return _strerror(code).decode()


def err_name(code):
    """The name of an error code's constant ("VMM_EINVAL")."""
    return _err_name(code).decode()


class Error(Exception):
    """A libvmm call failed: .code (negative VMM_E* value), .name ("VMM_EINVAL"),
    .text ("invalid argument"), .message (what exactly went wrong), and for
    Config.from_xml the full list of .problems."""

    def __init__(self, code, message=None, problems=()):
        self.code = code
        self.name = err_name(code)
        self.text = strerror(code)
        if message is None:
            message = (_last_error() or b"").decode(errors="replace")
        self.message = message
        self.problems = list(problems)
        super().__init__(f"{self.name}: {message}" if message else f"{self.name}: {self.text}")


def _check(rc):
    if rc < 0:
        raise Error(rc)
    return rc


def _take_string(ptr):
    """A malloc'd C string the caller must free, as str (None for NULL)."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode(errors="replace")
    finally:
        _free(ptr)


def _lines(text):
    return [line for line in (text or "").splitlines() if line]


# --- enums of the C API ---


class State(enum.IntEnum):
    DEFINED = 0
    RUNNING = 1
    PAUSED = 2
    SHUTOFF = 3
    CRASHED = 4


class OutcomeKind(enum.IntEnum):
    NONE = 0
    POWEROFF = 1
    RESET = 2
    CRASH = 3
    DEBUG_EXIT = 4
    STOPPED = 5


class Console(enum.IntEnum):
    EVENTS = 0
    NONE = 1


class Placement(enum.IntEnum):
    STATIC = 0
    AUTO = 1


class CpuMode(enum.IntEnum):
    DEFAULT = 0
    HOST_PASSTHROUGH = 1
    HOST_MODEL = 2


class ClockOffset(enum.IntEnum):
    UTC = 0
    LOCALTIME = 1


class Feature(enum.IntFlag):
    ACPI = 0x1
    APIC = 0x2
    PAE = 0x4


class LifecycleEvent(enum.IntEnum):
    POWEROFF = 0
    REBOOT = 1
    CRASH = 2


class LifecycleAction(enum.IntEnum):
    DESTROY = 0
    RESTART = 1
    PRESERVE = 2


class Chardev(enum.IntEnum):
    NONE = 0
    NULL = 1
    PTY = 2
    STDIO = 3
    FILE = 4
    UNIX = 5


class RunMode(enum.IntEnum):
    DEFAULT = 0
    ONCE = 1
    NOWAIT = 2


_XML_LENIENT, _XML_NO_HOST_CHECKS = 1, 2
_ECANCELED = -13
_EVENT_STATE, _EVENT_CONSOLE, _EVENT_RESTART, _EVENT_PORT, _EVENT_PROGRESS = 1, 2, 3, 4, 5
_EVENT_MEMORY = 6


class Outcome:
    """How a run ended: kind (OutcomeKind), exit_code, reason."""

    def __init__(self, c):
        self.kind = OutcomeKind(c.kind)
        self.exit_code = c.exit_code
        self.reason = c.reason.decode(errors="replace")

    def __repr__(self):
        return f"Outcome({self.kind.name}, exit_code={self.exit_code}, reason={self.reason!r})"


class Disk:
    """A virtio-blk disk of a Config: path, target, readonly, serial."""

    def __init__(self, path, target, readonly=False, serial=None):
        self.path, self.target, self.readonly, self.serial = path, target, readonly, serial

    def __eq__(self, other):
        return isinstance(other, Disk) and vars(self) == vars(other)

    def __repr__(self):
        return f"Disk({self.path!r}, {self.target!r}, readonly={self.readonly}, serial={self.serial!r})"


class NetType(enum.IntEnum):
    TAP = 0     # <interface type='ethernet'>: a host tap device
    UDP = 1     # type='udp': a frame per datagram (QEMU -netdev dgram)
    SERVER = 2  # type='server': length-prefixed stream (QEMU -netdev stream,server=on)
    CLIENT = 3  # type='client'


class Net:
    """A virtio-net interface of a Config: type (NetType), mac ("52:54:00:.."),
    tap and managed (TAP), address and port (UDP remote, SERVER listen,
    CLIENT server), local_address and local_port (UDP)."""

    def __init__(self, tap, mac, type=NetType.TAP, managed=False, address=None, port=0,
                 local_address=None, local_port=0):
        self.tap, self.mac, self.type, self.managed = tap, mac, NetType(type), bool(managed)
        self.address, self.port = address, port
        self.local_address, self.local_port = local_address, local_port

    def __eq__(self, other):
        return isinstance(other, Net) and vars(self) == vars(other)

    def __repr__(self):
        return (f"Net({self.tap!r}, {self.mac!r}, type={self.type!r}, managed={self.managed}, "
                f"address={self.address!r}, port={self.port}, "
                f"local_address={self.local_address!r}, local_port={self.local_port})")


class Port:
    """A named virtio-console port of a Config: name, kind (Chardev), path."""

    def __init__(self, name, kind=Chardev.PTY, path=None):
        self.name, self.kind, self.path = name, Chardev(kind), path

    def __eq__(self, other):
        return isinstance(other, Port) and vars(self) == vars(other)

    def __repr__(self):
        return f"Port({self.name!r}, {self.kind.name}, path={self.path!r})"


# --- config ---


def _str_in(value):
    return None if value is None else os.fsencode(value)


def _str_out(value):
    return None if value is None else os.fsdecode(value)


# Settings with one value: name -> (C name without vmm_config_[set_], C type,
# to C, from C). Each is a property of Config and a keyword of Config().
_SETTINGS = {
    "engine": (_c_char_p, _str_in, _str_out),
    "name": (_c_char_p, _str_in, _str_out),
    "memory": (_c_u64, int, int),
    "vcpus": (_c_uint, int, int),
    "kernel": (_c_char_p, _str_in, _str_out),
    "initrd": (_c_char_p, _str_in, _str_out),
    "cmdline": (_c_char_p, _str_in, _str_out),
    "console": (_c_int, int, Console),
    "deterministic": (_c_int, int, bool),
    "jit": (_c_int, int, bool),
    "uuid": (_c_char_p, _str_in, _str_out),
    "title": (_c_char_p, _str_in, _str_out),
    "description": (_c_char_p, _str_in, _str_out),
    "metadata": (_c_char_p, _str_in, _str_out),
    "current_memory": (_c_u64, int, int),
    "vcpu_placement": (_c_int, int, Placement),
    "vcpu_cpuset": (_c_char_p, _str_in, _str_out),
    "cpu_shares": (_c_uint, int, int),
    "memory_hard_limit": (_c_u64, int, int),
    "arch": (_c_char_p, _str_in, _str_out),
    "machine": (_c_char_p, _str_in, _str_out),
    "dtb": (_c_char_p, _str_in, _str_out),
    "loader": (_c_char_p, _str_in, _str_out),
    "cpu_mode": (_c_int, int, CpuMode),
    "clock_offset": (_c_int, int, ClockOffset),
    "features": (_c_uint, int, Feature),
    "rng": (_c_int, int, bool),
}
_ALIASES = {"firmware": "loader"}  # the name these bindings used first


# Block backends served from Python objects, kept for the life of the process
# (a VM may outlive the Config that described it).
_KEEP_ALIVE = []
# Exceptions raised by Python code running on library threads (block
# backends); the next Host.run/wait re-raises the first.
_pending_exceptions = []


class _BlockBackend:
    """Adapts a Python object to vmm_blk_backend_ops_t."""

    def __init__(self, obj):
        self.obj = obj
        self.capacity = int(obj.capacity)
        self.errors = []
        self.ops = _CBlkOps(size=ctypes.sizeof(_CBlkOps), submit=_BLK_SUBMIT(self._submit),
                            capacity=_BLK_CAPACITY(self._capacity),
                            destroy=_BLK_DESTROY(lambda _opaque: None))

    def _capacity(self, _opaque):
        return int(getattr(self.obj, "capacity", self.capacity))

    def _submit(self, _opaque, req):
        status = 0
        try:
            op = _blk_req_op(req)
            off, length = _blk_req_offset(req), _blk_req_length(req)
            iov = _p()
            n = _blk_req_buffers(req, ctypes.byref(iov))
            bufs = ctypes.cast(iov, ctypes.POINTER(_IoVec)) if n else None
            if op == 0:  # READ
                data = bytes(self.obj.read(off, length))
                if len(data) != length:
                    raise IOError(f"read returned {len(data)} bytes, wanted {length}")
                pos = 0
                for k in range(n):
                    ctypes.memmove(bufs[k].base, data[pos:pos + bufs[k].len], bufs[k].len)
                    pos += bufs[k].len
            elif op == 1:  # WRITE
                data = b"".join(ctypes.string_at(bufs[k].base, bufs[k].len) for k in range(n))
                self.obj.write(off, data)
            elif op == 2:  # FLUSH
                if hasattr(self.obj, "flush"):
                    self.obj.flush()
            else:  # DISCARD / WRITE_ZEROES
                if hasattr(self.obj, "discard") and op == 3:
                    self.obj.discard(off, length)
                elif op == 4:
                    self.obj.write(off, bytes(length))
        except BaseException as exc:  # the guest sees an I/O error; Python sees it later
            self.errors.append(exc)
            _pending_exceptions.append(exc)
            status = 1
        _blk_req_complete(req, status)


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _setting_property(name, ctype, to_c, from_c):
    setter = _sig(f"vmm_config_set_{name}", _c_int, _p, ctype)
    getter = _sig(f"vmm_config_{name}", ctype, _p)

    def get(self):
        return from_c(getter(self._handle()))

    def put(self, value):
        _check(setter(self._handle(), None if value is None else to_c(value)))

    return property(get, put, doc=f"vmm_config_{name} / vmm_config_set_{name}")


class Config:
    """A VM description. Every setting of include/vmm/config.h is here: the
    one-value ones as properties (and keywords of the constructor), the others
    as methods (set_cpu_quota, set_vcpu_pin, disable_cpu_feature,
    set_lifecycle, add_disk, add_net, set_serial). A Config is a context
    manager that frees it on exit."""

    def __init__(self, _handle=None, **settings):
        if _handle is None:
            h = _p()
            _check(_cfg_new(ctypes.byref(h)))
            _handle = h.value
        self._h = _handle
        self.warnings = []  # from from_xml()
        for key, value in settings.items():
            self.set(key, value)

    def _handle(self):
        if not self._h:
            raise ValueError("the config was closed")
        return self._h

    def set(self, key, value):
        key = _ALIASES.get(key, key)
        if key not in _SETTINGS:
            raise KeyError(f"unknown config setting {key!r}; known: {', '.join(sorted(_SETTINGS))}")
        setattr(self, key, value)

    def get(self, key):
        key = _ALIASES.get(key, key)
        if key not in _SETTINGS:
            raise KeyError(f"unknown config setting {key!r}")
        return getattr(self, key)

    # settings with more than one value

    def set_cpu_quota(self, period_us, quota_us):
        """<cputune> period and quota (-1 unlimited, 0 unset)."""
        _check(_cfg_set_cpu_quota(self._handle(), period_us, quota_us))

    @property
    def cpu_period(self):
        return _cfg_cpu_period(self._handle())

    @property
    def cpu_quota(self):
        return _cfg_cpu_quota(self._handle())

    def set_cpu_global_quota(self, period_us, quota_us):
        """<cputune> global_period and global_quota: a cap on the whole VM."""
        _check(_cfg_set_cpu_gquota(self._handle(), period_us, quota_us))

    @property
    def cpu_global_period(self):
        return _cfg_cpu_gperiod(self._handle())

    @property
    def cpu_global_quota(self):
        return _cfg_cpu_gquota(self._handle())

    def set_vcpu_pin(self, vcpu, cpuset):
        """Pins vCPU `vcpu` to host CPUs `cpuset` ("0-3,^2"); None unpins."""
        _check(_cfg_set_vcpu_pin(self._handle(), vcpu, _str_in(cpuset)))

    def vcpu_pin(self, vcpu):
        return _str_out(_cfg_vcpu_pin(self._handle(), vcpu))

    def disable_cpu_feature(self, name):
        """Hides a CPUID feature ("avx2") from an x86_64 guest."""
        _check(_cfg_cpu_disable(self._handle(), _str_in(name)))

    @property
    def disabled_cpu_features(self):
        h = self._handle()
        return [_cfg_cpu_disabled(h, i).decode() for i in range(_cfg_cpu_disabled_count(h))]

    def set_lifecycle(self, event, action):
        """What LifecycleEvent `event` does: a LifecycleAction."""
        _check(_cfg_set_lifecycle(self._handle(), int(event), int(action)))

    def lifecycle(self, event):
        return LifecycleAction(_cfg_lifecycle(self._handle(), int(event)))

    def add_disk(self, path, target, readonly=False, serial=None, backend=None):
        """A virtio-blk disk: the raw image file `path`, or (path None) the
        Python object `backend`, which serves the guest's requests:
        backend.capacity (bytes, a multiple of 512), backend.read(offset,
        length) -> bytes, backend.write(offset, data), and optionally
        backend.flush() and backend.discard(offset, length). They are called on
        the disk's worker thread; an exception becomes an I/O error the guest
        sees (and is re-raised from the next wait/run call)."""
        d = _CDisk(size=ctypes.sizeof(_CDisk), path=_str_in(path), target=_str_in(target),
                   readonly=1 if readonly else 0, serial=_str_in(serial))
        if backend is not None:
            served = _BlockBackend(backend)
            d.backend = ctypes.pointer(served.ops)
            d.capacity = served.capacity
            # The callbacks must outlive every VM made from this config.
            _KEEP_ALIVE.append(served)
        _check(_cfg_add_disk(self._handle(), ctypes.byref(d)))

    @property
    def disks(self):
        h, out = self._handle(), []
        for i in range(_cfg_disk_count(h)):
            d = _cfg_disk(h, i).contents
            out.append(Disk(_str_out(d.path), _str_out(d.target), bool(d.readonly),
                            _str_out(d.serial)))
        return out

    @staticmethod
    def _mac_bytes(mac):
        parts = mac.split(":")
        if len(parts) != 6:
            raise ValueError(f"MAC address {mac!r} is not six colon-separated bytes")
        return (ctypes.c_uint8 * 6)(*(int(p, 16) for p in parts))

    def add_net(self, tap, mac=None):
        """A NIC on existing host tap device `tap`; mac "52:54:00:12:34:56" or None
        (generated)."""
        raw = self._mac_bytes(mac) if mac is not None else None
        _check(_cfg_add_net(self._handle(), _str_in(tap),
                            ctypes.cast(raw, _p) if raw is not None else None))

    def add_nic(self, type=NetType.TAP, mac=None, tap=None, managed=False, address=None,
                port=0, local_address=None, local_port=0):
        """A NIC of any NetType (vmm_config_add_nic): TAP with tap/managed (managed
        creates the tap and removes it at the end), UDP with address/port (remote)
        and local_address/local_port, SERVER with [address]/port to listen on,
        CLIENT with the server's address/port. mac None = generated."""
        c = _CNet(size=ctypes.sizeof(_CNet), tap=_str_in(tap), type=int(NetType(type)),
                  managed=1 if managed else 0, address=_str_in(address), port=port,
                  local_address=_str_in(local_address), local_port=local_port)
        if mac is not None:
            c.mac = self._mac_bytes(mac)
        _check(_cfg_add_nic(self._handle(), ctypes.byref(c)))

    @property
    def nets(self):
        h, out = self._handle(), []
        for i in range(_cfg_net_count(h)):
            n = _cfg_net(h, i).contents
            out.append(Net(_str_out(n.tap), ":".join(f"{b:02x}" for b in n.mac),
                           NetType(n.type), bool(n.managed), _str_out(n.address), n.port,
                           _str_out(n.local_address), n.local_port))
        return out

    def set_serial(self, kind, path=None):
        """The serial console: a Chardev, with a path for Chardev.FILE."""
        _check(_cfg_set_serial(self._handle(), int(kind), _str_in(path)))

    @property
    def serial(self):
        path = _c_char_p()
        kind = _cfg_serial(self._handle(), ctypes.byref(path))
        return Chardev(kind), _str_out(path.value)

    # virtio console, named ports, vsock

    def set_virtio_console(self, kind, path=None):
        """The VM's console on a virtio-console (hvc0) instead of the UART: a
        Chardev (NONE removes it), with a path for Chardev.UNIX."""
        _check(_cfg_set_vcon(self._handle(), int(kind), _str_in(path)))

    @property
    def virtio_console(self):
        path = _c_char_p()
        kind = _cfg_vcon(self._handle(), ctypes.byref(path))
        return Chardev(kind), _str_out(path.value)

    def add_port(self, name, kind=Chardev.PTY, path=None):
        """A named virtio-console port (/dev/vport*p*): VM.port_write() and
        VM.on_port reach it."""
        _check(_cfg_add_port(self._handle(), _str_in(name), int(kind), _str_in(path)))

    @property
    def ports(self):
        h, out = self._handle(), []
        for i in range(_cfg_port_count(h)):
            kind, path = _c_int(), _c_char_p()
            name = _cfg_port(h, i, ctypes.byref(kind), ctypes.byref(path))
            out.append(Port(_str_out(name), kind.value, _str_out(path.value)))
        return out

    def set_balloon(self, on=True, deflate_on_oom=False, free_page_reporting=False,
                    stats_period=0):
        """A virtio-balloon (<memballoon model='virtio'>); on=False removes it.
        stats_period: seconds between the guest's statistics reports."""
        flags = ((BALLOON_DEFLATE_ON_OOM if deflate_on_oom else 0)
                 | (BALLOON_FREE_PAGE_REPORTING if free_page_reporting else 0))
        _check(_cfg_set_balloon(self._handle(), int(bool(on)), flags, stats_period))

    @property
    def balloon(self):
        """None without a balloon, else a dict of its settings."""
        flags, period = _c_uint(), _c_uint()
        if not _cfg_balloon(self._handle(), ctypes.byref(flags), ctypes.byref(period)):
            return None
        return {"deflate_on_oom": bool(flags.value & BALLOON_DEFLATE_ON_OOM),
                "free_page_reporting": bool(flags.value & BALLOON_FREE_PAGE_REPORTING),
                "stats_period": period.value}

    def set_vsock(self, cid, path=None):
        """A virtio-vsock with guest CID `cid` (0 removes it) and the host
        side's unix socket `path` (Firecracker's CONNECT convention)."""
        _check(_cfg_set_vsock(self._handle(), cid, _str_in(path)))

    @property
    def vsock(self):
        """(cid, path); cid 0 when there is no vsock device."""
        h = self._handle()
        return _cfg_vsock_cid(h), _str_out(_cfg_vsock_path(h))

    # the config as a whole

    def validate(self):
        """Checks the config against this host; returns the list of problems
        (empty when there is none)."""
        problems = _p()
        _cfg_validate(self._handle(), ctypes.byref(problems))
        return _lines(_take_string(problems))

    def clone(self):
        h = _p()
        _check(_cfg_clone(self._handle(), ctypes.byref(h)))
        return Config(_handle=h.value)

    @classmethod
    def _from(cls, rc, handle, warnings):
        text = _take_string(warnings)
        if rc < 0:
            raise Error(rc, problems=_lines(text))
        cfg = cls(_handle=handle.value)
        cfg.warnings = _lines(text)
        return cfg

    @classmethod
    def from_xml(cls, text, lenient=False, host_checks=True):
        """Reads libvirt domain XML. Returns a Config whose .warnings lists
        what was ignored; raises Error whose .problems lists every problem."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        flags = (_XML_LENIENT if lenient else 0) | (0 if host_checks else _XML_NO_HOST_CHECKS)
        h, warnings = _p(), _p()
        rc = _cfg_from_xml(data, len(data), flags, ctypes.byref(h), ctypes.byref(warnings))
        return cls._from(rc, h, warnings)

    @classmethod
    def from_xml_file(cls, path, lenient=False, host_checks=True):
        flags = (_XML_LENIENT if lenient else 0) | (0 if host_checks else _XML_NO_HOST_CHECKS)
        h, warnings = _p(), _p()
        rc = _cfg_from_xml_file(os.fsencode(path), flags, ctypes.byref(h), ctypes.byref(warnings))
        return cls._from(rc, h, warnings)

    def to_xml(self):
        out = _p()
        _check(_cfg_to_xml(self._handle(), ctypes.byref(out)))
        return _take_string(out)

    def close(self):
        if getattr(self, "_h", None):
            _cfg_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


for _name, (_ctype, _to_c, _from_c) in _SETTINGS.items():
    setattr(Config, _name, _setting_property(_name, _ctype, _to_c, _from_c))
del _name, _ctype, _to_c, _from_c


# --- capabilities ---


class Capabilities:
    """What this host and library can do (vmm_caps_*): .engines maps an
    engine name to a dict(available, why, max_vcpus, arch); .features is
    the set of feature names ("xml", "deterministic", ...)."""

    def __init__(self):
        h = _p()
        _check(_caps_new(ctypes.byref(h)))
        try:
            self.engines = {}
            for i in range(_caps_engine_count(h)):
                name = _caps_engine_name(h, i)
                why = _c_char_p()
                available = _check(_caps_engine_available(h, name, ctypes.byref(why)))
                self.engines[name.decode()] = {
                    "available": bool(available),
                    "why": (why.value or b"").decode(errors="replace"),
                    "max_vcpus": _caps_engine_max_vcpus(h, name),
                    "arch": _caps_engine_arch(h, name).decode(),
                }
            self.features = {_caps_feature_name(h, i).decode()
                             for i in range(_caps_feature_count(h))}
        finally:
            _caps_free(h)

    def __repr__(self):
        return f"Capabilities(engines={self.engines!r}, features={sorted(self.features)!r})"


def capabilities():
    """Probes the host: a Capabilities object."""
    return Capabilities()


# --- host and VMs ---


class Host:
    """A host context with its own event loop and memory pool. A context
    manager: leaving it destroys the VMs and frees the host."""

    def __init__(self, memory_limit=0, overcommit=1.0, workers=0):
        h = _p()
        _check(_host_new(ctypes.byref(h), None))
        self._h = h.value
        self._vms = []
        self._pending = None  # the first exception a callback raised
        self._done = {}       # id -> (VM, callback) of pending async operations
        self._next_done = 1
        if memory_limit:
            _check(_host_set_limit(self._h, memory_limit))
        if overcommit != 1.0:
            _check(_host_set_overcommit(self._h, overcommit))
        if workers:
            self.workers = workers

    def _handle(self):
        if not self._h:
            raise ValueError("the host was closed")
        return self._h

    @property
    def memory_used(self):
        return _host_used(self._handle())

    @property
    def workers(self):
        """Worker threads of the vCPU scheduler pool (soft engine)."""
        return _host_workers(self._handle())

    @workers.setter
    def workers(self, n):
        """0: one per host CPU; set before the first VM starts."""
        _check(_host_set_workers(self._handle(), n))

    @property
    def cgroup_parent(self):
        """Where kvm VMs' cgroups are made (None: the process's own cgroup)."""
        return _str_out(_host_cgroup_parent(self._handle()))

    @cgroup_parent.setter
    def cgroup_parent(self, path):
        _check(_host_set_cgroup_parent(self._handle(), _str_in(path)))

    @property
    def memory_limit(self):
        """The pool's limit in bytes (what the VMs may commit together)."""
        return _host_limit(self._handle())

    @memory_limit.setter
    def memory_limit(self, value):
        _check(_host_set_limit(self._handle(), value))

    @property
    def overcommit(self):
        """How many times its limit the pool hands out as guest RAM (1.0: none)."""
        return _host_overcommit(self._handle())

    @overcommit.setter
    def overcommit(self, ratio):
        _check(_host_set_overcommit(self._handle(), float(ratio)))

    @property
    def memory_touched(self):
        """Guest RAM all VMs of the host have committed now, bytes."""
        return _host_touched(self._handle())

    @property
    def backend_fd(self):
        """The loop's file descriptor, readable when run() has work."""
        return _check(_host_backend_fd(self._handle()))

    @property
    def backend_timeout(self):
        """Milliseconds until run() must be called even without fd activity (-1: none)."""
        t = _c_int()
        _check(_host_backend_timeout(self._handle(), ctypes.byref(t)))
        return t.value

    def create_vm(self, config):
        h = _p()
        _check(_vm_create(self._handle(), config._handle(), ctypes.byref(h)))
        vm = VM(self, h.value)
        self._vms.append(vm)
        return vm

    def _adopt(self, rc, h):
        _check(rc)
        vm = VM(self, h.value)
        self._vms.append(vm)
        return vm

    def restore(self, path, expect=None, map=False):
        """A VM from the snapshot file at `path` (written by VM.save), in the
        DEFINED state: start() continues the guest where it was saved.
        `expect` (a Config) must then equal the saved configuration; map=True
        maps guest memory copy-on-write from the file (fast; clones share
        pages). A refused file raises Error naming what is wrong."""
        h = _p()
        rc = _vm_restore(self._handle(), os.fsencode(path),
                         expect._handle() if expect is not None else None,
                         _RESTORE_MAP if map else 0, ctypes.byref(h))
        return self._adopt(rc, h)

    def incoming(self, fd, expect=None):
        """The destination of a live migration: reads the stream from file
        descriptor `fd` (blocking until the source finishes; the fd stays
        open) and returns the VM it carried, DEFINED: start() continues it."""
        h = _p()
        rc = _vm_incoming(self._handle(), fd,
                          expect._handle() if expect is not None else None, ctypes.byref(h))
        return self._adopt(rc, h)

    def _keep(self, exc):
        if self._pending is None:
            self._pending = exc

    def _raise_pending(self):
        exc, self._pending = self._pending, None
        if exc is None and _pending_exceptions:
            exc = _pending_exceptions.pop(0)
        if exc is not None:
            raise exc

    def run(self, mode=RunMode.DEFAULT):
        """vmm_host_run(): DEFAULT until no VM runs and nothing is pending;
        ONCE / NOWAIT one loop iteration (blocking or not), returning how
        many VMs and operations are left. Raises what a callback raised."""
        try:
            return _check(_host_run(self._handle(), int(mode)))
        finally:
            self._raise_pending()

    def poll(self):
        """Runs the loop once without blocking: delivers pending events."""
        return self.run(RunMode.NOWAIT)

    def wait_for(self, predicate, timeout=30.0):
        """Drives the loop until predicate() is true or timeout seconds pass;
        returns predicate()'s last value. Sleeps on the loop's fd meanwhile."""
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(self.backend_fd, select.POLLIN)
        while True:
            self.poll()
            if predicate():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return predicate()
            wait_ms = self.backend_timeout
            cap = int(min(left, 0.25) * 1000) + 1  # re-check the predicate now and then
            poller.poll(cap if wait_ms < 0 else min(wait_ms, cap))

    def close(self):
        for vm in list(self._vms):
            vm.destroy()
        if self._h:
            _host_run(self._h, int(RunMode.NOWAIT))  # completes handle closes
            _check(_host_free(self._h))
            self._h = None
        self._raise_pending()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@_DoneCb
def _on_done(_vm, status, key):
    """The one C completion callback: finds the Python one by key."""
    host = _hosts_by_done_key.pop(key, None)
    if host is None:
        return
    vm, callback = host._done.pop(key)
    if callback is None:
        return
    if status == 0:
        error = None
    elif status == _ECANCELED:
        error = Error(status, "the VM was destroyed before the operation completed")
    else:
        error = Error(status, vm._last_error_message())
    try:
        callback(vm, error)
    except BaseException as exc:  # noqa: B902 - kept and raised from run()
        host._keep(exc)


_hosts_by_done_key = {}


class VM:
    """A virtual machine. Set on_console (bytes -> None), on_state
    ((old State, new State) -> None), on_restart ((Outcome, count) -> None)
    on_port ((name, bytes, open) -> None; bytes empty when only the
    guest's open state changed), on_progress (Progress -> None: a save or
    migration moving on; a copy) and on_memory ((MemoryEvent, dict of
    touched, limit, pool_touched, ballooned) -> None) to receive events. A
    context manager:
    leaving it destroys the VM."""

    def __init__(self, host, handle):
        self._host, self._h = host, handle
        self.on_console = None
        self.on_state = None
        self.on_restart = None
        self._controls = []
        self.on_port = None
        self.on_memory = None
        self.on_progress = None
        self._cb = _EventCb(self._event)  # keep a reference for the C side
        _vm_set_cb(self._h, self._cb, None)

    def _handle(self):
        if not self._h:
            raise ValueError("the VM was destroyed")
        return self._h

    def _event(self, ev_p, _opaque):
        try:
            ev = ev_p.contents
            if ev.type == _EVENT_CONSOLE and self.on_console:
                self.on_console(ctypes.string_at(ev.u.console.data, ev.u.console.len))
            elif ev.type == _EVENT_STATE and self.on_state:
                self.on_state(State(ev.u.state.old_state), State(ev.u.state.new_state))
            elif ev.type == _EVENT_RESTART and self.on_restart:
                self.on_restart(Outcome(ev.u.restart.previous), ev.u.restart.count)
            elif ev.type == _EVENT_PORT and self.on_port:
                p = ev.u.port
                data = ctypes.string_at(p.data, p.len) if p.len else b""
                self.on_port(p.name.decode(errors="replace"), data, bool(p.open))
            elif ev.type == _EVENT_MEMORY and self.on_memory:
                m = ev.u.memory
                self.on_memory(MemoryEvent(m.what), {
                    "touched": m.touched, "limit": m.limit, "pool_touched": m.pool_touched,
                    "ballooned": m.ballooned})
            elif ev.type == _EVENT_PROGRESS and self.on_progress:
                copy = Progress()
                ctypes.pointer(copy)[0] = ev.u.progress
                self.on_progress(copy)
        except BaseException as exc:  # noqa: B902 - kept and raised from run()
            self._host._keep(exc)

    def disk_refresh(self, target):
        """Re-reads disk `target`'s size (image file or backend capacity) and
        tells the guest when it changed; returns the size in bytes."""
        size = _c_u64()
        _check(_vm_disk_refresh(self._handle(), _str_in(target), ctypes.byref(size)))
        return size.value

    def start(self):
        _check(_vm_start(self._handle()))

    def pause(self):
        _check(_vm_pause(self._handle()))

    def set_cpu_shares(self, shares):
        """The VM's scheduler weight at run time (libvirt shares; 0 = default)."""
        _check(_vm_set_cpu_shares(self._handle(), shares))

    def set_cpu_quota(self, period_us, quota_us):
        """Caps each vCPU at quota_us per period_us at run time (quota -1/0 lifts it)."""
        _check(_vm_set_cpu_quota(self._handle(), period_us, quota_us))

    def set_cpu_global_quota(self, period_us, quota_us):
        """Caps the whole VM at quota_us per period_us at run time."""
        _check(_vm_set_cpu_gquota(self._handle(), period_us, quota_us))

    def resume(self):
        _check(_vm_resume(self._handle()))

    def stop(self):
        _check(_vm_stop(self._handle()))

    def save(self, path, stop=False, track=False, diff=False):
        """Writes the whole machine to the snapshot file `path` (it appears
        only once complete). A running VM pauses for the write and runs on,
        or is stopped with stop=True. track=True starts a chain of diff
        snapshots; diff=True writes only the pages written since the last
        track/diff save, naming that file as its parent (restore needs the
        whole chain in place)."""
        _check(_vm_save(self._handle(), os.fsencode(path), _save_flags(stop, track, diff)))

    def save_async(self, path=None, fd=None, stop=False, callback=None, track=False, diff=False):
        """save() without blocking the loop: the VM pauses, a library thread
        writes the snapshot to `path` or to the regular file open as `fd`
        (exactly one), then the VM resumes (or stops with stop=True) and
        callback(vm, error) runs from the loop (error None on success).
        on_progress sees the bytes written meanwhile."""
        if (path is None) == (fd is None):
            raise ValueError("give path or fd")
        cpath = os.fsencode(path) if path is not None else None
        cfd = -1 if fd is None else fd
        flags = _save_flags(stop, track, diff)
        self._async(lambda h, cb, key: _vm_save_start(h, cpath, cfd, flags, cb, key), callback)

    def save_cancel(self):
        """Stops a running save_async(); its callback gets the cancellation."""
        _check(_vm_save_cancel(self._handle()))

    def save_stats(self):
        """MigrateStats of the running or last save_async() (ram_transferred:
        guest memory written out so far)."""
        s = MigrateStats(size=ctypes.sizeof(MigrateStats))
        _check(_vm_save_stats(self._handle(), ctypes.byref(s)))
        return s

    def migrate(self, fd, max_bandwidth=0, downtime_limit_ms=0, max_rounds=0, callback=None,
                auto_converge=None, throttle_initial=0, throttle_increment=0, throttle_max=0):
        """Starts a live migration over the connected stream fd (socket or
        file; not closed by the library). callback(vm, error) runs from the
        loop when it ends: error None means the guest now runs at the
        destination and this VM is shut off; otherwise the VM runs on here.
        0 (None for auto_converge) keeps each setting as it was, initially the
        default: no bandwidth cap, 300 ms downtime, 30 rounds, auto-converge
        on (a guest dirtying faster than the link is held 20 %, then 10 % more
        a round, up to 99 % of the time)."""
        params = _migrate_params(max_bandwidth, downtime_limit_ms, max_rounds, auto_converge,
                                 throttle_initial, throttle_increment, throttle_max)
        self._async(lambda h, cb, key: _vm_migrate_start(h, fd, ctypes.byref(params), cb, key),
                    callback)

    def migrate_cancel(self):
        """Asks the running migration to stop; the VM keeps running here."""
        _check(_vm_migrate_cancel(self._handle()))

    def migrate_set(self, max_bandwidth=0, downtime_limit_ms=0):
        """Changes the limits of a running or future migration (0: unchanged)."""
        _check(_vm_migrate_set(self._handle(), max_bandwidth, downtime_limit_ms))

    def migrate_configure(self, **settings):
        """Changes any setting migrate() takes (same names, same meaning) for a
        running or future migration."""
        params = _migrate_params(**settings)
        _check(_vm_migrate_configure(self._handle(), ctypes.byref(params)))

    def migrate_stats(self):
        """MigrateStats of the current or last migration."""
        s = MigrateStats(size=ctypes.sizeof(MigrateStats))
        _check(_vm_migrate_stats(self._handle(), ctypes.byref(s)))
        return s

    def _async(self, fn, callback):
        host = self._host
        key = host._next_done
        host._next_done += 1
        host._done[key] = (self, callback)
        _hosts_by_done_key[key] = host
        rc = fn(self._handle(), _on_done, key)
        if rc < 0:
            host._done.pop(key, None)
            _hosts_by_done_key.pop(key, None)
            raise Error(rc)

    def pause_async(self, callback=None):
        """Starts pausing; callback(vm, error) runs from the loop once every
        vCPU is parked (error None) or the run ended first (an Error)."""
        self._async(_vm_pause_async, callback)

    def pause_at(self, instructions, callback=None):
        """Pauses once vCPU 0 retired `instructions` (soft engine): at the
        first block end at or after it, the same one in every deterministic
        run. callback(vm, error) runs from the loop when it paused."""
        self._async(lambda h, cb, key: _vm_pause_at(h, instructions, cb, key), callback)

    def stop_async(self, callback=None):
        """Starts a forced stop; callback(vm, error) runs from the loop once
        the VM is shut off."""
        self._async(_vm_stop_async, callback)

    @property
    def state(self):
        return State(_vm_state(self._handle()))

    @property
    def engine(self):
        return _vm_engine(self._handle()).decode()

    @property
    def outcome(self):
        c = _COutcome(size=ctypes.sizeof(_COutcome))
        _check(_vm_outcome(self._handle(), ctypes.byref(c)))
        return Outcome(c)

    def _last_error_message(self):
        msg = _c_char_p()
        _vm_last_error(self._handle(), ctypes.byref(msg))
        return (msg.value or b"").decode(errors="replace")

    @property
    def last_error(self):
        """The VM's last asynchronous failure (a crash, a failed restart or
        async operation) as an Error, or None."""
        msg = _c_char_p()
        code = _vm_last_error(self._handle(), ctypes.byref(msg))
        return Error(code, (msg.value or b"").decode(errors="replace")) if code else None

    def console_write(self, data):
        data = data.encode() if isinstance(data, str) else bytes(data)
        _check(_vm_console_write(self._handle(), data, len(data)))

    def port_write(self, name, data):
        """Queues bytes for named port `name`; Error VMM_EBUSY when its buffer is full."""
        data = data.encode() if isinstance(data, str) else bytes(data)
        _check(_vm_port_write(self._handle(), _str_in(name), data, len(data)))

    def port_open(self, name):
        """Whether a guest program has port `name` open."""
        return bool(_check(_vm_port_open(self._handle(), _str_in(name))))

    def read_phys(self, gpa, length):
        buf = ctypes.create_string_buffer(length)
        _check(_vm_read_phys(self._handle(), gpa, buf, length))
        return buf.raw

    def write_phys(self, gpa, data):
        data = bytes(data)
        _check(_vm_write_phys(self._handle(), gpa, data, len(data)))

    def memory_stats(self):
        """The VM's memory figures (a MemoryStats; .as_dict() for a dict)."""
        s = MemoryStats(size=ctypes.sizeof(MemoryStats))
        _check(_vm_memory_stats(self._handle(), ctypes.byref(s)))
        return s

    def set_balloon_target(self, guest_bytes):
        """Asks the guest to keep `guest_bytes` of RAM and balloon the rest
        (QMP's `balloon`)."""
        _check(_vm_set_balloon_target(self._handle(), guest_bytes))

    @property
    def balloon_target(self):
        return _vm_balloon_target(self._handle())

    def balloon_request_stats(self):
        """Asks the guest for fresh memory statistics (on_memory STATS follows)."""
        _check(_vm_balloon_request_stats(self._handle()))

    def set_memory_limit(self, limit):
        """The VM's own limit on committed guest RAM (0: none); the VM is
        paused with on_memory LIMIT_REACHED when it passes it."""
        _check(_vm_set_memory_limit(self._handle(), limit))

    def vcpu_count(self):
        return _vm_vcpu_count(self._handle())

    def vcpu_stats(self, index=0):
        s = VcpuStats(size=ctypes.sizeof(VcpuStats))
        _check(_vm_vcpu_stats(self._handle(), index, ctypes.byref(s)))
        return s

    def vcpu_regs(self, index=0):
        r = VcpuRegs(size=ctypes.sizeof(VcpuRegs))
        _check(_vm_vcpu_regs(self._handle(), index, ctypes.byref(r)))
        return r

    def wait_for(self, predicate, timeout=30.0):
        """Drives the loop until predicate() is true or timeout seconds pass;
        returns predicate()'s last value."""
        return self._host.wait_for(predicate, timeout)

    def wait(self, timeout=None):
        """Drives the loop until the VM is shut off or crashed; returns its Outcome."""
        final = (State.SHUTOFF, State.CRASHED)
        if not self.wait_for(lambda: self.state in final,
                             float("inf") if timeout is None else timeout):
            raise TimeoutError(f"VM still {self.state.name} after {timeout} s")
        return self.outcome

    def control_listen(self, address):
        """Serves QMP for this VM on `address`, "unix:PATH" or
        "tcp:HOST:PORT" (vmm_control_listen()); returns a Control. The
        server runs on the host's loop: drive it (wait(), wait_for(),
        poll()) for clients to be answered."""
        h = _p()
        _check(_control_listen(self._handle(), _str_in(address), ctypes.byref(h)))
        ctl = Control(self, h.value)
        self._controls.append(ctl)
        return ctl

    def destroy(self):
        for ctl in list(self._controls):
            ctl.close()
        if self._h:
            _vm_destroy(self._h)  # pending async callbacks run now (canceled)
            self._h = None
            self._host._vms.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()


# --- the control socket (vmm/control.h) and a QMP client ---


class Control:
    """A QMP control socket serving a VM (VM.control_listen()). A context
    manager: leaving it closes the socket and disconnects its clients."""

    def __init__(self, vm, handle):
        self._vm, self._h = vm, handle

    def _handle(self):
        if not self._h:
            raise ValueError("the control socket was closed")
        return self._h

    @property
    def address(self):
        """"unix:PATH" or "tcp:HOST:PORT" with the port actually bound."""
        return _control_address(self._handle()).decode()

    @property
    def client_count(self):
        return _control_client_count(self._handle())

    @property
    def quit_requested(self):
        """True once a client's "quit" was accepted."""
        return bool(_control_quit_requested(self._handle()))

    def close(self):
        if self._h:
            _control_close(self._h)
            self._h = None
            if self in self._vm._controls:
                self._vm._controls.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class QMPError(Exception):
    """An {"error": ...} reply: .cls is the QMP error class
    ("GenericError", "CommandNotFound"...), .desc the server's text."""

    def __init__(self, cls, desc, reply=None):
        super().__init__(f"{cls}: {desc}")
        self.cls, self.desc, self.reply = cls, desc, reply


class QMPClient:
    """A small QMP client: connects to `address` (a Unix socket path,
    "unix:PATH" or "tcp:HOST:PORT"), reads the greeting (.greeting) and
    negotiates capabilities. execute() sends a command and returns its
    "return" value or raises QMPError; events that arrive meanwhile are kept
    in .events (dicts, oldest first) and wait_event() waits for one.

    When the server runs in this very thread (a libvmm VM driven by this
    program), pass pump=host.poll: the client calls it while it waits, so
    the loop serving the socket keeps turning. A context manager."""

    def __init__(self, address, pump=None, timeout=30.0, negotiate=True):
        self._pump, self.timeout = pump, timeout
        self._buf = b""
        self.events = []
        self._sock = self._connect(address)
        try:
            self.greeting = self._read()
            if "QMP" not in self.greeting:
                raise QMPError("ProtocolError", f"not a QMP greeting: {self.greeting!r}")
            if negotiate:
                self.execute("qmp_capabilities")
        except BaseException:
            self.close()
            raise

    def _connect(self, address):
        if address.startswith("tcp:"):
            host, _, port = address[4:].rpartition(":")
            host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
            sock = socket.create_connection((host, int(port)), self.timeout)
        else:
            path = address[5:] if address.startswith("unix:") else address
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(path)
            except BaseException:
                sock.close()
                raise
        sock.setblocking(False)
        return sock

    def _wait_readable(self, deadline):
        """Waits until the socket has data, pumping the loop if asked."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"QMP: no message within {self.timeout} s")
            step = min(left, 0.01) if self._pump else left
            if self._pump:
                self._pump()
            readable, _, _ = select.select([self._sock], [], [], step)
            if readable:
                return

    def _read(self):
        """The next message from the server (a dict)."""
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buf:
            self._wait_readable(deadline)
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                raise ConnectionError("QMP: the server closed the connection")
            self._buf += data
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def send_raw(self, data):
        """Sends bytes as they are (for tests of the server's robustness)."""
        data = data.encode() if isinstance(data, str) else bytes(data)
        deadline = time.monotonic() + self.timeout
        while data:
            try:
                sent = self._sock.send(data)
                data = data[sent:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError("QMP: the server does not read") from None
                if self._pump:
                    self._pump()
                select.select([], [self._sock], [], 0.01)

    def read_reply(self):
        """The next reply (a dict with "return" or "error"); events before
        it go to .events."""
        while True:
            msg = self._read()
            if "event" in msg:
                self.events.append(msg)
            else:
                return msg

    def execute(self, command, arguments=None, id=None):
        """Runs `command` with `arguments` (a dict); returns the "return"
        value, or raises QMPError."""
        req = {"execute": command}
        if arguments is not None:
            req["arguments"] = arguments
        if id is not None:
            req["id"] = id
        self.send_raw(json.dumps(req) + "\n")
        reply = self.read_reply()
        if "error" in reply:
            err = reply["error"]
            raise QMPError(err.get("class", ""), err.get("desc", ""), reply)
        return reply.get("return")

    def wait_event(self, name, timeout=None):
        """Removes and returns the first event called `name`, waiting up to
        `timeout` seconds (the client's timeout by default) for it."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("event") == name:
                    return self.events.pop(i)
            saved, self.timeout = self.timeout, max(deadline - time.monotonic(), 0.001)
            try:
                msg = self._read()
            except TimeoutError:
                raise TimeoutError(f"QMP: no {name} event in time") from None
            finally:
                self.timeout = saved
            if "event" in msg:
                self.events.append(msg)

    def close(self):
        if getattr(self, "_sock", None):
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
