/* A decoder for the LZ4 "legacy" frame format that Linux uses for
 * CONFIG_KERNEL_LZ4 bzImage payloads: magic 0x184C2102, then blocks of
 * (32-bit little-endian compressed size, LZ4 block) each inflating to at most
 * 8 MiB, independently of the others. The kernel build appends the total
 * inflated size as a 32-bit little-endian word.
 *
 * Every length and offset read from the input is checked against the input
 * and the output buffer: a corrupt payload gives VMM_EFORMAT, never a wild
 * read or write.
 */
#include <stdlib.h>
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "util/error.h"

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK_MAX (8u << 20)
#define LZ4_MIN_MATCH 4

int x86_lz4_is_legacy(const uint8_t *in, size_t len)
{
    return len >= 8 && x86_rd32(in) == LZ4_LEGACY_MAGIC;
}

/* Reads a length that continues with 255-valued bytes. */
static int lz4_ext_len(const uint8_t *in, size_t len, size_t *pos, size_t *value)
{
    for (;;) {
        if (*pos >= len)
            return -1;
        uint8_t b = in[(*pos)++];
        *value += b;
        if (b != 255)
            return 0;
    }
}

/* One block into out[*opos..cap). 0, or -1 when the block is corrupt. */
static int lz4_block(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *opos)
{
    size_t ip = 0, op = *opos;
    while (ip < len) {
        uint8_t token = in[ip++];
        size_t lit = token >> 4;
        if (lit == 15 && lz4_ext_len(in, len, &ip, &lit) < 0)
            return -1;
        if (lit > len - ip || lit > cap - op)
            return -1;
        memcpy(out + op, in + ip, lit);
        ip += lit;
        op += lit;
        if (ip == len)
            break; /* the last sequence has literals only */
        if (len - ip < 2)
            return -1;
        size_t off = (size_t)in[ip] | (size_t)in[ip + 1] << 8;
        ip += 2;
        /* Blocks are independent: a match reaches back only into this one. */
        if (off == 0 || off > op - *opos)
            return -1;
        size_t mlen = token & 15;
        if (mlen == 15 && lz4_ext_len(in, len, &ip, &mlen) < 0)
            return -1;
        mlen += LZ4_MIN_MATCH;
        if (mlen > cap - op)
            return -1;
        /* Byte by byte: the match may overlap what it produces. */
        const uint8_t *src = out + op - off;
        for (size_t i = 0; i < mlen; i++)
            out[op + i] = src[i];
        op += mlen;
    }
    *opos = op;
    return 0;
}

int x86_lz4_legacy_decode(const uint8_t *in, size_t len, size_t limit, uint8_t **out,
                          size_t *out_len)
{
    if (!x86_lz4_is_legacy(in, len))
        return vmm_error(VMM_EFORMAT, "not an LZ4 legacy stream");
    /* The inflated size the kernel build appended. */
    size_t total = x86_rd32(in + len - 4);
    if (total == 0 || total > limit)
        return vmm_error(VMM_EFORMAT, "LZ4 payload claims %zu inflated bytes (limit %zu)", total,
                         limit);
    uint8_t *buf = malloc(total);
    if (!buf)
        return vmm_error(VMM_ENOMEM, "allocating %zu bytes for the inflated kernel", total);
    size_t ip = 4, op = 0, end = len - 4;
    while (ip + 4 <= end && op < total) {
        uint32_t bsize = x86_rd32(in + ip);
        if (bsize == LZ4_LEGACY_MAGIC) { /* concatenated stream */
            ip += 4;
            continue;
        }
        ip += 4;
        if (bsize > end - ip || bsize > LZ4_LEGACY_BLOCK_MAX) {
            free(buf);
            return vmm_error(VMM_EFORMAT, "LZ4 block of %u bytes at offset %zu passes the end (%zu)",
                             bsize, ip - 4, end);
        }
        if (lz4_block(in + ip, bsize, buf, total, &op) < 0) {
            free(buf);
            return vmm_error(VMM_EFORMAT, "corrupt LZ4 block at offset %zu", ip - 4);
        }
        ip += bsize;
    }
    if (op != total) {
        free(buf);
        return vmm_error(VMM_EFORMAT, "LZ4 payload inflated to %zu bytes, its trailer says %zu", op,
                         total);
    }
    *out = buf;
    *out_len = total;
    return 0;
}
