/* The smallest guest: prints through the UART and passes. */
#include "common.h"

    .text
    .globl test_main
test_main:
    addi sp, sp, -16
    sd ra, 0(sp)
    PRINT "hello from a bare-metal riscv64 guest\n"
    ld ra, 0(sp)
    addi sp, sp, 16
    li a0, 0
    ret
