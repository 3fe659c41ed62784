/* The machine: what the engines, the arch code and the devices share about
 * one VM — guest memory, the two buses, the vCPUs' counters, the run request
 * the vCPU loops obey and the outcome of the run. It sits below devices and
 * core, so devices can end the run or raise an interrupt without knowing
 * which engine or which host program is above them.
 */
#ifndef LIBVMM_MACHINE_MACHINE_H
#define LIBVMM_MACHINE_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "mem/guest_mem.h"
#include "vmm/event.h"
#include "vmm/vcpu.h"

struct engine_ops;

/* What the vCPU loops are asked to do; they re-read it after every exit. */
enum machine_request {
    MACHINE_RUN = 0,
    MACHINE_PAUSE = 1, /* return from vcpu_run; core parks the thread */
    MACHINE_STOP = 2,  /* return from vcpu_run; core ends the thread */
};

struct machine_vcpu {
    unsigned index;
    void *engine;            /* the engine's per-vCPU state */
    vmm_vcpu_stats_t stats;  /* written by the vCPU's own thread only */
};

/* Callbacks core installs so lower layers can reach the host side. Both run
 * on vCPU threads and must not block for long. */
struct machine_host_ops {
    /* Bytes the guest wrote to its console. */
    void (*console_out)(void *opaque, const uint8_t *buf, size_t len);
    /* The outcome was just recorded: stop every vCPU and tell the loop. */
    void (*outcome_set)(void *opaque);
};

/* A device the machine owns and frees (in reverse order of adding). */
struct machine_device {
    void *opaque;
    void (*destroy)(void *opaque);
};

#define MACHINE_MAX_DEVICES 32
#define MACHINE_MAX_CPUID_HIDE 64

/* A CPUID bit the guest must not see (x86; from <cpu><feature
 * policy='disable'>). reg: 0 EAX, 1 EBX, 2 ECX, 3 EDX. */
struct machine_cpuid_bit {
    uint32_t leaf;
    uint32_t subleaf;
    uint8_t reg;
    uint8_t bit;
};

struct machine {
    struct guest_mem mem;
    struct bus pio;   /* x86 port I/O; unused on riscv */
    struct bus mmio;
    uint64_t ram_size;
    int deterministic; /* soft engine: time from retired instructions */

    const struct engine_ops *engine;
    void *engine_vm;  /* the engine's per-VM state */
    unsigned nr_vcpus;
    struct machine_vcpu *vcpus;

    atomic_int request; /* enum machine_request */

    pthread_mutex_t outcome_lock;
    int outcome_set;
    vmm_outcome_t outcome;

    struct machine_cpuid_bit cpuid_hide[MACHINE_MAX_CPUID_HIDE];
    int nr_cpuid_hide;

    struct machine_device devices[MACHINE_MAX_DEVICES];
    int nr_devices;

    const struct machine_host_ops *host;
    void *host_opaque;
};

/* Zeroes the machine and inits buses, memory map and locks. */
int machine_init(struct machine *m, unsigned nr_vcpus);
/* Frees devices (reverse order), buses, memory and the vcpu array. The
 * engine's state must already be destroyed. */
void machine_destroy(struct machine *m);

/* Hands a device to the machine to free at machine_destroy(). */
int machine_add_device(struct machine *m, void *opaque, void (*destroy)(void *opaque));

/* True when the vCPU loop must return from vcpu_run(). Cheap; any thread. */
static inline int machine_should_exit(struct machine *m)
{
    return atomic_load_explicit(&m->request, memory_order_acquire) != MACHINE_RUN;
}

/* Records how the run ended — the first call wins, later ones are ignored —
 * then asks every vCPU to stop. Called by devices (debug-exit, i8042 reset,
 * SiFive test), engines (crash, SBI SRST) and core. Any thread. */
void machine_set_outcome(struct machine *m, vmm_outcome_kind_t kind, int exit_code,
                         const char *reason_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Drives a level-triggered interrupt line (x86 GSI, riscv PLIC source)
 * through the engine's interrupt controller. Any thread. */
int machine_set_irq(struct machine *m, unsigned irq, int level);

/* Passes console output to the host side. Any thread. */
void machine_console_out(struct machine *m, const uint8_t *buf, size_t len);

#endif
