/* Lifecycle test guest for the kvm engine: an ELF32 entered in flat 32-bit
 * protected mode. Prints "ready" on COM1, then counts in RAM at COUNTER
 * while echoing COM1 input in upper case. Commands: 'q' writes 0 to the
 * debug-exit port (exit code 1), 'e' writes 0x15 (exit code 43), 'r' resets
 * through the i8042, 't' triple-faults (an empty IDT and a software
 * interrupt), so the VMM reports a crash; 'c' stores CPUID leaf 1
 * (eax, ebx, ecx, edx) at CPUID_OUT and prints "cpuid"; 'p' powers off
 * through ACPI (SLP_TYP 5 | SLP_EN to PM1a_CNT at port 0x604); 'd' prints
 * "dirty" and from then on each count n is also stored at page
 * (n mod 16384) of the 64 MiB at SCRATCH before the counter, then spins for
 * the count at SPIN (written by the host; 0 at boot): a guest that dirties
 * memory at a rate the host sets, for live migration. */
#define COM1 0x3f8
#define COUNTER 0x300000
#define SCRATCH 0x1000000
#define SPIN 0x300020
#define CPUID_OUT 0x300010

    .code32
    .section .text
    .globl _start
_start:
    mov $0x200000, %esp
    mov $ready, %esi
    call puts
    xor %edi, %edi          /* dirty mode off */
loop:
    mov COUNTER, %eax
    inc %eax
    test %edi, %edi
    jz 4f
    mov %eax, %ebx
    and $0x3fff, %ebx
    shl $12, %ebx
    mov %eax, SCRATCH(%ebx)
    mov SPIN, %ecx
5:  test %ecx, %ecx
    jz 4f
    dec %ecx
    jmp 5b
4:  mov %eax, COUNTER
    mov $(COM1 + 5), %dx
    inb %dx, %al
    test $1, %al
    jz loop
    mov $COM1, %dx
    inb %dx, %al
    cmp $'q', %al
    je quit
    cmp $'e', %al
    je fail
    cmp $'r', %al
    je reset
    cmp $'t', %al
    je triple
    cmp $'c', %al
    je do_cpuid
    cmp $'p', %al
    je acpi_off
    cmp $'d', %al
    je dirty
    cmp $'a', %al
    jb 1f
    cmp $'z', %al
    ja 1f
    sub $32, %al
1:  outb %al, %dx
    jmp loop
dirty:
    mov $1, %edi
    mov $dirty_msg, %esi
    call puts
    jmp loop
quit:
    mov $0, %al
    outb %al, $0xf4
    jmp halt
fail:
    mov $0x15, %al
    outb %al, $0xf4
    jmp halt
reset:
    mov $0xfe, %al
    outb %al, $0x64
    jmp halt
do_cpuid:
    mov $1, %eax
    xor %ecx, %ecx
    cpuid
    mov %eax, CPUID_OUT
    mov %ebx, CPUID_OUT + 4
    mov %ecx, CPUID_OUT + 8
    mov %edx, CPUID_OUT + 12
    mov $cpuid_msg, %esi
    call puts
    jmp loop
acpi_off:
    mov $0x604, %dx
    mov $0x3400, %ax
    outw %ax, %dx
    jmp halt
triple:
    lidt empty_idt
    int $0x30
halt:
    cli
    hlt
    jmp halt

puts:
    mov $COM1, %dx
2:  lodsb
    test %al, %al
    jz 3f
    outb %al, %dx
    jmp 2b
3:  ret

    .section .rodata
ready:
    .asciz "ready\n"
cpuid_msg:
    .asciz "cpuid\n"
dirty_msg:
    .asciz "dirty\n"
    .balign 8
empty_idt:
    .word 0
    .long 0
