/* Entry of the hostile guest on riscv64: M-mode at the start of RAM, every
 * hart. Hart 0 gets a stack and a trap vector and runs hostile_main();
 * the others park. */
    .section .text.start, "ax"
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    la sp, stack_top
    la t0, trap_entry
    csrw mtvec, t0
    csrw mie, zero
    call hostile_main
park:
    wfi
    j park

/* Any trap is a failure: report it from C on a fresh stack. */
    .align 2
trap_entry:
    la sp, stack_top
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    call hostile_trap
    j park

    .section .bss
    .align 4
    .skip 16384
stack_top:
