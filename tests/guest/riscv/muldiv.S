/* The M extension, with the spec's corner cases (division by zero and
 * signed overflow give defined results, no trap). */
#include "common.h"

    .text
    .globl test_main
test_main:
    li a0, -7
    li a1, 3
    mul a2, a0, a1
    CHECK a2, -21, 1
    li a0, 0x123456789
    li a1, 0x987654321
    mul a2, a0, a1
    CHECK a2, 0xd77d742cce1833a9, 2
    mulhu a2, a0, a1
    CHECK a2, 0xa, 3
    li a0, -1
    li a1, -1
    mulh a2, a0, a1
    CHECK a2, 0, 4
    mulhu a2, a0, a1
    CHECK a2, -2, 5
    li a1, 2
    mulhsu a2, a0, a1            /* -1 * 2 = -2: high word all ones */
    CHECK a2, -1, 6
    li a0, 0x8000000000000000
    li a1, 0x8000000000000000
    mulh a2, a0, a1
    CHECK a2, 0x4000000000000000, 7
    li a0, 0x7fffffff
    li a1, 2
    mulw a2, a0, a1
    CHECK a2, -2, 8

    /* division */
    li a0, -20
    li a1, 6
    div a2, a0, a1
    CHECK a2, -3, 10
    rem a2, a0, a1
    CHECK a2, -2, 11
    divu a2, a0, a1
    CHECK a2, 0x2aaaaaaaaaaaaaa7, 12
    remu a2, a0, a1
    CHECK a2, 2, 13
    /* by zero: quotient all ones, remainder the dividend */
    li a1, 0
    div a2, a0, a1
    CHECK a2, -1, 14
    divu a2, a0, a1
    CHECK a2, -1, 15
    rem a2, a0, a1
    CHECK a2, -20, 16
    remu a2, a0, a1
    CHECK a2, -20, 17
    /* overflow: MIN / -1 = MIN, remainder 0 */
    li a0, 0x8000000000000000
    li a1, -1
    div a2, a0, a1
    CHECK a2, 0x8000000000000000, 18
    rem a2, a0, a1
    CHECK a2, 0, 19

    /* 32-bit forms: operate on the low words, sign-extend results */
    li a0, 0xffffffff80000000    /* INT32_MIN */
    li a1, -1
    divw a2, a0, a1
    CHECK a2, 0xffffffff80000000, 20
    remw a2, a0, a1
    CHECK a2, 0, 21
    li a0, 0x1fffffff0           /* low word 0xfffffff0 = -16 */
    li a1, 0x100000003           /* low word 3 */
    divw a2, a0, a1
    CHECK a2, -5, 22
    remw a2, a0, a1
    CHECK a2, -1, 23
    divuw a2, a0, a1
    CHECK a2, 0x55555550, 24
    remuw a2, a0, a1
    CHECK a2, 0, 25
    li a1, 0x100000000           /* low word 0 */
    divuw a2, a0, a1
    CHECK a2, -1, 26
    remuw a2, a0, a1
    CHECK a2, 0xfffffffffffffff0, 27
    divw a2, a0, a1
    CHECK a2, -1, 28
    remw a2, a0, a1
    CHECK a2, -16, 29

    li a0, 0
    ret
