/* libvirt domain XML -> vmm_config_t: the <domain> element and everything
 * outside <devices>. Every problem is collected (see diag.h) so one run
 * reports all of them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_check.h"
#include "config/xml/metadata.h"
#include "config/units.h"
#include "config/xml/xml_doc.h"
#include "config/xml/xml_read.h"
#include "util/error.h"

#define PAGE 4096ULL

/* --- identity ------------------------------------------------------------ */

static void rd_name(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    const char *v = rd_text(r, n);
    if (v && vmm_config_set_name(r->c, v))
        rd_fail(r, n, VMM_EINVAL);
}

static void rd_uuid(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    const char *v = rd_text(r, n);
    if (v && vmm_config_set_uuid(r->c, v))
        rd_fail(r, n, VMM_EINVAL);
}

static void rd_title(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    const char *v = rd_text(r, n);
    if (v && vmm_config_set_title(r->c, v))
        rd_fail(r, n, VMM_EINVAL);
}

static void rd_description(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    const char *v = rd_text(r, n);
    if (v && vmm_config_set_description(r->c, v))
        rd_fail(r, n, VMM_ENOMEM);
}

static void rd_metadata(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    rd_metadata_libvmm(r, n);
    char *blob;
    int rc = metadata_from_node(n, &blob);
    if (rc) {
        rd_fail(r, n, rc);
        return;
    }
    free(r->c->metadata);
    r->c->metadata = blob;
}

/* --- memory and vCPUs ---------------------------------------------------- */

/* A scaled integer element in bytes; 0 and an error reported on failure. */
static int read_scaled(struct rd *r, xmlNodePtr n, uint64_t *bytes)
{
    const char *v = rd_text(r, n);
    if (!v)
        return -1;
    int rc = units_parse_scaled(v, rd_attr(r, n, "unit"), 1024, bytes);
    if (rc)
        rd_fail(r, n, rc);
    return rc;
}

/* libvirt rounds sizes up; libvmm maps RAM in 4 KiB pages. */
static int round_to_page(struct rd *r, xmlNodePtr n, uint64_t *bytes)
{
    if (*bytes % PAGE == 0)
        return 0;
    if (*bytes > UINT64_MAX - PAGE) {
        rd_error(r, n, VMM_ERANGE, "%llu bytes overflows 64 bits when rounded up to 4 KiB",
                 (unsigned long long)*bytes);
        return -1;
    }
    uint64_t up = (*bytes + PAGE - 1) & ~(PAGE - 1);
    rd_warn(r, n, "%llu bytes rounded up to %llu (a multiple of 4096)",
            (unsigned long long)*bytes, (unsigned long long)up);
    *bytes = up;
    return 0;
}

static void rd_memory(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("unit"), RD_LIST("dumpCore"));
    uint64_t bytes;
    if (read_scaled(r, n, &bytes) || round_to_page(r, n, &bytes))
        return;
    int rc = vmm_config_set_memory(r->c, bytes);
    if (rc)
        rd_fail(r, n, rc);
}

static void rd_current_memory(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("unit"), NULL);
    uint64_t bytes;
    if (read_scaled(r, n, &bytes) || round_to_page(r, n, &bytes))
        return;
    int rc = vmm_config_set_current_memory(r->c, bytes);
    if (rc)
        rd_fail(r, n, rc);
}

static void rd_vcpu(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("placement", "cpuset", "current"), NULL);
    const char *v = rd_text(r, n);
    if (!v)
        return;
    int64_t count;
    int rc = units_parse_i64(v, INT32_MIN, INT32_MAX, &count);
    if (rc) {
        rd_fail(r, n, rc);
        return;
    }
    if (count < 1) {
        rd_error(r, n, VMM_EINVAL, "vcpu count %lld must be at least 1", (long long)count);
        return;
    }
    if ((rc = vmm_config_set_vcpus(r->c, count > VMM_CONFIG_MAX_VCPUS ? 0 : (unsigned)count))) {
        rd_error(r, n, VMM_EINVAL, "vcpu count %lld out of range 1..%d", (long long)count,
                 VMM_CONFIG_MAX_VCPUS);
        return;
    }
    const char *placement = rd_attr(r, n, "placement");
    if (placement && !strcmp(placement, "auto"))
        vmm_config_set_vcpu_placement(r->c, VMM_PLACEMENT_AUTO);
    else if (placement && strcmp(placement, "static"))
        rd_error(r, n, VMM_EINVAL, "placement '%.32s' unknown (static or auto)", placement);
    const char *cpuset = rd_attr(r, n, "cpuset");
    if (cpuset && (rc = vmm_config_set_vcpu_cpuset(r->c, cpuset)))
        rd_fail(r, n, rc);
    const char *current = rd_attr(r, n, "current");
    if (current) {
        uint64_t cur;
        if ((rc = units_parse_u64(current, UINT32_MAX, &cur)))
            rd_fail(r, n, rc);
        else if (cur != (uint64_t)count)
            rd_unsupported(r, n, "current vCPUs below the maximum (vCPU hotplug)");
    }
}

/* --- <cputune>, <memtune> ------------------------------------------------ */

static void rd_shares(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    uint64_t v;
    const char *t = rd_text(r, n);
    int rc;
    if (t && (rc = units_parse_u64(t, UINT32_MAX, &v)))
        rd_fail(r, n, rc);
    else if (t && (rc = vmm_config_set_cpu_shares(r->c, (unsigned)v)))
        rd_fail(r, n, rc);
}

static void rd_period(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    uint64_t v;
    const char *t = rd_text(r, n);
    int rc;
    if (t && (rc = units_parse_u64(t, UINT64_MAX, &v)))
        rd_fail(r, n, rc);
    else if (t && (rc = vmm_config_set_cpu_quota(r->c, v, r->c->cpu_quota)))
        rd_fail(r, n, rc);
}

static void rd_quota(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    int64_t v;
    const char *t = rd_text(r, n);
    int rc;
    if (t && (rc = units_parse_i64(t, INT64_MIN, INT64_MAX, &v)))
        rd_fail(r, n, rc);
    else if (t && (rc = vmm_config_set_cpu_quota(r->c, r->c->cpu_period, v)))
        rd_fail(r, n, rc);
}

static void rd_global_period(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    uint64_t v;
    const char *t = rd_text(r, n);
    int rc;
    if (t && (rc = units_parse_u64(t, UINT64_MAX, &v)))
        rd_fail(r, n, rc);
    else if (t && (rc = vmm_config_set_cpu_global_quota(r->c, v, r->c->cpu_global_quota)))
        rd_fail(r, n, rc);
}

static void rd_global_quota(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    int64_t v;
    const char *t = rd_text(r, n);
    int rc;
    if (t && (rc = units_parse_i64(t, INT64_MIN, INT64_MAX, &v)))
        rd_fail(r, n, rc);
    else if (t && (rc = vmm_config_set_cpu_global_quota(r->c, r->c->cpu_global_period, v)))
        rd_fail(r, n, rc);
}

static void rd_vcpupin(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("vcpu", "cpuset"), NULL);
    rd_children(r, n, (const struct rd_child[]){RD_END});
    const char *vcpu = rd_need_attr(r, n, "vcpu"), *cpuset = rd_need_attr(r, n, "cpuset");
    if (!vcpu || !cpuset)
        return;
    uint64_t id;
    int rc = units_parse_u64(vcpu, VMM_CONFIG_MAX_VCPUS - 1, &id);
    if (rc) {
        rd_error(r, n, rc, "vcpu '%.32s': %s", vcpu, vmm_last_error());
        return;
    }
    if (vmm_config_vcpu_pin(r->c, (unsigned)id)) {
        rd_error(r, n, VMM_EINVAL, "vcpu %llu is pinned twice", (unsigned long long)id);
        return;
    }
    if ((rc = vmm_config_set_vcpu_pin(r->c, (unsigned)id, cpuset)))
        rd_fail(r, n, rc);
}

static void rd_cputune(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("shares", rd_shares),
                          RD_HANDLER("period", rd_period),
                          RD_HANDLER("quota", rd_quota),
                          RD_HANDLER("global_period", rd_global_period),
                          RD_HANDLER("global_quota", rd_global_quota),
                          RD_HANDLER_N("vcpupin", rd_vcpupin),
                          RD_END,
                      });
}

static void rd_hard_limit(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("unit"), NULL);
    uint64_t bytes;
    if (read_scaled(r, n, &bytes) == 0)
        vmm_config_set_memory_hard_limit(r->c, bytes);
}

static void rd_memtune(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("hard_limit", rd_hard_limit),
                          RD_END,
                      });
}

/* --- <os> ---------------------------------------------------------------- */

static void rd_os_type(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("arch", "machine"), NULL);
    const char *t = rd_text(r, n);
    if (t && strcmp(t, "hvm"))
        rd_unsupported(r, n, "os type other than 'hvm'");
    const char *arch = rd_attr(r, n, "arch"), *machine = rd_attr(r, n, "machine");
    int rc;
    if (arch && (rc = vmm_config_set_arch(r->c, arch)))
        rd_error(r, n, VMM_ENOTSUP, "%s", vmm_last_error());
    if (machine && (rc = vmm_config_set_machine(r->c, machine)))
        rd_fail(r, n, rc);
}

/* <kernel>, <initrd>, <dtb>, <loader>: an absolute path as text. */
static void rd_path_text(struct rd *r, xmlNodePtr n, char **slot)
{
    const char *p = rd_path(r, n, rd_text(r, n));
    if (p && config_set_string(slot, p, (const char *)n->name))
        rd_fail(r, n, VMM_ENOMEM);
}

static void rd_os_path(struct rd *r, xmlNodePtr n, char **slot)
{
    rd_attrs(r, n, NULL, NULL);
    rd_path_text(r, n, slot);
}

static void rd_kernel(struct rd *r, xmlNodePtr n) { rd_os_path(r, n, &r->c->kernel); }
static void rd_initrd(struct rd *r, xmlNodePtr n) { rd_os_path(r, n, &r->c->initrd); }
static void rd_dtb(struct rd *r, xmlNodePtr n) { rd_os_path(r, n, &r->c->dtb); }

static void rd_cmdline(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    const char *t = rd_text(r, n);
    int rc;
    if (t && (rc = vmm_config_set_cmdline(r->c, t)))
        rd_fail(r, n, rc);
}

static void rd_loader(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("readonly", "type"), NULL);
    rd_path_text(r, n, &r->c->loader);
    const char *ro = rd_attr(r, n, "readonly"), *type = rd_attr(r, n, "type");
    if (ro && strcmp(ro, "yes") && strcmp(ro, "no"))
        rd_error(r, n, VMM_EINVAL, "readonly='%.32s' (expected yes or no)", ro);
    else if (ro)
        r->c->loader_readonly = !strcmp(ro, "yes");
    if (type && strcmp(type, "rom") && strcmp(type, "pflash"))
        rd_error(r, n, VMM_EINVAL, "loader type '%.32s' (expected rom or pflash)", type);
    else if (type && config_set_string(&r->c->loader_type, type, "loader type"))
        rd_fail(r, n, VMM_ENOMEM);
}

static void rd_os(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("type", rd_os_type),
                          RD_HANDLER("kernel", rd_kernel),
                          RD_HANDLER("initrd", rd_initrd),
                          RD_HANDLER("cmdline", rd_cmdline),
                          RD_HANDLER("dtb", rd_dtb),
                          RD_HANDLER("loader", rd_loader),
                          RD_IGNORED_N("boot", "libvmm boots the kernel directly"),
                          RD_IGNORED("bootmenu", "libvmm boots the kernel directly"),
                          RD_END,
                      });
}

/* --- <cpu>, <clock>, <features> ------------------------------------------ */

static void rd_cpu_feature(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("policy", "name"), NULL);
    const char *policy = rd_need_attr(r, n, "policy"), *name = rd_need_attr(r, n, "name");
    if (!policy || !name)
        return;
    if (strcmp(policy, "disable")) {
        rd_unsupported(r, n, "feature policy other than 'disable'");
        return;
    }
    int rc = vmm_config_cpu_disable_feature(r->c, name);
    if (rc)
        rd_fail(r, n, rc);
}

static void rd_cpu(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("mode"), RD_LIST("check", "migratable"));
    const char *mode = rd_attr(r, n, "mode");
    if (!mode)
        rd_unsupported(r, n, "a cpu without mode='host-passthrough' or 'host-model' (custom CPU models)");
    else if (!strcmp(mode, "host-passthrough"))
        r->c->cpu_mode = VMM_CPU_HOST_PASSTHROUGH;
    else if (!strcmp(mode, "host-model"))
        r->c->cpu_mode = VMM_CPU_HOST_MODEL;
    else
        rd_unsupported(r, n, "cpu mode other than host-passthrough or host-model");
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER_N("feature", rd_cpu_feature),
                          RD_IGNORED("topology", "vCPUs are presented as one socket of single-thread cores"),
                          RD_END,
                      });
}

static void rd_clock(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("offset"), NULL);
    const char *off = rd_attr(r, n, "offset");
    if (!off || !strcmp(off, "utc"))
        r->c->clock_offset = VMM_CLOCK_UTC;
    else if (!strcmp(off, "localtime"))
        r->c->clock_offset = VMM_CLOCK_LOCALTIME;
    else
        rd_unsupported(r, n, "clock offset other than utc or localtime");
    rd_children(r, n, (const struct rd_child[]){
                          RD_IGNORED_N("timer", "libvmm's timers are fixed"),
                          RD_END,
                      });
}

static void rd_feature_flag(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    rd_children(r, n, (const struct rd_child[]){RD_END});
    const char *name = (const char *)n->name;
    r->c->features |= !strcmp(name, "acpi")   ? VMM_FEATURE_ACPI
                      : !strcmp(name, "apic") ? VMM_FEATURE_APIC
                                              : VMM_FEATURE_PAE;
}

static void rd_vmport(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, RD_LIST("state"), NULL);
    const char *state = rd_attr(r, n, "state");
    if (!state || strcmp(state, "off"))
        rd_unsupported(r, n, "libvmm has no VMware I/O port (only state='off')");
}

static void rd_features(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    rd_children(r, n, (const struct rd_child[]){
                          RD_HANDLER("acpi", rd_feature_flag),
                          RD_HANDLER("apic", rd_feature_flag),
                          RD_HANDLER("pae", rd_feature_flag),
                          RD_HANDLER("vmport", rd_vmport),
                          RD_END,
                      });
}

/* --- lifecycle ----------------------------------------------------------- */

static void rd_lifecycle(struct rd *r, xmlNodePtr n)
{
    rd_attrs(r, n, NULL, NULL);
    const char *t = rd_text(r, n);
    if (!t)
        return;
    const char *name = (const char *)n->name;
    vmm_lifecycle_event_t ev = !strcmp(name, "on_poweroff") ? VMM_LIFECYCLE_POWEROFF
                               : !strcmp(name, "on_reboot") ? VMM_LIFECYCLE_REBOOT
                                                            : VMM_LIFECYCLE_CRASH;
    if (!strcmp(t, "destroy"))
        vmm_config_set_lifecycle(r->c, ev, VMM_ACTION_DESTROY);
    else if (!strcmp(t, "restart"))
        vmm_config_set_lifecycle(r->c, ev, VMM_ACTION_RESTART);
    else if (!strcmp(t, "preserve"))
        vmm_config_set_lifecycle(r->c, ev, VMM_ACTION_PRESERVE);
    else if (!strcmp(t, "rename-restart") ||
             (ev == VMM_LIFECYCLE_CRASH &&
              (!strcmp(t, "coredump-destroy") || !strcmp(t, "coredump-restart"))))
        rd_unsupported(r, n, "action other than destroy, restart or preserve");
    else
        rd_error(r, n, VMM_EINVAL, "action '%.32s' unknown", t);
}

/* --- <domain> ------------------------------------------------------------ */

static const struct rd_child domain_children[] = {
    RD_HANDLER("name", rd_name),
    RD_HANDLER("uuid", rd_uuid),
    RD_HANDLER("title", rd_title),
    RD_HANDLER("description", rd_description),
    RD_HANDLER("metadata", rd_metadata),
    RD_HANDLER("memory", rd_memory),
    RD_HANDLER("currentMemory", rd_current_memory),
    RD_HANDLER("vcpu", rd_vcpu),
    RD_HANDLER("cputune", rd_cputune),
    RD_HANDLER("memtune", rd_memtune),
    RD_HANDLER("os", rd_os),
    RD_HANDLER("cpu", rd_cpu),
    RD_HANDLER("clock", rd_clock),
    RD_HANDLER("features", rd_features),
    RD_HANDLER("on_poweroff", rd_lifecycle),
    RD_HANDLER("on_reboot", rd_lifecycle),
    RD_HANDLER("on_crash", rd_lifecycle),
    RD_HANDLER("devices", rd_devices),
    RD_IGNORED("resource", "cgroup partitions are the host's business"),
    RD_IGNORED_N("seclabel", "libvmm applies no security labels"),
    RD_IGNORED("pm", "guest suspend is not offered"),
    RD_END,
};

static int has_child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !c->ns && !strcmp((const char *)c->name, name))
            return 1;
    return 0;
}

static void rd_domain(struct rd *r, xmlNodePtr root)
{
    if (root->ns || strcmp((const char *)root->name, "domain")) {
        rd_error(r, root, VMM_EFORMAT, "root element is <%.64s>, expected <domain>",
                 (const char *)root->name);
        return;
    }
    rd_attrs(r, root, RD_LIST("type"), RD_LIST("id"));
    const char *type = rd_need_attr(r, root, "type");
    if (type && !strcmp(type, "kvm"))
        vmm_config_set_engine(r->c, VMM_ENGINE_KVM);
    else if (type && !strcmp(type, "qemu"))
        vmm_config_set_engine(r->c, VMM_ENGINE_SOFT);
    else if (type)
        rd_error(r, root, VMM_ENOTSUP,
                 "domain type '%.32s' not supported (kvm: x86_64 on /dev/kvm; qemu: libvmm's "
                 "riscv64 software engine)",
                 type);
    /* libvirt's defaults where the document is silent. */
    r->c->on_reboot = VMM_ACTION_RESTART;
    r->c->console = VMM_CONSOLE_NONE; /* no <serial>: no serial port */
    if (!has_child(root, "name"))
        rd_error(r, root, VMM_EINVAL, "<name> missing");
    if (!has_child(root, "memory"))
        rd_error(r, root, VMM_EINVAL, "<memory> missing");
    if (!has_child(root, "os"))
        rd_error(r, root, VMM_EINVAL, "<os> missing");
    rd_children(r, root, domain_children);
    rd_vio_finish(r, root);
    if (!r->c->arch) {
        /* Spell out what the engine runs, so the config says it. */
        if (!strcmp(r->c->engine, VMM_ENGINE_KVM))
            vmm_config_set_arch(r->c, "x86_64");
        else if (!strcmp(r->c->engine, VMM_ENGINE_SOFT))
            vmm_config_set_arch(r->c, "riscv64");
    }
}

static int read_domain(const char *xml, size_t len, unsigned flags, vmm_config_t **out,
                       char **warnings)
{
    struct diag d;
    diag_init(&d);
    vmm_config_t *c = NULL;
    int rc = vmm_config_new(&c);
    if (rc) {
        diag_error(&d, rc, "%s", vmm_last_error());
        return diag_finish(&d, warnings);
    }
    xmlDocPtr doc = xml_doc_read(xml, len, &d);
    if (doc) {
        struct rd r = {.c = c, .d = &d, .flags = flags};
        xmlNodePtr root = xmlDocGetRootElement(doc);
        if (!root)
            diag_error(&d, VMM_EFORMAT, "document has no root element");
        else
            rd_domain(&r, root);
        if (!d.errors)
            config_check(c, !(flags & VMM_XML_NO_HOST_CHECKS), &d);
        for (size_t i = 0; i < r.n_owned; i++)
            xmlFree(r.owned[i]);
        free(r.owned);
        xmlFreeDoc(doc);
    }
    if (d.errors || d.oom) {
        vmm_config_free(c);
        c = NULL;
    }
    rc = diag_finish(&d, warnings);
    *out = c;
    return rc;
}

int vmm_config_from_xml(const char *xml, size_t len, unsigned flags, vmm_config_t **out,
                        char **warnings)
{
    int loaded = xml_dl_load();
    if (loaded)
        return loaded;
    if (warnings)
        *warnings = NULL;
    if (!out)
        return vmm_error(VMM_EINVAL, "vmm_config_from_xml: out is NULL");
    *out = NULL;
    if (!xml && len)
        return vmm_error(VMM_EINVAL, "vmm_config_from_xml: xml is NULL");
    if (flags & ~(VMM_XML_LENIENT | VMM_XML_NO_HOST_CHECKS))
        return vmm_error(VMM_EINVAL, "vmm_config_from_xml: unknown flags 0x%x",
                         flags & ~(VMM_XML_LENIENT | VMM_XML_NO_HOST_CHECKS));
    return read_domain(xml, len, flags, out, warnings);
}

int vmm_config_from_xml_file(const char *path, unsigned flags, vmm_config_t **out,
                             char **warnings)
{
    if (warnings)
        *warnings = NULL;
    if (!out)
        return vmm_error(VMM_EINVAL, "vmm_config_from_xml_file: out is NULL");
    *out = NULL;
    if (!path)
        return vmm_error(VMM_EINVAL, "vmm_config_from_xml_file: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vmm_error_errno(errno, "opening '%s'", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return vmm_error_errno(e, "reading '%s'", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return vmm_error(VMM_EINVAL, "'%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size > VMM_XML_MAX_SIZE) {
        close(fd);
        return vmm_error(VMM_ERANGE, "'%s' is %lld bytes, above the limit of %u bytes (10 MiB)",
                         path, (long long)st.st_size, VMM_XML_MAX_SIZE);
    }
    /* Read at most limit + 1 bytes: the file may grow after fstat. */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return vmm_error(VMM_ENOMEM, "reading '%s'", path);
    }
    for (;;) {
        if (len == cap) {
            if (cap > VMM_XML_MAX_SIZE) {
                free(buf);
                close(fd);
                return vmm_error(VMM_ERANGE, "'%s' grew above the limit of %u bytes", path,
                                 VMM_XML_MAX_SIZE);
            }
            size_t ncap = cap * 2 > (size_t)VMM_XML_MAX_SIZE + 1 ? (size_t)VMM_XML_MAX_SIZE + 1
                                                                   : cap * 2;
            char *grown = realloc(buf, ncap);
            if (!grown) {
                free(buf);
                close(fd);
                return vmm_error(VMM_ENOMEM, "reading '%s'", path);
            }
            buf = grown;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return vmm_error_errno(e, "reading '%s'", path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    int rc = vmm_config_from_xml(buf, len, flags, out, warnings);
    free(buf);
    return rc;
}
