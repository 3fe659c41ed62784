/* vsock-echo: the guest end of the virtio-vsock tests.
 *
 *   vsock-echo listen PORT [COUNT]   accepts COUNT connections (default 1,
 *                                    0 = forever) on vsock port PORT, one
 *                                    at a time, and sends back everything
 *                                    each one sends until it closes
 *   vsock-echo connect CID PORT      connects to CID:PORT, sends stdin (then
 *                                    shuts its sending side) and writes what
 *                                    comes back to stdout until the peer
 *                                    closes
 *
 * Exit status 0 on success, 1 on a socket error (message on stderr), 2 on
 * bad usage. Part of the guest tools built into the test initramfs. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
/* after sys/socket.h: it uses struct sockaddr and sa_family_t */
#include <linux/vm_sockets.h>

static char buf[65536];

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int parse_u32(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > 0xffffffffUL)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int echo(int fd)
{
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("vsock-echo: read");
            return -1;
        }
        if (n == 0)
            return 0;
        if (write_all(fd, buf, (size_t)n)) {
            perror("vsock-echo: write");
            return -1;
        }
    }
}

static int do_listen(unsigned port, unsigned count)
{
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0) {
        perror("vsock-echo: socket");
        return 1;
    }
    struct sockaddr_vm sa;
    memset(&sa, 0, sizeof(sa));
    sa.svm_family = AF_VSOCK;
    sa.svm_cid = VMADDR_CID_ANY;
    sa.svm_port = port;
    if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0) {
        perror("vsock-echo: bind/listen");
        return 1;
    }
    printf("vsock-echo: listening on port %u\n", port);
    fflush(stdout);
    for (unsigned i = 0; count == 0 || i < count; i++) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            perror("vsock-echo: accept");
            return 1;
        }
        int rc = echo(c);
        close(c);
        if (rc)
            return 1;
    }
    close(s);
    return 0;
}

static int do_connect(unsigned cid, unsigned port)
{
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0) {
        perror("vsock-echo: socket");
        return 1;
    }
    struct sockaddr_vm sa;
    memset(&sa, 0, sizeof(sa));
    sa.svm_family = AF_VSOCK;
    sa.svm_cid = cid;
    sa.svm_port = port;
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("vsock-echo: connect");
        return 1;
    }
    /* Never block on the socket while the peer's answer waits to be read:
     * an echo of more than both sides buffer would deadlock. */
    static char out[65536];
    size_t out_off = 0, out_len = 0;
    int in_open = 1;
    for (;;) {
        struct pollfd p[2] = { { .fd = s, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
        if (out_len)
            p[0].events |= POLLOUT;
        int reading_stdin = in_open && !out_len;
        if (poll(p, reading_stdin ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("vsock-echo: poll");
            return 1;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(s, buf, sizeof(buf));
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                perror("vsock-echo: read");
                return 1;
            }
            if (n == 0)
                break;
            if (n > 0 && write_all(1, buf, (size_t)n)) {
                perror("vsock-echo: stdout");
                return 1;
            }
        }
        if (out_len && (p[0].revents & POLLOUT)) {
            ssize_t n = send(s, out + out_off, out_len, MSG_DONTWAIT);
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                perror("vsock-echo: write");
                return 1;
            }
            if (n > 0) {
                out_off += (size_t)n;
                out_len -= (size_t)n;
            }
            if (!out_len && !in_open)
                shutdown(s, SHUT_WR);
        }
        if (reading_stdin && p[1].revents) {
            ssize_t n = read(0, out, sizeof(out));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                in_open = 0;
                shutdown(s, SHUT_WR);
            } else {
                out_off = 0;
                out_len = (size_t)n;
            }
        }
    }
    close(s);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned a, b = 1;
    if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "listen") && !parse_u32(argv[2], &a) &&
        (argc == 3 || !parse_u32(argv[3], &b)))
        return do_listen(a, b);
    if (argc == 4 && !strcmp(argv[1], "connect") && !parse_u32(argv[2], &a) &&
        !parse_u32(argv[3], &b))
        return do_connect(a, b);
    fprintf(stderr, "usage: vsock-echo listen PORT [COUNT]\n"
                    "       vsock-echo connect CID PORT\n");
    return 2;
}
