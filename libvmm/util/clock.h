/* The monotonic clock in milliseconds, for timeouts and statistics (any
 * thread; not the guest's clock). */
#ifndef LIBVMM_UTIL_CLOCK_H
#define LIBVMM_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_monotonic_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

#endif
