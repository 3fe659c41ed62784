#!/usr/bin/env python3
"""Boots a kernel with libvmm's Python bindings and streams its console.

    PYTHONPATH=bindings/python LIBVMM_LIBRARY=build/libvmm.so.0 \
        examples/python/run_guest.py KERNEL [INITRD] [CMDLINE]
"""
import sys

import vmm


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    settings = {"kernel": sys.argv[1], "memory": 256 << 20}
    if len(sys.argv) > 2:
        settings["initrd"] = sys.argv[2]
    settings["cmdline"] = sys.argv[3] if len(sys.argv) > 3 else "console=ttyS0"
    with vmm.Host() as host:
        try:
            with vmm.Config(**settings) as cfg:
                vm = host.create_vm(cfg)
        except vmm.Error as e:
            print(f"run_guest: {e}", file=sys.stderr)
            return 2
        vm.on_console = lambda data: (sys.stdout.write(data.decode(errors="replace")),
                                      sys.stdout.flush())
        vm.start()
        outcome = vm.wait()
        print(f"\nrun_guest: {outcome} on the {vm.engine} engine", file=sys.stderr)
        if vm.last_error:
            print(f"run_guest: {vm.last_error}", file=sys.stderr)
    return 0 if outcome.kind == vmm.OutcomeKind.POWEROFF else 1


if __name__ == "__main__":
    sys.exit(main())
