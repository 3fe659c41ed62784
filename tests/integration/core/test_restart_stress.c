/* Restart is a reset: across 50 guest reboots with on_reboot=restart, a
 * second thread keeps reading guest memory (vmm_vm_read_phys) and vCPU
 * counters (vmm_vm_vcpu_stats), both documented "any thread". Guest RAM and
 * the vCPU array stay in place across a restart, so every read succeeds and
 * nothing touches freed memory; built with AddressSanitizer or
 * ThreadSanitizer (tests/sanitize/run.sh) this is the check that it holds.
 *   test_restart_stress ENGINE GUEST.elf
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdatomic.h>

#include "guest_harness.h"

#define REBOOTS 50

static const char *engine;
static const char *guest;
static uint64_t counter_gpa;

struct hammer {
    vmm_vm_t *vm;
    atomic_int stop;
    unsigned long reads, stats_reads;
    int read_errors, stats_errors;
    char first_error[256];
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    static uint8_t page[65536];
    while (!atomic_load(&h->stop)) {
        uint64_t v;
        if (vmm_vm_read_phys(h->vm, counter_gpa, &v, sizeof(v)) != 0 ||
            vmm_vm_read_phys(h->vm, counter_gpa & ~0xffffULL, page, sizeof(page)) != 0) {
            if (!h->read_errors++)
                snprintf(h->first_error, sizeof(h->first_error), "read_phys: %s",
                         vmm_last_error());
        }
        h->reads++;
        vmm_vcpu_stats_t st = { .size = sizeof(st) };
        if (vmm_vm_vcpu_stats(h->vm, 0, &st) != 0) {
            if (!h->stats_errors++)
                snprintf(h->first_error, sizeof(h->first_error), "vcpu_stats: %s",
                         vmm_last_error());
        }
        h->stats_reads++;
    }
    return NULL;
}

struct restarted {
    unsigned count;
};

static int restarted_and_ready(struct guest_run *r, const void *arg)
{
    const struct restarted *want = arg;
    if (r->restarts < want->count)
        return 0;
    /* "ready" printed once per boot: the first boot plus each restart. */
    unsigned readies = 0;
    for (const char *p = r->console; (p = strstr(p, "ready\n")); p++)
        readies++;
    return readies >= want->count + 1;
}

static void test_fifty_reboots_with_concurrent_readers(void)
{
    struct guest_run *r = calloc(1, sizeof(*r));
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    CU_ASSERT_EQUAL(vmm_config_set_engine(cfg, engine), 0);
    CU_ASSERT_EQUAL(vmm_config_set_kernel(cfg, guest), 0);
    CU_ASSERT_EQUAL(vmm_config_set_memory(cfg, 64 << 20), 0);
    CU_ASSERT_EQUAL(vmm_config_set_lifecycle(cfg, VMM_LIFECYCLE_REBOOT, VMM_ACTION_RESTART), 0);
    int rc = vmm_vm_create(r->host, cfg, &r->vm);
    vmm_config_free(cfg);
    if (rc)
        printf("vmm_vm_create: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    vmm_vm_set_event_cb(r->vm, harness_on_event, r);

    struct hammer h = { .vm = r->vm };
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, hammer_main, &h), 0);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(r->vm), 0);
    CU_ASSERT_TRUE_FATAL(harness_run_until(r, harness_console_has, "ready\n", 20000));

    unsigned done = 0;
    for (unsigned i = 1; i <= REBOOTS; i++) {
        /* The guest resets on 'r'; a restart then boots it again. */
        if (vmm_vm_console_write(r->vm, "r", 1) != 0)
            break;
        struct restarted want = { i };
        if (!harness_run_until(r, restarted_and_ready, &want, 20000))
            break;
        done = i;
    }
    CU_ASSERT_EQUAL(done, REBOOTS);
    CU_ASSERT_EQUAL(r->restarts, REBOOTS);
    CU_ASSERT_EQUAL(r->restart_cause, VMM_OUTCOME_RESET);
    CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_RUNNING);

    /* The guest still runs after the last restart: its counter moves. */
    uint64_t a = 0, b = 0;
    CU_ASSERT_EQUAL(vmm_vm_read_phys(r->vm, counter_gpa, &a, sizeof(a)), 0);
    harness_run_until(r, harness_is_final, NULL, 50);
    CU_ASSERT_EQUAL(vmm_vm_read_phys(r->vm, counter_gpa, &b, sizeof(b)), 0);
    CU_ASSERT_NOT_EQUAL(a, b);

    CU_ASSERT_EQUAL(vmm_vm_console_write(r->vm, "q", 1), 0);
    CU_ASSERT_TRUE(harness_run_until(r, harness_is_final, NULL, 20000));
    atomic_store(&h.stop, 1);
    pthread_join(t, NULL);
    printf("(%u restarts; %lu memory reads, %lu counter reads from another thread) ",
           r->restarts, h.reads, h.stats_reads);
    if (h.read_errors || h.stats_errors)
        printf("first error: %s ", h.first_error);
    CU_ASSERT_EQUAL(h.read_errors, 0);
    CU_ASSERT_EQUAL(h.stats_errors, 0);
    CU_ASSERT(h.reads > 0);

    vmm_vm_destroy(r->vm);
    CU_ASSERT_EQUAL(vmm_host_free(r->host), 0);
    free(r);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ENGINE GUEST.elf\n", argv[0]);
        return 2;
    }
    engine = argv[1];
    guest = argv[2];
    if (strcmp(engine, "kvm") == 0) {
        int rc = harness_need_kvm();
        if (rc)
            return rc;
        counter_gpa = 0x300000;
    } else {
        counter_gpa = 0x80100000;
    }
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("restart stress", NULL, NULL);
    CU_add_test(s, "fifty reboots with concurrent readers",
                test_fifty_reboots_with_concurrent_readers);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
