#!/bin/sh
# Guest half of the host-written disk examples (examples/host-disk.c,
# examples/python/host_disk.py): vda is served by the host program, its
# first MiB holds byte i % 251 at offset i. Read and check it, write the
# second MiB as 0x5a bytes, flush.
fail=0
[ "$(cat /sys/block/vda/serial 2>/dev/null)" = HOSTDISK ] && echo "hostdisk: serial ok" ||
    { echo "hostdisk: FAIL serial"; fail=1; }
sum=$(dd if=/dev/vda bs=65536 count=16 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
echo "hostdisk: first MiB sha256 $sum"
dd if=/dev/zero bs=65536 count=16 2>/dev/null | tr '\0' 'Z' |
    dd of=/dev/vda bs=65536 seek=16 oflag=direct conv=fsync 2>/dev/null ||
    { echo "hostdisk: FAIL write"; fail=1; }
sync
echo "hostdisk: done"
exit $fail
