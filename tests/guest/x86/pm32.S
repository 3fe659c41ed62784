/* ELF32 guest entered in flat 32-bit protected mode: prints, checks CR0
 * (protection on, paging off) and counts the processors in the MP table
 * the loader wrote at 0xf0000. Exit value 0x10. */
#include "guest.h"

    .code32
    .section .text
    .globl _start
_start:
    mov $stack_top, %esp
    mov $msg_hello, %esi
    call puts32

    mov $msg_cr0, %esi
    call puts32
    mov %cr0, %eax
    mov %eax, %ebx
    and $1, %eax
    call puthex32
    mov $msg_pg, %esi
    call puts32
    mov %ebx, %eax
    shr $31, %eax
    call puthex32
    call newline32

    /* Find "_MP_" on a 16-byte boundary in 0xf0000-0xfffff. */
    mov $0xf0000, %edi
1:  cmpl $0x5f504d5f, (%edi)
    je 2f
    add $16, %edi
    cmp $0x100000, %edi
    jb 1b
    mov $msg_nomp, %esi
    call puts32
    jmp 5f
2:  mov 4(%edi), %esi          /* configuration table */
    movzwl 34(%esi), %ecx      /* entry count */
    lea 44(%esi), %esi
    xor %eax, %eax
3:  test %ecx, %ecx
    jz 4f
    cmpb $0, (%esi)
    jne 6f
    inc %eax                   /* processor entry: 20 bytes */
    add $20, %esi
    dec %ecx
    jmp 3b
6:  add $8, %esi               /* every other entry: 8 bytes */
    dec %ecx
    jmp 3b
4:  mov $msg_cpus, %esi
    call puts32
    call puthex32
    call newline32
5:  mov $0x10, %al
    call exit32

#include "lib32.S"

    .section .rodata
msg_hello: .asciz "pm32: hello from 32-bit protected mode\n"
msg_cr0:   .asciz "pm32: cr0.pe="
msg_pg:    .asciz " cr0.pg="
msg_nomp:  .asciz "pm32: no MP table\n"
msg_cpus:  .asciz "pm32: mp cpus="

    .section .bss
    .align 16
    .skip 4096
stack_top:
