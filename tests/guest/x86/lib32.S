/* Console helpers for 32-bit guests (#included, not assembled alone).
 * They keep to few instructions: guest CPL0 code is emulated on kvm_pvm. */
    .code32
    .section .text

/* Writes the NUL-terminated string at %esi to COM1. */
puts32:
    push %eax
    push %edx
    push %esi
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  pop %esi
    pop %edx
    pop %eax
    ret

/* Writes %eax as 8 hex digits. */
puthex32:
    push %eax
    push %ebx
    push %ecx
    push %edx
    mov %eax, %ebx
    mov $8, %ecx
    mov $COM1, %dx
1:  rol $4, %ebx
    mov %bl, %al
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $('a' - '0' - 10), %al
2:  out %al, %dx
    loop 1b
    pop %edx
    pop %ecx
    pop %ebx
    pop %eax
    ret

/* Writes a newline. */
newline32:
    push %eax
    push %edx
    mov $COM1, %dx
    mov $'\n', %al
    out %al, %dx
    pop %edx
    pop %eax
    ret

/* Ends the VM with debug-exit value %al; never returns. */
exit32:
    out %al, $DEBUG_EXIT
1:  cli
    hlt
    jmp 1b
