#include "machine/state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/crc32c.h"
#include "util/error.h"

static const char stream_magic[8] = { 'L', 'V', 'M', 'M', 'S', 'T', 'A', 'T' };

/* --- buffer and fd endpoints --- */

static int buffer_reserve(struct state_buffer *b, size_t more)
{
    if (more > SIZE_MAX - b->len)
        return VMM_ENOMEM;
    size_t need = b->len + more;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *n = realloc(b->data, cap);
    if (!n)
        return VMM_ENOMEM;
    b->data = n;
    b->cap = cap;
    return 0;
}

static int buffer_write(void *opaque, const void *buf, size_t len)
{
    struct state_buffer *b = opaque;
    if (len == 0)
        return 0; /* buf may be NULL */
    if (buffer_reserve(b, len))
        return vmm_error(VMM_ENOMEM, "state buffer: %zu more bytes", len);
    memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

static int buffer_read(void *opaque, void *buf, size_t len)
{
    struct state_buffer *b = opaque;
    if (b->pos > b->len || len > b->len - b->pos)
        return vmm_error(VMM_EFORMAT, "state stream ends after %zu bytes (%zu more needed)",
                         b->len, b->pos > b->len ? len : len - (b->len - b->pos));
    memcpy(buf, b->data + b->pos, len);
    b->pos += len;
    return 0;
}

struct state_sink state_buffer_sink(struct state_buffer *b)
{
    return (struct state_sink){ buffer_write, b };
}

struct state_source state_buffer_source(struct state_buffer *b)
{
    return (struct state_source){ buffer_read, b };
}

void state_buffer_free(struct state_buffer *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static int fd_write(void *opaque, const void *buf, size_t len)
{
    int fd = *(int *)opaque;
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vmm_error_errno(errno, "writing state to fd %d", fd);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fd_read(void *opaque, void *buf, size_t len)
{
    int fd = *(int *)opaque;
    uint8_t *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vmm_error_errno(errno, "reading state from fd %d", fd);
        if (n == 0)
            return vmm_error(VMM_EFORMAT, "state stream on fd %d ends early (%zu bytes missing)",
                             fd, len);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

struct state_sink state_fd_sink(int *fd)
{
    return (struct state_sink){ fd_write, fd };
}

struct state_source state_fd_source(int *fd)
{
    return (struct state_source){ fd_read, fd };
}

/* --- little-endian helpers --- */

static void le_put(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* --- writer --- */

struct state_writer {
    struct state_sink sink;
    struct state_buffer sec; /* the open section, framing included */
    int open;
    int error;          /* first error of the open section's puts */
    size_t head;        /* framing bytes before the open section's payload */
    int stray;          /* a put outside any section: reported by finish */
    uint32_t sections;
    char name[STATE_NAME_MAX + 1];
};

int state_writer_new(struct state_writer **out, const struct state_sink *sink)
{
    struct state_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return vmm_error(VMM_ENOMEM, "state writer");
    w->sink = *sink;
    uint8_t head[16];
    memcpy(head, stream_magic, 8);
    le_put(head + 8, STATE_FORMAT_VERSION, 4);
    le_put(head + 12, 0, 4);
    int rc = w->sink.write(w->sink.opaque, head, sizeof(head));
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static void put_raw(struct state_writer *w, const void *buf, size_t len)
{
    if (w->error)
        return;
    if (!w->open) {
        if (!w->stray)
            w->stray = vmm_error(VMM_ESTATE, "state: put of %zu bytes outside a section", len);
        return;
    }
    /* The payload may grow to exactly what a reader accepts, no further. */
    size_t payload = w->sec.len > w->head ? w->sec.len - w->head : 0;
    if (len > STATE_SECTION_MAX - payload) {
        w->error = vmm_error(VMM_ERANGE, "state section '%s' exceeds %u bytes", w->name,
                             STATE_SECTION_MAX);
        return;
    }
    if (buffer_write(&w->sec, buf, len))
        w->error = VMM_ENOMEM;
}

static void put_le(struct state_writer *w, uint64_t v, unsigned bytes)
{
    uint8_t b[8];
    le_put(b, v, bytes);
    put_raw(w, b, bytes);
}

int state_begin(struct state_writer *w, const char *name, uint32_t version)
{
    size_t n = strlen(name);
    if (w->open)
        return vmm_error(VMM_ESTATE, "state section '%s' opened inside '%s'", name, w->name);
    if (n == 0 || n > STATE_NAME_MAX)
        return vmm_error(VMM_EINVAL, "state section name '%s': length %zu, limit 1..%d", name, n,
                         STATE_NAME_MAX);
    memcpy(w->name, name, n + 1);
    w->sec.len = 0;
    w->head = 4 + 1 + n + 4 + 8;
    w->open = 1;
    w->error = 0;
    put_le(w, STATE_SECTION_MAGIC, 4);
    put_le(w, n, 1);
    put_raw(w, name, n);
    put_le(w, version, 4);
    put_le(w, 0, 8); /* payload length, patched by state_end */
    if (w->error)
        w->open = 0; /* nothing is open after a failed begin */
    return w->error;
}

void state_cancel(struct state_writer *w)
{
    w->open = 0;
    w->error = 0;
    w->sec.len = 0;
}

void state_put_u8(struct state_writer *w, uint8_t v) { put_le(w, v, 1); }
void state_put_u16(struct state_writer *w, uint16_t v) { put_le(w, v, 2); }
void state_put_u32(struct state_writer *w, uint32_t v) { put_le(w, v, 4); }
void state_put_u64(struct state_writer *w, uint64_t v) { put_le(w, v, 8); }
void state_put_bytes(struct state_writer *w, const void *buf, size_t len) { put_raw(w, buf, len); }

int state_end(struct state_writer *w)
{
    if (!w->open)
        return vmm_error(VMM_ESTATE, "state: end without a section");
    w->open = 0;
    if (w->error)
        return w->error;
    size_t head = w->head;
    le_put(w->sec.data + head - 8, w->sec.len - head, 8);
    uint32_t crc = crc32c(0, w->sec.data + 4, w->sec.len - 4);
    uint8_t c[4];
    le_put(c, crc, 4);
    if (buffer_write(&w->sec, c, 4))
        return VMM_ENOMEM;
    int rc = w->sink.write(w->sink.opaque, w->sec.data, w->sec.len);
    if (rc == 0)
        w->sections++;
    return rc;
}

int state_writer_finish(struct state_writer *w)
{
    if (w->open)
        return vmm_error(VMM_ESTATE, "state section '%s' still open", w->name);
    if (w->stray)
        return vmm_error(VMM_ESTATE, "state: a put outside any section lost its data");
    uint8_t t[12];
    le_put(t, STATE_END_MAGIC, 4);
    le_put(t + 4, w->sections, 4);
    le_put(t + 8, crc32c(0, t + 4, 4), 4);
    return w->sink.write(w->sink.opaque, t, sizeof(t));
}

void state_writer_free(struct state_writer *w)
{
    if (!w)
        return;
    state_buffer_free(&w->sec);
    free(w);
}

/* --- reader --- */

struct state_reader {
    struct state_source src;
    uint8_t *payload;
    size_t payload_len, pos;
    int short_read;
    uint32_t sections;
    int done;
    int failed; /* state_next failed: the stream is not readable any more */
    char name[STATE_NAME_MAX + 1];
};

/* A copy of the last error message, to quote it in a new one (formatting
 * the message buffer into itself would overlap). */
struct quoted {
    char text[256];
};

static struct quoted quote_last_error(void)
{
    struct quoted q;
    snprintf(q.text, sizeof(q.text), "%s", vmm_last_error());
    return q;
}

int state_reader_new(struct state_reader **out, const struct state_source *src)
{
    uint8_t head[16];
    int rc = src->read(src->opaque, head, sizeof(head));
    if (rc)
        return vmm_error(VMM_EFORMAT, "state stream: no header (%s)", quote_last_error().text);
    if (memcmp(head, stream_magic, 8) != 0)
        return vmm_error(VMM_EFORMAT, "state stream: bad magic (not a libvmm state stream)");
    uint32_t version = (uint32_t)le_get(head + 8, 4);
    if (version != STATE_FORMAT_VERSION)
        return vmm_error(VMM_EFORMAT, "state stream: format version %u, this library reads %u",
                         version, STATE_FORMAT_VERSION);
    uint32_t reserved = (uint32_t)le_get(head + 12, 4);
    if (reserved != 0)
        return vmm_error(VMM_EFORMAT, "state stream: reserved header field is 0x%08x, must be 0",
                         reserved);
    struct state_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return vmm_error(VMM_ENOMEM, "state reader");
    r->src = *src;
    *out = r;
    return 0;
}

static int next_section(struct state_reader *r, const char **name, uint32_t *version)
{
    uint8_t b[8];
    int rc = r->src.read(r->src.opaque, b, 4);
    if (rc)
        return vmm_error(VMM_EFORMAT, "state stream truncated after %u sections (%s)",
                         r->sections, quote_last_error().text);
    uint32_t magic = (uint32_t)le_get(b, 4);
    if (magic == STATE_END_MAGIC) {
        if ((rc = r->src.read(r->src.opaque, b, 8)))
            return vmm_error(VMM_EFORMAT, "state stream: truncated trailer (%s)",
                             quote_last_error().text);
        uint32_t count = (uint32_t)le_get(b, 4);
        if (crc32c(0, b, 4) != (uint32_t)le_get(b + 4, 4))
            return vmm_error(VMM_EFORMAT, "state stream: trailer checksum mismatch");
        if (count != r->sections)
            return vmm_error(VMM_EFORMAT, "state stream: trailer says %u sections, %u were read",
                             count, r->sections);
        r->done = 1;
        return 0;
    }
    if (magic != STATE_SECTION_MAGIC)
        return vmm_error(VMM_EFORMAT, "state stream: bad section marker 0x%08x after %u sections",
                         magic, r->sections);
    uint8_t framing[1 + STATE_NAME_MAX + 12];
    if ((rc = r->src.read(r->src.opaque, framing, 1)))
        return vmm_error(VMM_EFORMAT, "state stream: truncated section header (%s)",
                         quote_last_error().text);
    size_t n = framing[0];
    if (n == 0 || n > STATE_NAME_MAX)
        return vmm_error(VMM_EFORMAT, "state stream: section name length %zu, limit 1..%d", n,
                         STATE_NAME_MAX);
    if ((rc = r->src.read(r->src.opaque, framing + 1, n + 12)))
        return vmm_error(VMM_EFORMAT, "state stream: truncated section header (%s)",
                         quote_last_error().text);
    memcpy(r->name, framing + 1, n);
    r->name[n] = '\0';
    if (memchr(r->name, '\0', n))
        return vmm_error(VMM_EFORMAT, "state stream: section name contains NUL");
    uint32_t ver = (uint32_t)le_get(framing + 1 + n, 4);
    uint64_t len = le_get(framing + 1 + n + 4, 8);
    if (len > STATE_SECTION_MAX)
        return vmm_error(VMM_EFORMAT, "state section '%s': %llu bytes, limit %u", r->name,
                         (unsigned long long)len, STATE_SECTION_MAX);
    r->payload = malloc(len + 4 ? len + 4 : 1);
    if (!r->payload)
        return vmm_error(VMM_ENOMEM, "state section '%s' of %llu bytes", r->name,
                         (unsigned long long)len);
    if ((rc = r->src.read(r->src.opaque, r->payload, len + 4)))
        return vmm_error(VMM_EFORMAT, "state section '%s' truncated (%llu bytes announced): %s",
                         r->name, (unsigned long long)len, quote_last_error().text);
    uint32_t crc = crc32c(0, framing, n + 13);
    crc = crc32c(crc, r->payload, len);
    if (crc != (uint32_t)le_get(r->payload + len, 4))
        return vmm_error(VMM_EFORMAT, "state section '%s': checksum mismatch (corrupt)", r->name);
    r->payload_len = len;
    r->sections++;
    *name = r->name;
    *version = ver;
    return 1;
}

int state_next(struct state_reader *r, const char **name, uint32_t *version)
{
    free(r->payload);
    r->payload = NULL;
    r->payload_len = r->pos = 0;
    r->short_read = 0;
    if (r->failed)
        return vmm_error(VMM_EFORMAT, "state stream: not readable past an earlier error "
                         "(after %u sections)", r->sections);
    if (r->done)
        return 0;
    int rc = next_section(r, name, version);
    if (rc < 0) {
        /* The position in the source is unknown now: stop here for good,
         * and leave no half-checked section readable. */
        r->failed = 1;
        free(r->payload);
        r->payload = NULL;
        r->payload_len = 0;
    }
    return rc;
}

static int get_raw(struct state_reader *r, void *buf, size_t len)
{
    if (r->short_read || len > r->payload_len - r->pos) {
        r->short_read = 1;
        memset(buf, 0, len);
        return vmm_error(VMM_EFORMAT, "state section '%s' is shorter than its reader expects",
                         r->name);
    }
    memcpy(buf, r->payload + r->pos, len);
    r->pos += len;
    return 0;
}

static int get_le(struct state_reader *r, uint64_t *v, unsigned bytes)
{
    uint8_t b[8];
    int rc = get_raw(r, b, bytes);
    *v = rc ? 0 : le_get(b, bytes);
    return rc;
}

int state_get_u8(struct state_reader *r, uint8_t *v)
{
    uint64_t t;
    int rc = get_le(r, &t, 1);
    *v = (uint8_t)t;
    return rc;
}

int state_get_u16(struct state_reader *r, uint16_t *v)
{
    uint64_t t;
    int rc = get_le(r, &t, 2);
    *v = (uint16_t)t;
    return rc;
}

int state_get_u32(struct state_reader *r, uint32_t *v)
{
    uint64_t t;
    int rc = get_le(r, &t, 4);
    *v = (uint32_t)t;
    return rc;
}

int state_get_u64(struct state_reader *r, uint64_t *v)
{
    return get_le(r, v, 8);
}

int state_get_bytes(struct state_reader *r, void *buf, size_t len)
{
    return get_raw(r, buf, len);
}

size_t state_left(const struct state_reader *r)
{
    return r->payload_len - r->pos;
}

int state_check_done(struct state_reader *r)
{
    if (r->short_read)
        return vmm_error(VMM_EFORMAT, "state section '%s' is shorter than its reader expects",
                         r->name);
    if (r->pos != r->payload_len)
        return vmm_error(VMM_EFORMAT, "state section '%s': %zu bytes left unread", r->name,
                         r->payload_len - r->pos);
    return 0;
}

void state_reader_free(struct state_reader *r)
{
    if (!r)
        return;
    free(r->payload);
    free(r);
}
