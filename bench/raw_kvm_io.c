/* raw_kvm_io COUNT [REPEATS] [irqchip] [pit] [memfd] [huge]: the floor for
 * an I/O exit round trip. One VM, one slot, one vCPU in 32-bit protected
 * mode running the same loop as guests/x86-ioloop.S (COUNT `out` to port
 * 0x80, then one to 0xf4), with this program's own KVM_RUN loop handling
 * every KVM_EXIT_IO. Prints one JSON object: per-exit nanoseconds (min and
 * median over REPEATS runs of the loop) and the set-up time. With COUNT 1
 * and REPEATS 1 the whole process is the floor of a launch-to-exit; the
 * optional words add what a full VMM also sets up (see raw_kvm_create.c).
 * Exit 77 without /dev/kvm. */
#include "raw_kvm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CODE_AT 0x1000
#define MAX_REPEATS 1000

/* mov $COUNT, %ecx; xor %eax,%eax; 1: out %al,$0x80; dec %ecx; jnz 1b;
 * out %al,$0xf4; hlt */
static size_t emit_loop(uint8_t *p, uint32_t count)
{
    size_t n = 0;
    p[n++] = 0xb9; /* mov imm32, %ecx */
    memcpy(p + n, &count, 4);
    n += 4;
    p[n++] = 0x31; p[n++] = 0xc0;       /* xor %eax, %eax */
    p[n++] = 0xe6; p[n++] = 0x80;       /* out %al, $0x80 */
    p[n++] = 0x49;                      /* dec %ecx */
    p[n++] = 0x75; p[n++] = (uint8_t)-5; /* jnz back to the out */
    p[n++] = 0xe6; p[n++] = 0xf4;       /* out %al, $0xf4 */
    p[n++] = 0xf4;                      /* hlt */
    return n;
}

/* Runs the loop once; returns the number of port-0x80 exits or -1. */
static long run_once(struct raw_vm *vm)
{
    long exits = 0;
    for (;;) {
        if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            perror("KVM_RUN");
            return -1;
        }
        struct kvm_run *r = vm->run;
        if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT) {
            if (r->io.port == 0x80) {
                exits++;
                continue;
            }
            if (r->io.port == 0xf4)
                return exits;
        }
        fprintf(stderr, "raw_kvm_io: unexpected exit %u (port 0x%x) after %ld exits\n",
                r->exit_reason, r->exit_reason == KVM_EXIT_IO ? r->io.port : 0, exits);
        return -1;
    }
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? strtol(argv[1], NULL, 0) : 100000;
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (count < 1 || count > 0x7fffffff || repeats < 1 || repeats > MAX_REPEATS) {
        fprintf(stderr, "usage: raw_kvm_io COUNT(1..2^31-1) [REPEATS(1..%d)]\n", MAX_REPEATS);
        return 2;
    }
    unsigned flags;
    if (raw_parse_parts(argc, argv, 3, &flags))
        return 2;
    uint64_t t0 = raw_now_ns();
    int kvm = raw_kvm_open();
    if (kvm < 0) {
        printf("raw_kvm_io: skipped: /dev/kvm: %s\n", strerror(errno));
        return RAW_SKIP;
    }
    struct raw_vm vm;
    if (raw_vm_create(&vm, kvm, 256u << 20, flags))
        return 1;
    emit_loop(vm.mem + CODE_AT, (uint32_t)count);
    uint64_t setup_ns = raw_now_ns() - t0;

    static double per_exit[MAX_REPEATS];
    for (int i = 0; i < repeats; i++) {
        if (raw_vm_enter_pm32(&vm, CODE_AT))
            return 1;
        uint64_t s = raw_now_ns();
        long exits = run_once(&vm);
        uint64_t e = raw_now_ns();
        if (exits != count) {
            fprintf(stderr, "raw_kvm_io: %ld exits, expected %ld\n", exits, count);
            return 1;
        }
        per_exit[i] = (double)(e - s) / (double)count;
    }
    double min = per_exit[0];
    for (int i = 1; i < repeats; i++)
        if (per_exit[i] < min)
            min = per_exit[i];
    double med = raw_median(per_exit, repeats);
    printf("{\"count\": %ld, \"repeats\": %d, \"per_exit_ns_min\": %.1f, "
           "\"per_exit_ns_median\": %.1f, \"setup_ns\": %llu}\n",
           count, repeats, min, med, (unsigned long long)setup_ns);
    raw_vm_destroy(&vm);
    return 0;
}
