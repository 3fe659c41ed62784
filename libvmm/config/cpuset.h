/* Host CPU sets in libvirt's text syntax ("0-3,^2,6"): <vcpu cpuset>,
 * <vcpupin cpuset>. The scheduler reads the bitmap; the XML writer the text.
 */
#ifndef LIBVMM_CONFIG_CPUSET_H
#define LIBVMM_CONFIG_CPUSET_H

#include <stdint.h>

#include "vmm/config.h"

typedef struct config_cpuset {
    uint64_t bits[VMM_CONFIG_MAX_HOST_CPUS / 64];
} config_cpuset_t;

/* Parses `text` (comma-separated N, N-M or ^N items; ^ removes) into *out
 * and, if canonical is non-NULL, a malloc'd canonical text ("0-1,3").
 * VMM_EINVAL for bad syntax or an empty set, VMM_ERANGE for a CPU at or above
 * VMM_CONFIG_MAX_HOST_CPUS; vmm_last_error() names the offending item. */
int cpuset_parse(const char *text, config_cpuset_t *out, char **canonical);

/* Formats a set as canonical text into a malloc'd string. VMM_ENOMEM. */
int cpuset_format(const config_cpuset_t *set, char **out);

/* Highest CPU in the set, or -1 when empty. */
int cpuset_last(const config_cpuset_t *set);

/* 1 when `cpu` is in the set. */
int cpuset_has(const config_cpuset_t *set, unsigned cpu);

#endif
