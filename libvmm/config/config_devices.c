/* Devices of a config: virtio disks and NICs, the serial console, rng. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "config/config.h"
#include "util/error.h"
#include "util/sized.h"

#define DISK_SERIAL_MAX 20 /* virtio-blk's ID string */
#define TAP_NAME_MAX 15    /* IFNAMSIZ - 1 */

/* virtio disk names as libvirt writes them: "vd" and 1..3 lower-case letters. */
static int target_ok(const char *t)
{
    size_t n = strlen(t);
    if (n < 3 || n > 5 || strncmp(t, "vd", 2))
        return 0;
    for (size_t i = 2; i < n; i++)
        if (t[i] < 'a' || t[i] > 'z')
            return 0;
    return 1;
}

/* libvirt's diskSerial pattern: [A-Za-z0-9_.+- ]+ */
static int serial_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              strchr("_.+- ", *s)))
            return 0;
    return 1;
}

int vmm_config_add_disk(vmm_config_t *c, const vmm_disk_config_t *caller_disk)
{
    if (!c || !caller_disk)
        return vmm_error(VMM_EINVAL, "vmm_config_add_disk: cfg and disk are required");
    /* The caller's struct may be older or newer than ours (vmm/abi.h). */
    vmm_disk_config_t in;
    int rc = sized_copy_in(&in, caller_disk, sizeof(in), "vmm_disk_config_t");
    if (rc)
        return rc;
    const vmm_disk_config_t *disk = &in;
    if (disk->backend) {
        if (disk->path)
            return vmm_error(VMM_EINVAL, "disk '%.32s': a source file and a host backend; give "
                             "one", disk->target ? disk->target : "(null)");
        if (disk->capacity == 0 || disk->capacity % 512)
            return vmm_error(VMM_EINVAL, "disk '%.32s': backend capacity %llu bytes is not a "
                             "non-zero multiple of 512", disk->target ? disk->target : "(null)",
                             (unsigned long long)disk->capacity);
    } else if (!disk->path || disk->path[0] != '/') {
        return vmm_error(VMM_EINVAL, "disk source '%.256s' is not an absolute path",
                         disk->path ? disk->path : "(null)");
    }
    if (!disk->target || !target_ok(disk->target))
        return vmm_error(VMM_EINVAL, "disk target '%.32s' invalid (expected vda, vdb, ... vdzzz)",
                         disk->target ? disk->target : "(null)");
    if (disk->serial && (strlen(disk->serial) > DISK_SERIAL_MAX || !serial_ok(disk->serial)))
        return vmm_error(VMM_EINVAL,
                         "disk serial '%.64s' invalid (1..%d of A-Z a-z 0-9 _ . + - space)",
                         disk->serial, DISK_SERIAL_MAX);
    for (unsigned i = 0; i < c->n_disks; i++)
        if (!strcmp(c->disks[i].target, disk->target))
            return vmm_error(VMM_EINVAL, "disk target '%s' is used twice", disk->target);
    if (c->n_disks >= VMM_CONFIG_MAX_DISKS)
        return vmm_error(VMM_ERANGE, "disk %u exceeds the limit of %d disks", c->n_disks + 1,
                         VMM_CONFIG_MAX_DISKS);
    vmm_disk_config_t d = {.size = sizeof(d), .readonly = disk->readonly ? 1 : 0};
    d.path = disk->path ? strdup(disk->path) : NULL;
    d.target = strdup(disk->target);
    d.serial = disk->serial ? strdup(disk->serial) : NULL;
    d.backend = disk->backend ? config_blk_ops_dup(disk->backend) : NULL;
    if (disk->backend && !d.backend)
        return VMM_ENOMEM;
    d.backend_opaque = disk->backend_opaque;
    d.capacity = disk->backend ? disk->capacity : 0;
    vmm_disk_config_t *grown = realloc(c->disks, (c->n_disks + 1) * sizeof(*grown));
    if ((disk->path && !d.path) || !d.target || (disk->serial && !d.serial) || !grown) {
        if (grown)
            c->disks = grown;
        config_disk_clear(&d);
        return vmm_error(VMM_ENOMEM, "adding a disk");
    }
    c->disks = grown;
    c->disks[c->n_disks++] = d;
    return 0;
}

unsigned vmm_config_disk_count(const vmm_config_t *c) { return c->n_disks; }

const vmm_disk_config_t *vmm_config_disk(const vmm_config_t *c, unsigned i)
{
    return i < c->n_disks ? &c->disks[i] : NULL;
}

static int tap_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > TAP_NAME_MAX || !strcmp(t, ".") || !strcmp(t, ".."))
        return 0;
    for (; *t; t++)
        if (*t == '/' || *t == ':' || (unsigned char)*t <= ' ' || (unsigned char)*t >= 0x7f)
            return 0;
    return 1;
}

int vmm_config_add_net(vmm_config_t *c, const char *tap, const uint8_t mac[6])
{
    vmm_net_config_t nic = {.size = sizeof(nic), .tap = tap, .type = VMM_NET_TAP};
    if (!tap)
        return vmm_error(VMM_EINVAL, "vmm_config_add_net: the tap device name is required");
    if (mac) {
        memcpy(nic.mac, mac, 6);
        /* An all-zero MAC means "generate" to add_nic; here it is just bad. */
        if (!memcmp(nic.mac, "\0\0\0\0\0\0", 6))
            return vmm_error(VMM_EINVAL, "MAC address 00:00:00:00:00:00 is not a NIC's address");
    }
    return vmm_config_add_nic(c, &nic);
}

/* A numeric IPv4 or IPv6 address (libvirt's schema takes IPv4 only; IPv6
 * works through the C API and vmmctl). */
static int ip_ok(const char *a)
{
    unsigned char buf[16];
    return a && (inet_pton(AF_INET, a, buf) == 1 || inet_pton(AF_INET6, a, buf) == 1);
}

static int unix_path_ok(const char *a)
{
    return a && a[0] == '/' && strlen(a) < 108;
}

static int check_nic(const vmm_net_config_t *n)
{
    static const char *const names[] = {"tap", "udp", "server", "client", "host"};
    int is_tap = n->type == VMM_NET_TAP;
    if ((unsigned)n->type > VMM_NET_HOST)
        return vmm_error(VMM_EINVAL, "interface type %d unknown", (int)n->type);
    if ((n->type == VMM_NET_HOST) != (n->backend != NULL))
        return vmm_error(VMM_EINVAL, "interface: a backend goes with type VMM_NET_HOST, and "
                         "only there");
    if (n->type == VMM_NET_HOST) {
        if (n->tap || n->managed || n->address || n->port || n->local_address || n->local_port)
            return vmm_error(VMM_EINVAL, "a host interface takes no tap, addresses or ports");
        return 0;
    }
    const char *kind = names[n->type];
    if (n->mac[0] & 1)
        return vmm_error(VMM_EINVAL, "MAC address %02x:%02x:%02x:%02x:%02x:%02x is multicast",
                         n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
    if (is_tap) {
        if (n->tap ? !tap_ok(n->tap) : !n->managed)
            return vmm_error(VMM_EINVAL,
                             "tap device name '%.32s' invalid (1..%d bytes, no '/', ':' or spaces)",
                             n->tap ? n->tap : "(null)", TAP_NAME_MAX);
        if (n->address || n->port || n->local_address || n->local_port)
            return vmm_error(VMM_EINVAL, "a tap interface takes no addresses or ports");
        return 0;
    }
    if (n->tap || n->managed)
        return vmm_error(VMM_EINVAL, "a %s interface takes no tap device or managed flag", kind);
    int is_unix = n->type != VMM_NET_UDP && n->address && n->address[0] == '/';
    if (is_unix) {
        if (!unix_path_ok(n->address) || n->port)
            return vmm_error(VMM_EINVAL, "%s interface: unix socket path '%.128s' invalid (absolute, "
                             "below 108 bytes, port 0)", kind, n->address);
    } else {
        if (n->port < 1 || n->port > 65535)
            return vmm_error(VMM_EINVAL, "%s interface: port %u out of range 1..65535", kind,
                             n->port);
        if (n->address ? !ip_ok(n->address) : n->type != VMM_NET_SERVER)
            return vmm_error(VMM_EINVAL, "%s interface: address '%.64s' is not a numeric IPv4/IPv6 "
                             "address", kind, n->address ? n->address : "(null)");
    }
    if (n->type == VMM_NET_UDP) {
        if (!ip_ok(n->local_address) || n->local_port < 1 || n->local_port > 65535)
            return vmm_error(VMM_EINVAL, "udp interface: local address '%.64s' port %u invalid "
                             "(numeric address, port 1..65535)",
                             n->local_address ? n->local_address : "(null)", n->local_port);
    } else if (n->local_address || n->local_port) {
        return vmm_error(VMM_EINVAL, "a %s interface takes no local address", kind);
    }
    return 0;
}

int vmm_config_add_nic(vmm_config_t *c, const vmm_net_config_t *caller_nic)
{
    if (!c || !caller_nic)
        return vmm_error(VMM_EINVAL, "vmm_config_add_nic: cfg and nic are required");
    vmm_net_config_t in;
    int rc = sized_copy_in(&in, caller_nic, sizeof(in), "vmm_net_config_t");
    if (rc)
        return rc;
    if ((rc = check_nic(&in)))
        return rc;
    uint8_t *m = in.mac;
    if (!memcmp(m, "\0\0\0\0\0\0", 6)) {
        /* 52:54:00 is the locally administered prefix libvirt and QEMU use. */
        m[0] = 0x52, m[1] = 0x54, m[2] = 0x00;
        if (getrandom(m + 3, 3, 0) != 3)
            return vmm_error(VMM_EIO, "getrandom failed while generating a MAC address");
    }
    for (unsigned i = 0; i < c->n_nets; i++) {
        if (!memcmp(c->nets[i].mac, m, 6))
            return vmm_error(VMM_EINVAL, "MAC address %02x:%02x:%02x:%02x:%02x:%02x is used twice",
                             m[0], m[1], m[2], m[3], m[4], m[5]);
        if (in.tap && c->nets[i].tap && !strcmp(c->nets[i].tap, in.tap))
            return vmm_error(VMM_EINVAL, "tap device '%s' is used twice", in.tap);
    }
    if (c->n_nets >= VMM_CONFIG_MAX_NETS)
        return vmm_error(VMM_ERANGE, "interface %u exceeds the limit of %d interfaces",
                         c->n_nets + 1, VMM_CONFIG_MAX_NETS);
    vmm_net_config_t n = in;
    n.size = sizeof(n);
    n.managed = in.managed ? 1 : 0;
    int failed = 0;
    n.tap = n.address = n.local_address = NULL;
    n.backend = NULL;
    if (in.backend) {
        vmm_net_backend_ops_t *ops = malloc(sizeof(*ops));
        if (!ops || sized_copy_in(ops, in.backend, sizeof(*ops), "vmm_net_backend_ops_t") ||
            !ops->send) {
            free(ops);
            return ops ? vmm_error(VMM_EINVAL, "vmm_net_backend_ops_t: send is required")
                       : vmm_error(VMM_ENOMEM, "network backend ops");
        }
        ops->size = sizeof(*ops);
        n.backend = ops;
    }
    if (in.tap && !(n.tap = strdup(in.tap)))
        failed = 1;
    if (in.address && !(n.address = strdup(in.address)))
        failed = 1;
    if (in.local_address && !(n.local_address = strdup(in.local_address)))
        failed = 1;
    vmm_net_config_t *grown = failed ? NULL : realloc(c->nets, (c->n_nets + 1) * sizeof(*grown));
    if (!grown) {
        config_net_clear(&n);
        return vmm_error(VMM_ENOMEM, "adding an interface");
    }
    c->nets = grown;
    c->nets[c->n_nets++] = n;
    return 0;
}

unsigned vmm_config_net_count(const vmm_config_t *c) { return c->n_nets; }

const vmm_net_config_t *vmm_config_net(const vmm_config_t *c, unsigned i)
{
    return i < c->n_nets ? &c->nets[i] : NULL;
}

int vmm_config_set_serial(vmm_config_t *c, vmm_chardev_type_t type, const char *path)
{
    switch (type) {
    case VMM_CHARDEV_NONE:
    case VMM_CHARDEV_NULL:
    case VMM_CHARDEV_PTY:
    case VMM_CHARDEV_STDIO:
        if (path)
            return vmm_error(VMM_EINVAL, "serial type %d takes no path (got '%.256s')", (int)type,
                             path);
        break;
    case VMM_CHARDEV_FILE:
        if (!path || path[0] != '/')
            return vmm_error(VMM_EINVAL, "serial file '%.256s' is not an absolute path",
                             path ? path : "(null)");
        break;
    default:
        return vmm_error(VMM_EINVAL, "serial type %d unknown", (int)type);
    }
    int rc = config_set_string(&c->serial_path, path, "serial path");
    if (rc)
        return rc;
    c->serial = type;
    c->console = type == VMM_CHARDEV_NONE || type == VMM_CHARDEV_NULL ? VMM_CONSOLE_NONE
                                                                      : VMM_CONSOLE_EVENTS;
    return 0;
}

vmm_chardev_type_t vmm_config_serial(const vmm_config_t *c, const char **path)
{
    if (path)
        *path = c->serial_path;
    return c->serial;
}

int vmm_config_set_rng(vmm_config_t *c, int on)
{
    c->rng = on ? 1 : 0;
    return 0;
}

int vmm_config_rng(const vmm_config_t *c) { return c->rng; }

int vmm_config_set_balloon(vmm_config_t *c, int on, unsigned flags, unsigned stats_period)
{
    const unsigned known = VMM_BALLOON_DEFLATE_ON_OOM | VMM_BALLOON_FREE_PAGE_REPORTING;
    if (flags & ~known)
        return vmm_error(VMM_EINVAL, "balloon flags 0x%x: unknown bits 0x%x (known 0x%x)", flags,
                         flags & ~known, known);
    if (stats_period > VMM_BALLOON_STATS_PERIOD_MAX)
        return vmm_error(VMM_EINVAL, "balloon stats period %u s exceeds the limit of %u s",
                         stats_period, VMM_BALLOON_STATS_PERIOD_MAX);
    c->balloon = on ? 1 : 0;
    c->balloon_flags = on ? flags : 0;
    c->balloon_period = on ? stats_period : 0;
    return 0;
}

int vmm_config_balloon(const vmm_config_t *c, unsigned *flags, unsigned *stats_period)
{
    if (flags)
        *flags = c->balloon_flags;
    if (stats_period)
        *stats_period = c->balloon_period;
    return c->balloon;
}

vmm_blk_backend_ops_t *config_blk_ops_dup(const vmm_blk_backend_ops_t *ops)
{
    vmm_blk_backend_ops_t in;
    if (sized_copy_in(&in, ops, sizeof(in), "vmm_blk_backend_ops_t"))
        return NULL;
    if (!in.submit) {
        vmm_error(VMM_EINVAL, "vmm_blk_backend_ops_t: submit is required");
        return NULL;
    }
    vmm_blk_backend_ops_t *copy = malloc(sizeof(*copy));
    if (!copy) {
        vmm_error(VMM_ENOMEM, "block backend ops");
        return NULL;
    }
    *copy = in;
    copy->size = sizeof(*copy);
    return copy;
}

/* [none: host-written devices have no domain XML form] */
int vmm_config_add_device(vmm_config_t *c, const vmm_device_config_t *caller)
{
    if (!c || !caller)
        return vmm_error(VMM_EINVAL, "vmm_config_add_device: cfg and dev are required");
    vmm_device_config_t in;
    int rc = sized_copy_in(&in, caller, sizeof(in), "vmm_device_config_t");
    if (rc)
        return rc;
    size_t n = in.name ? strlen(in.name) : 0;
    if (n == 0 || n > 31)
        return vmm_error(VMM_EINVAL, "device name '%.40s': 1..31 bytes", in.name ? in.name : "");
    if (in.space != VMM_SPACE_MMIO && in.space != VMM_SPACE_PIO)
        return vmm_error(VMM_EINVAL, "device '%s': address space %d is neither MMIO (0) nor PIO "
                         "(1)", in.name, (int)in.space);
    if (in.length == 0 || in.base + in.length < in.base)
        return vmm_error(VMM_EINVAL, "device '%s': range 0x%llx+0x%llx is empty or wraps",
                         in.name, (unsigned long long)in.base, (unsigned long long)in.length);
    if (in.space == VMM_SPACE_PIO && in.base + in.length > 0x10000)
        return vmm_error(VMM_EINVAL, "device '%s': ports 0x%llx+0x%llx beyond 0xffff", in.name,
                         (unsigned long long)in.base, (unsigned long long)in.length);
    if (in.irq < -1 || in.irq > 1023)
        return vmm_error(VMM_EINVAL, "device '%s': interrupt line %d, limit -1..1023", in.name,
                         in.irq);
    if (!in.ops)
        return vmm_error(VMM_EINVAL, "device '%s': ops are required", in.name);
    for (unsigned i = 0; i < c->n_devices; i++)
        if (!strcmp(c->devices[i].name, in.name))
            return vmm_error(VMM_EINVAL, "device name '%s' is used twice", in.name);
    if (c->n_devices >= CONFIG_MAX_DEVICES)
        return vmm_error(VMM_ERANGE, "device %u exceeds the limit of %d host devices",
                         c->n_devices + 1, CONFIG_MAX_DEVICES);
    vmm_device_ops_t ops;
    if ((rc = sized_copy_in(&ops, in.ops, sizeof(ops), "vmm_device_ops_t")))
        return rc;
    ops.size = sizeof(ops);
    vmm_device_config_t d = in;
    d.size = sizeof(d);
    d.name = strdup(in.name);
    vmm_device_ops_t *ops_copy = malloc(sizeof(*ops_copy));
    vmm_device_config_t *grown = realloc(c->devices, (c->n_devices + 1) * sizeof(*grown));
    if (grown)
        c->devices = grown;
    if (!d.name || !ops_copy || !grown) {
        free((char *)d.name);
        free(ops_copy);
        return vmm_error(VMM_ENOMEM, "adding device '%s'", in.name);
    }
    *ops_copy = ops;
    d.ops = ops_copy;
    c->devices[c->n_devices++] = d;
    return 0;
}
