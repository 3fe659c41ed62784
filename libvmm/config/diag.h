/* A list of problems found while reading or checking a config: every error
 * and warning, one per line, so `vmmctl validate` can show them all while
 * vmm_last_error() carries the first error. */
#ifndef LIBVMM_CONFIG_DIAG_H
#define LIBVMM_CONFIG_DIAG_H

#include <stddef.h>

/* Past this many lines, further problems are only counted. */
#define DIAG_MAX_LINES 1000

struct diag {
    char *text;          /* "error: ...\nwarning: ...\n" */
    size_t len, cap;
    unsigned errors, warnings, dropped;
    int first_code;      /* code of the first error */
    char *first;         /* message of the first error */
    int oom;
};

void diag_init(struct diag *d);
void diag_free(struct diag *d);

/* Records an error with its VMM_E* code / a warning. */
void diag_error(struct diag *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warn(struct diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the collection: returns 0 when there was no error, otherwise the first
 * error's code with vmm_last_error() set to its message (plus how many more
 * errors followed). When out is non-NULL it takes the text (NULL if empty);
 * the diag is freed either way. */
int diag_finish(struct diag *d, char **out);

#endif
