#!/bin/sh
# Guest half of the virtio-net tests (tests/integration/riscv/virtio-net*.sh).
# What to do comes from the kernel command line:
#   libvmm.net.ip=A.B.C.D/N   address for eth0 (default 10.0.2.15/24)
#   libvmm.net.peer=A.B.C.D   address to ping (default 10.0.2.2)
#   libvmm.net.if=MAC,A.B.C.D/N,PEER   instead of the two above: the NIC with
#                             that MAC gets the address and pings PEER (may be
#                             repeated, one per NIC)
#   libvmm.net.send=PORT      then send 10 MiB of a known pattern to the (first)
#                             peer's PORT with busybox nc (the host checks its
#                             sha256)
#   libvmm.net.wait=SECONDS   after the checks, keep answering pings this long
#                             (the other VM may still be pinging us)
#   libvmm.net.bench=PORT:MB  send MB MiB of zeros to the peer's PORT, timed
# Each check prints one "net:" line the host matches; exit status 0 when all
# passed.
fail=0
ok() { echo "net: ok $*"; }
bad() { echo "net: FAIL $*"; fail=1; }

ip=10.0.2.15/24 peer=10.0.2.2 send= wait=0 bench= ifs=
# shellcheck disable=SC2013
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    libvmm.net.ip=*) ip=${arg#*=} ;;
    libvmm.net.peer=*) peer=${arg#*=} ;;
    libvmm.net.if=*) ifs="$ifs ${arg#*=}" ;;
    libvmm.net.send=*) send=${arg#*=} ;;
    libvmm.net.wait=*) wait=${arg#*=} ;;
    libvmm.net.bench=*) bench=${arg#*=} ;;
    esac
done
if [ -z "$ifs" ]; then
    mac=$(cat /sys/class/net/eth0/address 2>/dev/null)
    ifs="$mac,$ip,$peer"
fi
ip link set lo up
for d in /sys/bus/virtio/devices/*; do
    [ "$(cat "$d/device")" = 0x0001 ] && echo "net: $(basename "$d") features $(cat "$d/features")"
done

first_peer=
for spec in $ifs; do
    mac=${spec%%,*} rest=${spec#*,}
    addr=${rest%%,*} p=${rest#*,}
    dev=
    for n in /sys/class/net/*; do
        [ "$(cat "$n/address")" = "$mac" ] && dev=$(basename "$n")
    done
    if [ -z "$mac" ] || [ -z "$dev" ]; then
        bad "no NIC with mac '$mac'"
        continue
    fi
    ok "$dev present, mac $mac"
    ip addr add "$addr" dev "$dev" && ip link set "$dev" up && ok "$dev up as $addr" ||
        bad "configuring $dev"
    [ "$(cat "/sys/class/net/$dev/operstate")" = up ] && ok "$dev link up" ||
        bad "$dev operstate $(cat "/sys/class/net/$dev/operstate")"
    # The peer may still be booting: keep trying for a while.
    tries=0
    until ping -c 1 -W 2 "$p" >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ $tries -ge 90 ] && break
    done
    if ping -c 3 -W 5 "$p" >/tmp/ping.out 2>&1; then
        ok "ping $p: $(grep -o '[0-9]* packets received' /tmp/ping.out)"
    else
        bad "ping $p"; cat /tmp/ping.out
    fi
    [ -n "$first_peer" ] || first_peer=$p
done
peer=$first_peer

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
for n in /sys/class/net/eth*; do
    st=$n/statistics
    echo "net: $(basename "$n") rx $(cat "$st/rx_packets") tx $(cat "$st/tx_packets") rx_err $(cat "$st/rx_errors") rx_drop $(cat "$st/rx_dropped")"
done
echo "net: done"
exit $fail
