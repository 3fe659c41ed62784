/* The smallest useful x86 guest: a PVH ELF (Xen note 18, which both libvmm
 * and QEMU's -kernel honour on pc and microvm) whose entry writes 0 to the
 * isa-debug-exit port 0xf4, so the VMM exits with status (0 << 1) | 1 = 1.
 * Entered in flat 32-bit protected mode, paging off. */
    .section .note.Xen, "a", @note
    .align 4
    .long 4                    /* namesz */
    .long 4                    /* descsz */
    .long 18                   /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long _start

    .code32
    .section .text
    .globl _start
_start:
    xor %eax, %eax
    outb %al, $0xf4
1:  cli
    hlt
    jmp 1b
