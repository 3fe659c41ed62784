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

#define A_UIP 0x80
#define D_VRT 0x80
#define CMOS_SIZE 128

struct cmos {
    pthread_mutex_t lock;
    uint64_t ram_size; /* wiring: what power-on NVRAM records */
    uint8_t index;
    uint8_t nvram[CMOS_SIZE];
};

/* Power-on contents (what cmos_new() leaves). Lock held or not yet shared. */
static void power_on(struct cmos *c)
{
    uint64_t ram_size = c->ram_size;
    c->index = 0;
    for (int i = 0; i < CMOS_SIZE; i++)
        c->nvram[i] = 0;
    c->nvram[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
    c->nvram[REG_B] = B_24H;
    c->nvram[REG_D] = D_VRT; /* valid RAM and time */
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
}

struct cmos *cmos_new(uint64_t ram_size)
{
    struct cmos *c = calloc(1, sizeof(*c));
    if (!c) {
        vmm_error(VMM_ENOMEM, "allocating the CMOS");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->ram_size = ram_size;
    power_on(c);
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
            c->nvram[reg] = (uint8_t)value & (uint8_t)~A_UIP; /* UIP is read-only */
        else if (reg != REG_C && reg != REG_D && !is_clock(reg))
            c->nvram[reg] = (uint8_t)value;
        /* Writes to the clock itself are dropped: guest time follows the host. */
    }
    pthread_mutex_unlock(&c->lock);
}

const struct bus_dev_ops cmos_ops = { cmos_read, cmos_write };

/* --- component: reset, save, load --- */

static void cmos_reset(void *opaque)
{
    struct cmos *c = opaque;
    pthread_mutex_lock(&c->lock);
    power_on(c);
    pthread_mutex_unlock(&c->lock);
}

/* State layout, version 1:
 *   u8  index        the register port 0x71 reaches, 0..127 (NMI mask bit
 *                    not kept)
 *   128 bytes        the register file: NVRAM and the registers the guest
 *                    sets (A without UIP, B's data-mode / 24h bits, ...).
 *                    The clock's own slots (0x00-0x09, 0x32) hold 0: the
 *                    time follows the host's UTC clock and the device keeps
 *                    no offset, so there is no time to save; C is 0 (no
 *                    interrupt flags are modelled) and D is 0x80 (VRT).
 */
static int cmos_save(void *opaque, struct state_writer *w)
{
    struct cmos *c = opaque;
    pthread_mutex_lock(&c->lock);
    state_put_u8(w, c->index);
    state_put_bytes(w, c->nvram, CMOS_SIZE);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static int cmos_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct cmos *c = opaque;
    uint8_t index, nvram[CMOS_SIZE];
    state_get_u8(r, &index);
    int rc = state_get_bytes(r, nvram, CMOS_SIZE);
    if (rc || (rc = state_check_done(r)))
        return rc;
    if (index >= CMOS_SIZE)
        return vmm_error(VMM_EFORMAT, "cmos state: index %u, limit 0..%d", index, CMOS_SIZE - 1);
    for (int reg = 0; reg < CMOS_SIZE; reg++)
        if (is_clock((uint8_t)reg) && nvram[reg] != 0)
            return vmm_error(VMM_EFORMAT, "cmos state: clock register 0x%02x holds 0x%02x, "
                             "must be 0 (the time follows the host)", reg, nvram[reg]);
    if (nvram[REG_A] & A_UIP)
        return vmm_error(VMM_EFORMAT, "cmos state: register A 0x%02x has the read-only UIP bit "
                         "0x%02x set", nvram[REG_A], A_UIP);
    if (nvram[REG_C] != 0)
        return vmm_error(VMM_EFORMAT, "cmos state: register C 0x%02x, must be 0", nvram[REG_C]);
    if (nvram[REG_D] != D_VRT)
        return vmm_error(VMM_EFORMAT, "cmos state: register D 0x%02x, must be 0x%02x",
                         nvram[REG_D], D_VRT);
    pthread_mutex_lock(&c->lock);
    c->index = index;
    for (int i = 0; i < CMOS_SIZE; i++)
        c->nvram[i] = nvram[i];
    pthread_mutex_unlock(&c->lock);
    return 0;
}

const struct component_ops cmos_component_ops = {
    .type = "cmos",
    .state_version = 1,
    .reset = cmos_reset,
    .save = cmos_save,
    .load = cmos_load,
    .destroy = cmos_free,
};
