/* A program built against an older libvmm: compiled with the headers in
 * tests/abi/old-include/ (the sized structs without the fields added since:
 * vmm_vcpu_stats_t without the tlb_* counters, vmm_vcpu_regs_t without mode,
 * vmm_outcome_t without reason, vmm_event_t without the restart member,
 * vmm_disk_config_t without serial), linked against the library just built.
 *
 *   old_caller GUEST.elf     (the soft engine's echo guest)
 *
 * It must work unchanged: the library fills only the bytes the old structs
 * have (canaries right behind each struct stay intact), reads only the bytes
 * the old disk config has, and hands out events whose prefix is the old
 * event. Exit 0 on success, 1 on a failure (printed), 77 to skip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vmm/vmm.h>

#define CANARY 0xa5a5a5a5a5a5a5a5ULL
#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (64ULL << 20)

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                 \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

struct run {
    char console[4096];
    size_t len;
    unsigned events;
    int bad_event_size;
};

static void on_event(const vmm_event_t *ev, void *opaque)
{
    struct run *r = opaque;
    r->events++;
    /* The library's event is at least as large as the one we know. */
    if (ev->size < sizeof(*ev))
        r->bad_event_size = 1;
    if (ev->type == VMM_EVENT_CONSOLE) {
        size_t n = ev->u.console.len;
        if (n > sizeof(r->console) - 1 - r->len)
            n = sizeof(r->console) - 1 - r->len;
        memcpy(r->console + r->len, ev->u.console.data, n);
        r->len += n;
        r->console[r->len] = '\0';
    }
}

/* Runs the host loop until pred holds or 20 s pass. */
static int run_until(vmm_host_t *host, int (*pred)(void *), void *arg)
{
    time_t deadline = time(NULL) + 20;
    while (!pred(arg) && time(NULL) < deadline) {
        vmm_host_run(host, VMM_RUN_NOWAIT);
        usleep(1000);
    }
    return pred(arg);
}

static int console_ready(void *arg)
{
    return strstr(((struct run *)arg)->console, "ready\n") != NULL;
}

static int vm_final(void *arg)
{
    vmm_state_t s = vmm_vm_state(arg);
    return s == VMM_STATE_SHUTOFF || s == VMM_STATE_CRASHED;
}

static void old_disk_config_is_read_as_far_as_it_goes(void)
{
    vmm_config_t *cfg;
    CHECK(vmm_config_new(&cfg) == 0, "%s", vmm_last_error());
    vmm_disk_config_t d = {
        .size = sizeof(d), .path = "/img/old.raw", .target = "vda", .readonly = 1};
    CHECK(vmm_config_add_disk(cfg, &d) == 0, "%s", vmm_last_error());
    const vmm_disk_config_t *got = vmm_config_disk(cfg, 0);
    CHECK(got && strcmp(got->path, "/img/old.raw") == 0 && got->readonly == 1, "disk read back");
    CHECK(got && got->size == vmm_struct_size(VMM_STRUCT_DISK_CONFIG),
          "the library's copy carries the library's size");
    char *xml = NULL;
    CHECK(vmm_config_set_kernel(cfg, "/boot/k") == 0, "%s", vmm_last_error());
    CHECK(vmm_config_to_xml(cfg, &xml) == 0 || strstr(vmm_last_error(), "libxml2"), "%s",
          vmm_last_error());
    if (xml)
        CHECK(strstr(xml, "<serial>") == NULL, "no serial the old program never set:\n%s", xml);
    free(xml);
    vmm_config_free(cfg);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: old_caller GUEST.elf\n");
        return 2;
    }
    if (access(argv[1], R_OK) != 0) {
        printf("SKIP: guest %s not built\n", argv[1]);
        return 77;
    }
    printf("old sizes: stats %zu regs %zu outcome %zu event %zu disk %zu\n",
           sizeof(vmm_vcpu_stats_t), sizeof(vmm_vcpu_regs_t), sizeof(vmm_outcome_t),
           sizeof(vmm_event_t), sizeof(vmm_disk_config_t));
    printf("library sizes: stats %zu regs %zu outcome %zu event %zu disk %zu\n",
           vmm_struct_size(VMM_STRUCT_VCPU_STATS), vmm_struct_size(VMM_STRUCT_VCPU_REGS),
           vmm_struct_size(VMM_STRUCT_OUTCOME), vmm_struct_size(VMM_STRUCT_EVENT),
           vmm_struct_size(VMM_STRUCT_DISK_CONFIG));
    /* The point of the test: this program's structs are the smaller ones. */
    CHECK(sizeof(vmm_vcpu_stats_t) < vmm_struct_size(VMM_STRUCT_VCPU_STATS), "stats older");
    CHECK(sizeof(vmm_vcpu_regs_t) < vmm_struct_size(VMM_STRUCT_VCPU_REGS), "regs older");
    CHECK(sizeof(vmm_outcome_t) < vmm_struct_size(VMM_STRUCT_OUTCOME), "outcome older");
    CHECK(sizeof(vmm_event_t) < vmm_struct_size(VMM_STRUCT_EVENT), "event older");
    CHECK(sizeof(vmm_disk_config_t) < vmm_struct_size(VMM_STRUCT_DISK_CONFIG), "disk older");

    old_disk_config_is_read_as_far_as_it_goes();

    vmm_host_t *host;
    vmm_config_t *cfg;
    vmm_vm_t *vm;
    struct run r = { 0 };
    if (vmm_host_new(&host, NULL) || vmm_config_new(&cfg) ||
        vmm_config_set_engine(cfg, VMM_ENGINE_SOFT) || vmm_config_set_kernel(cfg, argv[1]) ||
        vmm_config_set_memory(cfg, RAM_SIZE) || vmm_vm_create(host, cfg, &vm)) {
        printf("FAIL: setting up the VM: %s\n", vmm_last_error());
        return 1;
    }
    vmm_config_free(cfg);
    vmm_vm_set_event_cb(vm, on_event, &r);
    CHECK(vmm_vm_start(vm) == 0, "%s", vmm_last_error());
    CHECK(run_until(host, console_ready, &r), "no 'ready' from the guest: '%s'", r.console);
    CHECK(vmm_vm_pause(vm) == 0, "%s", vmm_last_error());

    struct {
        vmm_vcpu_stats_t s;
        uint64_t canary[4];
    } stats;
    memset(&stats, 0, sizeof(stats));
    stats.s.size = sizeof(stats.s);
    for (int i = 0; i < 4; i++)
        stats.canary[i] = CANARY;
    CHECK(vmm_vm_vcpu_stats(vm, 0, &stats.s) == 0, "%s", vmm_last_error());
    CHECK(stats.s.size == sizeof(stats.s), "size %llu", (unsigned long long)stats.s.size);
    CHECK(stats.s.instructions > 0, "instructions %llu", (unsigned long long)stats.s.instructions);
    for (int i = 0; i < 4; i++)
        CHECK(stats.canary[i] == CANARY, "stats canary %d overwritten: %llx", i,
              (unsigned long long)stats.canary[i]);

    struct {
        vmm_vcpu_regs_t r;
        uint64_t canary[4];
    } regs;
    memset(&regs, 0, sizeof(regs));
    regs.r.size = sizeof(regs.r);
    for (int i = 0; i < 4; i++)
        regs.canary[i] = CANARY;
    CHECK(vmm_vm_vcpu_regs(vm, 0, &regs.r) == 0, "%s", vmm_last_error());
    CHECK(regs.r.pc >= RAM_BASE && regs.r.pc < RAM_BASE + RAM_SIZE, "pc %llx outside RAM",
          (unsigned long long)regs.r.pc);
    CHECK(regs.r.gpr[0] == 0, "x0 %llx", (unsigned long long)regs.r.gpr[0]);
    for (int i = 0; i < 4; i++)
        CHECK(regs.canary[i] == CANARY, "regs canary %d overwritten", i);

    CHECK(vmm_vm_resume(vm) == 0, "%s", vmm_last_error());
    CHECK(vmm_vm_console_write(vm, "e", 1) == 0, "%s", vmm_last_error());
    CHECK(run_until(host, vm_final, vm), "the guest did not end");

    struct {
        vmm_outcome_t o;
        uint64_t canary[4];
    } outcome;
    memset(&outcome, 0, sizeof(outcome));
    outcome.o.size = sizeof(outcome.o);
    for (int i = 0; i < 4; i++)
        outcome.canary[i] = CANARY;
    CHECK(vmm_vm_outcome(vm, &outcome.o) == 0, "%s", vmm_last_error());
    CHECK(outcome.o.kind == VMM_OUTCOME_DEBUG_EXIT && outcome.o.exit_code == 42,
          "outcome %d exit code %d", outcome.o.kind, outcome.o.exit_code);
    for (int i = 0; i < 4; i++)
        CHECK(outcome.canary[i] == CANARY, "outcome canary %d overwritten (reason text?)", i);

    CHECK(r.events > 0 && !r.bad_event_size, "%u events, one smaller than the old event: %d",
          r.events, r.bad_event_size);
    vmm_vm_destroy(vm);
    CHECK(vmm_host_free(host) == 0, "%s", vmm_last_error());
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("ok: an old caller works with this library\n");
    return 0;
}
