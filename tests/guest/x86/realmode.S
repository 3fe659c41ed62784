/* ELF32 guest that leaves protected mode for real mode: its 16-bit code is
 * a second segment at 0x40000. In real mode it prints through COM1, checks
 * segment:offset addressing (0x5000:0x0010 and 0x5001:0x0000 are the same
 * byte) and ends the VM from real mode. Exit value 0x12. */
#include "guest.h"

    .code32
    .section .text
    .globl _start
_start:
    mov $stack_top, %esp
    mov $msg_pm, %esi
    call puts32
    lgdt gdt_desc
    ljmp $0x08, $(pm16 - text16_base) /* 16-bit protected mode */

#include "lib32.S"

    .section .text16, "ax"
    .code16
text16_base:
pm16:
    mov $0x10, %ax             /* 16-bit data, 64 KiB limit */
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr0, %eax
    and $0xfffffffe, %eax
    mov %eax, %cr0
    ljmp $0x4000, $(rm_start - text16_base)
rm_start:
    mov %cs, %ax
    mov %ax, %ds
    xor %ax, %ax
    mov %ax, %ss
    mov $0x7000, %sp
    mov $(msg_rm - text16_base), %si
    call puts16
    /* Segment arithmetic: write through ES:DI, read through another pair. */
    mov $0x5000, %ax
    mov %ax, %es
    movb $0x5a, %es:0x10
    mov $0x5001, %ax
    mov %ax, %es
    mov %es:0, %al
    cmp $0x5a, %al
    jne 1f
    mov $(msg_seg - text16_base), %si
    call puts16
    mov $0x12, %al
    out %al, $DEBUG_EXIT
1:  mov $(msg_bad - text16_base), %si
    call puts16
    mov $0x7e, %al
    out %al, $DEBUG_EXIT
2:  hlt
    jmp 2b

puts16:
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  ret

msg_rm:  .asciz "realmode: hello from real mode\n"
msg_seg: .asciz "realmode: segment arithmetic ok\n"
msg_bad: .asciz "realmode: segment arithmetic wrong\n"

    .section .rodata
    .align 8
gdt:
    .quad 0
    .quad 0x00009a040000ffff   /* 0x08: 16-bit code, base 0x40000, limit 64 KiB */
    .quad 0x000092000000ffff   /* 0x10: 16-bit data */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
msg_pm: .asciz "realmode: leaving protected mode\n"

    .section .bss
    .align 16
    .skip 4096
stack_top:
