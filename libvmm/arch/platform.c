#include "arch/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"

#define EM_RISCV_NUM 243

const struct platform *platform_for_kernel(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        vmm_error_errno(errno, "kernel '%s'", path);
        return NULL;
    }
    uint8_t head[64];
    ssize_t n = pread(fd, head, sizeof(head), 0);
    close(fd);
    if (n < 0) {
        vmm_error_errno(errno, "reading kernel '%s'", path);
        return NULL;
    }
    if (n >= 0x3c && memcmp(head + 0x38, "RSC\x05", 4) == 0)
        return &platform_riscv64;
    if (n >= 20 && memcmp(head, "\x7f" "ELF", 4) == 0) {
        unsigned machine = head[18] | (unsigned)head[19] << 8;
        if (machine == EM_RISCV_NUM)
            return &platform_riscv64;
    }
    return &platform_x86_64;
}
