/* The state stream (machine/state.c) and the machine's section dispatch
 * (machine_save_components / machine_load_components): framing, the sticky
 * short-read rule, checksums, truncation, and the refusals a hostile or
 * damaged stream must meet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/component.h"
#include "machine/machine.h"
#include "machine/state.h"
#include "util/crc32c.h"
#include "unit.h"
#include "util/error.h"

#define ASSERT_MSG(needle)                                                                         \
    do {                                                                                           \
        const char *msg_ = vmm_last_error();                                                       \
        CU_ASSERT_PTR_NOT_NULL(strstr(msg_, needle));                                              \
        if (!strstr(msg_, needle))                                                                 \
            fprintf(stderr, "\n  expected \"%s\" in \"%s\"\n", needle, msg_);                    \
    } while (0)

/* --- helpers --- */

/* A stream of two sections: "alpha" v1 with every width, "beta" v7 empty. */
static void build_sample(struct state_buffer *b)
{
    memset(b, 0, sizeof(*b));
    struct state_sink sink = state_buffer_sink(b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL(state_begin(w, "alpha", 1), 0);
    state_put_u8(w, 0xa5);
    state_put_u16(w, 0xbeef);
    state_put_u32(w, 0xdeadbeefu);
    state_put_u64(w, 0x0123456789abcdefULL);
    state_put_bytes(w, "xyz", 3);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_begin(w, "beta", 7), 0);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_writer_finish(w), 0);
    state_writer_free(w);
}

/* Reads every section of `b` to its end; returns the first error, or 0
 * when the stream reached its trailer intact. */
static int read_all(struct state_buffer *b)
{
    b->pos = 0;
    struct state_source src = state_buffer_source(b);
    struct state_reader *r;
    int rc = state_reader_new(&r, &src);
    if (rc)
        return rc;
    const char *name;
    uint32_t version;
    while ((rc = state_next(r, &name, &version)) == 1) {
        uint8_t sink[64];
        while (state_left(r)) {
            size_t n = state_left(r) < sizeof(sink) ? state_left(r) : sizeof(sink);
            state_get_bytes(r, sink, n);
        }
        if ((rc = state_check_done(r)))
            break;
    }
    state_reader_free(r);
    return rc;
}

/* A stream of one section with a raw payload (names and versions as given). */
static void build_section(struct state_buffer *b, const char *name, uint32_t version,
                          const void *payload, size_t len)
{
    memset(b, 0, sizeof(*b));
    struct state_sink sink = state_buffer_sink(b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL_FATAL(state_begin(w, name, version), 0);
    state_put_bytes(w, payload, len);
    CU_ASSERT_EQUAL_FATAL(state_end(w), 0);
    CU_ASSERT_EQUAL_FATAL(state_writer_finish(w), 0);
    state_writer_free(w);
}

/* --- the stream itself --- */

static void test_every_width_round_trips(void)
{
    struct state_buffer b;
    build_sample(&b);
    struct state_source src = state_buffer_source(&b);
    struct state_reader *r;
    CU_ASSERT_EQUAL_FATAL(state_reader_new(&r, &src), 0);
    const char *name;
    uint32_t version;
    CU_ASSERT_EQUAL(state_next(r, &name, &version), 1);
    CU_ASSERT_STRING_EQUAL(name, "alpha");
    CU_ASSERT_EQUAL(version, 1);
    CU_ASSERT_EQUAL(state_left(r), 1 + 2 + 4 + 8 + 3);
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    char bytes[3];
    CU_ASSERT_EQUAL(state_get_u8(r, &u8), 0);
    CU_ASSERT_EQUAL(u8, 0xa5);
    CU_ASSERT_EQUAL(state_get_u16(r, &u16), 0);
    CU_ASSERT_EQUAL(u16, 0xbeef);
    CU_ASSERT_EQUAL(state_get_u32(r, &u32), 0);
    CU_ASSERT_EQUAL(u32, 0xdeadbeefu);
    CU_ASSERT_EQUAL(state_get_u64(r, &u64), 0);
    CU_ASSERT_EQUAL(u64, 0x0123456789abcdefULL);
    CU_ASSERT_EQUAL(state_get_bytes(r, bytes, 3), 0);
    CU_ASSERT_NSTRING_EQUAL(bytes, "xyz", 3);
    CU_ASSERT_EQUAL(state_left(r), 0);
    CU_ASSERT_EQUAL(state_check_done(r), 0);
    CU_ASSERT_EQUAL(state_next(r, &name, &version), 1);
    CU_ASSERT_STRING_EQUAL(name, "beta");
    CU_ASSERT_EQUAL(version, 7);
    CU_ASSERT_EQUAL(state_left(r), 0);
    CU_ASSERT_EQUAL(state_check_done(r), 0);
    CU_ASSERT_EQUAL(state_next(r, &name, &version), 0);
    CU_ASSERT_EQUAL(state_next(r, &name, &version), 0); /* the trailer stays the end */
    state_reader_free(r);
    state_buffer_free(&b);
}

static void test_little_endian_on_the_wire(void)
{
    uint8_t payload[] = { 0x01, 0x02, 0x03, 0x04 };
    struct state_buffer b;
    build_section(&b, "le", 1, payload, sizeof(payload));
    struct state_source src = state_buffer_source(&b);
    struct state_reader *r;
    CU_ASSERT_EQUAL_FATAL(state_reader_new(&r, &src), 0);
    const char *name;
    uint32_t version, v;
    CU_ASSERT_EQUAL(state_next(r, &name, &version), 1);
    CU_ASSERT_EQUAL(state_get_u32(r, &v), 0);
    CU_ASSERT_EQUAL(v, 0x04030201u);
    state_reader_free(r);
    /* header: magic, format version 1, reserved 0 */
    CU_ASSERT_EQUAL(memcmp(b.data, "LVMMSTAT\x01\0\0\0\0\0\0\0", 16), 0);
    state_buffer_free(&b);
}

static void test_short_read_is_sticky_and_zeroes(void)
{
    uint8_t payload[] = { 0x11, 0x22, 0x33 };
    struct state_buffer b;
    build_section(&b, "short", 1, payload, sizeof(payload));
    struct state_source src = state_buffer_source(&b);
    struct state_reader *r;
    CU_ASSERT_EQUAL_FATAL(state_reader_new(&r, &src), 0);
    const char *name;
    uint32_t version;
    CU_ASSERT_EQUAL(state_next(r, &name, &version), 1);
    uint16_t u16;
    uint32_t u32 = 0xffffffffu;
    uint8_t u8 = 0xff;
    CU_ASSERT_EQUAL(state_get_u16(r, &u16), 0);
    CU_ASSERT_EQUAL(u16, 0x2211);
    CU_ASSERT_EQUAL(state_get_u32(r, &u32), VMM_EFORMAT); /* 1 byte left, 4 wanted */
    CU_ASSERT_EQUAL(u32, 0);
    ASSERT_MSG("shorter than its reader expects");
    /* The byte that is still there is not handed out after the error. */
    CU_ASSERT_EQUAL(state_get_u8(r, &u8), VMM_EFORMAT);
    CU_ASSERT_EQUAL(u8, 0);
    CU_ASSERT_EQUAL(state_check_done(r), VMM_EFORMAT);
    ASSERT_MSG("'short'");
    state_reader_free(r);
    state_buffer_free(&b);
}

static void test_unread_bytes_are_reported(void)
{
    uint8_t payload[5] = { 0 };
    struct state_buffer b;
    build_section(&b, "long", 1, payload, sizeof(payload));
    struct state_source src = state_buffer_source(&b);
    struct state_reader *r;
    CU_ASSERT_EQUAL_FATAL(state_reader_new(&r, &src), 0);
    const char *name;
    uint32_t version, v;
    CU_ASSERT_EQUAL(state_next(r, &name, &version), 1);
    CU_ASSERT_EQUAL(state_get_u32(r, &v), 0);
    CU_ASSERT_EQUAL(state_check_done(r), VMM_EFORMAT);
    ASSERT_MSG("1 bytes left unread");
    state_reader_free(r);
    state_buffer_free(&b);
}

static void test_truncation_at_every_offset_is_refused(void)
{
    struct state_buffer b;
    build_sample(&b);
    CU_ASSERT_EQUAL(read_all(&b), 0);
    size_t full = b.len;
    for (size_t cut = 0; cut < full; cut++) {
        struct state_buffer t = { 0 };
        t.data = malloc(cut ? cut : 1);
        memcpy(t.data, b.data, cut);
        t.len = t.cap = cut;
        int rc = read_all(&t);
        CU_ASSERT_EQUAL(rc, VMM_EFORMAT);
        if (rc != VMM_EFORMAT)
            fprintf(stderr, "\n  cut at %zu of %zu: rc %d\n", cut, full, rc);
        state_buffer_free(&t);
    }
    state_buffer_free(&b);
}

static void test_flipped_bit_in_every_byte_is_refused(void)
{
    struct state_buffer b;
    build_sample(&b);
    for (size_t at = 0; at < b.len; at++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[at] ^= (uint8_t)(1u << bit);
            int rc = read_all(&b);
            CU_ASSERT_EQUAL(rc, VMM_EFORMAT);
            if (rc != VMM_EFORMAT)
                fprintf(stderr, "\n  bit %d of byte %zu flipped: rc %d\n", bit, at, rc);
            b.data[at] ^= (uint8_t)(1u << bit);
        }
    }
    CU_ASSERT_EQUAL(read_all(&b), 0);
    state_buffer_free(&b);
}

static void test_checksum_and_marker_messages(void)
{
    struct state_buffer b;
    build_sample(&b);
    /* the first payload byte of "alpha": 16 header + 4 + 1 + 5 + 4 + 8 */
    b.data[38] ^= 0x40;
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("'alpha': checksum mismatch");
    b.data[38] ^= 0x40;
    b.data[16] ^= 0x01; /* the section marker */
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("bad section marker");
    b.data[16] ^= 0x01;
    b.data[12] = 1; /* reserved header field */
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("reserved header field");
    b.data[12] = 0;
    b.data[8] = 2; /* format version */
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("format version 2, this library reads 1");
    b.data[8] = 1;
    b.data[0] = 'X';
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("bad magic");
    b.data[0] = 'L';
    CU_ASSERT_EQUAL(read_all(&b), 0);
    state_buffer_free(&b);
}

static void test_truncated_header_message_quotes_the_cause(void)
{
    struct state_buffer b = { 0 };
    b.data = malloc(5);
    memcpy(b.data, "LVMMS", 5);
    b.len = b.cap = 5;
    struct state_source src = state_buffer_source(&b);
    struct state_reader *r = NULL;
    CU_ASSERT_EQUAL(state_reader_new(&r, &src), VMM_EFORMAT);
    /* The cause is quoted whole, not smeared over by the new message. */
    CU_ASSERT_STRING_EQUAL(vmm_last_error(), "state stream: no header (state stream ends after 5 "
                                             "bytes (11 more needed))");
    state_buffer_free(&b);
}

static void test_reader_stays_failed_after_an_error(void)
{
    struct state_buffer b;
    build_sample(&b);
    b.data[38] ^= 1;
    struct state_source src = state_buffer_source(&b);
    struct state_reader *r;
    CU_ASSERT_EQUAL_FATAL(state_reader_new(&r, &src), 0);
    const char *name;
    uint32_t version;
    CU_ASSERT_EQUAL(state_next(r, &name, &version), VMM_EFORMAT);
    CU_ASSERT_EQUAL(state_left(r), 0); /* nothing of the bad section is readable */
    CU_ASSERT_EQUAL(state_next(r, &name, &version), VMM_EFORMAT);
    ASSERT_MSG("earlier error");
    state_reader_free(r);
    state_buffer_free(&b);
}

static void test_trailer_count_is_checked(void)
{
    struct state_buffer b;
    build_sample(&b);
    /* Drop the "beta" section (4 + 1 + 4 + 4 + 8 + 4 bytes before the
     * trailer): the trailer then counts one section too many. */
    size_t beta = 4 + 1 + 4 + 4 + 8 + 4;
    memmove(b.data + b.len - 12 - beta, b.data + b.len - 12, 12);
    b.len -= beta;
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("trailer says 2 sections, 1 were read");
    state_buffer_free(&b);
}

static void test_section_name_limits(void)
{
    char name[STATE_NAME_MAX + 2];
    memset(name, 'n', sizeof(name));
    name[STATE_NAME_MAX] = '\0';
    struct state_buffer b = { 0 };
    struct state_sink sink = state_buffer_sink(&b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL(state_begin(w, "", 1), VMM_EINVAL);
    ASSERT_MSG("limit 1..63");
    name[STATE_NAME_MAX] = 'n';
    name[STATE_NAME_MAX + 1] = '\0';
    CU_ASSERT_EQUAL(state_begin(w, name, 1), VMM_EINVAL); /* 64 bytes */
    ASSERT_MSG("length 64, limit 1..63");
    name[STATE_NAME_MAX] = '\0';
    CU_ASSERT_EQUAL(state_begin(w, name, 1), 0); /* 63 bytes */
    CU_ASSERT_EQUAL(state_begin(w, "nested", 1), VMM_ESTATE);
    state_put_u8(w, 9);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_end(w), VMM_ESTATE);
    CU_ASSERT_EQUAL(state_writer_finish(w), 0);
    state_writer_free(w);
    CU_ASSERT_EQUAL(read_all(&b), 0);

    /* A reader refuses name lengths 0 and 64 and a NUL inside a name,
     * before trusting anything else of the section. */
    size_t len_at = 16 + 4;
    uint8_t saved = b.data[len_at];
    b.data[len_at] = 0;
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("section name length 0, limit 1..63");
    b.data[len_at] = STATE_NAME_MAX + 1;
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("section name length 64, limit 1..63");
    b.data[len_at] = saved;
    b.data[len_at + 5] = '\0';
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("contains NUL");
    state_buffer_free(&b);
}

static void test_put_outside_a_section_is_an_error(void)
{
    struct state_buffer b = { 0 };
    struct state_sink sink = state_buffer_sink(&b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    state_put_u32(w, 1); /* no section open: the bytes go nowhere */
    CU_ASSERT_EQUAL(state_begin(w, "ok", 1), 0);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_writer_finish(w), VMM_ESTATE); /* ... and the stream says so */
    ASSERT_MSG("outside any section");
    state_writer_free(w);
    state_buffer_free(&b);

    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL(state_begin(w, "open", 1), 0);
    CU_ASSERT_EQUAL(state_writer_finish(w), VMM_ESTATE);
    ASSERT_MSG("'open' still open");
    state_writer_free(w);
    state_buffer_free(&b);
}

static void test_oversized_sections_are_refused_both_ways(void)
{
    /* Writer: a payload one byte over the limit never reaches the sink. */
    struct state_buffer b = { 0 };
    struct state_sink sink = state_buffer_sink(&b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL(state_begin(w, "big", 1), 0);
    uint8_t *big = calloc(1, (size_t)STATE_SECTION_MAX + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    state_put_bytes(w, big, (size_t)STATE_SECTION_MAX + 1);
    free(big);
    CU_ASSERT_EQUAL(state_end(w), VMM_ERANGE);
    ASSERT_MSG("exceeds 67108864 bytes");
    CU_ASSERT_EQUAL(b.len, 16); /* the header only */
    /* ... and the writer goes on with the next section. */
    CU_ASSERT_EQUAL(state_begin(w, "small", 1), 0);
    state_put_u8(w, 1);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_writer_finish(w), 0);
    state_writer_free(w);
    CU_ASSERT_EQUAL(read_all(&b), 0);

    /* Reader: an announced length over the limit is refused before any
     * allocation or read of the payload. */
    size_t len_at = 16 + 4 + 1 + 5 + 4;
    b.data[len_at + 3] = 0x10; /* 0x10000001 bytes */
    CU_ASSERT_EQUAL(read_all(&b), VMM_EFORMAT);
    ASSERT_MSG("'small': 268435457 bytes, limit 67108864");
    state_buffer_free(&b);
}

static void test_fd_sink_and_source(void)
{
    char path[] = "/tmp/libvmm-test-state-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    unlink(path);
    struct state_sink sink = state_fd_sink(&fd);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    CU_ASSERT_EQUAL(state_begin(w, "fd", 3), 0);
    state_put_u64(w, 42);
    CU_ASSERT_EQUAL(state_end(w), 0);
    CU_ASSERT_EQUAL(state_writer_finish(w), 0);
    state_writer_free(w);
    off_t end = lseek(fd, 0, SEEK_CUR);
    CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_SET), 0);
    struct state_source src = state_fd_source(&fd);
    struct state_reader *r;
    CU_ASSERT_EQUAL_FATAL(state_reader_new(&r, &src), 0);
    const char *name;
    uint32_t version;
    uint64_t v;
    CU_ASSERT_EQUAL(state_next(r, &name, &version), 1);
    CU_ASSERT_EQUAL(version, 3);
    CU_ASSERT_EQUAL(state_get_u64(r, &v), 0);
    CU_ASSERT_EQUAL(v, 42);
    CU_ASSERT_EQUAL(state_next(r, &name, &version), 0);
    state_reader_free(r);
    /* cut the file inside the section's checksum: the fd source's report
     * of the missing bytes is quoted */
    CU_ASSERT_EQUAL(ftruncate(fd, end - 12 - 3), 0);
    CU_ASSERT_EQUAL(lseek(fd, 0, SEEK_SET), 0);
    CU_ASSERT_EQUAL_FATAL(state_reader_new(&r, &src), 0);
    CU_ASSERT_EQUAL(state_next(r, &name, &version), VMM_EFORMAT);
    ASSERT_MSG("state section 'fd' truncated (8 bytes announced): state stream on fd");
    ASSERT_MSG("ends early (3 bytes missing)");
    state_reader_free(r);
    close(fd);
}

/* --- sections and components --- */

/* A test component: one u32 of state, version `version` of its layout. */
struct box {
    uint32_t value;
    int fail_save;
};

static void box_reset(void *o)
{
    ((struct box *)o)->value = 0;
}

static int box_save(void *o, struct state_writer *w)
{
    struct box *b = o;
    state_put_u32(w, b->value);
    if (b->fail_save)
        return VMM_EIO; /* the message is the save's own */
    return 0;
}

static int box_load(void *o, struct state_reader *r, uint32_t version)
{
    uint32_t v;
    int rc = state_get_u32(r, &v);
    if (rc || (rc = state_check_done(r)))
        return rc;
    ((struct box *)o)->value = v;
    return 0;
}

static const struct component_ops box_ops = {
    .type = "box", .state_version = 1, .reset = box_reset, .save = box_save, .load = box_load,
};
static const struct component_ops box2_ops = {
    .type = "box", .state_version = 2, .reset = box_reset, .save = box_save, .load = box_load,
};
static const struct component_ops empty_ops = { .type = "empty", .state_version = 1 };

struct rig {
    struct machine m;
    struct box a, b;
};

static void rig_init(struct rig *r, const struct component_ops *b_ops)
{
    memset(r, 0, sizeof(*r));
    CU_ASSERT_EQUAL_FATAL(machine_init(&r->m, 1), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(machine_add_component(&r->m, "a", &box_ops, &r->a));
    CU_ASSERT_PTR_NOT_NULL_FATAL(machine_add_component(&r->m, "b", b_ops, &r->b));
    CU_ASSERT_PTR_NOT_NULL_FATAL(machine_add_component(&r->m, "nothing", &empty_ops, NULL));
}

static int save_machine(struct rig *r, struct state_buffer *b)
{
    memset(b, 0, sizeof(*b));
    struct state_sink sink = state_buffer_sink(b);
    struct state_writer *w;
    int rc = state_writer_new(&w, &sink);
    if (rc)
        return rc;
    rc = machine_save_components(&r->m, w);
    if (rc == 0)
        rc = state_writer_finish(w);
    state_writer_free(w);
    return rc;
}

static int load_machine(struct rig *r, struct state_buffer *b, unsigned flags)
{
    b->pos = 0;
    struct state_source src = state_buffer_source(b);
    struct state_reader *rd;
    int rc = state_reader_new(&rd, &src);
    if (rc)
        return rc;
    rc = machine_load_components(&r->m, rd, flags);
    state_reader_free(rd);
    return rc;
}

/* A stream with the sections given as name/version/u32 (value < 0: empty). */
struct sec {
    const char *name;
    uint32_t version;
    long long value;
};

static void build_stream(struct state_buffer *b, const struct sec *s, int n)
{
    memset(b, 0, sizeof(*b));
    struct state_sink sink = state_buffer_sink(b);
    struct state_writer *w;
    CU_ASSERT_EQUAL_FATAL(state_writer_new(&w, &sink), 0);
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(state_begin(w, s[i].name, s[i].version), 0);
        if (s[i].value >= 0)
            state_put_u32(w, (uint32_t)s[i].value);
        CU_ASSERT_EQUAL(state_end(w), 0);
    }
    CU_ASSERT_EQUAL(state_writer_finish(w), 0);
    state_writer_free(w);
}

static void test_machine_round_trip_and_empty_sections(void)
{
    struct rig r1, r2;
    rig_init(&r1, &box_ops);
    rig_init(&r2, &box_ops);
    r1.a.value = 11;
    r1.b.value = 22;
    struct state_buffer b;
    CU_ASSERT_EQUAL(save_machine(&r1, &b), 0);
    CU_ASSERT_EQUAL(load_machine(&r2, &b, 0), 0);
    CU_ASSERT_EQUAL(r2.a.value, 11);
    CU_ASSERT_EQUAL(r2.b.value, 22);
    machine_reset_components(&r2.m);
    CU_ASSERT_EQUAL(r2.a.value, 0);
    CU_ASSERT_EQUAL(r2.b.value, 0);
    state_buffer_free(&b);

    /* The stateless component's section is there, and empty. */
    struct component *c = machine_find_component(&r1.m, "nothing");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(component_save_to_buffer(c, &b), 0);
    CU_ASSERT_EQUAL(b.len, 16 + 4 + 1 + 7 + 4 + 8 + 4 + 12);
    CU_ASSERT_EQUAL(component_load_from_buffer(c, &b), 0);
    state_buffer_free(&b);
    /* ... and one with bytes in it is refused. */
    build_section(&b, "nothing", 1, "x", 1);
    CU_ASSERT_EQUAL(component_load_from_buffer(c, &b), VMM_EFORMAT);
    ASSERT_MSG("'nothing' (empty) should be empty, has 1 bytes");
    state_buffer_free(&b);
    machine_destroy(&r1.m);
    machine_destroy(&r2.m);
}

static void test_unknown_section_refused_or_skipped(void)
{
    struct rig r;
    rig_init(&r, &box_ops);
    struct sec s[] = { { "a", 1, 5 }, { "stranger", 1, 99 }, { "b", 1, 6 }, { "nothing", 1, -1 } };
    struct state_buffer b;
    build_stream(&b, s, 4);
    CU_ASSERT_EQUAL(load_machine(&r, &b, 0), VMM_EFORMAT);
    ASSERT_MSG("section 'stranger' that this machine has no component for");
    CU_ASSERT_EQUAL(r.b.value, 0); /* stopped at the stranger */
    CU_ASSERT_EQUAL(load_machine(&r, &b, MACHINE_LOAD_SKIP_UNKNOWN), 0);
    CU_ASSERT_EQUAL(r.a.value, 5);
    CU_ASSERT_EQUAL(r.b.value, 6);
    state_buffer_free(&b);
    machine_destroy(&r.m);
}

static void test_missing_section_refused(void)
{
    struct rig r;
    rig_init(&r, &box_ops);
    struct sec s[] = { { "a", 1, 5 }, { "nothing", 1, -1 } };
    struct state_buffer b;
    build_stream(&b, s, 2);
    CU_ASSERT_EQUAL(load_machine(&r, &b, 0), VMM_EFORMAT);
    ASSERT_MSG("no section for component 'b' (box)");
    CU_ASSERT_EQUAL(load_machine(&r, &b, MACHINE_LOAD_SKIP_UNKNOWN), VMM_EFORMAT);
    state_buffer_free(&b);
    machine_destroy(&r.m);
}

static void test_duplicate_section_refused(void)
{
    struct rig r;
    rig_init(&r, &box_ops);
    struct sec s[] = { { "a", 1, 5 }, { "b", 1, 6 }, { "a", 1, 7 }, { "nothing", 1, -1 } };
    struct state_buffer b;
    build_stream(&b, s, 4);
    CU_ASSERT_EQUAL(load_machine(&r, &b, 0), VMM_EFORMAT);
    ASSERT_MSG("section 'a' twice");
    CU_ASSERT_EQUAL(r.a.value, 5);
    state_buffer_free(&b);
    machine_destroy(&r.m);
}

static void test_newer_or_zero_version_refused(void)
{
    struct rig r;
    rig_init(&r, &box_ops);
    struct sec s[] = { { "a", 1, 5 }, { "b", 2, 6 }, { "nothing", 1, -1 } };
    struct state_buffer b;
    build_stream(&b, s, 3);
    CU_ASSERT_EQUAL(load_machine(&r, &b, 0), VMM_EFORMAT);
    ASSERT_MSG("state of 'b' (box) has version 2, this library reads up to 1");
    state_buffer_free(&b);
    s[1].version = 0;
    build_stream(&b, s, 3);
    CU_ASSERT_EQUAL(load_machine(&r, &b, 0), VMM_EFORMAT);
    ASSERT_MSG("version 0");
    state_buffer_free(&b);
    machine_destroy(&r.m);

    /* A component at version 2 reads a version 1 section. */
    rig_init(&r, &box2_ops);
    s[1].version = 1;
    build_stream(&b, s, 3);
    CU_ASSERT_EQUAL(load_machine(&r, &b, 0), 0);
    CU_ASSERT_EQUAL(r.b.value, 6);
    state_buffer_free(&b);
    machine_destroy(&r.m);
}

static void test_section_read_short_or_not_to_its_end_refused(void)
{
    struct rig r;
    rig_init(&r, &box_ops);
    struct component *a = machine_find_component(&r.m, "a");
    struct state_buffer b;
    build_section(&b, "a", 1, "\1\2\3", 3);
    CU_ASSERT_EQUAL(component_load_from_buffer(a, &b), VMM_EFORMAT);
    ASSERT_MSG("'a' is shorter than its reader expects");
    state_buffer_free(&b);
    build_section(&b, "a", 1, "\1\2\3\4\5", 5);
    CU_ASSERT_EQUAL(component_load_from_buffer(a, &b), VMM_EFORMAT);
    ASSERT_MSG("'a': 1 bytes left unread");
    state_buffer_free(&b);
    build_section(&b, "b", 1, "\1\2\3\4", 4);
    CU_ASSERT_EQUAL(component_load_from_buffer(a, &b), VMM_EFORMAT);
    ASSERT_MSG("section 'b' is not component 'a'");
    state_buffer_free(&b);
    CU_ASSERT_EQUAL(r.a.value, 0);
    machine_destroy(&r.m);
}

static void test_failed_save_sends_nothing_and_keeps_its_message(void)
{
    struct rig r;
    rig_init(&r, &box_ops);
    r.b.fail_save = 1;
    struct state_buffer b;
    vmm_error_clear();
    CU_ASSERT_EQUAL(save_machine(&r, &b), VMM_EIO);
    /* header + the whole section of "a" (4 + 1 + 1 + 4 + 8 + 4 payload + 4 crc) */
    CU_ASSERT_EQUAL(b.len, 16 + 4 + 1 + 1 + 4 + 8 + 4 + 4);
    CU_ASSERT_STRING_EQUAL(vmm_last_error(), ""); /* not overwritten by the framing */
    state_buffer_free(&b);
    machine_destroy(&r.m);
}

static void test_component_name_limits(void)
{
    struct machine m;
    CU_ASSERT_EQUAL_FATAL(machine_init(&m, 1), 0);
    struct box x = { 0 }, y = { 0 };
    char name[COMPONENT_NAME_MAX + 2];
    memset(name, 'c', sizeof(name));
    name[COMPONENT_NAME_MAX + 1] = '\0';
    CU_ASSERT_PTR_NULL(machine_add_component(&m, name, &box_ops, &x));
    ASSERT_MSG("length 32, limit 1..31");
    CU_ASSERT_PTR_NULL(machine_add_component(&m, "", &box_ops, &x));
    name[COMPONENT_NAME_MAX] = '\0';
    CU_ASSERT_PTR_NOT_NULL(machine_add_component(&m, name, &box_ops, &x));
    CU_ASSERT_PTR_NULL(machine_add_component(&m, name, &box_ops, &y));
    ASSERT_MSG("added twice");
    machine_destroy(&m);
}


/* CRC-32C: the standard check value, and the same result bit by bit for
 * every length and alignment (the library may use the SSE 4.2 instruction). */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

static void test_crc32c_matches_the_reference(void)
{
    CU_ASSERT_EQUAL(crc32c(0, "123456789", 9), 0xe3069283u);
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof(buf); len += 13)
            CU_ASSERT_EQUAL(crc32c(0, buf + off, len), crc32c_bitwise(buf + off, len));
    /* Continuing a CRC equals one pass. */
    CU_ASSERT_EQUAL(crc32c(crc32c(0, buf, 100), buf + 100, 200), crc32c(0, buf, 300));
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "CRC-32C matches the reference", test_crc32c_matches_the_reference },
        { "every width round-trips", test_every_width_round_trips },
        { "little-endian on the wire", test_little_endian_on_the_wire },
        { "short read is sticky and zeroes", test_short_read_is_sticky_and_zeroes },
        { "unread bytes are reported", test_unread_bytes_are_reported },
        { "truncation at every offset is refused", test_truncation_at_every_offset_is_refused },
        { "flipped bit in every byte is refused", test_flipped_bit_in_every_byte_is_refused },
        { "checksum and marker messages", test_checksum_and_marker_messages },
        { "truncated header message quotes the cause",
          test_truncated_header_message_quotes_the_cause },
        { "reader stays failed after an error", test_reader_stays_failed_after_an_error },
        { "trailer count is checked", test_trailer_count_is_checked },
        { "section name limits", test_section_name_limits },
        { "put outside a section is an error", test_put_outside_a_section_is_an_error },
        { "oversized sections are refused both ways",
          test_oversized_sections_are_refused_both_ways },
        { "fd sink and source", test_fd_sink_and_source },
        { "machine round trip and empty sections", test_machine_round_trip_and_empty_sections },
        { "unknown section refused or skipped", test_unknown_section_refused_or_skipped },
        { "missing section refused", test_missing_section_refused },
        { "duplicate section refused", test_duplicate_section_refused },
        { "newer or zero version refused", test_newer_or_zero_version_refused },
        { "section read short or not to its end refused",
          test_section_read_short_or_not_to_its_end_refused },
        { "failed save sends nothing and keeps its message",
          test_failed_save_sends_nothing_and_keeps_its_message },
        { "component name limits", test_component_name_limits },
        { NULL, NULL },
    };
    return unit_main("state", tests);
}
