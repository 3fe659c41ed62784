#!/bin/sh
# A guest that used memory and then sits idle (bench/memory.py): touches
# memidle.mib=N MiB (kernel command line; default 256) with memhog, frees
# it, prints "memidle: idle" and sleeps until the host ends the VM. What
# the host still holds for it afterwards is what a balloon's free page
# reporting can give back.
mib=256
# shellcheck disable=SC2013 # one kernel parameter per word
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    memidle.mib=*) mib=${arg#memidle.mib=} ;;
    esac
done
memhog "$mib" || echo "memidle: FAIL memhog $mib"
echo "memidle: idle"
while :; do sleep 3600; done
