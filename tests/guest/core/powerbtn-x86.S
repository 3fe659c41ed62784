/* Power button test guest for the kvm engine (QMP system_powerdown): an
 * ELF32 entered in flat 32-bit protected mode. Prints "ready" on COM1,
 * enables the ACPI fixed power button (PWRBTN_EN in PM1a_EN, port 0x602),
 * polls PWRBTN_STS in PM1a_STS (port 0x600), acknowledges it by writing 1,
 * prints "power button" and powers off through ACPI S5 (SLP_TYP 5 | SLP_EN
 * to PM1a_CNT at port 0x604), as an OS's power button handler would. */
#define COM1 0x3f8
#define PM1A_STS 0x600
#define PM1A_EN 0x602
#define PM1A_CNT 0x604
#define PWRBTN 0x0100

    .code32
    .section .text
    .globl _start
_start:
    mov $0x200000, %esp
    mov $ready, %esi
    call puts
    mov $PM1A_EN, %dx
    mov $PWRBTN, %ax
    outw %ax, %dx
wait:
    mov $PM1A_STS, %dx
    inw %dx, %ax
    test $PWRBTN, %ax
    jz wait
    mov $PWRBTN, %ax
    outw %ax, %dx          /* write 1 to clear */
    mov $pressed, %esi
    call puts
    mov $PM1A_CNT, %dx
    mov $((5 << 10) | 0x2000), %ax
    outw %ax, %dx
park:
    hlt
    jmp park

puts:
    lodsb
    test %al, %al
    jz 1f
    mov $COM1, %dx
    outb %al, %dx
    jmp puts
1:  ret

    .section .rodata
ready:
    .asciz "ready\n"
pressed:
    .asciz "power button\n"
