/* The state stream: how components write their state out and read it back.
 * The same bytes go into a snapshot file or down a migration socket; this
 * module only frames them.
 *
 * Wire format (all integers little-endian):
 *   stream header  "LVMMSTAT" (8 bytes), u32 format version (STATE_FORMAT_VERSION),
 *                  u32 reserved (0)
 *   section *      u32 STATE_SECTION_MAGIC, u8 name length (1..STATE_NAME_MAX),
 *                  name bytes, u32 section version, u64 payload length,
 *                  payload, u32 CRC-32C over everything from the name length
 *                  to the end of the payload
 *   trailer        u32 STATE_END_MAGIC, u32 number of sections, u32 CRC-32C
 *                  of that count
 *
 * A section is one component's state (named after the component instance,
 * "uart0", "cpu1"); its version is the component's state version, so each
 * part of the machine evolves its layout on its own. Writers buffer a whole
 * section to know its length before it goes out; readers read and check a
 * whole section before any of it is parsed, so a corrupt or truncated stream
 * is refused before a component sees a byte of it.
 *
 * Getters never read past the section: after the first short read every
 * getter returns VMM_EFORMAT and leaves its output zeroed (sticky error), so
 * a load function may read all fields and check once at the end.
 */
#ifndef LIBVMM_MACHINE_STATE_H
#define LIBVMM_MACHINE_STATE_H

#include <stddef.h>
#include <stdint.h>

#define STATE_FORMAT_VERSION 1
#define STATE_NAME_MAX 63
#define STATE_SECTION_MAGIC 0x54434553u /* "SECT" */
#define STATE_END_MAGIC 0x444e4553u     /* "SEND" */
/* Refuse sections larger than this before allocating for them: no component
 * state is near it (guest memory does not travel in sections). */
#define STATE_SECTION_MAX (64u << 20)

/* Where a writer's bytes go: returns 0 or a negative VMM_E* code. */
struct state_sink {
    int (*write)(void *opaque, const void *buf, size_t len);
    void *opaque;
};

/* Where a reader's bytes come from: fills exactly `len` bytes and returns 0,
 * or returns VMM_EFORMAT at the end of the data / a negative VMM_E* code. */
struct state_source {
    int (*read)(void *opaque, void *buf, size_t len);
    void *opaque;
};

/* A growable memory buffer, as sink and as source (tests, clones). */
struct state_buffer {
    uint8_t *data;
    size_t len, cap;
    size_t pos; /* read position */
};
struct state_sink state_buffer_sink(struct state_buffer *b);
struct state_source state_buffer_source(struct state_buffer *b);
void state_buffer_free(struct state_buffer *b);

/* A file descriptor as sink / source (retries short writes and EINTR). */
struct state_sink state_fd_sink(int *fd);
struct state_source state_fd_source(int *fd);

/* --- writing --- */

struct state_writer;

/* Writes the stream header. */
int state_writer_new(struct state_writer **out, const struct state_sink *sink);
/* Opens a section; the puts below append to it until state_end(). On
 * failure no section is open (do not call state_end()). */
int state_begin(struct state_writer *w, const char *name, uint32_t version);
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_bytes(struct state_writer *w, const void *buf, size_t len);
/* Closes the section and sends it to the sink. Reports any error from the
 * puts (out of memory, section too large) or from the sink. */
int state_end(struct state_writer *w);
/* Drops the open section without sending any of it (a save that failed
 * half-way); the writer can go on with the next section. */
void state_cancel(struct state_writer *w);
/* Writes the trailer. */
int state_writer_finish(struct state_writer *w);
void state_writer_free(struct state_writer *w);

/* --- reading --- */

struct state_reader;

/* Reads and checks the stream header (magic, format version). */
int state_reader_new(struct state_reader **out, const struct state_source *src);
/* Reads the next section and checks its checksum. Returns 1 with *name and
 * *version set (valid until the next call), 0 at the trailer (whose count
 * is checked), or a negative VMM_E* code naming what is wrong; after an
 * error every later call fails too (the stream position is lost). */
int state_next(struct state_reader *r, const char **name, uint32_t *version);
int state_get_u8(struct state_reader *r, uint8_t *v);
int state_get_u16(struct state_reader *r, uint16_t *v);
int state_get_u32(struct state_reader *r, uint32_t *v);
int state_get_u64(struct state_reader *r, uint64_t *v);
int state_get_bytes(struct state_reader *r, void *buf, size_t len);
/* Bytes of the current section not yet read. */
size_t state_left(const struct state_reader *r);
/* 0 when the current section was read without a short read and to its
 * end; otherwise VMM_EFORMAT naming the section. */
int state_check_done(struct state_reader *r);
void state_reader_free(struct state_reader *r);

#endif
