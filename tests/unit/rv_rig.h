/* Test rig for the RV64GC core: a machine with 16 MiB of RAM at
 * 0x80000000, an "exit" MMIO device that ends the run when written, a tiny
 * instruction encoder, and a watchdog so a runaway guest fails the test
 * instead of hanging it. Used by tests/unit/test_rv_*.c.
 */
#ifndef TESTS_UNIT_RV_RIG_H
#define TESTS_UNIT_RV_RIG_H

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "machine/machine.h"
#include "backend/soft/cpu.h"
#include "backend/soft/hart.h"
#include "unit.h"

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (16ULL << 20)
#define EXIT_ADDR 0x10000000ULL /* a store here ends the run; x31 holds it */

struct rig {
    struct machine m;
    struct rv_hart h;
    uint64_t at; /* where emit() writes next */
    int sbi_calls;
    uint64_t exit_value;
};

static inline uint64_t rig_exit_read(void *o, uint64_t off, unsigned size)
{
    return 0;
}

static inline void rig_exit_write(void *o, uint64_t off, unsigned size, uint64_t v)
{
    struct rig *r = o;
    r->exit_value = v;
    machine_set_outcome(&r->m, VMM_OUTCOME_POWEROFF, 0, "test exit");
}

static const struct bus_dev_ops rig_exit_ops = { rig_exit_read, rig_exit_write };

static inline int rig_sbi(struct rv_hart *h)
{
    struct rig *r = (struct rig *)((char *)h - offsetof(struct rig, h));
    r->sbi_calls++;
    if (h->x[17] == 0x99) { /* test convention: a7 = 0x99 ends the run */
        machine_set_outcome(h->m, VMM_OUTCOME_POWEROFF, 0, "sbi exit");
        return 0;
    }
    h->x[10] = h->x[10] + 1; /* visible effect for tests */
    return 0;
}

static const struct rv_hart_hooks rig_hooks = { rig_sbi, NULL };

static inline void rig_init_mode(struct rig *r, int priv, int sbi_in_vmm)
{
    memset(r, 0, sizeof(*r));
    CU_ASSERT_FATAL(machine_init(&r->m, 1) == 0);
    CU_ASSERT_FATAL(guest_mem_add_ram(&r->m.mem, RAM_BASE, RAM_SIZE) == 0);
    CU_ASSERT_FATAL(bus_register(&r->m.mmio, EXIT_ADDR, 0x1000, &rig_exit_ops, r, "exit") == 0);
    CU_ASSERT_FATAL(rv_hart_init(&r->h, &r->m, 0, &rig_hooks) == 0);
    rv_hart_set_boot(&r->h, RAM_BASE, 0, 0, priv, sbi_in_vmm);
    r->h.x[31] = EXIT_ADDR;
    r->at = RAM_BASE;
}

static inline void rig_init(struct rig *r)
{
    rig_init_mode(r, RV_PRIV_M, 0);
}

static inline void rig_destroy(struct rig *r)
{
    rv_hart_destroy(&r->h);
    machine_destroy(&r->m);
}

static inline void *rig_ptr(struct rig *r, uint64_t gpa)
{
    return guest_mem_ptr(&r->m.mem, gpa, 1);
}

static inline void emit32(struct rig *r, uint32_t insn)
{
    memcpy(rig_ptr(r, r->at), &insn, 4);
    r->at += 4;
}

static inline void emit16(struct rig *r, uint16_t insn)
{
    memcpy(rig_ptr(r, r->at), &insn, 2);
    r->at += 2;
}

static inline void put64(struct rig *r, uint64_t gpa, uint64_t v)
{
    memcpy(rig_ptr(r, gpa), &v, 8);
}

static inline uint64_t get64(struct rig *r, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, rig_ptr(r, gpa), 8);
    return v;
}

/* How long a guest may run before the watchdog ends it. */
static int rig_watchdog_seconds = 20;

struct rig_watch {
    struct rig *r;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

static inline void *rig_watchdog(void *arg)
{
    struct rig_watch *w = arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += rig_watchdog_seconds;
    pthread_mutex_lock(&w->lock);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) != 0) {
            machine_set_outcome(&w->r->m, VMM_OUTCOME_CRASH, 0, "watchdog");
            rv_hart_kick(&w->r->h);
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Runs until the guest writes EXIT_ADDR (or SBI exit); asserts it did. */
static inline void rig_run(struct rig *r)
{
    struct rig_watch w = { r, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    pthread_t t;
    pthread_create(&t, NULL, rig_watchdog, &w);
    rv_hart_run(&r->h);
    pthread_mutex_lock(&w.lock);
    w.done = 1;
    pthread_cond_signal(&w.cond);
    pthread_mutex_unlock(&w.lock);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(r->m.outcome.kind, VMM_OUTCOME_POWEROFF);
    if (r->m.outcome.kind != VMM_OUTCOME_POWEROFF)
        fprintf(stderr, "  outcome %d: %s (pc 0x%llx)\n", r->m.outcome.kind, r->m.outcome.reason,
                (unsigned long long)r->h.pc);
}

/* --- encoder --- */
static inline uint32_t enc_r(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd,
                             unsigned op)
{
    return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static inline uint32_t enc_i(int imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
    return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static inline uint32_t enc_s(int imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned op)
{
    uint32_t u = (uint32_t)imm;
    return ((u >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 0x1f) << 7 | op;
}
static inline uint32_t enc_b(int imm, unsigned rs2, unsigned rs1, unsigned f3)
{
    uint32_t u = (uint32_t)imm;
    return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
           ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}
static inline uint32_t enc_j(int imm, unsigned rd)
{
    uint32_t u = (uint32_t)imm;
    return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
           ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}

#define ADDI(rd, rs1, imm) enc_i(imm, rs1, 0, rd, 0x13)
#define ADDIW(rd, rs1, imm) enc_i(imm, rs1, 0, rd, 0x1b)
#define LUI(rd, imm20) ((uint32_t)(imm20) << 12 | (rd) << 7 | 0x37)
#define AUIPC(rd, imm20) ((uint32_t)(imm20) << 12 | (rd) << 7 | 0x17)
#define OP(f7, f3, rd, rs1, rs2) enc_r(f7, rs2, rs1, f3, rd, 0x33)
#define OP32(f7, f3, rd, rs1, rs2) enc_r(f7, rs2, rs1, f3, rd, 0x3b)
#define LOADI(f3, rd, rs1, imm) enc_i(imm, rs1, f3, rd, 0x03)
#define STOREI(f3, rs2, rs1, imm) enc_s(imm, rs2, rs1, f3, 0x23)
#define LD(rd, rs1, imm) LOADI(3, rd, rs1, imm)
#define SD(rs2, rs1, imm) STOREI(3, rs2, rs1, imm)
#define LW(rd, rs1, imm) LOADI(2, rd, rs1, imm)
#define SW(rs2, rs1, imm) STOREI(2, rs2, rs1, imm)
#define CSRRW(rd, csr, rs1) enc_i(csr, rs1, 1, rd, 0x73)
#define CSRRS(rd, csr, rs1) enc_i(csr, rs1, 2, rd, 0x73)
#define CSRRC(rd, csr, rs1) enc_i(csr, rs1, 3, rd, 0x73)
#define CSRRWI(rd, csr, imm) enc_i(csr, imm, 5, rd, 0x73)
#define ECALL 0x00000073u
#define EBREAK 0x00100073u
#define MRET 0x30200073u
#define SRET 0x10200073u
#define WFI 0x10500073u
#define EXIT_INSN SW(0, 31, 0) /* sw x0, 0(x31) */
#define AMO(f5, f3, rd, rs1, rs2) enc_r((f5) << 2, rs2, rs1, f3, rd, 0x2f)
#define FP(f7, rm, rd, rs1, rs2) enc_r(f7, rs2, rs1, rm, rd, 0x53)

static inline void emit_exit(struct rig *r)
{
    emit32(r, EXIT_INSN);
}

#endif
