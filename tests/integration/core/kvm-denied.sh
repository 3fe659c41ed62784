#!/usr/bin/env bash
# An unprivileged user without access to /dev/kvm gets one clear line that
# names the device and the reason, and vmmctl exits 2 (bad input / host).
#   kvm-denied.sh VMMCTL GUEST
set -u
vmmctl=$1 guest=$2
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
  echo "SKIP: needs root and setpriv to drop to an unprivileged user"; exit 77
fi
if [ -e /dev/kvm ] && [ "$(stat -c %a /dev/kvm)" != 600 ] && [ "$(stat -c %a /dev/kvm)" != 660 ]; then
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
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env LD_LIBRARY_PATH="$tmp" \
      "$tmp/vmmctl" run --engine kvm --kernel "$tmp/guest.elf" </dev/null 2>&1)
status=$?
echo "status $status: $out"
[ "$status" = 2 ] || exit 1
grep -qE '/dev/kvm: (Permission denied|No such file or directory)' <<<"$out" || exit 1
[ "$(grep -c . <<<"$out")" = 1 ] || { echo "expected exactly one line"; exit 1; }
