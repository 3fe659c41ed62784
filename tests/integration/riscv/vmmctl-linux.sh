#!/usr/bin/env bash
# vmmctl boots the cached riscv64 Linux (engine picked from the Image header)
# and exits with the guest's outcome: 0 on poweroff (SBI SRST), the code
# the guest wrote to the SiFive test device otherwise.
#   vmmctl-linux.sh VMMCTL
set -u
vmmctl=$1
dir=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/riscv
if [ ! -f "$dir/Image" ] || [ ! -f "$dir/initramfs.cpio.gz" ]; then
  msg="no riscv64 Linux in $dir (build it with scripts/guest/all.sh)"
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $msg"; exit 1; fi
  echo "SKIP: $msg"; exit 77
fi
fail=0
check() { # WANT_STATUS PATTERN APPEND
  out=$("$vmmctl" run --kernel "$dir/Image" --initrd "$dir/initramfs.cpio.gz" --cpus 2 \
        --append "console=ttyS0 $3" </dev/null 2>&1)
  status=$?
  if [ "$status" != "$1" ] || ! grep -q -- "$2" <<<"$out"; then
    echo "FAIL: append '$3': status $status (want $1), pattern '$2'"; echo "$out" | tail -20; fail=1
  else
    echo "ok: append '$3' -> status $status"
  fi
}
check 0 'libvmm-guest: cpus 2' 'libvmm.test=poweroff'
check 9 'libvmm-guest: exitcode 9' 'libvmm.test=exitcode=9'
exit $fail
