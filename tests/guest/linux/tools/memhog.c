/* memhog MIB: maps MIB MiB of anonymous memory, writes every 4 KiB page of
 * it (a non-zero byte, so no page can stay the shared zero page), prints
 * "memhog: touched MIB MiB", unmaps it and prints "memhog: freed MIB MiB".
 * The pages go back to the guest kernel's free lists, touched: what a
 * balloon or free page reporting can then return to the host. Part of the
 * guest tools built into the test initramfs. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
    long mib = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
    if (mib <= 0 || mib > 65536) {
        fprintf(stderr, "usage: memhog MIB (1..65536)\n");
        return 2;
    }
    size_t len = (size_t)mib << 20;
    volatile unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("memhog: mmap");
        return 1;
    }
    for (size_t off = 0; off < len; off += 4096)
        p[off] = (unsigned char)(off >> 12 | 1);
    printf("memhog: touched %ld MiB\n", mib);
    fflush(stdout);
    munmap((void *)p, len);
    printf("memhog: freed %ld MiB\n", mib);
    return 0;
}
