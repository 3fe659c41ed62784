/* ELF32 guest for port I/O and MMIO: a string write with rep outsb, reads
 * of an unclaimed port at each width (all-ones), and a write then read of
 * an MMIO address no device claims (dropped; reads all-ones). Exit 0x13. */
#include "guest.h"

    .code32
    .section .text
    .globl _start
_start:
    mov $stack_top, %esp
    mov $msg_rep, %esi
    mov $(msg_rep_end - msg_rep), %ecx
    mov $COM1, %dx
    cld
    rep outsb

    mov $0x510, %dx            /* nothing there */
    mov $msg_pio, %esi
    call puts32
    xor %eax, %eax
    inb %dx, %al
    call puthex32
    mov $msg_sp, %esi
    call puts32
    xor %eax, %eax
    inw %dx, %ax
    call puthex32
    mov $msg_sp, %esi
    call puts32
    inl %dx, %eax
    call puthex32
    call newline32

    movl $0x12345678, UNMAPPED_MMIO
    mov UNMAPPED_MMIO, %eax
    mov $msg_mmio, %esi
    call puts32
    call puthex32
    mov $msg_sp, %esi
    call puts32
    xor %eax, %eax
    movb UNMAPPED_MMIO + 3, %al
    call puthex32
    call newline32

    mov $0x13, %al
    call exit32

#include "lib32.S"

    .section .rodata
msg_rep:  .ascii "io: rep outsb string\n"
msg_rep_end:
    .byte 0
msg_pio:  .asciz "io: unmapped port reads "
msg_mmio: .asciz "io: unmapped mmio reads "
msg_sp:   .asciz " "

    .section .bss
    .align 16
    .skip 4096
stack_top:
