#!/bin/sh
# Short fuzzing run of a guest-image loader, part of the test suite (the
# sibling of run-fuzz.sh, which does the same for the domain XML reader).
#
# usage: run-loader-fuzz.sh SOURCE_ROOT WORK_DIR x86|riscv PLAIN_DRIVER [SECONDS]
#
# 1. Always: the plain driver (built by meson with the project's compiler)
#    runs every file of tests/fuzz/loader-corpus/TARGET (seeds and the
#    reproducers of fixed bugs) through the fuzz target's checks.
# 2. When clang with libFuzzer is usable, tests/fuzz/fuzz_TARGET_loader.c is
#    built with -fsanitize=fuzzer,address,undefined from the loader's own
#    sources (so every line it exercises is instrumented) and run for
#    SECONDS (default 20). Otherwise step 2 is skipped with a note.
# New inputs libFuzzer finds go to WORK_DIR, never into the source tree; a
# crash leaves its input in WORK_DIR/artifacts/ and fails the test.
# A long campaign uses the same binary: run-loader-fuzz.sh ... x86 DRIVER 900
set -eu
SRC=$1
WORK=$2
TARGET=$3
DRIVER=$4
SECONDS_TO_RUN=${5:-20}
SEEDS="$SRC/tests/fuzz/loader-corpus/$TARGET"

case $TARGET in
x86)
    SOURCES="$SRC/libvmm/arch/x86/x86_platform.c $SRC/libvmm/arch/x86/x86_mem.c
        $SRC/libvmm/arch/x86/x86_bzimage.c $SRC/libvmm/arch/x86/x86_elf.c
        $SRC/libvmm/arch/x86/x86_multiboot.c $SRC/libvmm/arch/x86/x86_lz4.c
        $SRC/libvmm/arch/x86/x86_mptable.c $SRC/libvmm/arch/x86/x86_acpi.c"
    HEADERS="$SRC/libvmm/arch/x86/x86_boot.h"
    LIBS=""
    MAX_LEN=16384
    ;;
riscv)
    # platform.c is #included by the target (its loaders are static).
    SOURCES="$SRC/libvmm/arch/riscv/image.c $SRC/libvmm/arch/riscv/dtb.c"
    HEADERS="$SRC/libvmm/arch/riscv/platform.c $SRC/libvmm/arch/riscv/*.h"
    LIBS="-lfdt"
    MAX_LEN=8192
    ;;
*)
    echo "unknown target '$TARGET' (x86 or riscv)" >&2
    exit 2
    ;;
esac
SOURCES="$SRC/tests/fuzz/fuzz_${TARGET}_loader.c $SOURCES $SRC/libvmm/machine/machine.c
    $SRC/libvmm/machine/component.c $SRC/libvmm/machine/state.c $SRC/libvmm/util/crc32c.c
    $SRC/libvmm/mem/guest_mem.c $SRC/libvmm/bus/bus.c $SRC/libvmm/util/error.c
    $SRC/libvmm/util/log.c $SRC/libvmm/util/file_buf.c"
HEADERS="$HEADERS $SRC/tests/fuzz/loader_rig.h $SRC/libvmm/machine/*.h $SRC/libvmm/util/file_buf.h
    $SRC/libvmm/mem/guest_mem.h $SRC/libvmm/arch/platform.h"

echo "== $TARGET loader corpus through the plain driver"
"$DRIVER" "$SEEDS"

# shellcheck source=libfuzzer.sh
. "$(dirname "$0")/libfuzzer.sh"
libfuzzer_usable "$WORK" || exit 0

BIN="$WORK/fuzz_${TARGET}_loader_libfuzzer"
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
    "$CLANG" -std=gnu11 -g -O1 -D_GNU_SOURCE -DFUZZ_STANDALONE \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$SRC/include" -I"$SRC/libvmm" $SOURCES $LIBS -lpthread -o "$BIN"
fi

echo "== libFuzzer on the $TARGET loaders for ${SECONDS_TO_RUN}s"
# Leak checking stays on (ASan's default); the per-input timeout catches
# hangs; the guest is 8 MiB, so the memory limit is generous.
rm -f "$WORK/rc"
{
    "$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 \
        -max_len=$MAX_LEN -dict="$SRC/tests/fuzz/${TARGET}_loader.dict" \
        -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 \
        "$WORK/corpus" "$SEEDS" 2>&1
    echo $? > "$WORK/rc"
} | grep -v -e '^"' -e 'recommended dictionary' | tail -n 25
status=$(cat "$WORK/rc" 2>/dev/null || echo 1)
if [ "$status" != 0 ]; then
    echo "== libFuzzer failed (exit $status); inputs in $WORK/artifacts/: $(ls "$WORK/artifacts/")"
    exit 1
fi
echo "== libFuzzer run passed"
