/* blkbench: raw block device throughput and IOPS from inside the guest, for
 * bench/run.py (benchmark 7, `blk`). O_DIRECT on the whole device, no file
 * system, timed with clock_gettime(CLOCK_MONOTONIC) in the guest.
 *
 *   blkbench DEVICE seqread  BS_KIB TOTAL_MIB [PASSES]
 *   blkbench DEVICE seqwrite BS_KIB TOTAL_MIB [PASSES]
 *   blkbench DEVICE randread BS_KIB SECONDS [QD [SEED]]
 *
 * seqread / seqwrite move TOTAL_MIB from offset 0 in BS_KIB requests, PASSES
 * times over (default 1); writes are not followed by a flush (the timed part
 * is the requests, not the host's disk). randread issues BS_KIB reads at
 * random BS-aligned offsets of the whole device for SECONDS, QD at a time:
 * QD 1 is plain pread, more goes through Linux native AIO (io_submit; raw
 * syscalls, no libaio).
 *
 * One result line per run, key=value, bytes and nanoseconds exact:
 *   blkbench: op=seqread bs=1048576 qd=1 ios=256 bytes=268435456 ns=... \
 *             mbps=... iops=... lat_us=...
 * (mbps in 10^6 bytes a second; lat_us is the mean time a request took, at
 * QD 1 its latency.) Exit status 0 on success, 1 on an I/O error, 2 on
 * bad usage. Part of the guest tools built into the test initramfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_QD 256

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void report(const char *op, uint64_t bs, unsigned qd, uint64_t ios, uint64_t ns)
{
    uint64_t bytes = ios * bs;
    double secs = (double)ns / 1e9;
    printf("blkbench: op=%s bs=%" PRIu64 " qd=%u ios=%" PRIu64 " bytes=%" PRIu64
           " ns=%" PRIu64 " mbps=%.1f iops=%.0f lat_us=%.2f\n",
           op, bs, qd, ios, bytes, ns, secs > 0 ? (double)bytes / 1e6 / secs : 0.0,
           secs > 0 ? (double)ios / secs : 0.0,
           ios ? (double)ns / 1e3 / (double)ios * qd : 0.0);
    fflush(stdout);
}

/* xorshift64*: plenty for spreading offsets. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static int seq(int fd, int write, uint64_t bs, uint64_t total, unsigned passes, uint8_t *buf)
{
    uint64_t n = total / bs, ios = 0;
    uint64_t t0 = now_ns();
    for (unsigned p = 0; p < passes; p++) {
        for (uint64_t i = 0; i < n; i++) {
            ssize_t r = write ? pwrite(fd, buf, bs, (off_t)(i * bs))
                              : pread(fd, buf, bs, (off_t)(i * bs));
            if (r != (ssize_t)bs) {
                fprintf(stderr, "blkbench: %s at %" PRIu64 ": %s\n", write ? "write" : "read",
                        i * bs, r < 0 ? strerror(errno) : "short transfer");
                return 1;
            }
            ios++;
        }
    }
    report(write ? "seqwrite" : "seqread", bs, 1, ios, now_ns() - t0);
    return 0;
}

static long sys_io_setup(unsigned nr, aio_context_t *ctx)
{
    return syscall(SYS_io_setup, nr, ctx);
}

static long sys_io_submit(aio_context_t ctx, long n, struct iocb **iocbs)
{
    return syscall(SYS_io_submit, ctx, n, iocbs);
}

static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev)
{
    return syscall(SYS_io_getevents, ctx, min, max, ev, NULL);
}

static int randread(int fd, uint64_t bs, uint64_t size, double seconds, unsigned qd,
                    uint64_t seed, uint8_t *bufs)
{
    uint64_t slots = size / bs, ios = 0;
    uint64_t s = seed ? seed : 0x9e3779b97f4a7c15ull;
    uint64_t limit = (uint64_t)(seconds * 1e9);
    if (slots == 0) {
        fprintf(stderr, "blkbench: device smaller than one request\n");
        return 1;
    }
    uint64_t t0 = now_ns(), t = t0;
    if (qd == 1) {
        while (t - t0 < limit) {
            for (int k = 0; k < 16; k++) {
                off_t off = (off_t)((rng_next(&s) % slots) * bs);
                if (pread(fd, bufs, bs, off) != (ssize_t)bs) {
                    fprintf(stderr, "blkbench: read at %lld: %s\n", (long long)off,
                            strerror(errno));
                    return 1;
                }
            }
            ios += 16;
            t = now_ns();
        }
        report("randread", bs, 1, ios, t - t0);
        return 0;
    }

    aio_context_t ctx = 0;
    if (sys_io_setup(qd, &ctx) < 0) {
        perror("blkbench: io_setup");
        return 1;
    }
    static struct iocb cbs[MAX_QD];
    static struct iocb *ptrs[MAX_QD];
    static struct io_event ev[MAX_QD];
    unsigned inflight = 0;
    int stopping = 0;
    /* Fill the queue, then resubmit each completed slot until time is up,
     * then drain. Only completed reads count. */
    for (unsigned i = 0; i < qd; i++) {
        memset(&cbs[i], 0, sizeof(cbs[i]));
        cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
        cbs[i].aio_fildes = (uint32_t)fd;
        cbs[i].aio_buf = (uint64_t)(uintptr_t)(bufs + i * bs);
        cbs[i].aio_nbytes = bs;
        cbs[i].aio_offset = (int64_t)((rng_next(&s) % slots) * bs);
        cbs[i].aio_data = i;
        ptrs[i] = &cbs[i];
    }
    if (sys_io_submit(ctx, qd, ptrs) != (long)qd) {
        perror("blkbench: io_submit");
        return 1;
    }
    inflight = qd;
    while (inflight) {
        long got = sys_io_getevents(ctx, 1, qd, ev);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            perror("blkbench: io_getevents");
            return 1;
        }
        t = now_ns();
        if (t - t0 >= limit)
            stopping = 1;
        unsigned again = 0;
        for (long k = 0; k < got; k++) {
            if (ev[k].res != (int64_t)bs) {
                fprintf(stderr, "blkbench: aio read: %s\n",
                        ev[k].res < 0 ? strerror((int)-ev[k].res) : "short transfer");
                return 1;
            }
            ios++;
            inflight--;
            if (!stopping) {
                struct iocb *cb = &cbs[ev[k].data];
                cb->aio_offset = (int64_t)((rng_next(&s) % slots) * bs);
                ptrs[again++] = cb;
            }
        }
        if (again) {
            if (sys_io_submit(ctx, again, ptrs) != (long)again) {
                perror("blkbench: io_submit");
                return 1;
            }
            inflight += again;
        }
    }
    t = now_ns();
    report("randread", bs, qd, ios, t - t0);
    syscall(SYS_io_destroy, ctx);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: blkbench DEVICE seqread|seqwrite BS_KIB TOTAL_MIB [PASSES]\n"
                    "       blkbench DEVICE randread BS_KIB SECONDS [QD [SEED]]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return usage();
    const char *dev = argv[1], *op = argv[2];
    uint64_t bs = strtoull(argv[3], NULL, 0) * 1024;
    int write = strcmp(op, "seqwrite") == 0;
    int rnd = strcmp(op, "randread") == 0;
    if (!write && !rnd && strcmp(op, "seqread") != 0)
        return usage();
    if (bs == 0 || bs % 512)
        return usage();
    unsigned qd = 1;
    if (rnd && argc > 5)
        qd = (unsigned)strtoul(argv[5], NULL, 0);
    if (qd < 1 || qd > MAX_QD)
        return usage();

    int fd = open(dev, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
    if (fd < 0) {
        fprintf(stderr, "blkbench: %s: %s\n", dev, strerror(errno));
        return 1;
    }
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
        fprintf(stderr, "blkbench: BLKGETSIZE64 %s: %s\n", dev, strerror(errno));
        return 1;
    }
    void *buf;
    if (posix_memalign(&buf, 4096, bs * qd)) {
        fprintf(stderr, "blkbench: no memory for %u x %" PRIu64 " bytes\n", qd, bs);
        return 1;
    }
    /* Touch every page now so page faults stay out of the timed part; the
     * write pattern is not all zeros. */
    for (uint64_t i = 0; i < bs * qd; i++)
        ((uint8_t *)buf)[i] = (uint8_t)(i * 131 + 7);

    int rc;
    if (rnd) {
        double secs = strtod(argv[4], NULL);
        uint64_t seed = argc > 6 ? strtoull(argv[6], NULL, 0) : 0;
        rc = randread(fd, bs, size, secs, qd, seed, buf);
    } else {
        uint64_t total = strtoull(argv[4], NULL, 0) << 20;
        unsigned passes = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 0) : 1;
        if (total > size) {
            fprintf(stderr, "blkbench: %s holds %" PRIu64 " bytes, fewer than %" PRIu64 "\n",
                    dev, size, total);
            return 1;
        }
        rc = seq(fd, write, bs, total, passes ? passes : 1, buf);
    }
    close(fd);
    free(buf);
    return rc;
}
