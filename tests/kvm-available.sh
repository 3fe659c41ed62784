# shellcheck shell=bash
# Sourced by the shell tests that need /dev/kvm: the shell twin of
# harness_need_kvm() in tests/integration/core/guest_harness.h.
#
# kvm_probe: sets kvm_state and kvm_reason, never exits.
#   kvm_state=usable  the device opens read-write
#   kvm_state=absent  no device node (kvm_reason "No such file or directory")
#   kvm_state=broken  the node is there but does not open (kvm_reason from
#                     the failed open, e.g. "Permission denied")
# kvm_require: returns when usable; otherwise prints why and exits
#   77 when absent, also under CI=true: some CI hosts have no KVM at all
#      (their kernel is itself a PVM guest) and nothing can provide it;
#   1 when broken under CI=true (the runner is root: a present device is
#      meant to be used), 77 when broken otherwise.
kvm_dev=/dev/kvm

kvm_probe() {
  local err
  if [ ! -e "$kvm_dev" ] && [ ! -L "$kvm_dev" ]; then
    kvm_state=absent kvm_reason="No such file or directory"
    return 0
  fi
  # The node exists, so <> (O_RDWR|O_CREAT) only opens it.
  if err=$( { : <>"$kvm_dev"; } 2>&1 ); then
    kvm_state=usable kvm_reason=
  else
    kvm_state=broken kvm_reason=${err##*: }
  fi
}

kvm_require() {
  kvm_probe
  case $kvm_state in
    usable) return 0 ;;
    absent)
      echo "SKIP: $kvm_dev: $kvm_reason — kvm tests skipped"
      exit 77 ;;
  esac
  local why
  why="$kvm_dev: $kvm_reason (the device exists but does not open read-write as uid $(id -u))"
  if [ "${CI:-}" = true ]; then
    echo "FAIL (CI=true, must run): $why"
    exit 1
  fi
  echo "SKIP: $why"
  exit 77
}
