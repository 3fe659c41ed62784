#!/usr/bin/env python3
"""`meson install` puts a working package where python finds it.

    install_check.py MESON BUILD_ROOT DESTDIR PREFIX LIBDIR PY_INSTALL_DIR PYTHON [CC]

Installs the build into DESTDIR, then, from a directory outside the source
tree and with nothing but PYTHONPATH=<installed site dir> and
LD_LIBRARY_PATH=<installed libdir>, imports `vmm` with PYTHON and checks it
came from the installed tree and loaded the installed libvmm.so.0. With CC,
also compiles and links a C program against the installed headers and
library. When PREFIX is /usr or /usr/local, the site dir must also be on
PYTHON's own sys.path, so a plain `meson install` needs no PYTHONPATH.
"""
import os
import shutil
import subprocess
import sys
import tempfile

PROBE = r"""
import sys, vmm
assert vmm.__file__.startswith(sys.argv[1]), vmm.__file__
maps = open("/proc/self/maps").read()
libs = {line.split()[-1] for line in maps.splitlines() if "libvmm.so" in line}
assert libs and all(l.startswith(sys.argv[2]) for l in libs), libs
with vmm.Config(memory=64 << 20, vcpus=2) as cfg:
    assert (cfg.memory, cfg.vcpus) == (64 << 20, 2)
with vmm.Host() as host:
    assert host.run(vmm.RunMode.NOWAIT) == 0
print("imported", vmm.__file__, "with", sorted(libs)[0], "version", vmm.version)
"""

C_PROBE = r"""
#include <stdio.h>
#include <vmm/vmm.h>
int main(void)
{
    vmm_caps_t *caps;
    if (vmm_caps_new(&caps))
        return 1;
    printf("C program linked against libvmm %s, %u engines\n", vmm_version(),
           vmm_caps_engine_count(caps));
    vmm_caps_free(caps);
    return 0;
}
"""


def under(destdir, path):
    return os.path.join(destdir, os.path.relpath(path, "/"))


def main():
    if len(sys.argv) not in (8, 9):
        print(__doc__, file=sys.stderr)
        return 2
    meson, build_root, destdir, prefix, libdir, py_dir, python = sys.argv[1:8]
    cc = sys.argv[8] if len(sys.argv) == 9 else None
    if os.path.exists(destdir):
        shutil.rmtree(destdir)
    subprocess.run([meson, "install", "-C", build_root, "--no-rebuild", "--destdir", destdir],
                   check=True, stdout=subprocess.DEVNULL)

    site = under(destdir, py_dir)
    lib = under(destdir, os.path.join(prefix, libdir))
    for path in (os.path.join(site, "vmm", "__init__.py"), os.path.join(site, "vmm", "_paths.py"),
                 os.path.join(lib, "libvmm.so.0")):
        if not os.path.exists(path):
            print(f"FAIL: {path} was not installed")
            return 1

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LIBVMM_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = site
    env["LD_LIBRARY_PATH"] = lib
    with tempfile.TemporaryDirectory() as cwd:
        r = subprocess.run([python, "-c", PROBE, site, lib], cwd=cwd, env=env,
                           capture_output=True, text=True)
        print(r.stdout, end="")
        if r.returncode != 0:
            print(f"FAIL: importing the installed package:\n{r.stderr}")
            return 1

        if cc:
            src = os.path.join(cwd, "probe.c")
            exe = os.path.join(cwd, "probe")
            with open(src, "w") as f:
                f.write(C_PROBE)
            include = under(destdir, os.path.join(prefix, "include"))
            r = subprocess.run([cc, "-I" + include, src, "-o", exe, "-L" + lib, "-lvmm"],
                               capture_output=True, text=True, env=env)
            if r.returncode != 0:
                print(f"FAIL: compiling against the installed headers:\n{r.stderr}")
                return 1
            r = subprocess.run([exe], capture_output=True, text=True, env=env)
            print(r.stdout, end="")
            if r.returncode != 0:
                print(f"FAIL: running the C probe:\n{r.stderr}")
                return 1

    if os.path.normpath(prefix) in ("/usr", "/usr/local"):
        r = subprocess.run([python, "-c", "import sys; print('\\n'.join(sys.path))"],
                           capture_output=True, text=True, check=True, cwd="/")
        if os.path.normpath(py_dir) not in map(os.path.normpath, r.stdout.split("\n")):
            print(f"FAIL: {py_dir} is not on {python}'s sys.path:\n{r.stdout}")
            return 1
        print(f"{py_dir} is on {python}'s sys.path")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
