#!/usr/bin/env bash
# Builds the x86-64 test initramfs: Debian's busybox-static (taken from its
# .deb, nothing installed) plus the shared tests/guest/linux/init.
# Output: $CACHE/x86/initramfs.cpio.gz (path printed on stdout).
# Environment: LIBVMM_CACHE, LIBVMM_GUEST_REFRESH=1 (re-resolve busybox-static).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RECIPE=1
PKG=busybox-static
OUT="$CACHE/x86/initramfs.cpio.gz"

ver=$(resolve_version "$PKG" apt_candidate "$PKG")
key=$(hash_inputs "@$LINUX_FILES/init" $(guest_test_inputs) "@$GUEST_DIR/lib.sh" "$PKG=$ver" "recipe=$RECIPE")
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi
cache_lock x86-initramfs
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi

need_cmd apt-get dpkg-deb cpio gzip
mkdir -p "$CACHE/x86"
tmp=$(mktemp -d "$CACHE/x86/.initramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
apt_fetch_deb "$PKG" "$ver" "$tmp/deb"
bb="$tmp/deb/bin/busybox"
[[ -x $bb ]] || die "$PKG $ver has no /bin/busybox"

msg "assembling x86 initramfs (busybox $ver)"
# The host can run the x86-64 binary, so it names its own applets.
mapfile -t applets < <("$bb" --list)
(( ${#applets[@]} > 50 )) || die "busybox --list returned only ${#applets[@]} applets"
populate_rootfs "$tmp/root" "$bb" "${applets[@]}"
install_guest_tools "$tmp/root" gcc
make_cpio "$tmp/root" "$OUT"
stamp_write "$OUT" "$key"
msg "x86 initramfs ready: $(du -h "$OUT" | cut -f1), ${#applets[@]} applets"
echo "$OUT"
