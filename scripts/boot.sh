#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root) to a booting guest:
# installs what is missing, builds, fetches/builds the default guest and
# boots it with vmmctl, its console on this terminal (Ctrl-A x quits).
#
# The default guest is x86-64 Linux on the kvm engine where the host has
# hardware virtualisation (VT-x/AMD-V), and riscv64 Linux on the soft engine
# elsewhere — including hosts whose /dev/kvm is kvm_pvm, which cannot boot
# an unmodified x86 Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
cache=${LIBVMM_CACHE:-$HOME/.cache/libvmm}
if [ -e /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
  ./scripts/guest/all.sh --x86 >&2
  exec ./build/examples/vmmctl/vmmctl run --engine kvm --kernel "$cache/x86/vmlinuz" \
    --initrd "$cache/x86/initramfs.cpio.gz" --memory 512M --cpus 2 \
    --append "console=ttyS0 ${LIBVMM_APPEND:-}" "$@"
fi
./scripts/guest/all.sh --riscv >&2
exec ./build/examples/vmmctl/vmmctl run --engine soft --kernel "$cache/riscv/Image" \
  --initrd "$cache/riscv/initramfs.cpio.gz" --memory 256M --cpus 2 \
  --append "console=ttyS0 ${LIBVMM_APPEND:-}" "$@"
