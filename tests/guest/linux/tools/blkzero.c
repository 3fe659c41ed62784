/* blkzero DEVICE OFFSET LENGTH: asks the kernel to zero a byte range of a
 * block device with BLKZEROOUT, which virtio-blk turns into a WRITE_ZEROES
 * request when the device offers it. (busybox's blkdiscard has no -z.)
 * Part of the guest tools built into the test initramfs. */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: blkzero DEVICE OFFSET LENGTH\n");
        return 2;
    }
    int fd = open(argv[1], O_WRONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    uint64_t range[2] = { strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0) };
    if (ioctl(fd, BLKZEROOUT, range) < 0) {
        perror("BLKZEROOUT");
        return 1;
    }
    close(fd);
    return 0;
}
