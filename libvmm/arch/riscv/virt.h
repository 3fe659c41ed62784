/* The riscv64 board's physical memory map. It follows QEMU's "virt" machine
 * so that the same bare-metal guests and kernels run on both.
 */
#ifndef LIBVMM_ARCH_RISCV_VIRT_H
#define LIBVMM_ARCH_RISCV_VIRT_H

#define VIRT_TEST_BASE 0x100000ULL /* SiFive test (poweroff/reboot/fail) */
#define VIRT_TEST_SIZE 0x1000ULL
#define VIRT_CLINT_BASE 0x2000000ULL
#define VIRT_CLINT_SIZE 0x10000ULL
#define VIRT_PLIC_BASE 0xc000000ULL
#define VIRT_PLIC_SIZE 0x600000ULL
#define VIRT_UART_BASE 0x10000000ULL
#define VIRT_UART_SIZE 0x100ULL
#define VIRT_UART_IRQ 10
#define VIRT_UART_CLOCK 3686400
#define VIRT_VIRTIO_BASE 0x10001000ULL /* 8 virtio-mmio windows, reserved */
#define VIRT_VIRTIO_SIZE 0x1000ULL
#define VIRT_VIRTIO_COUNT 8
#define VIRT_VIRTIO_IRQ 1 /* first of VIRT_VIRTIO_COUNT PLIC sources */
#define VIRT_RAM_BASE 0x80000000ULL

/* RAM must end below 2^39: every Sv39 kernel can map all of it and the
 * physical address stays far below the 56-bit architectural limit. */
#define VIRT_RAM_LIMIT (1ULL << 39)

/* PLIC: sources 1..95 (0 is "no interrupt"), 2 contexts per hart (M, S). */
#define VIRT_PLIC_NDEV 95

#endif
