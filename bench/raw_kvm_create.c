/* raw_kvm_create [REPEATS] [MEM_MIB] [irqchip] [pit] [memfd] [huge]: the
 * floor for VM creation: the time of KVM_CREATE_VM + one MEM_MIB (default
 * 256) slot + one vCPU with its kvm_run mapped, and of tearing it down,
 * REPEATS (default 100) times. The optional words add what a full VMM also
 * does (in-kernel irqchip, PIT, memfd-backed RAM, MADV_HUGEPAGE), to show
 * what each costs. Prints one JSON object with min and median in
 * microseconds. Exit 77 without /dev/kvm. */
#include "raw_kvm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPEATS 10000

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 100;
    long mem_mib = argc > 2 ? strtol(argv[2], NULL, 0) : 256;
    if (repeats < 1 || repeats > MAX_REPEATS || mem_mib < 1 || mem_mib > 65536) {
        fprintf(stderr, "usage: raw_kvm_create [REPEATS(1..%d)] [MEM_MIB(1..65536)]\n",
                MAX_REPEATS);
        return 2;
    }
    unsigned flags;
    if (raw_parse_parts(argc, argv, 3, &flags))
        return 2;
    int kvm = raw_kvm_open();
    if (kvm < 0) {
        printf("raw_kvm_create: skipped: /dev/kvm: %s\n", strerror(errno));
        return RAW_SKIP;
    }
    static double create_us[MAX_REPEATS], destroy_us[MAX_REPEATS];
    for (int i = 0; i < repeats; i++) {
        struct raw_vm vm;
        uint64_t s = raw_now_ns();
        if (raw_vm_create(&vm, kvm, (uint64_t)mem_mib << 20, flags))
            return 1;
        uint64_t m = raw_now_ns();
        raw_vm_destroy(&vm);
        uint64_t e = raw_now_ns();
        create_us[i] = (double)(m - s) / 1000.0;
        destroy_us[i] = (double)(e - m) / 1000.0;
    }
    double cmin = create_us[0], dmin = destroy_us[0];
    for (int i = 1; i < repeats; i++) {
        if (create_us[i] < cmin)
            cmin = create_us[i];
        if (destroy_us[i] < dmin)
            dmin = destroy_us[i];
    }
    double cmed = raw_median(create_us, repeats);
    double dmed = raw_median(destroy_us, repeats);
    printf("{\"repeats\": %d, \"mem_mib\": %ld, \"flags\": %u, \"create_us_min\": %.1f, "
           "\"create_us_median\": %.1f, \"destroy_us_min\": %.1f, \"destroy_us_median\": %.1f}\n",
           repeats, mem_mib, flags, cmin, cmed, dmin, dmed);
    return 0;
}
