#!/usr/bin/env bash
# A libvmm VM and a QEMU VM (qemu-system-riscv64 -M virt, TCG, the same
# kernel and initramfs) on one virtual Ethernet, inside a network namespace
# of the test's own, over both of QEMU's socket formats at once:
#   eth A: QEMU -netdev stream,server=on (length-prefixed TCP)  <->  libvmm
#          <interface type='client'>
#   eth B: QEMU -netdev dgram (a frame per UDP datagram)          <->  libvmm
#          <interface type='udp'>
# Each guest pings the other on both. QEMU boots slower: long timeouts.
#   virtio-net-qemu.sh VMMCTL
set -u
source "$(dirname "$0")/net-lib.sh"
net_enter_netns "$0" "$@"
vmmctl=$1
command -v qemu-system-riscv64 >/dev/null ||
  skip "qemu-system-riscv64 missing (qemu-system-misc; scripts/install-deps.sh installs it)"
qemu-system-riscv64 -netdev help 2>/dev/null | grep -qw dgram ||
  skip "this QEMU has no -netdev dgram/stream (QEMU >= 7.2 needed)"

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
ip link set lo up

mac_q0=52:54:00:00:0c:01 mac_q1=52:54:00:00:0c:02
mac_l0=52:54:00:00:0d:01 mac_l1=52:54:00:00:0d:02
timeout 400 qemu-system-riscv64 -M virt -m 256M -smp 1 -bios default -nographic \
  -kernel "$dir/Image" -initrd "$dir/initramfs.cpio.gz" \
  -append "console=ttyS0 libvmm.test=run:net libvmm.net.if=$mac_q0,10.0.5.1/24,10.0.5.2 libvmm.net.if=$mac_q1,10.0.6.1/24,10.0.6.2 libvmm.net.wait=10" \
  -netdev stream,id=s0,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=5110 \
  -device virtio-net-device,netdev=s0,mac=$mac_q0 \
  -netdev dgram,id=d0,local.type=inet,local.host=127.0.0.1,local.port=5121,remote.type=inet,remote.host=127.0.0.1,remote.port=5120 \
  -device virtio-net-device,netdev=d0,mac=$mac_q1 \
  </dev/null >"$work/qemu.out" 2>&1 &
q=$!

cat > "$work/domain.xml" <<XML
<domain type='qemu'>
  <name>net-qemu-peer</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>$dir/Image</kernel>
    <initrd>$dir/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 libvmm.test=run:net libvmm.net.if=$mac_l0,10.0.5.2/24,10.0.5.1 libvmm.net.if=$mac_l1,10.0.6.2/24,10.0.6.1 libvmm.net.wait=10</cmdline>
  </os>
  <devices>
    <serial type='stdio'><target port='0'/></serial>
    <interface type='client'>
      <mac address='$mac_l0'/>
      <source address='127.0.0.1' port='5110'/>
      <model type='virtio'/>
    </interface>
    <interface type='udp'>
      <mac address='$mac_l1'/>
      <source address='127.0.0.1' port='5121'>
        <local address='127.0.0.1' port='5120'/>
      </source>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
XML
timeout 400 "$vmmctl" run "$work/domain.xml" </dev/null >"$work/libvmm.out" 2>&1 &
l=$!
wait $l; sl=$?
wait $q; sq=$?
for vm in libvmm qemu; do
  echo "--- $vm"
  grep -aE '^net:|libvmm-guest: (run|test)|vmmctl:|qemu' "$work/$vm.out"
done
[ $sl = 0 ] || bad "libvmm: vmmctl exit status $sl"
# QEMU exits with the SiFive test device's code: 0 for pass.
[ $sq = 0 ] || bad "QEMU exit status $sq"
for vm in libvmm qemu; do
  grep -aq 'net: FAIL' "$work/$vm.out" && bad "$vm guest reported failures"
  grep -aq 'net: done' "$work/$vm.out" || { bad "$vm guest did not finish"; tail -20 "$work/$vm.out"; }
  [ "$(grep -ac 'net: ok ping' "$work/$vm.out")" = 2 ] &&
    say "ok: the $vm guest pinged its peer over stream and dgram" || bad "$vm guest: pings missing"
done
exit $fail
