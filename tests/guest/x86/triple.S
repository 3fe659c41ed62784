/* ELF32 guest that triple-faults: an empty IDT, then an invalid opcode.
 * #UD cannot be delivered, nor the #GP/#DF after it: the CPU shuts down
 * and the VM must end as CRASHED, not hang. */
#include "guest.h"

    .code32
    .section .text
    .globl _start
_start:
    mov $stack_top, %esp
    mov $msg, %esi
    call puts32
    lidt idt_desc
    ud2

#include "lib32.S"

    .section .rodata
idt_desc:
    .word 0
    .long 0
msg: .asciz "triple: faulting now\n"

    .section .bss
    .align 16
    .skip 4096
stack_top:
