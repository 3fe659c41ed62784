/* Lifecycle test guest for the soft engine (riscv64 virt, M-mode, bare).
 * Prints "ready", then counts in RAM at COUNTER while echoing UART input in
 * upper case. Commands: 'q' powers off (SiFive test 0x5555), 'e' fails with
 * code 42, 'r' resets (0x7777), 'd' prints "dirty" and from then on each
 * count n is also stored at page (n mod 16384) of the 64 MiB at SCRATCH
 * before the counter, then spins for the count at SPIN (written by the
 * host; 0 at boot): a guest that dirties memory at a rate the host sets,
 * for live migration. Other harts park in WFI. */
#define UART 0x10000000
#define TEST 0x100000
#define COUNTER 0x80100000
#define SCRATCH 0x81000000
#define SPIN 0x80100020

    .section .text
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    li s0, UART
    li s1, TEST
    li s2, COUNTER
    li s3, 0               /* dirty mode off */
    li s4, SCRATCH
    la a0, ready
    call puts
loop:
    ld t1, 0(s2)
    addi t1, t1, 1
    beqz s3, 1f
    slli t5, t1, 50        /* (n mod 16384) pages into SCRATCH */
    srli t5, t5, 38
    add t5, t5, s4
    sd t1, 0(t5)
    ld t6, SPIN - COUNTER(s2)
2:  beqz t6, 1f
    addi t6, t6, -1
    j 2b
1:  sd t1, 0(s2)
    lbu t2, 5(s0)          /* LSR */
    andi t2, t2, 1         /* data ready */
    beqz t2, loop
    lbu t3, 0(s0)
    li t4, 'q'
    beq t3, t4, quit
    li t4, 'e'
    beq t3, t4, fail
    li t4, 'r'
    beq t3, t4, reset
    li t4, 'd'
    beq t3, t4, dirty
    li t4, 'a'
    blt t3, t4, 1f
    li t4, 'z'
    bgt t3, t4, 1f
    addi t3, t3, -32
1:  sb t3, 0(s0)
    j loop
dirty:
    li s3, 1
    la a0, dirty_msg
    call puts
    j loop
quit:
    li t0, 0x5555
    sw t0, 0(s1)
    j park
fail:
    li t0, (42 << 16) | 0x3333
    sw t0, 0(s1)
    j park
reset:
    li t0, 0x7777
    sw t0, 0(s1)
park:
    wfi
    j park

puts:
    lbu t0, 0(a0)
    beqz t0, 2f
    sb t0, 0(s0)
    addi a0, a0, 1
    j puts
2:  ret

    .section .rodata
ready:
    .asciz "ready\n"
dirty_msg:
    .asciz "dirty\n"
