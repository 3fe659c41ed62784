/* Entry of the hostile guest on x86_64: the loader enters an ELF64 in long
 * mode on its 0-4 GiB identity map, interrupts off. A stack, then
 * hostile_main(), which ends the VM through the debug-exit port. */
    .code64
    .section .text.start, "ax"
    .globl _start
_start:
    lea stack_top(%rip), %rsp
    call hostile_main
1:  hlt
    jmp 1b

    .section .bss
    .align 16
    .skip 16384
stack_top:
    .section .note.GNU-stack, "", @progbits
