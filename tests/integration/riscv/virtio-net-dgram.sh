#!/usr/bin/env bash
# Two libvmm VMs (riscv64 Linux, soft engine) wired back to back with the
# datagram socket backend (one Ethernet frame per UDP datagram, QEMU's
# -netdev dgram format) on 127.0.0.1 inside a network namespace of the
# test's own: each configures its address and pings the other. One VM gets
# its NIC from domain XML (<interface type='udp'>), the other from vmmctl's
# --net udp=... option. A second pair of NICs does the same over a stream
# (type='server' in XML, --net stream=client:... on the command line).
#   virtio-net-dgram.sh VMMCTL
set -u
source "$(dirname "$0")/net-lib.sh"
net_enter_netns "$0" "$@"
vmmctl=$1

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
ip link set lo up

mac_a0=52:54:00:00:0a:01 mac_a1=52:54:00:00:0a:02
mac_b0=52:54:00:00:0b:01 mac_b1=52:54:00:00:0b:02
cat > "$work/a.xml" <<XML
<domain type='qemu'>
  <name>net-a</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>$dir/Image</kernel>
    <initrd>$dir/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 libvmm.test=run:net libvmm.net.if=$mac_a0,10.0.3.1/24,10.0.3.2 libvmm.net.if=$mac_a1,10.0.4.1/24,10.0.4.2 libvmm.net.wait=8</cmdline>
  </os>
  <devices>
    <serial type='stdio'><target port='0'/></serial>
    <interface type='udp'>
      <mac address='$mac_a0'/>
      <source address='127.0.0.1' port='5002'>
        <local address='127.0.0.1' port='5001'/>
      </source>
      <model type='virtio'/>
    </interface>
    <interface type='server'>
      <mac address='$mac_a1'/>
      <source address='127.0.0.1' port='5003'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
XML

timeout 300 "$vmmctl" run "$work/a.xml" </dev/null >"$work/a.out" 2>&1 &
a=$!
timeout 300 "$vmmctl" run --kernel "$dir/Image" --initrd "$dir/initramfs.cpio.gz" --memory 128M \
  --append "console=ttyS0 libvmm.test=run:net libvmm.net.if=$mac_b0,10.0.3.2/24,10.0.3.1 libvmm.net.if=$mac_b1,10.0.4.2/24,10.0.4.1 libvmm.net.wait=8" \
  --net "udp=5002:127.0.0.1:5001,local=127.0.0.1,mac=$mac_b0" \
  --net "stream=client:127.0.0.1:5003,mac=$mac_b1" </dev/null >"$work/b.out" 2>&1 &
b=$!
wait $a; sa=$?
wait $b; sb=$?
for vm in a b; do
  echo "--- VM $vm"
  grep -E '^net:|libvmm-guest: (run|test)|vmmctl:' "$work/$vm.out"
done
[ $sa = 0 ] || bad "VM a: vmmctl exit status $sa"
[ $sb = 0 ] || bad "VM b: vmmctl exit status $sb"
for vm in a b; do
  grep -q 'net: FAIL' "$work/$vm.out" && bad "VM $vm reported failures"
  grep -q 'net: done' "$work/$vm.out" || { bad "VM $vm did not finish"; tail -20 "$work/$vm.out"; }
  [ "$(grep -c 'net: ok ping' "$work/$vm.out")" = 2 ] && say "ok: VM $vm pinged its peer over udp and stream" ||
    bad "VM $vm: pings missing"
done
exit $fail
