#include "config/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void diag_init(struct diag *d)
{
    memset(d, 0, sizeof(*d));
}

void diag_free(struct diag *d)
{
    free(d->text);
    free(d->first);
    memset(d, 0, sizeof(*d));
}

/* Appends "prefix" + formatted message + "\n". */
static void append(struct diag *d, const char *prefix, const char *fmt, va_list ap)
{
    if (d->oom)
        return;
    if (d->errors + d->warnings > DIAG_MAX_LINES) {
        d->dropped++;
        return;
    }
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    size_t need = d->len + strlen(prefix) + (size_t)n + 2;
    if (need > d->cap) {
        size_t cap = d->cap ? d->cap : 256;
        while (cap < need)
            cap *= 2;
        char *grown = realloc(d->text, cap);
        if (!grown) {
            d->oom = 1;
            return;
        }
        d->text = grown;
        d->cap = cap;
    }
    memcpy(d->text + d->len, prefix, strlen(prefix));
    d->len += strlen(prefix);
    char *msg = d->text + d->len;
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    d->len += (size_t)n;
    d->text[d->len++] = '\n';
    d->text[d->len] = '\0';
}

void diag_error(struct diag *d, int code, const char *fmt, ...)
{
    va_list ap;
    if (!d->errors) {
        d->first_code = code;
        va_start(ap, fmt);
        if (vasprintf(&d->first, fmt, ap) < 0)
            d->first = NULL;
        va_end(ap);
    }
    d->errors++;
    va_start(ap, fmt);
    append(d, "error: ", fmt, ap);
    va_end(ap);
}

void diag_warn(struct diag *d, const char *fmt, ...)
{
    va_list ap;
    d->warnings++;
    va_start(ap, fmt);
    append(d, "warning: ", fmt, ap);
    va_end(ap);
}

int diag_finish(struct diag *d, char **out)
{
    int rc = 0;
    if (d->oom) {
        rc = vmm_error(VMM_ENOMEM, "out of memory while listing config problems");
    } else if (d->errors) {
        unsigned more = d->errors - 1;
        if (more)
            rc = vmm_error(d->first_code, "%s (and %u more error%s)",
                           d->first ? d->first : "error", more, more == 1 ? "" : "s");
        else
            rc = vmm_error(d->first_code, "%s", d->first ? d->first : "error");
    }
    if (d->dropped && !d->oom) {
        char line[96];
        snprintf(line, sizeof(line), "... %u more problems not listed\n", d->dropped);
        size_t n = strlen(line);
        char *grown = realloc(d->text, d->len + n + 1);
        if (grown) {
            memcpy(grown + d->len, line, n + 1);
            d->text = grown;
            d->len += n;
        }
    }
    if (out) {
        *out = d->len && !d->oom ? d->text : NULL;
        if (*out)
            d->text = NULL;
    }
    diag_free(d);
    return rc;
}
