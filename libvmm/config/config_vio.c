/* Devices of a config, continued: the virtio console (port 0 as the VM's
 * console), named virtio-console ports, virtio-vsock. */
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config/config.h"
#include "util/error.h"

/* A socket address must hold the vsock path plus "_4294967295". */
#define VSOCK_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 12)

static int port_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > VMM_CONFIG_PORT_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              strchr("._-", *s)))
            return 0;
    return 1;
}

/* The chardev types a console or channel may have, with its path rule. */
static int chardev_check(const char *what, vmm_chardev_type_t type, const char *path, int console)
{
    switch (type) {
    case VMM_CHARDEV_NULL:
    case VMM_CHARDEV_PTY:
        break;
    case VMM_CHARDEV_STDIO:
        if (!console)
            return vmm_error(VMM_EINVAL, "%s: type stdio is for the console only", what);
        break;
    case VMM_CHARDEV_UNIX:
        if (!path || path[0] != '/')
            return vmm_error(VMM_EINVAL, "%s: unix socket path '%.256s' is not absolute", what,
                             path ? path : "(null)");
        if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return vmm_error(VMM_EINVAL, "%s: unix socket path of %zu bytes, limit %zu", what,
                             strlen(path), sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return 0;
    default:
        return vmm_error(VMM_EINVAL, "%s: chardev type %d not supported (pty, unix, null%s)", what,
                         (int)type, console ? ", stdio" : "");
    }
    if (path)
        return vmm_error(VMM_EINVAL, "%s: chardev type %d takes no path (got '%.256s')", what,
                         (int)type, path);
    return 0;
}

int vmm_config_set_virtio_console(vmm_config_t *c, vmm_chardev_type_t type, const char *path)
{
    if (!c)
        return vmm_error(VMM_EINVAL, "vmm_config_set_virtio_console: cfg is NULL");
    int rc = 0;
    if (type != VMM_CHARDEV_NONE)
        rc = chardev_check("virtio console", type, path, 1);
    else if (path)
        rc = vmm_error(VMM_EINVAL, "virtio console: no device, yet a path '%.256s'", path);
    if (rc || (rc = config_set_string(&c->vcon_path, path, "virtio console path")))
        return rc;
    c->vcon = type;
    if (type != VMM_CHARDEV_NONE)
        c->console = type == VMM_CHARDEV_NULL ? VMM_CONSOLE_NONE : VMM_CONSOLE_EVENTS;
    return 0;
}

vmm_chardev_type_t vmm_config_virtio_console(const vmm_config_t *c, const char **path)
{
    if (path)
        *path = c->vcon_path;
    return c->vcon;
}

int vmm_config_add_port(vmm_config_t *c, const char *name, vmm_chardev_type_t type,
                        const char *path)
{
    if (!c)
        return vmm_error(VMM_EINVAL, "vmm_config_add_port: cfg is NULL");
    if (!name || !port_name_ok(name))
        return vmm_error(VMM_EINVAL, "port name '%.80s' invalid (1..%d of A-Z a-z 0-9 . _ -)",
                         name ? name : "(null)", VMM_CONFIG_PORT_NAME_MAX);
    int rc = chardev_check("port", type, path, 0);
    if (rc)
        return rc;
    for (unsigned i = 0; i < c->n_ports; i++)
        if (!strcmp(c->ports[i].name, name))
            return vmm_error(VMM_EINVAL, "port name '%s' is used twice", name);
    if (c->n_ports >= VMM_CONFIG_MAX_PORTS)
        return vmm_error(VMM_ERANGE, "port %u exceeds the limit of %d named ports", c->n_ports + 1,
                         VMM_CONFIG_MAX_PORTS);
    struct config_port p = { .name = strdup(name), .type = type,
                             .path = path ? strdup(path) : NULL };
    struct config_port *grown = realloc(c->ports, (c->n_ports + 1) * sizeof(*grown));
    if (grown)
        c->ports = grown;
    if (!p.name || (path && !p.path) || !grown) {
        free(p.name);
        free(p.path);
        return vmm_error(VMM_ENOMEM, "adding a port");
    }
    c->ports[c->n_ports++] = p;
    return 0;
}

unsigned vmm_config_port_count(const vmm_config_t *c) { return c ? c->n_ports : 0; }

const char *vmm_config_port(const vmm_config_t *c, unsigned index, vmm_chardev_type_t *type,
                            const char **path)
{
    if (!c || index >= c->n_ports)
        return NULL;
    if (type)
        *type = c->ports[index].type;
    if (path)
        *path = c->ports[index].path;
    return c->ports[index].name;
}

int vmm_config_set_vsock(vmm_config_t *c, uint32_t cid, const char *uds_path)
{
    if (!c)
        return vmm_error(VMM_EINVAL, "vmm_config_set_vsock: cfg is NULL");
    if (cid != 0 && (cid < 3 || cid == UINT32_MAX))
        return vmm_error(VMM_EINVAL, "vsock guest CID %u: must be 3..%u (0 removes the device; 0-2 "
                         "and %u are reserved)", cid, UINT32_MAX - 1, UINT32_MAX);
    if (uds_path && !cid)
        return vmm_error(VMM_EINVAL, "vsock socket '%.256s' without a vsock device (CID 0)",
                         uds_path);
    if (uds_path && (uds_path[0] != '/' || strlen(uds_path) > VSOCK_PATH_MAX))
        return vmm_error(VMM_EINVAL, "vsock socket path '%.256s': must be absolute and at most %zu "
                         "bytes", uds_path, VSOCK_PATH_MAX);
    int rc = config_set_string(&c->vsock_path, uds_path, "vsock socket path");
    if (rc)
        return rc;
    c->vsock_cid = cid;
    return 0;
}

uint32_t vmm_config_vsock_cid(const vmm_config_t *c) { return c ? c->vsock_cid : 0; }

const char *vmm_config_vsock_path(const vmm_config_t *c) { return c ? c->vsock_path : NULL; }

static char *dup_keep_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

void config_vio_clone(vmm_config_t *n, const vmm_config_t *c, int *failed)
{
    /* Every pointer first stops sharing cfg's memory, then gets its copy. */
    n->ports = NULL;
    n->n_ports = 0;
    n->vcon_path = dup_keep_null(c->vcon_path, failed);
    n->vsock_path = dup_keep_null(c->vsock_path, failed);
    if (!c->n_ports || *failed)
        return;
    n->ports = calloc(c->n_ports, sizeof(*n->ports));
    if (!n->ports) {
        *failed = 1;
        return;
    }
    for (unsigned i = 0; i < c->n_ports && !*failed; i++) {
        n->ports[i].type = c->ports[i].type;
        n->ports[i].name = dup_keep_null(c->ports[i].name, failed);
        n->ports[i].path = dup_keep_null(c->ports[i].path, failed);
        n->n_ports = i + 1;
    }
}

void config_vio_free(vmm_config_t *c)
{
    free(c->vcon_path);
    free(c->vsock_path);
    for (unsigned i = 0; i < c->n_ports; i++) {
        free(c->ports[i].name);
        free(c->ports[i].path);
    }
    free(c->ports);
    c->vcon_path = c->vsock_path = NULL;
    c->ports = NULL;
    c->n_ports = 0;
}
