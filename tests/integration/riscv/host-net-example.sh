#!/usr/bin/env bash
# Runs examples/host-net.c on the cached riscv64 test Linux (skips, or fails
# under CI=true, without it).
#   host-net-example.sh HOST_NET
dir=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/riscv
if [ ! -f "$dir/Image" ] || [ ! -f "$dir/initramfs.cpio.gz" ]; then
  msg="no riscv64 Linux in $dir (build it with scripts/guest/all.sh)"
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $msg"; exit 1; fi
  echo "SKIP: $msg"; exit 77
fi
exec timeout 300 "$1" "$dir/Image" "$dir/initramfs.cpio.gz"
