#include "config/cpuset.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define NBITS VMM_CONFIG_MAX_HOST_CPUS

static void set_bit(config_cpuset_t *s, unsigned cpu, int on)
{
    uint64_t mask = 1ULL << (cpu % 64);
    if (on)
        s->bits[cpu / 64] |= mask;
    else
        s->bits[cpu / 64] &= ~mask;
}

int cpuset_has(const config_cpuset_t *s, unsigned cpu)
{
    return cpu < NBITS && (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}

int cpuset_last(const config_cpuset_t *s)
{
    for (int i = NBITS - 1; i >= 0; i--)
        if (cpuset_has(s, (unsigned)i))
            return i;
    return -1;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads one CPU number; refuses anything that is not plain decimal and
 * anything beyond the bitmap, so a huge value cannot wrap. */
static int read_cpu(const char **pp, const char *text, unsigned *out)
{
    const char *p = *pp;
    if (!isdigit((unsigned char)*p))
        return vmm_error(VMM_EINVAL, "cpuset '%s': expected a CPU number at '%s'", text, p);
    unsigned long v = 0;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v >= NBITS)
            return vmm_error(VMM_ERANGE,
                             "cpuset '%s': CPU number at '%s' is beyond the limit of %d CPUs",
                             text, *pp, NBITS);
        p++;
    }
    *out = (unsigned)v;
    *pp = p;
    return 0;
}

int cpuset_parse(const char *text, config_cpuset_t *out, char **canonical)
{
    config_cpuset_t s;
    memset(&s, 0, sizeof(s));
    if (!text)
        return vmm_error(VMM_EINVAL, "cpuset missing");
    const char *p = skip_space(text);
    if (!*p)
        return vmm_error(VMM_EINVAL, "cpuset is empty");
    for (;;) {
        int neg = 0;
        unsigned lo, hi;
        int rc;
        p = skip_space(p);
        if (*p == '^') {
            neg = 1;
            p++;
        }
        if ((rc = read_cpu(&p, text, &lo)))
            return rc;
        hi = lo;
        p = skip_space(p);
        if (!neg && *p == '-') {
            p = skip_space(p + 1);
            if ((rc = read_cpu(&p, text, &hi)))
                return rc;
            if (hi < lo)
                return vmm_error(VMM_EINVAL, "cpuset '%s': range %u-%u is reversed", text, lo,
                                 hi);
            p = skip_space(p);
        }
        for (unsigned c = lo; c <= hi; c++)
            set_bit(&s, c, !neg);
        if (!*p)
            break;
        if (*p != ',')
            return vmm_error(VMM_EINVAL, "cpuset '%s': unexpected '%c'", text, *p);
        p++;
    }
    if (cpuset_last(&s) < 0)
        return vmm_error(VMM_EINVAL, "cpuset '%s' selects no CPU", text);
    if (canonical) {
        int rc = cpuset_format(&s, canonical);
        if (rc)
            return rc;
    }
    *out = s;
    return 0;
}

int cpuset_format(const config_cpuset_t *s, char **out)
{
    /* Worst case "0,2,4,...": at most 5 characters per CPU. */
    size_t cap = (size_t)NBITS * 5 + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return vmm_error(VMM_ENOMEM, "formatting a cpuset");
    buf[0] = '\0';
    for (unsigned c = 0; c < NBITS;) {
        if (!cpuset_has(s, c)) {
            c++;
            continue;
        }
        unsigned end = c;
        while (end + 1 < NBITS && cpuset_has(s, end + 1))
            end++;
        int n = end > c ? snprintf(buf + len, cap - len, "%s%u-%u", len ? "," : "", c, end)
                        : snprintf(buf + len, cap - len, "%s%u", len ? "," : "", c);
        len += (size_t)n;
        c = end + 1;
    }
    *out = buf;
    return 0;
}
