#!/usr/bin/env bash
# Builds the riscv64 test initramfs: the static busybox from
# build-riscv-busybox.sh plus the shared tests/guest/linux/init.
# Output: $CACHE/riscv/initramfs.cpio.gz (path printed on stdout).
# Environment: LIBVMM_CACHE (and whatever build-riscv-busybox.sh reads).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RECIPE=1
OUT="$CACHE/riscv/initramfs.cpio.gz"

bb=$("$GUEST_DIR/build-riscv-busybox.sh")
[[ -s $bb.applets ]] || die "missing applet list $bb.applets (rerun build-riscv-busybox.sh)"
key=$(hash_inputs "@$LINUX_FILES/init" $(guest_test_inputs) "@$GUEST_DIR/lib.sh" "@$bb.key" "recipe=$RECIPE")
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi
cache_lock riscv-initramfs
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi

need_cmd cpio gzip
tmp=$(mktemp -d "$CACHE/riscv/.initramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
msg "assembling riscv64 initramfs"
mapfile -t applets < "$bb.applets"
populate_rootfs "$tmp/root" "$bb" "${applets[@]}"
install_guest_tools "$tmp/root" riscv64-linux-gnu-gcc
make_cpio "$tmp/root" "$OUT"
stamp_write "$OUT" "$key"
msg "riscv64 initramfs ready: $(du -h "$OUT" | cut -f1), ${#applets[@]} applets"
echo "$OUT"
