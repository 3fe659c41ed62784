#!/bin/sh
# Short fuzzing run of the soft engine's translator against its interpreter
# (tests/fuzz/fuzz_rv_jit.c over tests/unit/rv_diff.h), part of the test
# suite like run-virtq-fuzz.sh.
#
# usage: run-jit-fuzz.sh SOURCE_ROOT WORK_DIR PLAIN_DRIVER INTERNAL_LIB [SECONDS]
#
# 1. Always: the plain driver runs every file of tests/fuzz/jit-corpus/.
# 2. When clang with libFuzzer is usable, the target is built with
#    -fsanitize=fuzzer,address,undefined and linked with the internal
#    library meson built (INTERNAL_LIB, libvmm_internal.a: the engine itself
#    is not instrumented for coverage, the generator is, so the fuzzer
#    explores kinds of programs), then run for SECONDS (default 20).
# New inputs go to WORK_DIR; a difference leaves its input in
# WORK_DIR/artifacts/ and fails the test.
set -eu
SRC=$1
WORK=$2
DRIVER=$3
LIB=$4
SECONDS_TO_RUN=${5:-20}
SEEDS="$SRC/tests/fuzz/jit-corpus"

echo "== translator corpus through the plain driver"
"$DRIVER" "$SEEDS"

# shellcheck source=libfuzzer.sh
. "$(dirname "$0")/libfuzzer.sh"
libfuzzer_usable "$WORK" || exit 0

BIN="$WORK/fuzz_rv_jit_libfuzzer"
stale=1
if [ -x "$BIN" ]; then
    stale=0
    for f in "$SRC/tests/fuzz/fuzz_rv_jit.c" "$SRC/tests/unit/rv_diff.h" \
             "$SRC/tests/unit/rv_rig.h" "$LIB"; do
        [ "$f" -nt "$BIN" ] && stale=1
    done
fi
if [ $stale = 1 ]; then
    echo "== building $BIN with $CLANG"
    "$CLANG" -std=gnu11 -g -O1 -D_GNU_SOURCE \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$SRC/include" -I"$SRC/libvmm" -I"$SRC/tests/unit" -I"$(dirname "$LIB")" \
        "$SRC/tests/fuzz/fuzz_rv_jit.c" "$LIB" -luv -lfdt -ljansson -lcunit -lpthread -lm -ldl \
        -o "$BIN"
fi

echo "== libFuzzer on the translator for ${SECONDS_TO_RUN}s"
rm -f "$WORK/rc"
{
    "$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 \
        -max_len=4096 -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 \
        "$WORK/corpus" "$SEEDS" 2>&1
    echo $? > "$WORK/rc"
} | grep -v -e '^"' -e 'recommended dictionary' | tail -n 25
status=$(cat "$WORK/rc" 2>/dev/null || echo 1)
if [ "$status" != 0 ]; then
    echo "== libFuzzer failed (exit $status); inputs in $WORK/artifacts/: $(ls "$WORK/artifacts/")"
    exit 1
fi
echo "== libFuzzer run passed"
