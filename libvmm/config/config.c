#include "config/config.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define MIN_MEMORY (1ULL << 20)

int vmm_config_new(vmm_config_t **out)
{
    vmm_config_t *c = calloc(1, sizeof(*c));
    if (!c)
        return vmm_error(VMM_ENOMEM, "allocating a config");
    c->engine = strdup(VMM_ENGINE_AUTO);
    c->name = strdup("vm");
    c->cmdline = strdup("");
    if (!c->engine || !c->name || !c->cmdline) {
        vmm_config_free(c);
        return vmm_error(VMM_ENOMEM, "allocating a config");
    }
    int rc = config_uuid_generate(c->uuid);
    if (rc) {
        vmm_config_free(c);
        return rc;
    }
    c->memory = 256ULL << 20;
    c->vcpus = 1;
    c->loader_readonly = -1;
    *out = c;
    return 0;
}

void config_disk_clear(vmm_disk_config_t *d)
{
    free((char *)d->path);
    free((char *)d->target);
    free((char *)d->serial);
    free((void *)d->backend);
    memset(d, 0, sizeof(*d));
}

void config_device_clear(vmm_device_config_t *d)
{
    free((char *)d->name);
    free((void *)d->ops);
    memset(d, 0, sizeof(*d));
}

void config_net_clear(vmm_net_config_t *n)
{
    free((char *)n->tap);
    free((char *)n->address);
    free((char *)n->local_address);
    free((void *)n->backend);
    memset(n, 0, sizeof(*n));
}

void vmm_config_free(vmm_config_t *c)
{
    if (!c)
        return;
    free(c->engine);
    free(c->name);
    free(c->kernel);
    free(c->initrd);
    free(c->cmdline);
    free(c->title);
    free(c->description);
    free(c->metadata);
    free(c->cpuset);
    for (unsigned i = 0; i < c->n_vcpupins; i++)
        free(c->vcpupins[i].cpuset);
    free(c->vcpupins);
    free(c->arch);
    free(c->machine);
    free(c->dtb);
    free(c->loader);
    free(c->loader_type);
    for (unsigned i = 0; i < c->n_cpu_disabled; i++)
        free(c->cpu_disabled[i]);
    free(c->cpu_disabled);
    for (unsigned i = 0; i < c->n_disks; i++)
        config_disk_clear(&c->disks[i]);
    free(c->disks);
    for (unsigned i = 0; i < c->n_devices; i++)
        config_device_clear(&c->devices[i]);
    free(c->devices);
    for (unsigned i = 0; i < c->n_nets; i++)
        config_net_clear(&c->nets[i]);
    free(c->nets);
    free(c->serial_path);
    config_vio_free(c);
    free(c);
}

/* Replaces *slot with a copy of s (NULL clears). */
int config_set_string(char **slot, const char *s, const char *what)
{
    char *copy = NULL;
    if (s) {
        copy = strdup(s);
        if (!copy)
            return vmm_error(VMM_ENOMEM, "copying %s", what);
    }
    free(*slot);
    *slot = copy;
    return 0;
}

/* strdup that keeps NULL; sets *failed on allocation failure. */
static char *dup_or_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

/* Clones by copying the struct, then replacing every pointer with a copy of
 * what it points to; on any failure the half-built copy is freed whole (the
 * pointers not yet replaced are first cleared so nothing is freed twice). */
int vmm_config_clone(const vmm_config_t *c, vmm_config_t **out)
{
    vmm_config_t *n = malloc(sizeof(*n));
    if (!n)
        return vmm_error(VMM_ENOMEM, "cloning a config");
    *n = *c;
    n->vcpupins = NULL;
    n->n_vcpupins = 0;
    n->cpu_disabled = NULL;
    n->n_cpu_disabled = 0;
    n->disks = NULL;
    n->n_disks = 0;
    n->nets = NULL;
    n->n_nets = 0;
    n->devices = NULL;
    n->n_devices = 0;
    int failed = 0;
    config_vio_clone(n, c, &failed);
    n->engine = dup_or_null(c->engine, &failed);
    n->name = dup_or_null(c->name, &failed);
    n->kernel = dup_or_null(c->kernel, &failed);
    n->initrd = dup_or_null(c->initrd, &failed);
    n->cmdline = dup_or_null(c->cmdline, &failed);
    n->title = dup_or_null(c->title, &failed);
    n->description = dup_or_null(c->description, &failed);
    n->metadata = dup_or_null(c->metadata, &failed);
    n->cpuset = dup_or_null(c->cpuset, &failed);
    n->arch = dup_or_null(c->arch, &failed);
    n->machine = dup_or_null(c->machine, &failed);
    n->dtb = dup_or_null(c->dtb, &failed);
    n->loader = dup_or_null(c->loader, &failed);
    n->loader_type = dup_or_null(c->loader_type, &failed);
    n->serial_path = dup_or_null(c->serial_path, &failed);
    if (!failed && c->n_vcpupins) {
        n->vcpupins = calloc(c->n_vcpupins, sizeof(*n->vcpupins));
        failed = !n->vcpupins;
        for (unsigned i = 0; !failed && i < c->n_vcpupins; i++) {
            n->vcpupins[i] = c->vcpupins[i];
            n->vcpupins[i].cpuset = dup_or_null(c->vcpupins[i].cpuset, &failed);
            n->n_vcpupins = i + 1;
        }
    }
    if (!failed && c->n_cpu_disabled) {
        n->cpu_disabled = calloc(c->n_cpu_disabled, sizeof(*n->cpu_disabled));
        failed = !n->cpu_disabled;
        for (unsigned i = 0; !failed && i < c->n_cpu_disabled; i++) {
            n->cpu_disabled[i] = dup_or_null(c->cpu_disabled[i], &failed);
            n->n_cpu_disabled = i + 1;
        }
    }
    if (!failed && c->n_disks) {
        n->disks = calloc(c->n_disks, sizeof(*n->disks));
        failed = !n->disks;
        for (unsigned i = 0; !failed && i < c->n_disks; i++) {
            vmm_disk_config_t *d = &n->disks[i];
            d->size = sizeof(*d);
            d->readonly = c->disks[i].readonly;
            d->path = dup_or_null(c->disks[i].path, &failed);
            d->target = dup_or_null(c->disks[i].target, &failed);
            d->serial = dup_or_null(c->disks[i].serial, &failed);
            d->backend_opaque = c->disks[i].backend_opaque;
            d->capacity = c->disks[i].capacity;
            if (c->disks[i].backend) {
                d->backend = config_blk_ops_dup(c->disks[i].backend);
                failed |= !d->backend;
            }
            n->n_disks = i + 1;
        }
    }
    if (!failed && c->n_nets) {
        n->nets = calloc(c->n_nets, sizeof(*n->nets));
        failed = !n->nets;
        for (unsigned i = 0; !failed && i < c->n_nets; i++) {
            n->nets[i] = c->nets[i];
            n->nets[i].tap = dup_or_null(c->nets[i].tap, &failed);
            n->nets[i].address = dup_or_null(c->nets[i].address, &failed);
            n->nets[i].local_address = dup_or_null(c->nets[i].local_address, &failed);
            if (c->nets[i].backend) {
                vmm_net_backend_ops_t *ops = malloc(sizeof(*ops));
                if (ops)
                    *ops = *c->nets[i].backend;
                n->nets[i].backend = ops;
                failed |= !ops;
            }
            n->n_nets = i + 1;
        }
    }
    if (!failed && c->n_devices) {
        n->devices = calloc(c->n_devices, sizeof(*n->devices));
        failed = !n->devices;
        for (unsigned i = 0; !failed && i < c->n_devices; i++) {
            vmm_device_config_t *d = &n->devices[i];
            *d = c->devices[i];
            d->name = dup_or_null(c->devices[i].name, &failed);
            vmm_device_ops_t *ops = malloc(sizeof(*ops));
            if (ops)
                *ops = *c->devices[i].ops;
            d->ops = ops;
            failed |= !ops;
            n->n_devices = i + 1;
        }
    }
    if (failed) {
        vmm_config_free(n);
        return vmm_error(VMM_ENOMEM, "cloning a config");
    }
    *out = n;
    return 0;
}

int vmm_config_set_engine(vmm_config_t *c, const char *engine)
{
    if (!engine || (strcmp(engine, VMM_ENGINE_AUTO) && strcmp(engine, VMM_ENGINE_KVM) &&
                    strcmp(engine, VMM_ENGINE_SOFT)))
        return vmm_error(VMM_EINVAL, "engine '%s' unknown (expected auto, kvm or soft)",
                         engine ? engine : "(null)");
    return config_set_string(&c->engine, engine, "engine");
}

const char *vmm_config_engine(const vmm_config_t *c) { return c->engine; }

int vmm_config_set_name(vmm_config_t *c, const char *name)
{
    if (!name || !*name)
        return vmm_error(VMM_EINVAL, "VM name must not be empty");
    /* libvirt refuses '/' (names become file names) and newlines. */
    if (strchr(name, '/') || strchr(name, '\n'))
        return vmm_error(VMM_EINVAL, "VM name '%s' contains '/' or a newline", name);
    if (strlen(name) > 255)
        return vmm_error(VMM_EINVAL, "VM name of %zu bytes exceeds the limit of 255 bytes",
                         strlen(name));
    return config_set_string(&c->name, name, "name");
}

const char *vmm_config_name(const vmm_config_t *c) { return c->name; }

int vmm_config_set_memory(vmm_config_t *c, uint64_t bytes)
{
    if (bytes < MIN_MEMORY)
        return vmm_error(VMM_EINVAL, "memory %llu bytes is below the minimum of %llu bytes (1 MiB)",
                         (unsigned long long)bytes, (unsigned long long)MIN_MEMORY);
    if (bytes & 0xfff)
        return vmm_error(VMM_EINVAL, "memory %llu bytes is not a multiple of 4096",
                         (unsigned long long)bytes);
    c->memory = bytes;
    return 0;
}

uint64_t vmm_config_memory(const vmm_config_t *c) { return c->memory; }

int vmm_config_set_vcpus(vmm_config_t *c, unsigned n)
{
    if (n == 0 || n > VMM_CONFIG_MAX_VCPUS)
        return vmm_error(VMM_EINVAL, "vcpus %u out of range 1..%d", n, VMM_CONFIG_MAX_VCPUS);
    c->vcpus = n;
    return 0;
}

unsigned vmm_config_vcpus(const vmm_config_t *c) { return c->vcpus; }

int vmm_config_set_kernel(vmm_config_t *c, const char *path)
{
    return config_set_string(&c->kernel, path, "kernel path");
}

const char *vmm_config_kernel(const vmm_config_t *c) { return c->kernel; }

int vmm_config_set_initrd(vmm_config_t *c, const char *path)
{
    return config_set_string(&c->initrd, path, "initrd path");
}

const char *vmm_config_initrd(const vmm_config_t *c) { return c->initrd; }

int vmm_config_set_cmdline(vmm_config_t *c, const char *cmdline)
{
    if (!cmdline)
        cmdline = "";
    size_t len = strlen(cmdline);
    if (len >= VMM_CONFIG_MAX_CMDLINE)
        return vmm_error(VMM_EINVAL, "cmdline of %zu bytes exceeds the limit of %d bytes", len,
                         VMM_CONFIG_MAX_CMDLINE - 1);
    return config_set_string(&c->cmdline, cmdline, "cmdline");
}

const char *vmm_config_cmdline(const vmm_config_t *c) { return c->cmdline; }

int vmm_config_set_console(vmm_config_t *c, vmm_console_mode_t mode)
{
    if (mode != VMM_CONSOLE_EVENTS && mode != VMM_CONSOLE_NONE)
        return vmm_error(VMM_EINVAL, "console mode %d unknown", (int)mode);
    c->console = mode;
    return 0;
}

vmm_console_mode_t vmm_config_console(const vmm_config_t *c) { return c->console; }

int vmm_config_set_deterministic(vmm_config_t *c, int on)
{
    c->deterministic = on ? 1 : 0;
    return 0;
}

int vmm_config_deterministic(const vmm_config_t *c) { return c->deterministic; }

int vmm_config_set_jit(vmm_config_t *c, int on)
{
    c->no_jit = on ? 0 : 1;
    return 0;
}

int vmm_config_jit(const vmm_config_t *c) { return !c->no_jit; }
