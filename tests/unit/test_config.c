/* The config object's libvirt-shaped setters: validation, defaults, deep
 * clone. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "unit.h"
#include "vmm/vmm.h"

static vmm_config_t *fresh(void)
{
    vmm_config_t *c = NULL;
    CU_ASSERT_FATAL(vmm_config_new(&c) == 0);
    return c;
}

static void new_config_has_random_uuid(void)
{
    vmm_config_t *a = fresh(), *b = fresh();
    CU_ASSERT_EQUAL(strlen(vmm_config_uuid(a)), VMM_UUID_STRING_LEN);
    CU_ASSERT_EQUAL(vmm_config_uuid(a)[14], '4'); /* version 4 */
    CU_ASSERT_STRING_NOT_EQUAL(vmm_config_uuid(a), vmm_config_uuid(b));
    vmm_config_free(a);
    vmm_config_free(b);
}

static void uuid_accepts_both_forms_and_canonicalises(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_set_uuid(c, "4DEA22B31D52D8F32516782E98AB3FA0"), 0);
    CU_ASSERT_STRING_EQUAL(vmm_config_uuid(c), "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
    CU_ASSERT_EQUAL(vmm_config_set_uuid(c, "4dea22b3-1d52-d8f3-2516-782e98ab3fa1"), 0);
    CU_ASSERT_STRING_EQUAL(vmm_config_uuid(c), "4dea22b3-1d52-d8f3-2516-782e98ab3fa1");
    CU_ASSERT_EQUAL(vmm_config_set_uuid(c, "4dea22b3-1d52-d8f3-2516-782e98ab3fa"), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_uuid(c, "4dea22b31d52-d8f3-2516-782e98ab3fa0x"), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "malformed"));
    vmm_config_free(c);
}

static void name_refuses_slash_and_newline(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_set_name(c, "a/b"), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_name(c, "a\nb"), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_title(c, "two\nlines"), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_name(c, "ok-name"), 0);
    vmm_config_free(c);
}

static void cpuset_is_parsed_and_canonical(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_cpuset(c, "0-3, ^2 ,6,7"), 0);
    CU_ASSERT_STRING_EQUAL(vmm_config_vcpu_cpuset(c), "0-1,3,6-7");
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_cpuset(c, "3-1"), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_cpuset(c, "^1"), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_cpuset(c, "1,,2"), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_cpuset(c, "1024"), VMM_ERANGE);
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_cpuset(c, "99999999999999999999"), VMM_ERANGE);
    CU_ASSERT_STRING_EQUAL(vmm_config_vcpu_cpuset(c), "0-1,3,6-7"); /* unchanged on error */
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_cpuset(c, NULL), 0);
    CU_ASSERT_PTR_NULL(vmm_config_vcpu_cpuset(c));
    vmm_config_free(c);
}

static void cputune_ranges_follow_libvirt(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_set_cpu_quota(c, 100000, 50000), 0);
    CU_ASSERT_EQUAL(vmm_config_cpu_period(c), 100000);
    CU_ASSERT_EQUAL(vmm_config_cpu_quota(c), 50000);
    CU_ASSERT_EQUAL(vmm_config_set_cpu_quota(c, 999, 0), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_cpu_quota(c, 1000001, 0), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_cpu_quota(c, 0, 999), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_cpu_quota(c, 0, -2), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_cpu_quota(c, 0, -1), 0);
    /* The whole-VM cap: the same ranges, its own messages. */
    CU_ASSERT_EQUAL(vmm_config_set_cpu_global_quota(c, 200000, 150000), 0);
    CU_ASSERT_EQUAL(vmm_config_cpu_global_period(c), 200000);
    CU_ASSERT_EQUAL(vmm_config_cpu_global_quota(c), 150000);
    CU_ASSERT_EQUAL(vmm_config_set_cpu_global_quota(c, 999, 0), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "global_period 999 us out of range"));
    CU_ASSERT_EQUAL(vmm_config_set_cpu_global_quota(c, 0, 5), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_cpu_global_quota(c), 150000); /* unchanged on error */
    /* Shares: libvirt's 2..262144, 0 for the default. */
    CU_ASSERT_EQUAL(vmm_config_set_cpu_shares(c, 262144), 0);
    CU_ASSERT_EQUAL(vmm_config_set_cpu_shares(c, 262145), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "shares 262145 out of range 2..262144"));
    CU_ASSERT_EQUAL(vmm_config_set_cpu_shares(c, 1), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_cpu_shares(c), 262144);
    CU_ASSERT_EQUAL(vmm_config_set_cpu_shares(c, 0), 0);
    vmm_config_free(c);
}

static void vcpupin_set_replace_remove(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_pin(c, 3, "1"), 0);
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_pin(c, 0, "0-1"), 0);
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_pin(c, 3, "2"), 0);
    CU_ASSERT_STRING_EQUAL(vmm_config_vcpu_pin(c, 3), "2");
    CU_ASSERT_STRING_EQUAL(vmm_config_vcpu_pin(c, 0), "0-1");
    CU_ASSERT_PTR_NULL(vmm_config_vcpu_pin(c, 1));
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_pin(c, 0, NULL), 0);
    CU_ASSERT_PTR_NULL(vmm_config_vcpu_pin(c, 0));
    CU_ASSERT_EQUAL(vmm_config_set_vcpu_pin(c, VMM_CONFIG_MAX_VCPUS, "0"), VMM_EINVAL);
    vmm_config_free(c);
}

static void cpu_features_are_known_sorted_unique(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_cpu_disable_feature(c, "xsave"), 0);
    CU_ASSERT_EQUAL(vmm_config_cpu_disable_feature(c, "avx2"), 0);
    CU_ASSERT_EQUAL(vmm_config_cpu_disable_feature(c, "xsave"), 0);
    CU_ASSERT_EQUAL(vmm_config_cpu_disable_feature(c, "warp-drive"), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_cpu_disabled_count(c), 2);
    CU_ASSERT_STRING_EQUAL(vmm_config_cpu_disabled(c, 0), "avx2");
    CU_ASSERT_STRING_EQUAL(vmm_config_cpu_disabled(c, 1), "xsave");
    CU_ASSERT_PTR_NULL(vmm_config_cpu_disabled(c, 2));
    vmm_config_free(c);
}

static void disks_validate_targets_and_duplicates(void)
{
    vmm_config_t *c = fresh();
    vmm_disk_config_t d = {.size = sizeof(d), .path = "/img/a", .target = "vda", .serial = "S1"};
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), 0);
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), VMM_EINVAL); /* duplicate target */
    d.target = "sda";
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), VMM_EINVAL);
    d.target = "vdb";
    d.path = "relative.img";
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), VMM_EINVAL);
    d.path = "/img/b";
    d.serial = "this serial is far too long";
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), VMM_EINVAL);
    d.serial = NULL;
    d.readonly = 7;
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), 0);
    CU_ASSERT_EQUAL(vmm_config_disk_count(c), 2);
    CU_ASSERT_EQUAL(vmm_config_disk(c, 1)->readonly, 1);
    CU_ASSERT_PTR_NULL(vmm_config_disk(c, 2));
    char t[8];
    for (int i = 2; i < VMM_CONFIG_MAX_DISKS; i++) {
        snprintf(t, sizeof(t), "vd%c%c", 'a' + i / 26, 'a' + i % 26);
        d.target = t;
        CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), 0);
    }
    d.target = "vdzz";
    CU_ASSERT_EQUAL(vmm_config_add_disk(c, &d), VMM_ERANGE);
    vmm_config_free(c);
}

static void nets_generate_unicast_macs(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_add_net(c, "tap0", NULL), 0);
    const vmm_net_config_t *n = vmm_config_net(c, 0);
    CU_ASSERT_EQUAL(n->mac[0], 0x52);
    CU_ASSERT_EQUAL(n->mac[1], 0x54);
    CU_ASSERT_EQUAL(vmm_config_add_net(c, "tap0", (const uint8_t[6]){2, 0, 0, 0, 0, 1}),
                    VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_add_net(c, "tap1", (const uint8_t[6]){1, 0, 0, 0, 0, 1}),
                    VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_add_net(c, "a-name-too-long-for-ifnamsiz", NULL), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_add_net(c, "ta p", NULL), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_net_count(c), 1);
    vmm_config_free(c);
}

static void nics_of_each_type_are_checked(void)
{
    vmm_config_t *c = fresh();
    vmm_net_config_t n = {.size = sizeof(n)};
    /* add_net keeps its meaning: an existing tap. */
    CU_ASSERT_EQUAL(vmm_config_add_net(c, "tap0", NULL), 0);
    CU_ASSERT_EQUAL(vmm_config_net(c, 0)->type, VMM_NET_TAP);
    CU_ASSERT_EQUAL(vmm_config_net(c, 0)->managed, 0);
    /* A managed tap may leave the name to the kernel. */
    n.type = VMM_NET_TAP;
    n.managed = 1;
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), 0);
    n.managed = 0;
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), VMM_EINVAL); /* unmanaged needs a name */
    n = (vmm_net_config_t){.size = sizeof(n), .type = VMM_NET_UDP, .address = "127.0.0.1",
                           .port = 5000, .local_address = "0.0.0.0", .local_port = 5001};
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), 0);
    n.local_address = NULL;
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), VMM_EINVAL);
    n = (vmm_net_config_t){.size = sizeof(n), .type = VMM_NET_SERVER, .port = 6000};
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), 0); /* any address */
    n.port = 0;
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), VMM_EINVAL);
    n = (vmm_net_config_t){.size = sizeof(n), .type = VMM_NET_CLIENT, .address = "::1",
                           .port = 6000};
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), 0);
    n.address = "localhost";
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), VMM_EINVAL);
    n.address = "/run/lvmm.sock";
    n.port = 0;
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), 0);
    n.tap = "tap9"; /* a socket NIC has no tap */
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, &n), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_net_count(c), 6);
    /* The copies hand back what went in, strings included. */
    const vmm_net_config_t *got = vmm_config_net(c, 2);
    CU_ASSERT_EQUAL(got->size, sizeof(vmm_net_config_t));
    CU_ASSERT_STRING_EQUAL(got->address, "127.0.0.1");
    CU_ASSERT_STRING_EQUAL(got->local_address, "0.0.0.0");
    CU_ASSERT_EQUAL(got->local_port, 5001);
    /* An older caller's struct (size, tap, mac only) reads as an existing tap. */
    struct { uint64_t size; const char *tap; uint8_t mac[6]; } old = {sizeof(old), "tap5", {0}};
    CU_ASSERT_EQUAL(vmm_config_add_nic(c, (const vmm_net_config_t *)&old), 0);
    CU_ASSERT_EQUAL(vmm_config_net(c, 6)->type, VMM_NET_TAP);
    CU_ASSERT_EQUAL(vmm_config_net(c, 6)->managed, 0);
    vmm_config_t *k;
    CU_ASSERT_EQUAL_FATAL(vmm_config_clone(c, &k), 0);
    CU_ASSERT_STRING_EQUAL(vmm_config_net(k, 5)->address, "/run/lvmm.sock");
    vmm_config_free(k);
    vmm_config_free(c);
}

static void serial_sets_console_mode(void)
{
    vmm_config_t *c = fresh();
    const char *path;
    CU_ASSERT_EQUAL(vmm_config_set_serial(c, VMM_CHARDEV_NULL, NULL), 0);
    CU_ASSERT_EQUAL(vmm_config_console(c), VMM_CONSOLE_NONE);
    CU_ASSERT_EQUAL(vmm_config_set_serial(c, VMM_CHARDEV_FILE, "/tmp/x.log"), 0);
    CU_ASSERT_EQUAL(vmm_config_console(c), VMM_CONSOLE_EVENTS);
    CU_ASSERT_EQUAL(vmm_config_serial(c, &path), VMM_CHARDEV_FILE);
    CU_ASSERT_STRING_EQUAL(path, "/tmp/x.log");
    CU_ASSERT_EQUAL(vmm_config_set_serial(c, VMM_CHARDEV_FILE, NULL), VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_serial(c, VMM_CHARDEV_PTY, "/x"), VMM_EINVAL);
    vmm_config_free(c);
}

static void lifecycle_defaults_and_setters(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_lifecycle(c, VMM_LIFECYCLE_REBOOT), VMM_ACTION_DESTROY);
    CU_ASSERT_EQUAL(vmm_config_set_lifecycle(c, VMM_LIFECYCLE_CRASH, VMM_ACTION_PRESERVE), 0);
    CU_ASSERT_EQUAL(vmm_config_lifecycle(c, VMM_LIFECYCLE_CRASH), VMM_ACTION_PRESERVE);
    CU_ASSERT_EQUAL(vmm_config_set_lifecycle(c, (vmm_lifecycle_event_t)9, VMM_ACTION_DESTROY),
                    VMM_EINVAL);
    CU_ASSERT_EQUAL(vmm_config_set_lifecycle(c, VMM_LIFECYCLE_CRASH, (vmm_lifecycle_action_t)9),
                    VMM_EINVAL);
    vmm_config_free(c);
}

static void metadata_needs_namespaced_elements(void)
{
    vmm_config_t *c = fresh();
    CU_ASSERT_EQUAL(vmm_config_set_metadata(c, "<a:x xmlns:a='urn:a'>1</a:x>"), 0);
    CU_ASSERT_STRING_EQUAL(vmm_config_metadata(c), "<a:x xmlns:a=\"urn:a\">1</a:x>");
    CU_ASSERT_EQUAL(vmm_config_set_metadata(c, "<x>1</x>"), VMM_EFORMAT);
    CU_ASSERT_EQUAL(vmm_config_set_metadata(c, "<a:x xmlns:a='urn:a'>"), VMM_EFORMAT);
    CU_ASSERT_EQUAL(vmm_config_set_metadata(c, "</metadata><metadata>"), VMM_EFORMAT);
    CU_ASSERT_STRING_EQUAL(vmm_config_metadata(c), "<a:x xmlns:a=\"urn:a\">1</a:x>");
    vmm_config_free(c);
}

static vmm_config_t *everything(void)
{
    vmm_config_t *c = fresh();
    vmm_config_set_engine(c, "kvm");
    vmm_config_set_title(c, "t");
    vmm_config_set_description(c, "d");
    vmm_config_set_metadata(c, "<a:x xmlns:a='urn:a'/>");
    vmm_config_set_current_memory(c, 128 << 20);
    vmm_config_set_vcpus(c, 2);
    vmm_config_set_vcpu_cpuset(c, "0-1");
    vmm_config_set_cpu_shares(c, 100);
    vmm_config_set_cpu_quota(c, 100000, 20000);
    vmm_config_set_vcpu_pin(c, 1, "1");
    vmm_config_set_memory_hard_limit(c, 1ULL << 30);
    vmm_config_set_arch(c, "x86_64");
    vmm_config_set_machine(c, "pc");
    vmm_config_set_kernel(c, "/k");
    vmm_config_set_loader(c, "/l");
    vmm_config_set_cpu_mode(c, VMM_CPU_HOST_MODEL);
    vmm_config_cpu_disable_feature(c, "avx");
    vmm_config_set_clock_offset(c, VMM_CLOCK_LOCALTIME);
    vmm_config_set_features(c, VMM_FEATURE_ACPI | VMM_FEATURE_APIC);
    vmm_config_set_lifecycle(c, VMM_LIFECYCLE_REBOOT, VMM_ACTION_RESTART);
    vmm_config_add_disk(c, &(vmm_disk_config_t){.size = sizeof(vmm_disk_config_t), .path = "/d", .target = "vda", .serial = "s"});
    vmm_config_add_net(c, "tap9", NULL);
    vmm_config_set_serial(c, VMM_CHARDEV_FILE, "/log");
    vmm_config_set_rng(c, 1);
    return c;
}

static void clone_is_deep_and_equal(void)
{
    vmm_config_t *c = everything(), *k = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_config_clone(c, &k), 0);
    const char *why = NULL;
    CU_ASSERT_TRUE(config_equal(c, k, &why));
    CU_ASSERT_PTR_NOT_EQUAL(vmm_config_disk(c, 0)->path, vmm_config_disk(k, 0)->path);
    CU_ASSERT_PTR_NOT_EQUAL(vmm_config_metadata(c), vmm_config_metadata(k));
    vmm_config_free(c); /* the clone must not share anything with it */
    CU_ASSERT_STRING_EQUAL(vmm_config_disk(k, 0)->path, "/d");
    CU_ASSERT_STRING_EQUAL(vmm_config_vcpu_pin(k, 1), "1");
    CU_ASSERT_STRING_EQUAL(vmm_config_cpu_disabled(k, 0), "avx");
    CU_ASSERT_STRING_EQUAL(vmm_config_net(k, 0)->tap, "tap9");
    vmm_config_free(k);
}

static void validate_lists_every_problem(void)
{
    vmm_config_t *c = fresh();
    vmm_config_set_memory(c, 16 << 20);
    vmm_config_set_current_memory(c, 32 << 20);
    vmm_config_set_vcpu_pin(c, 5, "0");
    vmm_config_set_kernel(c, "/nonexistent/kernel");
    char *problems = NULL;
    int rc = vmm_config_validate(c, &problems);
    CU_ASSERT_EQUAL(rc, VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(problems);
    CU_ASSERT_PTR_NOT_NULL(strstr(problems, "error: /domain/currentMemory"));
    CU_ASSERT_PTR_NOT_NULL(strstr(problems, "error: /domain/cputune/vcpupin: vcpu 5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(problems, "error: /domain/os/kernel: '/nonexistent/kernel'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "(and 2 more errors)"));
    free(problems);
    vmm_config_free(c);
}

int main(void)
{
    static const struct unit_test tests[] = {
        {"new config has a random uuid", new_config_has_random_uuid},
        {"uuid accepts both forms, canonicalises", uuid_accepts_both_forms_and_canonicalises},
        {"name refuses slash and newline", name_refuses_slash_and_newline},
        {"cpuset parsed and canonical", cpuset_is_parsed_and_canonical},
        {"cputune ranges follow libvirt", cputune_ranges_follow_libvirt},
        {"vcpupin set, replace, remove", vcpupin_set_replace_remove},
        {"cpu features known, sorted, unique", cpu_features_are_known_sorted_unique},
        {"disks validate targets and duplicates", disks_validate_targets_and_duplicates},
        {"nets generate unicast MACs", nets_generate_unicast_macs},
        {"NICs of each type are checked", nics_of_each_type_are_checked},
        {"serial sets the console mode", serial_sets_console_mode},
        {"lifecycle defaults and setters", lifecycle_defaults_and_setters},
        {"metadata needs namespaced elements", metadata_needs_namespaced_elements},
        {"clone is deep and equal", clone_is_deep_and_equal},
        {"validate lists every problem", validate_lists_every_problem},
        {NULL, NULL},
    };
    return unit_main("config", tests);
}
