/* vmm_config_t -> libvirt domain XML, in the element order virsh uses. */
#include <libxml/xmlsave.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/xml/metadata.h"
#include "config/xml/xml_doc.h"
#include "util/error.h"

struct wr {
    xmlDocPtr doc;
    int rc; /* first failure */
};

/* Text libxml2 can write and read back: UTF-8 without the C0 controls XML
 * 1.0 forbids (tab, newline and carriage return are fine). */
static int text_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return 0;
    return xmlCheckUTF8((const xmlChar *)s);
}

static int check_text(struct wr *w, const char *what, const char *s)
{
    if (w->rc)
        return -1;
    if (s && !text_ok(s)) {
        w->rc = vmm_error(VMM_EINVAL, "%s holds bytes XML cannot carry (control characters or "
                                      "invalid UTF-8)", what);
        return -1;
    }
    return 0;
}

static xmlNodePtr add(struct wr *w, xmlNodePtr parent, const char *name, const char *text)
{
    if (check_text(w, name, text))
        return NULL;
    xmlNodePtr n = xmlNewTextChild(parent, NULL, BAD_CAST name, BAD_CAST text);
    if (!n)
        w->rc = vmm_error(VMM_ENOMEM, "writing <%s>", name);
    return n;
}

static void prop(struct wr *w, xmlNodePtr n, const char *name, const char *value)
{
    if (!n || check_text(w, name, value))
        return;
    if (!xmlNewProp(n, BAD_CAST name, BAD_CAST value))
        w->rc = vmm_error(VMM_ENOMEM, "writing attribute %s", name);
}

static xmlNodePtr add_u64(struct wr *w, xmlNodePtr parent, const char *name, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    return add(w, parent, name, buf);
}

/* A size in KiB when exact, else in bytes. */
static void add_size(struct wr *w, xmlNodePtr parent, const char *name, uint64_t bytes)
{
    int kib = bytes % 1024 == 0;
    xmlNodePtr n = add_u64(w, parent, name, kib ? bytes / 1024 : bytes);
    prop(w, n, "unit", kib ? "KiB" : "b");
}

static const char *action_name(vmm_lifecycle_action_t a)
{
    switch (a) {
    case VMM_ACTION_RESTART: return "restart";
    case VMM_ACTION_PRESERVE: return "preserve";
    default: return "destroy";
    }
}

static const char *chardev_name(vmm_chardev_type_t t)
{
    switch (t) {
    case VMM_CHARDEV_NULL: return "null";
    case VMM_CHARDEV_STDIO: return "stdio";
    case VMM_CHARDEV_FILE: return "file";
    default: return "pty";
    }
}

static void write_tuning(struct wr *w, xmlNodePtr dom, const vmm_config_t *c)
{
    char buf[32];
    if (c->hard_limit) {
        xmlNodePtr mt = add(w, dom, "memtune", NULL);
        add_size(w, mt, "hard_limit", c->hard_limit);
    }
    snprintf(buf, sizeof(buf), "%u", c->vcpus);
    xmlNodePtr vcpu = add(w, dom, "vcpu", buf);
    prop(w, vcpu, "placement", c->placement == VMM_PLACEMENT_AUTO ? "auto" : "static");
    if (c->cpuset)
        prop(w, vcpu, "cpuset", c->cpuset);
    if (!c->cpu_shares && !c->cpu_period && !c->cpu_quota && !c->cpu_global_period &&
        !c->cpu_global_quota && !c->n_vcpupins)
        return;
    xmlNodePtr ct = add(w, dom, "cputune", NULL);
    if (c->cpu_shares) {
        snprintf(buf, sizeof(buf), "%u", c->cpu_shares);
        add(w, ct, "shares", buf);
    }
    if (c->cpu_period)
        add_u64(w, ct, "period", c->cpu_period);
    if (c->cpu_quota) {
        snprintf(buf, sizeof(buf), "%lld", (long long)c->cpu_quota);
        add(w, ct, "quota", buf);
    }
    if (c->cpu_global_period)
        add_u64(w, ct, "global_period", c->cpu_global_period);
    if (c->cpu_global_quota) {
        snprintf(buf, sizeof(buf), "%lld", (long long)c->cpu_global_quota);
        add(w, ct, "global_quota", buf);
    }
    for (unsigned i = 0; i < c->n_vcpupins; i++) {
        xmlNodePtr pin = add(w, ct, "vcpupin", NULL);
        snprintf(buf, sizeof(buf), "%u", c->vcpupins[i].vcpu);
        prop(w, pin, "vcpu", buf);
        prop(w, pin, "cpuset", c->vcpupins[i].cpuset);
    }
}

static void write_os(struct wr *w, xmlNodePtr dom, const vmm_config_t *c)
{
    xmlNodePtr os = add(w, dom, "os", NULL);
    xmlNodePtr type = add(w, os, "type", "hvm");
    if (c->arch)
        prop(w, type, "arch", c->arch);
    if (c->machine)
        prop(w, type, "machine", c->machine);
    if (c->loader) {
        xmlNodePtr l = add(w, os, "loader", c->loader);
        if (c->loader_readonly >= 0)
            prop(w, l, "readonly", c->loader_readonly ? "yes" : "no");
        if (c->loader_type)
            prop(w, l, "type", c->loader_type);
    }
    if (c->kernel)
        add(w, os, "kernel", c->kernel);
    if (c->initrd)
        add(w, os, "initrd", c->initrd);
    if (c->cmdline && *c->cmdline)
        add(w, os, "cmdline", c->cmdline);
    if (c->dtb)
        add(w, os, "dtb", c->dtb);
}

static void write_platform(struct wr *w, xmlNodePtr dom, const vmm_config_t *c)
{
    if (c->features) {
        xmlNodePtr f = add(w, dom, "features", NULL);
        if (c->features & VMM_FEATURE_ACPI)
            add(w, f, "acpi", NULL);
        if (c->features & VMM_FEATURE_APIC)
            add(w, f, "apic", NULL);
        if (c->features & VMM_FEATURE_PAE)
            add(w, f, "pae", NULL);
    }
    if (c->cpu_mode != VMM_CPU_DEFAULT) {
        xmlNodePtr cpu = add(w, dom, "cpu", NULL);
        prop(w, cpu, "mode",
             c->cpu_mode == VMM_CPU_HOST_MODEL ? "host-model" : "host-passthrough");
        for (unsigned i = 0; i < c->n_cpu_disabled; i++) {
            xmlNodePtr f = add(w, cpu, "feature", NULL);
            prop(w, f, "policy", "disable");
            prop(w, f, "name", c->cpu_disabled[i]);
        }
    }
    xmlNodePtr clock = add(w, dom, "clock", NULL);
    prop(w, clock, "offset", c->clock_offset == VMM_CLOCK_LOCALTIME ? "localtime" : "utc");
    add(w, dom, "on_poweroff", action_name(c->on_poweroff));
    add(w, dom, "on_reboot", action_name(c->on_reboot));
    add(w, dom, "on_crash", action_name(c->on_crash));
}

static void write_chardev(struct wr *w, xmlNodePtr devs, const vmm_config_t *c, int console)
{
    xmlNodePtr n = add(w, devs, console ? "console" : "serial", NULL);
    prop(w, n, "type", chardev_name(c->serial));
    if (c->serial == VMM_CHARDEV_FILE) {
        xmlNodePtr src = add(w, n, "source", NULL);
        prop(w, src, "path", c->serial_path);
    }
    xmlNodePtr t = add(w, n, "target", NULL);
    if (console)
        prop(w, t, "type", "serial");
    prop(w, t, "port", "0");
}

static void prop_u(struct wr *w, xmlNodePtr n, const char *name, unsigned v)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "%u", v);
    prop(w, n, name, buf);
}

static void write_interface(struct wr *w, xmlNodePtr devs, const vmm_net_config_t *nc)
{
    static const char *const types[] = {"ethernet", "udp", "server", "client"};
    if (w->rc)
        return;
    if (nc->type != VMM_NET_TAP && nc->type != VMM_NET_UDP && nc->address &&
        nc->address[0] == '/') {
        w->rc = vmm_error(VMM_ENOTSUP, "interface on unix socket '%.128s': libvirt's domain XML "
                                       "has no form for it", nc->address);
        return;
    }
    char mac[18];
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", nc->mac[0], nc->mac[1],
             nc->mac[2], nc->mac[3], nc->mac[4], nc->mac[5]);
    xmlNodePtr nic = add(w, devs, "interface", NULL);
    prop(w, nic, "type", types[nc->type <= VMM_NET_CLIENT ? nc->type : 0]);
    prop(w, add(w, nic, "mac", NULL), "address", mac);
    if (nc->type != VMM_NET_TAP) {
        xmlNodePtr src = add(w, nic, "source", NULL);
        if (nc->address)
            prop(w, src, "address", nc->address);
        prop_u(w, src, "port", nc->port);
        if (nc->type == VMM_NET_UDP) {
            xmlNodePtr local = add(w, src, "local", NULL);
            prop(w, local, "address", nc->local_address);
            prop_u(w, local, "port", nc->local_port);
        }
    } else if (nc->tap) {
        xmlNodePtr t = add(w, nic, "target", NULL);
        prop(w, t, "dev", nc->tap);
        if (!nc->managed)
            prop(w, t, "managed", "no");
    }
    prop(w, add(w, nic, "model", NULL), "type", "virtio");
}
static void write_vio_chardevs(struct wr *w, xmlNodePtr devs, const vmm_config_t *c,
                               int serial_console);
static void write_vsock(struct wr *w, xmlNodePtr devs, const vmm_config_t *c);

static void write_devices(struct wr *w, xmlNodePtr dom, const vmm_config_t *c)
{
    xmlNodePtr devs = add(w, dom, "devices", NULL);
    for (unsigned i = 0; i < c->n_disks; i++) {
        const vmm_disk_config_t *d = &c->disks[i];
        if (d->backend)
            continue; /* served by the host program: no XML form */
        xmlNodePtr disk = add(w, devs, "disk", NULL);
        prop(w, disk, "type", "file");
        prop(w, disk, "device", "disk");
        xmlNodePtr drv = add(w, disk, "driver", NULL);
        prop(w, drv, "name", "qemu");
        prop(w, drv, "type", "raw");
        prop(w, add(w, disk, "source", NULL), "file", d->path);
        xmlNodePtr t = add(w, disk, "target", NULL);
        prop(w, t, "dev", d->target);
        prop(w, t, "bus", "virtio");
        if (d->readonly)
            add(w, disk, "readonly", NULL);
        if (d->serial)
            add(w, disk, "serial", d->serial);
    }
    for (unsigned i = 0; i < c->n_nets; i++)
        if (c->nets[i].type != VMM_NET_HOST) /* the host program's: no XML form */
            write_interface(w, devs, &c->nets[i]);
    /* The console-events mode with no serial type set (a config built with
     * the setters) is what libvirt calls a pty: a stream the host program
     * attaches to. */
    int serial_console = c->serial != VMM_CHARDEV_NONE ||
                         (c->console == VMM_CONSOLE_EVENTS && c->vcon == VMM_CHARDEV_NONE);
    if (serial_console) {
        write_chardev(w, devs, c, 0);
        write_chardev(w, devs, c, 1);
    }
    write_vio_chardevs(w, devs, c, serial_console);
    xmlNodePtr balloon = add(w, devs, "memballoon", NULL);
    prop(w, balloon, "model", c->balloon ? "virtio" : "none");
    if (c->balloon && (c->balloon_flags & VMM_BALLOON_DEFLATE_ON_OOM))
        prop(w, balloon, "autodeflate", "on");
    if (c->balloon && (c->balloon_flags & VMM_BALLOON_FREE_PAGE_REPORTING))
        prop(w, balloon, "freePageReporting", "on");
    if (c->balloon && c->balloon_period) {
        char period[16];
        snprintf(period, sizeof(period), "%u", c->balloon_period);
        prop(w, add(w, balloon, "stats", NULL), "period", period);
    }
    if (c->rng) {
        xmlNodePtr rng = add(w, devs, "rng", NULL);
        prop(w, rng, "model", "virtio");
        prop(w, add(w, rng, "backend", "/dev/urandom"), "model", "random");
    }
    write_vsock(w, devs, c);
}

/* libvirt's schema takes absolute paths only; a relative one can come from
 * the setters (the XML reader refuses them). */
static int paths_absolute(const vmm_config_t *c)
{
    const struct {
        const char *what, *path;
    } paths[] = {{"kernel", c->kernel}, {"initrd", c->initrd}, {"dtb", c->dtb},
                 {"loader", c->loader}};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        if (paths[i].path && paths[i].path[0] != '/')
            return vmm_error(VMM_EINVAL,
                             "%s path '%.256s' is relative; domain XML needs absolute paths",
                             paths[i].what, paths[i].path);
    return 0;
}

static void write_libvmm_metadata(struct wr *w, xmlNodePtr md, const vmm_config_t *c);
static int libvmm_metadata_wanted(const vmm_config_t *c);

static void build(struct wr *w, const vmm_config_t *c)
{
    if ((w->rc = paths_absolute(c)))
        return;
    xmlNodePtr dom = xmlNewNode(NULL, BAD_CAST "domain");
    if (!dom) {
        w->rc = vmm_error(VMM_ENOMEM, "writing <domain>");
        return;
    }
    xmlDocSetRootElement(w->doc, dom);
    /* "auto" has no libvirt spelling: a riscv64 config is for the software
     * engine, anything else for kvm. */
    int soft = !strcmp(c->engine, VMM_ENGINE_SOFT) ||
               (!strcmp(c->engine, VMM_ENGINE_AUTO) && c->arch && !strcmp(c->arch, "riscv64"));
    prop(w, dom, "type", soft ? "qemu" : "kvm");
    add(w, dom, "name", c->name);
    add(w, dom, "uuid", c->uuid);
    if (c->title)
        add(w, dom, "title", c->title);
    if (c->description)
        add(w, dom, "description", c->description);
    if ((c->metadata || libvmm_metadata_wanted(c)) && !w->rc) {
        xmlNodePtr md = add(w, dom, "metadata", NULL);
        write_libvmm_metadata(w, md, c);
        if (md && c->metadata && metadata_append(md, c->metadata))
            w->rc = vmm_error(VMM_EFORMAT, "%s", vmm_last_error());
    }
    add_size(w, dom, "memory", c->memory);
    if (c->current_memory)
        add_size(w, dom, "currentMemory", c->current_memory);
    write_tuning(w, dom, c);
    write_os(w, dom, c);
    write_platform(w, dom, c);
    write_devices(w, dom, c);
}

struct save_call {
    xmlDocPtr doc;
    xmlBufferPtr buf;
    int ok;
};

static void do_save(void *arg)
{
    struct save_call *sc = arg;
    xmlSaveCtxtPtr save = xmlSaveToBuffer(sc->buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
    if (!save)
        return;
    sc->ok = xmlSaveDoc(save, sc->doc) >= 0;
    if (xmlSaveClose(save) < 0)
        sc->ok = 0;
}

int vmm_config_to_xml(const vmm_config_t *c, char **out_xml)
{
    int loaded = xml_dl_load();
    if (loaded)
        return loaded;
    if (!c || !out_xml)
        return vmm_error(VMM_EINVAL, "vmm_config_to_xml: NULL argument");
    *out_xml = NULL;
    struct wr w = {.doc = xmlNewDoc(BAD_CAST "1.0")};
    if (!w.doc)
        return vmm_error(VMM_ENOMEM, "creating an XML document");
    build(&w, c);
    if (w.rc) {
        xmlFreeDoc(w.doc);
        return w.rc;
    }
    struct save_call sc = {.doc = w.doc, .buf = xmlBufferCreate()};
    if (sc.buf)
        xml_quiet_call(do_save, &sc);
    xmlFreeDoc(w.doc);
    if (!sc.ok) {
        xmlBufferFree(sc.buf);
        return vmm_error(VMM_ENOMEM, "serialising the domain XML");
    }
    /* Like virsh dumpxml: the text ends with a newline. */
    const char *body = (const char *)xmlBufferContent(sc.buf);
    size_t n = strlen(body);
    int nl = n == 0 || body[n - 1] != '\n';
    char *s = malloc(n + (size_t)nl + 1);
    if (!s) {
        xmlBufferFree(sc.buf);
        return vmm_error(VMM_ENOMEM, "copying the domain XML");
    }
    memcpy(s, body, n);
    if (nl)
        s[n++] = '\n';
    s[n] = '\0';
    xmlBufferFree(sc.buf);
    *out_xml = s;
    return 0;
}

/* --- virtio console, channels, vsock, libvmm's metadata ----------------- */

static const char *vio_chardev_name(vmm_chardev_type_t t)
{
    switch (t) {
    case VMM_CHARDEV_NULL: return "null";
    case VMM_CHARDEV_STDIO: return "stdio";
    case VMM_CHARDEV_UNIX: return "unix";
    default: return "pty";
    }
}

static xmlNodePtr write_vio_chardev(struct wr *w, xmlNodePtr devs, const char *element,
                                    vmm_chardev_type_t type, const char *path)
{
    xmlNodePtr n = add(w, devs, element, NULL);
    prop(w, n, "type", vio_chardev_name(type));
    if (type == VMM_CHARDEV_UNIX) {
        xmlNodePtr src = add(w, n, "source", NULL);
        prop(w, src, "mode", "bind");
        prop(w, src, "path", path);
    }
    xmlNodePtr t = add(w, n, "target", NULL);
    prop(w, t, "type", "virtio");
    return t;
}

/* The virtio console after the serial port's console (so its port number
 * is libvirt's console index), then the named ports. */
static void write_vio_chardevs(struct wr *w, xmlNodePtr devs, const vmm_config_t *c,
                               int serial_console)
{
    if (c->vcon != VMM_CHARDEV_NONE) {
        xmlNodePtr t = write_vio_chardev(w, devs, "console", c->vcon, c->vcon_path);
        prop(w, t, "port", serial_console ? "1" : "0");
    }
    for (unsigned i = 0; i < c->n_ports; i++) {
        xmlNodePtr t = write_vio_chardev(w, devs, "channel", c->ports[i].type, c->ports[i].path);
        prop(w, t, "name", c->ports[i].name);
    }
}

static void write_vsock(struct wr *w, xmlNodePtr devs, const vmm_config_t *c)
{
    if (!c->vsock_cid)
        return;
    char buf[16];
    snprintf(buf, sizeof(buf), "%u", c->vsock_cid);
    xmlNodePtr v = add(w, devs, "vsock", NULL);
    prop(w, v, "model", "virtio");
    xmlNodePtr cid = add(w, v, "cid", NULL);
    prop(w, cid, "auto", "no");
    prop(w, cid, "address", buf);
}

/* <libvmm:domain xmlns:libvmm=...> with its children (<libvmm:vsock
 * socket=.../>, <libvmm:deterministic/>, <libvmm:jit enabled='no'/>), made
 * as text and parsed into place like the rest of the metadata. */
static int libvmm_metadata_wanted(const vmm_config_t *c)
{
    return c->vsock_path || c->deterministic || c->no_jit;
}

static void write_libvmm_metadata(struct wr *w, xmlNodePtr md, const vmm_config_t *c)
{
    if (!md || w->rc || !libvmm_metadata_wanted(c))
        return;
    if (c->vsock_path && check_text(w, "vsock socket", c->vsock_path))
        return;
    size_t n = c->vsock_path ? strlen(c->vsock_path) : 0;
    char *esc = malloc(6 * n + 1), *o = esc;
    if (!esc) {
        w->rc = vmm_error(VMM_ENOMEM, "writing libvmm's metadata");
        return;
    }
    for (const char *p = c->vsock_path ? c->vsock_path : ""; *p; p++) {
        /* (tab, newline and CR as character references: a parser turns
         * them into spaces when they stand in an attribute as they are) */
        const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;"
                      : *p == '"' ? "&quot;" : *p == '\t' ? "&#9;" : *p == '\n' ? "&#10;"
                      : *p == '\r' ? "&#13;" : NULL;
        if (e) {
            memcpy(o, e, strlen(e));
            o += strlen(e);
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    static const char open_fmt[] = "<" LIBVMM_XML_PREFIX ":domain xmlns:" LIBVMM_XML_PREFIX
                                   "=\"" LIBVMM_XML_NS "\">";
    static const char vsock_fmt[] = "<" LIBVMM_XML_PREFIX ":vsock socket=\"%s\"/>";
    static const char det[] = "<" LIBVMM_XML_PREFIX ":deterministic/>";
    static const char close_tag[] = "</" LIBVMM_XML_PREFIX ":domain>";
    static const char jit_off[] = "<" LIBVMM_XML_PREFIX ":jit enabled=\"no\"/>";
    size_t len = sizeof(open_fmt) + sizeof(vsock_fmt) + strlen(esc) + sizeof(det) +
                 sizeof(jit_off) + sizeof(close_tag);
    char *blob = malloc(len);
    if (blob) {
        size_t at = (size_t)snprintf(blob, len, "%s", open_fmt);
        if (c->vsock_path)
            at += (size_t)snprintf(blob + at, len - at, vsock_fmt, esc);
        if (c->deterministic)
            at += (size_t)snprintf(blob + at, len - at, "%s", det);
        if (c->no_jit)
            at += (size_t)snprintf(blob + at, len - at, "%s", jit_off);
        snprintf(blob + at, len - at, "%s", close_tag);
        if (metadata_append(md, blob))
            w->rc = vmm_error(VMM_EFORMAT, "%s", vmm_last_error());
    } else {
        w->rc = vmm_error(VMM_ENOMEM, "writing libvmm's metadata");
    }
    free(blob);
    free(esc);
}
