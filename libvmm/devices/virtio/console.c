#include "devices/virtio/console.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/worker.h"
#include "util/error.h"
#include "util/log.h"

#define CON_QUEUE_SIZE 128
#define CON_MAX_PORTS (1 + VIRTIO_CONSOLE_MAX_NAMED)

/* Feature bits (5.3.3). */
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

/* Control messages (5.3.6.2): le32 id, le16 event, le16 value, then (for
 * PORT_NAME) the name. */
#define CTRL_DEVICE_READY 0
#define CTRL_PORT_ADD 1
#define CTRL_PORT_READY 3
#define CTRL_CONSOLE_PORT 4
#define CTRL_PORT_OPEN 6
#define CTRL_PORT_NAME 7
#define CTRL_HDR 8
/* Device-to-driver messages waiting for control receive buffers: a few per
 * port; a driver that makes the device repeat itself cannot grow this. */
#define CTRL_PENDING_MAX 128

/* Config space (5.3.4): le16 cols, le16 rows, le32 max_nr_ports, le32
 * emerg_wr. */
#define CFG_MAX_NR_PORTS 4
#define CFG_EMERG_WR 8
#define CFG_SIZE 12

/* Guest output is passed on in pieces of this size; one transmit buffer
 * is passed on up to OUT_CHAIN_MAX bytes (Linux sends at most 32 KiB). */
#define OUT_CHUNK 4096
#define OUT_CHAIN_MAX (1u << 20)

/* Queue numbers: port 0 receive/transmit, control receive/transmit, then
 * receive/transmit of ports 1, 2, ... */
#define Q_CTRL_RX 2
#define Q_CTRL_TX 3

static unsigned q_rx(unsigned port) { return port == 0 ? 0 : 2 + 2 * port; }
static unsigned q_tx(unsigned port) { return q_rx(port) + 1; }

struct ctrl_msg {
    uint16_t len;
    uint8_t buf[CTRL_HDR + VIRTIO_CONSOLE_NAME_MAX + 1];
};

struct con_port {
    int exists;      /* announced to the driver */
    int is_console;  /* port 0 as the machine's console */
    char name[VIRTIO_CONSOLE_NAME_MAX + 1];
    /* worker thread only */
    int ready;       /* the driver said PORT_READY */
    int guest_open;  /* a guest program has it open (PORT_OPEN from the driver) */
    /* under con->lock */
    int out_blocked; /* the host's buffer is full: leave the transmit queue */
    uint8_t *in;     /* host bytes for the guest: a ring of VIRTIO_CONSOLE_IN_BUFFER */
    size_t in_head, in_len;
};

struct virtio_console {
    struct virtio_dev vd;
    struct virtio_worker worker;
    struct machine *m;
    unsigned nr_ports; /* 1 + named ports: the config's max_nr_ports */
    struct con_port port[CON_MAX_PORTS];
    atomic_int active; /* DRIVER_OK seen and no reset since: queues usable */
    /* worker thread only */
    int device_ready;
    struct ctrl_msg ctrl[CTRL_PENDING_MAX];
    unsigned ctrl_head, ctrl_len;
    int ctrl_overflow_logged;
    struct virtq_chain chain;
    uint8_t scratch[OUT_CHUNK];
    pthread_mutex_t lock;
    uint8_t config[CFG_SIZE];
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* --- control messages to the driver --- */

static void ctrl_send(struct virtio_console *con, uint32_t id, uint16_t event, uint16_t value,
                      const char *name)
{
    if (con->ctrl_len >= CTRL_PENDING_MAX) {
        if (!con->ctrl_overflow_logged)
            log_warn("virtio-console: driver does not take control messages; dropping them");
        con->ctrl_overflow_logged = 1;
        return;
    }
    struct ctrl_msg *msg = &con->ctrl[(con->ctrl_head + con->ctrl_len) % CTRL_PENDING_MAX];
    put_le(msg->buf, id, 4);
    put_le(msg->buf + 4, event, 2);
    put_le(msg->buf + 6, value, 2);
    msg->len = CTRL_HDR;
    if (name) {
        /* The name with its NUL, as the driver copies it into a string. */
        size_t n = strnlen(name, VIRTIO_CONSOLE_NAME_MAX);
        memcpy(msg->buf + CTRL_HDR, name, n);
        msg->buf[CTRL_HDR + n] = 0;
        msg->len = (uint16_t)(CTRL_HDR + n + 1);
    }
    con->ctrl_len++;
}

/* One message from the driver, `len` bytes (untrusted). */
static void ctrl_handle(struct virtio_console *con, const uint8_t *msg, size_t len)
{
    if (len < CTRL_HDR)
        return;
    uint32_t id = (uint32_t)get_le(msg, 4);
    uint16_t event = (uint16_t)get_le(msg + 4, 2);
    uint16_t value = (uint16_t)get_le(msg + 6, 2);
    log_debug("virtio-console: control from the driver: port %u event %u value %u", id, event,
              value);
    if (event == CTRL_DEVICE_READY) {
        if (value != 1) {
            log_warn("virtio-console: the driver failed to set up (DEVICE_READY %u)", value);
            return;
        }
        if (con->device_ready)
            return;
        con->device_ready = 1;
        for (unsigned p = 0; p < con->nr_ports; p++)
            if (con->port[p].exists)
                ctrl_send(con, p, CTRL_PORT_ADD, 0, NULL);
        return;
    }
    if (id >= con->nr_ports || !con->port[id].exists)
        return; /* a port this device never announced */
    struct con_port *port = &con->port[id];
    switch (event) {
    case CTRL_PORT_READY:
        if (value != 1) {
            log_warn("virtio-console: the driver could not add port %u", id);
            return;
        }
        if (port->ready)
            return;
        port->ready = 1;
        if (port->is_console)
            ctrl_send(con, id, CTRL_CONSOLE_PORT, 1, NULL);
        else
            ctrl_send(con, id, CTRL_PORT_NAME, 0, port->name);
        /* The host side is always connected: the host program reaches it
         * through the API whenever it likes. */
        ctrl_send(con, id, CTRL_PORT_OPEN, 1, NULL);
        break;
    case CTRL_PORT_OPEN: {
        int open = value != 0;
        if (open == port->guest_open)
            return;
        port->guest_open = open;
        if (!port->is_console)
            machine_port_state(con->m, id - 1, open);
        break;
    }
    default:
        break; /* events only the device sends, or unknown ones */
    }
}

/* --- the worker --- */

static unsigned do_ctrl_tx(struct virtio_console *con)
{
    unsigned n = 0;
    uint8_t msg[CTRL_HDR];
    while (virtio_dev_pop(&con->vd, Q_CTRL_TX, &con->chain) == 1) {
        size_t got = virtq_chain_read(&con->chain, 0, msg, sizeof(msg));
        ctrl_handle(con, msg, got);
        virtio_dev_push(&con->vd, Q_CTRL_TX, con->chain.head, 0);
        n++;
    }
    return n;
}

static unsigned do_ctrl_rx(struct virtio_console *con)
{
    unsigned n = 0;
    while (con->ctrl_len && virtio_dev_pop(&con->vd, Q_CTRL_RX, &con->chain) == 1) {
        struct ctrl_msg *msg = &con->ctrl[con->ctrl_head];
        uint32_t written = 0;
        /* A buffer too small for the message gets nothing (and the message
         * is dropped): only a broken driver posts one. */
        if (con->chain.in_len >= msg->len)
            written = (uint32_t)virtq_chain_write(&con->chain, 0, msg->buf, msg->len);
        log_debug("virtio-console: control to the driver: port %u event %u (%u bytes, buffer %llu)",
                  (unsigned)get_le(msg->buf, 4), (unsigned)get_le(msg->buf + 4, 2), msg->len,
                  (unsigned long long)con->chain.in_len);
        virtio_dev_push(&con->vd, Q_CTRL_RX, con->chain.head, written);
        con->ctrl_head = (con->ctrl_head + 1) % CTRL_PENDING_MAX;
        con->ctrl_len--;
        n++;
    }
    return n;
}

/* Guest output on port p. */
static unsigned do_tx(struct virtio_console *con, unsigned p)
{
    struct con_port *port = &con->port[p];
    unsigned n = 0;
    for (;;) {
        pthread_mutex_lock(&con->lock);
        int blocked = port->out_blocked;
        pthread_mutex_unlock(&con->lock);
        if (blocked || virtio_dev_pop(&con->vd, q_tx(p), &con->chain) != 1)
            break;
        n++;
        uint64_t total = con->chain.out_len < OUT_CHAIN_MAX ? con->chain.out_len : OUT_CHAIN_MAX;
        for (uint64_t off = 0; port->exists && off < total;) {
            size_t want = total - off < OUT_CHUNK ? (size_t)(total - off) : OUT_CHUNK;
            size_t got = virtq_chain_read(&con->chain, (size_t)off, con->scratch, want);
            if (got == 0)
                break;
            off += got;
            if (port->is_console) {
                machine_console_out(con->m, con->scratch, got);
            } else {
                /* Under the lock, so a resume cannot slip in between the
                 * host saying "full" and the flag being set. */
                pthread_mutex_lock(&con->lock);
                if (machine_port_out(con->m, p - 1, con->scratch, got))
                    port->out_blocked = 1;
                pthread_mutex_unlock(&con->lock);
            }
        }
        virtio_dev_push(&con->vd, q_tx(p), con->chain.head, 0);
    }
    return n;
}

/* Host input for port p, while a guest program has the port open (the
 * driver throws away data for a port nobody opened). */
static unsigned do_rx(struct virtio_console *con, unsigned p)
{
    struct con_port *port = &con->port[p];
    unsigned n = 0;
    if (!port->exists || !port->guest_open)
        return 0;
    for (;;) {
        pthread_mutex_lock(&con->lock);
        size_t have = port->in_len;
        pthread_mutex_unlock(&con->lock);
        if (!have || virtio_dev_pop(&con->vd, q_rx(p), &con->chain) != 1)
            break;
        n++;
        pthread_mutex_lock(&con->lock);
        size_t room = con->chain.in_len < port->in_len ? (size_t)con->chain.in_len : port->in_len;
        size_t done = 0;
        while (done < room) {
            size_t run = VIRTIO_CONSOLE_IN_BUFFER - port->in_head;
            if (run > room - done)
                run = room - done;
            virtq_chain_write(&con->chain, done, port->in + port->in_head, run);
            port->in_head = (port->in_head + run) % VIRTIO_CONSOLE_IN_BUFFER;
            port->in_len -= run;
            done += run;
        }
        pthread_mutex_unlock(&con->lock);
        virtio_dev_push(&con->vd, q_rx(p), con->chain.head, (uint32_t)done);
    }
    return n;
}

static unsigned pass(struct virtio_console *con)
{
    unsigned n = do_ctrl_tx(con);
    n += do_ctrl_rx(con);
    for (unsigned p = 0; p < con->nr_ports; p++) {
        n += do_tx(con, p);
        n += do_rx(con, p);
    }
    return n;
}

static void con_process(void *opaque, unsigned q)
{
    struct virtio_console *con = opaque;
    /* Every kick is queue 0's bit: one pass looks at all queues (more than
     * the worker's 32 pending bits). */
    if (q != 0 || !atomic_load(&con->active))
        return;
    for (;;) {
        if (pass(con))
            continue;
        /* Publish the event indices, then look once more for buffers made
         * available meanwhile, which would bring no notification. */
        for (unsigned i = 0; i < con->vd.nr_queues; i++)
            virtio_dev_update_avail_event(&con->vd, i);
        if (!pass(con))
            break;
    }
}

static void con_kick(struct virtio_console *con)
{
    virtio_worker_kick(&con->worker);
}

static void con_notify(struct virtio_dev *vd, unsigned q)
{
    con_kick(vd->priv);
}

static void con_driver_ok(struct virtio_dev *vd)
{
    struct virtio_console *con = vd->priv;
    atomic_store(&con->active, 1);
    con_kick(con);
}

/* --- host side --- */

static size_t port_receive(struct virtio_console *con, unsigned p, const uint8_t *buf, size_t len)
{
    struct con_port *port = &con->port[p];
    if (!port->exists)
        return 0;
    pthread_mutex_lock(&con->lock);
    size_t room = VIRTIO_CONSOLE_IN_BUFFER - port->in_len;
    size_t n = len < room ? len : room;
    for (size_t done = 0; done < n;) {
        size_t tail = (port->in_head + port->in_len) % VIRTIO_CONSOLE_IN_BUFFER;
        size_t run = VIRTIO_CONSOLE_IN_BUFFER - tail;
        if (run > n - done)
            run = n - done;
        memcpy(port->in + tail, buf + done, run);
        port->in_len += run;
        done += run;
    }
    pthread_mutex_unlock(&con->lock);
    if (n)
        con_kick(con);
    return n;
}

static size_t console_receive(void *opaque, const uint8_t *buf, size_t len)
{
    return port_receive(opaque, 0, buf, len);
}

static size_t named_receive(void *opaque, unsigned index, const uint8_t *buf, size_t len)
{
    struct virtio_console *con = opaque;
    return index + 1 < con->nr_ports ? port_receive(con, index + 1, buf, len) : 0;
}

static void named_resume(void *opaque, unsigned index)
{
    struct virtio_console *con = opaque;
    if (index + 1 >= con->nr_ports)
        return;
    pthread_mutex_lock(&con->lock);
    con->port[index + 1].out_blocked = 0;
    pthread_mutex_unlock(&con->lock);
    con_kick(con);
}

/* --- config space --- */

static void con_config_read(struct virtio_dev *vd, uint32_t offset, void *buf, uint32_t len)
{
    struct virtio_console *con = vd->priv;
    memcpy(buf, con->config + offset, len);
}

static void con_config_write(struct virtio_dev *vd, uint32_t offset, const void *buf, uint32_t len)
{
    struct virtio_console *con = vd->priv;
    /* emerg_wr: one character for port 0, even before the queues exist. */
    if (offset != CFG_EMERG_WR || !virtio_dev_has(vd, VIRTIO_CONSOLE_F_EMERG_WRITE))
        return;
    uint8_t c = *(const uint8_t *)buf;
    (void)len;
    if (con->port[0].is_console)
        machine_console_out(con->m, &c, 1);
}

/* --- reset, state, teardown --- */

/* Forgets everything the driver set up. Worker quiesced. */
static void forget_driver(struct virtio_console *con)
{
    atomic_store(&con->active, 0);
    con->device_ready = 0;
    con->ctrl_head = con->ctrl_len = 0;
    con->ctrl_overflow_logged = 0;
    for (unsigned p = 0; p < con->nr_ports; p++) {
        struct con_port *port = &con->port[p];
        if (port->guest_open && !port->is_console)
            machine_port_state(con->m, p - 1, 0);
        port->ready = port->guest_open = 0;
        /* Host input stays: the driver resets the device before it first
         * uses it, and what the host sent meanwhile is for the guest. */
        pthread_mutex_lock(&con->lock);
        port->out_blocked = 0;
        pthread_mutex_unlock(&con->lock);
    }
}

static void con_reset(struct virtio_dev *vd)
{
    struct virtio_console *con = vd->priv;
    virtio_worker_quiesce(&con->worker);
    forget_driver(con);
    virtio_worker_resume(&con->worker);
}

static int con_save(struct virtio_dev *vd, struct state_writer *w)
{
    struct virtio_console *con = vd->priv;
    virtio_worker_quiesce(&con->worker);
    state_put_u32(w, con->nr_ports);
    state_put_u8(w, (uint8_t)con->device_ready);
    pthread_mutex_lock(&con->lock);
    for (unsigned p = 0; p < con->nr_ports; p++) {
        struct con_port *port = &con->port[p];
        state_put_u8(w, (uint8_t)port->ready);
        state_put_u8(w, (uint8_t)port->guest_open);
        state_put_u32(w, (uint32_t)port->in_len);
        for (size_t i = 0; i < port->in_len; i++)
            state_put_u8(w, port->in[(port->in_head + i) % VIRTIO_CONSOLE_IN_BUFFER]);
    }
    pthread_mutex_unlock(&con->lock);
    state_put_u32(w, con->ctrl_len);
    for (unsigned i = 0; i < con->ctrl_len; i++) {
        const struct ctrl_msg *msg = &con->ctrl[(con->ctrl_head + i) % CTRL_PENDING_MAX];
        state_put_u16(w, msg->len);
        state_put_bytes(w, msg->buf, msg->len);
    }
    virtio_worker_resume(&con->worker);
    return 0;
}

/* Reads the device section into `st` (a scratch copy) and checks every
 * field; nothing of the live device changes on failure. */
static int load_into(struct virtio_console *con, struct virtio_console *st,
                     struct state_reader *r)
{
    uint32_t nr_ports, ctrl_len;
    uint8_t ready;
    state_get_u32(r, &nr_ports);
    int rc = state_get_u8(r, &ready);
    if (rc)
        return rc;
    if (nr_ports != con->nr_ports)
        return vmm_error(VMM_EFORMAT, "virtio-console state: %u ports, this device has %u",
                         nr_ports, con->nr_ports);
    st->device_ready = ready != 0;
    for (unsigned p = 0; p < nr_ports; p++) {
        struct con_port *port = &st->port[p];
        uint8_t pready, open;
        uint32_t in_len;
        state_get_u8(r, &pready);
        state_get_u8(r, &open);
        if ((rc = state_get_u32(r, &in_len)))
            return rc;
        if (in_len > VIRTIO_CONSOLE_IN_BUFFER || (in_len && !con->port[p].exists))
            return vmm_error(VMM_EFORMAT, "virtio-console state: port %u holds %u input bytes, "
                             "limit %d", p, in_len,
                             con->port[p].exists ? VIRTIO_CONSOLE_IN_BUFFER : 0);
        port->ready = pready != 0;
        port->guest_open = open != 0;
        port->in_len = in_len;
        if (in_len && (rc = state_get_bytes(r, port->in, in_len)))
            return rc;
    }
    if ((rc = state_get_u32(r, &ctrl_len)))
        return rc;
    if (ctrl_len > CTRL_PENDING_MAX)
        return vmm_error(VMM_EFORMAT, "virtio-console state: %u control messages, limit %d",
                         ctrl_len, CTRL_PENDING_MAX);
    st->ctrl_len = ctrl_len;
    for (unsigned i = 0; i < ctrl_len; i++) {
        uint16_t len;
        if ((rc = state_get_u16(r, &len)))
            return rc;
        if (len < CTRL_HDR || len > sizeof(st->ctrl[i].buf))
            return vmm_error(VMM_EFORMAT, "virtio-console state: control message of %u bytes "
                             "(%d..%zu)", len, CTRL_HDR, sizeof(st->ctrl[i].buf));
        st->ctrl[i].len = len;
        if ((rc = state_get_bytes(r, st->ctrl[i].buf, len)))
            return rc;
    }
    return 0;
}

static int con_load(struct virtio_dev *vd, struct state_reader *r, uint32_t version)
{
    struct virtio_console *con = vd->priv;
    struct virtio_console *st = calloc(1, sizeof(*st));
    int rc = st ? 0 : vmm_error(VMM_ENOMEM, "loading virtio-console state");
    for (unsigned p = 0; !rc && p < con->nr_ports; p++)
        if (con->port[p].exists && !(st->port[p].in = malloc(VIRTIO_CONSOLE_IN_BUFFER)))
            rc = vmm_error(VMM_ENOMEM, "loading virtio-console state");
    if (!rc)
        rc = load_into(con, st, r);
    if (!rc) {
        virtio_worker_quiesce(&con->worker);
        con->device_ready = st->device_ready;
        con->ctrl_head = 0;
        con->ctrl_len = st->ctrl_len;
        memcpy(con->ctrl, st->ctrl, sizeof(con->ctrl));
        pthread_mutex_lock(&con->lock);
        for (unsigned p = 0; p < con->nr_ports; p++) {
            struct con_port *port = &con->port[p], *sp = &st->port[p];
            port->ready = sp->ready;
            port->guest_open = sp->guest_open;
            port->out_blocked = 0;
            port->in_head = 0;
            port->in_len = sp->in_len;
            if (sp->in_len)
                memcpy(port->in, sp->in, sp->in_len);
        }
        pthread_mutex_unlock(&con->lock);
        for (unsigned p = 1; p < con->nr_ports; p++)
            if (con->port[p].guest_open)
                machine_port_state(con->m, p - 1, 1);
        virtio_worker_resume(&con->worker);
    }
    if (st)
        for (unsigned p = 0; p < con->nr_ports; p++)
            free(st->port[p].in);
    free(st);
    return rc;
}

static void con_free(struct virtio_console *con)
{
    for (unsigned p = 0; p < CON_MAX_PORTS; p++)
        free(con->port[p].in);
    pthread_mutex_destroy(&con->lock);
    free(con);
}

static void con_destroy(struct virtio_dev *vd)
{
    struct virtio_console *con = vd->priv;
    virtio_worker_stop(&con->worker);
    virtio_dev_release(vd);
    con_free(con);
}

static const struct virtio_device_ops con_ops = {
    .type = "virtio-console",
    .device_id = VIRTIO_ID_CONSOLE,
    .state_version = 1,
    .config_read = con_config_read,
    .config_write = con_config_write,
    .queue_notify = con_notify,
    .driver_ok = con_driver_ok,
    .reset = con_reset,
    .save = con_save,
    .load = con_load,
    .destroy = con_destroy,
};

int virtio_console_create(struct machine *m, const struct virtio_placement *at, int console,
                          const char *const *names, unsigned nr_named, struct virtio_console **out)
{
    const char *name = at->name;
    if (nr_named > VIRTIO_CONSOLE_MAX_NAMED)
        return vmm_error(VMM_EINVAL, "virtio-console: %u named ports, limit %d", nr_named,
                         VIRTIO_CONSOLE_MAX_NAMED);
    for (unsigned i = 0; i < nr_named; i++) {
        size_t n = names[i] ? strlen(names[i]) : 0;
        if (n == 0 || n > VIRTIO_CONSOLE_NAME_MAX)
            return vmm_error(VMM_EINVAL, "virtio-console: port name '%.80s' must have 1..%d bytes",
                             names[i] ? names[i] : "(null)", VIRTIO_CONSOLE_NAME_MAX);
    }
    struct virtio_console *con = calloc(1, sizeof(*con));
    if (!con)
        return vmm_error(VMM_ENOMEM, "virtio-console '%s'", name);
    pthread_mutex_init(&con->lock, NULL);
    con->m = m;
    con->nr_ports = 1 + nr_named;
    con->port[0].exists = con->port[0].is_console = console ? 1 : 0;
    for (unsigned i = 0; i < nr_named; i++) {
        con->port[i + 1].exists = 1;
        memcpy(con->port[i + 1].name, names[i], strlen(names[i]));
    }
    int rc = 0;
    for (unsigned p = 0; !rc && p < con->nr_ports; p++)
        if (con->port[p].exists && !(con->port[p].in = malloc(VIRTIO_CONSOLE_IN_BUFFER)))
            rc = vmm_error(VMM_ENOMEM, "virtio-console '%s' input buffers", name);
    put_le(con->config + CFG_MAX_NR_PORTS, con->nr_ports, 4);
    uint64_t features =
        VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT) | VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE);
    if (!rc)
        rc = virtio_dev_init(&con->vd, m, at->irq, &con_ops, con, features, 2 + 2 * con->nr_ports,
                             CON_QUEUE_SIZE, CFG_SIZE);
    if (!rc)
        rc = virtio_worker_start(&con->worker, "virtio-con", 2 + 2 * con->nr_ports, con_process,
                                 con);
    if (rc) {
        con_free(con);
        return rc;
    }
    if ((rc = virtio_mmio_attach(m, &con->vd, at)))
        return rc; /* the component owns the device now */
    virtio_mmio_notify_fd(m, at->base, con->worker.efd);
    if (console)
        m->console_in = (struct machine_console_input){ console_receive, con,
                                                        VIRTIO_CONSOLE_IN_BUFFER };
    if (nr_named)
        m->ports = (struct machine_port_io){ named_receive, named_resume, con,
                                             VIRTIO_CONSOLE_IN_BUFFER };
    if (out)
        *out = con;
    return 0;
}
