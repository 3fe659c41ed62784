#include "config/units.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

static const char *trim(const char *s, size_t *len)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

int units_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    size_t n;
    const char *s = trim(text ? text : "", &n);
    if (n == 0)
        return vmm_error(VMM_EINVAL, "expected an unsigned integer, got nothing");
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return vmm_error(VMM_EINVAL, "'%.*s' is not an unsigned integer", (int)(n > 64 ? 64 : n),
                             s);
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return vmm_error(VMM_ERANGE, "%.*s exceeds the limit of %llu", (int)(n > 64 ? 64 : n),
                             s, (unsigned long long)max);
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int units_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    size_t n;
    const char *s = trim(text ? text : "", &n);
    int neg = n && s[0] == '-';
    char buf[32];
    if (n - (size_t)neg >= sizeof(buf))
        return vmm_error(VMM_ERANGE, "'%.64s' is out of range %lld..%lld", s, (long long)min,
                         (long long)max);
    memcpy(buf, s + neg, n - (size_t)neg);
    buf[n - (size_t)neg] = '\0';
    uint64_t mag;
    int rc = units_parse_u64(buf, (uint64_t)INT64_MAX + 1, &mag);
    if (rc == VMM_ERANGE || (rc == 0 && ((!neg && mag > (uint64_t)max) ||
                                         (neg && mag > (uint64_t)0 - (uint64_t)min))))
        return vmm_error(VMM_ERANGE, "'%.*s' is out of range %lld..%lld", (int)n, s,
                         (long long)min, (long long)max);
    if (rc)
        return vmm_error(VMM_EINVAL, "'%.*s' is not an integer", (int)(n > 64 ? 64 : n), s);
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

/* Bytes per unit, or 0 for an unknown unit. */
static uint64_t unit_scale(const char *unit, uint64_t dflt)
{
    if (!unit || !*unit)
        return dflt;
    if (!strcasecmp(unit, "b") || !strcasecmp(unit, "byte") || !strcasecmp(unit, "bytes"))
        return 1;
    static const char prefixes[] = "kmgtpe";
    const char *p = strchr(prefixes, tolower((unsigned char)unit[0]));
    if (!p || !unit[0])
        return 0;
    unsigned power = (unsigned)(p - prefixes) + 1;
    uint64_t base;
    const char *rest = unit + 1;
    if (!*rest || !strcasecmp(rest, "ib"))
        base = 1024;
    else if (!strcasecmp(rest, "b"))
        base = 1000;
    else
        return 0;
    uint64_t scale = 1;
    for (unsigned i = 0; i < power; i++)
        scale *= base; /* at most 1024^6 = 2^60: no overflow */
    return scale;
}

int units_parse_scaled(const char *value, const char *unit, uint64_t dflt, uint64_t *out)
{
    uint64_t scale = unit_scale(unit, dflt);
    if (!scale)
        return vmm_error(VMM_EINVAL,
                         "unit '%.32s' unknown (expected b, bytes, KB, k, KiB, MB, M, MiB, GB, G, "
                         "GiB, TB, T, TiB, PB, P, PiB, EB, E, EiB)",
                         unit);
    uint64_t v;
    int rc = units_parse_u64(value, UINT64_MAX, &v);
    if (rc)
        return rc;
    if (v > UINT64_MAX / scale)
        return vmm_error(VMM_ERANGE,
                         "%llu %s overflows 64 bits (at most %llu of that unit)",
                         (unsigned long long)v, unit && *unit ? unit : "KiB",
                         (unsigned long long)(UINT64_MAX / scale));
    *out = v * scale;
    return 0;
}
