/* embed-poll — running a VM from a program whose event loop is plain poll(2),
 * not libuv (the same applies to GLib, Qt, or an epoll loop of your own).
 *
 *   embed-poll KERNEL [SECONDS]
 *
 * Boots KERNEL on a host that owns its libuv loop, forwards stdin to the
 * guest console and the console to stdout, and after SECONDS (default 10) or
 * on Ctrl-C asks for an asynchronous stop; the completion callback reports
 * it. The program never calls libuv: libvmm's whole loop is one fd
 * (vmm_host_backend_fd) plus a timeout (vmm_host_backend_timeout), and
 * vmm_host_run(host, VMM_RUN_NOWAIT) does the work whenever either fires.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmm/vmm.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void on_vm_event(const vmm_event_t *ev, void *opaque)
{
    (void)opaque;
    if (ev->type == VMM_EVENT_CONSOLE) {
        fwrite(ev->u.console.data, 1, ev->u.console.len, stdout);
        fflush(stdout);
    } else if (ev->type == VMM_EVENT_STATE) {
        fprintf(stderr, "embed-poll: state %d -> %d\n", ev->u.state.old_state,
                ev->u.state.new_state);
    }
}

static void on_stopped(vmm_vm_t *vm, int status, void *opaque)
{
    (void)opaque;
    const char *why = "";
    if (status)
        vmm_vm_last_error(vm, &why);
    fprintf(stderr, "embed-poll: stop completed: %s%s%s\n", vmm_err_name(status),
            status ? ": " : "", why);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: embed-poll KERNEL [SECONDS]\n");
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 10;

    vmm_host_t *host;
    vmm_config_t *cfg;
    vmm_vm_t *vm;
    if (vmm_host_new(&host, NULL) || vmm_config_new(&cfg)) {
        fprintf(stderr, "embed-poll: %s\n", vmm_last_error());
        return 1;
    }
    vmm_config_set_kernel(cfg, argv[1]);
    vmm_config_set_memory(cfg, 64 << 20);
    int rc = vmm_vm_create(host, cfg, &vm);
    vmm_config_free(cfg);
    if (!rc) {
        vmm_vm_set_event_cb(vm, on_vm_event, NULL);
        rc = vmm_vm_start(vm);
    }
    if (rc) {
        fprintf(stderr, "embed-poll: %s: %s\n", vmm_err_name(rc), vmm_last_error());
        return 1;
    }
    signal(SIGINT, on_sigint);

    struct pollfd fds[2] = {
        { .fd = vmm_host_backend_fd(host), .events = POLLIN },
        { .fd = STDIN_FILENO, .events = POLLIN },
    };
    double deadline = now() + seconds;
    int stopping = 0;
    /* vmm_host_run() returns how many VMs and operations are left: 0 ends it. */
    while (vmm_host_run(host, VMM_RUN_NOWAIT) > 0) {
        if (!stopping && (interrupted || now() >= deadline)) {
            if (vmm_vm_stop_async(vm, on_stopped, NULL) == 0)
                stopping = 1;
        }
        int timeout;
        vmm_host_backend_timeout(host, &timeout);
        int until_deadline = stopping ? -1 : (int)((deadline - now()) * 1000) + 1;
        if (until_deadline >= 0 && (timeout < 0 || timeout > until_deadline))
            timeout = until_deadline;
        if (poll(fds, fds[1].fd >= 0 ? 2 : 1, timeout) < 0 && errno != EINTR) {
            perror("embed-poll: poll");
            break;
        }
        if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
            char buf[256];
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n <= 0)
                fds[1].fd = -1; /* stdin closed: stop watching it */
            else
                vmm_vm_console_write(vm, buf, (size_t)n);
        }
    }

    vmm_outcome_t out = {.size = sizeof(out)};
    vmm_vm_outcome(vm, &out);
    printf("\nembed-poll: outcome %d exit_code %d (%s)\n", out.kind, out.exit_code, out.reason);
    vmm_vm_destroy(vm);
    vmm_host_run(host, VMM_RUN_NOWAIT); /* completes the VM's handle close */
    vmm_host_free(host);
    return 0;
}
