#!/usr/bin/env bash
# Fetches Debian's OpenSBI (package opensbi) and keeps the generic
# platform's fw_jump.bin: M-mode firmware that the soft engine can run in
# front of Linux (vmmctl run --firmware), for fidelity with real machines.
# Output: $CACHE/riscv/fw_jump.bin (path printed on stdout).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKG=opensbi
OUT="$CACHE/riscv/fw_jump.bin"

resolve_opensbi() { printf '%s %s\n' "$PKG" "$(apt_candidate "$PKG")"; }

read -r pkg ver < <(resolve_version opensbi resolve_opensbi)
[[ -n ${pkg:-} && -n ${ver:-} ]] || die "could not resolve the $PKG package"
key=$(hash_inputs "$pkg=$ver")
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi
cache_lock opensbi
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi

need_cmd apt-get dpkg-deb
mkdir -p "$CACHE/riscv"
tmp=$(mktemp -d "$CACHE/riscv/.deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
apt_fetch_deb "$pkg" "$ver" "$tmp"
fw=$(first_match "$tmp"/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin \
                 "$tmp"/usr/lib/riscv64-linux-gnu/opensbi/*/fw_jump.bin)
[[ -f $fw ]] || die "$pkg $ver has no generic fw_jump.bin"
cp "$fw" "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
stamp_write "$OUT" "$key"
msg "OpenSBI ready: $pkg $ver ($(du -h "$OUT" | cut -f1))"
echo "$OUT"
