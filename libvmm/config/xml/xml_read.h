/* Internals of the domain XML reader shared by xml_read*.c: the reading
 * context, problem reporting with element paths and lines, and the tables
 * that say which children and attributes an element may have. */
#ifndef LIBVMM_CONFIG_XML_READ_H
#define LIBVMM_CONFIG_XML_READ_H

#include <libxml/tree.h>

#include "config/xml/xml_doc.h"

#include "config/config.h"
#include "config/diag.h"

struct rd {
    vmm_config_t *c;
    struct diag *d;
    unsigned flags;
    void **owned;        /* libxml2 strings handed out by rd_attr/rd_text */
    size_t n_owned, cap_owned;
    /* device state across elements */
    int serial_seen;     /* a <serial> was read */
    int console_seen;
    vmm_chardev_type_t console_type;
    long console_line;
    int rng_seen;
    unsigned skips;      /* rd_unsupported_value() calls: device to leave out */
    /* the device element being read, for its children's handlers */
    struct disk_state *disk;
    struct net_state *net;
    struct chr_state *chr;
    /* virtio console, channels, vsock (xml_read_vio.c) */
    struct vio_chr *vio;
    int vcon_seen, vsock_seen;
    const char *vsock_socket;     /* <libvmm:vsock socket> from <metadata> */
    xmlNodePtr vsock_socket_at;
};

/* What a child element is to its parent. */
enum rd_kind {
    RD_HANDLE = 0, /* read by fn */
    RD_IGNORE,     /* known and harmless: a warning naming `why` */
};

struct rd_child {
    const char *name;
    enum rd_kind kind;
    void (*fn)(struct rd *r, xmlNodePtr n);
    const char *why;  /* RD_IGNORE: why ignoring is safe */
    int repeat;       /* may appear more than once */
};

/* Problems, each prefixed "PATH, line N: ". */
void rd_error(struct rd *r, xmlNodePtr n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void rd_warn(struct rd *r, xmlNodePtr n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The last vmm_error() message as a problem at n (after a setter failed). */
void rd_fail(struct rd *r, xmlNodePtr n, int code);
/* An element/attribute libvmm does not support: an error, or a warning with
 * VMM_XML_LENIENT. `n` may be an attribute node. */
void rd_unsupported(struct rd *r, xmlNodePtr n, const char *detail);

/* Like rd_unsupported() for a value that makes the enclosing device
 * unusable (a qcow2 image, a SATA bus): with VMM_XML_LENIENT the device is
 * then left out rather than used wrongly. */
void rd_unsupported_value(struct rd *r, xmlNodePtr n, const char *detail);

/* Attribute value (NULL when absent) / text content; owned by r. */
const char *rd_attr(struct rd *r, xmlNodePtr n, const char *name);
/* Text of an element that must hold only text (errors otherwise; "" when
 * empty). */
const char *rd_text(struct rd *r, xmlNodePtr n);

/* Checks n's attributes: names in `ok` are read by the caller, names in
 * `ignored` are warned about, anything else is unsupported. Both lists are
 * NULL-terminated (NULL for none). */
void rd_attrs(struct rd *r, xmlNodePtr n, const char *const *ok, const char *const *ignored);

/* Walks n's children through `table` (terminated by a NULL name): unknown
 * elements are unsupported, a non-repeatable one seen twice is an error,
 * non-blank text is an error. */
void rd_children(struct rd *r, xmlNodePtr n, const struct rd_child *table);

/* Required attribute: reports "missing" and returns NULL when absent. */
const char *rd_need_attr(struct rd *r, xmlNodePtr n, const char *name);

/* An absolute path from an element's text or an attribute; NULL (error
 * reported) otherwise. */
const char *rd_path(struct rd *r, xmlNodePtr n, const char *value);

/* The <devices> element. */
void rd_devices(struct rd *r, xmlNodePtr n);
/* Consistency of <serial>/<console> once all devices are read. */
void rd_devices_finish(struct rd *r, xmlNodePtr devices);

/* --- virtio console, channels, vsock, libvmm's metadata (xml_read_vio.c) --- */

/* Takes libvmm's elements out of <metadata> (so the rest is kept as the
 * opaque blob) and reads them. */
void rd_metadata_libvmm(struct rd *r, xmlNodePtr metadata);
/* A <console> whose <target type='virtio'>: 1 when it was (read here). */
int rd_console_virtio(struct rd *r, xmlNodePtr n);
void rd_channel(struct rd *r, xmlNodePtr n);
void rd_vsock(struct rd *r, xmlNodePtr n);
/* After the whole domain: the metadata's vsock socket needs a <vsock>. */
void rd_vio_finish(struct rd *r, xmlNodePtr root);

#define RD_HANDLER(n, f) {.name = (n), .kind = RD_HANDLE, .fn = (f)}
#define RD_HANDLER_N(n, f) {.name = (n), .kind = RD_HANDLE, .fn = (f), .repeat = 1}
#define RD_IGNORED(n, w) {.name = (n), .kind = RD_IGNORE, .why = (w)}
#define RD_IGNORED_N(n, w) {.name = (n), .kind = RD_IGNORE, .why = (w), .repeat = 1}
#define RD_END {.name = NULL}
#define RD_LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
