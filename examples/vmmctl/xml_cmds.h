/* vmmctl's domain XML commands: dumpxml, validate, and loading a domain for
 * `vmmctl run DOMAIN.xml`. */
#ifndef VMMCTL_XML_CMDS_H
#define VMMCTL_XML_CMDS_H

#include <vmm/vmm.h>

/* `vmmctl dumpxml [--lenient] [--check-host] DOMAIN.xml`: prints the domain
 * normalised (as libvmm understood it) on stdout; warnings and errors on
 * stderr. argv[0] is "dumpxml". Host checks (files, CPUs) are skipped unless
 * --check-host. Returns the exit status: 0, 1 (invalid), 2 (usage). */
int vmmctl_cmd_dumpxml(int argc, char **argv);

/* `vmmctl validate [--lenient] [--offline] DOMAIN.xml...`: checks each file
 * in full and lists every problem on stderr ("FILE: error: PATH, line N:
 * ..."), then "FILE: valid" or "FILE: invalid (N errors)" on stdout.
 * --offline skips the host checks. argv[0] is "validate". Returns 0 when
 * every file is valid, 1 otherwise, 2 for bad usage. */
int vmmctl_cmd_validate(int argc, char **argv);

/* Reads the domain at `path` for `vmmctl run` (strict; host checks on;
 * VMMCTL_XML_LENIENT=1 in the environment makes it lenient). Prints
 * warnings and every problem to stderr. Returns 0 with *out set (free with
 * vmm_config_free()) or 1 with *out NULL. */
int vmmctl_load_domain(const char *path, vmm_config_t **out);

#endif
