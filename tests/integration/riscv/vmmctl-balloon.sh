#!/usr/bin/env bash
# vmmctl's memory options end to end: riscv64 Linux (soft engine) run with
# --balloon=stats=1 --current-memory 128M on 256M of RAM and a QMP socket;
# `vmmctl memstat` must show the balloon holding 128 MiB from boot and the
# guest's statistics, then QMP `quit` ends the run. A second run with
# --memory-limit 8M is paused once the booting guest commits more, with
# vmmctl saying so. Bad option values are refused with exit status 2 naming
# them.
#   vmmctl-balloon.sh VMMCTL
vmmctl=$1
dir=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/riscv
if [ ! -f "$dir/Image" ] || [ ! -f "$dir/initramfs.cpio.gz" ]; then
  msg="no riscv64 Linux in $dir (build it with scripts/guest/all.sh)"
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $msg"; exit 1; fi
  echo "SKIP: $msg"; exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }

for bad in "--overcommit 0.5" "--overcommit x" "--balloon=bogus" "--memory-pool 12Q" \
           "--balloon=stats=999999" "--memory-limit 4097"; do
  # shellcheck disable=SC2086 # one option and its value, split on purpose
  err=$("$vmmctl" run --kernel "$dir/Image" $bad </dev/null 2>&1)
  status=$?
  [ "$status" = 2 ] || fail "'$bad' gave exit status $status"
  echo "$err" | grep -q "vmmctl: --" || fail "'$bad' gave no message naming the option: $err"
  echo "ok: '$bad' refused: $err"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sock=$work/qmp.sock
# The guest's shell reads a FIFO this script holds open: no input, no EOF.
mkfifo "$work/in"
exec 3<>"$work/in"
timeout 300 "$vmmctl" run --engine soft --kernel "$dir/Image" \
    --initrd "$dir/initramfs.cpio.gz" --memory 256M --append "console=ttyS0 libvmm.test=shell" \
    --balloon=stats=1 --current-memory 128M --overcommit 2 \
    --qmp "unix:$sock,server,wait=off" <"$work/in" >"$work/console" 2>&1 &
run=$!
ok=
for _ in $(seq 1 240); do
  sleep 0.5
  [ -S "$sock" ] || continue
  out=$("$vmmctl" memstat "$sock" 2>&1) || continue
  if echo "$out" | grep -Eq 'guest memory now +128.0 MiB' &&
     echo "$out" | grep -Eq 'guest statistics \('; then
    ok=1
    break
  fi
done
echo "$out"
"$vmmctl" qmp "$sock" quit >/dev/null 2>&1
wait "$run"
status=$?
[ -n "$ok" ] || { tail -20 "$work/console"; fail "the balloon never held 128 MiB with statistics"; }
[ "$status" = 0 ] || fail "vmmctl exit status $status after quit"
echo "ok: --balloon and --current-memory give a 128 MiB guest of 256 MiB, with statistics"

rm -f "$sock"
timeout 300 "$vmmctl" run --engine soft --kernel "$dir/Image" \
    --initrd "$dir/initramfs.cpio.gz" --memory 256M --append "console=ttyS0 libvmm.test=shell" \
    --memory-limit 8M --qmp "unix:$sock,server,wait=off" <"$work/in" >"$work/console2" 2>&1 &
run=$!
paused=
for _ in $(seq 1 240); do
  sleep 0.5
  if grep -q "vmmctl: VM paused: .* above the VM's memory limit of 8 MiB" "$work/console2"; then
    paused=1
    break
  fi
done
status=$("$vmmctl" qmp "$sock" query-status 2>&1)
"$vmmctl" qmp "$sock" quit >/dev/null 2>&1
wait "$run"
grep "vmmctl: VM paused" "$work/console2"
[ -n "$paused" ] || { tail -20 "$work/console2"; fail "--memory-limit 8M never paused the VM"; }
echo "$status" | grep -q '"status": "paused"' || fail "query-status after the pause: $status"
exec 3>&-
echo "ok: --memory-limit 8M pauses the booting guest with a message"
