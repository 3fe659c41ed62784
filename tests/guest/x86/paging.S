/* ELF64 guest that builds its own 4-level page tables and switches CR3 to
 * them: 0-1 GiB identity mapped with 2 MiB pages, and virtual 0x40000000
 * aliasing physical 0x400000. A value written through the alias must read
 * back through the identity map, and the identity map must see a write
 * through the alias. (64-bit: kvm_pvm runs paged guests in long mode only.)
 * Needs 8 MiB of RAM. Exit value 0x14. */
#include "guest.h"

#define PDE_2M 0x83                /* present, writable, 2 MiB */

    .code64
    .section .text
    .globl _start
_start:
    lea stack_top(%rip), %rsp
    lea msg_hello(%rip), %rsi
    call puts64
    /* PML4[0] -> PDPT; PDPT[0] -> pd_low (identity), PDPT[1] -> pd_high. */
    lea pdpt(%rip), %rax
    or $3, %rax
    mov %rax, pml4(%rip)
    lea pd_low(%rip), %rax
    or $3, %rax
    mov %rax, pdpt(%rip)
    lea pd_high(%rip), %rax
    or $3, %rax
    mov %rax, pdpt + 8(%rip)
    lea pd_low(%rip), %rdi
    mov $PDE_2M, %rax
    mov $512, %ecx
1:  mov %rax, (%rdi)
    add $0x200000, %rax
    add $8, %rdi
    loop 1b
    movq $(0x400000 | PDE_2M), pd_high(%rip)   /* 0x40000000 -> 0x400000 */
    lea pml4(%rip), %rax
    mov %rax, %cr3

    movl $0xcafef00d, 0x40000010
    mov 0x400010, %eax
    lea msg_read(%rip), %rsi
    call puts64
    call puthex64
    call newline64
    cmp $0xcafef00d, %eax
    jne 2f
    movl $0x600dd00d, 0x400020
    mov 0x40000020, %eax
    cmp $0x600dd00d, %eax
    jne 2f
    lea msg_ok(%rip), %rsi
    call puts64
    mov $0x14, %al
    call exit64
2:  mov $0x7d, %al
    call exit64

#include "lib64.S"

    .section .rodata
msg_hello: .asciz "paging: switching to the guest's own page tables\n"
msg_read:  .asciz "paging: physical 0x400010 holds "
msg_ok:    .asciz "paging: alias ok\n"

    .section .bss
    .align 4096
pml4:    .skip 4096
pdpt:    .skip 4096
pd_low:  .skip 4096
pd_high: .skip 4096
    .skip 4096
stack_top:
