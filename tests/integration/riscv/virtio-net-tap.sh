#!/usr/bin/env bash
# virtio-net on tap devices, end to end, inside a network namespace the test
# creates: the host side makes tap0 with 10.0.2.2/24; riscv64 Linux on the
# soft engine gets it (<interface type='ethernet'><target dev='tap0'
# managed='no'/>) plus a second NIC on a tap libvmm creates itself (managed),
# configures 10.0.2.15/24 on the first, pings 10.0.2.2 and sends 10 MiB with
# busybox nc to a listener on the host side; the checksums must match. The
# managed tap exists while the VM runs and is gone afterwards. Needs root.
# The guest half is tests/guest/linux/tests/net.sh.
#   virtio-net-tap.sh VMMCTL
set -u
source "$(dirname "$0")/net-lib.sh"
net_enter_netns need_root "$0" "$@"
vmmctl=$1

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
ip link set lo up
ip tuntap add dev tap0 mode tap || skip "cannot create a tap device (/dev/net/tun)"
ip addr add 10.0.2.2/24 dev tap0 && ip link set tap0 up || bad "configuring tap0"

mac=52:54:00:12:34:01
cat > "$work/domain.xml" <<XML
<domain type='qemu'>
  <name>virtio-net-tap</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>$dir/Image</kernel>
    <initrd>$dir/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 libvmm.test=run:net libvmm.net.if=$mac,10.0.2.15/24,10.0.2.2 libvmm.net.send=5000</cmdline>
  </os>
  <devices>
    <serial type='stdio'><target port='0'/></serial>
    <interface type='ethernet'>
      <mac address='$mac'/>
      <target dev='tap0' managed='no'/>
      <model type='virtio'/>
    </interface>
    <interface type='ethernet'>
      <mac address='52:54:00:12:34:02'/>
      <target dev='lvmmtap1'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
XML

net_sink 10.0.2.2 5000 "$work/sink.out" &
sleep 0.5
timeout 400 "$vmmctl" run "$work/domain.xml" </dev/null >"$work/out" 2>&1 &
vm=$!
# The managed tap appears while the VM runs.
seen=0
for _ in $(seq 100); do
  ip link show lvmmtap1 >/dev/null 2>&1 && { seen=1; break; }
  kill -0 $vm 2>/dev/null || break
  sleep 0.2
done
wait $vm
status=$?
grep -E '^net:|libvmm-guest: (run|test)|vmmctl:' "$work/out"
[ $seen = 1 ] && say "ok: managed tap lvmmtap1 existed while the VM ran" || bad "managed tap lvmmtap1 never appeared"
ip link show lvmmtap1 >/dev/null 2>&1 && bad "managed tap lvmmtap1 still there after the VM" ||
  say "ok: managed tap gone with the VM"
[ "$status" = 0 ] || bad "vmmctl exit status $status (guest test status via the test device)"
grep -q 'net: FAIL' "$work/out" && bad "the guest reported failures"
grep -q 'net: done' "$work/out" || { bad "the guest test did not finish"; tail -30 "$work/out"; }

want=$(head -c 10485760 /dev/zero | tr '\0' 'N' | sha256sum | cut -d' ' -f1)
for _ in $(seq 50); do [ -s "$work/sink.out" ] && break; sleep 0.1; done
read -r bytes have secs < "$work/sink.out" 2>/dev/null || { bytes=0 have=none secs=0; }
if [ "$bytes" = 10485760 ] && [ "$have" = "$want" ]; then
  say "ok: 10 MiB received on the host side, sha256 matches (${secs}s)"
else
  bad "host side got $bytes bytes, sha256 $have, want 10485760 / $want"
fi
exit $fail
