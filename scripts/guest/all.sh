#!/usr/bin/env bash
# Builds or fetches every guest image (cached; a warm run is instant) and
# prints their paths, one per line.
#   all.sh            both architectures
#   all.sh --x86      vmlinuz + initramfs for x86-64
#   all.sh --riscv    Image + busybox + initramfs + OpenSBI fw_jump for riscv64
#   all.sh --env      print NAME=path lines instead (for `eval`), e.g.
#                     LIBVMM_X86_KERNEL, LIBVMM_X86_INITRD,
#                     LIBVMM_RISCV_KERNEL, LIBVMM_RISCV_INITRD, LIBVMM_RISCV_FIRMWARE
# Environment: LIBVMM_CACHE, LIBVMM_GUEST_REFRESH=1, JOBS.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

x86=0 riscv=0 env=0
for arg in "$@"; do
    case "$arg" in
    --x86) x86=1 ;;
    --riscv) riscv=1 ;;
    --env) env=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "all.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
[[ $x86 == 1 || $riscv == 1 ]] || x86=1 riscv=1

emit() {  # emit NAME PATH
    if [[ $env == 1 ]]; then printf '%s=%s\n' "$1" "$2"; else printf '%s\n' "$2"; fi
}

if [[ $x86 == 1 ]]; then
    emit LIBVMM_X86_KERNEL "$("$here/fetch-x86-kernel.sh")"
    emit LIBVMM_X86_INITRD "$("$here/build-x86-initramfs.sh")"
fi
if [[ $riscv == 1 ]]; then
    emit LIBVMM_RISCV_KERNEL "$("$here/build-riscv-kernel.sh")"
    emit LIBVMM_RISCV_BUSYBOX "$("$here/build-riscv-busybox.sh")"
    emit LIBVMM_RISCV_INITRD "$("$here/build-riscv-initramfs.sh")"
    emit LIBVMM_RISCV_FIRMWARE "$("$here/fetch-opensbi.sh")"
fi
