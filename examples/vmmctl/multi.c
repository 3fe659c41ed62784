#include "multi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xml_cmds.h"

#define LINE_MAX_BYTES 4096

struct guest {
    vmm_vm_t *vm;
    const char *name;
    char line[LINE_MAX_BYTES]; /* the line being written, not yet shown */
    size_t len;
    int ended;
    int status;
};

struct many {
    struct guest *g;
    int n;
    int (*status_of)(vmm_vm_t *vm);
    int first_failure; /* exit status of the first VM to end non-zero */
    int left;
};

static struct many *many_ctx;

static void write_all(const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(STDOUT_FILENO, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        len -= (size_t)w;
    }
}

/* Shows the buffered line with its "[name] " prefix, in one write so
 * that lines of different VMs never mix. */
static void flush_line(struct guest *g)
{
    char out[LINE_MAX_BYTES + 96];
    int plen = snprintf(out, sizeof(out), "[%s] ", g->name);
    if (plen < 0 || (size_t)plen >= sizeof(out) - LINE_MAX_BYTES - 1)
        plen = 0;
    memcpy(out + plen, g->line, g->len);
    size_t n = (size_t)plen + g->len;
    if (!g->len || g->line[g->len - 1] != '\n')
        out[n++] = '\n';
    write_all(out, n);
    g->len = 0;
}

/* Console bytes: whole lines, each with its prefix (a line longer than
 * the buffer is shown in pieces). */
static void show_console(struct guest *g, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        g->line[g->len++] = (char)data[i];
        if (data[i] == '\n' || g->len == LINE_MAX_BYTES)
            flush_line(g);
    }
}

static void on_event(const vmm_event_t *ev, void *opaque)
{
    struct guest *g = opaque;
    if (ev->type == VMM_EVENT_CONSOLE) {
        show_console(g, ev->u.console.data, ev->u.console.len);
        return;
    }
    if (ev->type != VMM_EVENT_STATE || g->ended)
        return;
    vmm_state_t s = ev->u.state.new_state;
    if (s != VMM_STATE_SHUTOFF && s != VMM_STATE_CRASHED)
        return;
    g->ended = 1;
    if (g->len)
        flush_line(g); /* its last words, unterminated */
    g->status = many_ctx->status_of(g->vm);
    if (g->status && !many_ctx->first_failure)
        many_ctx->first_failure = g->status;
    many_ctx->left--;
}

int vmmctl_run_many(char *const *paths, int n, unsigned workers, int (*status_of)(vmm_vm_t *vm))
{
    vmm_host_t *host;
    int rc = vmm_host_new(&host, NULL);
    if (rc) {
        fprintf(stderr, "vmmctl: creating the host: %s\n", vmm_last_error());
        return 2;
    }
    if (workers && (rc = vmm_host_set_workers(host, workers))) {
        fprintf(stderr, "vmmctl: --host-cpus: %s\n", vmm_last_error());
        vmm_host_free(host);
        return 2;
    }
    struct many m = { .n = n, .status_of = status_of };
    m.g = calloc((size_t)n, sizeof(*m.g));
    if (!m.g) {
        vmm_host_free(host);
        return 2;
    }
    many_ctx = &m;
    int status = 0;
    for (int i = 0; i < n && !status; i++) {
        vmm_config_t *cfg;
        if (vmmctl_load_domain(paths[i], &cfg)) {
            status = 2;
            break;
        }
        if (!vmm_config_kernel(cfg)) {
            fprintf(stderr, "vmmctl: %s: the domain has no kernel\n", paths[i]);
            vmm_config_free(cfg);
            status = 2;
            break;
        }
        rc = vmm_vm_create(host, cfg, &m.g[i].vm);
        vmm_config_free(cfg);
        if (rc) {
            fprintf(stderr, "vmmctl: %s: creating the VM: %s\n", paths[i], vmm_last_error());
            status = 2;
            break;
        }
        m.g[i].name = vmm_config_name(vmm_vm_config(m.g[i].vm));
        if (!m.g[i].name)
            m.g[i].name = paths[i];
        vmm_vm_set_event_cb(m.g[i].vm, on_event, &m.g[i]);
    }
    for (int i = 0; i < n && !status; i++) {
        if ((rc = vmm_vm_start(m.g[i].vm))) {
            fprintf(stderr, "vmmctl: %s: starting the VM: %s\n", paths[i], vmm_last_error());
            status = 2;
            break;
        }
        m.left++;
    }
    if (status) {
        /* All or none: stop those already started. */
        for (int i = 0; i < n; i++)
            if (m.g[i].vm && vmm_vm_state(m.g[i].vm) != VMM_STATE_DEFINED)
                vmm_vm_stop(m.g[i].vm);
    } else {
        while (m.left > 0)
            uv_run(vmm_host_loop(host), UV_RUN_ONCE);
        status = m.first_failure;
    }
    for (int i = 0; i < n; i++)
        vmm_vm_destroy(m.g[i].vm);
    vmm_host_free(host);
    free(m.g);
    many_ctx = NULL;
    return status;
}
