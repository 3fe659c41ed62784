#!/bin/sh
# Guest half of tests/integration/riscv/virtio-vsock.py (guest CID 3):
#   - vsock-echo listens on port 5000 for one connection: the host connects
#     through the device's unix socket ("CONNECT 5000") and sends 1 MiB,
#     which must come back unchanged (the host compares checksums);
#   - this script connects to host port 5001 (the host's unix socket
#     PATH_5001, an echo server) and sends 1 MiB of random bytes, which must
#     come back unchanged.
# Each check prints one "vsock:" line the host matches; exit status 0 when
# all passed.
fail=0
ok() { echo "vsock: ok $*"; }
bad() { echo "vsock: FAIL $*"; fail=1; }

[ -c /dev/vsock ] && ok "/dev/vsock present" || bad "no /dev/vsock"
vsock-echo listen 5000 1 > /tmp/listen.log 2>&1 &
lpid=$!
n=0
while ! grep -q listening /tmp/listen.log 2>/dev/null && [ $n -lt 100 ]; do
    sleep 0.1
    n=$((n + 1))
done
echo "vsock: listening on 5000"

head -c 1048576 /dev/urandom > /tmp/out.bin
if vsock-echo connect 2 5001 < /tmp/out.bin > /tmp/back.bin; then
    sent=$(sha256sum < /tmp/out.bin | cut -d' ' -f1)
    back=$(sha256sum < /tmp/back.bin | cut -d' ' -f1)
    size=$(wc -c < /tmp/back.bin)
    if [ "$sent" = "$back" ]; then
        ok "guest -> host port 5001: 1 MiB echoed, sha256 $back"
    else
        bad "guest -> host port 5001: $size bytes back, sha256 $back, sent $sent"
    fi
else
    bad "vsock-echo connect 2 5001 failed"
fi

# The host's connection to port 5000 is served by the listener.
if wait "$lpid"; then
    ok "host -> guest port 5000 echoed"
else
    bad "listener on 5000: $(cat /tmp/listen.log)"
fi
echo "vsock: done"
exit $fail
