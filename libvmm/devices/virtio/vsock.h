/* virtio-vsock (virtio 1.x, 5.10): stream sockets between the guest (its
 * CID from the config) and the host (CID 2), with the host side on unix
 * sockets in Firecracker's "hybrid" convention:
 *
 *   - the device listens on the unix socket PATH; a host program connects,
 *     writes "CONNECT <port>\n", and once the guest accepted the connection
 *     on vsock port <port> it reads "OK <hostport>\n" (the host side's vsock
 *     port) and the socket carries the stream from then on;
 *   - a guest connection to host port P connects to the unix socket
 *     "PATH_P"; nothing listening there refuses it (RST).
 *
 * The packet protocol: REQUEST / RESPONSE / RST / SHUTDOWN / RW /
 * CREDIT_UPDATE / CREDIT_REQUEST with credit-based flow control both ways
 * (buf_alloc / fwd_cnt): the device never sends the guest more than the
 * guest's credit allows, and a guest that sends beyond the device's credit
 * is reset. Each connection buffers at most VSOCK_BUF_ALLOC bytes each way.
 *
 * Guest packets are untrusted: a short header, a length beyond the buffer
 * or VSOCK_MAX_PAYLOAD, a foreign source CID (dropped), another
 * destination CID, a type other than stream, an unknown op or a packet for
 * no connection (answered with RST) never reach a host socket.
 *
 * One host thread per device does everything: it takes the queues' work
 * (kicked through an eventfd by queue notifications) and poll()s the unix
 * sockets. Device reset, state save and teardown stop it at a safe point.
 */
#ifndef LIBVMM_DEVICES_VIRTIO_VSOCK_H
#define LIBVMM_DEVICES_VIRTIO_VSOCK_H

#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "machine/machine.h"

#define VSOCK_HOST_CID 2
#define VSOCK_BUF_ALLOC (256u << 10) /* credit offered per connection */
#define VSOCK_MAX_PAYLOAD 65536      /* largest RW payload taken */
#define VSOCK_MAX_CONNS 64           /* connections at once */

struct virtio_vsock;

/* Adds a virtio-vsock at MMIO `base`, line `irq`, as component `name`,
 * with guest CID `cid` (3 .. 0xfffffffe). `path` (NULL: no host side; the
 * guest's connections are refused) is created as a listening unix socket;
 * a stale socket there (nobody accepting) is replaced, a live one or any
 * other file is VMM_EBUSY. The socket is removed with the device. */
int virtio_vsock_create(struct machine *m, const struct virtio_placement *at,
                        uint32_t cid, const char *path, struct virtio_vsock **out);

#endif
