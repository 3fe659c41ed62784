/* Shared definitions for the bare-metal riscv64 test guests (assembled with
 * the C preprocessor). They run on the libvmm soft engine and unchanged on
 * `qemu-system-riscv64 -M virt -bios none -kernel X.elf`: entered in M-mode
 * at 0x80000000 on every hart with a0 = hartid, a1 = device tree. Each test
 * defines test_main (hart 0, returns 0 for pass or a failure code in a0) and
 * may define secondary_main (other harts; by default they park in WFI).
 * crt.S reports through the SiFive test device and prints through the UART.
 */
#ifndef TESTS_GUEST_RISCV_COMMON_H
#define TESTS_GUEST_RISCV_COMMON_H

#define UART_BASE 0x10000000
#define UART_THR 0
#define UART_IER 1
#define UART_IIR 2
#define UART_LSR 5
#define TEST_BASE 0x100000
#define TEST_PASS 0x5555
#define TEST_FAIL 0x3333
#define CLINT_BASE 0x2000000
#define CLINT_MTIMECMP 0x4000
#define CLINT_MTIME 0xbff8
#define PLIC_BASE 0xc000000

#define CAUSE_INTR (1 << 63)

#ifdef __ASSEMBLER__

/* Fails the test with `code` unless reg == val. Clobbers t6. */
.macro CHECK reg, val, code
    li t6, \val
    beq \reg, t6, 9998f
    li a0, \code
    mv a1, \reg
    j test_fail
9998:
.endm

/* Fails with `code` unless reg != val. */
.macro CHECK_NE reg, val, code
    li t6, \val
    bne \reg, t6, 9998f
    li a0, \code
    mv a1, \reg
    j test_fail
9998:
.endm

/* Prints a string literal (clobbers a0 and the caller-saved registers
 * puts uses: t0-t2). */
.macro PRINT str
    .pushsection .rodata
9997: .asciz "\str"
    .popsection
    la a0, 9997b
    call puts
.endm

.macro EXPECT_TRAP cause, code   /* the last skip_trap record */
    ld t5, trap_cause
    CHECK t5, \cause, \code
.endm

/* Runs `insn` under skip_trap and checks it trapped with `cause`. */
.macro TRAPS cause, code, insn:vararg
    la t5, trap_count
    sd zero, 0(t5)
    la t5, trap_cause
    sd zero, 0(t5)
    \insn
    ld t5, trap_count
    CHECK t5, 1, \code
    EXPECT_TRAP \cause, \code
.endm

/* Runs `insn` under skip_trap and checks it did not trap. */
.macro NO_TRAP code, insn:vararg
    la t5, trap_count
    sd zero, 0(t5)
    \insn
    ld t5, trap_count
    CHECK t5, 0, \code
.endm

#endif
#endif
