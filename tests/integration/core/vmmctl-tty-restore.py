#!/usr/bin/env python3
"""vmmctl-tty-restore.py VMMCTL GUEST

vmmctl makes its terminal raw while a guest runs. Whatever ends it, the
terminal must be as it was before: here vmmctl runs a guest that never
stops by itself (GUEST prints "ready" and loops) on a pseudo-terminal, is
ended by SIGTERM, SIGINT, SIGHUP or Ctrl-A x, and the pty's settings are
compared with those it started with. A signal must still end vmmctl the
way it would have (killed by that signal, not a normal exit).
"""
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time


def lflag(fd):
    return termios.tcgetattr(fd)[3]


def drain(master, out):
    """Reads what the pty has (the guest's console) without blocking."""
    while True:
        r, _, _ = select.select([master], [], [], 0)
        if not r:
            return out
        try:
            data = os.read(master, 4096)
        except OSError:
            return out
        if not data:
            return out
        out += data


def run_case(vmmctl, guest, how):
    master, slave = pty.openpty()
    try:
        # Start from a cooked terminal: canonical input with echo.
        attrs = termios.tcgetattr(slave)
        attrs[3] |= termios.ICANON | termios.ECHO | termios.ISIG
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        before = termios.tcgetattr(slave)

        p = subprocess.Popen([vmmctl, 'run', '--engine', 'soft', '--kernel', guest],
                             stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        out = b''
        deadline = time.monotonic() + 60
        raw = False
        while time.monotonic() < deadline and p.poll() is None:
            select.select([master], [], [], 0.05)
            out = drain(master, out)
            if b'ready' in out and not (lflag(slave) & termios.ICANON):
                raw = True
                break
        if not raw:
            p.kill()
            p.wait()
            return 'vmmctl never made the terminal raw (status %s): %r' % (p.returncode, out[-400:])

        if how == 'ctrl-a x':
            os.write(master, b'\x01x')
            want = 130
        else:
            p.send_signal(how)
            want = -how
        deadline = time.monotonic() + 30
        while p.poll() is None and time.monotonic() < deadline:
            select.select([master], [], [], 0.05)
            out = drain(master, out)
        if p.poll() is None:
            p.kill()
            p.wait()
            return 'vmmctl did not end: %r' % out[-400:]

        after = termios.tcgetattr(slave)
        problems = []
        if p.returncode != want:
            problems.append('status %d, expected %d' % (p.returncode, want))
        if not (after[3] & termios.ICANON) or not (after[3] & termios.ECHO):
            problems.append('terminal left raw (lflag 0x%x, was 0x%x)' % (after[3], before[3]))
        elif after[:4] != before[:4] or after[6] != before[6]:
            problems.append('terminal settings changed: %r -> %r' % (before[:4], after[:4]))
        return '; '.join(problems)
    finally:
        os.close(slave)
        os.close(master)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[0])
        return 2
    vmmctl, guest = sys.argv[1], sys.argv[2]
    failed = 0
    cases = [(signal.SIGTERM, 'SIGTERM'), (signal.SIGINT, 'SIGINT'), (signal.SIGHUP, 'SIGHUP'),
             ('ctrl-a x', 'Ctrl-A x')]
    for how, name in cases:
        err = run_case(vmmctl, guest, how)
        if err:
            print('FAIL: %s: %s' % (name, err))
            failed = 1
        else:
            print('ok: %s: terminal restored' % name)
    return failed


if __name__ == '__main__':
    sys.exit(main())
