/* Field-by-field equality of two configs (XML round trip, fuzzer). Keep in
 * step with struct vmm_config: every field is compared here. */
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
    }
    CHECK(a->n_nets == b->n_nets, "interface count");
    for (unsigned i = 0; i < a->n_nets; i++) {
        CHECK(str_eq(a->nets[i].tap, b->nets[i].tap), "interface target");
        CHECK(!memcmp(a->nets[i].mac, b->nets[i].mac, 6), "interface mac");
    }
    CHECK(a->serial == b->serial, "serial type");
    CHECK(str_eq(a->serial_path, b->serial_path), "serial path");
    CHECK(a->rng == b->rng, "rng");
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
