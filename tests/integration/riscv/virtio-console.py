#!/usr/bin/env python3
"""virtio-console end to end through vmmctl and domain XML: riscv64 Linux on
the soft engine boots with its console on the virtio console (hvc) and a
named port served by vmmctl on a unix socket. The guest half is
tests/guest/linux/tests/console.sh:

  - what the guest prints reaches vmmctl's stdout (console events) and the
    guest's /sys/class/tty/console/active is an hvc device;
  - a line typed on vmmctl's stdin is read by the guest from the console;
  - a line written to the port's socket is read by the guest from
    /dev/vport*p* and answered, and the answer arrives on the socket.

    virtio-console.py VMMCTL        (exit 77: skipped, no guest images)
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from guest_images import initramfs_has, skip

# The riscv64 test kernel has the SBI console driver, which takes hvc0; the
# virtio console is the next hvc device (hvc0 on kernels without it).
HVC = os.environ.get("LIBVMM_TEST_HVC", "hvc1")


def main():
    vmmctl = sys.argv[1]
    cache = os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))
    image, initrd = f"{cache}/riscv/Image", f"{cache}/riscv/initramfs.cpio.gz"
    if not (os.path.isfile(image) and os.path.isfile(initrd)):
        skip(f"no riscv64 Linux in {cache}/riscv (build it with scripts/guest/all.sh)")
    if not initramfs_has(initrd, "tests/console.sh"):
        skip(f"{initrd} predates this test's guest half (rebuild: scripts/guest/all.sh)")

    failures = []
    work = tempfile.mkdtemp(prefix="vio-console-")
    port_sock = f"{work}/port.sock"
    domain = f"{work}/domain.xml"
    with open(domain, "w") as f:
        f.write(f"""<domain type='qemu'>
  <name>virtio-console-test</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>{image}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console={HVC} libvmm.test=run:console</cmdline>
  </os>
  <devices>
    <console type='stdio'>
      <target type='virtio' port='0'/>
    </console>
    <channel type='unix'>
      <source mode='bind' path='{port_sock}'/>
      <target type='virtio' name='org.libvmm.test'/>
    </channel>
  </devices>
</domain>
""")

    proc = subprocess.Popen([vmmctl, "run", domain], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    prompt = threading.Event()

    def read_console():
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            lines.append(line)
            if "console: waiting for input" in line:
                prompt.set()

    reader = threading.Thread(target=read_console, daemon=True)
    reader.start()

    # The named port: vmmctl serves it once the VM exists. What we write
    # before the guest opens the port waits in the device.
    answer = b""
    deadline = time.monotonic() + 60
    sock = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(port_sock)
            break
        except OSError:
            sock.close()
            sock = None
            time.sleep(0.05)
    if sock is None:
        failures.append("could not connect to the port's socket")
    else:
        sock.sendall(b"ping-from-host\n")

    if prompt.wait(120):
        proc.stdin.write(b"hello-console\n")
        proc.stdin.flush()
    else:
        failures.append("the guest never asked for console input")

    if sock is not None:
        sock.settimeout(120)
        try:
            while not answer.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except OSError as e:
            failures.append(f"port socket: {e}")
        sock.close()
    try:
        status = proc.wait(300)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = "timeout"
    reader.join(5)

    for line in lines:
        if (line.startswith("console:") or line.startswith("vmmctl:") or
                "libvmm-guest: run" in line or "libvmm-guest: test" in line):
            print(line)
    if status != 0:
        failures.append(f"vmmctl exit status {status} (the guest test's status)")
    if any("console: FAIL" in line for line in lines):
        failures.append("the guest reported failures")
    if not any("console: done" in line for line in lines):
        failures.append("the guest test did not finish")
        print("\n".join(lines[-30:]))
    if answer == b"pong:ping-from-host\n":
        print("ok: the port answered over its unix socket")
    else:
        failures.append(f"port answer {answer!r}")
    if any(f"console: ok console is {HVC}" in line or f"console: ok console is" in line
           and HVC in line for line in lines):
        print(f"ok: guest console output arrived through {HVC}")
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
