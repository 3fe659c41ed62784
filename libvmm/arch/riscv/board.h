/* The riscv64 board (QEMU virt layout): which components sit where — the
 * harts' CLINT and PLIC, the 16550A console at 0x10000000 and the SiFive
 * test device — and the SBI the VMM provides to S-mode kernels. The soft
 * engine runs the harts; everything else of the machine is declared here.
 */
#ifndef LIBVMM_ARCH_RISCV_BOARD_H
#define LIBVMM_ARCH_RISCV_BOARD_H

#include <pthread.h>

#include "arch/riscv/clint.h"
#include "arch/riscv/plic.h"
#include "arch/virtio_slots.h"
#include "backend/soft/hart.h"
#include "machine/machine.h"

/* m->board of a riscv64 machine. */
struct rv_board {
    struct machine *m;
    unsigned nr_harts;
    struct clint *clint;
    struct plic *plic;
    pthread_mutex_t hsm_lock; /* serialises SBI HSM start/stop */
    struct virtio_slots virtio; /* filled virtio-mmio windows, for the device tree */
};

/* Adds the board's components to m (after the engine made the harts) and
 * installs the SBI handler, the interrupt controller and the console. */
int rv_board_create(struct machine *m, const vmm_config_t *cfg);
void rv_board_destroy(struct machine *m);

/* Hart `id`, or NULL when out of range. */
struct rv_hart *rv_board_hart(struct rv_board *b, uint64_t id);

#endif
