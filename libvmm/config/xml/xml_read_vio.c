/* libvirt domain XML -> vmm_config_t: the virtio console (<console> with
 * <target type='virtio'>), virtio-console ports (<channel> with
 * <target type='virtio' name=...>), <vsock>, and libvmm's own elements in
 * <metadata>. */
#include <stdlib.h>
#include <string.h>

#include "config/xml/metadata.h"
#include "config/xml/xml_read.h"
#include "util/error.h"

#define IGNORED_ADDRESS RD_IGNORED("address", "libvmm places virtio-mmio devices itself")
#define IGNORED_ALIAS RD_IGNORED("alias", "device aliases are libvirt's")

/* The <console>/<channel> being read. */
struct vio_chr {
    int channel;         /* a <channel> (else the console) */
    const char *path;    /* <source path> */
    const char *mode;    /* <source mode> */
    const char *name;    /* <target name> (channel) */
    int target_seen;
    int64_t cid;         /* <vsock>: <cid address>, -1 unset */
    int cid_auto;
};

static int is_element(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !n->ns && !strcmp((const char *)n->name, name);
}

static int chr_type(const char *t, vmm_chardev_type_t *out)
{
    static const struct {
        const char *name;
        vmm_chardev_type_t type;
    } types[] = {{"null", VMM_CHARDEV_NULL},
                 {"pty", VMM_CHARDEV_PTY},
                 {"stdio", VMM_CHARDEV_STDIO},
                 {"unix", VMM_CHARDEV_UNIX}};
    for (size_t i = 0; t && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(types[i].name, t)) {
            *out = types[i].type;
            return 0;
        }
    return -1;
}

static void rd_vio_source(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("path", "mode"), NULL);
    rd_children(r, n, (const struct rd_child[]){
                          RD_IGNORED("seclabel", "libvmm applies no security labels"),
                          RD_IGNORED("reconnect", "libvmm serves the socket, it never connects"),
                          RD_END,
                      });
    r->vio->path = rd_attr(r, n, "path");
    r->vio->mode = rd_attr(r, n, "mode");
}

static void rd_vio_target(struct rd *r, xmlNodePtr n)
{
    struct vio_chr *v = r->vio;
    if (v->channel)
        rd_attrs(r, n, RD_LIST("type", "name"), RD_LIST("state"));
    else
        rd_attrs(r, n, RD_LIST("type", "port"), NULL);
    rd_children(r, n, (const struct rd_child[]){RD_END});
    v->target_seen = 1;
    const char *type = rd_need_attr(r, n, "type");
    if (type && strcmp(type, "virtio")) {
        rd_unsupported_value(r, n, v->channel ? "a channel target other than virtio"
                                              : "a console target other than serial or virtio");
        return;
    }
    if (v->channel)
        v->name = rd_need_attr(r, n, "name");
    /* A console's port number is libvirt's index among consoles: libvmm has
     * one virtio console and writes the number back from its own layout. */
}

/* Reads the element's type, <source> and <target>; 0 with *type and *path
 * set when the device is usable. */
static int rd_vio_chr(struct rd *r, xmlNodePtr n, struct vio_chr *st, vmm_chardev_type_t *type,
                      const char **path)
{
    rd_attrs(r, n, RD_LIST("type"), RD_LIST("tty"));
    const char *t = rd_need_attr(r, n, "type");
    if (!t)
        return -1;
    if (chr_type(t, type) || (st->channel && *type == VMM_CHARDEV_STDIO)) {
        rd_unsupported(r, n, st->channel ? "channel type other than unix, pty or null"
                                         : "virtio console type other than pty, stdio, unix or "
                                           "null");
        return -1;
    }
    struct vio_chr *saved = r->vio;
    r->vio = st;
    unsigned errors = r->d->errors, skips = r->skips;
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("source", rd_vio_source),
                          RD_HANDLER("target", rd_vio_target),
                          RD_IGNORED("log", "libvmm keeps no chardev log"),
                          RD_IGNORED("protocol", "a raw stream is all libvmm speaks"),
                          IGNORED_ADDRESS,
                          IGNORED_ALIAS,
                          RD_END,
                      });
    r->vio = saved;
    if (r->d->errors != errors)
        return -1;
    if (r->skips != skips) {
        rd_warn(r, n, "%s left out", st->channel ? "channel" : "virtio console");
        return -1;
    }
    if (!st->target_seen) {
        rd_error(r, n, VMM_EINVAL, "<target type='virtio'%s/> missing",
                 st->channel ? " name=..." : "");
        return -1;
    }
    *path = NULL;
    if (*type == VMM_CHARDEV_UNIX) {
        if (!st->path) {
            /* libvirt would make a path up (virt-install's guest agent
             * channel); libvmm wants to be told where. */
            rd_unsupported_value(r, n, "type='unix' without <source path=...>");
            return -1;
        }
        if (st->mode && strcmp(st->mode, "bind")) {
            rd_unsupported(r, n, "<source mode='connect'> (the host program listens: mode='bind')");
            return -1;
        }
        if (!(*path = rd_path(r, n, st->path)))
            return -1;
    } else if (st->path && *type != VMM_CHARDEV_PTY) {
        rd_unsupported(r, n, "a <source> for this type");
        return -1;
    }
    /* A pty's <source path='/dev/pts/N'> is a live domain's; a new run
     * allocates its own. */
    return 0;
}

/* Whether <console> n has <target type='virtio'>. */
static int console_is_virtio(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (!is_element(c, "target"))
            continue;
        xmlChar *t = xmlGetNoNsProp(c, BAD_CAST "type");
        int virtio = t && !strcmp((const char *)t, "virtio");
        xmlFree(t);
        return virtio;
    }
    return 0;
}

int rd_console_virtio(struct rd *r, xmlNodePtr n)
{
    if (!console_is_virtio(n))
        return 0;
    if (r->vcon_seen) {
        rd_unsupported(r, n, "more than one virtio console");
        return 1;
    }
    struct vio_chr st = {.channel = 0};
    vmm_chardev_type_t type;
    const char *path;
    if (rd_vio_chr(r, n, &st, &type, &path))
        return 1;
    r->vcon_seen = 1;
    int rc = vmm_config_set_virtio_console(r->c, type, path);
    if (rc)
        rd_fail(r, n, rc);
    return 1;
}

void rd_channel(struct rd *r, xmlNodePtr n)
{
    struct vio_chr st = {.channel = 1};
    vmm_chardev_type_t type;
    const char *path;
    if (rd_vio_chr(r, n, &st, &type, &path) || !st.name)
        return;
    int rc = vmm_config_add_port(r->c, st.name, type, path);
    if (rc)
        rd_fail(r, n, rc);
}

/* --- <vsock> ---------------------------------------------------------------- */

static void rd_vsock_cid(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("auto", "address"), NULL);
    rd_children(r, n, (const struct rd_child[]){RD_END});
    const char *a = rd_attr(r, n, "auto"), *addr = rd_attr(r, n, "address");
    if (a && strcmp(a, "yes") && strcmp(a, "no")) {
        rd_error(r, n, VMM_EINVAL, "auto='%.32s' (expected yes or no)", a);
        return;
    }
    r->vio->cid_auto = a && !strcmp(a, "yes");
    if (!addr)
        return;
    char *end;
    unsigned long long v = strtoull(addr, &end, 10);
    if (!*addr || *end || addr[0] == '-' || v > UINT32_MAX) {
        rd_error(r, n, VMM_EINVAL, "CID '%.32s' is not a 32-bit number", addr);
        return;
    }
    r->vio->cid = (int64_t)v;
}

void rd_vsock(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("model"), NULL);
    const char *model = rd_attr(r, n, "model");
    if (model && strcmp(model, "virtio")) {
        rd_unsupported(r, n, "vsock model other than virtio (virtio-mmio has no transitional "
                              "variants)");
        return;
    }
    struct vio_chr st = {.cid = -1};
    struct vio_chr *saved = r->vio;
    r->vio = &st;
    unsigned errors = r->d->errors;
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("cid", rd_vsock_cid),
                          RD_IGNORED("driver", "virtio options of QEMU's PCI devices"),
                          IGNORED_ADDRESS,
                          IGNORED_ALIAS,
                          RD_END,
                      });
    r->vio = saved;
    if (r->d->errors != errors)
        return;
    if (st.cid < 0) {
        /* libvirt picks a free CID; libvmm's VMs each have their own device,
         * so the first guest CID is as good as any. */
        st.cid = 3;
        rd_warn(r, n, "no CID given (auto): the guest gets CID 3");
    } else if (st.cid_auto) {
        rd_warn(r, n, "auto='yes' ignored: the guest gets the address given");
    }
    r->vsock_seen = 1;
    int rc = vmm_config_set_vsock(r->c, (uint32_t)st.cid, NULL);
    if (rc)
        rd_fail(r, n, rc);
}

/* --- <metadata><libvmm:domain> ------------------------------------------- */


static void rd_libvmm_vsock(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("socket"), NULL);
    rd_children(r, n, (const struct rd_child[]){RD_END});
    const char *s = rd_path(r, n, rd_need_attr(r, n, "socket"));
    if (s) {
        r->vsock_socket = s;
        r->vsock_socket_at = n;
    }
}

/* <libvmm:jit enabled='yes|no'/>: the soft engine translates or interprets. */
static void rd_libvmm_jit(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("enabled"), NULL);
    rd_children(r, n, (const struct rd_child[]){RD_END});
    const char *on = rd_need_attr(r, n, "enabled");
    if (!on)
        return;
    if (strcmp(on, "yes") && strcmp(on, "no")) {
        rd_error(r, n, VMM_EINVAL, "enabled='%s': expected 'yes' or 'no'", on);
        return;
    }
    vmm_config_set_jit(r->c, !strcmp(on, "yes"));
}

static void rd_libvmm_domain(struct rd *r, xmlNodePtr el)
{
    if (strcmp((const char *)el->name, "domain")) {
        rd_unsupported(r, el, "libvmm's metadata element is <libvmm:domain>");
        return;
    }
    rd_attrs(r, el, NULL, NULL);
    int vsock = 0, det = 0, jit = 0;
    for (xmlNodePtr c = el->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE && !xmlIsBlankNode(c))
            rd_error(r, el, VMM_EFORMAT, "unexpected text inside <libvmm:domain>");
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)c->name;
        if (!metadata_is_libvmm(c)) {
            rd_unsupported(r, c, NULL);
        } else if (strcmp(name, "vsock") == 0) {
            if (vsock++)
                rd_error(r, c, VMM_EINVAL, "<libvmm:vsock> appears more than once");
            else
                rd_libvmm_vsock(r, c);
        } else if (strcmp(name, "deterministic") == 0) {
            /* The soft engine's deterministic mode (vmm_config_set_deterministic):
             * a snapshot or migration must carry it to continue the same run. */
            rd_attrs(r, c, NULL, NULL);
            rd_children(r, c, (const struct rd_child[]){RD_END});
            if (det++)
                rd_error(r, c, VMM_EINVAL, "<libvmm:deterministic> appears more than once");
            else
                vmm_config_set_deterministic(r->c, 1);
        } else if (strcmp(name, "jit") == 0) {
            if (jit++)
                rd_error(r, c, VMM_EINVAL, "<libvmm:jit> appears more than once");
            else
                rd_libvmm_jit(r, c);
        } else {
            rd_unsupported(r, c, NULL);
        }
    }
}

void rd_metadata_libvmm(struct rd *r, xmlNodePtr metadata)
{
    int seen = 0;
    for (xmlNodePtr c = metadata->children, next; c; c = next) {
        next = c->next;
        if (!metadata_is_libvmm(c))
            continue;
        if (seen++)
            rd_error(r, c, VMM_EINVAL, "more than one element in libvmm's namespace (libvirt "
                                       "allows one per namespace)");
        else
            rd_libvmm_domain(r, c);
        /* Read here and written back from the config: metadata_from_node()
         * leaves it out of the opaque blob. */
    }
}

void rd_vio_finish(struct rd *r, xmlNodePtr root)
{
    if (!r->vsock_socket)
        return;
    if (!r->vsock_seen) {
        rd_error(r, r->vsock_socket_at, VMM_EINVAL,
                 "a vsock socket without a <vsock> device in <devices>");
        return;
    }
    if (!r->c->vsock_cid)
        return; /* the device was refused; already reported */
    int rc = vmm_config_set_vsock(r->c, r->c->vsock_cid, r->vsock_socket);
    if (rc)
        rd_fail(r, r->vsock_socket_at, rc);
}
