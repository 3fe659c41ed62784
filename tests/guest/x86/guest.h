/* Shared by the bare-metal x86 test guests (preprocessed assembly). The
 * board's devices: 16550 UART at COM1 and the debug-exit port, where a
 * write of v ends the VM with exit code (v << 1) | 1. */
#ifndef GUEST_X86_GUEST_H
#define GUEST_X86_GUEST_H

#define COM1 0x3f8
#define DEBUG_EXIT 0xf4

/* An address in the 3-4 GiB MMIO gap that no device claims. */
#define UNMAPPED_MMIO 0xd0000000

#endif
