#!/bin/sh
# Guest half of the deflate-on-OOM test (bindings/python/tests/
# test_balloon.py): the host boots this guest with <currentMemory> far
# below <memory> and autodeflate on, so the balloon holds most of RAM. Once
# it has inflated, memhog asks for more than is left: with
# VIRTIO_BALLOON_F_DEFLATE_ON_OOM the driver gives balloon pages back from
# the OOM notifier instead of the OOM killer ending memhog.
kib() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
want=${1:-150}
i=0
# The balloon inflates at boot: wait until MemFree is below what memhog wants.
while [ "$(kib MemFree)" -gt $((want * 1024)) ]; do
    i=$((i + 1))
    [ $i -gt 600 ] && { echo "oom: FAIL the balloon never inflated (MemFree $(kib MemFree))"; exit 1; }
    sleep 0.2
done
echo "oom: inflated free=$(kib MemFree)"
if memhog "$want"; then
    echo "oom: ok touched $want MiB with the balloon deflating on OOM"
else
    echo "oom: FAIL memhog $want"
    exit 1
fi
