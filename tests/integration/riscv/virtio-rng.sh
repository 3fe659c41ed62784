#!/usr/bin/env bash
# virtio-rng end to end: riscv64 Linux (soft engine) with --rng reads
# /dev/hwrng through it (guest half: tests/guest/linux/tests/rng.sh).
#   virtio-rng.sh VMMCTL
vmmctl=$1
dir=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/riscv
if [ ! -f "$dir/Image" ] || [ ! -f "$dir/initramfs.cpio.gz" ]; then
  msg="no riscv64 Linux in $dir (build it with scripts/guest/all.sh)"
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $msg"; exit 1; fi
  echo "SKIP: $msg"; exit 77
fi
if ! zcat "$dir/initramfs.cpio.gz" | cpio -t 2>/dev/null | grep -qx 'tests/rng.sh'; then
  msg="the cached initramfs predates tests/rng.sh (run scripts/guest/all.sh)"
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $msg"; exit 1; fi
  echo "SKIP: $msg"; exit 77
fi
out=$(timeout 120 "$vmmctl" run --kernel "$dir/Image" --initrd "$dir/initramfs.cpio.gz" \
      --append "console=ttyS0 libvmm.test=run:rng" --rng </dev/null 2>&1)
status=$?
echo "$out" | grep '^rng:'
if [ "$status" != 0 ] || echo "$out" | grep -q 'rng: FAIL' || ! echo "$out" | grep -q 'rng: ok read'; then
  echo "FAIL: exit status $status"; echo "$out" | tail -20; exit 1
fi
echo "ok: the guest reads /dev/hwrng from virtio-rng"
