/* ELF32 guest that halts with interrupts disabled: with the in-kernel
 * LAPIC nothing wakes it, so only a kick (pause, stop) ends the wait. */
#include "guest.h"

    .code32
    .section .text
    .globl _start
_start:
    mov $stack_top, %esp
    mov $msg, %esi
    call puts32
    cli
1:  hlt
    jmp 1b

#include "lib32.S"

    .section .rodata
msg: .asciz "halt: halting with interrupts off\n"

    .section .bss
    .align 16
    .skip 4096
stack_top:
