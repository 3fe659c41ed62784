#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

/* The one process-wide registry the library keeps: set once before VMs run. */
static vmm_log_cb log_cb;
static void *log_opaque;
static atomic_int log_max = VMM_LOG_ERROR;

void vmm_set_log_cb(vmm_log_cb cb, vmm_log_level_t max_level, void *opaque)
{
    log_cb = cb;
    log_opaque = opaque;
    atomic_store(&log_max, (int)max_level);
}

int vmm_log_enabled(vmm_log_level_t level)
{
    return log_cb && (int)level <= atomic_load(&log_max);
}

void vmm_log(vmm_log_level_t level, const char *fmt, ...)
{
    if (!vmm_log_enabled(level))
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_cb(level, buf, log_opaque);
}
