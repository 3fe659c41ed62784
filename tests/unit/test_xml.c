/* libvirt domain XML: reading, writing, round trips, hostile input. The
 * corpus in tests/xml/ is read in full; see tests/xml/README.md. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "unit.h"
#include "vmm/vmm.h"
#include "xml_corpus.h"

static vmm_config_t *parse(const char *xml, unsigned flags, int *rc, char **problems)
{
    vmm_config_t *c = NULL;
    *rc = vmm_config_from_xml(xml, strlen(xml), flags, &c, problems);
    return c;
}

/* Parses, writes, parses the output and writes again: the two configs must
 * be equal and the two texts identical. */
static void check_round_trip(const char *name, vmm_config_t *c)
{
    char *x1 = NULL, *x2 = NULL;
    vmm_config_t *c2 = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_config_to_xml(c, &x1), 0);
    int rc = vmm_config_from_xml(x1, strlen(x1), VMM_XML_NO_HOST_CHECKS, &c2, NULL);
    if (rc)
        fprintf(stderr, "%s: written XML refused: %s\n%s", name, vmm_last_error(), x1);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    const char *why = NULL;
    int eq = config_equal(c, c2, &why);
    if (!eq)
        fprintf(stderr, "%s: round trip changed %s\n", name, why);
    CU_ASSERT_TRUE(eq);
    CU_ASSERT_EQUAL_FATAL(vmm_config_to_xml(c2, &x2), 0);
    CU_ASSERT_STRING_EQUAL(x1, x2);
    free(x1);
    free(x2);
    vmm_config_free(c2);
}

static void valid_corpus_reads_and_round_trips(void)
{
    char **files = corpus_list("valid");
    CU_ASSERT_PTR_NOT_NULL_FATAL(files);
    CU_ASSERT_PTR_NOT_NULL(files[0]);
    for (size_t i = 0; files[i]; i++) {
        vmm_config_t *c = NULL;
        char *problems = NULL;
        int rc = vmm_config_from_xml_file(files[i], VMM_XML_NO_HOST_CHECKS, &c, &problems);
        if (rc)
            fprintf(stderr, "%s: %s\n%s", files[i], vmm_last_error(), problems ? problems : "");
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT(!problems || !strstr(problems, "error: "));
        free(problems);
        if (c)
            check_round_trip(files[i], c);
        vmm_config_free(c);
    }
    corpus_free(files);
}

static void lenient_corpus_fails_strict_and_passes_lenient(void)
{
    char **files = corpus_list("lenient");
    CU_ASSERT_PTR_NOT_NULL_FATAL(files);
    CU_ASSERT_PTR_NOT_NULL(files[0]);
    for (size_t i = 0; files[i]; i++) {
        char *doc = corpus_read(files[i], NULL), *expect = corpus_expect(doc, "strict-expect");
        CU_ASSERT_PTR_NOT_NULL_FATAL(expect);
        vmm_config_t *c = NULL;
        char *problems = NULL;
        int rc = vmm_config_from_xml_file(files[i], VMM_XML_NO_HOST_CHECKS, &c, &problems);
        CU_ASSERT_EQUAL(rc, VMM_ENOTSUP);
        CU_ASSERT_PTR_NULL(c);
        CU_ASSERT_PTR_NOT_NULL_FATAL(problems);
        if (!strstr(problems, expect))
            fprintf(stderr, "%s: expected '%s' in:\n%s", files[i], expect, problems);
        CU_ASSERT_PTR_NOT_NULL(strstr(problems, expect));
        free(problems);
        problems = NULL;
        rc = vmm_config_from_xml_file(files[i], VMM_XML_LENIENT | VMM_XML_NO_HOST_CHECKS, &c,
                                      &problems);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_PTR_NOT_NULL(problems); /* the warnings */
        CU_ASSERT(problems && !strstr(problems, "error: "));
        if (c)
            check_round_trip(files[i], c);
        vmm_config_free(c);
        free(problems);
        free(expect);
        free(doc);
    }
    corpus_free(files);
}

static void invalid_corpus_fails_with_the_expected_problem(void)
{
    char **files = corpus_list("invalid");
    CU_ASSERT_PTR_NOT_NULL_FATAL(files);
    CU_ASSERT_PTR_NOT_NULL(files[0]);
    for (size_t i = 0; files[i]; i++) {
        char *doc = corpus_read(files[i], NULL), *expect = corpus_expect(doc, "expect");
        for (unsigned flags = 0; flags <= VMM_XML_LENIENT; flags++) {
            vmm_config_t *c = NULL;
            char *problems = NULL;
            int rc = vmm_config_from_xml_file(files[i], flags, &c, &problems);
            if (rc == 0)
                fprintf(stderr, "%s: accepted (flags %u)\n", files[i], flags);
            CU_ASSERT(rc < 0);
            CU_ASSERT_PTR_NULL(c);
            CU_ASSERT(strlen(vmm_last_error()) > 0);
            if (expect) {
                int found = problems && strstr(problems, expect);
                if (!found)
                    fprintf(stderr, "%s: expected '%s' in:\n%s", files[i], expect,
                            problems ? problems : vmm_last_error());
                CU_ASSERT_TRUE(found);
            }
            free(problems);
            vmm_config_free(c);
        }
        free(expect);
        free(doc);
    }
    corpus_free(files);
}

static void domain_type_selects_engine(void)
{
    int rc;
    vmm_config_t *c = parse("<domain type='kvm'><name>a</name><memory>65536</memory>"
                            "<os><type>hvm</type><kernel>/k</kernel></os></domain>",
                            VMM_XML_NO_HOST_CHECKS, &rc, NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(vmm_config_engine(c), "kvm");
    CU_ASSERT_STRING_EQUAL(vmm_config_arch(c), "x86_64");
    CU_ASSERT_EQUAL(vmm_config_memory(c), 64ULL << 20); /* KiB by default */
    CU_ASSERT_EQUAL(vmm_config_vcpus(c), 1);
    CU_ASSERT_EQUAL(vmm_config_lifecycle(c, VMM_LIFECYCLE_REBOOT), VMM_ACTION_RESTART);
    CU_ASSERT_EQUAL(vmm_config_console(c), VMM_CONSOLE_NONE); /* no <serial> */
    vmm_config_free(c);
    c = parse("<domain type='qemu'><name>b</name><memory>65536</memory>"
              "<os><type arch='riscv64'>hvm</type><kernel>/k</kernel></os></domain>",
              VMM_XML_NO_HOST_CHECKS, &rc, NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(vmm_config_engine(c), "soft");
    vmm_config_free(c);
}

static void every_libvirt_unit_is_understood(void)
{
    static const struct {
        const char *unit;
        unsigned long long value, bytes;
    } cases[] = {
        /* hard_limit may not be below the 64 MiB of guest memory */
        {"b", 67108864, 67108864ULL},        {"bytes", 67108865, 67108865ULL},
        {"byte", 67108866, 67108866ULL},     {"KB", 100000, 100000000ULL},
        {"k", 65536, 64ULL << 20},           {"KiB", 65537, 65537ULL << 10},
        {"MB", 100, 100000000ULL},           {"M", 64, 64ULL << 20},
        {"MiB", 65, 65ULL << 20},            {"GB", 2, 2000000000ULL},
        {"G", 2, 2ULL << 30},                {"GiB", 3, 3ULL << 30},
        {"TB", 2, 2000000000000ULL},         {"T", 2, 2ULL << 40},
        {"TiB", 3, 3ULL << 40},              {"kib", 65536, 64ULL << 20},
        {"mb", 70, 70000000ULL},             {"PiB", 1, 1ULL << 50},
        {"E", 15, 15ULL << 60},              {"", 65536, 64ULL << 20},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char xml[512];
        snprintf(xml, sizeof(xml),
                 "<domain type='kvm'><name>u</name><memory>65536</memory>"
                 "<memtune><hard_limit%s%s%s>%llu</hard_limit></memtune>"
                 "<os><type>hvm</type><kernel>/k</kernel></os></domain>",
                 *cases[i].unit ? " unit='" : "", cases[i].unit, *cases[i].unit ? "'" : "",
                 cases[i].value);
        int rc;
        vmm_config_t *c = parse(xml, VMM_XML_NO_HOST_CHECKS, &rc, NULL);
        if (rc)
            fprintf(stderr, "unit %s: %s\n", cases[i].unit, vmm_last_error());
        CU_ASSERT_EQUAL(rc, 0);
        if (c)
            CU_ASSERT_EQUAL(vmm_config_memory_hard_limit(c), cases[i].bytes);
        vmm_config_free(c);
    }
}

static void memory_overflow_and_rounding(void)
{
    int rc;
    char *problems = NULL;
    vmm_config_t *c =
        parse("<domain type='kvm'><name>o</name><memory unit='EiB'>16</memory>"
              "<os><type>hvm</type><kernel>/k</kernel></os></domain>",
              VMM_XML_NO_HOST_CHECKS, &rc, &problems);
    CU_ASSERT_EQUAL(rc, VMM_ERANGE);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "16 EiB overflows 64 bits"));
    free(problems);
    problems = NULL;
    c = parse("<domain type='kvm'><name>o</name><memory unit='MB'>100</memory>"
              "<os><type>hvm</type><kernel>/k</kernel></os></domain>",
              VMM_XML_NO_HOST_CHECKS, &rc, &problems);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(vmm_config_memory(c), 100003840ULL); /* 10^8 rounded up to 4 KiB */
    CU_ASSERT_TRUE(problems && strstr(problems, "warning: /domain/memory, line 1: "
                                                "100000000 bytes rounded up") != NULL);
    free(problems);
    vmm_config_free(c);
}

static void unsupported_element_names_path_and_line(void)
{
    const char *xml = "<domain type='kvm'>\n<name>h</name>\n<memory>65536</memory>\n"
                      "<os><type>hvm</type><kernel>/k</kernel></os>\n<devices>\n"
                      "<hostdev mode='subsystem'/>\n</devices>\n</domain>\n";
    int rc;
    char *problems = NULL;
    vmm_config_t *c = parse(xml, VMM_XML_NO_HOST_CHECKS, &rc, &problems);
    CU_ASSERT_EQUAL(rc, VMM_ENOTSUP);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_STRING_EQUAL(vmm_last_error(), "/domain/devices/hostdev, line 6: not supported");
    free(problems);
    problems = NULL;
    c = parse(xml, VMM_XML_NO_HOST_CHECKS | VMM_XML_LENIENT, &rc, &problems);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(c);
    CU_ASSERT_STRING_EQUAL(problems,
                           "warning: /domain/devices/hostdev, line 6: not supported, ignored\n");
    free(problems);
    vmm_config_free(c);
}

static void unknown_attribute_is_named(void)
{
    int rc;
    char *problems = NULL;
    vmm_config_t *c = parse("<domain type='kvm'><name>a</name><memory frob='1'>65536</memory>"
                            "<os><type>hvm</type><kernel>/k</kernel></os></domain>",
                            VMM_XML_NO_HOST_CHECKS, &rc, &problems);
    CU_ASSERT_EQUAL(rc, VMM_ENOTSUP);
    CU_ASSERT_STRING_EQUAL(vmm_last_error(), "/domain/memory/@frob, line 1: not supported");
    free(problems);
    vmm_config_free(c);
}

static void every_problem_is_listed_one_per_line(void)
{
    const char *xml = "<domain type='kvm'>\n<name>m</name>\n<memory unit='parsec'>1</memory>\n"
                      "<vcpu>0</vcpu>\n<os><type>hvm</type></os>\n<graphics/>\n<sound/>\n"
                      "</domain>\n";
    int rc;
    char *problems = NULL;
    vmm_config_t *c = parse(xml, VMM_XML_NO_HOST_CHECKS, &rc, &problems);
    CU_ASSERT(rc < 0);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(problems);
    unsigned lines = 0;
    for (const char *p = problems; *p; p++)
        lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(problems, "error: /domain/memory, line 3: unit 'parsec'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(problems, "error: /domain/vcpu, line 4:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(problems, "error: /domain/graphics, line 6: not supported"));
    CU_ASSERT_PTR_NOT_NULL(strstr(problems, "error: /domain/sound, line 7: not supported"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "(and 3 more errors)"));
    free(problems);
}

static void uuid_generated_when_absent(void)
{
    const char *xml = "<domain type='kvm'><name>a</name><memory>65536</memory>"
                      "<os><type>hvm</type><kernel>/k</kernel></os></domain>";
    int rc;
    vmm_config_t *a = parse(xml, VMM_XML_NO_HOST_CHECKS, &rc, NULL);
    vmm_config_t *b = parse(xml, VMM_XML_NO_HOST_CHECKS, &rc, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(strlen(vmm_config_uuid(a)), 36);
    CU_ASSERT_STRING_NOT_EQUAL(vmm_config_uuid(a), vmm_config_uuid(b));
    vmm_config_free(a);
    vmm_config_free(b);
}

static void metadata_is_kept_and_written_back(void)
{
    const char *xml =
        "<domain type='kvm' xmlns:p='urn:p'><name>m</name>\n<metadata>\n"
        "  <p:a k='v'>\n    <p:b>text &amp; &lt;tags&gt;</p:b>\n    <p:c> </p:c>\n  </p:a>\n"
        "  <q:z xmlns:q='urn:q'/>\n</metadata><memory>65536</memory>"
        "<os><type>hvm</type><kernel>/k</kernel></os></domain>";
    int rc;
    vmm_config_t *c = parse(xml, VMM_XML_NO_HOST_CHECKS, &rc, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(vmm_config_metadata(c),
                           "<p:a xmlns:p=\"urn:p\" k=\"v\"><p:b>text &amp; &lt;tags&gt;</p:b>"
                           "<p:c> </p:c></p:a><q:z xmlns:q=\"urn:q\"/>");
    check_round_trip("metadata", c);
    vmm_config_free(c);
}

static void written_xml_looks_like_virsh(void)
{
    int rc;
    vmm_config_t *c = parse("<domain type='kvm'><name>w</name><memory unit='MiB'>64</memory>"
                            "<os><type>hvm</type><kernel>/k</kernel></os></domain>",
                            VMM_XML_NO_HOST_CHECKS, &rc, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char *x = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_config_to_xml(c, &x), 0);
    CU_ASSERT_EQUAL(strncmp(x, "<domain type=\"kvm\">\n  <name>w</name>\n", 37), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "  <memory unit=\"KiB\">65536</memory>\n"));
    CU_ASSERT_PTR_NULL(strstr(x, "<?xml"));
    CU_ASSERT_EQUAL(x[strlen(x) - 1], '\n');
    free(x);
    vmm_config_free(c);
}

static void writer_refuses_text_xml_cannot_carry(void)
{
    vmm_config_t *c = NULL;
    CU_ASSERT_EQUAL_FATAL(vmm_config_new(&c), 0);
    vmm_config_set_cmdline(c, "console=ttyS0 \x01");
    char *x = (char *)1;
    CU_ASSERT_EQUAL(vmm_config_to_xml(c, &x), VMM_EINVAL);
    CU_ASSERT_PTR_NULL(x);
    vmm_config_set_cmdline(c, "bad utf8 \xc3\x28");
    CU_ASSERT_EQUAL(vmm_config_to_xml(c, &x), VMM_EINVAL);
    vmm_config_set_cmdline(c, "fine");
    vmm_config_set_kernel(c, "relative/vmlinuz");
    CU_ASSERT_EQUAL(vmm_config_to_xml(c, &x), VMM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "relative"));
    vmm_config_free(c);
}

static void oversized_document_is_refused_with_figures(void)
{
    size_t len = VMM_XML_MAX_SIZE + 1;
    char *big = malloc(len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, ' ', len);
    vmm_config_t *c = NULL;
    int rc = vmm_config_from_xml(big, len, 0, &c, NULL);
    CU_ASSERT_EQUAL(rc, VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "10485761 bytes"));
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "10485760"));
    free(big);
    /* The same through a file. */
    char path[] = "/tmp/libvmm-xml-big-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(ftruncate(fd, (off_t)len), 0);
    close(fd);
    rc = vmm_config_from_xml_file(path, 0, &c, NULL);
    CU_ASSERT_EQUAL(rc, VMM_ERANGE);
    unlink(path);
}

static void large_valid_document_is_quick(void)
{
    /* ~9 MiB: a long description and many ignored elements. */
    size_t cap = 9u << 20, n = 0;
    char *doc = malloc(cap + 4096);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    if (!doc)
        return;
    n += (size_t)sprintf(doc, "<domain type='kvm'><name>big</name><description>");
    memset(doc + n, 'x', 4u << 20);
    n += 4u << 20;
    n += (size_t)sprintf(doc + n, "</description><memory>65536</memory>"
                                  "<os><type>hvm</type><kernel>/k</kernel></os><devices>");
    while (n + 200 < cap)
        n += (size_t)sprintf(doc + n, "<controller type='pci'/>");
    n += (size_t)sprintf(doc + n, "</devices></domain>");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vmm_config_t *c = NULL;
    char *problems = NULL;
    int rc = vmm_config_from_xml(doc, n, VMM_XML_NO_HOST_CHECKS, &c, &problems);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("\n    9 MiB document read in %.3f s\n", s);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(s < 10.0);
    /* Warnings past the list limit are counted, not listed. */
    CU_ASSERT_TRUE(problems && strstr(problems, "more problems not listed") != NULL);
    CU_ASSERT_EQUAL(strlen(vmm_config_description(c)), 4u << 20);
    free(problems);
    vmm_config_free(c);
    free(doc);
}

static void deep_nesting_is_refused_not_crashed(void)
{
    size_t depth = 100000, n = 0;
    char *doc = malloc(depth * 8 + 512);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    n += (size_t)sprintf(doc, "<domain type='kvm'><name>d</name><metadata>");
    n += (size_t)sprintf(doc + n, "<a:x xmlns:a='urn:a'>");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(doc + n, "<a:y>");
    doc[n] = '\0';
    vmm_config_t *c = NULL;
    int rc = vmm_config_from_xml(doc, n, 0, &c, NULL);
    CU_ASSERT_EQUAL(rc, VMM_EFORMAT);
    CU_ASSERT_PTR_NULL(c);
    free(doc);
}

static void missing_and_odd_files(void)
{
    vmm_config_t *c = NULL;
    CU_ASSERT_EQUAL(vmm_config_from_xml_file("/nonexistent/domain.xml", 0, &c, NULL),
                    VMM_ENOENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "/nonexistent/domain.xml"));
    CU_ASSERT(vmm_config_from_xml_file("/tmp", 0, &c, NULL) < 0);
    CU_ASSERT_EQUAL(vmm_config_from_xml("", 0, 0, &c, NULL), VMM_EFORMAT);
    CU_ASSERT_EQUAL(vmm_config_from_xml("<domain", 7, 99, &c, NULL), VMM_EINVAL);
    CU_ASSERT_PTR_NULL(c);
}

static void host_checks_find_files_and_cpus(void)
{
    char kernel[] = "/tmp/libvmm-xml-kernel-XXXXXX";
    int fd = mkstemp(kernel);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    char xml[1024];
    snprintf(xml, sizeof(xml),
             "<domain type='kvm'><name>h</name><memory>65536</memory>"
             "<vcpu cpuset='0'>1</vcpu><os><type>hvm</type><kernel>%s</kernel></os></domain>",
             kernel);
    int rc;
    vmm_config_t *c = parse(xml, 0, &rc, NULL);
    CU_ASSERT_EQUAL(rc, 0);
    vmm_config_free(c);
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    snprintf(xml, sizeof(xml),
             "<domain type='kvm'><name>h</name><memory>65536</memory>"
             "<vcpu cpuset='%ld'>1</vcpu><os><type>hvm</type><kernel>%s</kernel></os></domain>",
             cpus, kernel);
    c = parse(xml, 0, &rc, NULL);
    CU_ASSERT_EQUAL(rc, VMM_ERANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(vmm_last_error(), "but this host has"));
    c = parse(xml, VMM_XML_NO_HOST_CHECKS, &rc, NULL);
    CU_ASSERT_EQUAL(rc, 0);
    vmm_config_free(c);
    unlink(kernel);
    snprintf(xml, sizeof(xml),
             "<domain type='kvm'><name>h</name><memory>65536</memory>"
             "<os><type>hvm</type><kernel>%s</kernel></os></domain>",
             kernel);
    c = parse(xml, 0, &rc, NULL);
    CU_ASSERT_EQUAL(rc, VMM_ENOENT);
    CU_ASSERT_PTR_NULL(c);
}

/* libxml2 must not print: run a malformed document with stderr redirected to
 * a file and check the file stays empty. */
static void libxml2_prints_nothing(void)
{
    char path[] = "/tmp/libvmm-xml-stderr-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    vmm_config_t *c = NULL;
    const char *bad[] = {"<domain type='kvm'><name>x</nam></domain>", "<?xml version='9'?><a/>",
                         "<domain xmlns:a='relative'><a:b/></domain>", "\xff\xfe<\x00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vmm_config_from_xml(bad[i], strlen(bad[i]) + (i == 3), 0, &c, NULL);
        vmm_config_free(c);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    CU_ASSERT_EQUAL(fstat(fd, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, 0);
    close(fd);
    unlink(path);
}

struct thread_arg {
    const char *xml;
    int failures;
};

static void *parse_many(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 300; i++) {
        vmm_config_t *c = NULL;
        char *problems = NULL;
        int rc = vmm_config_from_xml(a->xml, strlen(a->xml), VMM_XML_NO_HOST_CHECKS, &c,
                                     &problems);
        int want_ok = strstr(a->xml, "<bogus/>") == NULL;
        if ((rc == 0) != want_ok)
            a->failures++;
        if (!want_ok && (!problems || !strstr(problems, "/domain/bogus, line 1")))
            a->failures++;
        free(problems);
        char *x = NULL;
        if (c && vmm_config_to_xml(c, &x))
            a->failures++;
        free(x);
        vmm_config_free(c);
    }
    return NULL;
}

static void parsing_is_thread_safe(void)
{
    struct thread_arg args[3] = {
        {"<domain type='kvm'><name>t1</name><memory>65536</memory><os><type>hvm</type>"
         "<kernel>/k</kernel></os><metadata><a:b xmlns:a='urn:a'/></metadata></domain>", 0},
        {"<domain type='kvm'><name>t2</name><memory>65536</memory><bogus/><os><type>hvm</type>"
         "<kernel>/k</kernel></os></domain>", 0},
        {"<domain type='qemu'><name>t3</name><memory>65536</memory><os><type>hvm</type>"
         "<kernel>/k</kernel></os><devices><serial type='pty'/></devices></domain>", 0},
    };
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, parse_many, &args[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(args[i].failures, 0);
    }
}

int main(int argc, char **argv)
{
    corpus_init(argc, argv);
    static const struct unit_test tests[] = {
        {"valid corpus reads and round-trips", valid_corpus_reads_and_round_trips},
        {"lenient corpus: strict refuses, lenient reads",
         lenient_corpus_fails_strict_and_passes_lenient},
        {"invalid corpus fails with the expected problem",
         invalid_corpus_fails_with_the_expected_problem},
        {"domain type selects the engine", domain_type_selects_engine},
        {"every libvirt unit is understood", every_libvirt_unit_is_understood},
        {"memory overflow and rounding", memory_overflow_and_rounding},
        {"unsupported element names path and line", unsupported_element_names_path_and_line},
        {"unknown attribute is named", unknown_attribute_is_named},
        {"every problem is listed, one per line", every_problem_is_listed_one_per_line},
        {"uuid generated when absent", uuid_generated_when_absent},
        {"metadata kept and written back", metadata_is_kept_and_written_back},
        {"written XML looks like virsh's", written_xml_looks_like_virsh},
        {"writer refuses text XML cannot carry", writer_refuses_text_xml_cannot_carry},
        {"oversized document refused with figures", oversized_document_is_refused_with_figures},
        {"large valid document is quick", large_valid_document_is_quick},
        {"deep nesting refused, not crashed", deep_nesting_is_refused_not_crashed},
        {"missing and odd files", missing_and_odd_files},
        {"host checks find files and CPUs", host_checks_find_files_and_cpus},
        {"libxml2 prints nothing", libxml2_prints_nothing},
        {"parsing is thread-safe", parsing_is_thread_safe},
        {NULL, NULL},
    };
    return unit_main("xml", tests);
}
