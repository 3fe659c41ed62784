/* vmm_config_validate(): the checks that need the whole config or the host.
 * Messages name libvirt's element path, so the same text serves the XML
 * reader and programs that build a config with the setters. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_check.h"
#include "util/error.h"
#include "config/cpuset.h"

static const char *effective_arch(const vmm_config_t *c)
{
    if (c->arch)
        return c->arch;
    if (c->engine && !strcmp(c->engine, VMM_ENGINE_KVM))
        return "x86_64";
    if (c->engine && !strcmp(c->engine, VMM_ENGINE_SOFT))
        return "riscv64";
    return NULL;
}

static void check_structure(const vmm_config_t *c, struct diag *d)
{
    if (c->current_memory > c->memory)
        diag_error(d, VMM_EINVAL, "/domain/currentMemory: %llu bytes exceeds memory of %llu bytes",
                   (unsigned long long)c->current_memory, (unsigned long long)c->memory);
    if (c->hard_limit && c->hard_limit < c->memory)
        diag_error(d, VMM_EINVAL,
                   "/domain/memtune/hard_limit: %llu bytes is below the guest memory of %llu "
                   "bytes",
                   (unsigned long long)c->hard_limit, (unsigned long long)c->memory);
    for (unsigned i = 0; i < c->n_vcpupins; i++)
        if (c->vcpupins[i].vcpu >= c->vcpus)
            diag_error(d, VMM_EINVAL,
                       "/domain/cputune/vcpupin: vcpu %u does not exist (the domain has %u "
                       "vCPUs)",
                       c->vcpupins[i].vcpu, c->vcpus);
    if (!c->kernel)
        diag_error(d, VMM_EINVAL,
                   "/domain/os/kernel: missing (libvmm boots a kernel directly; set os/kernel)");
    if (c->n_cpu_disabled && c->cpu_mode == VMM_CPU_DEFAULT)
        diag_error(d, VMM_EINVAL,
                   "/domain/cpu/feature: disabling CPU features needs cpu mode host-passthrough "
                   "or host-model");
    const char *arch = effective_arch(c);
    if (c->arch && c->engine) {
        if (!strcmp(c->engine, VMM_ENGINE_KVM) && strcmp(c->arch, "x86_64"))
            diag_error(d, VMM_ENOTSUP,
                       "/domain/os/type: arch '%s' cannot run on the kvm engine (x86_64 only)",
                       c->arch);
        if (!strcmp(c->engine, VMM_ENGINE_SOFT) && strcmp(c->arch, "riscv64"))
            diag_error(d, VMM_ENOTSUP,
                       "/domain/os/type: arch '%s' cannot run on the software engine "
                       "(domain type 'qemu'; riscv64 only; use type='kvm' for x86_64)",
                       c->arch);
    }
    if (arch && !strcmp(arch, "x86_64") && c->dtb)
        diag_error(d, VMM_ENOTSUP, "/domain/os/dtb: a device tree is for riscv64 guests only");
    if (arch && !strcmp(arch, "riscv64")) {
        if (c->n_cpu_disabled)
            diag_error(d, VMM_ENOTSUP,
                       "/domain/cpu/feature: disabling CPU features is for x86_64 guests only");
        if (c->features)
            diag_error(d, VMM_ENOTSUP,
                       "/domain/features: acpi, apic and pae are for x86_64 guests only");
    }
}

static void check_file(struct diag *d, const char *what, const char *path, int want_write)
{
    struct stat st;
    if (!path)
        return;
    if (stat(path, &st) < 0) {
        diag_error(d, errno == ENOENT || errno == ENOTDIR ? VMM_ENOENT : VMM_EACCES,
                   "%s: '%s' cannot be used: %s", what, path, strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        diag_error(d, VMM_EINVAL, "%s: '%s' is a directory", what, path);
        return;
    }
    if (access(path, want_write ? R_OK | W_OK : R_OK) < 0)
        diag_error(d, VMM_EACCES, "%s: '%s' is not %s: %s", what, path,
                   want_write ? "readable and writable" : "readable", strerror(errno));
}

static void check_cpuset(struct diag *d, const char *what, const config_cpuset_t *s,
                         const char *text, long host_cpus)
{
    int last = cpuset_last(s);
    if (last >= host_cpus)
        diag_error(d, VMM_ERANGE, "%s: cpuset '%s' names CPU %d but this host has %ld CPUs (0-%ld)",
                   what, text, last, host_cpus, host_cpus - 1);
}

/* A socket the VM (or the host program) will create: its directory must
 * exist. */
static void check_socket_dir(struct diag *d, const char *what, const char *path)
{
    if (!path || path[0] != '/')
        return;
    char dir[PATH_MAX];
    size_t n = (size_t)(strrchr(path, '/') - path);
    if (n == 0)
        n = 1;
    if (n >= sizeof(dir))
        return;
    struct stat st;
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        diag_error(d, VMM_ENOENT, "%s: directory '%s' of socket '%s' missing", what, dir, path);
}

static void check_host(const vmm_config_t *c, struct diag *d)
{
    check_socket_dir(d, "/domain/metadata/libvmm/vsock", c->vsock_path);
    check_socket_dir(d, "/domain/devices/console/source", c->vcon_path);
    for (unsigned i = 0; i < c->n_ports; i++)
        check_socket_dir(d, "/domain/devices/channel/source", c->ports[i].path);
    check_file(d, "/domain/os/kernel", c->kernel, 0);
    check_file(d, "/domain/os/initrd", c->initrd, 0);
    check_file(d, "/domain/os/dtb", c->dtb, 0);
    check_file(d, "/domain/os/loader", c->loader, 0);
    for (unsigned i = 0; i < c->n_disks; i++)
        if (c->disks[i].path) /* a host backend has none */
            check_file(d, "/domain/devices/disk/source", c->disks[i].path, !c->disks[i].readonly);
    if (c->serial == VMM_CHARDEV_FILE && c->serial_path) {
        char dir[PATH_MAX];
        size_t n = (size_t)(strrchr(c->serial_path, '/') - c->serial_path);
        if (n == 0)
            n = 1;
        if (n < sizeof(dir)) {
            struct stat st;
            memcpy(dir, c->serial_path, n);
            dir[n] = '\0';
            if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                diag_error(d, VMM_ENOENT, "/domain/devices/serial/source: directory '%s' missing",
                           dir);
        }
    }
    long host_cpus = sysconf(_SC_NPROCESSORS_CONF);
    if (host_cpus <= 0)
        return;
    if (c->cpuset && c->placement == VMM_PLACEMENT_STATIC)
        check_cpuset(d, "/domain/vcpu", &c->cpuset_bits, c->cpuset, host_cpus);
    for (unsigned i = 0; i < c->n_vcpupins; i++)
        check_cpuset(d, "/domain/cputune/vcpupin", &c->vcpupins[i].bits, c->vcpupins[i].cpuset,
                     host_cpus);
}

void config_check(const vmm_config_t *c, int host, struct diag *d)
{
    check_structure(c, d);
    if (host)
        check_host(c, d);
}

int vmm_config_validate(const vmm_config_t *c, char **problems)
{
    struct diag d;
    diag_init(&d);
    config_check(c, 1, &d);
    return diag_finish(&d, problems);
}
