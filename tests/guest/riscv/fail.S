/* Fails on purpose with code 42, to check that failures are reported. */
#include "common.h"

    .text
    .globl test_main
test_main:
    li a0, 42
    ret
