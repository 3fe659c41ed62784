/* Splits a QMP client's byte stream into JSON documents, before any JSON
 * parsing: QMP has no framing of its own (requests may be back to back,
 * split over reads, or pretty-printed over many lines), so the splitter
 * counts brackets outside strings as QEMU's JSON streamer does.
 *
 * A document ends when its outermost object or array closes, or, for a
 * bare word at the top level (garbage, or a scalar), at the next
 * whitespace or bracket. Recovery points for a broken stream: a raw newline
 * inside a string, and a 0xff byte (never valid UTF-8; QMP clients send it
 * to reset the server's parser), end the current document as broken.
 * A document longer than the limit is reported once it passes the limit;
 * the stream cannot be resynchronised after that.
 */
#ifndef LIBVMM_CONTROL_QMP_STREAM_H
#define LIBVMM_CONTROL_QMP_STREAM_H

#include <stddef.h>

enum qmp_stream_result {
    QMP_STREAM_MORE = 0, /* every byte consumed, no document complete yet */
    QMP_STREAM_DOC,      /* a document is complete: qmp_stream_doc() */
    QMP_STREAM_BROKEN,   /* the document was cut at a recovery point */
    QMP_STREAM_TOO_BIG,  /* the document passed the limit */
};

struct qmp_stream {
    char *buf;
    size_t len, cap;
    size_t limit;  /* bytes one document may have */
    int depth;     /* open '{' and '[' */
    unsigned char in_string, escape, bare;
};

/* An empty stream whose documents may be up to `limit` bytes. */
void qmp_stream_init(struct qmp_stream *s, size_t limit);
void qmp_stream_free(struct qmp_stream *s);

/* Consumes bytes of `data` up to the end of one document (or all of them);
 * *used says how many. Returns what happened (enum qmp_stream_result);
 * after anything but MORE, read the document with qmp_stream_doc() and
 * call qmp_stream_next() before feeding the rest. VMM_ENOMEM (negative)
 * when the buffer cannot grow. */
int qmp_stream_feed(struct qmp_stream *s, const char *data, size_t len, size_t *used);

/* The document's bytes (NUL-terminated, *len without the NUL). */
const char *qmp_stream_doc(const struct qmp_stream *s, size_t *len);

/* Forgets the current document; keeps the buffer unless it grew large. */
void qmp_stream_next(struct qmp_stream *s);

#endif
