#!/usr/bin/env bash
# 64 vCPUs on 2 scheduler workers: `vmmctl run --host-cpus 2` with 16
# domains of 4 harts each, all booting the cached riscv64 Linux to its init
# in one host, which reports 4 CPUs and powers off. Every VM's prefixed
# lines must be there and vmmctl must end with status 0.
#   linux-64-vcpus.sh VMMCTL
set -u
vmmctl=$1
img=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/riscv
if [ ! -f "$img/Image" ] || [ ! -f "$img/initramfs.cpio.gz" ]; then
  msg="no riscv64 Linux in $img (build it with scripts/guest/all.sh)"
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $msg"; exit 1; fi
  echo "SKIP: $msg"; exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
files=()
for i in $(seq -w 1 16); do
  cat >"$dir/vm$i.xml" <<XML
<domain type='qemu'>
  <name>vm$i</name>
  <memory unit='MiB'>128</memory>
  <vcpu>4</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>$img/Image</kernel>
    <initrd>$img/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 libvmm.test=poweroff</cmdline>
  </os>
  <devices><serial type='stdio'><target port='0'/></serial></devices>
</domain>
XML
  files+=("$dir/vm$i.xml")
done
start=$(date +%s)
out=$("$vmmctl" run --host-cpus 2 "${files[@]}" </dev/null 2>&1)
status=$?
secs=$(( $(date +%s) - start ))
fail=0
[ "$status" = 0 ] || { echo "vmmctl: status $status, expected 0"; fail=1; }
for i in $(seq -w 1 16); do
  grep -q "^\[vm$i\] libvmm-guest: cpus 4" <<<"$out" || { echo "vm$i: no 'libvmm-guest: cpus 4'"; fail=1; }
  grep -q "^\[vm$i\] libvmm-guest: poweroff" <<<"$out" || { echo "vm$i: did not power off"; fail=1; }
done
if [ $fail = 1 ]; then echo "--- output (tail) ---"; echo "$out" | tail -40; exit 1; fi
echo "ok: 16 Linux VMs x 4 harts (64 vCPUs) booted to init on 2 workers in ${secs} s"
