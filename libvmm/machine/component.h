/* Components: every part of a machine — vCPU, interrupt controller, legacy
 * device, virtio device, host-written device — behind one ops table, so the
 * machine can reset, save, load and destroy all of them the same way.
 * Restart is machine_reset(); a snapshot is machine_save() plus guest
 * memory; migration is the same stream over a socket.
 *
 * A component is added to the machine under a unique instance name ("uart0",
 * "cpu1"), which names its section in the state stream. It claims bus ranges
 * through component_map() (which registers them on the bus) and interrupt
 * lines through component_claim_irq(), so the machine can list who owns what
 * and refuse two owners of one line.
 *
 * Threads: reset/save/load run on the loop thread while no vCPU runs (the VM
 * is paused, stopped, or not started yet); a component's bus ops run on vCPU
 * threads. destroy runs once, after every vCPU thread has ended.
 */
#ifndef LIBVMM_MACHINE_COMPONENT_H
#define LIBVMM_MACHINE_COMPONENT_H

#include <stdint.h>

#include "bus/bus.h"
#include "machine/state.h"

struct machine;

struct component_ops {
    const char *type;       /* "uart16550", "plic", "kvm-vcpu", ... */
    uint32_t state_version; /* section version save() writes; load() gets the stream's */

    /* Back to power-on state (guest RAM is the machine's business). May be
     * NULL for stateless components. */
    void (*reset)(void *opaque);
    /* Appends the state's fields (the caller opened the section). NULL: no
     * state, the section is written empty. */
    int (*save)(void *opaque, struct state_writer *w);
    /* Reads what save() wrote under `version` (<= state_version), checks
     * every value, and applies it. Returns VMM_EFORMAT naming the bad field;
     * the caller checks that the section was read to its end. */
    int (*load)(void *opaque, struct state_reader *r, uint32_t version);
    /* Frees the component. NULL when another part owns its memory (an
     * engine's vCPUs are freed by the engine). */
    void (*destroy)(void *opaque);
};

enum component_claim_kind {
    CLAIM_PIO,
    CLAIM_MMIO,
    CLAIM_IRQ,
};

struct component_claim {
    enum component_claim_kind kind;
    uint64_t base, size; /* for CLAIM_IRQ: base = line, size = 1 */
};

#define COMPONENT_NAME_MAX 31
#define COMPONENT_MAX_CLAIMS 8

struct component {
    char name[COMPONENT_NAME_MAX + 1];
    const struct component_ops *ops;
    void *opaque;
    struct component_claim claims[COMPONENT_MAX_CLAIMS];
    int nr_claims;
};

/* Adds a component owned by the machine from now on (destroyed at
 * machine_destroy, in reverse order of adding). `name` must be unique in the
 * machine and at most COMPONENT_NAME_MAX bytes. On failure the component is
 * destroyed at once, NULL is returned and vmm_last_error() says why. */
struct component *machine_add_component(struct machine *m, const char *name,
                                        const struct component_ops *ops, void *opaque);

/* The component named `name`, or NULL. */
struct component *machine_find_component(struct machine *m, const char *name);

/* Registers [base, base + size) on bus `bus` of the machine (m->pio or
 * m->mmio) with `ops`/`opaque`, and records the claim. VMM_EINVAL on
 * overlap (naming both owners) or when the claim table is full. */
int component_map(struct machine *m, struct component *c, struct bus *bus, uint64_t base,
                  uint64_t size, const struct bus_dev_ops *ops, void *opaque);

/* Records that the component drives interrupt line `irq`; VMM_EINVAL when
 * another component already claims it. */
int component_claim_irq(struct machine *m, struct component *c, unsigned irq);

/* Resets every component, in the order they were added. */
void machine_reset_components(struct machine *m);

/* Writes one section per component, in the order they were added. */
int machine_save_components(struct machine *m, struct state_writer *w);

/* Flags for machine_load_components(). */
#define MACHINE_LOAD_SKIP_UNKNOWN 1u /* skip sections no component claims
                                      * (default: refuse the stream) */

/* Reads sections until the trailer and hands each to the component of that
 * name. Refuses a section newer than the component understands, one that is
 * not read to its end, and (unless MACHINE_LOAD_SKIP_UNKNOWN) a section no
 * component has; every component must have had its section. The first
 * error stops the load; components already loaded keep their new state, so
 * a caller that must not half-restore loads into a fresh machine it can
 * throw away. */
int machine_load_components(struct machine *m, struct state_reader *r, unsigned flags);

/* Saves one component into a state stream in `buf` and loads it back into
 * the same component: what the round-trip unit tests use. */
int component_save_to_buffer(struct component *c, struct state_buffer *buf);
int component_load_from_buffer(struct component *c, struct state_buffer *buf);

#endif
