#include "devices/cmos.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util/error.h"

#define REG_SECONDS 0x00
#define REG_MINUTES 0x02
#define REG_HOURS 0x04
#define REG_WEEKDAY 0x06
#define REG_DAY 0x07
#define REG_MONTH 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

#define B_24H 0x02
#define B_BINARY 0x04

struct cmos {
    pthread_mutex_t lock;
    uint8_t index;
    uint8_t nvram[128];
};

struct cmos *cmos_new(uint64_t ram_size)
{
    struct cmos *c = calloc(1, sizeof(*c));
    if (!c) {
        vmm_error(VMM_ENOMEM, "allocating the CMOS");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->nvram[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
    c->nvram[REG_B] = B_24H;
    c->nvram[REG_D] = 0x80; /* valid RAM and time */
    /* Extended memory in KiB above 1 MiB (capped), and 64 KiB units above
     * 16 MiB, where PC firmware leaves them. */
    uint64_t ext_kb = ram_size > (1 << 20) ? (ram_size - (1 << 20)) >> 10 : 0;
    if (ext_kb > 0xffff)
        ext_kb = 0xffff;
    c->nvram[0x17] = c->nvram[0x30] = (uint8_t)ext_kb;
    c->nvram[0x18] = c->nvram[0x31] = (uint8_t)(ext_kb >> 8);
    uint64_t below4g = ram_size < (3ULL << 30) ? ram_size : (3ULL << 30);
    uint64_t above16m = below4g > (16 << 20) ? (below4g - (16 << 20)) >> 16 : 0;
    if (above16m > 0xffff)
        above16m = 0xffff;
    c->nvram[0x34] = (uint8_t)above16m;
    c->nvram[0x35] = (uint8_t)(above16m >> 8);
    return c;
}

void cmos_free(void *dev)
{
    struct cmos *c = dev;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static uint8_t encode(const struct cmos *c, int v)
{
    if (c->nvram[REG_B] & B_BINARY)
        return (uint8_t)v;
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t clock_reg(const struct cmos *c, uint8_t reg)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    switch (reg) {
    case REG_SECONDS: return encode(c, tm.tm_sec);
    case REG_MINUTES: return encode(c, tm.tm_min);
    case REG_HOURS:
        if (c->nvram[REG_B] & B_24H)
            return encode(c, tm.tm_hour);
        /* 12-hour mode: 1..12, bit 7 set for PM. */
        return (uint8_t)(encode(c, tm.tm_hour % 12 ? tm.tm_hour % 12 : 12) |
                         (tm.tm_hour >= 12 ? 0x80 : 0));
    case REG_WEEKDAY: return encode(c, tm.tm_wday + 1);
    case REG_DAY: return encode(c, tm.tm_mday);
    case REG_MONTH: return encode(c, tm.tm_mon + 1);
    case REG_YEAR: return encode(c, tm.tm_year % 100);
    case REG_CENTURY: return encode(c, (tm.tm_year + 1900) / 100);
    default: return c->nvram[reg];
    }
}

static int is_clock(uint8_t reg)
{
    return reg <= REG_YEAR || reg == REG_CENTURY;
}

static uint64_t cmos_read(void *opaque, uint64_t offset, unsigned size)
{
    struct cmos *c = opaque;
    if (offset == 0)
        return 0xff; /* the index port is write-only */
    pthread_mutex_lock(&c->lock);
    uint8_t reg = c->index;
    uint8_t v = is_clock(reg) ? clock_reg(c, reg) : c->nvram[reg];
    if (reg == REG_C)
        c->nvram[REG_C] = 0; /* reading C acknowledges interrupt flags */
    pthread_mutex_unlock(&c->lock);
    return v;
}

static void cmos_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    struct cmos *c = opaque;
    pthread_mutex_lock(&c->lock);
    if (offset == 0) {
        c->index = (uint8_t)value & 0x7f; /* bit 7 is the NMI mask */
    } else {
        uint8_t reg = c->index;
        if (reg == REG_A)
            c->nvram[reg] = (uint8_t)value & 0x7f; /* UIP is read-only */
        else if (reg != REG_C && reg != REG_D && !is_clock(reg))
            c->nvram[reg] = (uint8_t)value;
        /* Writes to the clock itself are dropped: guest time follows the host. */
    }
    pthread_mutex_unlock(&c->lock);
}

const struct bus_dev_ops cmos_ops = { cmos_read, cmos_write };

const struct component_ops cmos_component_ops = {
    .type = "cmos",
    .state_version = 1,
    .destroy = cmos_free,
};
