/* embed-uv — running a VM on a libuv loop the host program owns.
 *
 *   embed-uv KERNEL [SECONDS]
 *
 * Boots KERNEL with the console on stdout, prints the vCPU counters every
 * second from a uv_timer on the same loop, and stops the VM after SECONDS
 * (default 10) or on Ctrl-C. The host program keeps full control of the
 * loop: libvmm only adds its handles to it and delivers events on it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>
#include <vmm/vmm.h>

struct app {
    vmm_vm_t *vm;
    uv_timer_t stats_timer;
    uv_timer_t deadline;
    uv_signal_t sigint;
    int ticks;
};

static void close_app_handles(struct app *a)
{
    uv_timer_stop(&a->stats_timer);
    uv_timer_stop(&a->deadline);
    uv_signal_stop(&a->sigint);
    uv_close((uv_handle_t *)&a->stats_timer, NULL);
    uv_close((uv_handle_t *)&a->deadline, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
}

static void on_vm_event(const vmm_event_t *ev, void *opaque)
{
    struct app *a = opaque;
    if (ev->type == VMM_EVENT_CONSOLE) {
        fwrite(ev->u.console.data, 1, ev->u.console.len, stdout);
        fflush(stdout);
    } else if (ev->type == VMM_EVENT_STATE) {
        fprintf(stderr, "embed-uv: state %d -> %d\n", ev->u.state.old_state, ev->u.state.new_state);
        if (ev->u.state.new_state == VMM_STATE_SHUTOFF || ev->u.state.new_state == VMM_STATE_CRASHED)
            close_app_handles(a); /* nothing left to do: let uv_run return */
    }
}

static void on_stats(uv_timer_t *t)
{
    struct app *a = t->data;
    vmm_vcpu_stats_t s = {.size = sizeof(s)};
    if (vmm_vm_vcpu_stats(a->vm, 0, &s) == 0)
        fprintf(stderr, "embed-uv: t=%ds exits=%llu io=%llu mmio=%llu instructions=%llu\n",
                ++a->ticks, (unsigned long long)s.exits, (unsigned long long)s.io_exits,
                (unsigned long long)s.mmio_exits, (unsigned long long)s.instructions);
}

static void on_deadline(uv_timer_t *t)
{
    struct app *a = t->data;
    vmm_vm_stop(a->vm);
}

static void on_sigint(uv_signal_t *s, int signum)
{
    struct app *a = s->data;
    vmm_vm_stop(a->vm);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: embed-uv KERNEL [SECONDS]\n");
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 10;

    uv_loop_t loop; /* ours, not libvmm's */
    uv_loop_init(&loop);

    vmm_host_t *host;
    vmm_config_t *cfg;
    struct app a = { 0 };
    if (vmm_host_new(&host, &loop) || vmm_config_new(&cfg)) {
        fprintf(stderr, "embed-uv: %s\n", vmm_last_error());
        return 1;
    }
    vmm_config_set_kernel(cfg, argv[1]);
    vmm_config_set_memory(cfg, 64 << 20);
    int rc = vmm_vm_create(host, cfg, &a.vm);
    vmm_config_free(cfg);
    if (rc) {
        fprintf(stderr, "embed-uv: %s\n", vmm_last_error());
        vmm_host_free(host);
        return 1;
    }
    vmm_vm_set_event_cb(a.vm, on_vm_event, &a);

    uv_timer_init(&loop, &a.stats_timer);
    uv_timer_init(&loop, &a.deadline);
    uv_signal_init(&loop, &a.sigint);
    a.stats_timer.data = a.deadline.data = a.sigint.data = &a;
    uv_timer_start(&a.stats_timer, on_stats, 1000, 1000);
    uv_timer_start(&a.deadline, on_deadline, (uint64_t)(seconds * 1000), 0);
    uv_signal_start(&a.sigint, on_sigint, SIGINT);

    if (vmm_vm_start(a.vm)) {
        fprintf(stderr, "embed-uv: %s\n", vmm_last_error());
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* the host program's own loop */

    vmm_outcome_t out = {.size = sizeof(out)};
    vmm_vm_outcome(a.vm, &out);
    printf("\nembed-uv: outcome %d exit_code %d (%s)\n", out.kind, out.exit_code, out.reason);
    vmm_vm_destroy(a.vm);
    vmm_host_free(host);
    uv_run(&loop, UV_RUN_DEFAULT); /* completes the VM's handle close */
    uv_loop_close(&loop);
    return 0;
}
