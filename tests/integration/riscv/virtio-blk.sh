#!/usr/bin/env bash
# virtio-blk end to end: riscv64 Linux on the soft engine mounts an ext4
# image the test made on the host (e2fsprogs), reads a file the host wrote,
# writes files, syncs and powers off; the host reads them back with debugfs
# and e2fsck -fn finds the file system clean. A read-only disk refuses
# writes; DISCARD punches holes (the image's allocated size shrinks); WRITE
# ZEROES reads back as zeros. The guest half is tests/guest/linux/tests/blk.sh.
#   virtio-blk.sh VMMCTL
set -u
vmmctl=$1
dir=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/riscv
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $1"; exit 1; fi
  echo "SKIP: $1"; exit 77
}
[ -f "$dir/Image" ] && [ -f "$dir/initramfs.cpio.gz" ] ||
  skip "no riscv64 Linux in $dir (build it with scripts/guest/all.sh)"
for t in mkfs.ext4 debugfs e2fsck; do
  command -v "$t" >/dev/null || PATH=$PATH:/sbin:/usr/sbin
  command -v "$t" >/dev/null || skip "$t missing (e2fsprogs; scripts/install-deps.sh installs it)"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
say() { echo "$*"; }
bad() { echo "FAIL: $*"; fail=1; }

# vda: ext4 with a file from the host; vdb: the same, attached read-only;
# vdc: 16 MiB of non-zero bytes for DISCARD / WRITE ZEROES.
printf 'written by the host\n' > "$work/hostfile.txt"
for img in vda vdb; do
  truncate -s 64M "$work/$img.img"
  mkfs.ext4 -q -F -O ^has_journal "$work/$img.img" >/dev/null
  debugfs -w -R "write $work/hostfile.txt hostfile.txt" "$work/$img.img" >/dev/null 2>&1
done
head -c 16777216 /dev/zero | tr '\0' 'x' > "$work/vdc.img"
vdc_before=$(du -k "$work/vdc.img" | cut -f1)

cat > "$work/domain.xml" <<XML
<domain type='qemu'>
  <name>virtio-blk-test</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>$dir/Image</kernel>
    <initrd>$dir/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 libvmm.test=run:blk</cmdline>
  </os>
  <devices>
    <serial type='stdio'><target port='0'/></serial>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$work/vda.img'/>
      <target dev='vda' bus='virtio'/>
      <serial>LVMMDISK1</serial>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$work/vdb.img'/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$work/vdc.img'/>
      <target dev='vdc' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML

out=$(timeout 300 "$vmmctl" run "$work/domain.xml" </dev/null 2>&1)
status=$?
echo "$out" | grep -E '^blk:|libvmm-guest: (run|test)'
[ "$status" = 0 ] || bad "vmmctl exit status $status (guest test status via the test device)"
if echo "$out" | grep -q 'blk: FAIL'; then bad "the guest reported failures"; fi
echo "$out" | grep -q 'blk: done' || { bad "the guest test did not finish"; echo "$out" | tail -30; }

# What the guest wrote is on the host's disk, byte for byte.
got=$(debugfs -R "cat guestfile.txt" "$work/vda.img" 2>/dev/null)
[ "$got" = "written by the guest" ] && say "ok: host reads the guest's file" || bad "guestfile.txt: '$got'"
want=$(head -c 1048576 /dev/zero | tr '\0' 'L' | sha256sum | cut -d' ' -f1)
have=$(debugfs -R "cat pattern.bin" "$work/vda.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
[ "$want" = "$have" ] && say "ok: 1 MiB pattern checksum matches" || bad "pattern.bin checksum $have, want $want"
if e2fsck -fn "$work/vda.img" >/dev/null 2>&1; then say "ok: e2fsck -fn clean"; else bad "e2fsck -fn found problems"; e2fsck -fn "$work/vda.img"; fi
if cmp -s <(debugfs -R "cat hostfile.txt" "$work/vdb.img" 2>/dev/null) "$work/hostfile.txt" &&
   e2fsck -fn "$work/vdb.img" >/dev/null 2>&1; then
  say "ok: read-only disk untouched"
else
  bad "read-only disk changed"
fi
vdc_after=$(du -k "$work/vdc.img" | cut -f1)
if [ "$vdc_after" -le $((vdc_before - 8192)) ]; then
  say "ok: discard punched holes (${vdc_before} KiB -> ${vdc_after} KiB allocated)"
else
  bad "discard: ${vdc_before} KiB -> ${vdc_after} KiB allocated"
fi
exit $fail
