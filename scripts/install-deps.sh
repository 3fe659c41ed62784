#!/usr/bin/env bash
# Installs what libvmm needs to build, test and benchmark on Debian 12, as
# root. Only packages that are missing are installed, so a second run is
# quick. Guest kernels are not installed here: scripts/guest/ fetches and
# builds them into ~/.cache/libvmm.
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config
  libuv1-dev libxml2-dev libcunit1-dev libfdt-dev libjansson-dev
  # fuzzing and sanitizers
  clang lld libclang-rt-14-dev
  # riscv64 guests: cross compiler, kernel build tools
  gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu libc6-dev-riscv64-cross
  bc bison flex libssl-dev libelf-dev cpio xz-utils dpkg-dev python3
  # XML schema validation (virt-xml-validate)
  libvirt-clients libxml2-utils
  # device tests: ext4 images made and checked on the host, network
  # namespaces and tap devices
  e2fsprogs iproute2
  # ACPI table checks (iasl disassembles the DSDT in a unit test)
  acpica-tools
  # QEMU, the side-by-side reference for benchmarks and guest checks
  qemu-system-x86 qemu-system-misc
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed" >&2
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -q --no-install-recommends "${missing[@]}"
