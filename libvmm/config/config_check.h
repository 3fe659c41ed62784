/* Whole-config and host checks behind vmm_config_validate(). */
#ifndef LIBVMM_CONFIG_CONFIG_CHECK_H
#define LIBVMM_CONFIG_CONFIG_CHECK_H

#include "config/diag.h"
#include "vmm/config.h"

/* Adds every problem of `c` to `d`; with host == 0 only the checks that do
 * not look at the host (files, CPU count). */
void config_check(const vmm_config_t *c, int host, struct diag *d);

#endif
