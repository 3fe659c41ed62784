/* I/O exit round trip: IOLOOP_COUNT `out` instructions to port 0x80 (no
 * device in libvmm; QEMU's dummy POST port), each one a full exit to the
 * VMM and back, then debug-exit 0 (status 1). A PVH ELF like x86-exit.S, so
 * the launch cost is the same and per-exit cost is the difference of the two
 * runs divided by IOLOOP_COUNT. */
#ifndef IOLOOP_COUNT
#define IOLOOP_COUNT 100000
#endif
    .section .note.Xen, "a", @note
    .align 4
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .long _start

    .code32
    .section .text
    .globl _start
_start:
    mov $IOLOOP_COUNT, %ecx
    xor %eax, %eax
1:  outb %al, $0x80
    dec %ecx
    jnz 1b
    xor %eax, %eax
    outb %al, $0xf4
2:  cli
    hlt
    jmp 2b
