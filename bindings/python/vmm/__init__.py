"""Python bindings for libvmm (ctypes), the embeddable virtual machine monitor.

    import vmm
    host = vmm.Host()
    cfg = vmm.Config(kernel="Image", initrd="initramfs.cpio.gz",
                     cmdline="console=ttyS0", memory=256 << 20, vcpus=2)
    vm = host.create_vm(cfg)
    vm.on_console = lambda data: print(data.decode(errors="replace"), end="")
    vm.start()
    outcome = vm.wait()          # runs libvmm's loop until the guest ends
    vm.destroy(); host.close()

Every libvmm error raises vmm.Error with the code's name and the library's
message (which names the offending value and the limit). Callbacks run on
the thread that drives the loop (the one calling wait()/wait_for()/poll()).
The shared library is found through $LIBVMM_LIBRARY, then the system's
library path (libvmm.so.0).
"""

import ctypes
import ctypes.util
import enum
import os
import time

__all__ = ["Error", "State", "OutcomeKind", "Outcome", "Config", "Host", "VM", "VcpuStats"]


def _load():
    path = os.environ.get("LIBVMM_LIBRARY") or ctypes.util.find_library("vmm") or "libvmm.so.0"
    return ctypes.CDLL(path)


_lib = _load()
_c_int, _c_uint, _c_u64, _c_size = ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_size_t
_p = ctypes.c_void_p


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


class _COutcome(ctypes.Structure):
    _fields_ = [("kind", _c_int), ("exit_code", _c_int), ("reason", ctypes.c_char * 256)]


class Outcome:
    """How a run ended: kind (OutcomeKind), exit_code, reason."""

    def __init__(self, c):
        self.kind = OutcomeKind(c.kind)
        self.exit_code = c.exit_code
        self.reason = c.reason.decode(errors="replace")

    def __repr__(self):
        return f"Outcome({self.kind.name}, exit_code={self.exit_code}, reason={self.reason!r})"


class VcpuStats(ctypes.Structure):
    _fields_ = [(name, _c_u64) for name in (
        "exits", "io_exits", "mmio_exits", "halts", "hypercalls", "instructions",
        "tlb_hits", "tlb_misses", "tlb_flushes")]


class _StateEv(ctypes.Structure):
    _fields_ = [("old_state", _c_int), ("new_state", _c_int)]


class _ConsoleEv(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("len", _c_size)]


class _RestartEv(ctypes.Structure):
    _fields_ = [("previous", _COutcome), ("count", _c_uint)]


class _EvUnion(ctypes.Union):
    _fields_ = [("state", _StateEv), ("console", _ConsoleEv), ("restart", _RestartEv)]


class _Event(ctypes.Structure):
    _fields_ = [("type", _c_int), ("vm", _p), ("u", _EvUnion)]


_EVENT_STATE, _EVENT_CONSOLE, _EVENT_RESTART = 1, 2, 3
_EventCb = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Event), _p)


def _sig(name, res, *args):
    fn = getattr(_lib, name)
    fn.restype = res
    fn.argtypes = list(args)
    return fn


_strerror = _sig("vmm_strerror", ctypes.c_char_p, _c_int)
_last_error = _sig("vmm_last_error", ctypes.c_char_p)
_version = _sig("vmm_version", ctypes.c_char_p)
_host_new = _sig("vmm_host_new", _c_int, ctypes.POINTER(_p), _p)
_host_free = _sig("vmm_host_free", _c_int, _p)
_host_loop = _sig("vmm_host_loop", _p, _p)
_host_set_limit = _sig("vmm_host_set_memory_limit", _c_int, _p, _c_u64)
_host_used = _sig("vmm_host_memory_used", _c_u64, _p)
_cfg_new = _sig("vmm_config_new", _c_int, ctypes.POINTER(_p))
_cfg_free = _sig("vmm_config_free", None, _p)
_cfg_from_xml = _sig("vmm_config_from_xml", _c_int, ctypes.c_char_p, _c_size, _c_uint,
                     ctypes.POINTER(_p), ctypes.POINTER(_p))
_cfg_to_xml = _sig("vmm_config_to_xml", _c_int, _p, ctypes.POINTER(_p))
_vm_create = _sig("vmm_vm_create", _c_int, _p, _p, ctypes.POINTER(_p))
_vm_set_cb = _sig("vmm_vm_set_event_cb", None, _p, _EventCb, _p)
_vm_start = _sig("vmm_vm_start", _c_int, _p)
_vm_pause = _sig("vmm_vm_pause", _c_int, _p)
_vm_resume = _sig("vmm_vm_resume", _c_int, _p)
_vm_stop = _sig("vmm_vm_stop", _c_int, _p)
_vm_destroy = _sig("vmm_vm_destroy", None, _p)
_vm_state = _sig("vmm_vm_state", _c_int, _p)
_vm_outcome = _sig("vmm_vm_outcome", None, _p, ctypes.POINTER(_COutcome))
_vm_console_write = _sig("vmm_vm_console_write", _c_int, _p, ctypes.c_char_p, _c_size)
_vm_engine = _sig("vmm_vm_engine", ctypes.c_char_p, _p)
_vm_vcpu_count = _sig("vmm_vm_vcpu_count", _c_uint, _p)
_vm_vcpu_stats = _sig("vmm_vm_vcpu_stats", _c_int, _p, _c_uint, ctypes.POINTER(VcpuStats))
_vm_read_phys = _sig("vmm_vm_read_phys", _c_int, _p, _c_u64, ctypes.c_void_p, _c_size)
_vm_write_phys = _sig("vmm_vm_write_phys", _c_int, _p, _c_u64, ctypes.c_char_p, _c_size)
_free = ctypes.CDLL(None).free
_free.argtypes = [_p]

_uv = ctypes.CDLL(ctypes.util.find_library("uv") or "libuv.so.1")
_uv_run = _uv.uv_run
_uv_run.restype = _c_int
_uv_run.argtypes = [_p, _c_int]
_UV_RUN_NOWAIT = 2

version = _version().decode()


class Error(Exception):
    """A libvmm call failed: .code (negative VMM_E* value), .name, .message."""

    def __init__(self, code):
        self.code = code
        self.name = _strerror(code).decode()
        self.message = (_last_error() or b"").decode(errors="replace")
        super().__init__(f"{self.name}: {self.message}" if self.message else self.name)


def _check(rc):
    if rc < 0:
        raise Error(rc)
    return rc


class Config:
    """A VM description: engine ("auto", "kvm", "soft"), memory (bytes), vcpus,
    kernel, initrd, cmdline, deterministic, firmware (riscv64 M-mode)."""

    _setters = {
        "engine": ("vmm_config_set_engine", ctypes.c_char_p),
        "name": ("vmm_config_set_name", ctypes.c_char_p),
        "memory": ("vmm_config_set_memory", _c_u64),
        "vcpus": ("vmm_config_set_vcpus", _c_uint),
        "kernel": ("vmm_config_set_kernel", ctypes.c_char_p),
        "initrd": ("vmm_config_set_initrd", ctypes.c_char_p),
        "cmdline": ("vmm_config_set_cmdline", ctypes.c_char_p),
        "deterministic": ("vmm_config_set_deterministic", _c_int),
        "firmware": ("vmm_config_set_loader", ctypes.c_char_p),
    }

    def __init__(self, _handle=None, **settings):
        if _handle is None:
            h = _p()
            _check(_cfg_new(ctypes.byref(h)))
            _handle = h.value
        self._h = _handle
        for key, value in settings.items():
            self.set(key, value)

    def set(self, key, value):
        if key not in self._setters:
            raise KeyError(f"unknown config setting {key!r}")
        name, ctype = self._setters[key]
        fn = _sig(name, _c_int, _p, ctype)
        if ctype is ctypes.c_char_p and value is not None:
            value = os.fsencode(value)
        _check(fn(self._h, value))

    @classmethod
    def from_xml(cls, text, lenient=False):
        """Parses libvirt domain XML; raises Error listing the problems."""
        data = text.encode() if isinstance(text, str) else text
        h, warnings = _p(), _p()
        rc = _cfg_from_xml(data, len(data), 1 if lenient else 0, ctypes.byref(h), ctypes.byref(warnings))
        if warnings.value:
            _free(warnings)
        _check(rc)
        return cls(_handle=h.value)

    def to_xml(self):
        out = _p()
        _check(_cfg_to_xml(self._h, ctypes.byref(out)))
        try:
            return ctypes.string_at(out).decode()
        finally:
            _free(out)

    def close(self):
        if self._h:
            _cfg_free(self._h)
            self._h = None

    def __del__(self):
        self.close()


class Host:
    """A host context with its own event loop and memory pool."""

    def __init__(self, memory_limit=0):
        h = _p()
        _check(_host_new(ctypes.byref(h), None))
        self._h = h.value
        self._vms = []
        if memory_limit:
            _check(_host_set_limit(self._h, memory_limit))

    @property
    def memory_used(self):
        return _host_used(self._h)

    def create_vm(self, config):
        h = _p()
        _check(_vm_create(self._h, config._h, ctypes.byref(h)))
        vm = VM(self, h.value)
        self._vms.append(vm)
        return vm

    def poll(self):
        """Runs the loop once without blocking: delivers pending events."""
        _uv_run(_host_loop(self._h), _UV_RUN_NOWAIT)

    def close(self):
        for vm in list(self._vms):
            vm.destroy()
        if self._h:
            self.poll()
            _check(_host_free(self._h))
            self._h = None


class VM:
    """A virtual machine. Set on_console (bytes -> None) and on_state
    ((old State, new State) -> None) to receive events."""

    def __init__(self, host, handle):
        self._host, self._h = host, handle
        self.on_console = None
        self.on_state = None
        self.on_restart = None
        self._cb = _EventCb(self._event)  # keep a reference for the C side
        _vm_set_cb(self._h, self._cb, None)

    def _event(self, ev_p, _opaque):
        ev = ev_p.contents
        if ev.type == _EVENT_CONSOLE and self.on_console:
            self.on_console(ctypes.string_at(ev.u.console.data, ev.u.console.len))
        elif ev.type == _EVENT_STATE and self.on_state:
            self.on_state(State(ev.u.state.old_state), State(ev.u.state.new_state))
        elif ev.type == _EVENT_RESTART and self.on_restart:
            self.on_restart(Outcome(ev.u.restart.previous), ev.u.restart.count)

    def start(self):
        _check(_vm_start(self._h))

    def pause(self):
        _check(_vm_pause(self._h))

    def resume(self):
        _check(_vm_resume(self._h))

    def stop(self):
        _check(_vm_stop(self._h))

    @property
    def state(self):
        return State(_vm_state(self._h))

    @property
    def engine(self):
        return _vm_engine(self._h).decode()

    @property
    def outcome(self):
        c = _COutcome()
        _vm_outcome(self._h, ctypes.byref(c))
        return Outcome(c)

    def console_write(self, data):
        data = data.encode() if isinstance(data, str) else bytes(data)
        _check(_vm_console_write(self._h, data, len(data)))

    def read_phys(self, gpa, length):
        buf = ctypes.create_string_buffer(length)
        _check(_vm_read_phys(self._h, gpa, buf, length))
        return buf.raw

    def write_phys(self, gpa, data):
        _check(_vm_write_phys(self._h, gpa, bytes(data), len(data)))

    def vcpu_count(self):
        return _vm_vcpu_count(self._h)

    def vcpu_stats(self, index=0):
        s = VcpuStats()
        _check(_vm_vcpu_stats(self._h, index, ctypes.byref(s)))
        return s

    def wait_for(self, predicate, timeout=30.0):
        """Drives the loop until predicate() is true or timeout seconds pass;
        returns predicate()'s last value."""
        deadline = time.monotonic() + timeout
        while True:
            self._host.poll()
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return predicate()
            time.sleep(0.002)

    def wait(self, timeout=None):
        """Drives the loop until the VM is shut off or crashed; returns its Outcome."""
        final = (State.SHUTOFF, State.CRASHED)
        if not self.wait_for(lambda: self.state in final, float("inf") if timeout is None else timeout):
            raise TimeoutError(f"VM still {self.state.name} after {timeout} s")
        return self.outcome

    def destroy(self):
        if self._h:
            _vm_destroy(self._h)
            self._h = None
            self._host._vms.remove(self)
