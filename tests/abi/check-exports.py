#!/usr/bin/env python3
"""The shared library exports exactly the public API.

    check-exports.py LIBVMM_SO INCLUDE_VMM_DIR [NM]

Runs `nm -D --defined-only` on the library and compares the exported
symbols with the functions declared in the public headers. Fails, naming
each symbol, when the library exports something no header declares (an
internal helper leaking through libvmm/libvmm.map) or when a header declares
a function the library does not export (a name missing from the map).
"""
import pathlib
import re
import subprocess
import sys


def declared_functions(include_dir):
    names = {}
    for header in sorted(pathlib.Path(include_dir).glob("*.h")):
        text = header.read_text()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)  # comments
        text = re.sub(r"//[^\n]*", " ", text)
        text = re.sub(r"#define[^\n]*(?:\\\n[^\n]*)*", " ", text)  # macros
        pointers = set(re.findall(r"\(\s*\*\s*(vmm_\w+)\s*\)", text))  # callback typedefs
        for name in re.findall(r"\b(vmm_\w+)\s*\(", text):
            if name not in pointers:
                names.setdefault(name, header.name)
    return names


def exported_symbols(library, nm):
    out = subprocess.run([nm, "-D", "--defined-only", library], check=True,
                         capture_output=True, text=True).stdout
    symbols = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[1] == "A":  # "A" is the version node itself
            continue
        symbols.add(fields[2].split("@")[0])
    return symbols


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    library, include_dir = sys.argv[1], sys.argv[2]
    nm = sys.argv[3] if len(sys.argv) == 4 else "nm"
    declared = declared_functions(include_dir)
    exported = exported_symbols(library, nm)
    if not declared:
        print(f"no functions found in {include_dir}/*.h", file=sys.stderr)
        return 1
    leaked = sorted(exported - declared.keys())
    missing = sorted(declared.keys() - exported)
    for name in leaked:
        print(f"FAIL: {library} exports '{name}', which no header in {include_dir} declares "
              "(make it static, or keep it out of libvmm/libvmm.map)")
    for name in missing:
        print(f"FAIL: {declared[name]} declares '{name}' but {library} does not export it "
              "(add it to libvmm/libvmm.map)")
    if leaked or missing:
        return 1
    print(f"ok: {len(exported)} exported symbols, each declared in {include_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
