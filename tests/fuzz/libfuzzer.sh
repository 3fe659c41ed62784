# shellcheck shell=sh
# Sourced by run-fuzz.sh and run-loader-fuzz.sh. libfuzzer_usable WORK: true
# when $CLANG (default clang) can link -fsanitize=fuzzer; otherwise prints
# why the libFuzzer step is skipped (the corpus replay is then the check).
libfuzzer_usable() {
    CLANG=${CLANG:-clang}
    if ! command -v "$CLANG" >/dev/null 2>&1; then
        echo "== libFuzzer run skipped: no clang (the corpus run above is the check)"
        return 1
    fi
    mkdir -p "$1/corpus" "$1/artifacts"
    probe="$1/probe.c"
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' > "$probe"
    if ! "$CLANG" -fsanitize=fuzzer "$probe" -o "$1/probe" 2>/dev/null; then
        echo "== libFuzzer run skipped: $CLANG cannot link -fsanitize=fuzzer"
        return 1
    fi
}
