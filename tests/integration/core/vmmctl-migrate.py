#!/usr/bin/env python3
"""vmmctl end to end: a live migration asked for over QMP
(`migrate {"uri": "unix:..."}` / `tcp:...`) to `vmmctl run --incoming`, and
a snapshot (`migrate {"uri": "file:..."}`) continued by `--incoming file:`.

    vmmctl-migrate.py VMMCTL GUEST.elf

The guest (tests/guest/core/echo-riscv.S) prints "ready" at boot, counts,
and echoes console input in upper case; 'q' powers it off. On the
destination it must not print "ready" again, and must echo.
"""
import json
import os
import socket
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


def wait_for(pred, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    return pred()


def qmp(path, *args):
    p = subprocess.run([VMMCTL, "qmp", "--timeout", "20", path, *args], capture_output=True,
                       text=True, timeout=60)
    try:
        return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None
    except ValueError:
        return p.returncode, {"unparsable": p.stdout}


class Run:
    def __init__(self, tmp, name, *extra):
        self.out_path = os.path.join(tmp, name + ".out")
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen([VMMCTL, "run", "--kernel", GUEST, "--memory", "64M", *extra],
                                     stdin=subprocess.PIPE, stdout=self.out,
                                     stderr=subprocess.STDOUT)

    def console(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def wait(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def migrate_to(tmp, uri, listen_ready):
    src_qmp = os.path.join(tmp, "src-%s.qmp" % uri.split(":")[0])
    dst = Run(tmp, "dst-" + uri.split(":")[0], "--incoming", uri)
    check(wait_for(listen_ready), f"{uri}: the destination listens")
    src = Run(tmp, "src-" + uri.split(":")[0], "--qmp", f"unix:{src_qmp},server=on,wait=off")
    check(wait_for(lambda: "ready" in src.console()), f"{uri}: the source guest booted")
    src.send(b"ab")
    check(wait_for(lambda: "AB" in src.console()), f"{uri}: the source echoes")
    rc, reply = qmp(src_qmp, "migrate-set-parameters", '{"downtime-limit": 100}')
    check(rc == 0, f"{uri}: migrate-set-parameters")
    rc, reply = qmp(src_qmp, "migrate", json.dumps({"uri": uri}))
    check(rc == 0 and (reply or {}).get("return") == {}, f"{uri}: migrate accepted ({reply})")
    # As QEMU: the source stays in postmigrate, its figures readable, until quit.
    info = wait_for(completed_on(src_qmp), 60)
    check(info and info.get("status") == "completed" and "downtime" in info,
          f"{uri}: query-migrate on the source reports completed with a downtime ({info})")
    rc, reply = qmp(src_qmp, "query-status")
    check((reply or {}).get("return", {}).get("status") == "postmigrate",
          f"{uri}: the source is in postmigrate ({reply})")
    qmp(src_qmp, "quit")
    status = src.wait(60)
    check(status == 0, f"{uri}: the source vmmctl exits 0 after the migration ({status})")
    check("migrated" in src.console(), f"{uri}: the source says the guest went on elsewhere")
    dst.send(b"xy")
    check(wait_for(lambda: "XY" in dst.console()), f"{uri}: the destination echoes")
    check("ready" not in dst.console(), f"{uri}: the destination did not boot the guest again")
    dst.send(b"q")
    check(dst.wait(30) == 0, f"{uri}: the destination guest powers off, exit 0")


def completed_on(path):
    def done():
        rc, reply = qmp(path, "query-migrate")
        info = (reply or {}).get("return", {})
        return info if info.get("status") not in ("active", None) else None
    return done


def main():
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "dst.sock")
        migrate_to(tmp, "unix:" + sock, lambda: os.path.exists(sock))
        port = free_port()

        def listening():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    pass
                return False  # we took its one connection: cannot happen before it listens
            except OSError:
                return False

        # The destination accepts exactly one connection: probing it would use
        # it up, so give it a moment to listen instead.
        dst_ready = lambda: (time.sleep(0.5), True)[1]
        migrate_to(tmp, f"tcp:127.0.0.1:{port}", dst_ready)

        # A snapshot is a migration to a file.
        snap = os.path.join(tmp, "guest.snap")
        src_qmp = os.path.join(tmp, "snap.qmp")
        src = Run(tmp, "snap-src", "--qmp", f"unix:{src_qmp},server=on,wait=off")
        check(wait_for(lambda: "ready" in src.console()), "file: the source guest booted")
        rc, reply = qmp(src_qmp, "migrate", json.dumps({"uri": "file:" + snap}))
        check(rc == 0 and (reply or {}).get("return") == {}, f"file: migrate started ({reply})")
        rc, reply = qmp(src_qmp, "query-status")
        check((reply or {}).get("return", {}).get("status") == "paused",
              f"file: the source is paused ({reply})")
        # The write runs off the loop: the socket answers meanwhile, and
        # query-migrate goes from active to completed.
        seen = []

        def completed():
            rc, reply = qmp(src_qmp, "query-migrate")
            info = (reply or {}).get("return", {})
            seen.append(info.get("status"))
            return info if info.get("status") not in ("active", None) else None
        info = wait_for(completed)
        check(info and info.get("status") == "completed" and info.get("total-time", -1) >= 0
              and info.get("ram", {}).get("transferred", 0) > 0,
              f"file: query-migrate reports the snapshot as completed ({info}, seen {seen})")
        rc, reply = qmp(src_qmp, "query-status")
        check((reply or {}).get("return", {}).get("status") == "paused",
              f"file: the source is left paused ({reply})")
        qmp(src_qmp, "quit")
        check(src.wait(30) is not None, "file: the source vmmctl ends on quit")
        check(os.path.getsize(snap) > 0, "file: the snapshot exists")
        dst = Run(tmp, "snap-dst", "--incoming", "file:" + snap)
        dst.send(b"mn")
        check(wait_for(lambda: "MN" in dst.console()), "file: the restored guest echoes")
        check("ready" not in dst.console(), "file: no second boot")
        dst.send(b"q")
        check(dst.wait(30) == 0, "file: the restored guest powers off, exit 0")

        # Diff snapshots through x-libvmm-save: a tracked full one, the
        # guest runs on and echoes, then a diff that --incoming continues.
        base, diff = os.path.join(tmp, "base.snap"), os.path.join(tmp, "diff.snap")
        d_qmp = os.path.join(tmp, "diff.qmp")
        src = Run(tmp, "diff-src", "--qmp", f"unix:{d_qmp},server=on,wait=off")
        check(wait_for(lambda: "ready" in src.console()), "diff: the source guest booted")

        def save(file, mode):
            rc, reply = qmp(d_qmp, "x-libvmm-save", json.dumps({"file": file, "mode": mode}))
            check(rc == 0 and (reply or {}).get("return") == {}, f"diff: {mode} save ({reply})")
            info = wait_for(completed_on(d_qmp))
            check(info and info.get("status") == "completed", f"diff: {mode} completed ({info})")
        rc, reply = qmp(d_qmp, "x-libvmm-save", json.dumps({"file": diff, "mode": "diff"}))
        check(rc != 0 and "no snapshot to diff against" in json.dumps(reply),
              f"diff: refused without a tracked snapshot ({reply})")
        rc, reply = qmp(d_qmp, "x-libvmm-save", json.dumps({"file": diff, "mode": "sideways"}))
        check(rc != 0 and "expects" in json.dumps(reply), f"diff: a bad mode is refused ({reply})")
        save(base, "track")
        qmp(d_qmp, "cont")
        src.send(b"kl")
        check(wait_for(lambda: "KL" in src.console()), "diff: the source runs on after the base")
        save(diff, "diff")
        qmp(d_qmp, "quit")
        src.wait(30)
        on_disk = os.stat(diff).st_blocks * 512
        check(on_disk < 1 << 20, f"diff: the diff takes {on_disk} bytes on disk")
        dst = Run(tmp, "diff-dst", "--incoming", "file:" + diff)
        dst.send(b"op")
        check(wait_for(lambda: "OP" in dst.console()), "diff: the chain restores and echoes")
        check("ready" not in dst.console() and "KL" not in dst.console(),
              "diff: no second boot, nothing replayed")
        dst.send(b"q")
        check(dst.wait(30) == 0, "diff: the restored guest powers off, exit 0")
        # --pause-at: a deterministic run pauses at an instruction count and
        # says where; the control socket sees it paused.
        p_qmp = os.path.join(tmp, "pause.qmp")
        src = Run(tmp, "pause-src", "--deterministic", "--pause-at", "3000000",
                  "--qmp", f"unix:{p_qmp},server=on,wait=off")
        check(wait_for(lambda: "paused at instruction" in src.console()),
              f"pause-at: vmmctl reports the pause ({src.console()!r})")
        rc, reply = qmp(p_qmp, "query-status")
        check((reply or {}).get("return", {}).get("status") == "paused",
              f"pause-at: the VM is paused ({reply})")
        qmp(p_qmp, "quit")
        src.wait(30)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
