/* vmmctl — the example CLI: boot a kernel, stream its console to stdout,
 * forward stdin, exit with the guest's outcome.
 *
 *   vmmctl run --kernel PATH [--initrd PATH] [--append STR] [--memory 256M]
 *              [--cpus N] [--engine auto|kvm|soft] [--deterministic]
 *              [--firmware FW.bin] [--dtb FILE.dtb]
 *              [--console uart|virtio] [--port NAME[=SOCKET]]... [--vsock CID[,SOCKET]]
 *   vmmctl run DOMAIN.xml
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>
#include <vmm/vmm.h>

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
            "                  [--firmware FW.bin] [--dtb FILE.dtb]   (riscv64)\n"
            "                  [--console uart|virtio] [--port NAME[=SOCKET]]...\n"
            "                  [--vsock CID[,SOCKET]]\n"
            "       vmmctl run DOMAIN.xml\n"
            "       vmmctl dumpxml DOMAIN.xml\n"
            "       vmmctl validate DOMAIN.xml\n"
            "       vmmctl version\n"
            "SIZE takes K, M, G suffixes (powers of 1024). Ctrl-A x quits an interactive run.\n"
            "--console virtio: the console is a virtio-console (hvc) instead of the UART;\n"
            "  boot the guest with console=hvc0 (hvc1 on riscv64 kernels with the SBI hvc).\n"
            "--port NAME=SOCKET: a named virtio-console port (/dev/vport*p*), served on the\n"
            "  unix socket SOCKET; without =SOCKET its output is dropped.\n"
            "--vsock CID,SOCKET: virtio-vsock with guest CID; the host side listens on SOCKET\n"
            "  (\"CONNECT <port>\\n\" -> \"OK <hostport>\\n\"; guest connections to host port P\n"
            "  go to SOCKET_P). Channels/consoles of type unix in a domain are served alike.\n");
}

/* libvmm prints nothing by itself: vmmctl shows its warnings (and, with
 * VMMCTL_DEBUG=1 in the environment, its debug log) on stderr. */
static void on_log(vmm_log_level_t level, const char *msg, void *opaque)
{
    static const char *names[] = { "error", "warning", "info", "debug" };
    fprintf(stderr, "vmmctl: %s: %s\n", names[level <= VMM_LOG_DEBUG ? level : VMM_LOG_DEBUG], msg);
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

static void on_event(const vmm_event_t *ev, void *opaque)
{
    struct run_ctx *ctx = opaque;
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
    case VMM_OUTCOME_STOPPED: return quit ? 130 : 1;
    default: return 1;
    }
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
static int parse_port(vmm_config_t *cfg, const char *arg)
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

static int run_config(vmm_config_t *cfg)
{
    vmm_host_t *host;
    int rc = vmm_host_new(&host, NULL);
    if (rc)
        return fail("creating the host", rc);
    vmm_vm_t *vm;
    if ((rc = vmm_vm_create(host, cfg, &vm))) {
        int status = fail("creating the VM", rc);
        vmm_host_free(host);
        return status;
    }
    struct run_ctx ctx = { .vm = vm };
    vmm_vm_set_event_cb(vm, on_event, &ctx);
    if ((rc = vmm_vm_start(vm))) {
        int status = fail("starting the VM", rc);
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
    if (ctx.in) {
        if (ctx.in == (uv_stream_t *)&ctx.tty) {
            uv_tty_reset_mode();
            tty_restore();
        }
        uv_close((uv_handle_t *)ctx.in, NULL);
    }
    int status = exit_status(vm, ctx.quit);
    close_relays(&ctx, vmm_host_loop(host));
    vmm_vm_destroy(vm);
    vmm_host_free(host);
    return status;
}

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
        { "firmware", required_argument, NULL, 'f' },
        { "dtb", required_argument, NULL, 'b' },
        { "console", required_argument, NULL, 'C' },
        { "port", required_argument, NULL, 'P' },
        { "vsock", required_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    vmm_config_t *cfg;
    int rc = vmm_config_new(&cfg);
    if (rc)
        return fail("config", rc);
    int status = 0, opt;
    optind = 1;
    static const char shortopts[] = "k:i:a:m:c:e:df:b:C:P:V:h";
    while (!status && (opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        uint64_t size;
        char *end;
        switch (opt) {
        case 'k': rc = vmm_config_set_kernel(cfg, optarg); break;
        case 'i': rc = vmm_config_set_initrd(cfg, optarg); break;
        case 'a': rc = vmm_config_set_cmdline(cfg, optarg); break;
        case 'e': rc = vmm_config_set_engine(cfg, optarg); break;
        case 'd': rc = vmm_config_set_deterministic(cfg, 1); break;
        case 'f': rc = vmm_config_set_loader(cfg, optarg); break;
        case 'b': rc = vmm_config_set_dtb(cfg, optarg); break;
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
        case 'C': status = parse_console(cfg, optarg); continue;
        case 'P': status = parse_port(cfg, optarg); continue;
        case 'V': status = parse_vsock(cfg, optarg); continue;
        case 'h': usage(stdout); vmm_config_free(cfg); return 0;
        default: usage(stderr); status = 2; continue;
        }
        if (rc)
            status = fail(opt == 'm' ? "--memory" : opt == 'c' ? "--cpus" : "option", rc);
    }
    if (!status && optind < argc) {
        /* A domain XML file stands in for the options. */
        if (optind + 1 != argc) {
            usage(stderr);
            status = 2;
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
