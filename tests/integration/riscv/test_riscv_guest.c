/* Runs one riscv64 test guest on the soft engine through the public API:
 *   test_riscv_guest NAME GUEST VCPUS EXPECT
 * EXPECT is "pass" (the guest powers off after printing its success line)
 * or "fail:N" (the guest reports failure code N through the SiFive test
 * device). The guests live in tests/guest/riscv. */
#include <CUnit/Basic.h>

#include "../core/guest_harness.h"

#define TIMEOUT_MS 60000

static const char *name, *guest, *expect;
static unsigned vcpus;

static void test_guest_reaches_its_expected_outcome(void)
{
    struct guest_run *r = calloc(1, sizeof(*r));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&r->host, NULL), 0);
    vmm_config_t *cfg;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&cfg), 0);
    CU_ASSERT_EQUAL(vmm_config_set_engine(cfg, "soft"), 0);
    CU_ASSERT_EQUAL(vmm_config_set_kernel(cfg, guest), 0);
    CU_ASSERT_EQUAL(vmm_config_set_memory(cfg, 64 << 20), 0);
    CU_ASSERT_EQUAL(vmm_config_set_vcpus(cfg, vcpus), 0);
    int rc = vmm_vm_create(r->host, cfg, &r->vm);
    vmm_config_free(cfg);
    if (rc)
        printf("vmm_vm_create: %s\n", vmm_last_error());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(vmm_vm_engine(r->vm), "soft");
    vmm_vm_set_event_cb(r->vm, harness_on_event, r);
    CU_ASSERT_EQUAL_FATAL(vmm_vm_start(r->vm), 0);
    int done = harness_run_until(r, harness_is_final, NULL, TIMEOUT_MS);
    if (!done)
        vmm_vm_stop(r->vm);
    vmm_outcome_t o = {.size = sizeof(o)};
    vmm_vm_outcome(r->vm, &o);
    printf("\n--- %s console ---\n%s--- outcome %d code %d: %s\n", name, r->console, o.kind,
           o.exit_code, o.reason);
    CU_ASSERT_TRUE(done);

    if (strcmp(expect, "pass") == 0) {
        CU_ASSERT_EQUAL(o.kind, VMM_OUTCOME_POWEROFF);
        CU_ASSERT_EQUAL(vmm_vm_state(r->vm), VMM_STATE_SHUTOFF);
        CU_ASSERT_TRUE(harness_console_has(r, "test: PASS") ||
                       harness_console_has(r, "sbi: all checks passed"));
    } else {
        int code = atoi(expect + 5);
        CU_ASSERT_EQUAL(o.kind, VMM_OUTCOME_DEBUG_EXIT);
        CU_ASSERT_EQUAL(o.exit_code, code);
        CU_ASSERT_TRUE(harness_console_has(r, "test: FAIL"));
    }

    vmm_vcpu_stats_t st = {.size = sizeof(st)};
    CU_ASSERT_EQUAL(vmm_vm_vcpu_stats(r->vm, 0, &st), 0);
    CU_ASSERT(st.instructions > 0);
    if (strcmp(name, "sbi") == 0) {
        CU_ASSERT(st.hypercalls >= 10); /* its console is the SBI's */
    } else {
        CU_ASSERT(st.mmio_exits > 0); /* the UART at least */
    }
    if (vcpus > 1 && strcmp(name, "smp") == 0) {
        /* both harts ran code */
        CU_ASSERT_EQUAL(vmm_vm_vcpu_stats(r->vm, 1, &st), 0);
        CU_ASSERT(st.instructions > 0);
    }
    vmm_vm_destroy(r->vm);
    CU_ASSERT_EQUAL(vmm_host_free(r->host), 0);
    free(r);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s NAME GUEST VCPUS pass|fail:N\n", argv[0]);
        return 2;
    }
    name = argv[1];
    guest = argv[2];
    vcpus = (unsigned)atoi(argv[3]);
    expect = argv[4];
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    CU_add_test(s, "guest reaches its expected outcome", test_guest_reaches_its_expected_outcome);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
