/* sched_bench: the vCPU scheduler's figures through the public API, with the
 * scheduler test guest (tests/guest/core/sched-riscv.S).
 *
 *   sched_bench rate GUEST WORKERS VCPUS SECONDS
 *       one VM of VCPUS busy harts on a pool of WORKERS workers; after a
 *       0.5 s warm-up, the guest instruction rate over SECONDS: from the
 *       harts' counters (4 instructions an increment, the figure QEMU is
 *       measured by too) and from libvmm's retired-instruction counts.
 *   sched_bench ipi GUEST WORKERS LOADVMS
 *       LOADVMS busy 1-hart VMs plus one 2-hart VM in the guest's IPI mode:
 *       hart 0 sends 200 IPIs, hart 1 records how long after each it woke
 *       (guest mtime, 100 ns ticks). Prints the samples.
 *
 * One JSON object on stdout; errors on stderr with exit status 1 (2 for bad
 * arguments). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vmm/vmm.h>

#define MODE_GPA 0x80200000ULL
#define DONE_GPA 0x80200008ULL
#define COUNTERS_GPA 0x80100000ULL
#define SAMPLES_GPA 0x80300000ULL
#define NSAMPLES 200
#define LOOP_INSNS 4 /* ld, addi, sd, j */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
    nanosleep(&ts, NULL);
}

static int die(const char *what)
{
    fprintf(stderr, "sched_bench: %s: %s\n", what, vmm_last_error());
    return 1;
}

static vmm_vm_t *new_vm(vmm_host_t *h, const char *guest, unsigned vcpus, uint64_t mode)
{
    vmm_config_t *cfg;
    vmm_vm_t *vm = NULL;
    if (vmm_config_new(&cfg))
        return NULL;
    vmm_config_set_engine(cfg, "soft");
    vmm_config_set_kernel(cfg, guest);
    vmm_config_set_memory(cfg, 16 << 20);
    if (vmm_config_set_vcpus(cfg, vcpus) || vmm_vm_create(h, cfg, &vm)) {
        vmm_config_free(cfg);
        return NULL;
    }
    vmm_config_free(cfg);
    if (vmm_vm_write_phys(vm, MODE_GPA, &mode, sizeof(mode)) || vmm_vm_start(vm)) {
        vmm_vm_destroy(vm);
        return NULL;
    }
    return vm;
}

static void totals(vmm_vm_t *vm, unsigned vcpus, uint64_t *count, uint64_t *insns)
{
    uint64_t c[64] = { 0 };
    vmm_vm_read_phys(vm, COUNTERS_GPA, c, 8 * vcpus);
    *count = *insns = 0;
    for (unsigned i = 0; i < vcpus; i++) {
        vmm_vcpu_stats_t s = { .size = sizeof(s) };
        vmm_vm_vcpu_stats(vm, i, &s);
        *count += c[i];
        *insns += s.instructions;
    }
}

static int cmd_rate(const char *guest, unsigned workers, unsigned vcpus, double seconds)
{
    vmm_host_t *h;
    if (vmm_host_new(&h, NULL) || vmm_host_set_workers(h, workers))
        return die("host");
    vmm_vm_t *vm = new_vm(h, guest, vcpus, 0);
    if (!vm)
        return die("VM");
    sleep_ns(500000000ull);
    uint64_t c0, i0, c1, i1;
    totals(vm, vcpus, &c0, &i0);
    uint64_t t0 = now_ns();
    sleep_ns((uint64_t)(seconds * 1e9));
    uint64_t t1 = now_ns();
    totals(vm, vcpus, &c1, &i1);
    double s = (double)(t1 - t0) / 1e9;
    unsigned long long slices = 0, wait = 0;
    for (unsigned i = 0; i < vcpus; i++) {
        vmm_vcpu_stats_t st = { .size = sizeof(st) };
        vmm_vm_vcpu_stats(vm, i, &st);
        slices += st.slices;
        wait += st.wait_ns;
    }
    printf("{\"workers\": %u, \"vcpus\": %u, \"seconds\": %.3f, \"mips_counter\": %.2f, "
           "\"mips_retired\": %.2f, \"slices\": %llu, \"wait_ns\": %llu}\n",
           workers, vcpus, s, (double)(c1 - c0) * LOOP_INSNS / s / 1e6,
           (double)(i1 - i0) / s / 1e6, slices, wait);
    vmm_vm_destroy(vm);
    vmm_host_free(h);
    return 0;
}

static int cmd_ipi(const char *guest, unsigned workers, unsigned load)
{
    vmm_host_t *h;
    if (vmm_host_new(&h, NULL) || vmm_host_set_workers(h, workers))
        return die("host");
    vmm_vm_t *vms[33];
    unsigned n = 0;
    for (; n < load && n < 32; n++)
        if (!(vms[n] = new_vm(h, guest, 1, 0)))
            return die("load VM");
    vmm_vm_t *ipi = new_vm(h, guest, 2, 3);
    if (!ipi)
        return die("IPI VM");
    vms[n++] = ipi;
    uint64_t done = 0, deadline = now_ns() + 60000000000ull;
    while (done < NSAMPLES && now_ns() < deadline) {
        sleep_ns(20000000ull);
        vmm_vm_read_phys(ipi, DONE_GPA, &done, sizeof(done));
    }
    if (done < NSAMPLES) {
        fprintf(stderr, "sched_bench: only %llu of %d IPIs in 60 s\n", (unsigned long long)done,
                NSAMPLES);
        return 1;
    }
    int64_t s[NSAMPLES];
    vmm_vm_read_phys(ipi, SAMPLES_GPA, s, sizeof(s));
    printf("{\"workers\": %u, \"load_vms\": %u, \"samples_us\": [", workers, load);
    for (int i = 0; i < NSAMPLES; i++)
        printf("%s%.1f", i ? ", " : "", s[i] / 10.0);
    printf("]}\n");
    for (unsigned i = 0; i < n; i++)
        vmm_vm_destroy(vms[i]);
    vmm_host_free(h);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "rate"))
        return cmd_rate(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), atof(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "ipi"))
        return cmd_ipi(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
    fprintf(stderr, "usage: sched_bench rate GUEST WORKERS VCPUS SECONDS\n"
                    "       sched_bench ipi GUEST WORKERS LOADVMS\n");
    return 2;
}
