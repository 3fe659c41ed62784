/* Internal logging: forwards to the callback set by vmm_set_log_cb(). */
#ifndef LIBVMM_UTIL_LOG_H
#define LIBVMM_UTIL_LOG_H

#include "vmm/host.h"

void vmm_log(vmm_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when a message at `level` would reach the callback (skip costly formatting). */
int vmm_log_enabled(vmm_log_level_t level);

#define log_error(...) vmm_log(VMM_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) vmm_log(VMM_LOG_WARN, __VA_ARGS__)
#define log_info(...) vmm_log(VMM_LOG_INFO, __VA_ARGS__)
#define log_debug(...) vmm_log(VMM_LOG_DEBUG, __VA_ARGS__)

#endif
