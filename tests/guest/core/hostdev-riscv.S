/* Guest for the host-written device example (examples/custom-device.c),
 * riscv64 virt, M-mode, bare. The host program maps its device at DEV:
 *   +0  a register: a read returns twice what was last written
 *   +8  a write-protected register: the device refuses writes
 * The guest writes 21 to +0 and reads it back (42), writes 7 to +8 (refused)
 * and reads +8 (still 0), prints "hostdev ok" when both hold, then leaves
 * through the SiFive test device with code = the value read from +0. */
#define UART 0x10000000
#define TEST 0x100000
#define DEV 0x40000000

    .section .text
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    li s0, UART
    li s1, TEST
    li s2, DEV
    li t1, 21
    sd t1, 0(s2)
    ld s3, 0(s2)            /* expect 42 */
    li t1, 7
    sd t1, 8(s2)            /* refused by the device */
    ld s4, 8(s2)            /* expect 0 */
    li t2, 42
    bne s3, t2, done
    bnez s4, done
    la a0, ok
    call puts
done:
    slli t0, s3, 16
    li t1, 0x3333
    or t0, t0, t1
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
ok:
    .asciz "hostdev ok\n"
