/* ELF32 guest that announces itself and then spins forever in a tight loop:
 * only a kick from the VMM (pause, stop) gets the vCPU out. */
#include "guest.h"

    .code32
    .section .text
    .globl _start
_start:
    mov $stack_top, %esp
    mov $msg, %esi
    call puts32
1:  jmp 1b

#include "lib32.S"

    .section .rodata
msg: .asciz "spin: spinning\n"

    .section .bss
    .align 16
    .skip 4096
stack_top:
