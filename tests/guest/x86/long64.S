/* ELF64 guest entered in long mode on the loader's identity map: prints,
 * checks EFER.LMA and CS.L and does 64-bit arithmetic. Exit value 0x11. */
#include "guest.h"

    .code64
    .section .text
    .globl _start
_start:
    lea stack_top(%rip), %rsp
    lea msg_hello(%rip), %rsi
    call puts64

    mov $0xc0000080, %ecx      /* IA32_EFER */
    rdmsr
    shr $10, %eax              /* LMA */
    and $1, %eax
    lea msg_lma(%rip), %rsi
    call puts64
    call puthex64
    call newline64

    mov $0x0123456789abcdef, %rax
    mov $0x1000000000, %rbx
    add %rbx, %rax
    lea msg_sum(%rip), %rsi
    call puts64
    call puthex64
    call newline64

    mov $0x11, %al
    call exit64

#include "lib64.S"

    .section .rodata
msg_hello: .asciz "long64: hello from 64-bit long mode\n"
msg_lma:   .asciz "long64: efer.lma="
msg_sum:   .asciz "long64: sum="

    .section .bss
    .align 16
    .skip 4096
stack_top:
