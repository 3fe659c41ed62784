/* What the hostile virtio guest (hostile.c) and its host-side test
 * (tests/integration/core/test_hostile_virtio.c) agree on: the VM's size,
 * the disk the host creates and the bytes in it, the one sector the guest
 * writes, and the pattern of the guard region at the top of guest RAM.
 * Plain C, freestanding: included by the guest and by the host test. */
#ifndef TESTS_GUEST_HOSTILE_HOSTILE_H
#define TESTS_GUEST_HOSTILE_HOSTILE_H

#include <stdint.h>

#define HOSTILE_MEM_SIZE (64ULL << 20)  /* guest RAM the host configures */
#define HOSTILE_DISK_SECTORS 128ULL     /* 64 KiB raw disk */
#define HOSTILE_DISK_SERIAL "hostile-disk-0"
#define HOSTILE_WRITE_SECTOR 5          /* the only sector the guest writes */
#define HOSTILE_MAGIC "LIBVMM-HOSTILE-DISK" /* at the start of sector 0 */

/* Guard region the guest fills at boot and checks after every case; the
 * host reads it back after the run. Offset from the start of RAM. */
#define HOSTILE_FAR_GUARD_OFF (HOSTILE_MEM_SIZE - (64ULL << 10))
#define HOSTILE_FAR_GUARD_LEN (64ULL << 10)

/* Byte i of sector s as the host writes the image (sector 0 starts with
 * HOSTILE_MAGIC instead). */
static inline uint8_t hostile_disk_byte(uint64_t s, unsigned i)
{
    return (uint8_t)((s * 37u) ^ (i * 11u) ^ (i >> 8) ^ 0x5au);
}

/* Byte i of the sector the guest writes at HOSTILE_WRITE_SECTOR. */
static inline uint8_t hostile_guest_byte(unsigned i)
{
    return (uint8_t)(0xc3u ^ (i * 29u) ^ (i >> 7));
}

/* The 64-bit word at byte offset `off` of the far guard region. */
static inline uint64_t hostile_far_word(uint64_t off)
{
    return (off * 0x9e3779b97f4a7c15ULL) ^ 0x686f7374696c6521ULL;
}

#endif
