#!/usr/bin/env python3
"""virtio-vsock end to end through vmmctl and domain XML, on the unix-socket
side in Firecracker's hybrid convention. riscv64 Linux on the soft engine
(guest CID 3) runs tests/guest/linux/tests/vsock.sh:

  - host -> guest: this script connects to the VM's socket PATH, writes
    "CONNECT 5000\\n", reads "OK <port>\\n" and sends 1 MiB of random bytes to
    the guest's echo listener; what comes back must have the same sha256;
  - guest -> host: the guest connects to host port 5001, which the device
    turns into a connection to the unix socket PATH_5001 where this script
    runs an echo server; the guest compares what came back.

    virtio-vsock.py VMMCTL        (exit 77: skipped, no guest images)
"""
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from guest_images import initramfs_has, skip

SIZE = 1 << 20


def echo_server(listener, failures):
    """Echoes one connection of the guest's back to it."""
    listener.settimeout(180)
    try:
        conn, _ = listener.accept()
    except OSError as e:
        failures.append(f"the guest never connected to host port 5001: {e}")
        return
    with conn:
        total = 0
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
            total += len(data)
        conn.shutdown(socket.SHUT_WR)
    print(f"ok: echoed {total} bytes of the guest's connection to host port 5001")


def connect_guest(path, port, deadline):
    """CONNECT to the guest's vsock port through the VM's socket; retried
    until the guest listens. Returns (socket, the OK line)."""
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            s.sendall(f"CONNECT {port}\n".encode())
            line = b""
            s.settimeout(10)
            while not line.endswith(b"\n"):
                chunk = s.recv(1)
                if not chunk:
                    break
                line += chunk
            if line.startswith(b"OK "):
                s.settimeout(None)
                return s, line
        except OSError:
            pass
        s.close()
        time.sleep(0.2)
    return None, b""


def main():
    vmmctl = sys.argv[1]
    cache = os.environ.get("LIBVMM_CACHE", os.path.expanduser("~/.cache/libvmm"))
    image, initrd = f"{cache}/riscv/Image", f"{cache}/riscv/initramfs.cpio.gz"
    if not (os.path.isfile(image) and os.path.isfile(initrd)):
        skip(f"no riscv64 Linux in {cache}/riscv (build it with scripts/guest/all.sh)")
    if not initramfs_has(initrd, "tests/vsock.sh", "bin/vsock-echo"):
        skip(f"{initrd} predates this test's guest half (rebuild: scripts/guest/all.sh)")

    failures = []
    work = tempfile.mkdtemp(prefix="vio-vsock-")
    path = f"{work}/v.sock"
    domain = f"{work}/domain.xml"
    with open(domain, "w") as f:
        f.write(f"""<domain type='qemu'>
  <name>virtio-vsock-test</name>
  <metadata>
    <libvmm:domain xmlns:libvmm='https://libvmm.org/xmlns/domain/1'>
      <libvmm:vsock socket='{path}'/>
    </libvmm:domain>
  </metadata>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>{image}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 libvmm.test=run:vsock</cmdline>
  </os>
  <devices>
    <serial type='stdio'><target port='0'/></serial>
    <vsock model='virtio'>
      <cid auto='no' address='3'/>
    </vsock>
  </devices>
</domain>
""")

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(f"{path}_5001")
    listener.listen(1)
    server = threading.Thread(target=echo_server, args=(listener, failures), daemon=True)
    server.start()

    proc = subprocess.Popen([vmmctl, "run", domain], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    listening = threading.Event()

    def read_console():
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            lines.append(line)
            if "vsock: listening on 5000" in line:
                listening.set()

    reader = threading.Thread(target=read_console, daemon=True)
    reader.start()

    if not listening.wait(180):
        failures.append("the guest never said it listens on 5000")
    sock, ok_line = connect_guest(path, 5000, time.monotonic() + 60)
    if sock is None:
        failures.append("CONNECT 5000 through the VM's socket never answered OK")
    else:
        print(f"ok: CONNECT 5000 answered {ok_line.decode().strip()!r}")
        payload = os.urandom(SIZE)

        def send_all():
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        back = bytearray()
        sock.settimeout(180)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                back += chunk
        except OSError as e:
            failures.append(f"reading the echo: {e}")
        sender.join(10)
        sock.close()
        want, got = hashlib.sha256(payload).hexdigest(), hashlib.sha256(back).hexdigest()
        if want == got:
            print(f"ok: host -> guest port 5000: {len(back)} bytes echoed, sha256 {got}")
        else:
            failures.append(f"host -> guest echo: {len(back)} bytes, sha256 {got}, sent {want}")

    try:
        status = proc.wait(300)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = "timeout"
    reader.join(5)
    server.join(5)
    listener.close()

    for line in lines:
        if (line.startswith("vsock:") or line.startswith("vmmctl:") or
                "libvmm-guest: run" in line or "libvmm-guest: test" in line):
            print(line)
    if status != 0:
        failures.append(f"vmmctl exit status {status} (the guest test's status)")
    if any("vsock: FAIL" in line for line in lines):
        failures.append("the guest reported failures")
    if not any("vsock: done" in line for line in lines):
        failures.append("the guest test did not finish")
        print("\n".join(lines[-30:]))
    if os.path.exists(path):
        failures.append(f"the VM's socket {path} is still there after the run")
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
