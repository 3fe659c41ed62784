#!/bin/sh
# Short fuzzing run of the split virtqueue (devices/virtio/queue.c), part of
# the test suite (the sibling of run-fuzz.sh and run-loader-fuzz.sh).
#
# usage: run-virtq-fuzz.sh SOURCE_ROOT WORK_DIR PLAIN_DRIVER [SECONDS]
#
# 1. Always: the plain driver (built by meson with the project's compiler)
#    runs every file of tests/fuzz/virtq-corpus/ (seeds and the reproducers
#    of fixed bugs) through the fuzz target's checks.
# 2. When clang with libFuzzer is usable, tests/fuzz/fuzz_virtq.c is built
#    with -fsanitize=fuzzer,address,undefined from queue.c and the little it
#    needs (guest memory, the state stream, errors), so every line it
#    exercises is instrumented, and run for SECONDS (default 20). Otherwise
#    step 2 is skipped with a note.
# New inputs libFuzzer finds go to WORK_DIR, never into the source tree; a
# crash leaves its input in WORK_DIR/artifacts/ and fails the test.
# A long campaign uses the same binary: run-virtq-fuzz.sh ... DRIVER 600
set -eu
SRC=$1
WORK=$2
DRIVER=$3
SECONDS_TO_RUN=${4:-20}
SEEDS="$SRC/tests/fuzz/virtq-corpus"

SOURCES="$SRC/tests/fuzz/fuzz_virtq.c $SRC/libvmm/devices/virtio/queue.c
    $SRC/libvmm/mem/guest_mem.c $SRC/libvmm/machine/state.c $SRC/libvmm/util/crc32c.c
    $SRC/libvmm/util/error.c $SRC/libvmm/util/log.c"
HEADERS="$SRC/libvmm/devices/virtio/queue.h $SRC/libvmm/mem/guest_mem.h
    $SRC/libvmm/machine/state.h"

echo "== virtqueue corpus through the plain driver"
"$DRIVER" "$SEEDS"

# shellcheck source=libfuzzer.sh
. "$(dirname "$0")/libfuzzer.sh"
libfuzzer_usable "$WORK" || exit 0

BIN="$WORK/fuzz_virtq_libfuzzer"
stale=1
if [ -x "$BIN" ]; then
    stale=0
    # shellcheck disable=SC2086
    for f in $SOURCES $HEADERS; do
        [ "$f" -nt "$BIN" ] && stale=1
    done
fi
if [ $stale = 1 ]; then
    echo "== building $BIN with $CLANG"
    # shellcheck disable=SC2086
    "$CLANG" -std=gnu11 -g -O1 -D_GNU_SOURCE \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$SRC/include" -I"$SRC/libvmm" $SOURCES -lpthread -o "$BIN"
fi

echo "== libFuzzer on the virtqueue for ${SECONDS_TO_RUN}s"
# Leak checking stays on (ASan's default); pops are bounded, so the
# per-input timeout catches hangs; -max_len covers the largest seed (a
# 1024-entry queue's rings).
rm -f "$WORK/rc"
{
    "$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 \
        -max_len=32768 -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 \
        "$WORK/corpus" "$SEEDS" 2>&1
    echo $? > "$WORK/rc"
} | grep -v -e '^"' -e 'recommended dictionary' | tail -n 25
status=$(cat "$WORK/rc" 2>/dev/null || echo 1)
if [ "$status" != 0 ]; then
    echo "== libFuzzer failed (exit $status); inputs in $WORK/artifacts/: $(ls "$WORK/artifacts/")"
    exit 1
fi
echo "== libFuzzer run passed"
