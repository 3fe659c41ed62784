/* Setters and getters for the libvirt-shaped parts of a config that are not
 * devices: identity, resource tuning, <os>, <cpu>, <clock>, <features> and
 * the lifecycle actions. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "config/config.h"
#include "config/cpu_features.h"
#include "util/error.h"

#define PAGE 4096ULL
#define CPU_SHARES_MIN 2u /* libvirt's and cgroup v1's range */
#define CPU_SHARES_MAX 262144u
#define CPU_PERIOD_MIN 1000ULL
#define CPU_PERIOD_MAX 1000000ULL
#define CPU_QUOTA_MIN 1000LL
#define CPU_QUOTA_MAX 17592186044415LL /* libvirt's limit */

/* --- uuid ---------------------------------------------------------------- */

static void uuid_format(const uint8_t b[16], char out[VMM_UUID_STRING_LEN + 1])
{
    snprintf(out, VMM_UUID_STRING_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int config_uuid_generate(char out[VMM_UUID_STRING_LEN + 1])
{
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0)
            return vmm_error(VMM_EIO, "getrandom failed while generating a UUID");
        got += (size_t)n;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    uuid_format(b, out);
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

int config_uuid_parse(const char *text, char out[VMM_UUID_STRING_LEN + 1])
{
    uint8_t b[16];
    if (!text)
        return vmm_error(VMM_EINVAL, "UUID missing");
    size_t len = strlen(text);
    /* The two forms libvirt's schema allows: 32 digits, or 8-4-4-4-12. */
    int dashed = len == 36;
    if (len != 32 && !dashed)
        goto bad;
    for (size_t i = 0, k = 0; i < len;) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (text[i] != '-')
                goto bad;
            i++;
            continue;
        }
        int hi = hexval((unsigned char)text[i]), lo = hexval((unsigned char)text[i + 1]);
        if (hi < 0 || lo < 0)
            goto bad;
        b[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    uuid_format(b, out);
    return 0;
bad:
    return vmm_error(VMM_EINVAL,
                     "UUID '%.64s' is malformed (expected 32 hex digits, optionally dashed "
                     "8-4-4-4-12)",
                     text);
}

int vmm_config_set_uuid(vmm_config_t *c, const char *uuid)
{
    return config_uuid_parse(uuid, c->uuid);
}

const char *vmm_config_uuid(const vmm_config_t *c) { return c->uuid; }

/* --- title, description -------------------------------------------------- */

int vmm_config_set_title(vmm_config_t *c, const char *title)
{
    if (title && strchr(title, '\n'))
        return vmm_error(VMM_EINVAL, "title must be one line (it contains a newline)");
    return config_set_string(&c->title, title, "title");
}

const char *vmm_config_title(const vmm_config_t *c) { return c->title; }

int vmm_config_set_description(vmm_config_t *c, const char *text)
{
    return config_set_string(&c->description, text, "description");
}

const char *vmm_config_description(const vmm_config_t *c) { return c->description; }

/* --- memory and vCPU tuning ---------------------------------------------- */

int vmm_config_set_current_memory(vmm_config_t *c, uint64_t bytes)
{
    if (bytes % PAGE)
        return vmm_error(VMM_EINVAL, "currentMemory %llu bytes is not a multiple of 4096",
                         (unsigned long long)bytes);
    c->current_memory = bytes;
    return 0;
}

uint64_t vmm_config_current_memory(const vmm_config_t *c) { return c->current_memory; }

int vmm_config_set_vcpu_placement(vmm_config_t *c, vmm_placement_t p)
{
    if (p != VMM_PLACEMENT_STATIC && p != VMM_PLACEMENT_AUTO)
        return vmm_error(VMM_EINVAL, "vcpu placement %d unknown", (int)p);
    c->placement = p;
    return 0;
}

vmm_placement_t vmm_config_vcpu_placement(const vmm_config_t *c) { return c->placement; }

int vmm_config_set_vcpu_cpuset(vmm_config_t *c, const char *text)
{
    if (!text) {
        free(c->cpuset);
        c->cpuset = NULL;
        memset(&c->cpuset_bits, 0, sizeof(c->cpuset_bits));
        return 0;
    }
    config_cpuset_t bits;
    char *canon;
    int rc = cpuset_parse(text, &bits, &canon);
    if (rc)
        return rc;
    free(c->cpuset);
    c->cpuset = canon;
    c->cpuset_bits = bits;
    return 0;
}

const char *vmm_config_vcpu_cpuset(const vmm_config_t *c) { return c->cpuset; }

int vmm_config_set_cpu_shares(vmm_config_t *c, unsigned shares)
{
    if (shares && (shares < CPU_SHARES_MIN || shares > CPU_SHARES_MAX))
        return vmm_error(VMM_EINVAL, "cputune shares %u out of range %u..%u (or 0: default)",
                         shares, CPU_SHARES_MIN, CPU_SHARES_MAX);
    c->cpu_shares = shares;
    return 0;
}

unsigned vmm_config_cpu_shares(const vmm_config_t *c) { return c->cpu_shares; }

int vmm_config_set_cpu_quota(vmm_config_t *c, uint64_t period, int64_t quota)
{
    if (period && (period < CPU_PERIOD_MIN || period > CPU_PERIOD_MAX))
        return vmm_error(VMM_EINVAL, "cputune period %llu us out of range %llu..%llu",
                         (unsigned long long)period, CPU_PERIOD_MIN, CPU_PERIOD_MAX);
    if (quota && quota != -1 && (quota < CPU_QUOTA_MIN || quota > CPU_QUOTA_MAX))
        return vmm_error(VMM_EINVAL, "cputune quota %lld us out of range %lld..%lld (or -1)",
                         (long long)quota, CPU_QUOTA_MIN, CPU_QUOTA_MAX);
    c->cpu_period = period;
    c->cpu_quota = quota;
    return 0;
}

int vmm_config_set_cpu_global_quota(vmm_config_t *c, uint64_t period, int64_t quota)
{
    if (period && (period < CPU_PERIOD_MIN || period > CPU_PERIOD_MAX))
        return vmm_error(VMM_EINVAL, "cputune global_period %llu us out of range %llu..%llu",
                         (unsigned long long)period, CPU_PERIOD_MIN, CPU_PERIOD_MAX);
    if (quota && quota != -1 && (quota < CPU_QUOTA_MIN || quota > CPU_QUOTA_MAX))
        return vmm_error(VMM_EINVAL,
                         "cputune global_quota %lld us out of range %lld..%lld (or -1)",
                         (long long)quota, CPU_QUOTA_MIN, CPU_QUOTA_MAX);
    c->cpu_global_period = period;
    c->cpu_global_quota = quota;
    return 0;
}

uint64_t vmm_config_cpu_global_period(const vmm_config_t *c) { return c->cpu_global_period; }
int64_t vmm_config_cpu_global_quota(const vmm_config_t *c) { return c->cpu_global_quota; }
uint64_t vmm_config_cpu_period(const vmm_config_t *c) { return c->cpu_period; }
int64_t vmm_config_cpu_quota(const vmm_config_t *c) { return c->cpu_quota; }

static struct config_vcpupin *find_pin(const vmm_config_t *c, unsigned vcpu, unsigned *pos)
{
    unsigned i = 0;
    while (i < c->n_vcpupins && c->vcpupins[i].vcpu < vcpu)
        i++;
    if (pos)
        *pos = i;
    return i < c->n_vcpupins && c->vcpupins[i].vcpu == vcpu ? &c->vcpupins[i] : NULL;
}

int vmm_config_set_vcpu_pin(vmm_config_t *c, unsigned vcpu, const char *text)
{
    if (vcpu >= VMM_CONFIG_MAX_VCPUS)
        return vmm_error(VMM_EINVAL, "vcpupin vcpu %u out of range 0..%d", vcpu,
                         VMM_CONFIG_MAX_VCPUS - 1);
    unsigned pos;
    struct config_vcpupin *pin = find_pin(c, vcpu, &pos);
    if (!text) {
        if (pin) {
            free(pin->cpuset);
            memmove(pin, pin + 1, (c->n_vcpupins - pos - 1) * sizeof(*pin));
            c->n_vcpupins--;
        }
        return 0;
    }
    config_cpuset_t bits;
    char *canon;
    int rc = cpuset_parse(text, &bits, &canon);
    if (rc)
        return rc;
    if (pin) {
        free(pin->cpuset);
        pin->cpuset = canon;
        pin->bits = bits;
        return 0;
    }
    struct config_vcpupin *grown =
        realloc(c->vcpupins, (c->n_vcpupins + 1) * sizeof(*c->vcpupins));
    if (!grown) {
        free(canon);
        return vmm_error(VMM_ENOMEM, "adding a vcpupin");
    }
    c->vcpupins = grown;
    memmove(&grown[pos + 1], &grown[pos], (c->n_vcpupins - pos) * sizeof(*grown));
    grown[pos] = (struct config_vcpupin){.vcpu = vcpu, .cpuset = canon, .bits = bits};
    c->n_vcpupins++;
    return 0;
}

const char *vmm_config_vcpu_pin(const vmm_config_t *c, unsigned vcpu)
{
    const struct config_vcpupin *pin = find_pin(c, vcpu, NULL);
    return pin ? pin->cpuset : NULL;
}

int vmm_config_set_memory_hard_limit(vmm_config_t *c, uint64_t bytes)
{
    c->hard_limit = bytes;
    return 0;
}

uint64_t vmm_config_memory_hard_limit(const vmm_config_t *c) { return c->hard_limit; }

/* --- <os> ---------------------------------------------------------------- */

int vmm_config_set_arch(vmm_config_t *c, const char *arch)
{
    if (arch && strcmp(arch, "x86_64") && strcmp(arch, "riscv64"))
        return vmm_error(VMM_EINVAL, "arch '%.64s' unsupported (expected x86_64 or riscv64)",
                         arch);
    return config_set_string(&c->arch, arch, "arch");
}

const char *vmm_config_arch(const vmm_config_t *c) { return c->arch; }

int vmm_config_set_machine(vmm_config_t *c, const char *machine)
{
    if (machine && (!*machine || strlen(machine) > 64))
        return vmm_error(VMM_EINVAL, "machine name of %zu bytes (expected 1..64)",
                         strlen(machine));
    return config_set_string(&c->machine, machine, "machine");
}

const char *vmm_config_machine(const vmm_config_t *c) { return c->machine; }

int vmm_config_set_dtb(vmm_config_t *c, const char *path)
{
    return config_set_string(&c->dtb, path, "dtb path");
}

const char *vmm_config_dtb(const vmm_config_t *c) { return c->dtb; }

int vmm_config_set_loader(vmm_config_t *c, const char *path)
{
    return config_set_string(&c->loader, path, "loader path");
}

const char *vmm_config_loader(const vmm_config_t *c) { return c->loader; }

/* --- <cpu>, <clock>, <features> ------------------------------------------ */

int vmm_config_set_cpu_mode(vmm_config_t *c, vmm_cpu_mode_t mode)
{
    if (mode != VMM_CPU_DEFAULT && mode != VMM_CPU_HOST_PASSTHROUGH && mode != VMM_CPU_HOST_MODEL)
        return vmm_error(VMM_EINVAL, "cpu mode %d unknown", (int)mode);
    c->cpu_mode = mode;
    return 0;
}

vmm_cpu_mode_t vmm_config_cpu_mode(const vmm_config_t *c) { return c->cpu_mode; }

int vmm_config_cpu_disable_feature(vmm_config_t *c, const char *name)
{
    if (!cpu_feature_find(name))
        return vmm_error(VMM_EINVAL, "CPU feature '%.64s' unknown", name ? name : "(null)");
    unsigned pos = 0;
    while (pos < c->n_cpu_disabled && strcmp(c->cpu_disabled[pos], name) < 0)
        pos++;
    if (pos < c->n_cpu_disabled && !strcmp(c->cpu_disabled[pos], name))
        return 0;
    if (c->n_cpu_disabled >= VMM_CONFIG_MAX_CPU_FEATURES)
        return vmm_error(VMM_ERANGE, "more than %d disabled CPU features",
                         VMM_CONFIG_MAX_CPU_FEATURES);
    char *copy = strdup(name);
    char **grown = copy ? realloc(c->cpu_disabled, (c->n_cpu_disabled + 1) * sizeof(char *))
                        : NULL;
    if (!grown) {
        free(copy);
        return vmm_error(VMM_ENOMEM, "adding a disabled CPU feature");
    }
    c->cpu_disabled = grown;
    memmove(&grown[pos + 1], &grown[pos], (c->n_cpu_disabled - pos) * sizeof(char *));
    grown[pos] = copy;
    c->n_cpu_disabled++;
    return 0;
}

unsigned vmm_config_cpu_disabled_count(const vmm_config_t *c) { return c->n_cpu_disabled; }

const char *vmm_config_cpu_disabled(const vmm_config_t *c, unsigned i)
{
    return i < c->n_cpu_disabled ? c->cpu_disabled[i] : NULL;
}

int vmm_config_set_clock_offset(vmm_config_t *c, vmm_clock_offset_t off)
{
    if (off != VMM_CLOCK_UTC && off != VMM_CLOCK_LOCALTIME)
        return vmm_error(VMM_EINVAL, "clock offset %d unknown", (int)off);
    c->clock_offset = off;
    return 0;
}

vmm_clock_offset_t vmm_config_clock_offset(const vmm_config_t *c) { return c->clock_offset; }

int vmm_config_set_features(vmm_config_t *c, unsigned f)
{
    unsigned known = VMM_FEATURE_ACPI | VMM_FEATURE_APIC | VMM_FEATURE_PAE;
    if (f & ~known)
        return vmm_error(VMM_EINVAL, "feature bits 0x%x unknown", f & ~known);
    c->features = f;
    return 0;
}

unsigned vmm_config_features(const vmm_config_t *c) { return c->features; }

/* --- lifecycle ----------------------------------------------------------- */

static vmm_lifecycle_action_t *action_slot(vmm_config_t *c, vmm_lifecycle_event_t ev)
{
    switch (ev) {
    case VMM_LIFECYCLE_POWEROFF: return &c->on_poweroff;
    case VMM_LIFECYCLE_REBOOT: return &c->on_reboot;
    case VMM_LIFECYCLE_CRASH: return &c->on_crash;
    }
    return NULL;
}

int vmm_config_set_lifecycle(vmm_config_t *c, vmm_lifecycle_event_t ev, vmm_lifecycle_action_t a)
{
    vmm_lifecycle_action_t *slot = action_slot(c, ev);
    if (!slot)
        return vmm_error(VMM_EINVAL, "lifecycle event %d unknown", (int)ev);
    if (a != VMM_ACTION_DESTROY && a != VMM_ACTION_RESTART && a != VMM_ACTION_PRESERVE)
        return vmm_error(VMM_EINVAL, "lifecycle action %d unknown", (int)a);
    *slot = a;
    return 0;
}

vmm_lifecycle_action_t vmm_config_lifecycle(const vmm_config_t *c, vmm_lifecycle_event_t ev)
{
    vmm_lifecycle_action_t *slot = action_slot((vmm_config_t *)c, ev);
    return slot ? *slot : VMM_ACTION_DESTROY;
}
