/* The public API's embedding helpers that need no guest, through the shared
 * library exactly as a program sees it: error names, sized structs, the
 * capability query, vmm_host_run() modes and the backend fd, user data, and
 * bad arguments (a clear error, never a crash). */
#include <CUnit/Basic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <vmm/vmm.h>

static void err_name_names_every_code(void)
{
    static const struct {
        int code;
        const char *name;
    } codes[] = {
        { VMM_OK, "VMM_OK" },           { VMM_EINVAL, "VMM_EINVAL" },
        { VMM_ENOMEM, "VMM_ENOMEM" },   { VMM_ENOENT, "VMM_ENOENT" },
        { VMM_EACCES, "VMM_EACCES" },   { VMM_ENOTSUP, "VMM_ENOTSUP" },
        { VMM_ESTATE, "VMM_ESTATE" },   { VMM_EIO, "VMM_EIO" },
        { VMM_EFORMAT, "VMM_EFORMAT" }, { VMM_ERANGE, "VMM_ERANGE" },
        { VMM_EKVM, "VMM_EKVM" },       { VMM_EBUSY, "VMM_EBUSY" },
        { VMM_ECRASHED, "VMM_ECRASHED" }, { VMM_ECANCELED, "VMM_ECANCELED" },
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        CU_ASSERT_STRING_EQUAL(vmm_err_name(codes[i].code), codes[i].name);
        /* Every code also has its own text. */
        CU_ASSERT_STRING_NOT_EQUAL(vmm_strerror(codes[i].code), "unknown error");
    }
    CU_ASSERT_STRING_EQUAL(vmm_err_name(-9999), "VMM_EUNKNOWN");
    CU_ASSERT_STRING_EQUAL(vmm_err_name(42), "VMM_EUNKNOWN");
    CU_ASSERT_STRING_EQUAL(vmm_strerror(-9999), "unknown error");
    CU_ASSERT_STRING_EQUAL(vmm_strerror(VMM_ECRASHED), "guest crashed");
}

static void struct_size_reports_the_library_sizes(void)
{
    CU_ASSERT_EQUAL(vmm_struct_size(VMM_STRUCT_VCPU_STATS), sizeof(vmm_vcpu_stats_t));
    CU_ASSERT_EQUAL(vmm_struct_size(VMM_STRUCT_VCPU_REGS), sizeof(vmm_vcpu_regs_t));
    CU_ASSERT_EQUAL(vmm_struct_size(VMM_STRUCT_OUTCOME), sizeof(vmm_outcome_t));
    CU_ASSERT_EQUAL(vmm_struct_size(VMM_STRUCT_EVENT), sizeof(vmm_event_t));
    CU_ASSERT_EQUAL(vmm_struct_size(VMM_STRUCT_DISK_CONFIG), sizeof(vmm_disk_config_t));
    CU_ASSERT_EQUAL(vmm_struct_size(VMM_STRUCT_NET_CONFIG), sizeof(vmm_net_config_t));
    CU_ASSERT_EQUAL(vmm_struct_size(VMM_STRUCT_MIGRATE_PARAMS), sizeof(vmm_migrate_params_t));
    CU_ASSERT_EQUAL(vmm_struct_size(VMM_STRUCT_MIGRATE_STATS), sizeof(vmm_migrate_stats_t));
    CU_ASSERT_EQUAL(vmm_struct_size(VMM_STRUCT_MEMORY_STATS), sizeof(vmm_memory_stats_t));
    CU_ASSERT_EQUAL(vmm_struct_size((vmm_struct_id_t)0), 0);
    CU_ASSERT_EQUAL(vmm_struct_size((vmm_struct_id_t)999), 0);
    /* Every sized struct starts with its size, and stats stay all uint64_t. */
    CU_ASSERT_EQUAL(offsetof(vmm_vcpu_stats_t, size), 0);
    CU_ASSERT_EQUAL(offsetof(vmm_event_t, size), 0);
    CU_ASSERT_EQUAL(sizeof(vmm_vcpu_stats_t) % sizeof(uint64_t), 0);
}

static void has_field_follows_the_size(void)
{
    vmm_vcpu_stats_t s = {.size = offsetof(vmm_vcpu_stats_t, tlb_hits)};
    CU_ASSERT_TRUE(VMM_HAS_FIELD(&s, vmm_vcpu_stats_t, instructions));
    CU_ASSERT_FALSE(VMM_HAS_FIELD(&s, vmm_vcpu_stats_t, tlb_hits));
    s.size = sizeof(s);
    CU_ASSERT_TRUE(VMM_HAS_FIELD(&s, vmm_vcpu_stats_t, tlb_flushes));
}

static vmm_config_t *fresh(void)
{
    vmm_config_t *c = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&c), 0);
    return c;
}

static void disk_config_without_size_is_refused_with_the_value(void)
{
    vmm_config_t *c = fresh();
    vmm_disk_config_t d = {.path = "/img/a", .target = "vda"}; /* size forgotten */
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "vmm_disk_config_t.size 0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "8..65536"));
    d.size = VMM_STRUCT_SIZE_MAX + 1;
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "65537"));
    CU_ASSERT_EQUAL(vmm_config_disk_count(c), 0);
    vmm_config_free(c);
}

static void older_disk_config_leaves_newer_fields_unset(void)
{
    vmm_config_t *c = fresh();
    /* A caller whose struct ends before .serial; the garbage behind it must
     * not be read. */
    vmm_disk_config_t d = {.path = "/img/a", .target = "vda", .serial = (const char *)1};
    d.size = offsetof(vmm_disk_config_t, serial);
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), 0);
    const vmm_disk_config_t *got = vmm_config_disk(c, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_PTR_NULL(got->serial);
    CU_ASSERT_EQUAL(got->size, sizeof(vmm_disk_config_t));
    vmm_config_free(c);
}

static void newer_disk_config_is_accepted_only_with_unknown_fields_zero(void)
{
    vmm_config_t *c = fresh();
    struct {
        vmm_disk_config_t d;
        uint64_t future_field;
    } newer;
    memset(&newer, 0, sizeof(newer));
    newer.d.size = sizeof(newer);
    newer.d.path = "/img/a";
    newer.d.target = "vda";
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &newer.d), 0);
    newer.d.target = "vdb";
    newer.future_field = 7;
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &newer.d), VMM_ENOTSUP);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "newer libvmm"));
    CU_ASSERT_EQUAL(vmm_config_disk_count(c), 1);
    vmm_config_free(c);
}

static void config_getters_hand_out_sized_structs(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_add_net(c, "tap0", NULL), 0);
    CU_ASSERT_EQUAL(vmm_config_net(c, 0)->size, sizeof(vmm_net_config_t));
    vmm_config_t *k = NULL;
    CU_ASSERT_EQUAL(vmm_config_clone(c, &k), 0);
    CU_ASSERT_EQUAL(vmm_config_net(k, 0)->size, sizeof(vmm_net_config_t));
    vmm_config_free(k);
    vmm_config_free(c);
}

static void caps_list_both_engines_and_the_soft_one_is_available(void)
{
    vmm_caps_t *caps = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_caps_new(&caps), 0);
    CU_ASSERT_EQUAL(vmm_caps_engine_count(caps), 2);
    int seen_kvm = 0, seen_soft = 0;
    for (unsigned i = 0; i < vmm_caps_engine_count(caps); i++) {
        const char *name = vmm_caps_engine_name(caps, i);
        seen_kvm |= strcmp(name, "kvm") == 0;
        seen_soft |= strcmp(name, "soft") == 0;
    }
    CU_ASSERT_TRUE(seen_kvm && seen_soft);
    CU_ASSERT_PTR_NULL(vmm_caps_engine_name(caps, 2));
    const char *why = NULL;
    CU_ASSERT_EQUAL(vmm_caps_engine_available(caps, "soft", &why), 1);
    CU_ASSERT_STRING_EQUAL(why, "");
    CU_ASSERT_TRUE(vmm_caps_engine_max_vcpus(caps, "soft") >= 1);
    CU_ASSERT_TRUE(vmm_caps_engine_max_vcpus(caps, "soft") <= VMM_CONFIG_MAX_VCPUS);
    CU_ASSERT_STRING_EQUAL(vmm_caps_engine_arch(caps, "soft"), "riscv64");
    CU_ASSERT_STRING_EQUAL(vmm_caps_engine_arch(caps, "kvm"), "x86_64");
    int kvm = vmm_caps_engine_available(caps, "kvm", &why);
    CU_ASSERT_TRUE(kvm == 0 || kvm == 1);
    if (kvm == 0) {
        CU_ASSERT_TRUE(strlen(why) > 0); /* says why */
        CU_ASSERT_EQUAL(vmm_caps_engine_max_vcpus(caps, "kvm"), 0);
    }
    printf("(kvm %s%s) ", kvm ? "available" : "unavailable: ", kvm ? "" : why);
    vmm_caps_free(caps);
}

static void caps_refuse_an_unknown_engine_naming_the_known_ones(void)
{
    vmm_caps_t *caps = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_caps_new(&caps), 0);
    CU_ASSERT_EQUAL(vmm_caps_engine_available(caps, "warp", NULL), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "'warp'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "soft"));
    CU_ASSERT_EQUAL(vmm_caps_engine_max_vcpus(caps, "warp"), 0);
    CU_ASSERT_PTR_NULL(vmm_caps_engine_arch(caps, "warp"));
    vmm_caps_free(caps);
}

static void caps_features_agree_with_has(void)
{
    vmm_caps_t *caps = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_caps_new(&caps), 0);
    unsigned n = vmm_caps_feature_count(caps);
    CU_ASSERT_TRUE(n >= 2);
    for (unsigned i = 0; i < n; i++)
        CU_ASSERT_EQUAL(vmm_caps_has(caps, vmm_caps_feature_name(caps, i)), 1);
    CU_ASSERT_PTR_NULL(vmm_caps_feature_name(caps, n));
    CU_ASSERT_EQUAL(vmm_caps_has(caps, "async-lifecycle"), 1);
    CU_ASSERT_EQUAL(vmm_caps_has(caps, "virtio-console"), 1);
    CU_ASSERT_EQUAL(vmm_caps_has(caps, "vsock"), 1);
    CU_ASSERT_EQUAL(vmm_caps_has(caps, "deterministic"), 1); /* soft is always there */
    CU_ASSERT_EQUAL(vmm_caps_has(caps, "time-travel"), 0);
    /* "xml" is there exactly when the XML reader works. */
    const char *doc = "<domain type='qemu'><name>c</name><memory>65536</memory>"
                      "<os><type arch='riscv64'>hvm</type><kernel>/k</kernel></os></domain>";
    vmm_config_t *cfg = NULL;
    int rc = vmm_config_from_xml(doc, strlen(doc), VMM_XML_NO_HOST_CHECKS, &cfg, NULL);
    CU_ASSERT_EQUAL(vmm_caps_has(caps, "xml"), rc == 0);
    vmm_config_free(cfg);
    vmm_caps_free(caps);
}

static void host_run_refuses_an_unknown_mode(void)
{
    vmm_host_t *h = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&h, NULL), 0);
    CU_ASSERT_EQUAL(vmm_host_run(h, (vmm_run_mode_t)7), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "run mode 7"));
    CU_ASSERT_EQUAL(vmm_host_run(h, (vmm_run_mode_t)-1), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_host_free(h), 0);
}

static void idle_host_runs_return_at_once(void)
{
    vmm_host_t *h = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&h, NULL), 0);
    CU_ASSERT_EQUAL(vmm_host_run(h, VMM_RUN_NOWAIT), 0);
    CU_ASSERT_EQUAL(vmm_host_run(h, VMM_RUN_ONCE), 0);
    CU_ASSERT_EQUAL(vmm_host_run(h, VMM_RUN_DEFAULT), 0);
    CU_ASSERT_EQUAL(vmm_host_free(h), 0);
}

static void backend_fd_and_timeout_come_from_the_loop(void)
{
    uv_loop_t loop;
    CU_ASSERT_EQUAL_FATAL(uv_loop_init(&loop), 0);
    vmm_host_t *h = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&h, &loop), 0);
    CU_ASSERT_EQUAL(vmm_host_backend_fd(h), uv_backend_fd(&loop));
    CU_ASSERT_TRUE(vmm_host_backend_fd(h) >= 0);
    int t = -2;
    CU_ASSERT_EQUAL(vmm_host_backend_timeout(h, &t), 0);
    CU_ASSERT_EQUAL(t, uv_backend_timeout(&loop));
    CU_ASSERT_EQUAL(vmm_host_free(h), 0);
    CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

static void host_data_round_trips(void)
{
    vmm_host_t *h = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_host_new(&h, NULL), 0);
    CU_ASSERT_PTR_NULL(vmm_host_get_data(h));
    int x;
    vmm_host_set_data(h, &x);
    CU_ASSERT_PTR_EQUAL(vmm_host_get_data(h), &x);
    CU_ASSERT_EQUAL(vmm_host_free(h), 0);
}

/* NULL where an object belongs: an error (or a no-op), never a crash. */
static void null_arguments_are_errors_not_crashes(void)
{
    CU_ASSERT_EQUAL(vmm_host_run(NULL, VMM_RUN_NOWAIT), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_host_backend_fd(NULL), VMM_EINVAL);
    int t;
    CU_ASSERT_EQUAL(vmm_host_backend_timeout(NULL, &t), VMM_EINVAL);
    vmm_host_set_data(NULL, &t);
    CU_ASSERT_PTR_NULL(vmm_host_get_data(NULL));
    vmm_vm_set_data(NULL, &t);
    CU_ASSERT_PTR_NULL(vmm_vm_get_data(NULL));
    vmm_vm_set_event_cb(NULL, NULL, NULL);
    const char *msg = NULL;
    CU_ASSERT_EQUAL(vmm_vm_last_error(NULL, &msg), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(msg);
    CU_ASSERT_EQUAL(vmm_vm_pause_async(NULL, NULL, NULL), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_vm_stop_async(NULL, NULL, NULL), VMM_EINVAL);
    vmm_outcome_t o = {.size = sizeof(o)};
    CU_ASSERT_EQUAL(vmm_vm_outcome(NULL, &o), VMM_EINVAL);
    vmm_vcpu_stats_t s = {.size = sizeof(s)};
    CU_ASSERT_EQUAL(vmm_vm_vcpu_stats(NULL, 0, &s), VMM_EINVAL);
    vmm_vcpu_regs_t r = {.size = sizeof(r)};
    CU_ASSERT_EQUAL(vmm_vm_vcpu_regs(NULL, 0, &r), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_caps_new(NULL), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_caps_engine_count(NULL), 0);
    CU_ASSERT_PTR_NULL(vmm_caps_engine_name(NULL, 0));
    CU_ASSERT_EQUAL(vmm_caps_engine_available(NULL, "soft", NULL), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_caps_has(NULL, "xml"), 0);
    CU_ASSERT_EQUAL(vmm_caps_feature_count(NULL), 0);
    vmm_caps_free(NULL);
    CU_ASSERT_EQUAL(vmm_config_add_disk(NULL, NULL), VMM_EINVAL);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("api", NULL, NULL);
    CU_add_test(s, "err_name names every code", err_name_names_every_code);
    CU_add_test(s, "struct_size reports the library sizes", struct_size_reports_the_library_sizes);
    CU_add_test(s, "VMM_HAS_FIELD follows the size", has_field_follows_the_size);
    CU_add_test(s, "disk config without size is refused with the value",
                disk_config_without_size_is_refused_with_the_value);
    CU_add_test(s, "older disk config leaves newer fields unset",
                older_disk_config_leaves_newer_fields_unset);
    CU_add_test(s, "newer disk config is accepted only with unknown fields zero",
                newer_disk_config_is_accepted_only_with_unknown_fields_zero);
    CU_add_test(s, "config getters hand out sized structs", config_getters_hand_out_sized_structs);
    CU_add_test(s, "caps list both engines and the soft one is available",
                caps_list_both_engines_and_the_soft_one_is_available);
    CU_add_test(s, "caps refuse an unknown engine naming the known ones",
                caps_refuse_an_unknown_engine_naming_the_known_ones);
    CU_add_test(s, "caps features agree with has", caps_features_agree_with_has);
    CU_add_test(s, "host run refuses an unknown mode", host_run_refuses_an_unknown_mode);
    CU_add_test(s, "idle host runs return at once", idle_host_runs_return_at_once);
    CU_add_test(s, "backend fd and timeout come from the loop",
                backend_fd_and_timeout_come_from_the_loop);
    CU_add_test(s, "host data round trips", host_data_round_trips);
    CU_add_test(s, "NULL arguments are errors, not crashes", null_arguments_are_errors_not_crashes);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
