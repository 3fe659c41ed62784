#!/bin/sh
# Guest half of the snapshot benchmarks `snapshot-1g` and `migrate`
# (bench/run.py): fills guest RAM with a recognisable pattern, then idles or
# keeps rewriting part of it. From the kernel command line:
#   libvmm.touch_mib=N     MiB to touch (default 256): the rootfs (RAM) file
#                          /touched, "libvmm-touch-pattern" lines, so no
#                          page is zero
#   libvmm.rewrite_mib=M   then rewrite the first M MiB of /touched in
#                          place, pass after pass, alternately with M MiB of
#                          "libvmm-rewrite-pattern" lines (the file
#                          /rewrite, M MiB more in RAM) and with M MiB from
#                          further on in /touched, so the bytes change every
#                          pass (default 0: idle)
# Lines starting "memtouch:" are the contract with run.py: "memtouch:
# touched N MiB" once the pattern is in RAM, then "memtouch: idle", or
# "memtouch: pass K" after every rewrite pass.
mib=256
rewrite=0
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    libvmm.touch_mib=*) mib=${arg#libvmm.touch_mib=} ;;
    libvmm.rewrite_mib=*) rewrite=${arg#libvmm.rewrite_mib=} ;;
    esac
done

# fill FILE LINE MIB: MIB MiB of LINE lines: 1 MiB, then doubled in place
# (a process per block costs ~0.1 s under an emulated CPU, while dd moves
# hundreds of MB/s). In place, so no temporary copy leaves freed but
# non-zero pages behind: RAM that is not zero is the file, the kernel and
# the rootfs, nothing more.
fill() {
    yes "$2" | head -c 1048576 > "$1"
    have=1
    while [ "$have" -lt "$3" ]; do
        n=$have
        [ $((have + n)) -gt "$3" ] && n=$(($3 - have))
        dd if="$1" of="$1" bs=1M count="$n" seek="$have" conv=notrunc 2>/dev/null
        have=$((have + n))
    done
}

fill /touched libvmm-touch-pattern "$mib"
echo "memtouch: touched $(($(wc -c < /touched) >> 20)) MiB"
if [ "$rewrite" -le 0 ] || [ "$rewrite" -gt "$((mib / 2))" ]; then
    echo "memtouch: idle"
    while :; do sleep 3600; done
fi
fill /rewrite libvmm-rewrite-pattern "$rewrite"
pass=0
while :; do
    if [ $((pass % 2)) = 0 ]; then
        dd if=/rewrite of=/touched bs=1M count="$rewrite" conv=notrunc 2>/dev/null
    else
        dd if=/touched of=/touched bs=1M skip="$rewrite" count="$rewrite" conv=notrunc 2>/dev/null
    fi
    pass=$((pass + 1))
    echo "memtouch: pass $pass"
done
