/* virtio-balloon (virtio 1.x, 5.5, device id 5): the host asks the guest
 * for memory back by setting a target (config num_pages); the guest's
 * driver gives pages up on the inflate queue (arrays of 4 KiB page frame
 * numbers) and takes them back on the deflate queue. Inflated pages, and
 * the free pages a guest reports on the reporting queue
 * (VIRTIO_BALLOON_F_REPORTING), go back to the host by hole punching guest
 * RAM's memfd (guest_mem_discard). The statistics queue carries the guest's
 * memory figures: the device keeps the driver's buffer and hands it back
 * every stats period (or when the host asks) to have it refilled.
 *
 * Every PFN and buffer the guest supplies is hostile: a PFN outside guest
 * RAM, a buffer that is not whole pages, a stats buffer that is not whole
 * records are skipped and counted (`errors`, with the last reason logged
 * once), never trusted. Malformed chains are the transport's business
 * (virtq_pop): the device then needs a reset.
 */
#ifndef LIBVMM_DEVICES_VIRTIO_BALLOON_H
#define LIBVMM_DEVICES_VIRTIO_BALLOON_H

#include <stdint.h>

#include "devices/virtio/mmio.h"

/* Feature bits (virtio 1.x, 5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON 4
#define VIRTIO_BALLOON_F_REPORTING 5

/* Statistics tags (5.5.6.3). */
#define VIRTIO_BALLOON_S_NR 10

/* What the device offers, from the config (<memballoon>). */
struct virtio_balloon_options {
    int deflate_on_oom;     /* autodeflate='on' */
    int free_page_reporting; /* freePageReporting='on' */
    unsigned stats_period;  /* seconds between statistics refreshes; 0 = on request only */
    uint32_t target_pages;  /* num_pages at power-on (<currentMemory>) */
};

/* A snapshot of the device's figures. */
struct virtio_balloon_info {
    uint32_t target_pages;   /* num_pages: what the host asks the balloon to hold */
    uint32_t actual_pages;   /* actual: what the driver says it holds */
    uint64_t inflated_pages; /* PFNs taken on the inflate queue, since power-on */
    uint64_t deflated_pages; /* PFNs taken on the deflate queue */
    uint64_t reported_bytes; /* bytes given back through free page reporting */
    uint64_t errors;         /* hostile or bad entries skipped */
    uint64_t stats[VIRTIO_BALLOON_S_NR]; /* the guest's last figures, by tag */
    uint32_t stats_valid;    /* bit n: tag n was reported */
    uint64_t stats_updated_ms; /* monotonic ms of the last report; 0 = never */
    uint64_t stats_updates;  /* reports received */
    int driver_ok;           /* the guest's driver is up */
};

struct virtio_balloon;

/* Adds a virtio-balloon where `at` says. */
int virtio_balloon_create(struct machine *m, const struct virtio_placement *at,
                          const struct virtio_balloon_options *opt);

/* The balloon behind component `c`, or NULL when c is NULL or not one. */
struct virtio_balloon *virtio_balloon_of(struct component *c);

/* Asks the guest to hold `pages` 4 KiB pages in the balloon (config
 * num_pages, with a config-change interrupt). Any thread. */
void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages);

/* Hands the held statistics buffer back to the guest so its driver sends
 * fresh figures (no-op when the device holds none). Any thread. */
void virtio_balloon_request_stats(struct virtio_balloon *b);

void virtio_balloon_info(struct virtio_balloon *b, struct virtio_balloon_info *out);

#endif
