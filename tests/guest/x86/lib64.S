/* Console helpers for 64-bit guests (#included). Usable at CPL3 when
 * RFLAGS.IOPL is 3. */
    .code64
    .section .text

/* Writes the NUL-terminated string at %rsi to COM1. */
puts64:
    push %rax
    push %rdx
    push %rsi
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  pop %rsi
    pop %rdx
    pop %rax
    ret

/* Writes %rax as 16 hex digits. */
puthex64:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    mov %rax, %rbx
    mov $16, %ecx
    mov $COM1, %dx
1:  rol $4, %rbx
    mov %bl, %al
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $('a' - '0' - 10), %al
2:  out %al, %dx
    loop 1b
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    ret

newline64:
    push %rax
    push %rdx
    mov $COM1, %dx
    mov $'\n', %al
    out %al, %dx
    pop %rdx
    pop %rax
    ret

/* Ends the VM with debug-exit value %al. */
exit64:
    out %al, $DEBUG_EXIT
1:  hlt
    jmp 1b
