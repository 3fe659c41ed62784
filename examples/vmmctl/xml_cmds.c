#include "xml_cmds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints each line of a problem list, prefixed with the file name. */
static void print_problems(const char *path, const char *text)
{
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        int n = nl ? (int)(nl - text) : (int)strlen(text);
        fprintf(stderr, "%s: %.*s\n", path, n, text);
        text += n + (nl ? 1 : 0);
    }
}

static unsigned count_errors(const char *text)
{
    unsigned n = 0;
    for (const char *p = text; p && (p = strstr(p, "error: ")); p += 7)
        if (p == text || p[-1] == '\n')
            n++;
    return n;
}

static int load(const char *path, unsigned flags, vmm_config_t **out, unsigned *errors)
{
    char *problems = NULL;
    int rc = vmm_config_from_xml_file(path, flags, out, &problems);
    if (rc && !problems)
        fprintf(stderr, "%s: error: %s\n", path, vmm_last_error());
    else
        print_problems(path, problems);
    if (errors)
        *errors = rc ? (problems ? count_errors(problems) : 1) : 0;
    free(problems);
    return rc;
}

int vmmctl_load_domain(const char *path, vmm_config_t **out)
{
    const char *env = getenv("VMMCTL_XML_LENIENT");
    unsigned flags = env && !strcmp(env, "1") ? VMM_XML_LENIENT : 0;
    return load(path, flags, out, NULL) ? 1 : 0;
}

static void usage(FILE *f, const char *cmd)
{
    if (!strcmp(cmd, "dumpxml"))
        fprintf(f, "usage: vmmctl dumpxml [--lenient] [--check-host] DOMAIN.xml\n");
    else
        fprintf(f, "usage: vmmctl validate [--lenient] [--offline] DOMAIN.xml...\n");
}

/* Parses the shared options; returns the index of the first file or -1. */
static int parse_opts(int argc, char **argv, unsigned *flags, int dump)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--"))
            return i + 1;
        if (!strcmp(argv[i], "--lenient"))
            *flags |= VMM_XML_LENIENT;
        else if (dump && !strcmp(argv[i], "--check-host"))
            *flags &= ~VMM_XML_NO_HOST_CHECKS;
        else if (!dump && !strcmp(argv[i], "--offline"))
            *flags |= VMM_XML_NO_HOST_CHECKS;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return -2;
        else {
            fprintf(stderr, "vmmctl %s: unknown option '%s'\n", argv[0], argv[i]);
            return -1;
        }
    }
    return i;
}

int vmmctl_cmd_dumpxml(int argc, char **argv)
{
    unsigned flags = VMM_XML_NO_HOST_CHECKS;
    int first = parse_opts(argc, argv, &flags, 1);
    if (first == -2) {
        usage(stdout, "dumpxml");
        return 0;
    }
    if (first < 0 || first + 1 != argc) {
        usage(stderr, "dumpxml");
        return 2;
    }
    vmm_config_t *cfg;
    if (load(argv[first], flags, &cfg, NULL))
        return 1;
    char *xml;
    int rc = vmm_config_to_xml(cfg, &xml);
    vmm_config_free(cfg);
    if (rc) {
        fprintf(stderr, "%s: error: %s\n", argv[first], vmm_last_error());
        return 1;
    }
    fputs(xml, stdout);
    free(xml);
    return fflush(stdout) == 0 ? 0 : 1;
}

int vmmctl_cmd_validate(int argc, char **argv)
{
    unsigned flags = 0;
    int first = parse_opts(argc, argv, &flags, 0);
    if (first == -2) {
        usage(stdout, "validate");
        return 0;
    }
    if (first < 0 || first >= argc) {
        usage(stderr, "validate");
        return 2;
    }
    int status = 0;
    for (int i = first; i < argc; i++) {
        vmm_config_t *cfg;
        unsigned errors;
        if (load(argv[i], flags, &cfg, &errors)) {
            printf("%s: invalid (%u error%s)\n", argv[i], errors, errors == 1 ? "" : "s");
            status = 1;
        } else {
            printf("%s: valid\n", argv[i]);
            vmm_config_free(cfg);
        }
    }
    return status;
}
