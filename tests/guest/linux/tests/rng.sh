#!/bin/sh
# Guest half of tests/integration/riscv/virtio-rng.sh: the virtio-rng is
# the kernel's hwrng and /dev/hwrng gives bytes that are not all the same.
fail=0
cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
case "$cur" in
virtio_rng*) echo "rng: ok current $cur" ;;
*) echo "rng: FAIL current '$cur'"; fail=1 ;;
esac
n=$(dd if=/dev/hwrng bs=4096 count=16 2>/dev/null | wc -c)
[ "$n" = 65536 ] && echo "rng: ok read 65536 bytes" || { echo "rng: FAIL read $n bytes"; fail=1; }
distinct=$(dd if=/dev/hwrng bs=256 count=1 2>/dev/null | od -An -v -tx1 | tr ' ' '\n' | sort -u | grep -c .)
[ "$distinct" -gt 100 ] && echo "rng: ok $distinct distinct byte values in 256" ||
    { echo "rng: FAIL only $distinct distinct byte values"; fail=1; }
exit $fail
