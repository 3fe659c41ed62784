#!/usr/bin/env bash
# Builds a small riscv64 Linux Image from Debian's linux-source-6.1 with the
# config fragment tests/guest/linux/riscv64.config over allnoconfig.
# Output: $CACHE/riscv/Image (path printed on stdout). Rebuilds only when the
# fragment, the linux-source version or this script's recipe changes.
# Environment: LIBVMM_CACHE, LIBVMM_GUEST_REFRESH=1 (re-resolve the version),
# JOBS (default: nproc).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RECIPE=2   # bump when the build steps below change the result
PKG=linux-source-6.1
FRAGMENT="$LINUX_FILES/riscv64.config"
OUT="$CACHE/riscv/Image"
CROSS=riscv64-linux-gnu-

[[ -f $FRAGMENT ]] || die "missing config fragment $FRAGMENT"
ver=$(resolve_version "$PKG" apt_candidate "$PKG")
key=$(hash_inputs "@$FRAGMENT" "$PKG=$ver" "recipe=$RECIPE")
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi
cache_lock riscv-kernel
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi

need_cmd "${CROSS}gcc" make gcc bc flex bison xz tar dpkg-deb apt-get
start=$SECONDS
mkdir -p "$CACHE/riscv" "$CACHE/src"

# 1. Source tree, extracted once per version and kept for rebuilds.
src="$CACHE/src/linux-$ver"
stamp=.libvmm-extracted-3   # bump when the extraction changes
if [[ ! -f $src/$stamp ]]; then
    tmp=$(mktemp -d "$CACHE/src/.linux-deb.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    apt_fetch_deb "$PKG" "$ver" "$tmp/deb"
    tarball=$(first_match "$tmp"/deb/usr/src/linux-source-6.1.tar.*)
    [[ -n $tarball ]] || die "$PKG $ver ships no /usr/src/linux-source-6.1.tar.*"
    msg "extracting $(basename "$tarball") (takes a while)"
    rm -rf "$src" "$tmp/x"
    mkdir -p "$tmp/x"
    # Whole tree: Kconfig reads files from other architectures and from
    # Documentation/, so nothing can be left out.
    tar -xf "$tarball" -C "$tmp/x"
    mv "$tmp/x/linux-source-6.1" "$src"
    touch "$src/$stamp"
    rm -rf "$tmp"
    # The tree is what is kept; the 140 MB .deb is not needed again, nor
    # are trees of older versions (1.4 GB each).
    rm -f "$CACHE/debs/${PKG}_"*.deb
    for old in "$CACHE"/src/linux-*; do
        [[ $old == "$src" ]] || rm -rf "$old"
    done
    trap - EXIT
fi

# 2. Configure: allnoconfig with the fragment forced in, then verify that
#    every option the fragment asks for really ended up in .config.
obj="$CACHE/riscv/linux-obj"
log="$CACHE/riscv/kernel-build.log"
mkdir -p "$obj"
# A fixed build identity keeps the Image the same from one machine to the next.
kmake() {
    KBUILD_BUILD_USER=libvmm KBUILD_BUILD_HOST=libvmm \
    KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00:00 UTC" \
        make -C "$src" O="$obj" ARCH=riscv CROSS_COMPILE="$CROSS" "$@"
}
fail_log() { tail -n 40 "$log" >&2; die "$1 (full log: $log)"; }

msg "configuring riscv64 kernel ($PKG $ver)"
: > "$log"
KCONFIG_ALLCONFIG="$FRAGMENT" kmake allnoconfig >> "$log" 2>&1 || fail_log "allnoconfig failed"

bad=0
while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
        grep -qxF -- "$line" "$obj/.config" ||
            { msg "fragment option not applied: $line"; bad=1; }
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        ! grep -qE "^${BASH_REMATCH[1]}=" "$obj/.config" ||
            { msg "fragment option not applied: $line"; bad=1; }
    fi
done < "$FRAGMENT"
[[ $bad == 0 ]] || die "fix $FRAGMENT (see $obj/.config)"

# 3. Build.
jobs=${JOBS:-$(nproc)}
msg "building Image with -j$jobs (log: $log)"
kmake -j"$jobs" Image >> "$log" 2>&1 || fail_log "kernel build failed"

cp "$obj/arch/riscv/boot/Image" "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
cp "$obj/.config" "$CACHE/riscv/kernel.config"
stamp_write "$OUT" "$key"
msg "riscv64 Image ready: $(du -h "$OUT" | cut -f1), built in $((SECONDS - start)) s"
echo "$OUT"
