/* The tap backend: frames through /dev/net/tun (IFF_TAP | IFF_NO_PI), with a
 * 12-byte virtio_net_hdr on every frame (IFF_VNET_HDR, TUNSETVNETHDRSZ) when
 * the kernel has it, so the guest's checksum and segmentation offloads pass
 * through to the host stack unchanged. A managed tap is created here, brought
 * up, and vanishes with the last descriptor (it is not made persistent); an
 * unmanaged one must exist already (ip tuntap add dev NAME mode tap).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/net/backend.h"
#include "util/error.h"
#include "util/log.h"

struct net_tap {
    struct net_backend be;
    int fd;
    int warned_tx; /* worker thread */
    int warned_rx; /* receive thread */
};

static int tap_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
    struct net_tap *t = (struct net_tap *)be;
    for (;;) {
        ssize_t n = writev(t->fd, iov, iovcnt);
        if (n >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        /* Full queue (EAGAIN, ENOBUFS), the interface down (EIO), a header
         * the kernel refused (EINVAL): the frame is lost, as on a wire. */
        if (errno == EAGAIN || errno == ENOBUFS || errno == EIO || errno == EINVAL)
            return 0;
        if (!t->warned_tx) {
            t->warned_tx = 1;
            log_warn("%s: write: %s", be->desc, strerror(errno));
        }
        return VMM_EIO;
    }
}

static int tap_prepare(struct net_backend *be, struct pollfd *p)
{
    struct net_tap *t = (struct net_tap *)be;
    p->fd = t->fd;
    p->events = POLLIN;
    return -1;
}

static void tap_service(struct net_backend *be, short revents)
{
    struct net_tap *t = (struct net_tap *)be;
    size_t cap = NET_HDR_LEN + NET_FRAME_MAX;
    ssize_t n = read(t->fd, be->rxbuf, cap);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR && !t->warned_rx) {
            t->warned_rx = 1;
            log_warn("%s: read: %s", be->desc, strerror(errno));
        }
        if (errno != EAGAIN && errno != EINTR)
            usleep(100000); /* a broken tap must not spin the thread */
        return;
    }
    if (be->vnet_hdr && n >= NET_HDR_LEN) {
        /* The kernel writes the 10-byte header and skips num_buffers. */
        be->rxbuf[10] = 1;
        be->rxbuf[11] = 0;
    }
    net_backend_deliver(be, be->rxbuf, (size_t)n);
}

static int tap_set_offload(struct net_backend *be, unsigned offloads)
{
    struct net_tap *t = (struct net_tap *)be;
    unsigned flags = (offloads & NET_OFFLOAD_CSUM) ? TUN_F_CSUM : 0;
    if (ioctl(t->fd, TUNSETOFFLOAD, flags) < 0)
        return vmm_error_errno(errno, "%s: TUNSETOFFLOAD 0x%x", be->desc, flags);
    return 0;
}

static void tap_destroy(struct net_backend *be)
{
    struct net_tap *t = (struct net_tap *)be;
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

static const struct net_backend_ops tap_ops = {
    .name = "tap",
    .send = tap_send,
    .prepare = tap_prepare,
    .service = tap_service,
    .set_offload = tap_set_offload,
    .destroy = tap_destroy,
};

static int set_up(const char *name)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return vmm_error_errno(errno, "tap '%s': socket for SIOCSIFFLAGS", name);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    int rc = 0;
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        rc = vmm_error_errno(errno, "tap '%s': SIOCGIFFLAGS", name);
    else if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
            rc = vmm_error_errno(errno, "tap '%s': bringing it up", name);
    }
    close(s);
    return rc;
}

int net_tap_open(const char *name, int managed, char name_out[16], struct net_backend **out)
{
    const char *shown = name && *name ? name : "(new)";
    if (name && strlen(name) >= IFNAMSIZ)
        return vmm_error(VMM_EINVAL, "tap name '%.32s' longer than %d bytes", name, IFNAMSIZ - 1);
    if (!managed && (!name || !*name))
        return vmm_error(VMM_EINVAL, "an unmanaged tap needs the name of an existing device");
    if (name && *name) {
        int exists = if_nametoindex(name) != 0;
        if (managed && exists)
            return vmm_error(VMM_EBUSY, "tap '%s' exists already; a managed tap is created by "
                                        "libvmm (use managed='no' to attach to it)", name);
        if (!managed && !exists)
            return vmm_error(VMM_ENOENT, "tap '%s' does not exist (create it first, e.g. "
                                         "`ip tuntap add dev %s mode tap`)", name, name);
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return vmm_error_errno(errno, "tap '%s': opening /dev/net/tun", shown);
    unsigned features = 0;
    if (ioctl(fd, TUNGETFEATURES, &features) < 0)
        features = 0;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (features & IFF_VNET_HDR)
        ifr.ifr_flags |= IFF_VNET_HDR;
    if (name)
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        if (e == EBUSY)
            return vmm_error(VMM_EBUSY, "tap '%s' is in use by another program", shown);
        return vmm_error_errno(e, "tap '%s': TUNSETIFF (%s)", shown,
                               e == EINVAL ? "not a tap device?" : "attach");
    }
    int vnet_hdr = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
    if (vnet_hdr) {
        int sz = NET_HDR_LEN;
        if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
            int e = errno;
            close(fd);
            return vmm_error_errno(e, "tap '%s': setting the virtio header", ifr.ifr_name);
        }
    }
    if (managed) {
        int rc = set_up(ifr.ifr_name);
        if (rc) {
            close(fd);
            return rc;
        }
    }
    struct net_tap *t = calloc(1, sizeof(*t));
    if (!t) {
        close(fd);
        return vmm_error(VMM_ENOMEM, "tap '%s'", ifr.ifr_name);
    }
    t->fd = fd;
    int rc = net_backend_init(&t->be, &tap_ops);
    if (rc) {
        close(fd);
        free(t);
        return rc;
    }
    t->be.vnet_hdr = vnet_hdr;
    snprintf(t->be.desc, sizeof(t->be.desc), "tap '%s'", ifr.ifr_name);
    if (name_out)
        snprintf(name_out, 16, "%s", ifr.ifr_name);
    *out = &t->be;
    return 0;
}
