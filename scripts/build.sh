#!/usr/bin/env bash
# Configures (once) and builds libvmm into ./build (or $BUILD_DIR).
# Extra arguments go to `meson setup` on the first run, e.g. -Db_sanitize=address.
# Under CI (CI=true) warnings are errors, as DESIGN.md asks.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
extra=()
if [ "${CI:-}" = true ]; then extra+=(-Dwerror=true); fi
if [ ! -f "$build_dir/build.ninja" ]; then
  meson setup "$build_dir" "${extra[@]}" "$@" >&2
fi
ninja -C "$build_dir" >&2
