#!/bin/sh
# Guest half of tests/integration/riscv/virtio-balloon.py. The host reads
# these lines and acts on them:
#   "balloon: idle ..."        touched memory is free again: the host inflates
#                              the balloon by 200 MiB, checks, then deflates it
#   "balloon: hog again"       the host lowers its memory pool so this second
#                              hog pauses the VM, then lets it go on
# The guest checks what it can see: the driver bound, MemTotal shrinking by
# the balloon's 200 MiB and growing back, and memory usable after deflation.
fail=0
kib() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }

drv=$(ls /sys/bus/virtio/drivers/virtio_balloon 2>/dev/null | grep -c '^virtio')
[ "$drv" -ge 1 ] && echo "balloon: ok driver bound" || { echo "balloon: FAIL no virtio_balloon device"; exit 1; }

total0=$(kib MemTotal)
# Touch all free memory but 8 MiB, so what the balloon takes afterwards is
# (nearly) all pages the host has committed.
hog=$(( $(kib MemFree) / 1024 - 8 ))
echo "balloon: start total=$total0 hog=$hog"
memhog "$hog" || { echo "balloon: FAIL memhog $hog"; exit 1; }
sleep 1
echo "balloon: idle total=$(kib MemTotal) free=$(kib MemFree)"

# The host inflates by 200 MiB (204800 KiB): MemTotal drops by as much.
i=0
while [ "$(kib MemTotal)" -gt $((total0 - 204800)) ]; do
    i=$((i + 1))
    [ $i -gt 600 ] && { echo "balloon: FAIL never inflated (MemTotal $(kib MemTotal))"; exit 1; }
    sleep 0.2
done
echo "balloon: ok inflated total=$(kib MemTotal)"

i=0
while [ "$(kib MemTotal)" -lt "$total0" ]; do
    i=$((i + 1))
    [ $i -gt 600 ] && { echo "balloon: FAIL never deflated (MemTotal $(kib MemTotal))"; exit 1; }
    sleep 0.2
done
echo "balloon: ok deflated total=$(kib MemTotal)"

hog=$(( $(kib MemFree) / 1024 - 8 ))
echo "balloon: hog again $hog"
if memhog "$hog"; then
    echo "balloon: ok touched $hog MiB after deflation"
else
    echo "balloon: FAIL memhog $hog after deflation"
    fail=1
fi
exit $fail
