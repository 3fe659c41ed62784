#!/usr/bin/env bash
# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, then
# the tests where threads meet (lifecycle, restart stress, Linux on 2 harts,
# the embedded loop) under ThreadSanitizer. Builds into build-asan and
# build-tsan; run after scripts/test.sh has installed the dependencies and
# cached the guest images.
set -euo pipefail
cd "$(dirname "$0")/.."
supp="$PWD/tests/sanitize/tsan.supp"
jobs=$(nproc)

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Dbench=false >&2
fi
ninja -C build-asan >&2
meson test -C build-asan --print-errorlogs --num-processes "$jobs"

if [ ! -f build-tsan/build.ninja ]; then
  meson setup build-tsan -Db_sanitize=thread -Dbench=false >&2
fi
ninja -C build-tsan >&2
# halt_on_error: any report fails the test; the suppressions cover guest RAM
# only (see the file).
TSAN_OPTIONS="halt_on_error=1 suppressions=$supp" \
  meson test -C build-tsan --print-errorlogs --num-processes "$jobs" \
  restart-stress-soft restart-stress-kvm lifecycle-soft lifecycle-kvm embed-uv-own-loop \
  riscv-linux-2cpu hostile-virtio-soft snapshot-soft qmp-soft
# (migrate-* fork a destination from a threaded process, which ThreadSanitizer
# does not support; ASan runs them.)
