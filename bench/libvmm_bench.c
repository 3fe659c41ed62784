/* libvmm_bench: in-process figures of libvmm through its public API.
 *
 *   libvmm_bench create ENGINE KERNEL [REPEATS] [MEM_MIB]
 *       times vmm_vm_create() alone (then destroy), and create + start +
 *       wait for the guest's exit + destroy, REPEATS times (default 100).
 *   libvmm_bench run ENGINE KERNEL [REPEATS] [MEM_MIB]
 *       creates the VM untimed, then times start -> guest exit, REPEATS
 *       times (default 5); reports vCPU 0's counters, the console output of
 *       the first run, the outcome, and the guest RAM resident after the run
 *       (the pages the guest and the loader touched), VmHWM, and the
 *       anonymous and file-backed resident sizes after the first run.
 *
 * Prints one JSON object on stdout; errors on stderr with exit status 1
 * (2 for bad arguments, 77 when the engine is unavailable on this host). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include <vmm/vmm.h>

#define MAX_REPEATS 10000
#define CONSOLE_MAX 4096

struct capture {
    char buf[CONSOLE_MAX];
    size_t len;
    int on;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v; writes min and median. */
static void summarize(double *v, int n, double *min, double *med)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    *min = v[0];
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static void on_event(const vmm_event_t *ev, void *opaque)
{
    struct capture *cap = opaque;
    if (ev->type != VMM_EVENT_CONSOLE || !cap || !cap->on)
        return;
    size_t room = sizeof(cap->buf) - cap->len;
    size_t n = ev->u.console.len < room ? ev->u.console.len : room;
    memcpy(cap->buf + cap->len, ev->u.console.data, n);
    cap->len += n;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "libvmm_bench: %s: %s\n", what,
            *vmm_last_error() ? vmm_last_error() : vmm_strerror(rc));
    return rc == VMM_ENOTSUP || rc == VMM_EACCES ? 77 : 1;
}

/* Sums a /proc/self/status field in kB ("VmHWM:" ...); -1 if absent. */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t flen = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, flen) == 0) {
            v = strtol(line + flen, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Resident kB of the guest RAM mappings (libvmm's memfd "libvmm-ram"). */
static long guest_rss_kb(void)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int in_ram = 0;
    long total = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ')) {
            in_ram = strstr(line, "libvmm-ram") != NULL;
            continue;
        }
        if (in_ram && strncmp(line, "Rss:", 4) == 0)
            total += strtol(line + 4, NULL, 10);
    }
    fclose(f);
    return total;
}

static void print_json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int make_config(const char *engine, const char *kernel, long mem_mib, const char *initrd,
                       const char *append, vmm_config_t **out)
{
    vmm_config_t *cfg;
    int rc = vmm_config_new(&cfg);
    if (rc)
        return fail("config", rc);
    if ((rc = vmm_config_set_engine(cfg, engine)) || (rc = vmm_config_set_kernel(cfg, kernel)) ||
        (rc = vmm_config_set_memory(cfg, (uint64_t)mem_mib << 20)) ||
        (initrd && (rc = vmm_config_set_initrd(cfg, initrd))) ||
        (append && (rc = vmm_config_set_cmdline(cfg, append)))) {
        vmm_config_free(cfg);
        return fail("config", rc);
    }
    *out = cfg;
    return 0;
}

/* Starts vm and waits for its exit; 0 when it ended by the guest's own
 * poweroff or debug-exit, else an error message and 1. */
static int run_to_exit(vmm_vm_t *vm, vmm_outcome_t *o)
{
    int rc = vmm_vm_start(vm);
    if (rc)
        return fail("vmm_vm_start", rc);
    vmm_vm_wait(vm);
    vmm_vm_outcome(vm, o);
    if (o->kind != VMM_OUTCOME_DEBUG_EXIT && o->kind != VMM_OUTCOME_POWEROFF) {
        fprintf(stderr, "libvmm_bench: guest ended with outcome %d (%s)\n", (int)o->kind, o->reason);
        return 1;
    }
    return 0;
}

/* vmm_vm_destroy() finishes on the loop (the VM's handles close there), so
 * one loop turn belongs to the cost of destroying it. */
static void destroy_now(vmm_host_t *host, vmm_vm_t *vm)
{
    vmm_vm_destroy(vm);
    uv_run(vmm_host_loop(host), UV_RUN_NOWAIT);
}

static int cmd_create(vmm_host_t *host, vmm_config_t *cfg, int repeats)
{
    static double create_us[MAX_REPEATS], destroy_us[MAX_REPEATS], full_us[MAX_REPEATS];
    int rc;
    for (int i = 0; i < repeats; i++) {
        vmm_vm_t *vm;
        uint64_t s = now_ns();
        if ((rc = vmm_vm_create(host, cfg, &vm)))
            return fail("vmm_vm_create", rc);
        uint64_t m = now_ns();
        destroy_now(host, vm);
        uint64_t e = now_ns();
        create_us[i] = (double)(m - s) / 1e3;
        destroy_us[i] = (double)(e - m) / 1e3;
    }
    vmm_outcome_t o = {.size = sizeof(o)};
    for (int i = 0; i < repeats; i++) {
        vmm_vm_t *vm;
        uint64_t s = now_ns();
        if ((rc = vmm_vm_create(host, cfg, &vm)))
            return fail("vmm_vm_create", rc);
        int bad = run_to_exit(vm, &o);
        destroy_now(host, vm);
        if (bad)
            return bad;
        full_us[i] = (double)(now_ns() - s) / 1e3;
    }
    double cmin, cmed, dmin, dmed, fmin, fmed;
    summarize(create_us, repeats, &cmin, &cmed);
    summarize(destroy_us, repeats, &dmin, &dmed);
    summarize(full_us, repeats, &fmin, &fmed);
    printf("{\"repeats\": %d, \"create_us_min\": %.1f, \"create_us_median\": %.1f, "
           "\"destroy_us_min\": %.1f, \"destroy_us_median\": %.1f, "
           "\"create_run_destroy_us_min\": %.1f, \"create_run_destroy_us_median\": %.1f, "
           "\"outcome\": %d, \"exit_code\": %d}\n",
           repeats, cmin, cmed, dmin, dmed, fmin, fmed, (int)o.kind, o.exit_code);
    return 0;
}

static int cmd_run(vmm_host_t *host, vmm_config_t *cfg, int repeats)
{
    static double run_us[MAX_REPEATS];
    static struct capture cap;
    vmm_vcpu_stats_t st = {.size = sizeof(st)};
    vmm_outcome_t o = {.size = sizeof(o)};
    long guest_kb = -1, anon_kb = -1, file_kb = -1;
    int rc;
    for (int i = 0; i < repeats; i++) {
        vmm_vm_t *vm;
        if ((rc = vmm_vm_create(host, cfg, &vm)))
            return fail("vmm_vm_create", rc);
        cap.on = i == 0;
        vmm_vm_set_event_cb(vm, on_event, &cap);
        uint64_t s = now_ns();
        int bad = run_to_exit(vm, &o);
        uint64_t e = now_ns();
        if (!bad && i == 0) {
            vmm_vm_vcpu_stats(vm, 0, &st);
            guest_kb = guest_rss_kb();
            anon_kb = status_kb("RssAnon:");
            file_kb = status_kb("RssFile:");
        }
        destroy_now(host, vm);
        if (bad)
            return bad;
        run_us[i] = (double)(e - s) / 1e3;
    }
    double min, med;
    summarize(run_us, repeats, &min, &med);
    printf("{\"repeats\": %d, \"run_us_min\": %.1f, \"run_us_median\": %.1f, "
           "\"exits\": %llu, \"io_exits\": %llu, \"mmio_exits\": %llu, \"instructions\": %llu, "
           "\"outcome\": %d, \"exit_code\": %d, \"guest_rss_kb\": %ld, \"vm_hwm_kb\": %ld, "
           "\"rss_anon_kb\": %ld, \"rss_file_kb\": %ld, \"tlb_hits\": %llu, \"tlb_misses\": %llu, "
           "\"jit_blocks\": %llu, \"jit_translate_ns\": %llu, \"jit_code_bytes\": %llu, "
           "\"jit_flushes\": %llu, \"jit_block_runs\": %llu, \"jit_lookups\": %llu, \"console\": ",
           repeats, min, med, (unsigned long long)st.exits, (unsigned long long)st.io_exits,
           (unsigned long long)st.mmio_exits, (unsigned long long)st.instructions, (int)o.kind,
           o.exit_code, guest_kb, status_kb("VmHWM:"), anon_kb, file_kb,
           (unsigned long long)st.tlb_hits, (unsigned long long)st.tlb_misses,
           (unsigned long long)st.jit_blocks, (unsigned long long)st.jit_translate_ns,
           (unsigned long long)st.jit_code_bytes, (unsigned long long)st.jit_flushes,
           (unsigned long long)st.jit_block_runs, (unsigned long long)st.jit_lookups);
    print_json_string(cap.buf, cap.len);
    printf("}\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "create") && strcmp(argv[1], "run"))) {
        fprintf(stderr, "usage: libvmm_bench create|run ENGINE KERNEL [REPEATS] [MEM_MIB] [INITRD] "
                        "[CMDLINE]\n");
        return 2;
    }
    int is_create = strcmp(argv[1], "create") == 0;
    int repeats = argc > 4 ? atoi(argv[4]) : (is_create ? 100 : 5);
    long mem_mib = argc > 5 ? strtol(argv[5], NULL, 0) : 256;
    if (repeats < 1 || repeats > MAX_REPEATS || mem_mib < 1 || mem_mib > (1L << 20)) {
        fprintf(stderr, "libvmm_bench: REPEATS must be 1..%d and MEM_MIB 1..%ld\n", MAX_REPEATS,
                1L << 20);
        return 2;
    }
    vmm_config_t *cfg = NULL;
    int status = make_config(argv[2], argv[3], mem_mib, argc > 6 ? argv[6] : NULL,
                             argc > 7 ? argv[7] : NULL, &cfg);
    if (status)
        return status;
    vmm_host_t *host;
    int rc = vmm_host_new(&host, NULL);
    if (rc) {
        vmm_config_free(cfg);
        return fail("vmm_host_new", rc);
    }
    status = is_create ? cmd_create(host, cfg, repeats) : cmd_run(host, cfg, repeats);
    vmm_host_free(host);
    vmm_config_free(cfg);
    return status;
}
