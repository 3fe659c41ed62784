#include "mem_cmds.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp_cmds.h"

static uint64_t pool_limit;   /* --memory-pool, 0 = leave the default */
static double overcommit = 1; /* --overcommit */
static uint64_t vm_limit;     /* --memory-limit, 0 = the config's (memtune) */

/* SIZE with K/M/G/T suffixes (powers of 1024). */
static int size_arg(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int fail_rc(const char *what, int rc)
{
    fprintf(stderr, "vmmctl: %s: %s\n", what, *vmm_last_error() ? vmm_last_error() : vmm_strerror(rc));
    return 2;
}

/* --balloon[=reporting,autodeflate,stats=N] */
static int balloon_option(vmm_config_t *cfg, const char *arg)
{
    unsigned flags = 0, period = 0;
    char *copy = strdup(arg ? arg : "");
    if (!copy)
        return 2;
    char *save = NULL;
    for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        char *end;
        if (!strcmp(o, "reporting")) {
            flags |= VMM_BALLOON_FREE_PAGE_REPORTING;
        } else if (!strcmp(o, "autodeflate")) {
            flags |= VMM_BALLOON_DEFLATE_ON_OOM;
        } else if (!strncmp(o, "stats=", 6) && o[6] && (period = (unsigned)strtoul(o + 6, &end, 10),
                                                         !*end)) {
        } else {
            fprintf(stderr, "vmmctl: --balloon: unknown option '%s' (reporting, autodeflate, "
                            "stats=SECONDS)\n", o);
            free(copy);
            return 2;
        }
    }
    free(copy);
    int rc = vmm_config_set_balloon(cfg, 1, flags, period);
    return rc ? fail_rc("--balloon", rc) : 0;
}

int vmmctl_mem_option(vmm_config_t *cfg, int opt, const char *arg)
{
    uint64_t size;
    switch (opt) {
    case VMMCTL_OPT_BALLOON: return balloon_option(cfg, arg);
    case VMMCTL_OPT_CURRENT_MEMORY:
    case VMMCTL_OPT_MEMORY_POOL:
    case VMMCTL_OPT_MEMORY_LIMIT:
        if (size_arg(arg, &size)) {
            fprintf(stderr, "vmmctl: --%s '%s' is not a size (e.g. 256M, 1G)\n",
                    opt == VMMCTL_OPT_MEMORY_POOL    ? "memory-pool"
                    : opt == VMMCTL_OPT_MEMORY_LIMIT ? "memory-limit"
                                                     : "current-memory",
                    arg);
            return 2;
        }
        if (opt == VMMCTL_OPT_MEMORY_POOL) {
            pool_limit = size;
            return 0;
        }
        if (opt == VMMCTL_OPT_MEMORY_LIMIT) {
            vm_limit = size;
            return 0;
        }
        int rc = vmm_config_set_current_memory(cfg, size);
        return rc ? fail_rc("--current-memory", rc) : 0;
    case VMMCTL_OPT_OVERCOMMIT: {
        char *end;
        errno = 0;
        double r = strtod(arg, &end);
        if (errno || *end || end == arg || !(r >= 1.0 && r <= VMM_OVERCOMMIT_MAX)) {
            fprintf(stderr, "vmmctl: --overcommit '%s' is not a ratio in 1..%g\n", arg,
                    VMM_OVERCOMMIT_MAX);
            return 2;
        }
        overcommit = r;
        return 0;
    }
    }
    return 2;
}

int vmmctl_mem_host(vmm_host_t *host)
{
    int rc;
    if (overcommit != 1 && (rc = vmm_host_set_memory_overcommit(host, overcommit)))
        return fail_rc("--overcommit", rc);
    if (pool_limit && (rc = vmm_host_set_memory_limit(host, pool_limit)))
        return fail_rc("--memory-pool", rc);
    return 0;
}

int vmmctl_mem_vm(vmm_vm_t *vm)
{
    int rc;
    if (vm_limit && (rc = vmm_vm_set_memory_limit(vm, vm_limit)))
        return fail_rc("--memory-limit", rc);
    return 0;
}

void vmmctl_mem_event(const vmm_event_t *ev)
{
    if (ev->type != VMM_EVENT_MEMORY)
        return;
    const char *why = ev->u.memory.what == VMM_MEMORY_POOL_EXHAUSTED ? "the host's memory pool"
                      : ev->u.memory.what == VMM_MEMORY_LIMIT_REACHED ? "the VM's memory limit"
                                                                       : NULL;
    if (why)
        fprintf(stderr,
                "vmmctl: VM paused: %llu MiB of guest RAM committed, above %s of %llu MiB; "
                "free memory and resume it (QMP `cont`)\n",
                (unsigned long long)(ev->u.memory.what == VMM_MEMORY_POOL_EXHAUSTED
                                         ? ev->u.memory.pool_touched
                                         : ev->u.memory.touched) >> 20,
                why, (unsigned long long)ev->u.memory.limit >> 20);
}

/* --- vmmctl memstat --- */

static void mib_line(const char *label, json_t *v)
{
    json_int_t n = json_integer_value(v);
    if (!json_is_integer(v) || n < 0)
        printf("  %-22s -\n", label);
    else
        printf("  %-22s %10.1f MiB\n", label, (double)n / (1 << 20));
}

static void print_memstats(json_t *reply)
{
    json_t *r = json_object_get(reply, "return");
    if (!r) {
        char *text = json_dumps(reply, 0);
        printf("%s\n", text ? text : "");
        free(text);
        return;
    }
    printf("guest RAM\n");
    mib_line("configured", json_object_get(r, "configured"));
    mib_line("touched (committed)", json_object_get(r, "touched"));
    mib_line("resident", json_object_get(r, "resident"));
    json_t *limit = json_object_get(r, "limit");
    if (json_integer_value(limit))
        mib_line("limit", limit);
    json_t *b = json_object_get(r, "balloon");
    if (!b) {
        printf("no balloon\n");
        return;
    }
    printf("balloon (driver %s)\n", json_is_true(json_object_get(b, "driver")) ? "up" : "not up");
    mib_line("guest memory target", json_object_get(b, "target"));
    mib_line("guest memory now", json_object_get(b, "actual"));
    mib_line("inflated in total", json_object_get(b, "inflated"));
    mib_line("deflated in total", json_object_get(b, "deflated"));
    mib_line("free pages reported", json_object_get(b, "reported"));
    printf("  %-22s %10lld\n", "refused entries", (long long)json_integer_value(json_object_get(b, "errors")));
    json_t *s = json_object_get(r, "stats");
    json_int_t age = json_integer_value(json_object_get(r, "stats-age-ms"));
    if (age < 0)
        printf("guest statistics: none reported yet\n");
    else
        printf("guest statistics (%.1f s old)\n", (double)age / 1000);
    mib_line("total", json_object_get(s, "stat-total-memory"));
    mib_line("free", json_object_get(s, "stat-free-memory"));
    mib_line("available", json_object_get(s, "stat-available-memory"));
    mib_line("disk caches", json_object_get(s, "stat-disk-caches"));
    mib_line("swapped in", json_object_get(s, "stat-swap-in"));
    mib_line("swapped out", json_object_get(s, "stat-swap-out"));
}

int vmmctl_cmd_memstat(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: vmmctl memstat ADDRESS   (a VM's QMP socket: vmmctl run --qmp)\n");
        return 2;
    }
    char *qargv[] = { "qmp", argv[1], "x-query-memory-stats", NULL };
    vmmctl_qmp_set_printer(print_memstats);
    return vmmctl_cmd_qmp(3, qargv);
}
