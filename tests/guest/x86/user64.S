/* ELF64 guest that drops to CPL3 for its compute: its own GDT (user code
 * and data, TSS), page tables with the user bit (0-1 GiB, 2 MiB pages), an
 * IDT whose #UD handler serves ring 3's calls, then iretq to ring 3. In
 * ring 3 it
 * runs XORSHIFT_ROUNDS rounds of xorshift64 and counts the primes below
 * 100000 by trial division (9592). Output and exit are calls: ud2 (#UD) to
 * a tiny ring-0 handler (ring 3 has IOPL 0, as in any real OS). CPL3 runs
 * natively on kvm_pvm, so the compute is fast there as on VT-x.
 * (Not int $0x80 or syscall: kvm_pvm does not deliver those to a guest
 * that is not PVM-aware; exceptions it does.)
 * Calls: rax=1 puts(rsi), rax=2 puthex(rdi), rax=3 newline,
 * rax=4 exit(dil). Exit value 0x15. */
#include "guest.h"

#define XORSHIFT_ROUNDS 100000000
#define XORSHIFT_SEED 0x9e3779b97f4a7c15
#define PRIME_LIMIT 100000
#define PDE_2M_USER 0x87               /* present, writable, user, 2 MiB */

    .code64
    .section .text
    .globl _start
_start:
    lea stack_top(%rip), %rsp
    lea msg_hello(%rip), %rsi
    call puts64

    /* Page tables: PML4[0] -> PDPT[0] -> PD of 512 x 2 MiB, all user. */
    lea pdpt(%rip), %rax
    or $7, %rax
    mov %rax, pml4(%rip)
    lea pd(%rip), %rax
    or $7, %rax
    mov %rax, pdpt(%rip)
    lea pd(%rip), %rdi
    mov $PDE_2M_USER, %rax
    mov $512, %ecx
1:  mov %rax, (%rdi)
    add $0x200000, %rax
    add $8, %rdi
    loop 1b
    lea pml4(%rip), %rax
    mov %rax, %cr3

    lgdt gdt_desc(%rip)
    push $0x08
    lea 2f(%rip), %rax
    push %rax
    lretq
2:  mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss

    /* Calls from ring 3 are ud2 (see call_entry); the TSS's rsp0 gives
     * ring 0 its stack when the #UD arrives. */
    lea tss(%rip), %rax
    lea stack_top(%rip), %rdx
    mov %rdx, 4(%rax)          /* rsp0 */
    movw $104, 102(%rax)       /* I/O map base: none */
    /* TSS descriptor at GDT 0x28: limit 103, type 9 (available 64-bit). */
    lea gdt_tss(%rip), %rdi
    movw $103, (%rdi)
    mov %ax, 2(%rdi)
    shr $16, %rax
    mov %al, 4(%rdi)
    movb $0x89, 5(%rdi)
    movb $0, 6(%rdi)
    mov %ah, 7(%rdi)
    shr $16, %rax
    mov %eax, 8(%rdi)
    movl $0, 12(%rdi)
    mov $0x28, %ax
    ltr %ax
    /* IDT: every exception to fault_entry, then #UD (6) to call_entry. */
    lea idt(%rip), %rdi
    lea fault_entry(%rip), %rax
    mov $32, %ecx
1:  call set_gate
    add $16, %rdi
    loop 1b
    lea idt + 6 * 16(%rip), %rdi
    lea call_entry(%rip), %rax
    call set_gate
    lidt idt_desc(%rip)

    push $0x1b                 /* user SS */
    lea user_stack_top(%rip), %rax
    push %rax
    push $0x202                /* IOPL 0, interrupts on (none are routed) */
    push $0x23                 /* user CS */
    lea user_main(%rip), %rax
    push %rax
    iretq

/* Writes a 64-bit interrupt gate (DPL 0, selector 0x08) for handler %rax
 * at %rdi. */
set_gate:
    push %rax
    push %rdx
    mov %ax, (%rdi)
    movw $0x08, 2(%rdi)
    movw $0x8e00, 4(%rdi)
    mov %rax, %rdx
    shr $16, %rdx
    mov %dx, 6(%rdi)
    shr $16, %rdx
    mov %edx, 8(%rdi)
    movl $0, 12(%rdi)
    pop %rdx
    pop %rax
    ret

/* Any other exception: report where it happened (the saved RIP is the
 * last word pushed without an error code, or the one after it). */
fault_entry:
    lea msg_fault(%rip), %rsi
    call puts64
    mov (%rsp), %rax
    call puthex64
    call newline64
    mov $0x7f, %al
    call exit64

/* Ring 0 side of a call: #UD raised by the ud2 in ring 3. Skips the ud2
 * (2 bytes) in the saved RIP and iretq's back to ring 3. */
call_entry:
    addq $2, (%rsp)
    cmp $1, %eax
    jne 1f
    call puts64
    iretq
1:  cmp $2, %eax
    jne 2f
    mov %rdi, %rax
    call puthex64
    iretq
2:  cmp $3, %eax
    jne 3f
    call newline64
    iretq
3:  mov %edi, %eax
    call exit64

user_main:
    lea msg_user(%rip), %rsi
    mov $1, %eax
    ud2
    mov %cs, %di
    and $3, %edi
    mov $2, %eax
    ud2
    mov $3, %eax
    ud2

    mov $XORSHIFT_SEED, %rax
    mov $XORSHIFT_ROUNDS, %ecx
3:  mov %rax, %rdx
    shl $13, %rdx
    xor %rdx, %rax
    mov %rax, %rdx
    shr $7, %rdx
    xor %rdx, %rax
    mov %rax, %rdx
    shl $17, %rdx
    xor %rdx, %rax
    dec %ecx
    jnz 3b
    mov %rax, %r12
    lea msg_xs(%rip), %rsi
    mov $1, %eax
    ud2
    mov %r12, %rdi
    mov $2, %eax
    ud2
    mov $3, %eax
    ud2

    /* Primes below PRIME_LIMIT: n in [2, limit), odd divisors d*d <= n. */
    xor %r8d, %r8d             /* count */
    mov $2, %r9d               /* n */
4:  cmp $PRIME_LIMIT, %r9d
    jae 8f
    cmp $2, %r9d
    je 7f
    test $1, %r9d
    jz 6f
    mov $3, %r10d              /* d */
5:  mov %r10d, %eax
    imul %eax, %eax
    cmp %r9d, %eax
    ja 7f
    mov %r9d, %eax
    xor %edx, %edx
    div %r10d
    test %edx, %edx
    jz 6f
    add $2, %r10d
    jmp 5b
7:  inc %r8d
6:  inc %r9d
    jmp 4b
8:  lea msg_primes(%rip), %rsi
    mov $1, %eax
    ud2
    mov %r8, %rdi
    mov $2, %eax
    ud2
    mov $3, %eax
    ud2
    mov $0x15, %edi
    mov $4, %eax
    ud2

#include "lib64.S"

    .section .data
    .align 8
gdt:
    .quad 0
    .quad 0x00af9b000000ffff   /* 0x08 kernel code 64 */
    .quad 0x00cf93000000ffff   /* 0x10 kernel data */
    .quad 0x00cff3000000ffff   /* 0x18 user data (DPL 3) */
    .quad 0x00affb000000ffff   /* 0x20 user code 64 (DPL 3) */
gdt_tss:
    .quad 0, 0                 /* 0x28 TSS, filled in at run time */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .quad gdt
idt_desc:
    .word 256 * 16 - 1
    .quad idt
msg_fault:  .asciz "user64: unexpected exception at "
msg_hello:  .asciz "user64: hello from ring 0\n"
msg_user:   .asciz "user64: running at cpl="
msg_xs:     .asciz "user64: xorshift="
msg_primes: .asciz "user64: primes below 100000="

    .section .bss
    .align 4096
idt:  .skip 4096
tss:  .skip 104
    .align 4096
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096
    .skip 4096
stack_top:
    .skip 8192
user_stack_top:
