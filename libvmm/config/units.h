/* libvirt's scaled integers: <memory unit='GiB'>4</memory>. */
#ifndef LIBVMM_CONFIG_UNITS_H
#define LIBVMM_CONFIG_UNITS_H

#include <stdint.h>

/* Parses a decimal unsigned integer (surrounding blanks allowed) into *out.
 * VMM_EINVAL for anything else (signs, fractions, empty), VMM_ERANGE when it
 * exceeds `max`; vmm_last_error() names the text. */
int units_parse_u64(const char *text, uint64_t max, uint64_t *out);

/* Parses a signed decimal integer in [min, max] the same way. */
int units_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out);

/* value * unit in bytes. unit NULL or "" means `default_scale` bytes per
 * unit (KiB, 1024, for <memory>). Units, case-insensitive as in libvirt:
 * b, byte, bytes; k, KiB, KB (1000); M, MiB, MB; G, GiB, GB; T, TiB, TB;
 * P, PiB, PB; E, EiB, EB. VMM_EINVAL for an unknown unit, VMM_ERANGE when the
 * product overflows 64 bits (message names value, unit and the limit). */
int units_parse_scaled(const char *value, const char *unit, uint64_t default_scale,
                       uint64_t *out);

#endif
