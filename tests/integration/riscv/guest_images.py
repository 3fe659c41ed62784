"""What the riscv64 Linux tests written in Python share: whether the
cached initramfs carries a test's files, and the skip that turns into a
failure under CI=true."""
import gzip
import os
import sys


def initramfs_has(path, *names):
    """Whether the gzip'd cpio at `path` holds every file in `names` (an
    initramfs built before a test script or tool was added lacks it)."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return all(name.encode() + b"\0" in data for name in names)


def skip(why):
    """Exits 77 (meson's skip), or fails under CI=true, where it must run."""
    if os.environ.get("CI") == "true":
        print(f"FAIL (CI=true, must run): {why}")
        sys.exit(1)
    print(f"SKIP: {why}")
    sys.exit(77)
