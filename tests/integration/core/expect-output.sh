#!/usr/bin/env bash
# expect-output.sh [--kvm] STATUS PATTERN... -- COMMAND...
# Runs COMMAND, then checks its exit status and that its combined output
# contains every PATTERN (grep -E). Prints the output on failure.
# --kvm: COMMAND needs /dev/kvm; kvm_require (tests/kvm-available.sh)
# skips without it.
set -u
if [ "$1" = --kvm ]; then
  shift
  # shellcheck source=SCRIPTDIR/../../kvm-available.sh
  . "$(dirname "$0")/../../kvm-available.sh"
  kvm_require
fi
want_status=$1; shift
patterns=()
while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
shift
out=$("$@" 2>&1 </dev/null)
status=$?
ok=1
if [ "$status" != "$want_status" ]; then
  echo "exit status $status, expected $want_status"; ok=0
fi
for p in "${patterns[@]}"; do
  if ! grep -qE -- "$p" <<<"$out"; then echo "output lacks: $p"; ok=0; fi
done
if [ $ok = 0 ]; then echo "--- output ---"; echo "$out" | tail -50; exit 1; fi
echo "ok: status $status, ${#patterns[@]} pattern(s) found"
