#!/bin/sh
# Short fuzzing run of the domain XML reader, part of the test suite.
#
# usage: run-fuzz.sh SOURCE_ROOT WORK_DIR PLAIN_DRIVER [SECONDS]
#
# 1. Always: the plain driver (built by meson with the project's compiler)
#    runs every corpus document through the fuzz target's checks.
# 2. When clang with libFuzzer is usable, the target is built with
#    -fsanitize=fuzzer,address,undefined from the config module's sources
#    alone (so the run needs nothing else of libvmm and every line it
#    exercises is instrumented) and run for SECONDS (default 20) seeded with
#    tests/xml/. Otherwise step 2 is skipped with a note: step 1 still ran.
# New inputs libFuzzer finds go to WORK_DIR, never into the source tree; a
# crash leaves its input in WORK_DIR/artifacts/ and fails the test.
set -eu
SRC=$1
WORK=$2
DRIVER=$3
SECONDS_TO_RUN=${4:-20}
SEEDS="$SRC/tests/xml"

echo "== corpus through the plain driver"
"$DRIVER" "$SEEDS"

# shellcheck source=libfuzzer.sh
. "$(dirname "$0")/libfuzzer.sh"
libfuzzer_usable "$WORK" || exit 0

BIN="$WORK/fuzz_xml_libfuzzer"
SOURCES="$SRC/tests/fuzz/fuzz_xml.c $SRC/libvmm/config/*.c $SRC/libvmm/config/xml/*.c $SRC/libvmm/util/error.c $SRC/libvmm/util/log.c $SRC/libvmm/util/sized.c"
stale=1
if [ -x "$BIN" ]; then
    stale=0
    for f in $SOURCES $SRC/libvmm/config/*.h $SRC/libvmm/config/xml/*.h $SRC/include/vmm/config.h; do
        [ "$f" -nt "$BIN" ] && stale=1
    done
fi
if [ $stale = 1 ]; then
    echo "== building $BIN with $CLANG"
    # shellcheck disable=SC2086
    "$CLANG" -std=gnu11 -g -O1 -D_GNU_SOURCE \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$SRC/include" -I"$SRC/libvmm" $(pkg-config --cflags libxml-2.0) \
        $SOURCES $(pkg-config --libs libxml-2.0) -lpthread -o "$BIN"
fi

echo "== libFuzzer for ${SECONDS_TO_RUN}s"
# Leak checking stays on (ASan's default); the inputs are bounded so the
# per-input timeout catches hangs; -max_len keeps runs fast.
rm -f "$WORK/rc"
{
    "$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -dict="$SRC/tests/fuzz/xml.dict" \
        -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 \
        "$WORK/corpus" "$SEEDS/valid" "$SEEDS/lenient" "$SEEDS/invalid" 2>&1
    echo $? > "$WORK/rc"
} | grep -v -e '^"' -e 'recommended dictionary' | tail -n 25
status=$(cat "$WORK/rc" 2>/dev/null || echo 1)
if [ "$status" != 0 ]; then
    echo "== libFuzzer failed (exit $status); inputs in $WORK/artifacts/: $(ls "$WORK/artifacts/")"
    exit 1
fi
echo "== libFuzzer run passed"
