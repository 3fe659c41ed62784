#!/usr/bin/env bash
# Runs the CI entry point as on a CI host that has no /dev/kvm (one whose
# kernel is itself a PVM guest), on a host that has one: inside a private
# mount namespace whose /dev is the host's minus the kvm node, so that
# open("/dev/kvm") fails with ENOENT. The run must pass, with every test
# that needs /dev/kvm shown as SKIP and its reason. Needs root (as CI).
#   scripts/test-without-kvm.sh              .ci/run (CI=true ./scripts/test.sh)
#   scripts/test-without-kvm.sh COMMAND...   anything else, e.g.
#   scripts/test-without-kvm.sh env CI=true meson test -C build
#   scripts/test-without-kvm.sh --denied [COMMAND...]
#       the other case instead: /dev/kvm is there but root cannot open it
#       (EACCES: the node sits on a nodev mount). Under CI=true the kvm
#       tests must then FAIL, without CI they skip; nothing checked here.
# BUILD_DIR picks the build directory, as for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${LIBVMM_WITHOUT_KVM_INSIDE:-}" != 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-without-kvm: needs root (a mount namespace with its own /dev)" >&2
    exit 1
  fi
  # --propagation private: nothing done to /dev in there reaches the host.
  exec env LIBVMM_WITHOUT_KVM_INSIDE=1 unshare --mount --propagation private "$0" "$@"
fi
unset LIBVMM_WITHOUT_KVM_INSIDE
denied=0
if [ "${1:-}" = --denied ]; then
  denied=1
  shift
fi
[ $# -gt 0 ] || set -- .ci/run

if [ $denied = 1 ]; then
  # A node for the same device on a nodev tmpfs, bound over /dev/kvm.
  [ -c /dev/kvm ] || { echo "test-without-kvm: no /dev/kvm to deny" >&2; exit 1; }
  majmin=$(stat -c '%t %T' /dev/kvm)
  nd=$(mktemp -d)
  mount -t tmpfs -o nodev,mode=755 tmpfs "$nd"
  mknod -m 600 "$nd/kvm" c $((16#${majmin% *})) $((16#${majmin#* }))
  mount --bind "$nd/kvm" /dev/kvm
  umount -l "$nd"
  rmdir "$nd"
  echo "test-without-kvm: /dev/kvm present but not openable in this mount namespace" >&2
  exec "$@"
fi

# In the namespace: keep the host's /dev reachable at $old, put a fresh
# tmpfs on /dev, and bind every entry of the old one back except kvm
# (device nodes, directories with their mounts such as pts and shm,
# symlinks such as fd -> /proc/self/fd copied as they are).
old=$(mktemp -d)
mount --rbind /dev "$old"
mount -t tmpfs -o mode=755,nosuid tmpfs /dev
shopt -s dotglob nullglob
for e in "$old"/*; do
  n=${e##*/}
  [ "$n" = kvm ] && continue
  if [ -L "$e" ]; then
    cp -P "$e" "/dev/$n"
  elif [ -d "$e" ]; then
    mkdir "/dev/$n" && mount --rbind "$e" "/dev/$n"
  else
    touch "/dev/$n" && mount --bind "$e" "/dev/$n"
  fi
done
shopt -u dotglob nullglob
# Pseudo-terminals: a bind-mounted ptmx node still allocates from the old
# /dev/pts, which the kernel finds next to the node, not here. A devpts of
# our own with ptmx beside it, as a normal /dev has (vmmctl's terminal test
# needs ptys).
if mountpoint -q /dev/pts; then umount -l /dev/pts; fi
mkdir -p /dev/pts
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
if mountpoint -q /dev/ptmx; then umount -l /dev/ptmx; fi
rm -f /dev/ptmx
ln -s pts/ptmx /dev/ptmx
umount -l "$old"
rmdir "$old"
if [ -e /dev/kvm ] || [ -L /dev/kvm ]; then
  echo "test-without-kvm: /dev/kvm is still there" >&2
  exit 1
fi
echo "test-without-kvm: /dev/kvm hidden in this mount namespace" >&2

stamp=$(mktemp)
status=0
"$@" || status=$?

# The tests that met the missing device, with their results (SKIP, or OK
# for those that check the error users see); none means this run checked
# nothing.
log=${BUILD_DIR:-build}/meson-logs/testlog.json
if [ -f "$log" ] && [ "$log" -nt "$stamp" ]; then
  python3 - "$log" <<'EOF' || status=1
import json, sys
met = []
for raw in open(sys.argv[1], encoding="utf-8", errors="replace"):
    t = json.loads(raw)
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    if "/dev/kvm: No such file or directory" in out:
        met.append(f'  {t["name"].split(" / ")[-1]}: {t["result"]}')
print(f"test-without-kvm: {len(met)} test(s) met the missing /dev/kvm")
print("\n".join(met))
sys.exit(0 if met else 1)
EOF
else
  echo "test-without-kvm: no fresh $log: did the command run meson test?" >&2
fi
rm -f "$stamp"
echo "test-without-kvm: exit status $status" >&2
exit "$status"
