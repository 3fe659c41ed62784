#!/bin/sh
# A libFuzzer campaign on the snapshot reader (tests/fuzz/fuzz_snapshot.c).
# The reader restores through the whole library, so the whole library is
# built with clang, coverage instrumentation (-fsanitize=fuzzer-no-link) and
# ASan + UBSan into BUILD_DIR (default build-fuzz; only the fuzz target and
# what it links are compiled), then the target runs for SECONDS (default
# 900) under nice from the seeds of tests/fuzz/snapshot-corpus/ with
# tests/fuzz/snapshot.dict.
#
# usage: run-snapshot-fuzz-campaign.sh [SECONDS] [BUILD_DIR] [WORK_DIR]
#
# New inputs go to WORK_DIR/corpus (default /tmp/libvmm-snapshot-fuzz),
# never into the source tree; a crash, leak or broken property leaves its
# input in WORK_DIR/artifacts/ and the script exits 1. Shrink one with
#   BUILD_DIR/tests/fuzz/fuzz_snapshot -minimize_crash=1 -runs=2000 INPUT
# and replay it through the plain driver (build/tests/unit/
# fuzz_snapshot_driver INPUT). The kvm seeds reach the kvm engine only where
# /dev/kvm works; elsewhere they are refused at VM creation (after the
# header, configuration and memory table were read).
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_TO_RUN=${1:-900}
BUILD=${2:-$SRC/build-fuzz}
WORK=${3:-/tmp/libvmm-snapshot-fuzz}
CLANG=${CLANG:-clang}

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "no $CLANG: the snapshot fuzz campaign needs clang with libFuzzer" >&2
    exit 77
fi
if [ ! -f "$BUILD/build.ninja" ]; then
    CC=$CLANG meson setup "$BUILD" "$SRC" -Dfuzz=true -Dbench=false \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fsanitize=fuzzer-no-link >&2
fi
nice ninja -C "$BUILD" tests/fuzz/fuzz_snapshot >&2
mkdir -p "$WORK/corpus" "$WORK/artifacts"

echo "== libFuzzer on the snapshot reader for ${SECONDS_TO_RUN}s (log: $WORK/log)"
# -max_len: the largest seed plus room for a few more pages; -timeout: a
# restore of a 64 MiB file takes milliseconds, 10 s is a hang; detect_leaks
# stays on (ASan's default).
status=0
nice -n 10 "$BUILD/tests/fuzz/fuzz_snapshot" -max_total_time="$SECONDS_TO_RUN" \
    -timeout=10 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
    -dict="$SRC/tests/fuzz/snapshot.dict" -artifact_prefix="$WORK/artifacts/" \
    "$WORK/corpus" "$SRC/tests/fuzz/snapshot-corpus" > "$WORK/log" 2>&1 || status=$?
grep -E '^#[0-9]+ *(INITED|DONE|pulse|NEW)' "$WORK/log" | tail -n 5
grep -E '^stat::' "$WORK/log" || true
if [ "$status" != 0 ]; then
    echo "== libFuzzer failed (exit $status); inputs in $WORK/artifacts/: $(ls "$WORK/artifacts/")"
    grep -E 'ERROR|fuzz_snapshot:|SUMMARY' "$WORK/log" | head -n 10
    exit 1
fi
echo "== campaign passed: $(ls "$WORK/corpus" | wc -l) inputs in $WORK/corpus"
