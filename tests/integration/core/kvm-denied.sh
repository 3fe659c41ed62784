#!/usr/bin/env bash
# A user who cannot use /dev/kvm gets one clear line that names the device
# and the reason, and vmmctl exits 2 (bad input / host). Both ways a host
# can refuse, picked by kvm_probe (tests/kvm-available.sh):
#  - the device is there: vmmctl runs as an unprivileged user (root and
#    setpriv needed) and must report "Permission denied";
#  - the host has no /dev/kvm: vmmctl runs as is and must report "No such
#    file or directory", the line users of such hosts see.
#   kvm-denied.sh VMMCTL GUEST
set -u
vmmctl=$1 guest=$2
# shellcheck source=SCRIPTDIR/../../kvm-available.sh
. "$(dirname "$0")/../../kvm-available.sh"
kvm_probe

check() { # EXPECTED-REASON GUEST COMMAND...
  local want=$1 kernel=$2 out status
  shift 2
  out=$("$@" run --engine kvm --kernel "$kernel" </dev/null 2>&1)
  status=$?
  echo "status $status: $out"
  [ "$status" = 2 ] || exit 1
  grep -qF "/dev/kvm: $want" <<<"$out" || { echo "expected '/dev/kvm: $want'"; exit 1; }
  [ "$(grep -c . <<<"$out")" = 1 ] || { echo "expected exactly one line"; exit 1; }
}

if [ "$kvm_state" = absent ]; then
  echo "no /dev/kvm on this host: checking the error for a missing device"
  check "No such file or directory" "$guest" "$vmmctl"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
  echo "SKIP: needs root and setpriv to drop to an unprivileged user"; exit 77
fi
if [ "$(stat -c %a /dev/kvm)" != 600 ] && [ "$(stat -c %a /dev/kvm)" != 660 ]; then
  echo "SKIP: /dev/kvm is world-accessible here ($(stat -c %a /dev/kvm))"; exit 77
fi
# The checkout may sit where the unprivileged user cannot look (/root): give
# it copies of the program and the guest it can read.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$guest" "$tmp/guest.elf"
cp "$vmmctl" "$tmp/vmmctl"
cp -L "$(dirname "$vmmctl")/../../libvmm.so.0" "$tmp/"
chmod 755 "$tmp/vmmctl"
chmod 755 "$tmp"; chmod 644 "$tmp/guest.elf"
check "Permission denied" "$tmp/guest.elf" setpriv --reuid=65534 --regid=65534 --clear-groups \
  env LD_LIBRARY_PATH="$tmp" "$tmp/vmmctl"
