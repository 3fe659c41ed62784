# shellcheck shell=bash
# Shared helpers for the guest-image scripts. Sourced, never executed.
#
# Everything is cached under ${LIBVMM_CACHE:-$HOME/.cache/libvmm}; nothing is
# written into the checkout and the host's apt configuration is never changed.
# Package versions are resolved through apt only on a cold run (or with
# LIBVMM_GUEST_REFRESH=1): apt-cache costs ~0.5 s per call, which would break
# the "warm run well under a second" goal.

GUEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$GUEST_DIR/../.." && pwd)"
LINUX_FILES="$REPO_DIR/tests/guest/linux"
CACHE="${LIBVMM_CACHE:-${HOME:-/root}/.cache/libvmm}"
REFRESH="${LIBVMM_GUEST_REFRESH:-0}"

msg() { printf '[guest] %s\n' "$*" >&2; }
die() { printf '[guest] error: %s\n' "$*" >&2; exit 1; }

need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "'$c' not found (run scripts/install-deps.sh)"
    done
}

# sha256 of files and strings given as arguments (files prefixed with @).
hash_inputs() {
    local a
    for a in "$@"; do
        if [[ $a == @* ]]; then
            sha256sum < "${a#@}"
        else
            printf '%s\n' "$a"
        fi
    done | sha256sum | cut -c1-16
}

# guest_test_inputs: the guest test scripts as hash_inputs arguments, so an
# edit rebuilds the initramfs.
guest_test_inputs() {
    local f
    for f in "$LINUX_FILES"/tests/*.sh "$LINUX_FILES"/tools/*.c; do printf '@%s\n' "$f"; done
}

# install_guest_tools ROOT CC: the small C programs of tests/guest/linux/tools
# (vsock echo, BLKZEROOUT, ...) built static with CC into ROOT/bin.
install_guest_tools() {
    local root=$1 cc=$2 src
    need_cmd "$cc"
    for src in "$LINUX_FILES"/tools/*.c; do
        "$cc" -static -O2 -Wall -o "$root/bin/$(basename "$src" .c)" "$src" ||
            die "building guest tool $src with $cc"
    done
}

# stamp_ok FILE KEY: true when FILE exists and FILE.key holds KEY.
stamp_ok() {
    [[ -s $1 && -f $1.key && $(<"$1.key") == "$2" ]]
}

stamp_write() { printf '%s\n' "$2" > "$1.key"; }

# first_match PATTERN-EXPANSION...: prints the first argument that exists
# (an unmatched glob stays literal and so does not exist).
first_match() {
    local f
    for f in "$@"; do
        [[ -e $f ]] && { printf '%s\n' "$f"; return 0; }
    done
    return 0
}

# Candidate version of a binary package, as apt sees it now.
apt_candidate() {
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2; exit}'
}

# cache_lock NAME: serialises builders of the same output (parallel test
# runs may call the same script); held until the script exits. Callers
# re-check their stamp after taking it, since the other run may have built it.
cache_lock() {
    mkdir -p "$CACHE/.locks"
    exec {GUEST_LOCK_FD}> "$CACHE/.locks/$1"
    if ! flock -n "$GUEST_LOCK_FD"; then
        msg "waiting for another run building $1"
        flock "$GUEST_LOCK_FD"
    fi
}

# apt_fetch_deb PKG VERSION DESTDIR: downloads PKG_VERSION_*.deb into
# $CACHE/debs (once) and extracts it into DESTDIR. apt-get download runs as
# root here, so the _apt sandbox is disabled to avoid the permission warning
# on a directory _apt cannot write.
apt_fetch_deb() {
    local pkg=$1 ver=$2 dest=$3 deb
    mkdir -p "$CACHE/debs"
    deb=$(first_match "$CACHE/debs/${pkg}_${ver//:/%3a}_"*.deb)
    if [[ -z $deb ]]; then
        msg "downloading $pkg=$ver"
        (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2) ||
            die "apt-get download $pkg=$ver failed (try: apt-get update, then rerun with LIBVMM_GUEST_REFRESH=1)"
        deb=$(first_match "$CACHE/debs/${pkg}_${ver//:/%3a}_"*.deb)
        [[ -n $deb ]] || die "downloaded $pkg but cannot find its .deb in $CACHE/debs"
    fi
    mkdir -p "$dest"
    dpkg-deb -x "$deb" "$dest"
}

# Resolves and remembers a package version in $CACHE/versions/NAME so warm
# runs need no apt call. resolve_version NAME COMMAND...
resolve_version() {
    local name=$1 file="$CACHE/versions/$1" v
    shift
    if [[ $REFRESH != 1 && -s $file ]]; then
        cat "$file"
        return
    fi
    need_cmd apt-cache
    v=$("$@") || true
    if [[ -z $v ]]; then
        # A machine whose package lists were never fetched (or were cleaned).
        msg "cannot resolve $name from the package lists; running apt-get update"
        apt-get update -q >&2 || die "apt-get update failed"
        v=$("$@") || true
    fi
    [[ -n $v ]] || die "cannot resolve the version of $name"
    mkdir -p "$CACHE/versions"
    printf '%s\n' "$v" > "$file"
    printf '%s\n' "$v"
}

# make_cpio SRCDIR OUT: packs SRCDIR as a gzip'd newc archive owned by root,
# written atomically so an interrupted run never leaves a truncated image.
make_cpio() {
    local src=$1 out=$2
    need_cmd cpio gzip
    (cd "$src" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --quiet | gzip -9n) > "$out.tmp"
    mv -f "$out.tmp" "$out"
}

# populate_rootfs DIR BUSYBOX APPLETS...: the common initramfs skeleton with
# busybox, one symlink per applet in /bin, and the shared /init.
populate_rootfs() {
    local root=$1 bb=$2 a
    shift 2
    mkdir -p "$root"/{bin,dev,proc,sys,tmp,root,etc,mnt,run}
    ln -s bin "$root/sbin"
    mkdir -p "$root/usr"
    ln -s ../bin "$root/usr/bin"
    ln -s ../bin "$root/usr/sbin"
    install -m 0755 "$bb" "$root/bin/busybox"
    for a in "$@"; do
        [[ $a == busybox || -z $a ]] && continue
        ln -sf busybox "$root/bin/$a"
    done
    install -m 0755 "$LINUX_FILES/init" "$root/init"
    # Guest halves of the device tests, run by libvmm.test=run:NAME.
    mkdir -p "$root/tests"
    install -m 0755 "$LINUX_FILES"/tests/*.sh "$root/tests/"
    # The kernel opens /dev/console before /init runs; devtmpfs is mounted
    # later, so the node must already be in the archive.
    # mknod needs root; without it /init reopens the console itself once
    # devtmpfs is mounted (cpio -R 0:0 fixes ownership either way).
    if [[ $(id -u) == 0 ]]; then
        mknod -m 0600 "$root/dev/console" c 5 1
        mknod -m 0666 "$root/dev/null" c 1 3
    else
        msg "not root: /dev/console left out of the archive"
    fi
    printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
    printf 'root:x:0:\n' > "$root/etc/group"
}
