#!/usr/bin/env bash
# vmmctl boots the cached riscv64 Linux (engine picked from the Image header)
# and exits with the guest's outcome: 0 on poweroff (SBI SRST), the code
# the guest wrote to the SiFive test device otherwise. Then the same Linux
# behind Debian's OpenSBI fw_jump.bin running in M-mode (--firmware), which
# provides the SBI and powers off through the test device itself. And once
# with --no-jit (the interpreter instead of the translator).
#   vmmctl-linux.sh VMMCTL
set -u
vmmctl=$1
dir=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/riscv
if [ ! -f "$dir/Image" ] || [ ! -f "$dir/initramfs.cpio.gz" ] || [ ! -f "$dir/fw_jump.bin" ]; then
  msg="no riscv64 Linux in $dir (build it with scripts/guest/all.sh)"
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $msg"; exit 1; fi
  echo "SKIP: $msg"; exit 77
fi
fail=0
check() { # WANT_STATUS PATTERN APPEND [VMMCTL-OPTION...]
  want=$1 pattern=$2 append=$3
  shift 3
  out=$("$vmmctl" run --kernel "$dir/Image" --initrd "$dir/initramfs.cpio.gz" --cpus 2 \
        --append "console=ttyS0 $append" "$@" </dev/null 2>&1)
  status=$?
  if [ "$status" != "$want" ] || ! grep -q -- "$pattern" <<<"$out"; then
    echo "FAIL: append '$append' $*: status $status (want $want), pattern '$pattern'"
    echo "$out" | tail -20; fail=1
  else
    echo "ok: append '$append' $* -> status $status"
  fi
}
check 0 'libvmm-guest: cpus 2' 'libvmm.test=poweroff'
check 9 'libvmm-guest: exitcode 9' 'libvmm.test=exitcode=9'
check 0 'Platform HART Count *: 2' 'libvmm.test=poweroff' --firmware "$dir/fw_jump.bin"
check 0 'SBI specification v1.0 detected' 'libvmm.test=poweroff' --firmware "$dir/fw_jump.bin"
check 4 'libvmm-guest: cpus 2' 'libvmm.test=exitcode=4' --firmware "$dir/fw_jump.bin"
# --no-jit: the soft engine interprets instead of translating, same outcome
check 7 'libvmm-guest: exitcode 7' 'libvmm.test=exitcode=7' --no-jit
exit $fail
