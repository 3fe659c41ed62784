/* PLIC (RISC-V platform-level interrupt controller), level-triggered, as on
 * QEMU virt: sources 1..PLIC_NR_SOURCES-1, 2 contexts per hart (M then S).
 * Register map (offsets from the base):
 *   0x000000 + 4*src        priority (0..7; 0 never interrupts)
 *   0x001000 + 4*word       pending bits (read-only)
 *   0x002000 + 0x80*ctx     enable bits, 32 sources a word
 *   0x200000 + 0x1000*ctx   threshold; +4 claim (read) / complete (write)
 *
 * The PLIC drives each context's output through a callback (the engine maps
 * context 2h to MEIP and 2h+1 to SEIP of hart h). Thread-safe: one mutex;
 * the callback runs under it so outputs are delivered in order.
 */
#ifndef LIBVMM_ARCH_RISCV_PLIC_H
#define LIBVMM_ARCH_RISCV_PLIC_H

#include <pthread.h>
#include <stdint.h>

#include "bus/bus.h"
#include "machine/component.h"

#define PLIC_NR_SOURCES 96 /* including source 0 */
#define PLIC_WORDS (PLIC_NR_SOURCES / 32)
#define PLIC_MAX_PRIORITY 7
#define PLIC_MAX_CONTEXTS 1024 /* what fits in the 0x600000 window */

struct plic_context {
    uint32_t enable[PLIC_WORDS];
    uint32_t threshold;
    int output; /* last level driven */
};

struct plic {
    pthread_mutex_t lock;
    unsigned nr_contexts;
    struct plic_context *ctx;
    uint32_t priority[PLIC_NR_SOURCES];
    uint32_t level[PLIC_WORDS];   /* input line levels */
    uint32_t pending[PLIC_WORDS]; /* level high and not in service */
    uint32_t claimed[PLIC_WORDS]; /* claimed, not yet completed */
    void (*set_output)(void *opaque, unsigned ctx, int level);
    void *opaque;
};

/* 0 or VMM_EINVAL (contexts out of range) / VMM_ENOMEM. */
int plic_init(struct plic *p, unsigned nr_contexts,
              void (*set_output)(void *opaque, unsigned ctx, int level), void *opaque);
void plic_destroy(struct plic *p);

/* Allocates and initialises a PLIC (NULL with vmm_last_error() set);
 * plic_free() undoes both. */
struct plic *plic_new(unsigned nr_contexts, void (*set_output)(void *opaque, unsigned ctx, int level),
                      void *opaque);
void plic_free(void *plic);

/* The PLIC as a machine component; the board maps plic_bus_ops at
 * VIRT_PLIC_BASE through component_map(). */
extern const struct component_ops plic_component_ops;

/* Drives source `irq` (1..PLIC_NR_SOURCES-1) to `level`. Any thread.
 * VMM_EINVAL for a bad source. */
int plic_set_irq(struct plic *p, unsigned irq, int level);

extern const struct bus_dev_ops plic_bus_ops;

#endif
