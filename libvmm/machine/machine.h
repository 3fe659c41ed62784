/* The machine: what the engines, the boards and the devices share about
 * one VM — guest memory, the two buses, interrupt lines, the vCPUs'
 * counters, the run request the vCPU loops obey, the outcome of the run, the
 * console, and the components (component.h) the VM is made of. It sits
 * below devices, engines and arch and above bus and memory, so a device can
 * end the run or raise an interrupt without knowing which engine or which
 * host program is above it. It holds nothing engine-specific: engines get
 * their options through backend.h and keep their state behind engine_vm.
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

struct component;

/* What the vCPU loops are asked to do; they re-read it after every exit. */
enum machine_request {
    MACHINE_RUN = 0,
    MACHINE_PAUSE = 1, /* return from vcpu_run; core parks the thread */
    MACHINE_STOP = 2,  /* return from vcpu_run; core ends the thread */
    MACHINE_THROTTLE = 3, /* return from vcpu_run; core holds the thread
                           * until the request is RUN again (a live
                           * migration slowing the guest: core/vm_throttle.h);
                           * the VM stays RUNNING */
};

struct machine_vcpu {
    unsigned index;
    void *engine;            /* the engine's per-vCPU state */
    /* Written by the vCPU's own thread only, each field with a relaxed
     * atomic store (MACHINE_VCPU_STAT_ADD) so readers on other threads
     * (machine_vcpu_stats_read) never race with it. */
    vmm_vcpu_stats_t stats;
    int host_tid; /* gettid() of the thread running it; atomic, 0 while there is none */
};

/* Adds n to one counter of v->stats; vCPU thread of v only. */
#define MACHINE_VCPU_STAT_ADD(v, field, n)                                                         \
    __atomic_store_n(&(v)->stats.field, (v)->stats.field + (n), __ATOMIC_RELAXED)
#define MACHINE_VCPU_STAT_SET(v, field, val) __atomic_store_n(&(v)->stats.field, (val), __ATOMIC_RELAXED)

/* Callbacks core installs so lower layers can reach the host side. Both run
 * on vCPU threads and must not block for long. */
struct machine_host_ops {
    /* Bytes the guest wrote to its console. */
    void (*console_out)(void *opaque, const uint8_t *buf, size_t len);
    /* The outcome was just recorded: stop every vCPU and tell the loop. */
    void (*outcome_set)(void *opaque);
    /* --- named console ports (devices/virtio/console.c) --- */
    /* Bytes the guest wrote to named port `index` (the config's order).
     * Returns 0, or 1 when the host's buffer for the port is now full: the
     * device then takes no more of that port's output until the host calls
     * ports.resume(index). */
    int (*port_out)(void *opaque, unsigned index, const uint8_t *buf, size_t len);
    /* The guest opened (1) or closed (0) named port `index`. */
    void (*port_state)(void *opaque, unsigned index, int open);
    /* --- guest memory (devices/virtio/balloon.c) --- */
    /* The balloon changed (MACHINE_MEM_* bits): the driver's actual size,
     * pages the guest took back (deflate), fresh guest statistics. */
    void (*memory_changed)(void *opaque, unsigned what);
};

#define MACHINE_MEM_BALLOON_ACTUAL 1u
#define MACHINE_MEM_BALLOON_DEFLATE 2u
#define MACHINE_MEM_BALLOON_STATS 4u

/* The interrupt controller the board connected device lines to (the PLIC on
 * riscv, KVM's in-kernel IOAPIC/PIC on x86). Any thread. */
struct machine_irq_controller {
    int (*set_irq)(void *opaque, unsigned irq, int level);
    void *opaque;
};

/* Guest writes the engine can turn into an eventfd signal without leaving
 * the kernel (KVM's ioeventfd); absent on engines without such a path. */
struct machine_ioeventfd {
    int (*add)(void *opaque, uint64_t gpa, unsigned len, int fd);
    void *opaque;
};

/* An eventfd whose every write pulses an edge-triggered interrupt line in
 * the engine's interrupt controller (KVM's irqfd), so a device thread can
 * interrupt the guest without an ioctl; absent on engines without one. */
struct machine_irqfd {
    int (*create)(void *opaque, unsigned irq);
    void *opaque;
};

/* What the engine adds to guest_mem's dirty log: pages its CPUs wrote
 * without going through the VMM (KVM's dirty log), or a flush that makes
 * its CPUs' next writes visible to the log (the soft engine's store TLB). */
struct machine_dirty_log {
    int (*start)(void *opaque);
    /* After guest_mem_dirty_fetch(); may OR more bits into bitmap. */
    int (*sync)(void *opaque, int region, uint64_t *bitmap);
    void (*stop)(void *opaque);
    void *opaque;
};

/* The console device's input side (the board's UART). Any thread. */
struct machine_console_input {
    size_t (*receive)(void *opaque, const uint8_t *buf, size_t len);
    void *opaque;
    size_t buffer_size; /* bytes it can hold, for error messages */
};

/* The board's power button, for a host that asks the guest to power down
 * (x86: the ACPI fixed power button). Absent on boards without one. Any
 * thread. */
struct machine_power_button {
    int (*press)(void *opaque);
    void *opaque;
};

/* The named ports' device side (the virtio console). Any thread. */
struct machine_port_io {
    /* Queues host bytes for port `index`; returns how many it took. */
    size_t (*receive)(void *opaque, unsigned index, const uint8_t *buf, size_t len);
    /* The host drained the port's output: the device may send more. */
    void (*resume)(void *opaque, unsigned index);
    void *opaque;
    size_t buffer_size; /* bytes one port's input buffer holds */
};

struct machine {
    struct guest_mem mem;
    struct bus pio;   /* x86 port I/O; unused on riscv */
    struct bus mmio;
    uint64_t ram_size;

    void *engine_vm;  /* the engine's per-VM state */
    void *board;      /* the board's per-VM state (arch/<arch>/board.c) */
    unsigned nr_vcpus;
    struct machine_vcpu *vcpus;

    atomic_int request; /* enum machine_request */

    pthread_mutex_t outcome_lock;
    int outcome_set;
    vmm_outcome_t outcome;

    struct component **components; /* in the order they were added */
    int nr_components, cap_components;

    struct machine_irq_controller irq;
    struct machine_console_input console_in;
    struct machine_ioeventfd ioeventfd;
    struct machine_irqfd irqfd;
    struct machine_dirty_log dirty;
    struct machine_power_button power_button;
    struct machine_port_io ports; /* named ports; receive NULL when none */

    const struct machine_host_ops *host;
    void *host_opaque;

    /* The scheduler running this machine's vCPUs (core/sched.c), told when
     * a vCPU that gave its worker back may be runnable again. NULL when
     * each vCPU has a thread of its own. Set before vCPUs run. */
    void (*vcpu_wake)(void *opaque, unsigned index);
    void *vcpu_wake_opaque;
};

/* Tells the scheduler vCPU `index` may be runnable (an interrupt, an IPI,
 * a kick). Cheap when no scheduler runs the machine. Any thread. */
static inline void machine_vcpu_wake(struct machine *m, unsigned index)
{
    if (m->vcpu_wake)
        m->vcpu_wake(m->vcpu_wake_opaque, index);
}

/* Zeroes the machine and inits buses, memory map and locks. */
int machine_init(struct machine *m, unsigned nr_vcpus);
/* Frees the components (reverse order), buses, memory and the vcpu array.
 * The engine's state must already be destroyed. */
void machine_destroy(struct machine *m);

/* Destroys every component (reverse order of adding); machine_destroy
 * does this, engines call it early when their vCPUs must outlive nothing. */
void machine_destroy_components(struct machine *m);

/* Clears the outcome and sets the run request back to RUN, for a restart.
 * Loop thread, no vCPU running. */
void machine_clear_outcome(struct machine *m);

/* Zeroes every vCPU's counters (restart). No vCPU may run. */
void machine_vcpu_stats_clear(struct machine *m);

/* Copies vCPU `index`'s counters with atomic loads. Any thread. */
void machine_vcpu_stats_read(const struct machine *m, unsigned index, vmm_vcpu_stats_t *out);

/* True when the vCPU loop must return from vcpu_run(). Cheap; any thread. */
static inline int machine_should_exit(struct machine *m)
{
    return atomic_load_explicit(&m->request, memory_order_acquire) != MACHINE_RUN;
}

/* RUN or THROTTLE -> PAUSE. 0 when the request was something else (the
 * run is ending). Any thread. */
static inline int machine_request_pause(struct machine *m)
{
    int expect = MACHINE_RUN;
    while (!atomic_compare_exchange_strong(&m->request, &expect, MACHINE_PAUSE))
        if (expect != MACHINE_THROTTLE)
            return 0;
    return 1;
}

/* Records how the run ended — the first call wins, later ones are ignored —
 * then asks every vCPU to stop. Called by devices (debug-exit, i8042 reset,
 * SiFive test), engines (crash, SBI SRST) and core. Any thread. */
void machine_set_outcome(struct machine *m, vmm_outcome_kind_t kind, int exit_code,
                         const char *reason_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Drives a level-triggered interrupt line (x86 GSI, riscv PLIC source)
 * through the machine's interrupt controller. Any thread. VMM_ENOTSUP when
 * the board connected none. */
int machine_set_irq(struct machine *m, unsigned irq, int level);

/* Asks the engine to signal eventfd `fd` on every guest write of `len`
 * bytes to MMIO address `gpa`, instead of an exit to the VMM. 0 when
 * registered; VMM_ENOTSUP when the engine has no such path (the write then
 * reaches the bus as usual). Setting LIBVMM_IOEVENTFD=0 in the environment
 * turns it off (to measure both ways). */
int machine_add_ioeventfd(struct machine *m, uint64_t gpa, unsigned len, int fd);

/* An eventfd that pulses line `irq` when written (the caller owns it and
 * closes it), or VMM_ENOTSUP when the engine has none. Only for lines the
 * board made edge-triggered. LIBVMM_IRQFD=0 in the environment turns it
 * off (to measure both ways). */
int machine_irq_eventfd(struct machine *m, unsigned irq);

/* Dirty logging over the whole machine: guest_mem's log plus the engine's.
 * machine_dirty_fetch ORs into `bitmap` (a bit per page of region `index`)
 * every page written since the previous fetch (or the start) and clears
 * them; a page written while the caller copies it shows up again next
 * time. Any thread (the VM may run). */
int machine_dirty_start(struct machine *m);
int machine_dirty_fetch(struct machine *m, int index, uint64_t *bitmap);
void machine_dirty_stop(struct machine *m);

/* Hands host bytes to the console device. Returns how many it took. */
size_t machine_console_receive(struct machine *m, const uint8_t *buf, size_t len);

/* Passes console output to the host side. Any thread. */
void machine_console_out(struct machine *m, const uint8_t *buf, size_t len);

/* Named ports: output to the host (returns port_out's answer, 0 when the
 * host has no port hooks) and the guest's open/close. Any thread. */
int machine_port_out(struct machine *m, unsigned index, const uint8_t *buf, size_t len);
void machine_port_state(struct machine *m, unsigned index, int open);

/* Tells the host side the balloon changed (MACHINE_MEM_* bits). Any thread. */
void machine_memory_changed(struct machine *m, unsigned what);

#endif
