/* Multiboot v1 kernel as a flat binary: flag 16 and the a.out kludge
 * address fields say where it goes. Linked at 1 MiB, then objcopy'd to a
 * raw image. Exit value 0x17. */
#include "guest.h"
#define MB_EXIT 0x17
#define MB_FLAGS 0x00010003        /* address fields, page-align, memory */

    .section .multiboot, "a"
    .align 4
mb_header:
    .long 0x1badb002
    .long MB_FLAGS
    .long -(0x1badb002 + MB_FLAGS)
    .long mb_header                /* header_addr */
    .long 0x100000                 /* load_addr: the image's first byte */
    .long _edata                   /* load_end_addr */
    .long _end                     /* bss_end_addr */
    .long _start                   /* entry_addr */

#include "mb_main.S"
