/* The body of the Multiboot guests (#included after a header): checks the
 * boot magic in EAX and reads the information at EBX: command line,
 * memory sizes, memory map, and the first bytes of module 0 (the initrd).
 * Exit value MB_EXIT. */
    .code32
    .section .text
    .globl _start
_start:
    mov $stack_top, %esp
    mov %ebx, %edi             /* multiboot info */
    cmp $0x2badb002, %eax
    je 1f
    mov $msg_badmagic, %esi
    call puts32
    mov $0x7c, %al
    call exit32
1:  mov $msg_magic, %esi
    call puts32

    testl $4, (%edi)           /* cmdline */
    jz 2f
    mov $msg_cmdline, %esi
    call puts32
    mov 16(%edi), %esi
    call puts32
    call newline32
2:  testl $1, (%edi)           /* mem_lower / mem_upper */
    jz 3f
    mov $msg_lower, %esi
    call puts32
    mov 4(%edi), %eax
    call puthex32
    mov $msg_upper, %esi
    call puts32
    mov 8(%edi), %eax
    call puthex32
    call newline32
3:  testl $0x40, (%edi)        /* mmap: 24-byte entries here */
    jz 4f
    mov $msg_mmap, %esi
    call puts32
    mov 44(%edi), %eax
    xor %edx, %edx
    mov $24, %ecx
    div %ecx
    call puthex32
    call newline32
4:  testl $8, (%edi)           /* modules */
    jz 6f
    cmpl $0, 20(%edi)
    je 6f
    mov $msg_module, %esi
    call puts32
    mov 24(%edi), %ebx
    mov (%ebx), %esi           /* mod_start */
    mov 4(%ebx), %ecx          /* mod_end */
    sub %esi, %ecx
    cmp $32, %ecx
    jbe 5f
    mov $32, %ecx
5:  mov $COM1, %dx
    rep outsb
    call newline32
6:  mov $MB_EXIT, %al
    call exit32

#include "lib32.S"

    .section .rodata
msg_badmagic: .asciz "multiboot: bad magic\n"
msg_magic:    .asciz "multiboot: magic ok\n"
msg_cmdline:  .asciz "multiboot: cmdline="
msg_lower:    .asciz "multiboot: mem_lower="
msg_upper:    .asciz " mem_upper="
msg_mmap:     .asciz "multiboot: mmap entries="
msg_module:   .asciz "multiboot: module="

    .section .bss
    .align 16
    .skip 4096
stack_top:
