#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root) to a full test run:
# installs what is missing, builds, fetches/builds the guest images (cached
# in ~/.cache/libvmm, so only the first run pays), and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh "$@"
./scripts/guest/all.sh >&2
build_dir=${BUILD_DIR:-build}
status=0
meson test -C "$build_dir" --print-errorlogs --num-processes "$(nproc)" || status=$?
# Skips with their reasons (e.g. "/dev/kvm: No such file or directory"):
# meson itself only counts them.
./scripts/skipped-tests.py "$build_dir/meson-logs/testlog.json" || true
exit "$status"
