/* Field-by-field equality of two configs (XML round trip, fuzzer). Keep in
 * step with struct vmm_config: every field is compared here. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

#define CHECK(cond, field)                                                                        \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            if (why)                                                                              \
                *why = field;                                                                     \
            return 0;                                                                             \
        }                                                                                         \
    } while (0)

int config_equal(const vmm_config_t *a, const vmm_config_t *b, const char **why)
{
    CHECK(str_eq(a->engine, b->engine), "engine");
    CHECK(str_eq(a->name, b->name), "name");
    CHECK(a->memory == b->memory, "memory");
    CHECK(a->vcpus == b->vcpus, "vcpus");
    CHECK(str_eq(a->kernel, b->kernel), "kernel");
    CHECK(str_eq(a->initrd, b->initrd), "initrd");
    CHECK(str_eq(a->cmdline, b->cmdline), "cmdline");
    CHECK(a->console == b->console, "console");
    CHECK(a->deterministic == b->deterministic, "deterministic");
    CHECK(a->no_jit == b->no_jit, "jit");
    CHECK(!strcmp(a->uuid, b->uuid), "uuid");
    CHECK(str_eq(a->title, b->title), "title");
    CHECK(str_eq(a->description, b->description), "description");
    CHECK(str_eq(a->metadata, b->metadata), "metadata");
    CHECK(a->current_memory == b->current_memory, "currentMemory");
    CHECK(a->placement == b->placement, "vcpu placement");
    CHECK(str_eq(a->cpuset, b->cpuset), "vcpu cpuset");
    CHECK(!memcmp(&a->cpuset_bits, &b->cpuset_bits, sizeof(a->cpuset_bits)), "vcpu cpuset bits");
    CHECK(a->cpu_shares == b->cpu_shares, "cputune shares");
    CHECK(a->cpu_period == b->cpu_period, "cputune period");
    CHECK(a->cpu_quota == b->cpu_quota, "cputune quota");
    CHECK(a->cpu_global_period == b->cpu_global_period, "cputune global_period");
    CHECK(a->cpu_global_quota == b->cpu_global_quota, "cputune global_quota");
    CHECK(a->n_vcpupins == b->n_vcpupins, "vcpupin count");
    for (unsigned i = 0; i < a->n_vcpupins; i++) {
        CHECK(a->vcpupins[i].vcpu == b->vcpupins[i].vcpu, "vcpupin vcpu");
        CHECK(str_eq(a->vcpupins[i].cpuset, b->vcpupins[i].cpuset), "vcpupin cpuset");
        CHECK(!memcmp(&a->vcpupins[i].bits, &b->vcpupins[i].bits, sizeof(a->vcpupins[i].bits)),
              "vcpupin bits");
    }
    CHECK(a->hard_limit == b->hard_limit, "memtune hard_limit");
    CHECK(str_eq(a->arch, b->arch), "os arch");
    CHECK(str_eq(a->machine, b->machine), "os machine");
    CHECK(str_eq(a->dtb, b->dtb), "os dtb");
    CHECK(str_eq(a->loader, b->loader), "os loader");
    CHECK(a->loader_readonly == b->loader_readonly, "os loader readonly");
    CHECK(str_eq(a->loader_type, b->loader_type), "os loader type");
    CHECK(a->cpu_mode == b->cpu_mode, "cpu mode");
    CHECK(a->n_cpu_disabled == b->n_cpu_disabled, "cpu feature count");
    for (unsigned i = 0; i < a->n_cpu_disabled; i++)
        CHECK(!strcmp(a->cpu_disabled[i], b->cpu_disabled[i]), "cpu feature");
    CHECK(a->clock_offset == b->clock_offset, "clock offset");
    CHECK(a->features == b->features, "features");
    CHECK(a->on_poweroff == b->on_poweroff, "on_poweroff");
    CHECK(a->on_reboot == b->on_reboot, "on_reboot");
    CHECK(a->on_crash == b->on_crash, "on_crash");
    CHECK(a->n_disks == b->n_disks, "disk count");
    for (unsigned i = 0; i < a->n_disks; i++) {
        CHECK(str_eq(a->disks[i].path, b->disks[i].path), "disk source");
        CHECK(str_eq(a->disks[i].target, b->disks[i].target), "disk target");
        CHECK(a->disks[i].readonly == b->disks[i].readonly, "disk readonly");
        CHECK(str_eq(a->disks[i].serial, b->disks[i].serial), "disk serial");
        CHECK(!a->disks[i].backend == !b->disks[i].backend, "disk backend");
        CHECK(a->disks[i].capacity == b->disks[i].capacity, "disk capacity");
    }
    CHECK(a->n_nets == b->n_nets, "interface count");
    for (unsigned i = 0; i < a->n_nets; i++) {
        CHECK(str_eq(a->nets[i].tap, b->nets[i].tap), "interface target");
        CHECK(!memcmp(a->nets[i].mac, b->nets[i].mac, 6), "interface mac");
        CHECK(a->nets[i].type == b->nets[i].type, "interface type");
        CHECK(a->nets[i].managed == b->nets[i].managed, "interface managed");
        CHECK(str_eq(a->nets[i].address, b->nets[i].address), "interface address");
        CHECK(a->nets[i].port == b->nets[i].port, "interface port");
        CHECK(str_eq(a->nets[i].local_address, b->nets[i].local_address),
              "interface local address");
        CHECK(a->nets[i].local_port == b->nets[i].local_port, "interface local port");
    }
    CHECK(a->serial == b->serial, "serial type");
    CHECK(str_eq(a->serial_path, b->serial_path), "serial path");
    CHECK(a->rng == b->rng, "rng");
    CHECK(a->balloon == b->balloon && a->balloon_flags == b->balloon_flags &&
              a->balloon_period == b->balloon_period,
          "memballoon");
    CHECK(a->vcon == b->vcon, "virtio console type");
    CHECK(str_eq(a->vcon_path, b->vcon_path), "virtio console path");
    CHECK(a->n_ports == b->n_ports, "channel count");
    for (unsigned i = 0; i < a->n_ports; i++) {
        CHECK(str_eq(a->ports[i].name, b->ports[i].name), "channel name");
        CHECK(a->ports[i].type == b->ports[i].type, "channel type");
        CHECK(str_eq(a->ports[i].path, b->ports[i].path), "channel path");
    }
    CHECK(a->vsock_cid == b->vsock_cid, "vsock cid");
    CHECK(str_eq(a->vsock_path, b->vsock_path), "vsock socket");
    return 1;
}

static int str_same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Two names of one file: relative paths are taken from the working
 * directory (a VM keeps absolute ones; a caller may pass relative ones). */
static int same_file(const char *a, const char *b)
{
    if (!a || !b || !*a || !*b)
        return str_same(a, b);
    if (!strcmp(a, b))
        return 1;
    char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
    int same = ra && rb && !strcmp(ra, rb);
    free(ra);
    free(rb);
    return same;
}

int config_machine_equal(const vmm_config_t *a, const vmm_config_t *b, const char **why)
{
    const char *diff = NULL;
    int auto_engine = !strcmp(a->engine, VMM_ENGINE_AUTO) || !strcmp(b->engine, VMM_ENGINE_AUTO);
    if (!auto_engine && strcmp(a->engine, b->engine))
        diff = "engine";
    else if (a->memory != b->memory)
        diff = "memory size";
    else if (a->vcpus != b->vcpus)
        diff = "vCPU count";
    else if (!same_file(a->kernel, b->kernel))
        diff = "kernel";
    else if (!same_file(a->initrd, b->initrd))
        diff = "initrd";
    else if (!str_same(a->cmdline, b->cmdline))
        diff = "kernel command line";
    else if (!same_file(a->dtb, b->dtb))
        diff = "device tree";
    else if (!same_file(a->loader, b->loader))
        diff = "firmware";
    else if (a->deterministic != b->deterministic)
        diff = "deterministic setting";
    else if (a->n_cpu_disabled != b->n_cpu_disabled)
        diff = "set of disabled CPU features";
    else if (a->n_disks != b->n_disks)
        diff = "number of disks";
    else if (a->n_nets != b->n_nets)
        diff = "number of network interfaces";
    else if (!a->rng != !b->rng)
        diff = "rng device";
    else if (!a->balloon != !b->balloon || a->balloon_flags != b->balloon_flags)
        diff = "balloon device";
    else if (a->n_devices != b->n_devices)
        diff = "number of host devices";
    for (unsigned i = 0; !diff && i < a->n_cpu_disabled; i++)
        if (strcmp(a->cpu_disabled[i], b->cpu_disabled[i]))
            diff = "set of disabled CPU features";
    for (unsigned i = 0; !diff && i < a->n_disks; i++)
        if (!same_file(a->disks[i].path, b->disks[i].path) ||
            !str_same(a->disks[i].target, b->disks[i].target) ||
            a->disks[i].readonly != b->disks[i].readonly)
            diff = "disk list (source, target or read-only)";
    if (why)
        *why = diff;
    return diff == NULL;
}
