#!/usr/bin/env bash
# Boots the cached guest images under QEMU and checks the /init contract:
# marker lines, CPU count, and that the machine ends by itself (poweroff,
# or the debug-exit status). This is the reference the libvmm boot tests and
# benchmarks compare against; it prints each launch-to-exit time.
#   qemu-smoke.sh [--x86] [--riscv]      (default: both)
# x86 runs under TCG: kvm_pvm hosts cannot boot an unmodified kernel.
# Environment: LIBVMM_CACHE, SMOKE_TIMEOUT (seconds per boot, default 120).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

x86=0 riscv=0
for arg in "$@"; do
    case "$arg" in
    --x86) x86=1 ;;
    --riscv) riscv=1 ;;
    *) die "unknown option '$arg' (use --x86 and/or --riscv)" ;;
    esac
done
[[ $x86 == 1 || $riscv == 1 ]] || x86=1 riscv=1
limit=${SMOKE_TIMEOUT:-120}
failed=0 passed=0
logdir=$(mktemp -d "${TMPDIR:-/tmp}/libvmm-smoke.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

# boot NAME EXPECTED_RC EXPECTED_CPUS COMMAND...: runs QEMU, checks its exit
# status and the console markers, prints the wall time.
boot() {
    local name=$1 want_rc=$2 want_cpus=$3 log="$logdir/$1.log" t0 t1 rc=0 ms ok=1
    shift 3
    t0=$(date +%s%N)
    timeout "$limit" "$@" -nographic -no-reboot < /dev/null > "$log" 2>&1 || rc=$?
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    tr -d '\r' < "$log" > "$log.txt"
    [[ $rc == "$want_rc" ]] || { msg "$name: QEMU exit status $rc, expected $want_rc"; ok=0; }
    grep -q '^libvmm-guest: init started$' "$log.txt" || { msg "$name: no init marker"; ok=0; }
    grep -q "^libvmm-guest: cpus $want_cpus\$" "$log.txt" || { msg "$name: not 'cpus $want_cpus'"; ok=0; }
    if [[ $ok == 1 ]]; then
        printf '%-28s ok    %6d ms  (%s)\n' "$name" "$ms" "$(grep -m1 '^libvmm-guest: kernel' "$log.txt" | cut -d' ' -f3)"
        passed=$((passed + 1))
    else
        printf '%-28s FAIL  %6d ms\n' "$name" "$ms"
        tail -n 20 "$log.txt" >&2
        failed=$((failed + 1))
    fi
}

if [[ $riscv == 1 ]]; then
    need_cmd qemu-system-riscv64
    k=$("$GUEST_DIR/build-riscv-kernel.sh")
    i=$("$GUEST_DIR/build-riscv-initramfs.sh")
    rv=(qemu-system-riscv64 -M virt -m 256M -bios default -kernel "$k" -initrd "$i")
    boot riscv64-smp1-poweroff 0 1 "${rv[@]}" -smp 1 -append "console=ttyS0 libvmm.test=poweroff"
    boot riscv64-smp2-poweroff 0 2 "${rv[@]}" -smp 2 -append "console=ttyS0 libvmm.test=poweroff"
    boot riscv64-smp1-quiet 0 1 "${rv[@]}" -smp 1 -append "console=ttyS0 quiet libvmm.test=poweroff"
    # SiFive test device: (5 << 16) | 0x3333 makes QEMU exit with status 5.
    boot riscv64-exitcode5 5 1 "${rv[@]}" -smp 1 -append "console=ttyS0 libvmm.test=exitcode=5"
fi
if [[ $x86 == 1 ]]; then
    need_cmd qemu-system-x86_64
    k=$("$GUEST_DIR/fetch-x86-kernel.sh")
    i=$("$GUEST_DIR/build-x86-initramfs.sh")
    x=(qemu-system-x86_64 -accel tcg -m 256M -kernel "$k" -initrd "$i")
    boot x86_64-tcg-smp2-poweroff 0 2 "${x[@]}" -smp 2 -append "console=ttyS0 libvmm.test=poweroff"
fi

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
