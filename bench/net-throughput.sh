#!/usr/bin/env bash
# One run of benchmark 7 (bench/run.py net): guest -> host TCP throughput over
# a tap device, inside a network namespace of its own (needs root). The
# riscv64 test Linux sends MB MiB of zeros with busybox nc (tests/guest/linux/
# tests/net.sh, libvmm.net.bench=PORT:MB) to a TCP sink on the host side of
# the tap, which times first byte to end of stream. Prints one JSON line:
#   {"engine": ..., "bytes": N, "seconds": S, "mb_s": X}
# Exit 77 (skipped) without root, a tap, the guest or QEMU.
#   net-throughput.sh libvmm VMMCTL IMAGE INITRD MB
#   net-throughput.sh qemu   -      IMAGE INITRD MB
set -u
engine=$1 vmmctl=$2 image=$3 initrd=$4 mb=$5
skip() { echo "$1"; exit 77; }
if [ -z "${LIBVMM_IN_NETNS:-}" ]; then
  [ "$(id -u)" = 0 ] || skip "needs root (a network namespace and a tap device)"
  [ -f "$image" ] && [ -f "$initrd" ] || skip "no riscv64 guest ($image)"
  LIBVMM_IN_NETNS=1 exec unshare -n bash "$0" "$@"
fi
command -v ip >/dev/null || PATH=$PATH:/sbin:/usr/sbin
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
ip link set lo up
ip tuntap add dev tap0 mode tap || skip "cannot create a tap device"
ip addr add 10.0.2.2/24 dev tap0
ip link set tap0 up
py=/usr/bin/python3
[ -x $py ] || py=python3
"$py" - 10.0.2.2 5000 "$work/sink" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(900)
c, _ = s.accept()
n, t0 = 0, None
while True:
    b = c.recv(1 << 18)
    if t0 is None:
        t0 = time.monotonic()
    if not b:
        break
    n += len(b)
open(sys.argv[3], "w").write("%d %.6f\n" % (n, time.monotonic() - t0))
PY
sleep 0.3
mac=52:54:00:12:34:07
append="console=ttyS0 libvmm.test=run:net libvmm.net.if=$mac,10.0.2.15/24,10.0.2.2 libvmm.net.bench=5000:$mb"
case "$engine" in
libvmm)
  timeout 900 "$vmmctl" run --engine soft --memory 256M --kernel "$image" --initrd "$initrd" \
    --append "$append" --net "tap=tap0,mac=$mac" </dev/null >"$work/out" 2>&1
  ;;
qemu)
  command -v qemu-system-riscv64 >/dev/null || skip "qemu-system-riscv64 missing"
  timeout 900 qemu-system-riscv64 -M virt -m 256M -smp 1 -bios default -nographic \
    -kernel "$image" -initrd "$initrd" -append "$append" \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device virtio-net-device,netdev=n0,mac=$mac </dev/null >"$work/out" 2>&1
  ;;
*) echo "engine $engine?"; exit 2 ;;
esac
status=$?
wait
if [ $status != 0 ] || ! [ -s "$work/sink" ]; then
  echo "guest run failed (status $status):" >&2
  tail -15 "$work/out" >&2
  exit 1
fi
read -r bytes secs < "$work/sink"
want=$((mb * 1048576))
[ "$bytes" = "$want" ] || { echo "sink got $bytes bytes, want $want" >&2; exit 1; }
awk -v e="$engine" -v b="$bytes" -v s="$secs" \
  'BEGIN { printf "{\"engine\": \"%s\", \"bytes\": %d, \"seconds\": %s, \"mb_s\": %.3f}\n", e, b, s, b / 1048576 / s }'
