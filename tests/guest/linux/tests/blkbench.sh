#!/bin/sh
# Guest half of benchmark 7 (`blk`, bench/run.py): runs /bin/blkbench on the
# raw disk /dev/vda. What to run comes from the kernel command line:
#   libvmm.blkbench=OP,ARG,.../OP,ARG,...
# each OP,ARG,... one blkbench invocation (commas become spaces), e.g.
#   libvmm.blkbench=seqwrite,1024,256/seqread,1024,256/randread,4,2,1
# The word `idle` runs nothing (the boot-only run whose host CPU time the
# harness subtracts). Without the parameter: the three default workloads.
# Lines starting "blkbench:" are the contract with run.py.
dev=/dev/vda
spec="seqwrite,1024,256/seqread,1024,256/randread,4,2,1"
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    libvmm.blkbench=*) spec=${arg#libvmm.blkbench=} ;;
    esac
done
if [ ! -b "$dev" ]; then
    echo "blkbench: FAIL no $dev"
    exit 1
fi
q=/sys/block/vda/queue
echo "blkbench: dev $dev sectors $(cat /sys/block/vda/size) spec $spec"
echo "blkbench: queue max_segments=$(cat $q/max_segments) max_sectors_kb=$(cat $q/max_sectors_kb) max_hw_sectors_kb=$(cat $q/max_hw_sectors_kb) scheduler=$(cat $q/scheduler | tr ' ' ,)"
fail=0
IFS_SAVE=$IFS
IFS=/
set -- $spec
IFS=$IFS_SAVE
for job in "$@"; do
    [ "$job" = idle ] && continue
    # shellcheck disable=SC2046 # splitting the job into words is the point
    blkbench "$dev" $(echo "$job" | tr ',' ' ') || { echo "blkbench: FAIL $job"; fail=1; }
    # Requests the disk completed so far (reads, merged, sectors, ms, writes, ...).
    echo "blkbench: stat $(cat /sys/block/vda/stat)"
done
echo "blkbench: done"
exit $fail
