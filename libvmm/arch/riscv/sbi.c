#include "arch/riscv/sbi.h"

#include <string.h>

#include "arch/riscv/board.h"
#include "util/log.h"

#define A0 10
#define A6 16
#define A7 17

struct sbiret {
    int64_t error;
    int64_t value;
};

static struct sbiret ret_err(int64_t e)
{
    return (struct sbiret){ e, 0 };
}

static struct sbiret ret_val(int64_t v)
{
    return (struct sbiret){ SBI_SUCCESS, v };
}

static uint64_t arg(const struct rv_hart *h, int i)
{
    return h->x[A0 + i];
}

/* --- hart masks --- */

typedef void (*hart_fn)(struct rv_hart *target, void *arg);

/* Checks every hart named by (mask, base) then applies fn to each. base of
 * all-ones means every hart (mask ignored). */
static int64_t for_harts(struct rv_board *sv, uint64_t mask, uint64_t base, hart_fn fn, void *a)
{
    if (base == UINT64_MAX) {
        for (unsigned i = 0; i < sv->nr_harts; i++) {
            struct rv_hart *t = rv_board_hart(sv, i);
            if (t)
                fn(t, a);
        }
        return SBI_SUCCESS;
    }
    for (unsigned bit = 0; bit < 64; bit++) {
        if (!(mask >> bit & 1))
            continue;
        uint64_t id = base + bit;
        if (id < base || !rv_board_hart(sv, id))
            return SBI_ERR_INVALID_PARAM;
    }
    for (unsigned bit = 0; bit < 64; bit++)
        if (mask >> bit & 1)
            fn(rv_board_hart(sv, base + bit), a);
    return SBI_SUCCESS;
}

static void do_ipi(struct rv_hart *t, void *a)
{
    rv_hart_set_irq(t, RV_IRQ_SSIP, 1);
}

static void do_fence_i(struct rv_hart *t, void *a)
{
    rv_hart_request_flush(t, 1);
    rv_hart_kick(t);
}

static void do_sfence(struct rv_hart *t, void *a)
{
    rv_hart_request_flush(t, 0);
    rv_hart_kick(t);
}

/* --- TIME --- */

static void set_timer(struct rv_hart *h, uint64_t when)
{
    /* With the SBI in the VMM the CPU core derives STIP from
     * time >= sbi_timecmp, so a later deadline is what clears it; the
     * caller is this hart, whose next WFI uses the new deadline. */
    atomic_store(&h->sbi_timecmp, when);
}

/* --- DBCN: buffers are guest-physical and bounds-checked --- */

static struct sbiret dbcn_write(struct rv_hart *h, uint64_t n, uint64_t lo, uint64_t hi)
{
    uint64_t gpa = lo | hi << 32;
    if (n > SBI_DBCN_MAX_CHUNK)
        n = SBI_DBCN_MAX_CHUNK;
    if (n == 0)
        return ret_val(0);
    const uint8_t *p = guest_mem_ptr(&h->m->mem, gpa, n);
    if (!p)
        return ret_err(SBI_ERR_INVALID_PARAM);
    machine_console_out(h->m, p, n);
    return ret_val((int64_t)n);
}

static struct sbiret dbcn_read(struct rv_hart *h, uint64_t n, uint64_t lo, uint64_t hi)
{
    uint64_t gpa = lo | hi << 32;
    if (n > SBI_DBCN_MAX_CHUNK)
        n = SBI_DBCN_MAX_CHUNK;
    if (n && !guest_mem_ptr(&h->m->mem, gpa, n))
        return ret_err(SBI_ERR_INVALID_PARAM);
    /* Console input goes to the UART; the SBI console has none to give. */
    return ret_val(0);
}

static struct sbiret sbi_dbcn(struct rv_hart *h, uint64_t fid)
{
    switch (fid) {
    case 0:
        return dbcn_write(h, arg(h, 0), arg(h, 1), arg(h, 2));
    case 1:
        return dbcn_read(h, arg(h, 0), arg(h, 1), arg(h, 2));
    case 2: {
        uint8_t c = (uint8_t)arg(h, 0);
        machine_console_out(h->m, &c, 1);
        return ret_val(0);
    }
    default:
        return ret_err(SBI_ERR_NOT_SUPPORTED);
    }
}

/* --- HSM --- */

static struct sbiret hsm_start(struct rv_board *sv, uint64_t id, uint64_t pc, uint64_t opaque)
{
    struct rv_hart *t = rv_board_hart(sv, id);
    if (!t)
        return ret_err(SBI_ERR_INVALID_PARAM);
    if (!guest_mem_ptr(&sv->m->mem, pc, 2))
        return ret_err(SBI_ERR_INVALID_ADDRESS);
    pthread_mutex_lock(&sv->hsm_lock);
    if (atomic_load(&t->hsm_state) != SBI_HSM_STOPPED) {
        pthread_mutex_unlock(&sv->hsm_lock);
        return ret_err(SBI_ERR_ALREADY_AVAILABLE);
    }
    t->hsm_start_pc = pc;
    t->hsm_start_opaque = opaque;
    /* the start values are visible before the state that publishes them */
    atomic_store(&t->hsm_state, SBI_HSM_START_PENDING);
    pthread_mutex_unlock(&sv->hsm_lock);
    rv_hart_kick(t);
    return ret_val(0);
}

static struct sbiret hsm_stop(struct rv_board *sv, struct rv_hart *h)
{
    pthread_mutex_lock(&sv->hsm_lock);
    if (atomic_load(&h->hsm_state) != SBI_HSM_STARTED) {
        pthread_mutex_unlock(&sv->hsm_lock);
        return ret_err(SBI_ERR_DENIED);
    }
    /* rv_hart_run parks the hart at its next step until hart_start */
    atomic_store(&h->hsm_state, SBI_HSM_STOPPED);
    pthread_mutex_unlock(&sv->hsm_lock);
    return ret_val(0);
}

static struct sbiret sbi_hsm(struct rv_board *sv, struct rv_hart *h, uint64_t fid)
{
    switch (fid) {
    case 0:
        return hsm_start(sv, arg(h, 0), arg(h, 1), arg(h, 2));
    case 1:
        return hsm_stop(sv, h);
    case 2: {
        struct rv_hart *t = rv_board_hart(sv, arg(h, 0));
        if (!t)
            return ret_err(SBI_ERR_INVALID_PARAM);
        return ret_val(atomic_load(&t->hsm_state));
    }
    default: /* hart_suspend: no idle states are advertised */
        return ret_err(SBI_ERR_NOT_SUPPORTED);
    }
}

/* --- SRST --- */

#define SRST_SHUTDOWN 0
#define SRST_COLD_REBOOT 1
#define SRST_WARM_REBOOT 2
#define SRST_REASON_NONE 0
#define SRST_REASON_FAILURE 1

static struct sbiret sbi_srst(struct rv_hart *h, uint64_t type, uint64_t reason)
{
    uint32_t t = (uint32_t)type, r = (uint32_t)reason;
    if (t > SRST_WARM_REBOOT)
        return ret_err(t >= 0xF0000000u ? SBI_ERR_NOT_SUPPORTED : SBI_ERR_INVALID_PARAM);
    if (r > SRST_REASON_FAILURE && r < 0xE0000000u)
        return ret_err(SBI_ERR_INVALID_PARAM);
    static const char *const names[] = { "shutdown", "cold reboot", "warm reboot" };
    if (r == SRST_REASON_FAILURE)
        machine_set_outcome(h->m, VMM_OUTCOME_CRASH, 0,
                            "SBI system reset (%s) on hart %u: system failure", names[t],
                            h->hartid);
    else if (t == SRST_SHUTDOWN)
        machine_set_outcome(h->m, VMM_OUTCOME_POWEROFF, 0, "SBI system reset: shutdown");
    else
        machine_set_outcome(h->m, VMM_OUTCOME_RESET, 0, "SBI system reset: %s", names[t]);
    return ret_val(0);
}

/* --- BASE --- */

static int ext_supported(uint64_t eid)
{
    switch (eid) {
    case SBI_EXT_LEGACY_SET_TIMER ... SBI_EXT_LEGACY_SHUTDOWN:
    case SBI_EXT_BASE:
    case SBI_EXT_TIME:
    case SBI_EXT_IPI:
    case SBI_EXT_RFENCE:
    case SBI_EXT_HSM:
    case SBI_EXT_SRST:
    case SBI_EXT_DBCN:
        return 1;
    default:
        return 0;
    }
}

static struct sbiret sbi_base(struct rv_hart *h, uint64_t fid)
{
    switch (fid) {
    case 0:
        return ret_val(SBI_SPEC_VERSION);
    case 1:
        return ret_val(SBI_IMPL_ID);
    case 2:
        return ret_val(SBI_IMPL_VERSION);
    case 3:
        return ret_val(ext_supported(arg(h, 0)));
    case 4: /* mvendorid */
    case 5: /* marchid */
    case 6: /* mimpid */
        return ret_val(0);
    default:
        return ret_err(SBI_ERR_NOT_SUPPORTED);
    }
}

static struct sbiret sbi_rfence(struct rv_board *sv, struct rv_hart *h, uint64_t fid)
{
    switch (fid) {
    case 0:
        return ret_err(for_harts(sv, arg(h, 0), arg(h, 1), do_fence_i, NULL));
    case 1: /* sfence.vma: start a2, size a3 — every hart flushes everything */
    case 2: /* sfence.vma.asid: a4 asid */
        return ret_err(for_harts(sv, arg(h, 0), arg(h, 1), do_sfence, NULL));
    default: /* hfence.*: no H extension */
        return ret_err(SBI_ERR_NOT_SUPPORTED);
    }
}

/* --- legacy (v0.1): hart masks are pointers; a0 is the only result --- */

/* Reads a legacy hart mask. The pointer is an S-mode virtual address; it is
 * read as a guest-physical one, which is right while satp is Bare (legacy
 * callers are early boot code). NULL means every hart. */
static int64_t legacy_mask(struct rv_hart *h, uint64_t ptr, uint64_t *mask, uint64_t *base)
{
    if (ptr == 0) {
        *mask = 0;
        *base = UINT64_MAX;
        return 0;
    }
    const void *p = guest_mem_ptr(&h->m->mem, ptr, sizeof(uint64_t));
    if (!p)
        return SBI_ERR_INVALID_ADDRESS;
    memcpy(mask, p, sizeof(*mask));
    *base = 0;
    return 0;
}

static int64_t sbi_legacy(struct rv_board *sv, struct rv_hart *h, uint64_t eid)
{
    uint64_t mask, base;
    int64_t rc;
    switch (eid) {
    case SBI_EXT_LEGACY_SET_TIMER:
        set_timer(h, arg(h, 0));
        return 0;
    case SBI_EXT_LEGACY_PUTCHAR: {
        uint8_t c = (uint8_t)arg(h, 0);
        machine_console_out(h->m, &c, 1);
        return 0;
    }
    case SBI_EXT_LEGACY_GETCHAR:
        return -1; /* console input goes to the UART */
    case SBI_EXT_LEGACY_CLEAR_IPI:
        rv_hart_set_irq(h, RV_IRQ_SSIP, 0);
        return 0;
    case SBI_EXT_LEGACY_SEND_IPI:
    case SBI_EXT_LEGACY_FENCE_I:
    case SBI_EXT_LEGACY_SFENCE_VMA:
    case SBI_EXT_LEGACY_SFENCE_VMA_ASID:
        if ((rc = legacy_mask(h, arg(h, 0), &mask, &base)))
            return rc;
        return for_harts(sv, mask, base,
                         eid == SBI_EXT_LEGACY_SEND_IPI  ? do_ipi
                         : eid == SBI_EXT_LEGACY_FENCE_I ? do_fence_i
                                                         : do_sfence,
                         NULL);
    default: /* SBI_EXT_LEGACY_SHUTDOWN */
        machine_set_outcome(h->m, VMM_OUTCOME_POWEROFF, 0, "SBI legacy shutdown");
        return 0;
    }
}

int sbi_call(struct rv_hart *h)
{
    struct rv_board *sv = h->hooks->opaque;
    uint64_t eid = h->x[A7], fid = h->x[A6];
    struct sbiret r;

    /* Counted once, by the CPU core when it took the ECALL (exec.c). */
    if (eid <= SBI_EXT_LEGACY_SHUTDOWN) {
        h->x[A0] = (uint64_t)sbi_legacy(sv, h, eid);
        return 0;
    }
    switch (eid) {
    case SBI_EXT_BASE:
        r = sbi_base(h, fid);
        break;
    case SBI_EXT_TIME:
        if (fid == 0) {
            set_timer(h, arg(h, 0));
            r = ret_val(0);
        } else {
            r = ret_err(SBI_ERR_NOT_SUPPORTED);
        }
        break;
    case SBI_EXT_IPI:
        r = fid == 0 ? ret_err(for_harts(sv, arg(h, 0), arg(h, 1), do_ipi, NULL))
                     : ret_err(SBI_ERR_NOT_SUPPORTED);
        break;
    case SBI_EXT_RFENCE:
        r = sbi_rfence(sv, h, fid);
        break;
    case SBI_EXT_HSM:
        r = sbi_hsm(sv, h, fid);
        break;
    case SBI_EXT_SRST:
        r = fid == 0 ? sbi_srst(h, arg(h, 0), arg(h, 1)) : ret_err(SBI_ERR_NOT_SUPPORTED);
        break;
    case SBI_EXT_DBCN:
        r = sbi_dbcn(h, fid);
        break;
    default:
        log_debug("SBI: hart %u called unknown extension 0x%llx function %llu", h->hartid,
                  (unsigned long long)eid, (unsigned long long)fid);
        r = ret_err(SBI_ERR_NOT_SUPPORTED);
        break;
    }
    h->x[A0] = (uint64_t)r.error;
    h->x[A0 + 1] = (uint64_t)r.value;
    return 0;
}
