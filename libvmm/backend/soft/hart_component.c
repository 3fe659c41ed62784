#include "backend/soft/hart_component.h"

#include <string.h>

#include "util/error.h"

/* One walk over the fields for both directions, so save and load cannot
 * disagree on the layout. */
struct hart_io {
    struct state_writer *w;
    struct state_reader *r;
};

static void io_u64(struct hart_io *io, uint64_t *v)
{
    if (io->w)
        state_put_u64(io->w, *v);
    else
        state_get_u64(io->r, v);
}

static void io_i32(struct hart_io *io, int32_t *v)
{
    uint32_t u = (uint32_t)*v;
    if (io->w) {
        state_put_u32(io->w, u);
    } else {
        state_get_u32(io->r, &u);
        *v = (int32_t)u;
    }
}

static void io_u32(struct hart_io *io, uint32_t *v)
{
    if (io->w)
        state_put_u32(io->w, *v);
    else
        state_get_u32(io->r, v);
}

static void hart_state_io(struct hart_io *io, struct rv_hart_state *s)
{
    for (int i = 0; i < 32; i++)
        io_u64(io, &s->x[i]);
    for (int i = 0; i < 32; i++)
        io_u64(io, &s->f[i]);
    io_u64(io, &s->pc);
    io_i32(io, &s->priv);
    io_i32(io, &s->sbi_in_vmm);
    uint64_t *csrs[] = { &s->mstatus, &s->medeleg, &s->mideleg, &s->mie, &s->mip,
                         &s->mtvec, &s->stvec, &s->mepc, &s->sepc, &s->mcause, &s->scause,
                         &s->mtval, &s->stval, &s->mscratch, &s->sscratch, &s->satp,
                         &s->mcounteren, &s->scounteren };
    for (size_t i = 0; i < sizeof(csrs) / sizeof(csrs[0]); i++)
        io_u64(io, csrs[i]);
    io_u32(io, &s->fflags);
    io_u32(io, &s->frm);
    io_u64(io, &s->mip_ext);
    io_u64(io, &s->mtimecmp);
    io_u64(io, &s->sbi_timecmp);
    io_i32(io, &s->hsm_state);
    io_u64(io, &s->hsm_start_pc);
    io_u64(io, &s->hsm_start_opaque);
    io_u64(io, &s->time);
    io_u64(io, &s->instret);
    io_u64(io, &s->mcycle_offset);
    io_u64(io, &s->minstret_offset);
}

int rv_hart_component_save(void *opaque, struct state_writer *w)
{
    struct rv_hart_state s;
    rv_hart_save(opaque, &s);
    struct hart_io io = { .w = w };
    hart_state_io(&io, &s);
    return 0;
}

int rv_hart_component_load(void *opaque, struct state_reader *r, uint32_t version)
{
    struct rv_hart *h = opaque;
    struct rv_hart_state s;
    memset(&s, 0, sizeof(s));
    struct hart_io io = { .r = r };
    hart_state_io(&io, &s);
    int rc = state_check_done(r);
    if (rc)
        return rc;
    /* Every hart's section records the machine's time at the save; files
     * written before that was so hold one time per hart, and the latest
     * of them is the one no hart's clock goes back from. (The harts of
     * the VM a stream is loaded into have not run yet: their stop times
     * are those of its creation, earlier than any saved guest's.) */
    uint64_t peers = rv_hart_peers_stop_time(h);
    if (peers > s.time)
        s.time = peers;
    rc = rv_hart_load(h, &s);
    return rc ? vmm_error(VMM_EFORMAT, "%s", vmm_last_error()) : 0;
}
