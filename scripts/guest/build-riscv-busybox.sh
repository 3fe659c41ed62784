#!/usr/bin/env bash
# Builds a static riscv64 busybox from Debian's busybox source package.
# `apt-get source` needs deb-src entries; the host's apt configuration is left
# alone: a private sources list (the host's Debian entries turned into
# deb-src), list directory and cache under $CACHE/apt are passed with -o.
# Output: $CACHE/riscv/busybox (path printed on stdout), plus
# $CACHE/riscv/busybox.applets (one applet name per line).
# Environment: LIBVMM_CACHE, LIBVMM_GUEST_REFRESH=1 (re-resolve the source
# version), JOBS (default: nproc).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RECIPE=1
OUT="$CACHE/riscv/busybox"
CROSS=riscv64-linux-gnu-
APTDIR="$CACHE/apt"

# Applets turned off on top of defconfig, and why.
#  TC: tc.c uses CBQ definitions that the 6.1 uapi headers of the cross
#      libc no longer have, so it does not compile.
DISABLE=(TC)

APT_OPTS=(-o APT::Sandbox::User=root
    -o Dir::Etc::SourceList="$APTDIR/none.list"
    -o Dir::Etc::SourceParts="$APTDIR/sources.list.d"
    -o Dir::State::Lists="$APTDIR/lists"
    -o Dir::Cache="$APTDIR/cache")
apt_private() { apt-get -q "${APT_OPTS[@]}" "$@"; }
apt_cache_private() { apt-cache "${APT_OPTS[@]}" "$@"; }

# Writes deb-src twins of the host's enabled Debian entries (one-line and
# deb822 formats) into $APTDIR/sources.list.d; falls back to deb.debian.org.
write_src_sources() {
    local parts="$APTDIR/sources.list.d" f
    rm -rf "$parts"
    mkdir -p "$parts" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
    : > "$APTDIR/none.list"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        sed -nE 's/^[[:space:]]*deb([[:space:]].*debian.*)$/deb-src\1/p' "$f"
    done > "$parts/host-src.list"
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        # One stanza per record: keep enabled "deb" stanzas of Debian URIs.
        awk 'BEGIN { RS = ""; ORS = "\n\n" }
             /(^|\n)Types:[^\n]*deb([ \t\n]|$)/ && /(^|\n)URIs:[^\n]*debian/ &&
             !/(^|\n)Enabled:[ \t]*no/ {
                 sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src")
                 sub(/^\n/, "")
                 print
             }' "$f"
    done > "$parts/host-src.sources"
    if [[ ! -s $parts/host-src.list && ! -s $parts/host-src.sources ]]; then
        msg "no Debian entries in the host's apt sources; using deb.debian.org bookworm"
        printf 'deb-src http://deb.debian.org/debian bookworm main\n' > "$parts/host-src.list"
    fi
    [[ -s $parts/host-src.list ]] || rm -f "$parts/host-src.list"
    [[ -s $parts/host-src.sources ]] || rm -f "$parts/host-src.sources"
}

# Prints the newest busybox source version known to the private lists.
resolve_busybox_src() {
    write_src_sources
    msg "updating the private deb-src lists in $APTDIR"
    apt_private update >&2 || die "apt-get update (deb-src) failed"
    apt_cache_private showsrc busybox 2>/dev/null |
        awk '/^Package: busybox$/ {p = 1} p && /^Version:/ {print $2}' |
        sort -V | tail -n1
}

ver=$(resolve_version busybox-src resolve_busybox_src)
key=$(hash_inputs "busybox=$ver" "disable=${DISABLE[*]}" "recipe=$RECIPE")
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi
cache_lock riscv-busybox
if stamp_ok "$OUT" "$key"; then
    echo "$OUT"
    exit 0
fi

need_cmd "${CROSS}gcc" make gcc apt-get dpkg-source
[[ -f /usr/riscv64-linux-gnu/lib/libc.a ]] ||
    die "no static libc for riscv64 (/usr/riscv64-linux-gnu/lib/libc.a; install libc6-dev-riscv64-cross)"
start=$SECONDS
mkdir -p "$CACHE/riscv" "$CACHE/src"

# 1. Source tree (Debian patches applied by dpkg-source), once per version.
upver=${ver#*:}                      # drop the epoch
src="$CACHE/src/busybox-$upver"
if [[ ! -f $src/.libvmm-extracted ]]; then
    [[ -d $APTDIR/sources.list.d ]] || write_src_sources
    [[ -n $(first_match "$APTDIR"/lists/*_Sources*) ]] ||
        apt_private update >&2 || die "apt-get update (deb-src) failed"
    dl=$(mktemp -d "$CACHE/src/.busybox-dl.XXXXXX")
    trap 'rm -rf "$dl"' EXIT
    msg "downloading busybox source $ver"
    (cd "$dl" && apt_private source --download-only "busybox=$ver" >&2) ||
        die "apt-get source busybox=$ver failed (LIBVMM_GUEST_REFRESH=1 re-resolves the version)"
    rm -rf "$src"
    # --no-check: apt already checked the files against the signed Sources
    # index; gpgv has no Debian keyring to check the .dsc signature again.
    (cd "$dl" && dpkg-source --no-check -x ./*.dsc "$src" >&2) || die "dpkg-source -x failed"
    touch "$src/.libvmm-extracted"
    rm -rf "$dl"
    trap - EXIT
fi

# 2. Configure out of tree: defconfig + static + cross prefix - $DISABLE.
obj="$CACHE/riscv/busybox-obj"
log="$CACHE/riscv/busybox-build.log"
rm -rf "$obj"
mkdir -p "$obj"
bmake() { make -C "$src" O="$obj" ARCH=riscv CROSS_COMPILE="$CROSS" "$@"; }
fail_log() { tail -n 40 "$log" >&2; die "$1 (full log: $log)"; }

msg "configuring busybox $ver for riscv64 (static)"
: > "$log"
bmake defconfig >> "$log" 2>&1 || fail_log "defconfig failed"
set_opt() {  # set_opt NAME VALUE|n
    sed -i -E "/^(# )?CONFIG_$1[ =]/d" "$obj/.config"
    if [[ $2 == n ]]; then
        echo "# CONFIG_$1 is not set" >> "$obj/.config"
    else
        echo "CONFIG_$1=$2" >> "$obj/.config"
    fi
}
set_opt STATIC y
set_opt CROSS_COMPILER_PREFIX "\"$CROSS\""
for o in "${DISABLE[@]}"; do set_opt "$o" n; done
{ yes '' || true; } | bmake oldconfig >> "$log" 2>&1 || fail_log "oldconfig failed"
grep -qx 'CONFIG_STATIC=y' "$obj/.config" || die "CONFIG_STATIC did not stick"

# 3. Build.
jobs=${JOBS:-$(nproc)}
msg "building busybox with -j$jobs (log: $log)"
bmake -j"$jobs" busybox busybox.links >> "$log" 2>&1 || fail_log "busybox build failed"

bin="$obj/busybox"
file_info=$(LC_ALL=C readelf -h -l "$bin" 2>/dev/null || true)
grep -q 'RISC-V' <<<"$file_info" || die "$bin is not a RISC-V binary"
! grep -q 'INTERP' <<<"$file_info" || die "$bin is dynamically linked"
sed -e 's|.*/||' "$obj/busybox.links" | LC_ALL=C sort -u > "$OUT.applets.tmp"
cp "$bin" "$OUT.tmp"
mv -f "$OUT.applets.tmp" "$OUT.applets"
mv -f "$OUT.tmp" "$OUT"
stamp_write "$OUT" "$key"
msg "riscv64 busybox ready: $(du -h "$OUT" | cut -f1), $(wc -l < "$OUT.applets") applets, built in $((SECONDS - start)) s"
echo "$OUT"
