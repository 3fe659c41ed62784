/* ELF32 kernel with a PVH entry note (Xen note 18): the loader must enter
 * at pvh_start (not e_entry) with EBX = hvm_start_info. Prints the command
 * line, the memory map size and the first bytes of module 0. Exit 0x18. */
#include "guest.h"

    .section .note.Xen, "a", @note
    .align 4
    .long 4                    /* namesz */
    .long 4                    /* descsz */
    .long 18                   /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_start

    .code32
    .section .text
    .globl _start
_start:                        /* e_entry: must not be used */
    mov $stack_top, %esp
    mov $msg_wrong, %esi
    call puts32
    mov $0x7b, %al
    call exit32

pvh_start:
    mov $stack_top, %esp
    mov %ebx, %edi
    cmpl $0x336ec578, (%edi)
    je 1f
    mov $msg_badmagic, %esi
    call puts32
    mov $0x7a, %al
    call exit32
1:  mov $msg_magic, %esi
    call puts32
    mov $msg_cmdline, %esi
    call puts32
    mov 24(%edi), %esi
    call puts32
    call newline32
    mov $msg_memmap, %esi
    call puts32
    mov 48(%edi), %eax
    call puthex32
    call newline32
    cmpl $0, 12(%edi)          /* nr_modules */
    je 3f
    mov $msg_module, %esi
    call puts32
    mov 16(%edi), %ebx         /* modlist_paddr */
    mov (%ebx), %esi           /* paddr */
    mov 8(%ebx), %ecx          /* size */
    cmp $32, %ecx
    jbe 2f
    mov $32, %ecx
2:  mov $COM1, %dx
    rep outsb
    call newline32
3:  mov $0x18, %al
    call exit32

#include "lib32.S"

    .section .rodata
msg_wrong:    .asciz "pvh: entered at e_entry, not the PVH entry\n"
msg_badmagic: .asciz "pvh: bad start info magic\n"
msg_magic:    .asciz "pvh: start info ok\n"
msg_cmdline:  .asciz "pvh: cmdline="
msg_memmap:   .asciz "pvh: memmap entries="
msg_module:   .asciz "pvh: module="

    .section .bss
    .align 16
    .skip 4096
stack_top:
