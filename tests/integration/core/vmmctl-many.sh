#!/usr/bin/env bash
# vmmctl-many.sh VMMCTL HELLO.elf FAIL.elf
# `vmmctl run A.xml B.xml C.xml` runs three bare-metal riscv64 domains in
# one host on one scheduler worker: every console line carries its
# domain's "[name] " prefix, vmmctl waits for all three, and its status is
# the first non-zero outcome (the fail guest's 42); all passing gives 0.
set -u
vmmctl=$1 hello=$(realpath "$2") fail=$(realpath "$3")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
domain() { # NAME KERNEL
  cat >"$dir/$1.xml" <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>$2</kernel>
  </os>
  <devices>
    <serial type='stdio'><target port='0'/></serial>
  </devices>
</domain>
XML
}
domain alpha "$hello"; domain beta "$fail"; domain gamma "$hello"
ok=1
check() { # WANT-STATUS PATTERN... -- ARGS...
  local want=$1; shift
  local pats=()
  while [ "$1" != -- ]; do pats+=("$1"); shift; done
  shift
  out=$("$vmmctl" run "$@" 2>&1 </dev/null)
  status=$?
  if [ "$status" != "$want" ]; then echo "vmmctl run $*: status $status, expected $want"; ok=0; fi
  for p in "${pats[@]}"; do
    grep -qE -- "$p" <<<"$out" || { echo "vmmctl run $*: output lacks $p"; ok=0; }
  done
  # No line without a prefix.
  if grep -qvE '^\[(alpha|beta|gamma)\] ' <<<"$out" && [ "$want" != 2 ]; then
    echo "vmmctl run $*: a line without a [name] prefix:"; grep -vE '^\[(alpha|beta|gamma)\] ' <<<"$out"; ok=0
  fi
  [ $ok = 1 ] || { echo "--- output ---"; echo "$out" | tail -30; }
}
check 42 '^\[alpha\] hello from a bare-metal' '^\[alpha\] test: PASS' '^\[beta\] test: FAIL code 0x0*2a' \
  '^\[gamma\] test: PASS' -- --host-cpus 1 "$dir/alpha.xml" "$dir/beta.xml" "$dir/gamma.xml"
check 0 '^\[alpha\] test: PASS' '^\[gamma\] test: PASS' -- "$dir/alpha.xml" "$dir/gamma.xml"
check 2 "--host-cpus '0' is not a worker count 1..256" -- --host-cpus 0 "$dir/alpha.xml" "$dir/gamma.xml"
[ $ok = 1 ] && echo "ok: three domains in one host, prefixed lines, first non-zero status"
[ $ok = 1 ]
