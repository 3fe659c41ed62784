#!/usr/bin/env bash
# Fetches Debian's cloud-amd64 kernel (the versioned linux-image-6.1.*-cloud-amd64
# package that linux-image-cloud-amd64 depends on) and keeps only its vmlinuz
# (and config) in $CACHE/x86/. Nothing is installed on the host.
# Output: $CACHE/x86/vmlinuz (path printed on stdout).
# Environment: LIBVMM_CACHE, LIBVMM_GUEST_REFRESH=1 (re-resolve the package).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

META=linux-image-cloud-amd64
OUT="$CACHE/x86/vmlinuz"

# The versioned package and its version, e.g. "linux-image-6.1.0-56-cloud-amd64 6.1.170-1".
resolve_cloud_kernel() {
    local pkg
    pkg=$(apt-cache depends "$META" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\..*-cloud-amd64$/ {print $2; exit}')
    [[ -n $pkg ]] || return 1
    printf '%s %s\n' "$pkg" "$(apt_candidate "$pkg")"
}

read -r pkg ver < <(resolve_version x86-kernel resolve_cloud_kernel)
[[ -n ${pkg:-} && -n ${ver:-} ]] || die "could not resolve the package behind $META"
key=$(hash_inputs "$pkg=$ver")
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi
cache_lock x86-kernel
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi

need_cmd apt-get dpkg-deb
mkdir -p "$CACHE/x86"
tmp=$(mktemp -d "$CACHE/x86/.deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
apt_fetch_deb "$pkg" "$ver" "$tmp"
kver=${pkg#linux-image-}
[[ -f $tmp/boot/vmlinuz-$kver ]] || die "$pkg $ver has no /boot/vmlinuz-$kver"
cp "$tmp/boot/vmlinuz-$kver" "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
[[ -f $tmp/boot/config-$kver ]] && cp "$tmp/boot/config-$kver" "$CACHE/x86/kernel.config"
printf '%s\n' "$kver" > "$CACHE/x86/kernel.release"
stamp_write "$OUT" "$key"
# The .deb is ~20 MB of modules we never use; drop it once vmlinuz is out.
rm -f "$CACHE/debs/${pkg}_"*.deb
msg "x86 kernel ready: $pkg $ver ($(du -h "$OUT" | cut -f1))"
echo "$OUT"
