#!/bin/sh
# vmmctl's XML commands, end to end: usage: vmmctl-xml.sh VMMCTL CORPUS_DIR
set -u
VMMCTL=$1
X=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { # name, condition result
    if [ "$2" = 0 ]; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi
}

"$VMMCTL" validate --offline "$X"/valid/*.xml >"$T/out" 2>"$T/err"
check "validate --offline accepts the valid corpus" $?
n=$(grep -c ': valid$' "$T/out"); [ "$n" = "$(ls "$X"/valid/*.xml | wc -l)" ]
check "validate prints one 'valid' line per file" $?

"$VMMCTL" validate "$X/lenient/unsupported-values.xml" >"$T/out" 2>"$T/err"
[ $? = 1 ]; check "validate exits 1 on an invalid domain" $?
[ "$(grep -c 'error: ' "$T/err")" = 10 ]; check "validate lists every problem (10)" $?
grep -q 'unsupported-values.xml: error: /domain/devices/hostdev, line 33: not supported' "$T/err"
check "problems name file, path and line" $?
grep -q 'invalid (10 errors)' "$T/out"; check "validate sums up the errors" $?

"$VMMCTL" validate --lenient --offline "$X/lenient/virt-install.xml" >"$T/out" 2>"$T/err"
check "validate --lenient accepts a virt-install domain" $?
grep -q 'warning: /domain/devices/graphics, line 54: not supported, ignored' "$T/err"
check "lenient turns unsupported elements into warnings" $?

"$VMMCTL" validate "$X/invalid/kernel-missing.xml" >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q "/domain/os/kernel: '/nonexistent/libvmm/vmlinuz' cannot be used" "$T/err"
check "validate runs the host checks" $?

"$VMMCTL" dumpxml "$X/valid/full-kvm.xml" >"$T/a.xml" 2>/dev/null
check "dumpxml succeeds" $?
"$VMMCTL" dumpxml "$T/a.xml" >"$T/b.xml" 2>/dev/null && cmp -s "$T/a.xml" "$T/b.xml"
check "dumpxml output is a fixed point" $?
grep -q '<memory unit="KiB">2097152</memory>' "$T/a.xml"; check "dumpxml normalises units" $?

"$VMMCTL" dumpxml "$X/invalid/malformed.xml" >"$T/out" 2>"$T/err"
[ $? = 1 ] && [ ! -s "$T/out" ] && grep -q 'line 6, column 10' "$T/err"
check "dumpxml of malformed XML fails with line and column" $?

"$VMMCTL" validate >/dev/null 2>&1; [ $? = 2 ]; check "validate without a file is a usage error" $?
"$VMMCTL" dumpxml --bogus x.xml >/dev/null 2>&1; [ $? = 2 ]; check "unknown option is a usage error" $?
"$VMMCTL" validate /nonexistent.xml >/dev/null 2>"$T/err"; [ $? = 1 ] && grep -q '/nonexistent.xml' "$T/err"
check "a missing file is named" $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
