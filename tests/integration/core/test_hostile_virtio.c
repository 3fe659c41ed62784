/* A hostile guest against the virtio devices (issue 8), through the public
 * API:
 *   test_hostile_virtio ENGINE GUEST.elf
 * The guest (tests/guest/hostile/hostile.c) drives a virtio-rng and a
 * virtio-blk on a small raw image straight through their virtio-mmio
 * registers: well-formed requests first, then malformed chains and broken
 * transport rules, one at a time with a reset between, checking from inside
 * what the spec lets it see and that none of its memory changed that should
 * not have. Here, from outside: the guest's verdict (exit code and console),
 * a VM that ended normally in a live host process, the image unchanged
 * except the one sector the guest wrote, the guest's guard region intact,
 * and the device errors logged. The kvm variant needs /dev/kvm
 * (harness_need_kvm: a visible skip without it).
 */
#include <CUnit/Basic.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../../guest/hostile/hostile.h"
#include "guest_harness.h"

#define SECTOR 512
#define DISK_BYTES (HOSTILE_DISK_SECTORS * SECTOR)
#define RUN_TIMEOUT_MS 240000

static const char *engine;
static const char *guest;
static char tmpdir[] = "/tmp/test_hostile_virtio.XXXXXX";
static char disk_path[600];

/* What the one run of the guest left behind, checked by the tests below. */
static struct guest_run run;
static vmm_outcome_t outcome = { .size = sizeof(outcome) };
static vmm_state_t final_state;
static int far_read_rc = -1;
static vmm_vcpu_stats_t stats = { .size = sizeof(stats) };
static uint8_t far_guard[HOSTILE_FAR_GUARD_LEN];
static atomic_int needs_reset_logs;
static atomic_int notify_exit_logs;

static void on_log(vmm_log_level_t level, const char *msg, void *opaque)
{
    (void)level;
    (void)opaque;
    if (strstr(msg, "needs a reset"))
        atomic_fetch_add(&needs_reset_logs, 1);
    if (strstr(msg, "notifications stay exits"))
        atomic_fetch_add(&notify_exit_logs, 1);
}

static uint8_t image_byte(uint64_t sector, unsigned i)
{
    static const char magic[] = HOSTILE_MAGIC;
    if (sector == 0 && i < sizeof(magic) - 1)
        return (uint8_t)magic[i];
    return hostile_disk_byte(sector, i);
}

static int write_image(void)
{
    FILE *f = fopen(disk_path, "wb");
    if (!f)
        return -1;
    for (uint64_t s = 0; s < HOSTILE_DISK_SECTORS; s++)
        for (unsigned i = 0; i < SECTOR; i++)
            fputc(image_byte(s, i), f);
    return fclose(f);
}

static uint64_t ram_base(void) { return strcmp(engine, VMM_ENGINE_KVM) == 0 ? 0 : 0x80000000ULL; }

/* Boots the guest once and runs it to its end; the tests read the result. */
static int run_guest(void)
{
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(disk_path, sizeof(disk_path), "%s/disk.img", tmpdir);
    if (write_image())
        return -1;
    vmm_set_log_cb(on_log, VMM_LOG_WARN, NULL);

    vmm_config_t *cfg;
    if (vmm_config_new(&cfg))
        return -1;
    vmm_disk_config_t disk = { .size = sizeof(disk) };
    disk.path = disk_path;
    disk.target = "vda";
    disk.serial = HOSTILE_DISK_SERIAL;
    int rc = vmm_config_set_engine(cfg, engine);
    if (!rc)
        rc = vmm_config_set_kernel(cfg, guest);
    if (!rc)
        rc = vmm_config_set_memory(cfg, HOSTILE_MEM_SIZE);
    if (!rc)
        rc = vmm_config_set_rng(cfg, 1); /* slot 0 */
    if (!rc)
        rc = vmm_config_add_disk(cfg, &disk); /* slot 1 */
    if (!rc)
        rc = vmm_host_new(&run.host, NULL);
    if (!rc)
        rc = vmm_vm_create(run.host, cfg, &run.vm);
    vmm_config_free(cfg);
    if (rc) {
        printf("setting up the VM: %s\n", vmm_last_error());
        return -1;
    }
    vmm_vm_set_event_cb(run.vm, harness_on_event, &run);
    if (vmm_vm_start(run.vm)) {
        printf("vmm_vm_start: %s\n", vmm_last_error());
        return -1;
    }
    if (!harness_run_until(&run, harness_is_final, NULL, RUN_TIMEOUT_MS)) {
        printf("the guest did not finish in %d s\n", RUN_TIMEOUT_MS / 1000);
        vmm_vm_stop(run.vm);
    }
    harness_run_until(&run, harness_is_final, NULL, 100); /* the last console events */
    final_state = vmm_vm_state(run.vm);
    vmm_vm_outcome(run.vm, &outcome);
    vmm_vm_vcpu_stats(run.vm, 0, &stats);
    far_read_rc = vmm_vm_read_phys(run.vm, ram_base() + HOSTILE_FAR_GUARD_OFF, far_guard,
                                   sizeof(far_guard));
    printf("\n--- guest console ---\n%s--- outcome %d, exit code %d: %s ---\n", run.console,
           outcome.kind, outcome.exit_code, outcome.reason);
    return 0;
}

static int suite_init(void) { return run_guest(); }

static int suite_clean(void)
{
    if (run.vm)
        vmm_vm_destroy(run.vm);
    if (run.host)
        vmm_host_free(run.host);
    unlink(disk_path);
    rmdir(tmpdir);
    return 0;
}

static void test_guest_passes_every_case(void)
{
    CU_ASSERT_PTR_NOT_NULL(strstr(run.console, "hostile: start\n"));
    CU_ASSERT_PTR_NULL(strstr(run.console, "FAIL"));
    CU_ASSERT_PTR_NULL(strstr(run.console, "unexpected trap"));
    CU_ASSERT_PTR_NOT_NULL(strstr(run.console, "hostile: PASS\n"));
    /* Its own count of cases agrees with the lines it printed. */
    unsigned reported = 0, lines = 0;
    const char *p;
    for (p = run.console; (p = strstr(p, ": ok\n")); p++)
        lines++;
    p = strstr(run.console, " cases passed");
    while (p && p > run.console && p[-1] >= '0' && p[-1] <= '9')
        p--;
    if (p)
        reported = (unsigned)strtoul(p, NULL, 10);
    CU_ASSERT_EQUAL(lines, reported);
    CU_ASSERT_TRUE(lines >= 60);
}

static void test_malformed_cases_each_ran(void)
{
    static const char *const cases[] = {
        "blk-read-sector-0: ok", "rng-read: ok", "blk-any-framing: ok",
        "descriptor-loop: ok", "next-beyond-queue: ok", "buffer-outside-ram: ok",
        "buffer-in-foreign-mmio: ok", "buffer-in-the-device-itself: ok",
        "addr-plus-len-wraps-64-bits: ok", "blk-write-lengths-wrap-32-bits: ok",
        "nested-indirect-table: ok", "indirect-table-above-limit: ok",
        "indirect-length-not-multiple-of-16: ok", "readable-after-writable: ok",
        "blk-no-status-byte: ok", "blk-short-header: ok", "queue-size-3: ok",
        "notify-before-driver-ok: ok", "feature-not-offered-low: ok",
        "blk-beyond-capacity: ok", "blk-discard-out-of-range: ok",
        "register-widths-and-offsets: ok", "queue-reset-under-the-worker: ok",
        "queue-off-and-resized-under-the-worker: ok",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int seen = strstr(run.console, cases[i]) != NULL;
        if (!seen)
            printf("missing: %s\n", cases[i]);
        CU_ASSERT_TRUE(seen);
    }
}

static void test_vm_ended_with_the_guest_verdict(void)
{
    CU_ASSERT_EQUAL(final_state, VMM_STATE_SHUTOFF);
    if (strcmp(engine, VMM_ENGINE_KVM) == 0) {
        /* isa-debug-exit: value 0 gives exit code (0 << 1) | 1. */
        CU_ASSERT_EQUAL(outcome.kind, VMM_OUTCOME_DEBUG_EXIT);
        CU_ASSERT_EQUAL(outcome.exit_code, 1);
    } else {
        CU_ASSERT_EQUAL(outcome.kind, VMM_OUTCOME_POWEROFF);
    }
    /* And this process is still here to say so, with its signals intact. */
    CU_ASSERT_EQUAL(kill(getpid(), 0), 0);
}

static void test_disk_unchanged_except_the_written_sector(void)
{
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(disk_path, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, (off_t)DISK_BYTES);
    FILE *f = fopen(disk_path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned bad = 0;
    for (uint64_t s = 0; s < HOSTILE_DISK_SECTORS; s++)
        for (unsigned i = 0; i < SECTOR; i++) {
            int c = fgetc(f);
            uint8_t want = s == HOSTILE_WRITE_SECTOR ? hostile_guest_byte(i) : image_byte(s, i);
            if (c != want && bad++ < 5)
                printf("disk byte %llu: 0x%02x, expected 0x%02x\n",
                       (unsigned long long)(s * SECTOR + i), c, want);
        }
    fclose(f);
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_guest_guard_region_intact(void)
{
    CU_ASSERT_EQUAL_FATAL(far_read_rc, 0);
    unsigned bad = 0;
    for (uint64_t o = 0; o < HOSTILE_FAR_GUARD_LEN; o += 8) {
        uint64_t w;
        memcpy(&w, far_guard + o, 8);
        bad += w != hostile_far_word(o);
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* On kvm, QueueNotify is a KVM ioeventfd: of the guest's register accesses
 * (it counts them), every one but the notifies exits to user space. */
static void test_kvm_notifies_do_not_exit(void)
{
    unsigned accesses = 0, notifies = 0;
    const char *p = strstr(run.console, "hostile: ");
    while (p && sscanf(p, "hostile: %u register accesses, %u of them notifies", &accesses,
                       &notifies) != 2)
        p = strstr(p + 1, "hostile: ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    printf("(%u register accesses, %u notifies, %llu MMIO exits) ", accesses, notifies,
           (unsigned long long)stats.mmio_exits);
    CU_ASSERT_TRUE(notifies > 50);
    if (strcmp(engine, VMM_ENGINE_KVM) == 0) {
        const char *env = getenv("LIBVMM_IOEVENTFD");
        int off = env && strcmp(env, "0") == 0;
        CU_ASSERT_EQUAL(stats.mmio_exits, (uint64_t)accesses - (off ? 0 : notifies));
    } else {
        CU_ASSERT_TRUE(stats.mmio_exits >= accesses); /* + the UART and the test device */
    }
}

static void test_device_errors_are_logged(void)
{
    /* Each refused chain is one "needs a reset" warning (once per breakage). */
    CU_ASSERT_TRUE(atomic_load(&needs_reset_logs) >= 30);
    /* On kvm the notify register is an ioeventfd: it must have been set up. */
    CU_ASSERT_EQUAL(atomic_load(&notify_exit_logs), 0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s soft|kvm GUEST.elf\n", argv[0]);
        return 2;
    }
    engine = argv[1];
    guest = argv[2];
    if (strcmp(engine, VMM_ENGINE_KVM) == 0) {
        int rc = harness_need_kvm();
        if (rc)
            return rc;
    }
    if (access(guest, R_OK) != 0)
        return harness_skip("the hostile guest was not built (no cross compiler?)");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite(engine, suite_init, suite_clean);
    CU_add_test(s, "guest passes every case", test_guest_passes_every_case);
    CU_add_test(s, "malformed cases each ran", test_malformed_cases_each_ran);
    CU_add_test(s, "vm ended with the guest verdict", test_vm_ended_with_the_guest_verdict);
    CU_add_test(s, "disk unchanged except the written sector",
                test_disk_unchanged_except_the_written_sector);
    CU_add_test(s, "guest guard region intact", test_guest_guard_region_intact);
    CU_add_test(s, "device errors are logged", test_device_errors_are_logged);
    CU_add_test(s, "kvm notifies do not exit", test_kvm_notifies_do_not_exit);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
