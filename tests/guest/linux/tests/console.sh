#!/bin/sh
# Guest half of tests/integration/riscv/virtio-console.py. The host gave the
# guest a virtio-console whose port 0 is the console (console=hvcN on the
# kernel command line) and a named port "org.libvmm.test".
#   - the console is an hvc device, and what this script prints reaches the
#     host as console output;
#   - a line the host types arrives on the console's input;
#   - the named port shows up in /sys/class/virtio-ports; a line the host
#     writes to it is read from /dev/vport*p* and answered with "pong:LINE".
# Each check prints one "console:" line the host matches; exit status 0 when
# all passed.
fail=0
ok() { echo "console: ok $*"; }
bad() { echo "console: FAIL $*"; fail=1; }

active=$(cat /sys/class/tty/console/active 2>/dev/null)
case " $active " in
*" hvc"*) ok "console is $active" ;;
*) bad "console is '$active', not an hvc device" ;;
esac

port=
for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = org.libvmm.test ] && port=/dev/${p##*/}
done
if [ -n "$port" ] && [ -c "$port" ]; then
    ok "port org.libvmm.test is $port"
else
    bad "no port named org.libvmm.test ($(ls /sys/class/virtio-ports 2>&1))"
fi

# The host answers this line by typing one.
echo "console: waiting for input"
if read -r -t 120 line; then
    [ "$line" = "hello-console" ] && ok "console input '$line'" || bad "console input '$line'"
else
    bad "no console input"
fi

if [ -n "$port" ]; then
    # Opening the port tells the host (PORT_OPEN); what it wrote before
    # waited in the device.
    exec 3<>"$port"
    if read -r -t 120 line <&3; then
        echo "pong:$line" >&3
        [ "$line" = "ping-from-host" ] && ok "port input '$line'" || bad "port input '$line'"
    else
        bad "no input on $port"
    fi
    # Give the host a moment to take the answer before the port closes.
    sleep 1
    exec 3>&-
fi
echo "console: done"
exit $fail
