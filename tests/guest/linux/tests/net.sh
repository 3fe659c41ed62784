#!/bin/sh
# Guest half of the virtio-net tests (tests/integration/riscv/virtio-net*.sh).
# What to do comes from the kernel command line:
#   libvmm.net.ip=A.B.C.D/N   address for eth0 (default 10.0.2.15/24)
#   libvmm.net.peer=A.B.C.D   address to ping (default 10.0.2.2)
#   libvmm.net.send=PORT      then send 10 MiB of a known pattern to peer:PORT
#                             with busybox nc (the host checks its sha256)
#   libvmm.net.wait=SECONDS   after the checks, keep answering pings this long
#                             (the other VM may still be pinging us)
#   libvmm.net.bench=PORT:MB  send MB MiB of zeros to peer:PORT, timed
# Each check prints one "net:" line the host matches; exit status 0 when all
# passed.
fail=0
ok() { echo "net: ok $*"; }
bad() { echo "net: FAIL $*"; fail=1; }

ip=10.0.2.15/24 peer=10.0.2.2 send= wait=0 bench=
# shellcheck disable=SC2013
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    libvmm.net.ip=*) ip=${arg#*=} ;;
    libvmm.net.peer=*) peer=${arg#*=} ;;
    libvmm.net.send=*) send=${arg#*=} ;;
    libvmm.net.wait=*) wait=${arg#*=} ;;
    libvmm.net.bench=*) bench=${arg#*=} ;;
    esac
done

mac=$(cat /sys/class/net/eth0/address 2>/dev/null)
[ -n "$mac" ] && ok "eth0 present, mac $mac" || { bad "no eth0"; echo "net: done"; exit 1; }
ip link set lo up
ip addr add "$ip" dev eth0 && ip link set eth0 up && ok "eth0 up as $ip" || bad "configuring eth0"
[ "$(cat /sys/class/net/eth0/operstate)" = up ] && ok "link up" || bad "operstate $(cat /sys/class/net/eth0/operstate)"

# The peer may still be booting: keep trying for a while.
tries=0
until ping -c 1 -W 2 "$peer" >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ $tries -ge 60 ] && break
done
if ping -c 3 -W 5 "$peer" >/tmp/ping.out 2>&1; then
    ok "ping $peer: $(grep -o '[0-9]* packets received' /tmp/ping.out)"
else
    bad "ping $peer"; cat /tmp/ping.out
fi

if [ -n "$send" ]; then
    # 10 MiB: 2560 blocks of 4 KiB of 'N' — the host knows the checksum.
    sum=$(dd if=/dev/zero bs=4096 count=2560 2>/dev/null | tr '\0' 'N' | sha256sum | cut -d' ' -f1)
    echo "net: guest sha256 $sum"
    if dd if=/dev/zero bs=4096 count=2560 2>/dev/null | tr '\0' 'N' | nc -w 30 "$peer" "$send"; then
        ok "sent 10 MiB to $peer:$send"
    else
        bad "nc to $peer:$send"
    fi
fi

if [ -n "$bench" ]; then
    port=${bench%%:*} mb=${bench#*:}
    read -r t0 _ < /proc/uptime
    if dd if=/dev/zero bs=65536 count=$((mb * 16)) 2>/dev/null | nc -w 30 "$peer" "$port"; then
        read -r t1 _ < /proc/uptime
        echo "net: bench $mb MiB in $t0 $t1"
        ok "bench sent"
    else
        bad "bench nc to $peer:$port"
    fi
fi

[ "$wait" -gt 0 ] 2>/dev/null && sleep "$wait"
ip -s link show eth0 | sed 's/^/net: /'
echo "net: done"
exit $fail
