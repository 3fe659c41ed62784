#include "arch/virtio_slots.h"

#include <stdio.h>
#include <string.h>

#include "devices/virtio/balloon.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/console.h"
#include "devices/virtio/vsock.h"
#include "util/error.h"

/* Takes the next free slot for a device called name<index>. */
static int next_slot(const struct virtio_layout *l, struct virtio_slots *out, const char *kind,
                     unsigned index, struct virtio_placement **slot)
{
    unsigned limit = l->max < VIRTIO_SLOTS_MAX ? l->max : VIRTIO_SLOTS_MAX;
    if (out->nr >= limit)
        return vmm_error(VMM_EINVAL, "%s%u: the board has %u virtio slots and all are taken", kind,
                         index, limit);
    struct virtio_placement *s = &out->slot[out->nr];
    s->base = l->base + (uint64_t)out->nr * l->stride;
    s->irq = l->irqs[out->nr];
    s->edge = l->edge;
    snprintf(s->name, sizeof(s->name), "%s%u", kind, index);
    *slot = s;
    return 0;
}

/* One virtio-console when the config has a virtio console or named ports,
 * then a virtio-vsock when it has a guest CID. */
static int virtio_slots_console_vsock(struct machine *m, const vmm_config_t *cfg,
                                      const struct virtio_layout *layout, struct virtio_slots *out)
{
    struct virtio_placement *s = NULL;
    int rc;
    unsigned nports = vmm_config_port_count(cfg);
    if (vmm_config_virtio_console(cfg, NULL) != VMM_CHARDEV_NONE || nports) {
        const char *names[VIRTIO_CONSOLE_MAX_NAMED];
        if (nports > VIRTIO_CONSOLE_MAX_NAMED)
            return vmm_error(VMM_EINVAL, "%u named ports, virtio-console has room for %d", nports,
                             VIRTIO_CONSOLE_MAX_NAMED);
        for (unsigned i = 0; i < nports; i++)
            names[i] = vmm_config_port(cfg, i, NULL, NULL);
        if ((rc = next_slot(layout, out, "console", 0, &s)) ||
            (rc = virtio_console_create(m, s,
                                        vmm_config_virtio_console(cfg, NULL) != VMM_CHARDEV_NONE,
                                        names, nports, NULL)))
            return rc;
        out->nr++;
    }
    if (vmm_config_vsock_cid(cfg)) {
        if ((rc = next_slot(layout, out, "vsock", 0, &s)) ||
            (rc = virtio_vsock_create(m, s, vmm_config_vsock_cid(cfg),
                                      vmm_config_vsock_path(cfg), NULL)))
            return rc;
        out->nr++;
    }
    return 0;
}

int virtio_slots_populate(struct machine *m, const vmm_config_t *cfg,
                          const struct virtio_layout *layout, struct virtio_slots *out)
{
    memset(out, 0, sizeof(*out));
    if (!cfg)
        return 0;
    struct virtio_placement *s = NULL;
    int rc;
    if (vmm_config_rng(cfg)) {
        if ((rc = next_slot(layout, out, "rng", 0, &s)) ||
            (rc = virtio_rng_create(m, s)))
            return rc;
        out->nr++;
    }
    for (unsigned i = 0; i < vmm_config_disk_count(cfg); i++) {
        const vmm_disk_config_t *d = vmm_config_disk(cfg, i);
        struct blk_backend *be;
        if ((rc = next_slot(layout, out, "disk", i, &s)))
            return rc;
        /* The guest-facing name is the libvirt target ("vda"). */
        snprintf(s->name, sizeof(s->name), "%s", d->target);
        if (d->backend)
            rc = blk_host_open(d->backend, d->backend_opaque, d->capacity, d->readonly, d->target,
                               &be);
        else
            rc = blk_file_open(d->path, d->readonly, &be);
        if (rc ||
            (rc = virtio_blk_create(m, s, be, d->serial, NULL)))
            return rc;
        out->nr++;
    }
    /* --- virtio-net --- */
    for (unsigned i = 0; i < vmm_config_net_count(cfg); i++) {
        const vmm_net_config_t *nc = vmm_config_net(cfg, i);
        struct net_backend *be = NULL;
        if ((rc = next_slot(layout, out, "net", i, &s)))
            return rc;
        switch (nc->type) {
        case VMM_NET_TAP:
            rc = net_tap_open(nc->tap, nc->managed, NULL, &be);
            break;
        case VMM_NET_UDP:
            rc = net_udp_open(nc->local_address, nc->local_port, nc->address, nc->port, &be);
            break;
        case VMM_NET_HOST:
            rc = net_host_open(nc->backend, nc->backend_opaque, &be);
            break;
        default:
            rc = net_stream_open(nc->type == VMM_NET_SERVER, nc->address, nc->port, &be);
            break;
        }
        if (rc || (rc = virtio_net_create(m, s, nc->mac, be, NULL)))
            return rc;
        out->nr++;
    }
    /* --- virtio-console (hvc0 and named ports), virtio-vsock --- */
    if ((rc = virtio_slots_console_vsock(m, cfg, layout, out)))
        return rc;
    /* --- virtio-balloon, last: configs without one keep their layout --- */
    unsigned flags, period;
    if (vmm_config_balloon(cfg, &flags, &period)) {
        struct virtio_balloon_options opt = {
            .deflate_on_oom = (flags & VMM_BALLOON_DEFLATE_ON_OOM) != 0,
            .free_page_reporting = (flags & VMM_BALLOON_FREE_PAGE_REPORTING) != 0,
            .stats_period = period,
        };
        /* <currentMemory> below <memory>: the balloon holds the difference
         * from power-on. */
        uint64_t current = vmm_config_current_memory(cfg);
        if (current && current < vmm_config_memory(cfg))
            opt.target_pages = (uint32_t)((vmm_config_memory(cfg) - current) / 4096);
        if ((rc = next_slot(layout, out, "balloon", 0, &s)) ||
            (rc = virtio_balloon_create(m, s, &opt)))
            return rc;
        out->nr++;
    }
    return 0;
}
