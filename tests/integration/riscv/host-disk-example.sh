#!/usr/bin/env bash
# examples/host-disk.c (and, when given, examples/python/host_disk.py) boot
# the riscv64 test Linux with a disk the program serves itself; the guest
# checks the first MiB's sha256 (the host's pattern) and writes the second
# MiB, which the program then verifies.
#   host-disk-example.sh COMMAND...
set -u
dir=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/riscv
if [ ! -f "$dir/Image" ] || [ ! -f "$dir/initramfs.cpio.gz" ]; then
  msg="no riscv64 Linux in $dir (build it with scripts/guest/all.sh)"
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $msg"; exit 1; fi
  echo "SKIP: $msg"; exit 77
fi
# sha256 of bytes i % 251 for i in 0..1 MiB-1
want=631b84027d6b9e52b539c4e8373622d23032dfadc64d60af87339c9037e4f769
out=$(timeout 300 "$@" "$dir/Image" "$dir/initramfs.cpio.gz" </dev/null 2>&1)
status=$?
echo "$out" | grep -E '^hostdisk:|host-disk|host_disk'
fail=0
[ "$status" = 0 ] || { echo "FAIL: exit status $status"; fail=1; }
grep -q "hostdisk: first MiB sha256 $want" <<<"$out" || { echo "FAIL: the guest read other bytes"; fail=1; }
grep -q 'second MiB as the guest wrote it' <<<"$out" || { echo "FAIL: the host did not get the guest's write"; fail=1; }
[ $fail = 0 ] || echo "$out" | tail -30
exit $fail
