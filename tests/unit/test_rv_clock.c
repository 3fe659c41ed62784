/* The soft engine's guest time is one clock for the whole machine, across
 * a save, a load and a reset (backend/soft/cpu_state.c). Two harts whose
 * `time` differ hang a restored Linux: the hart behind the other one reads
 * a negative interval in timekeeping_advance() and loops there with
 * interrupts off. The machines here have two harts in the default
 * (host-clock) mode; where the bug needs two moments apart, the test
 * sleeps 20 ms between them, so it fails without the fix on any host, and
 * passes with it however slow the host is (the assertions compare clocks,
 * never durations). */
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/soft/engine.h"
#include "backend/soft/hart.h"
#include "machine/component.h"
#include "machine/machine.h"
#include "mem/guest_mem.h"
#include "unit.h"
#include "util/crc32c.h"

#define RAM 0x80000000ULL
#define RAM_SIZE (1ULL << 20)
#define EXIT 0x10000000ULL
#define GAP_MS 20
#define GAP_TICKS (GAP_MS * (RV_TIMEBASE_HZ / 1000))

struct rig {
    struct machine m;
    struct rv_hart *h[2];
};

static void exit_write(void *o, uint64_t off, unsigned size, uint64_t v)
{
    machine_set_outcome(o, VMM_OUTCOME_POWEROFF, 0, "test exit");
}

static uint64_t exit_read(void *o, uint64_t off, unsigned size)
{
    return 0;
}

static const struct bus_dev_ops exit_ops = { exit_read, exit_write };

static void sleep_gap(void)
{
    struct timespec ts = { 0, GAP_MS * 1000000L };
    nanosleep(&ts, NULL);
}

/* Two harts in the default mode; cpu1 is created GAP_MS after cpu0, so
 * their reset states record guest times that far apart. */
static void rig_init(struct rig *r)
{
    memset(r, 0, sizeof(*r));
    CU_ASSERT_EQUAL_FATAL(machine_init(&r->m, 2), 0);
    CU_ASSERT_EQUAL_FATAL(guest_mem_add_ram(&r->m.mem, RAM, RAM_SIZE), 0);
    r->m.ram_size = RAM_SIZE;
    CU_ASSERT_EQUAL_FATAL(bus_register(&r->m.mmio, EXIT, 0x1000, &exit_ops, &r->m, "exit"), 0);
    struct engine_options opt;
    memset(&opt, 0, sizeof(opt));
    CU_ASSERT_EQUAL_FATAL(engine_soft.vm_create(&r->m, &opt), 0);
    CU_ASSERT_EQUAL_FATAL(engine_soft.vcpu_create(&r->m, 0), 0);
    sleep_gap();
    CU_ASSERT_EQUAL_FATAL(engine_soft.vcpu_create(&r->m, 1), 0);
    r->h[0] = soft_hart(&r->m, 0);
    r->h[1] = soft_hart(&r->m, 1);
    /* sw x0, 0(x31); then jal x0, 0 (never reached: the store ends the run) */
    static const uint32_t prog[] = { 31u << 15 | 2u << 12 | 0x23, 0x0000006fu };
    memcpy(guest_mem_ptr(&r->m.mem, RAM, sizeof(prog)), prog, sizeof(prog));
}

static void rig_free(struct rig *r)
{
    machine_destroy_components(&r->m);
    engine_soft.vm_destroy(&r->m);
    machine_destroy(&r->m);
}

/* Runs hart i on this thread up to its exit store: it leaves its run as a
 * pause makes it, recording the time it stopped at. */
static void run_to_exit(struct rig *r, unsigned i)
{
    struct rv_hart *h = r->h[i];
    rv_hart_set_boot(h, RAM, 0, 0, RV_PRIV_M, 0);
    h->x[31] = EXIT;
    machine_clear_outcome(&r->m);
    CU_ASSERT_EQUAL(engine_soft.vcpu_run(&r->m, i), 0);
    CU_ASSERT_EQUAL(r->m.outcome.kind, VMM_OUTCOME_POWEROFF);
}

/* The harts read one clock: each reading, hart 0 then hart 1 then hart 0,
 * is at least the one before (the host clock is monotonic; a hart behind
 * or ahead of the other shows as a step back). */
static void assert_one_clock(struct rig *r)
{
    uint64_t a = rv_hart_time(r->h[0]);
    uint64_t b = rv_hart_time(r->h[1]);
    uint64_t c = rv_hart_time(r->h[0]);
    CU_ASSERT(a <= b);
    CU_ASSERT(b <= c);
}

static void test_a_save_records_one_time_for_every_hart(void)
{
    struct rig r;
    rig_init(&r);
    /* Hart 0 stops, then hart 1 stops GAP_MS later (a hart in WFI wakes
     * for a pause after the one that ran). */
    run_to_exit(&r, 0);
    sleep_gap();
    uint64_t before_hart1 = rv_hart_time(r.h[0]);
    run_to_exit(&r, 1);
    struct rv_hart_state s0, s1;
    rv_hart_save(r.h[0], &s0);
    rv_hart_save(r.h[1], &s1);
    CU_ASSERT_EQUAL(s0.time, s1.time);
    /* The latest stop, hart 1's: no hart's clock goes back on a load. */
    CU_ASSERT(s0.time >= before_hart1);
    CU_ASSERT(s1.time >= before_hart1);
    rig_free(&r);
}

/* Harts that did not leave a run for the pause (the scheduler parks a
 * hart whose slice ended just before the request without running it
 * again; here, harts that never ran) still record one time, however far
 * apart their saves are, and the same time at a second save of the same
 * pause. */
static void test_saves_of_one_pause_record_one_time(void)
{
    struct rig r;
    rig_init(&r);
    struct rv_hart_state s0, s1, again;
    rv_hart_save(r.h[0], &s0);
    sleep_gap();
    rv_hart_save(r.h[1], &s1);
    CU_ASSERT_EQUAL(s0.time, s1.time);
    sleep_gap();
    rv_hart_save(r.h[0], &again);
    CU_ASSERT_EQUAL(again.time, s0.time);
    rig_free(&r);
}

static void test_harts_loaded_apart_run_on_one_clock(void)
{
    struct rig r;
    rig_init(&r);
    struct rv_hart_state s0, s1;
    rv_hart_save(r.h[0], &s0);
    rv_hart_save(r.h[1], &s1);
    s0.time = s1.time = 10 * RV_TIMEBASE_HZ; /* 10 s of guest time */
    CU_ASSERT_EQUAL(rv_hart_load(r.h[0], &s0), 0);
    sleep_gap(); /* the loads of a loaded host's restore, far apart */
    CU_ASSERT_EQUAL(rv_hart_load(r.h[1], &s1), 0);
    assert_one_clock(&r);
    /* And a save before they run records the loaded time for both. */
    rv_hart_save(r.h[0], &s0);
    rv_hart_save(r.h[1], &s1);
    CU_ASSERT_EQUAL(s0.time, 10 * RV_TIMEBASE_HZ);
    CU_ASSERT_EQUAL(s1.time, 10 * RV_TIMEBASE_HZ);
    rig_free(&r);
}

/* Loads of different times straight through rv_hart_load (as a reset
 * does, from states recorded at each hart's creation): the harts end on
 * one clock, the last load's. */
static void test_harts_loaded_with_different_times_end_on_one_clock(void)
{
    struct rig r;
    rig_init(&r);
    struct rv_hart_state s0, s1;
    rv_hart_save(r.h[0], &s0);
    rv_hart_save(r.h[1], &s1);
    s0.time = 10 * RV_TIMEBASE_HZ;
    s1.time = 10 * RV_TIMEBASE_HZ - GAP_TICKS;
    CU_ASSERT_EQUAL(rv_hart_load(r.h[0], &s0), 0);
    CU_ASSERT_EQUAL(rv_hart_load(r.h[1], &s1), 0);
    assert_one_clock(&r);
    CU_ASSERT(rv_hart_time(r.h[0]) < 10 * RV_TIMEBASE_HZ);
    rig_free(&r);
}

/* A reset loads each hart's creation state, recorded GAP_MS apart. */
static void test_a_reset_leaves_one_clock(void)
{
    struct rig r;
    rig_init(&r);
    machine_reset_components(&r.m);
    assert_one_clock(&r);
    rig_free(&r);
}

/* The same through the components' state stream, as a snapshot does it:
 * harts stopped apart, saved, loaded apart into the same machine. */
static void test_a_state_round_trip_keeps_one_clock(void)
{
    struct rig r;
    rig_init(&r);
    run_to_exit(&r, 1);
    sleep_gap();
    run_to_exit(&r, 0);
    struct state_buffer b0 = { 0 }, b1 = { 0 };
    struct component *c0 = machine_find_component(&r.m, "cpu0");
    struct component *c1 = machine_find_component(&r.m, "cpu1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
    CU_ASSERT_EQUAL(component_save_to_buffer(c0, &b0), 0);
    CU_ASSERT_EQUAL(component_save_to_buffer(c1, &b1), 0);
    CU_ASSERT_EQUAL(component_load_from_buffer(c0, &b0), 0);
    sleep_gap();
    CU_ASSERT_EQUAL(component_load_from_buffer(c1, &b1), 0);
    assert_one_clock(&r);
    state_buffer_free(&b0);
    state_buffer_free(&b1);
    rig_free(&r);
}

/* Sets the `time` field of the one hart section in a buffer from
 * component_save_to_buffer (stream header, section, trailer: state.h;
 * payload: hart_component.c, time at byte 724 of 756) and its CRC. */
static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static void set_section_time(struct state_buffer *b, uint64_t time)
{
    const size_t name_len_at = 16 + 4; /* after the stream header and the magic */
    size_t payload = name_len_at + 1 + b->data[name_len_at] + 4 + 8;
    CU_ASSERT_FATAL(b->len >= payload + 756 + 4);
    put_le(b->data + payload + 724, time, 8);
    put_le(b->data + payload + 756,
           crc32c(0, b->data + name_len_at, payload + 756 - name_len_at), 4);
}

/* A snapshot written before saves recorded one time holds one per hart;
 * loaded into a new machine, as a restore or a migration does, the harts
 * run on one clock from the latest of them, whichever section comes last:
 * no hart's clock goes back from what it read before the save. */
static void test_a_stream_with_a_time_per_hart_loads_at_the_latest(void)
{
    struct rig from, to;
    rig_init(&from);
    const uint64_t t = 10 * RV_TIMEBASE_HZ, behind = RV_TIMEBASE_HZ; /* 10 s, 1 s */
    struct state_buffer b[2] = { { 0 }, { 0 } };
    for (unsigned i = 0; i < 2; i++) {
        struct component *c = machine_find_component(&from.m, i ? "cpu1" : "cpu0");
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(component_save_to_buffer(c, &b[i]), 0);
        set_section_time(&b[i], i ? t - behind : t); /* the last section behind */
    }
    rig_free(&from);
    rig_init(&to);
    for (unsigned i = 0; i < 2; i++) {
        struct component *c = machine_find_component(&to.m, i ? "cpu1" : "cpu0");
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(component_load_from_buffer(c, &b[i]), 0);
        state_buffer_free(&b[i]);
    }
    assert_one_clock(&to);
    CU_ASSERT(rv_hart_time(to.h[0]) >= t);
    CU_ASSERT(rv_hart_time(to.h[1]) >= t);
    rig_free(&to);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "a save records one time for every hart", test_a_save_records_one_time_for_every_hart },
        { "saves of one pause record one time", test_saves_of_one_pause_record_one_time },
        { "harts loaded apart run on one clock", test_harts_loaded_apart_run_on_one_clock },
        { "harts loaded with different times end on one clock",
          test_harts_loaded_with_different_times_end_on_one_clock },
        { "a reset leaves one clock", test_a_reset_leaves_one_clock },
        { "a state round trip keeps one clock", test_a_state_round_trip_keeps_one_clock },
        { "a stream with a time per hart loads at the latest",
          test_a_stream_with_a_time_per_hart_loads_at_the_latest },
        { NULL, NULL },
    };
    return unit_main("rv_clock", tests);
}
