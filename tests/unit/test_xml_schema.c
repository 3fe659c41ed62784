/* What libvmm writes validates against libvirt's RelaxNG domain schema,
 * checked with virt-xml-validate (Debian: libvirt-clients, which pulls in
 * libvirt0 with /usr/share/libvirt/schemas, and libxml2-utils for xmllint).
 * Without the tool or the schema the test skips (exit 77), except under
 * CI=true, where it fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/vmm.h"
#include "xml_corpus.h"

#define SCHEMA "/usr/share/libvirt/schemas/domain.rng"

static const char *find_tool(void)
{
    static const char *const dirs[] = {"/usr/bin", "/usr/local/bin", "/bin"};
    static char path[256];
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/virt-xml-validate", dirs[i]);
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

static const char *tool;

/* Runs virt-xml-validate on `xml` (written to a temporary file); returns its
 * exit status and prints its output when it fails. */
static int validate_text(const char *label, const char *xml)
{
    char path[] = "/tmp/libvmm-schema-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t len = strlen(xml);
    int ok = write(fd, xml, len) == (ssize_t)len;
    close(fd);
    if (!ok) {
        unlink(path);
        return -1;
    }
    char out[] = "/tmp/libvmm-schema-out-XXXXXX";
    int ofd = mkstemp(out);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(ofd, 2);
        execl(tool, tool, path, "domain", (char *)NULL);
        _exit(127);
    }
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc != 0) {
        char *text = corpus_read(out, NULL);
        fprintf(stderr, "\n%s: virt-xml-validate exit %d:\n%s\n--- document ---\n%s\n", label,
                rc, text ? text : "", xml);
        free(text);
    }
    close(ofd);
    unlink(out);
    unlink(path);
    return rc;
}

/* Each corpus document that libvmm accepts: the input is libvirt-valid, and
 * so is what libvmm writes for it. */
static void check_dir(const char *sub, unsigned flags)
{
    char **files = corpus_list(sub);
    CU_ASSERT_PTR_NOT_NULL_FATAL(files);
    for (size_t i = 0; files[i]; i++) {
        char *doc = corpus_read(files[i], NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
        char label[4200];
        snprintf(label, sizeof(label), "%s (input)", files[i]);
        CU_ASSERT_EQUAL(validate_text(label, doc), 0);
        vmm_config_t *c = NULL;
        CU_ASSERT_EQUAL(vmm_config_from_xml(doc, strlen(doc), flags, &c, NULL), 0);
        char *xml = NULL;
        if (c && vmm_config_to_xml(c, &xml) == 0) {
            snprintf(label, sizeof(label), "%s (written by libvmm)", files[i]);
            CU_ASSERT_EQUAL(validate_text(label, xml), 0);
        } else {
            CU_FAIL("could not read or write the document");
        }
        free(xml);
        vmm_config_free(c);
        free(doc);
    }
    corpus_free(files);
}

static void valid_corpus_in_and_out_validate(void)
{
    check_dir("valid", VMM_XML_NO_HOST_CHECKS);
}

static void lenient_corpus_in_and_out_validate(void)
{
    check_dir("lenient", VMM_XML_NO_HOST_CHECKS | VMM_XML_LENIENT);
}

/* A config built with the setters, every field set, the riscv64 way and the
 * x86_64 way. */
static void configs_built_with_setters_validate(void)
{
    for (int riscv = 0; riscv <= 1; riscv++) {
        vmm_config_t *c = NULL;
        CU_ASSERT_EQUAL_FATAL(vmm_config_new(&c), 0);
        vmm_config_set_engine(c, riscv ? "soft" : "kvm");
        vmm_config_set_arch(c, riscv ? "riscv64" : "x86_64");
        vmm_config_set_name(c, "setters & <friends>");
        vmm_config_set_title(c, "title");
        vmm_config_set_description(c, "multi\nline");
        vmm_config_set_metadata(c, "<a:x xmlns:a='urn:a'><a:y/></a:x>");
        vmm_config_set_memory(c, 1ULL << 30);
        vmm_config_set_current_memory(c, 512ULL << 20);
        vmm_config_set_vcpus(c, 4);
        vmm_config_set_vcpu_cpuset(c, "0-1");
        vmm_config_set_cpu_shares(c, 512);
        vmm_config_set_cpu_quota(c, 10000, -1);
        vmm_config_set_vcpu_pin(c, 3, "1");
        vmm_config_set_memory_hard_limit(c, (1ULL << 31) + 1);
        vmm_config_set_kernel(c, "/boot/k");
        vmm_config_set_initrd(c, "/boot/i");
        vmm_config_set_cmdline(c, "console=ttyS0 a=\"b c\"");
        vmm_config_set_loader(c, "/fw.bin");
        vmm_config_set_machine(c, riscv ? "virt" : "q35");
        if (riscv) {
            vmm_config_set_dtb(c, "/boot/virt.dtb");
        } else {
            vmm_config_set_features(c, VMM_FEATURE_ACPI | VMM_FEATURE_APIC | VMM_FEATURE_PAE);
            vmm_config_set_cpu_mode(c, VMM_CPU_HOST_PASSTHROUGH);
            vmm_config_cpu_disable_feature(c, "xsave");
            vmm_config_cpu_disable_feature(c, "sse4.2");
        }
        vmm_config_set_clock_offset(c, VMM_CLOCK_LOCALTIME);
        vmm_config_set_lifecycle(c, VMM_LIFECYCLE_POWEROFF, VMM_ACTION_PRESERVE);
        vmm_config_set_lifecycle(c, VMM_LIFECYCLE_REBOOT, VMM_ACTION_RESTART);
        vmm_config_add_disk(c, &(vmm_disk_config_t){.size = sizeof(vmm_disk_config_t), .path = "/a.img", .target = "vda",
                                                    .readonly = 1, .serial = "X 1"});
        vmm_config_add_net(c, "tap0", NULL);
        vmm_config_set_serial(c, VMM_CHARDEV_STDIO, NULL);
        vmm_config_set_rng(c, 1);
        vmm_config_set_balloon(c, 1, VMM_BALLOON_FREE_PAGE_REPORTING | VMM_BALLOON_DEFLATE_ON_OOM, 10);
        char *xml = NULL;
        CU_ASSERT_EQUAL_FATAL(vmm_config_to_xml(c, &xml), 0);
        CU_ASSERT_EQUAL(validate_text(riscv ? "setters (riscv64)" : "setters (x86_64)", xml), 0);
        free(xml);
        /* And the defaults alone. */
        vmm_config_t *d = NULL;
        vmm_config_new(&d);
        CU_ASSERT_EQUAL_FATAL(vmm_config_to_xml(d, &xml), 0);
        CU_ASSERT_EQUAL(validate_text("defaults", xml), 0);
        free(xml);
        vmm_config_free(d);
        vmm_config_free(c);
    }
}

int main(int argc, char **argv)
{
    corpus_init(argc, argv);
    const char *ci = getenv("CI");
    int in_ci = ci && !strcmp(ci, "true");
    tool = find_tool();
    const char *missing = !tool                        ? "virt-xml-validate (libvirt-clients)"
                          : access(SCHEMA, R_OK) != 0  ? SCHEMA " (libvirt0)"
                          : access("/usr/bin/xmllint", X_OK) != 0 ? "xmllint (libxml2-utils)"
                                                                   : NULL;
    if (missing) {
        printf("%s: %s is missing\n", in_ci ? "FAIL" : "SKIP", missing);
        return in_ci ? 1 : 77;
    }
    static const struct unit_test tests[] = {
        {"valid corpus: input and output validate", valid_corpus_in_and_out_validate},
        {"lenient corpus: input and output validate", lenient_corpus_in_and_out_validate},
        {"configs built with setters validate", configs_built_with_setters_validate},
        {NULL, NULL},
    };
    return unit_main("xml-schema", tests);
}
