#!/bin/sh
# Guest half of tests/integration/riscv/virtio-blk.sh. The host attached:
#   vda  an ext2/ext4 image holding hostfile.txt
#   vdb  the same kind of image, read-only
#   vdc  a raw image the host filled with non-zero bytes
# Each check prints one "blk:" line the host matches; exit status 0 when all
# passed.
fail=0
ok() { echo "blk: ok $*"; }
bad() { echo "blk: FAIL $*"; fail=1; }

[ "$(cat /sys/block/vda/serial 2>/dev/null)" = "LVMMDISK1" ] && ok "serial" || bad "serial"
mkdir -p /mnt/a /mnt/b
if mount /dev/vda /mnt/a; then
    got=$(cat /mnt/a/hostfile.txt)
    [ "$got" = "written by the host" ] && ok "read host file" || bad "read host file: '$got'"
    echo "written by the guest" > /mnt/a/guestfile.txt
    # 1 MiB of a known pattern: the host checks its sha256.
    dd if=/dev/zero bs=4096 count=256 2>/dev/null | tr '\0' 'L' > /mnt/a/pattern.bin
    sync
    umount /mnt/a && ok "write and unmount" || bad "unmount"
else
    bad "mount vda"
fi

[ "$(cat /sys/block/vdb/ro)" = 1 ] && ok "vdb is read-only" || bad "vdb ro flag"
if dd if=/dev/zero of=/dev/vdb bs=512 count=1 oflag=direct 2>/dev/null; then
    bad "write to read-only vdb succeeded"
else
    ok "write to read-only vdb refused"
fi
if mount -o ro /dev/vdb /mnt/b && [ -f /mnt/b/hostfile.txt ]; then
    ok "read-only mount"
    umount /mnt/b
else
    bad "read-only mount"
fi

# DISCARD: the host sees the file's blocks go (hole punching).
if blkdiscard -o 0 -l 8388608 /dev/vdc; then
    ok "discard"
else
    bad "discard"
fi
# WRITE_ZEROES (BLKZEROOUT, tools/blkzero.c) reads back as zeros.
if blkzero /dev/vdc 8388608 1048576; then
    nz=$(dd if=/dev/vdc bs=1048576 skip=8 count=1 2>/dev/null | tr -d '\0' | wc -c)
    [ "$nz" = 0 ] && ok "write zeroes" || bad "write zeroes: $nz non-zero bytes"
else
    bad "write zeroes"
fi
sync
echo "blk: done"
exit $fail
