/* libvirt domain XML -> vmm_config_t: <devices>. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/xml/xml_read.h"
#include "util/error.h"

/* Children every device may carry that only matter to libvirt/QEMU. */
#define IGNORED_ADDRESS RD_IGNORED("address", "libvmm places virtio-mmio devices itself")
#define IGNORED_ALIAS RD_IGNORED("alias", "device aliases are libvirt's")

static void rd_no_children(struct rd *r, xmlNodePtr n)
{
    rd_children(r, n, (const struct rd_child[]){RD_END});
}

/* --- <disk> -------------------------------------------------------------- */

struct disk_state {
    vmm_disk_config_t d;
    xmlNodePtr at;
};


static void rd_disk_driver(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("name", "type"),
             RD_LIST("cache", "io", "discard", "detect_zeroes", "error_policy", "rerror_policy"));
    rd_no_children(r, n);
    const char *name = rd_attr(r, n, "name"), *type = rd_attr(r, n, "type");
    if (name && strcmp(name, "qemu"))
        rd_unsupported_value(r, n, "driver name other than 'qemu'");
    if (type && strcmp(type, "raw"))
        rd_unsupported_value(r, n, "image format other than raw");
}

static void rd_disk_source(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("file"), RD_LIST("index"));
    rd_children(r, n, (const struct rd_child[]){
                          RD_IGNORED_N("seclabel", "libvmm applies no security labels"),
                          RD_END,
                      });
    const char *file = rd_path(r, n, rd_need_attr(r, n, "file"));
    if (file)
        r->disk->d.path = file;
}

static void rd_disk_target(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("dev", "bus"), NULL);
    rd_no_children(r, n);
    const char *dev = rd_need_attr(r, n, "dev"), *bus = rd_attr(r, n, "bus");
    if (bus && strcmp(bus, "virtio")) {
        rd_unsupported_value(r, n, "disk bus other than virtio");
        return;
    }
    if (dev && !bus && strncmp(dev, "vd", 2)) {
        rd_unsupported_value(r, n, "a disk whose target is not vd* (libvmm has virtio disks only)");
        return;
    }
    if (dev)
        r->disk->d.target = dev;
}

static void rd_disk_readonly(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    rd_no_children(r, n);
    r->disk->d.readonly = 1;
}

static void rd_disk_serial(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    const char *t = rd_text(r, n);
    if (t)
        r->disk->d.serial = t;
}

static void rd_backing_store(struct rd *r, xmlNodePtr n)
{
    /* virsh writes an empty <backingStore/> for a plain image. */
    if (n->children || n->properties)
        rd_unsupported_value(r, n, "backing chains (raw images only)");
    else
        rd_warn(r, n, "ignored (an empty backing chain)");
}

static void rd_disk(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("type", "device"), NULL);
    const char *type = rd_attr(r, n, "type"), *device = rd_attr(r, n, "device");
    if (type && strcmp(type, "file")) {
        rd_unsupported(r, n, "disk type other than 'file'");
        return;
    }
    if (device && strcmp(device, "disk")) {
        rd_unsupported(r, n, "disk device other than 'disk' (cdrom, floppy, lun)");
        return;
    }
    struct disk_state st = {.d = {.size = sizeof(vmm_disk_config_t)}, .at = n};
    struct disk_state *saved = r->disk;
    r->disk = &st;
    unsigned errors = r->d->errors, skips = r->skips;
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("driver", rd_disk_driver),
                          RD_HANDLER("source", rd_disk_source),
                          RD_HANDLER("target", rd_disk_target),
                          RD_HANDLER("readonly", rd_disk_readonly),
                          RD_HANDLER("serial", rd_disk_serial),
                          RD_HANDLER("backingStore", rd_backing_store),
                          RD_IGNORED("boot", "libvmm boots the kernel directly"),
                          IGNORED_ADDRESS,
                          IGNORED_ALIAS,
                          RD_END,
                      });
    r->disk = saved;
    if (r->d->errors != errors)
        return; /* already reported */
    if (r->skips != skips) {
        rd_warn(r, n, "disk left out");
        return;
    }
    if (!st.d.path) {
        rd_error(r, n, VMM_EINVAL, "<source file=...> missing");
        return;
    }
    if (!st.d.target) {
        rd_error(r, n, VMM_EINVAL, "<target dev=...> missing");
        return;
    }
    int rc = vmm_config_add_disk(r->c, &st.d);
    if (rc)
        rd_fail(r, n, rc);
}

/* --- <interface> --------------------------------------------------------- */

struct net_state {
    vmm_net_config_t nic;
    int has_target;
};

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
                                  &v[4], &v[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (s[i * 3 + 2] != ':' && i < 5)
            return -1;
        mac[i] = (uint8_t)v[i];
    }
    for (int i = 0; i < 17; i++)
        if (i % 3 != 2 && !strchr("0123456789abcdefABCDEF", s[i]))
            return -1;
    return 0;
}

static void rd_net_mac(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("address"), RD_LIST("type", "check"));
    rd_no_children(r, n);
    const char *a = rd_need_attr(r, n, "address");
    if (!a)
        return;
    if (parse_mac(a, r->net->nic.mac))
        rd_error(r, n, VMM_EINVAL, "MAC address '%.32s' malformed (expected xx:xx:xx:xx:xx:xx)", a);
    else if (!memcmp(r->net->nic.mac, "\0\0\0\0\0\0", 6))
        rd_error(r, n, VMM_EINVAL, "MAC address 00:00:00:00:00:00 is not a NIC's address");
}

static void rd_net_target(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("dev", "managed"), NULL);
    rd_no_children(r, n);
    const char *dev = rd_need_attr(r, n, "dev"), *managed = rd_attr(r, n, "managed");
    if (managed && strcmp(managed, "no") && strcmp(managed, "yes"))
        rd_error(r, n, VMM_EINVAL, "managed='%.32s' (expected yes or no)", managed);
    if (r->net->nic.type != VMM_NET_TAP) {
        /* libvirt names the tap it would make; a socket NIC has none. */
        rd_warn(r, n, "ignored: a %s interface has no tap device",
                r->net->nic.type == VMM_NET_UDP ? "udp" : "socket");
        return;
    }
    r->net->has_target = 1;
    r->net->nic.tap = dev;
    /* libvirt: absent or 'yes' = libvirt (here libvmm) creates the tap. */
    r->net->nic.managed = !managed || !strcmp(managed, "yes");
}

static void rd_net_model(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("type"), NULL);
    rd_no_children(r, n);
    const char *t = rd_need_attr(r, n, "type");
    if (t && strcmp(t, "virtio"))
        rd_unsupported_value(r, n, "NIC model other than virtio");
}

/* A port attribute: 1..65535. */
static unsigned rd_net_port(struct rd *r, xmlNodePtr n, const char *p)
{
    char *end;
    unsigned long v = p ? strtoul(p, &end, 10) : 0;
    if (!p || !*p || *end || v < 1 || v > 65535 || p[0] == '-' || p[0] == '+') {
        if (p)
            rd_error(r, n, VMM_EINVAL, "port '%.32s' out of range 1..65535", p);
        return 0;
    }
    return (unsigned)v;
}

static void rd_net_local(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("address", "port"), NULL);
    rd_no_children(r, n);
    r->net->nic.local_address = rd_need_attr(r, n, "address");
    r->net->nic.local_port = rd_net_port(r, n, rd_need_attr(r, n, "port"));
}

static void rd_net_source(struct rd *r, xmlNodePtr n)
{
    vmm_net_config_t *nic = &r->net->nic;
    if (nic->type == VMM_NET_TAP) {
        /* <source> of an ethernet interface holds host-side IPs and routes. */
        rd_attrs(r, n, NULL, NULL);
        rd_children(r, n, (const struct rd_child[]){
                              RD_IGNORED_N("ip", "libvmm does not configure the host side"),
                              RD_IGNORED_N("route", "libvmm does not configure the host side"),
                              RD_END,
                          });
        return;
    }
    rd_attrs(r, n, RD_LIST("address", "port"), NULL);
    if (nic->type == VMM_NET_UDP)
        rd_children(r, n, (const struct rd_child[]){RD_HANDLER("local", rd_net_local), RD_END});
    else
        rd_no_children(r, n);
    nic->address = nic->type == VMM_NET_SERVER ? rd_attr(r, n, "address")
                                                : rd_need_attr(r, n, "address");
    nic->port = rd_net_port(r, n, rd_need_attr(r, n, "port"));
}

static void rd_interface(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("type"), NULL);
    const char *type = rd_need_attr(r, n, "type");
    static const struct {
        const char *name;
        vmm_net_type_t type;
    } types[] = {{"ethernet", VMM_NET_TAP},
                 {"udp", VMM_NET_UDP},
                 {"server", VMM_NET_SERVER},
                 {"client", VMM_NET_CLIENT}};
    struct net_state st = {.nic = {.size = sizeof(vmm_net_config_t)}};
    size_t k = 0;
    while (type && k < sizeof(types) / sizeof(types[0]) && strcmp(types[k].name, type))
        k++;
    if (!type)
        return;
    if (k == sizeof(types) / sizeof(types[0])) {
        rd_unsupported(r, n, "interface type other than 'ethernet' (a tap device), 'udp', "
                             "'server' or 'client'");
        return;
    }
    st.nic.type = types[k].type;
    /* An ethernet interface without <target> gets a tap libvmm creates. */
    st.nic.managed = st.nic.type == VMM_NET_TAP;
    struct net_state *saved = r->net;
    r->net = &st;
    unsigned errors = r->d->errors, skips = r->skips;
    int source_seen = 0;
    for (xmlNodePtr ch = n->children; ch; ch = ch->next)
        if (ch->type == XML_ELEMENT_NODE && !strcmp((const char *)ch->name, "source"))
            source_seen = 1;
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("mac", rd_net_mac),
                          RD_HANDLER("source", rd_net_source),
                          RD_HANDLER("target", rd_net_target),
                          RD_HANDLER("model", rd_net_model),
                          RD_IGNORED("boot", "libvmm boots the kernel directly"),
                          RD_IGNORED("driver", "QEMU back-end tuning"),
                          IGNORED_ADDRESS,
                          IGNORED_ALIAS,
                          RD_END,
                      });
    r->net = saved;
    if (r->d->errors != errors)
        return;
    if (r->skips != skips) {
        rd_warn(r, n, "interface left out");
        return;
    }
    if (st.nic.type != VMM_NET_TAP && !source_seen) {
        rd_error(r, n, VMM_EINVAL, "<source address=... port=...> missing");
        return;
    }
    if (st.nic.type == VMM_NET_UDP && (!st.nic.local_address || !st.nic.local_port)) {
        rd_error(r, n, VMM_EINVAL, "<source><local address=... port=.../></source> missing");
        return;
    }
    int rc = vmm_config_add_nic(r->c, &st.nic);
    if (rc)
        rd_fail(r, n, rc);
}

/* --- <serial>, <console> ------------------------------------------------- */

struct chr_state {
    const char *path;
    int console;           /* reading a <console> */
};


static int chardev_type(const char *t, vmm_chardev_type_t *out)
{
    static const struct {
        const char *name;
        vmm_chardev_type_t type;
    } types[] = {{"null", VMM_CHARDEV_NULL},
                 {"pty", VMM_CHARDEV_PTY},
                 {"stdio", VMM_CHARDEV_STDIO},
                 {"file", VMM_CHARDEV_FILE}};
    for (size_t i = 0; t && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(types[i].name, t)) {
            *out = types[i].type;
            return 0;
        }
    return -1;
}

static void rd_chr_source(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("path"), RD_LIST("append"));
    rd_no_children(r, n);
    r->chr->path = rd_attr(r, n, "path");
}

static void rd_chr_target(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("port", "type"), NULL);
    rd_children(r, n, (const struct rd_child[]){
                          RD_IGNORED("model", "libvmm's UART model is fixed"),
                          RD_END,
                      });
    const char *port = rd_attr(r, n, "port"), *type = rd_attr(r, n, "type");
    if (port && strcmp(port, "0")) {
        rd_unsupported_value(r, n, "a serial port other than port 0");
        return;
    }
    if (type && r->chr->console && strcmp(type, "serial")) {
        rd_unsupported_value(r, n, "a console other than the serial port (target type='serial')");
        return;
    }
    if (type && !r->chr->console && strcmp(type, "isa-serial") && strcmp(type, "system-serial")) {
        rd_unsupported_value(r, n, "serial target type other than isa-serial or system-serial");
        return;
    }
}

/* Reads one <serial>/<console>; returns 0 with *type and *path set. */
static int rd_chardev(struct rd *r, xmlNodePtr n, int console, vmm_chardev_type_t *type,
                      const char **path)
{
    rd_attrs(r, n, RD_LIST("type"), RD_LIST("tty"));
    const char *t = rd_need_attr(r, n, "type");
    if (!t)
        return -1;
    if (chardev_type(t, type)) {
        rd_unsupported(r, n, "character device type other than pty, stdio, file or null");
        return -1;
    }
    struct chr_state st = {.console = console};
    struct chr_state *saved = r->chr;
    r->chr = &st;
    unsigned errors = r->d->errors, skips = r->skips;
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("source", rd_chr_source),
                          RD_HANDLER("target", rd_chr_target),
                          IGNORED_ADDRESS,
                          IGNORED_ALIAS,
                          RD_END,
                      });
    r->chr = saved;
    if (r->d->errors != errors)
        return -1;
    if (r->skips != skips) {
        rd_warn(r, n, "%s left out", console ? "console" : "serial port");
        return -1;
    }
    *path = NULL;
    if (*type == VMM_CHARDEV_FILE) {
        if (!st.path) {
            rd_error(r, n, VMM_EINVAL, "type='file' needs <source path=...>");
            return -1;
        }
        if (!(*path = rd_path(r, n, st.path)))
            return -1;
    } else if (st.path && *type != VMM_CHARDEV_PTY) {
        rd_unsupported(r, n, "a <source> for this type");
        return -1;
    }
    /* For pty, a live domain's <source path='/dev/pts/N'> names the pty
     * libvirt allocated; a new run allocates its own, so it is dropped. */
    return 0;
}

static void rd_serial(struct rd *r, xmlNodePtr n)
{
    if (r->serial_seen) {
        rd_unsupported(r, n, "more than one serial port");
        return;
    }
    vmm_chardev_type_t type;
    const char *path;
    if (rd_chardev(r, n, 0, &type, &path))
        return;
    r->serial_seen = 1;
    int rc = vmm_config_set_serial(r->c, type, path);
    if (rc)
        rd_fail(r, n, rc);
}

static void rd_console(struct rd *r, xmlNodePtr n)
{
    if (rd_console_virtio(r, n))
        return; /* hvc0: xml_read_vio.c */
    if (r->console_seen) {
        rd_unsupported(r, n, "more than one console");
        return;
    }
    vmm_chardev_type_t type;
    const char *path;
    if (rd_chardev(r, n, 1, &type, &path))
        return;
    r->console_seen = 1;
    r->console_type = type;
    r->console_line = xmlGetLineNo(n);
    /* libvirt writes the console as an alias of serial port 0: when a serial
     * is there the two must agree (checked at the end); alone, the console
     * defines the port. */
    if (!r->serial_seen) {
        int rc = vmm_config_set_serial(r->c, type, path);
        if (rc)
            rd_fail(r, n, rc);
    }
}

void rd_devices_finish(struct rd *r, xmlNodePtr devices)
{
    if (r->serial_seen && r->console_seen && r->console_type != r->c->serial)
        rd_error(r, devices, VMM_EINVAL,
                 "the console (line %ld) and serial port 0 have different types; libvmm has one "
                 "console, the serial port",
                 r->console_line);
}

/* --- <rng>, <memballoon> ------------------------------------------------- */

static void rd_rng_backend(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("model"), NULL);
    const char *model = rd_need_attr(r, n, "model");
    const char *t = rd_text(r, n);
    if (model && strcmp(model, "random"))
        rd_unsupported_value(r, n, "rng backend other than model='random'");
    else if (t && *t && strcmp(t, "/dev/urandom"))
        rd_unsupported_value(r, n, "rng source other than /dev/urandom");
}

static void rd_rng(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("model"), NULL);
    const char *model = rd_need_attr(r, n, "model");
    if (r->rng_seen) {
        rd_unsupported(r, n, "more than one rng device");
        return;
    }
    if (model && strcmp(model, "virtio")) {
        rd_unsupported(r, n, "rng model other than virtio");
        return;
    }
    unsigned errors = r->d->errors, skips = r->skips;
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("backend", rd_rng_backend),
                          RD_IGNORED("rate", "the rng is not rate-limited"),
                          RD_IGNORED("driver", "QEMU back-end tuning"),
                          IGNORED_ADDRESS,
                          IGNORED_ALIAS,
                          RD_END,
                      });
    if (r->skips != skips)
        rd_warn(r, n, "rng left out");
    else if (r->d->errors == errors && model) {
        r->rng_seen = 1;
        r->c->rng = 1;
    }
}

/* <stats period='N'/>: seconds between the guest's statistics reports. */
static void rd_balloon_stats(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("period"), NULL);
    const char *p = rd_need_attr(r, n, "period");
    if (!p)
        return;
    char *end;
    errno = 0;
    unsigned long v = strtoul(p, &end, 10);
    if (!*p || *end || errno || v > VMM_BALLOON_STATS_PERIOD_MAX || p[0] == '-')
        rd_error(r, n, VMM_EINVAL, "period='%.32s' (expected seconds, 0..%u)", p,
                 VMM_BALLOON_STATS_PERIOD_MAX);
    else
        r->c->balloon_period = (unsigned)v;
}

/* autodeflate / freePageReporting: 'on' sets `flag`, 'off' or absent not. */
static unsigned rd_balloon_switch(struct rd *r, xmlNodePtr n, const char *name, unsigned flag)
{
    const char *v = rd_attr(r, n, name);
    if (!v || !strcmp(v, "off"))
        return 0;
    if (!strcmp(v, "on"))
        return flag;
    rd_error(r, n, VMM_EINVAL, "%s='%.32s' (expected on or off)", name, v);
    return 0;
}

static void rd_memballoon(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("model", "autodeflate", "freePageReporting"), NULL);
    const char *model = rd_need_attr(r, n, "model");
    if (model && strcmp(model, "virtio") && strcmp(model, "none"))
        rd_unsupported(r, n, "memballoon model other than none or virtio");
    unsigned flags = rd_balloon_switch(r, n, "autodeflate", VMM_BALLOON_DEFLATE_ON_OOM) |
                     rd_balloon_switch(r, n, "freePageReporting", VMM_BALLOON_FREE_PAGE_REPORTING);
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("stats", rd_balloon_stats),
                          RD_IGNORED("driver", "QEMU back-end tuning"),
                          IGNORED_ADDRESS,
                          IGNORED_ALIAS,
                          RD_END,
                      });
    if (model && !strcmp(model, "virtio"))
        vmm_config_set_balloon(r->c, 1, flags, r->c->balloon_period);
    else
        vmm_config_set_balloon(r->c, 0, 0, 0);
}

/* --- <devices> ----------------------------------------------------------- */

void rd_devices(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    rd_children(r, n, (const struct rd_child[]){
                          RD_IGNORED("emulator", "libvmm is the emulator"),
                          RD_HANDLER_N("disk", rd_disk),
                          RD_HANDLER_N("interface", rd_interface),
                          RD_HANDLER_N("serial", rd_serial),
                          RD_HANDLER_N("console", rd_console),
                          RD_HANDLER_N("rng", rd_rng),
                          RD_HANDLER("memballoon", rd_memballoon),
                          RD_IGNORED_N("controller", "libvmm's virtio-mmio devices need no controller"),
                          RD_IGNORED_N("input", "the only input device is the i8042 keyboard controller"),
                          /* virtio console ports and vsock: xml_read_vio.c */
                          RD_HANDLER_N("channel", rd_channel),
                          RD_HANDLER("vsock", rd_vsock),
                          RD_END,
                      });
    rd_devices_finish(r, n);
}
