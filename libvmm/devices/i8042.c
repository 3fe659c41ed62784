#include "devices/i8042.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/error.h"

#define STATUS_OBF 0x01     /* output buffer full: data waiting at 0x60 */
#define STATUS_SYS 0x04     /* system flag: self test passed */
#define STATUS_CMD 0x08     /* last write was a command */

#define CMD_READ_CONFIG 0x20
#define CMD_WRITE_CONFIG 0x60
#define CMD_DISABLE_AUX 0xa7
#define CMD_ENABLE_AUX 0xa8
#define CMD_TEST_AUX 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_TEST_KBD 0xab
#define CMD_DISABLE_KBD 0xad
#define CMD_ENABLE_KBD 0xae
#define CMD_READ_OUTPUT 0xd0
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_PULSE_RESET 0xfe

struct i8042 {
    struct machine *m;
    pthread_mutex_t lock;
    uint8_t status;
    uint8_t config;
    uint8_t outport;
    uint8_t pending_cmd; /* command waiting for its data byte at 0x60 */
    uint8_t out[4];      /* bytes the guest will read at 0x60 */
    int out_head, out_count;
};

/* Power-on state (what i8042_new() leaves). Lock held or not yet shared. */
static void power_on(struct i8042 *k)
{
    k->status = STATUS_SYS;
    k->config = 0x45; /* kbd interrupt on, system flag, translation */
    k->outport = 0x03; /* A20 on, CPU not in reset */
    k->pending_cmd = 0;
    for (size_t i = 0; i < sizeof(k->out); i++)
        k->out[i] = 0;
    k->out_head = 0;
    k->out_count = 0;
}

struct i8042 *i8042_new(struct machine *m)
{
    struct i8042 *k = calloc(1, sizeof(*k));
    if (!k) {
        vmm_error(VMM_ENOMEM, "allocating the i8042");
        return NULL;
    }
    k->m = m;
    power_on(k);
    pthread_mutex_init(&k->lock, NULL);
    return k;
}

void i8042_free(void *dev)
{
    struct i8042 *k = dev;
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static void queue_byte(struct i8042 *k, uint8_t b)
{
    if (k->out_count == (int)sizeof(k->out))
        return;
    k->out[(k->out_head + k->out_count) % sizeof(k->out)] = b;
    k->out_count++;
    k->status |= STATUS_OBF;
}

static void reset_cpu(struct i8042 *k)
{
    machine_set_outcome(k->m, VMM_OUTCOME_RESET, 0, "i8042 keyboard controller reset");
}

static uint64_t data_read(void *opaque, uint64_t offset, unsigned size)
{
    struct i8042 *k = opaque;
    uint8_t v = 0;
    pthread_mutex_lock(&k->lock);
    if (k->out_count) {
        v = k->out[k->out_head];
        k->out_head = (k->out_head + 1) % (int)sizeof(k->out);
        k->out_count--;
    }
    if (!k->out_count)
        k->status &= (uint8_t)~STATUS_OBF;
    pthread_mutex_unlock(&k->lock);
    return v;
}

static void data_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    struct i8042 *k = opaque;
    uint8_t v = (uint8_t)value;
    int reset = 0;
    pthread_mutex_lock(&k->lock);
    k->status &= (uint8_t)~STATUS_CMD;
    switch (k->pending_cmd) {
    case CMD_WRITE_CONFIG:
        k->config = v;
        break;
    case CMD_WRITE_OUTPUT:
        k->outport = v;
        reset = !(v & 0x01); /* bit 0 low holds the CPU in reset */
        break;
    default:
        /* A byte for the keyboard itself: there is none, so answer the way
         * a missing device does — no acknowledge, the guest times out. */
        break;
    }
    k->pending_cmd = 0;
    pthread_mutex_unlock(&k->lock);
    if (reset)
        reset_cpu(k);
}

static uint64_t cmd_read(void *opaque, uint64_t offset, unsigned size)
{
    struct i8042 *k = opaque;
    pthread_mutex_lock(&k->lock);
    uint8_t v = k->status;
    pthread_mutex_unlock(&k->lock);
    return v;
}

static void cmd_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
    struct i8042 *k = opaque;
    uint8_t v = (uint8_t)value;
    int reset = 0;
    pthread_mutex_lock(&k->lock);
    k->status |= STATUS_CMD;
    switch (v) {
    case CMD_READ_CONFIG: queue_byte(k, k->config); break;
    case CMD_WRITE_CONFIG:
    case CMD_WRITE_OUTPUT: k->pending_cmd = v; break;
    case CMD_READ_OUTPUT: queue_byte(k, k->outport); break;
    case CMD_SELF_TEST: queue_byte(k, 0x55); break;
    case CMD_TEST_KBD: queue_byte(k, 0x00); break;
    case CMD_TEST_AUX: queue_byte(k, 0x00); break;
    case CMD_DISABLE_KBD: k->config |= 0x10; break;
    case CMD_ENABLE_KBD: k->config &= (uint8_t)~0x10; break;
    case CMD_DISABLE_AUX: k->config |= 0x20; break;
    case CMD_ENABLE_AUX: k->config &= (uint8_t)~0x20; break;
    default:
        /* 0xf0-0xff pulse output lines; bit 0 clear pulses the reset line. */
        if (v >= 0xf0 && !(v & 0x01))
            reset = 1;
        break;
    }
    pthread_mutex_unlock(&k->lock);
    if (reset)
        reset_cpu(k);
}

const struct bus_dev_ops i8042_data_ops = { data_read, data_write };
const struct bus_dev_ops i8042_cmd_ops = { cmd_read, cmd_write };

/* --- component: reset, save, load --- */

static void i8042_reset(void *opaque)
{
    struct i8042 *k = opaque;
    pthread_mutex_lock(&k->lock);
    power_on(k);
    pthread_mutex_unlock(&k->lock);
}

#define STATUS_MASK (STATUS_OBF | STATUS_SYS | STATUS_CMD)

/* State layout, version 1:
 *   u8 status       bits OBF (0x01), SYS (0x04, always set), CMD (0x08);
 *                   OBF set exactly when the output queue is not empty
 *   u8 config       the controller configuration byte (command 0x20/0x60)
 *   u8 output port  (command 0xd0/0xd1)
 *   u8 pending cmd  command waiting for its data byte: 0, 0x60 or 0xd1
 *   u8 out count    bytes queued for the guest at port 0x60, 0..4
 *   out count bytes the queue, oldest first
 * The controller has no interrupt line here (no keyboard, no mouse). */
static int i8042_save(void *opaque, struct state_writer *w)
{
    struct i8042 *k = opaque;
    pthread_mutex_lock(&k->lock);
    state_put_u8(w, k->status);
    state_put_u8(w, k->config);
    state_put_u8(w, k->outport);
    state_put_u8(w, k->pending_cmd);
    state_put_u8(w, (uint8_t)k->out_count);
    for (int i = 0; i < k->out_count; i++)
        state_put_u8(w, k->out[(k->out_head + i) % (int)sizeof(k->out)]);
    pthread_mutex_unlock(&k->lock);
    return 0;
}

static int i8042_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct i8042 *k = opaque;
    uint8_t status, config, outport, pending, count;
    uint8_t out[sizeof(k->out)] = { 0 };
    state_get_u8(r, &status);
    state_get_u8(r, &config);
    state_get_u8(r, &outport);
    state_get_u8(r, &pending);
    int rc = state_get_u8(r, &count);
    if (rc)
        return rc;
    if (count > sizeof(k->out))
        return vmm_error(VMM_EFORMAT, "i8042 state: %u bytes queued, limit %zu", count,
                         sizeof(k->out));
    if ((rc = state_get_bytes(r, out, count)) || (rc = state_check_done(r)))
        return rc;
    if (status & ~STATUS_MASK)
        return vmm_error(VMM_EFORMAT, "i8042 state: status 0x%02x has bits outside 0x%02x", status,
                         STATUS_MASK);
    if (!(status & STATUS_SYS))
        return vmm_error(VMM_EFORMAT, "i8042 state: status 0x%02x lacks the system flag 0x%02x",
                         status, STATUS_SYS);
    if (!(status & STATUS_OBF) != !count)
        return vmm_error(VMM_EFORMAT, "i8042 state: output-buffer-full flag %u with %u bytes "
                         "queued", status & STATUS_OBF, count);
    if (pending != 0 && pending != CMD_WRITE_CONFIG && pending != CMD_WRITE_OUTPUT)
        return vmm_error(VMM_EFORMAT, "i8042 state: pending command 0x%02x, expected 0, 0x%02x "
                         "or 0x%02x", pending, CMD_WRITE_CONFIG, CMD_WRITE_OUTPUT);
    pthread_mutex_lock(&k->lock);
    k->status = status;
    k->config = config;
    k->outport = outport;
    k->pending_cmd = pending;
    for (size_t i = 0; i < sizeof(k->out); i++)
        k->out[i] = out[i];
    k->out_head = 0;
    k->out_count = count;
    pthread_mutex_unlock(&k->lock);
    return 0;
}

const struct component_ops i8042_component_ops = {
    .type = "i8042",
    .state_version = 1,
    .reset = i8042_reset,
    .save = i8042_save,
    .load = i8042_load,
    .destroy = i8042_free,
};
