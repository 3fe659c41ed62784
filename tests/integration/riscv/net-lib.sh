# shellcheck shell=bash
# Shared by the virtio-net integration tests (sourced). They run only inside
# a network namespace of their own (never on the host's interfaces): each
# script re-executes itself under `unshare -n` first.

dir=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/riscv
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, must run): $1"; exit 1; fi
  echo "SKIP: $1"; exit 77
}
fail=0
say() { echo "$*"; }
bad() { echo "FAIL: $*"; fail=1; }

# net_enter_netns "$0" "$@": re-runs the calling script in a fresh network
# namespace (root: unshare -n; otherwise a user namespace, unshare -rn).
# `need_root` as first argument refuses the user-namespace fallback (tap
# devices need the real CAP_NET_ADMIN over /dev/net/tun).
net_enter_netns() {
  local need_root=0
  if [ "$1" = need_root ]; then need_root=1; shift; fi
  [ -n "${LIBVMM_IN_NETNS:-}" ] && return 0
  [ -f "$dir/Image" ] && [ -f "$dir/initramfs.cpio.gz" ] ||
    skip "no riscv64 Linux in $dir (build it with scripts/guest/all.sh)"
  command -v unshare >/dev/null || skip "unshare missing (util-linux)"
  command -v ip >/dev/null || PATH=$PATH:/sbin:/usr/sbin
  command -v ip >/dev/null || skip "ip missing (iproute2; scripts/install-deps.sh installs it)"
  local script=$1; shift
  if [ "$(id -u)" = 0 ]; then
    unshare -n true 2>/dev/null || {
      # Root but the kernel refuses: that is a failure under CI.
      if [ "${CI:-}" = true ]; then echo "FAIL: unshare -n refused as root"; exit 1; fi
      echo "SKIP: unshare -n refused"; exit 77
    }
    LIBVMM_IN_NETNS=1 exec unshare -n bash "$script" "$@"
  fi
  [ $need_root = 1 ] && { echo "SKIP: needs root (network namespace and tap devices)"; exit 77; }
  unshare -rn true 2>/dev/null || { echo "SKIP: not root and no user namespaces"; exit 77; }
  LIBVMM_IN_NETNS=1 exec unshare -rn bash "$script" "$@"
}

# A Python for the host-side helpers (a TCP sink that prints the sha256).
net_python() {
  local p
  for p in /usr/bin/python3 python3; do
    command -v "$p" >/dev/null && { echo "$p"; return; }
  done
  skip "python3 missing"
}

# net_sink ADDR PORT OUT: accepts one TCP connection, reads it to the end,
# writes "BYTES SHA256 SECONDS" to OUT. Background it.
net_sink() {
  "$(net_python)" - "$1" "$2" "$3" <<'PY'
import hashlib, socket, sys, time
addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(1)
s.settimeout(600)
c, _ = s.accept()
h, n, t0 = hashlib.sha256(), 0, None
while True:
    b = c.recv(1 << 16)
    if t0 is None:
        t0 = time.monotonic()
    if not b:
        break
    h.update(b)
    n += len(b)
with open(out, "w") as f:
    f.write(f"{n} {h.hexdigest()} {time.monotonic() - (t0 or time.monotonic()):.3f}\n")
PY
}
