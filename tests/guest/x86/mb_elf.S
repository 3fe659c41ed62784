/* Multiboot v1 kernel as an ELF: header without address fields, so the
 * loader loads the ELF segments. Exit value 0x16. */
#include "guest.h"
#define MB_EXIT 0x16
#define MB_FLAGS 0x00000003        /* page-align modules, memory info */

    .section .multiboot, "a"
    .align 4
    .long 0x1badb002
    .long MB_FLAGS
    .long -(0x1badb002 + MB_FLAGS)

#include "mb_main.S"
