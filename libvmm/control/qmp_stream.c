/* The QMP byte stream, cut into documents (qmp_stream.h). */
#include "control/qmp_stream.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define KEEP_CAP 65536 /* a buffer larger than this is freed between documents */

void qmp_stream_init(struct qmp_stream *s, size_t limit)
{
    memset(s, 0, sizeof(*s));
    s->limit = limit;
}

void qmp_stream_free(struct qmp_stream *s)
{
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One byte onto the document (room for the NUL kept). */
static int append(struct qmp_stream *s, char c)
{
    if (s->len + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        if (cap > s->limit + 2)
            cap = s->limit + 2;
        if (cap < s->len + 2)
            cap = s->len + 2;
        char *n = realloc(s->buf, cap);
        if (!n)
            return vmm_error(VMM_ENOMEM, "QMP request buffer of %zu bytes", cap);
        s->buf = n;
        s->cap = cap;
    }
    s->buf[s->len++] = c;
    s->buf[s->len] = '\0';
    return 0;
}

int qmp_stream_feed(struct qmp_stream *s, const char *data, size_t len, size_t *used)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        *used = i + 1;
        if (c == 0xff)
            return QMP_STREAM_BROKEN;
        if (s->len == 0 && is_space(c))
            continue; /* between documents */
        if (s->bare) {
            /* A bare word at the top level ends at whitespace (consumed)
             * or at the start of something else (left for the next one). */
            if (is_space(c))
                return QMP_STREAM_DOC;
            if (c == '{' || c == '[' || c == '"' || c == '}' || c == ']') {
                *used = i;
                return QMP_STREAM_DOC;
            }
        } else if (s->in_string && c == '\n') {
            return QMP_STREAM_BROKEN; /* JSON strings hold no raw newline */
        }
        int rc = append(s, (char)c);
        if (rc)
            return rc;
        if (s->len > s->limit)
            return QMP_STREAM_TOO_BIG;
        if (s->bare)
            continue;
        if (s->in_string) {
            if (s->escape)
                s->escape = 0;
            else if (c == '\\')
                s->escape = 1;
            else if (c == '"') {
                s->in_string = 0;
                if (s->depth == 0)
                    return QMP_STREAM_DOC; /* a top-level string */
            }
            continue;
        }
        switch (c) {
        case '"':
            s->in_string = 1;
            break;
        case '{':
        case '[':
            s->depth++;
            break;
        case '}':
        case ']':
            if (s->depth == 0 || --s->depth == 0)
                return QMP_STREAM_DOC; /* complete, or a stray closer */
            break;
        default:
            if (s->depth == 0)
                s->bare = 1;
            break;
        }
    }
    return QMP_STREAM_MORE;
}

const char *qmp_stream_doc(const struct qmp_stream *s, size_t *len)
{
    *len = s->len;
    return s->buf ? s->buf : "";
}

void qmp_stream_next(struct qmp_stream *s)
{
    if (s->cap > KEEP_CAP) {
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
    }
    s->len = 0;
    s->depth = 0;
    s->in_string = s->escape = s->bare = 0;
    if (s->buf)
        s->buf[0] = '\0';
}
