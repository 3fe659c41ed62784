#!/usr/bin/env python3
"""vmmctl end to end with QMP: `vmmctl run --qmp unix:PATH,server...` serves
a control socket, `vmmctl qmp PATH COMMAND [ARGS]` drives it.

    vmmctl-qmp.py VMMCTL GUEST.elf

The guest (tests/guest/core/echo-riscv.S) prints "ready" at every boot.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

VMMCTL, GUEST = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def wait_for(pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def qmp(path, *args):
    """Runs `vmmctl qmp PATH ARGS...`: (exit status, parsed reply or None, stderr)."""
    p = subprocess.run([VMMCTL, "qmp", "--timeout", "20", path, *args], capture_output=True,
                       text=True, timeout=60)
    reply = None
    if p.stdout.strip():
        try:
            reply = json.loads(p.stdout)
        except ValueError:
            reply = {"unparsable": p.stdout}
    return p.returncode, reply, p.stderr


class Run:
    """vmmctl run in the background, its console collected in a file."""

    def __init__(self, qmp_option, tmp):
        self.out_path = os.path.join(tmp, "console-%d.txt" % id(self))
        self.err_path = self.out_path + ".err"
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [VMMCTL, "run", "--kernel", GUEST, "--memory", "64M", "--qmp", qmp_option],
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err)

    def console(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()


def status_of(path):
    rc, reply, _ = qmp(path, "query-status")
    return reply["return"]["status"] if rc == 0 and reply and "return" in reply else None


def main():
    with tempfile.TemporaryDirectory(prefix="libvmm-vmmctl-qmp-") as tmp:
        # 1. wait=off: the guest starts at once; every command through vmmctl qmp.
        path = os.path.join(tmp, "a.qmp")
        run = Run("unix:%s,server=on,wait=off" % path, tmp)
        try:
            check(wait_for(lambda: "ready" in run.console()), "the guest starts without a client")
            check(os.path.exists(path), "the socket exists")
            check(status_of(path) == "running", "query-status: running")
            rc, reply, _ = qmp(path, "stop")
            check(rc == 0 and reply.get("return") == {}, "stop returns {}")
            check(status_of(path) == "paused", "query-status after stop: paused")
            rc, reply, _ = qmp(path, "cont")
            check(rc == 0 and status_of(path) == "running", "cont: running again")
            rc, reply, err = qmp(path, "no-such-command")
            check(rc == 1 and reply["error"]["class"] == "CommandNotFound",
                  "an unknown command: exit 1, CommandNotFound")
            check("CommandNotFound" in err, "the error is named on stderr too")
            rc, reply, _ = qmp(path, "migrate", '{"uri": "tcp:127.0.0.1:1"}')
            check(rc == 1 and "connecting to" in reply["error"]["desc"],
                  "migrate to a port nobody listens on: exit 1, the error says so")
            rc, reply, err = qmp(path, "query-status", "[1, 2]")
            check(rc == 2 and reply is None and "JSON object" in err,
                  "arguments that are not an object: exit 2")
            rc, reply, _ = qmp("unix:" + path, "query-cpus-fast")
            check(rc == 0 and reply["return"][0]["target"] == "riscv64"
                  and reply["return"][0]["thread-id"] > 0, "query-cpus-fast over unix:PATH")
            rc, reply, _ = qmp(path, "system_reset")
            check(rc == 0, "system_reset returns")
            check(wait_for(lambda: run.console().count("ready") >= 2),
                  "the guest boots again after system_reset")
            check(status_of(path) == "running", "still running after the reset")
            rc, reply, _ = qmp(path, "quit")
            check(rc == 0 and reply.get("return") == {}, "quit returns {}")
            status = run.wait()
            check(status == 0, "vmmctl run exits 0 after quit (got %s; stderr %r)"
                  % (status, run.stderr()))
            check(not os.path.exists(path), "the socket file is removed")
            rc, reply, err = qmp(path, "query-status")
            check(rc == 2 and "connecting" in err, "no server: exit 2 with the reason")
        finally:
            run.close()

        # 2. ",server" alone waits for a client before the guest starts (QEMU's default).
        path = os.path.join(tmp, "b.qmp")
        run = Run("unix:%s,server" % path, tmp)
        try:
            check(wait_for(lambda: "waiting for a QMP client" in run.stderr()),
                  "server without wait=off says it waits")
            time.sleep(0.3)
            check("ready" not in run.console(), "the guest has not started before a client came")
            check(status_of(path) == "running", "a client connects: the guest runs")
            check(wait_for(lambda: "ready" in run.console()), "the guest prints ready")
            rc, _, _ = qmp(path, "quit")
            check(rc == 0 and run.wait() == 0, "quit ends it with 0")
        finally:
            run.close()

        # 3. Malformed --qmp options: exit 2 with one clear line.
        for option, text in (("unix:%s/c.qmp" % tmp, "add ',server'"),
                             ("unix:%s/c.qmp,server,bogus=1" % tmp, "unknown option 'bogus=1'"),
                             ("pipe:x,server", "unix:PATH or tcp:HOST:PORT")):
            p = subprocess.run([VMMCTL, "run", "--kernel", GUEST, "--qmp", option],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=30)
            check(p.returncode == 2 and text in p.stderr, "--qmp %s: exit 2, %r" % (option, text))

    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
