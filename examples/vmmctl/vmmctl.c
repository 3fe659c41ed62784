/* vmmctl — the example CLI: boot a kernel, stream its console to stdout,
 * forward stdin, exit with the guest's outcome.
 *
 *   vmmctl run --kernel PATH [--initrd PATH] [--append STR] [--memory 256M]
 *              [--cpus N] [--engine auto|kvm|soft] [--deterministic] [--no-jit]
 *              [--firmware FW.bin] [--dtb FILE.dtb] [--net SPEC]...
 *              [--console uart|virtio] [--port NAME[=SOCKET]]... [--vsock CID[,SOCKET]]
 *   vmmctl run DOMAIN.xml...   (several: one host, console lines "[name] ")
 *   (run also takes --host-cpus N: the scheduler pool's worker count;
 *   run also takes --qmp unix:PATH,server[,wait=off]: a QMP control socket)
 *   vmmctl qmp ADDRESS COMMAND [JSON-ARGUMENTS]
 *   vmmctl dumpxml DOMAIN.xml
 *   vmmctl validate DOMAIN.xml
 *
 * Exit status: 0 on guest poweroff or reboot, the debug-exit / test-device
 * code when the guest used one, 1 with a one-line reason on a guest crash,
 * 2 on bad input, 130 when stopped with Ctrl-A x.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>
#include <vmm/vmm.h>

#include "mem_cmds.h"
#include "qmp_cmds.h"
#include "multi.h"
#include "relay.h"
#include "xml_cmds.h"

#define MAX_RELAYS 17 /* the virtio console and 16 named ports */

struct run_ctx {
    vmm_vm_t *vm;
    uv_tty_t tty;
    uv_pipe_t pipe;
    uv_stream_t *in;
    int saw_ctrl_a;
    int quit;
    /* unix-socket relays for the virtio console and named ports */
    struct relay *relays[MAX_RELAYS];
    unsigned nr_relays;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vmmctl run --kernel PATH [--initrd PATH] [--append STR] [--memory SIZE]\n"
            "                  [--cpus N] [--engine auto|kvm|soft] [--deterministic]\n"
            "                  [--no-jit]   (soft engine: interpret, do not translate)\n"
            "                  [--firmware FW.bin] [--dtb FILE.dtb]   (riscv64)\n"
            "                  [--disk PATH[,ro][,serial=ID]]... [--rng]\n"
            "                  [--incoming file:PATH|tcp:HOST:PORT|unix:PATH [--incoming-map]]\n"
            "                  [--pause-at INSTRUCTIONS]   (soft engine)\n"
            "                  [--net SPEC]...   (virtio-net NICs, in order)\n"
            "                  [--qmp unix:PATH,server[,wait=off]]\n"
            "                  [--console uart|virtio] [--port NAME[=SOCKET]]...\n"
            "                  [--vsock CID[,SOCKET]]\n"
            "       vmmctl run [--host-cpus N] DOMAIN.xml...\n"
            "       vmmctl qmp ADDRESS COMMAND [JSON-ARGUMENTS]\n"
            "       vmmctl dumpxml DOMAIN.xml\n"
            "       vmmctl validate DOMAIN.xml\n"
            "       vmmctl version\n"
            "SIZE takes K, M, G suffixes (powers of 1024). Ctrl-A x quits an interactive run.\n"
            "--disk attaches a raw image on virtio-blk (vda, vdb, ... in order; ro: read-only);\n"
            "--rng a virtio-rng fed by the host's getrandom().\n"
            "--host-cpus N: soft-engine vCPUs run on a pool of N worker threads (default:\n"
            "  one per host CPU), shared by <cputune> shares and capped by its quotas.\n"
            "Several DOMAIN.xml files run in one host (one pool); each console line is\n"
            "  prefixed \"[name] \"; vmmctl ends when all have, with the status of the\n"
            "  first that ended non-zero.\n"
            "--incoming continues the machine a snapshot file holds, or a live migration\n"
            "coming over TCP or a unix socket (same machine arguments as its source);\n"
            "--incoming-map maps a snapshot's memory copy-on-write instead of reading it.\n"
            "--pause-at N pauses the VM once vCPU 0 retired N instructions (with\n"
            "  --deterministic, at the same point in every run; --qmp can then save it).\n"
            "--net SPEC, each optionally followed by ,mac=52:54:00:xx:xx:xx:\n"
            "  tap=NAME                        an existing tap device\n"
            "  tap=NAME,managed | tap=,managed create the tap (kernel-chosen name when empty);\n"
            "                                  it disappears when the VM ends\n"
            "  udp=LPORT:RHOST:RPORT[,local=A] a frame per UDP datagram, bound to A:LPORT\n"
            "                                  (default 0.0.0.0), to RHOST:RPORT\n"
            "                                  (QEMU -netdev dgram)\n"
            "  stream=server:[ADDR:]PORT       length-prefixed frames on TCP, listening\n"
            "  stream=client:HOST:PORT         ... connecting (retries every second)\n"
            "  stream=server:/PATH | stream=client:/PATH   the same on a unix socket\n"
            "                                  (QEMU -netdev stream)\n"
            "--qmp serves QEMU's QMP on a socket (QEMU's -qmp syntax; tcp:HOST:PORT too);\n"
            "without wait=off the guest starts once a client connected. `vmmctl qmp`\n"
            "sends one command to such a socket and prints the reply.\n"
            "--console virtio: the console is a virtio-console (hvc) instead of the UART;\n"
            "  boot the guest with console=hvc0 (hvc1 on riscv64 kernels with the SBI hvc).\n"
            "--port NAME=SOCKET: a named virtio-console port (/dev/vport*p*), served on the\n"
            "  unix socket SOCKET; without =SOCKET its output is dropped.\n"
            "--vsock CID,SOCKET: virtio-vsock with guest CID; the host side listens on SOCKET\n"
            "  (\"CONNECT <port>\\n\" -> \"OK <hostport>\\n\"; guest connections to host port P\n"
            "  go to SOCKET_P). Channels/consoles of type unix in a domain are served alike.\n"
            VMMCTL_MEM_USAGE);
}

/* libvmm prints nothing by itself: vmmctl shows its warnings (and, with
 * VMMCTL_DEBUG=1 in the environment, its debug log) on stderr. */
static void on_log(vmm_log_level_t level, const char *msg, void *opaque)
{
    static const char *names[] = { "error", "warning", "info", "debug" };
    fprintf(stderr, "vmmctl: %s: %s\n", names[level <= VMM_LOG_DEBUG ? level : VMM_LOG_DEBUG], msg);
}

/* --disk PATH[,ro][,serial=ID]: the next free target vda, vdb, ... */
static int add_disk_option(vmm_config_t *cfg, const char *arg)
{
    char *copy = strdup(arg);
    if (!copy)
        return VMM_ENOMEM;
    vmm_disk_config_t d = { .size = sizeof(d) };
    char target[8];
    unsigned n = vmm_config_disk_count(cfg);
    if (n >= 26) {
        free(copy);
        fprintf(stderr, "vmmctl: --disk: at most 26 disks from the command line\n");
        return VMM_ERANGE;
    }
    snprintf(target, sizeof(target), "vd%c", 'a' + n);
    d.target = target;
    char *save = NULL;
    d.path = strtok_r(copy, ",", &save);
    for (char *opt; (opt = strtok_r(NULL, ",", &save));) {
        if (strcmp(opt, "ro") == 0) {
            d.readonly = 1;
        } else if (strncmp(opt, "serial=", 7) == 0) {
            d.serial = opt + 7;
        } else {
            fprintf(stderr, "vmmctl: --disk '%s': unknown option '%s' (ro, serial=ID)\n", arg, opt);
            free(copy);
            return VMM_EINVAL;
        }
    }
    /* A relative path is taken from the working directory. */
    char abs[4096];
    if (d.path && d.path[0] != '/' && realpath(d.path, abs))
        d.path = abs;
    int rc = vmm_config_add_disk(cfg, &d);
    free(copy);
    return rc;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "vmmctl: %s: %s\n", what, *vmm_last_error() ? vmm_last_error() : vmm_strerror(rc));
    return 2;
}

static int parse_size(const char *s, uint64_t *out)
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
    case '\0': break;
    default: return -1;
    }
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end)
        return -1;
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* --- --net ---------------------------------------------------------------- */

static int parse_port(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 65535 || s[0] == '-')
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (strlen(s) != 17 ||
        sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

/* Parses one --net SPEC (see usage()) and adds the NIC. 0 or exit status 2. */
static int add_net_option(vmm_config_t *cfg, const char *spec)
{
    char buf[512];
    if (strlen(spec) >= sizeof(buf)) {
        fprintf(stderr, "vmmctl: --net '%.64s...' too long\n", spec);
        return 2;
    }
    snprintf(buf, sizeof(buf), "%s", spec);
    vmm_net_config_t nic = { .size = sizeof(nic) };
    char *opts = strchr(buf, ',');
    if (opts)
        *opts++ = '\0';
    char *val = strchr(buf, '=');
    if (!val)
        goto bad;
    *val++ = '\0';
    const char *local = "0.0.0.0";
    for (char *o = opts; o && *o;) {
        char *next = strchr(o, ',');
        if (next)
            *next++ = '\0';
        if (!strncmp(o, "mac=", 4)) {
            if (parse_mac(o + 4, nic.mac)) {
                fprintf(stderr, "vmmctl: --net: MAC '%s' is not xx:xx:xx:xx:xx:xx\n", o + 4);
                return 2;
            }
        } else if (!strcmp(o, "managed")) {
            nic.managed = 1;
        } else if (!strncmp(o, "local=", 6)) {
            local = o + 6;
        } else {
            fprintf(stderr, "vmmctl: --net: unknown option '%s'\n", o);
            return 2;
        }
        o = next;
    }
    if (!strcmp(buf, "tap")) {
        nic.type = VMM_NET_TAP;
        nic.tap = *val ? val : NULL;
    } else if (!strcmp(buf, "udp")) {
        /* LPORT:RHOST:RPORT, RHOST an IPv4 address or a [bracketed] IPv6 one */
        char *c1 = strchr(val, ':'), *c2 = c1 ? strrchr(c1 + 1, ':') : NULL;
        if (!c1 || !c2)
            goto bad;
        *c1 = *c2 = '\0';
        char *host = c1 + 1;
        size_t hl = strlen(host);
        if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
            host[hl - 1] = '\0';
            host++;
        }
        nic.type = VMM_NET_UDP;
        nic.address = host;
        nic.local_address = local;
        if (parse_port(val, &nic.local_port) || parse_port(c2 + 1, &nic.port))
            goto bad;
    } else if (!strcmp(buf, "stream")) {
        char *rest;
        if (!strncmp(val, "server:", 7)) {
            nic.type = VMM_NET_SERVER;
            rest = val + 7;
        } else if (!strncmp(val, "client:", 7)) {
            nic.type = VMM_NET_CLIENT;
            rest = val + 7;
        } else {
            goto bad;
        }
        if (rest[0] == '/') {
            nic.address = rest;
        } else {
            char *c = strrchr(rest, ':');
            if (c) {
                *c = '\0';
                nic.address = rest;
                rest = c + 1;
            } else if (nic.type == VMM_NET_CLIENT) {
                goto bad;
            }
            if (parse_port(rest, &nic.port))
                goto bad;
        }
    } else {
        goto bad;
    }
    int rc = vmm_config_add_nic(cfg, &nic);
    if (rc)
        return fail("--net", rc);
    return 0;
bad:
    fprintf(stderr, "vmmctl: --net '%s' not understood (see vmmctl --help)\n", spec);
    return 2;
}

static void on_event(const vmm_event_t *ev, void *opaque)
{
    struct run_ctx *ctx = opaque;
    vmmctl_mem_event(ev);
    if (ev->type == VMM_EVENT_PORT) {
        struct relay *r = relay_find(ctx->relays, ctx->nr_relays, ev->u.port.name);
        if (r && ev->u.port.len)
            relay_guest_output(r, ev->u.port.data, ev->u.port.len);
        return;
    }
    struct relay *con = ev->type == VMM_EVENT_CONSOLE
                            ? relay_find(ctx->relays, ctx->nr_relays, NULL) : NULL;
    if (con) {
        relay_guest_output(con, ev->u.console.data, ev->u.console.len);
        return;
    }
    if (ev->type == VMM_EVENT_CONSOLE) {
        const uint8_t *p = ev->u.console.data;
        size_t left = ev->u.console.len;
        while (left) {
            ssize_t n = write(STDOUT_FILENO, p, left);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            p += n;
            left -= (size_t)n;
        }
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char storage[4096];
    buf->base = storage;
    buf->len = sizeof(storage);
}

static void on_stdin(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct run_ctx *ctx = stream->data;
    if (nread < 0) {
        uv_read_stop(stream);
        return;
    }
    for (ssize_t i = 0; i < nread; i++) {
        unsigned char c = (unsigned char)buf->base[i];
        if (ctx->in == (uv_stream_t *)&ctx->tty) {
            /* Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A (as QEMU). */
            if (ctx->saw_ctrl_a) {
                ctx->saw_ctrl_a = 0;
                if (c == 'x') {
                    ctx->quit = 1;
                    vmm_vm_stop(ctx->vm);
                    return;
                }
                if (c != 0x01)
                    continue;
            } else if (c == 0x01) {
                ctx->saw_ctrl_a = 1;
                continue;
            }
        }
        vmm_vm_console_write(ctx->vm, &c, 1);
    }
}

/* The terminal's settings before vmmctl made it raw. Whatever ends
 * vmmctl — the guest's outcome, Ctrl-A x, exit(), or a signal that kills
 * it (kill, a hang-up, a crash) — puts them back, so the shell is never
 * left in raw mode. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_is_raw;

/* Async-signal-safe: tcsetattr only. */
static void tty_restore(void)
{
    if (tty_is_raw) {
        tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
        tty_is_raw = 0;
    }
}

/* Installed with SA_RESETHAND | SA_NODEFER: the disposition is already
 * the default again, so re-raising ends the process the way the signal
 * would have, exit status and core dump included. */
static void on_deadly_signal(int sig)
{
    int saved_errno = errno;
    tty_restore();
    raise(sig);
    errno = saved_errno; /* only reached for a signal whose default is to continue */
}

static void tty_guard_install(void)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE,
                                SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL };
    static int installed;
    if (installed)
        return;
    installed = 1;
    atexit(tty_restore);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_deadly_signal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction old;
        /* leave a signal the invoking shell set to be ignored ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Makes the terminal on stdin raw, remembering how it was. */
static void tty_make_raw(uv_tty_t *tty)
{
    if (tcgetattr(STDIN_FILENO, &tty_saved) == 0) {
        tty_guard_install();
        tty_is_raw = 1;
    }
    uv_tty_set_mode(tty, UV_TTY_MODE_RAW);
}

static void start_stdin(struct run_ctx *ctx, uv_loop_t *loop)
{
    uv_handle_type t = uv_guess_handle(STDIN_FILENO);
    if (t == UV_TTY && uv_tty_init(loop, &ctx->tty, STDIN_FILENO, 1) == 0) {
        tty_make_raw(&ctx->tty);
        ctx->in = (uv_stream_t *)&ctx->tty;
    } else if (t == UV_NAMED_PIPE && uv_pipe_init(loop, &ctx->pipe, 0) == 0) {
        if (uv_pipe_open(&ctx->pipe, STDIN_FILENO) == 0) {
            ctx->in = (uv_stream_t *)&ctx->pipe;
        } else {
            uv_close((uv_handle_t *)&ctx->pipe, NULL);
        }
    }
    if (!ctx->in)
        return; /* a file or /dev/null: nothing interactive to forward */
    ctx->in->data = ctx;
    uv_read_start(ctx->in, alloc_cb, on_stdin);
    uv_unref((uv_handle_t *)ctx->in); /* stdin alone must not keep us running */
}

static int exit_status(vmm_vm_t *vm, int quit)
{
    vmm_outcome_t o = {.size = sizeof(o)};
    vmm_vm_outcome(vm, &o);
    switch (o.kind) {
    case VMM_OUTCOME_POWEROFF: return 0;
    case VMM_OUTCOME_RESET:
        fprintf(stderr, "vmmctl: guest rebooted (%s)\n", o.reason);
        return 0;
    case VMM_OUTCOME_DEBUG_EXIT: return o.exit_code & 0xff;
    case VMM_OUTCOME_CRASH:
        fprintf(stderr, "vmmctl: guest crashed: %s\n", o.reason);
        return 1;
    case VMM_OUTCOME_STOPPED:
        if (strcmp(o.reason, "migrated") == 0) {
            fprintf(stderr, "vmmctl: the guest went on elsewhere (migrated)\n");
            return 0;
        }
        return quit ? 130 : 1;
    default: return 1;
    }
}

static int status_of(vmm_vm_t *vm)
{
    return exit_status(vm, 0);
}

/* --pause-at: vCPU 0's instruction count to pause at (0: none). */
static uint64_t pause_at;

static void on_paused_at(vmm_vm_t *vm, int status, void *opaque)
{
    (void)opaque;
    vmm_vcpu_stats_t st = { .size = sizeof(st) };
    vmm_vm_vcpu_stats(vm, 0, &st);
    if (status == 0)
        fprintf(stderr, "vmmctl: paused at instruction %llu\n",
                (unsigned long long)st.instructions);
    else
        fprintf(stderr, "vmmctl: --pause-at %llu: %s\n", (unsigned long long)pause_at,
                vmm_last_error());
}

/* --incoming: where the machine's state comes from instead of a boot. */
static const char *incoming_uri;
static unsigned incoming_flags;

/* Listens on tcp:HOST:PORT or unix:PATH and takes one connection. */
static int accept_one(const char *uri, int *out)
{
    int ls = -1;
    if (strncmp(uri, "unix:", 5) == 0) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if (strlen(uri + 5) >= sizeof(a.sun_path)) {
            fprintf(stderr, "vmmctl: --incoming '%s': path too long\n", uri);
            return VMM_EINVAL;
        }
        strcpy(a.sun_path, uri + 5);
        unlink(a.sun_path);
        ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0) {
            fprintf(stderr, "vmmctl: --incoming '%s': %s\n", uri, strerror(errno));
            if (ls >= 0)
                close(ls);
            return VMM_EIO;
        }
    } else {
        char host[256];
        const char *colon = strrchr(uri + 4, ':');
        if (!colon || (size_t)(colon - (uri + 4)) >= sizeof(host)) {
            fprintf(stderr, "vmmctl: --incoming '%s': expected tcp:HOST:PORT\n", uri);
            return VMM_EINVAL;
        }
        memcpy(host, uri + 4, (size_t)(colon - (uri + 4)));
        host[colon - (uri + 4)] = '\0';
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
        if (getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res)) {
            fprintf(stderr, "vmmctl: --incoming '%s': cannot resolve\n", uri);
            return VMM_EINVAL;
        }
        ls = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ls < 0 || bind(ls, res->ai_addr, res->ai_addrlen) < 0 || listen(ls, 1) < 0) {
            fprintf(stderr, "vmmctl: --incoming '%s': %s\n", uri, strerror(errno));
            freeaddrinfo(res);
            if (ls >= 0)
                close(ls);
            return VMM_EIO;
        }
        freeaddrinfo(res);
    }
    int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    close(ls);
    if (fd < 0) {
        fprintf(stderr, "vmmctl: --incoming '%s': %s\n", uri, strerror(errno));
        return VMM_EIO;
    }
    *out = fd;
    return 0;
}

/* A new VM from the config, or with --incoming the one a snapshot file or
 * a migration stream carries (the config given must describe the same
 * machine). file: takes a snapshot or a migration stream written to a file,
 * told apart by their first bytes. */
static int create_vm(vmm_host_t *host, vmm_config_t *cfg, vmm_vm_t **vm)
{
    if (!incoming_uri)
        return vmm_vm_create(host, cfg, vm);
    int fd = -1, rc;
    if (strncmp(incoming_uri, "file:", 5) == 0) {
        char magic[8] = { 0 };
        fd = open(incoming_uri + 5, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
            memcmp(magic, "LVMMSNAP", 8) != 0 && lseek(fd, 0, SEEK_SET) == 0) {
            rc = vmm_vm_incoming(host, fd, cfg, vm);
            close(fd);
            return rc;
        }
        if (fd >= 0)
            close(fd);
        return vmm_vm_restore(host, incoming_uri + 5, cfg, incoming_flags, vm);
    }
    if (strncmp(incoming_uri, "tcp:", 4) && strncmp(incoming_uri, "unix:", 5)) {
        fprintf(stderr, "vmmctl: --incoming '%s': expected file:PATH, tcp:HOST:PORT or "
                "unix:PATH\n", incoming_uri);
        return VMM_EINVAL;
    }
    if ((rc = accept_one(incoming_uri, &fd)))
        return rc;
    rc = vmm_vm_incoming(host, fd, cfg, vm);
    close(fd);
    return rc;
}

/* A relay for the virtio console and each named port of type unix. */
static int open_relays(struct run_ctx *ctx, const vmm_config_t *cfg, uv_loop_t *loop)
{
    const char *path;
    if (vmm_config_virtio_console(cfg, &path) == VMM_CHARDEV_UNIX &&
        relay_open(loop, ctx->vm, NULL, path, &ctx->relays[ctx->nr_relays++]))
        return -1;
    for (unsigned i = 0; i < vmm_config_port_count(cfg) && ctx->nr_relays < MAX_RELAYS; i++) {
        vmm_chardev_type_t type;
        const char *name = vmm_config_port(cfg, i, &type, &path);
        if (type != VMM_CHARDEV_UNIX)
            continue;
        if (relay_open(loop, ctx->vm, name, path, &ctx->relays[ctx->nr_relays++]))
            return -1;
    }
    return 0;
}

static void close_relays(struct run_ctx *ctx, uv_loop_t *loop)
{
    for (unsigned i = 0; i < ctx->nr_relays; i++)
        relay_close(ctx->relays[i]);
    if (ctx->nr_relays)
        uv_run(loop, UV_RUN_NOWAIT); /* runs the close callbacks */
    ctx->nr_relays = 0;
}

/* --vsock CID[,SOCKET] */
static int parse_vsock(vmm_config_t *cfg, const char *arg)
{
    char *end;
    errno = 0;
    unsigned long cid = strtoul(arg, &end, 10);
    if (errno || end == arg || (*end && *end != ',') || cid > UINT32_MAX) {
        fprintf(stderr, "vmmctl: --vsock '%s': expected CID[,SOCKET]\n", arg);
        return 2;
    }
    int rc = vmm_config_set_vsock(cfg, (uint32_t)cid, *end ? end + 1 : NULL);
    return rc ? fail("--vsock", rc) : 0;
}

/* --port NAME[=SOCKET] */
static int parse_named_port(vmm_config_t *cfg, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[128];
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    if (n >= sizeof(name)) {
        fprintf(stderr, "vmmctl: --port '%s': name too long\n", arg);
        return 2;
    }
    memcpy(name, arg, n);
    name[n] = 0;
    int rc = vmm_config_add_port(cfg, name, eq ? VMM_CHARDEV_UNIX : VMM_CHARDEV_NULL,
                                 eq ? eq + 1 : NULL);
    return rc ? fail("--port", rc) : 0;
}

/* --console uart|virtio */
static int parse_console(vmm_config_t *cfg, const char *arg)
{
    int rc;
    if (!strcmp(arg, "virtio"))
        rc = vmm_config_set_virtio_console(cfg, VMM_CHARDEV_STDIO, NULL);
    else if (!strcmp(arg, "uart"))
        rc = vmm_config_set_virtio_console(cfg, VMM_CHARDEV_NONE, NULL);
    else {
        fprintf(stderr, "vmmctl: --console '%s': expected uart or virtio\n", arg);
        return 2;
    }
    return rc ? fail("--console", rc) : 0;
}

/* --host-cpus: the scheduler pool's worker count (0: one per host CPU). */
static unsigned host_cpus;

static int run_config(vmm_config_t *cfg)
{
    vmm_host_t *host;
    int rc = vmm_host_new(&host, NULL);
    if (rc)
        return fail("creating the host", rc);
    if (host_cpus && (rc = vmm_host_set_workers(host, host_cpus))) {
        vmm_host_free(host);
        return fail("--host-cpus", rc);
    }
    if ((rc = vmmctl_mem_host(host))) {
        vmm_host_free(host);
        return rc;
    }
    vmm_vm_t *vm;
    if ((rc = create_vm(host, cfg, &vm))) {
        int status = fail(incoming_uri ? "restoring the VM" : "creating the VM", rc);
        vmm_host_free(host);
        return status;
    }
    if ((rc = vmmctl_mem_vm(vm))) {
        vmm_vm_destroy(vm);
        vmm_host_free(host);
        return rc;
    }
    struct run_ctx ctx = { .vm = vm };
    vmm_vm_set_event_cb(vm, on_event, &ctx);
    /* --qmp: the control socket (qmp_cmds.c) */
    if ((rc = vmmctl_qmp_listen(host, vm))) {
        vmm_vm_destroy(vm);
        vmm_host_free(host);
        return rc;
    }
    if ((rc = vmm_vm_start(vm))) {
        int status = fail("starting the VM", rc);
        vmm_vm_destroy(vm);
        vmm_host_free(host);
        return status;
    }
    if (pause_at && (rc = vmm_vm_pause_at(vm, pause_at, on_paused_at, NULL))) {
        int status = fail("--pause-at", rc);
        vmm_vm_stop(vm);
        vmm_vm_destroy(vm);
        vmm_host_free(host);
        return status;
    }
    /* The sockets open once the VM runs, so a client's first bytes can be
     * queued; no event is delivered before vmm_vm_wait() runs the loop. */
    if (open_relays(&ctx, cfg, vmm_host_loop(host))) {
        vmm_vm_stop(vm);
        close_relays(&ctx, vmm_host_loop(host));
        vmm_vm_destroy(vm);
        vmm_host_free(host);
        return 2;
    }
    start_stdin(&ctx, vmm_host_loop(host));
    vmm_vm_wait(vm);
    vmmctl_qmp_postmigrate(host, vm);
    if (ctx.in) {
        if (ctx.in == (uv_stream_t *)&ctx.tty) {
            uv_tty_reset_mode();
            tty_restore();
        }
        uv_close((uv_handle_t *)ctx.in, NULL);
    }
    int status = exit_status(vm, ctx.quit);
    /* --qmp: a client's quit ends vmmctl as QEMU's does, with 0 */
    if (vmmctl_qmp_quit_requested())
        status = 0;
    vmmctl_qmp_close();
    close_relays(&ctx, vmm_host_loop(host));
    vmm_vm_destroy(vm);
    vmm_host_free(host);
    return status;
}

/* Long options without a short letter. */
#define OPT_NO_JIT 1001

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "kernel", required_argument, NULL, 'k' },
        { "initrd", required_argument, NULL, 'i' },
        { "append", required_argument, NULL, 'a' },
        { "memory", required_argument, NULL, 'm' },
        { "cpus", required_argument, NULL, 'c' },
        { "engine", required_argument, NULL, 'e' },
        { "deterministic", no_argument, NULL, 'd' },
        { "no-jit", no_argument, NULL, OPT_NO_JIT },
        { "firmware", required_argument, NULL, 'f' },
        { "dtb", required_argument, NULL, 'b' },
        { "disk", required_argument, NULL, 'D' },
        { "rng", no_argument, NULL, 'R' },
        { "incoming", required_argument, NULL, 'I' },
        { "incoming-map", no_argument, NULL, 'M' },
        { "net", required_argument, NULL, 'n' },
        { "qmp", required_argument, NULL, 'Q' },
        { "console", required_argument, NULL, 'C' },
        { "port", required_argument, NULL, 'P' },
        { "vsock", required_argument, NULL, 'V' },
        { "host-cpus", required_argument, NULL, 'H' },
        { "pause-at", required_argument, NULL, 1000 },
        { "help", no_argument, NULL, 'h' },
        VMMCTL_MEM_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    vmm_config_t *cfg;
    int rc = vmm_config_new(&cfg);
    if (rc)
        return fail("config", rc);
    int status = 0, opt;
    optind = 1;
    static const char shortopts[] = "k:i:a:m:c:e:df:b:D:RI:Mn:Q:C:P:V:h";
    while (!status && (opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        uint64_t size;
        char *end;
        switch (opt) {
        case 'k': rc = vmm_config_set_kernel(cfg, optarg); break;
        case 'i': rc = vmm_config_set_initrd(cfg, optarg); break;
        case 'a': rc = vmm_config_set_cmdline(cfg, optarg); break;
        case 'e': rc = vmm_config_set_engine(cfg, optarg); break;
        case 'd': rc = vmm_config_set_deterministic(cfg, 1); break;
        case OPT_NO_JIT: rc = vmm_config_set_jit(cfg, 0); break;
        case 'f': rc = vmm_config_set_loader(cfg, optarg); break;
        case 'b': rc = vmm_config_set_dtb(cfg, optarg); break;
        case 'D': rc = add_disk_option(cfg, optarg); break;
        case 'R': rc = vmm_config_set_rng(cfg, 1); break;
        case 'I': incoming_uri = optarg; break;
        case 'M': incoming_flags |= VMM_RESTORE_MAP; break;
        case 1000: {
            errno = 0;
            unsigned long long n = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || n == 0 || optarg[0] == '-') {
                fprintf(stderr, "vmmctl: --pause-at '%s' is not an instruction count above 0\n",
                        optarg);
                status = 2;
                continue;
            }
            pause_at = n;
            continue;
        }
        case 'Q': status = vmmctl_qmp_option(optarg); continue;
        case 'm':
            if (parse_size(optarg, &size)) {
                fprintf(stderr, "vmmctl: --memory '%s' is not a size (e.g. 256M, 1G)\n", optarg);
                status = 2;
                continue;
            }
            rc = vmm_config_set_memory(cfg, size);
            break;
        case 'c': {
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || n < 0 || n > 1000000) {
                fprintf(stderr, "vmmctl: --cpus '%s' is not a count\n", optarg);
                status = 2;
                continue;
            }
            rc = vmm_config_set_vcpus(cfg, (unsigned)n);
            break;
        }
        case 'H': {
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || n < 1 || n > 256) {
                fprintf(stderr, "vmmctl: --host-cpus '%s' is not a worker count 1..256\n",
                        optarg);
                status = 2;
                continue;
            }
            host_cpus = (unsigned)n;
            continue;
        }
        case 'n': status = add_net_option(cfg, optarg); continue;
        case 'C': status = parse_console(cfg, optarg); continue;
        case 'P': status = parse_named_port(cfg, optarg); continue;
        case 'V': status = parse_vsock(cfg, optarg); continue;
        case 'h': usage(stdout); vmm_config_free(cfg); return 0;
        case VMMCTL_OPT_BALLOON:
        case VMMCTL_OPT_CURRENT_MEMORY:
        case VMMCTL_OPT_MEMORY_POOL:
        case VMMCTL_OPT_OVERCOMMIT:
        case VMMCTL_OPT_MEMORY_LIMIT: status = vmmctl_mem_option(cfg, opt, optarg); continue;
        default: usage(stderr); status = 2; continue;
        }
        if (rc)
            status = fail(opt == 'm' ? "--memory" : opt == 'c' ? "--cpus" : opt == 'D' ? "--disk" : "option", rc);
    }
    if (!status && optind < argc) {
        /* A domain XML file stands in for the options. */
        if (optind + 1 != argc) {
            /* Several domains: one host runs them all. */
            vmm_config_free(cfg);
            return vmmctl_run_many(argv + optind, argc - optind, host_cpus, status_of);
        } else {
            vmm_config_free(cfg);
            cfg = NULL;
            status = vmmctl_load_domain(argv[optind], &cfg);
        }
    }
    if (!status && !vmm_config_kernel(cfg)) {
        fprintf(stderr, "vmmctl: run needs --kernel PATH or a domain XML file\n");
        status = 2;
    }
    if (!status)
        status = run_config(cfg);
    vmm_config_free(cfg);
    return status;
}

int main(int argc, char **argv)
{
    const char *debug = getenv("VMMCTL_DEBUG");
    vmm_set_log_cb(on_log, debug && *debug == '1' ? VMM_LOG_DEBUG : VMM_LOG_WARN, NULL);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "qmp") == 0)
        return vmmctl_cmd_qmp(argc - 1, argv + 1);
    if (strcmp(cmd, "memstat") == 0)
        return vmmctl_cmd_memstat(argc - 1, argv + 1);
    if (strcmp(cmd, "dumpxml") == 0)
        return vmmctl_cmd_dumpxml(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return vmmctl_cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0) {
        printf("vmmctl %s\n", vmm_version());
        return 0;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "vmmctl: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
