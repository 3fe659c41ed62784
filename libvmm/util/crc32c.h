/* CRC-32C (Castagnoli), the checksum of state-stream sections: the same
 * polynomial iSCSI and ext4 use, chosen because it detects the burst errors
 * a truncated or corrupted file shows. Table-driven, no hardware needed.
 */
#ifndef LIBVMM_UTIL_CRC32C_H
#define LIBVMM_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC over `len` bytes; start with crc = 0. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
