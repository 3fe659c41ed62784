/* CPU-bound bare-metal workload for the soft engine's instruction rate: a
 * mix of integer arithmetic (LCG, multiply, divide), data-dependent
 * branches (Collatz), a sort, a bitwise CRC-32, word copies and a little
 * double-precision arithmetic, repeated CPU_ROUNDS times. Prints the
 * checksum (the same on every correct RV64GC implementation) and minstret
 * on the UART, then powers off (status 0) or fails with status 1 when the
 * checksum is not the expected one. */
#include <stdint.h>

#include "riscv-bench.h"

#ifndef CPU_ROUNDS
#define CPU_ROUNDS 200
#endif

#define N_SORT 256
#define N_BUF 4096

static uint32_t sort_buf[N_SORT];
static uint64_t src_buf[N_BUF / 8], dst_buf[N_BUF / 8];
static double vec_a[64], vec_b[64];

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static uint64_t integer_mix(uint64_t seed)
{
    uint64_t acc = 0;
    for (int i = 0; i < 512; i++) {
        uint64_t x = lcg(&seed);
        acc += x * (uint64_t)(i + 1);
        acc ^= acc >> 17;
        acc += x / (uint64_t)((i & 15) + 3);
        acc -= x % 7;
    }
    return acc;
}

static uint64_t collatz(uint64_t seed)
{
    uint64_t steps = 0;
    for (int i = 0; i < 24; i++) {
        uint64_t n = (seed + (uint64_t)i * 97) % 10000 + 1;
        while (n != 1) {
            n = (n & 1) ? 3 * n + 1 : n >> 1;
            steps++;
        }
    }
    return steps;
}

static void shell_sort(uint32_t *a, int n)
{
    static const int gaps[] = { 132, 57, 23, 10, 4, 1 };
    for (unsigned g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        int gap = gaps[g];
        for (int i = gap; i < n; i++) {
            uint32_t v = a[i];
            int j = i;
            while (j >= gap && a[j - gap] > v) {
                a[j] = a[j - gap];
                j -= gap;
            }
            a[j] = v;
        }
    }
}

static uint64_t sort_mix(uint64_t seed)
{
    for (int i = 0; i < N_SORT; i++)
        sort_buf[i] = (uint32_t)lcg(&seed);
    shell_sort(sort_buf, N_SORT);
    uint64_t acc = 0;
    for (int i = 0; i < N_SORT; i++)
        acc = acc * 31 + sort_buf[i];
    return acc;
}

static uint32_t crc32(const uint8_t *p, int n)
{
    uint32_t crc = 0xffffffffu;
    for (int i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static uint64_t copy_mix(uint64_t seed)
{
    for (int i = 0; i < N_BUF / 8; i++)
        src_buf[i] = lcg(&seed) | (lcg(&seed) << 32);
    volatile uint64_t *d = dst_buf; /* keep the copy loop a loop, not a call */
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < N_BUF / 8; i++)
            d[i] = src_buf[(i + r) % (N_BUF / 8)];
    return crc32((const uint8_t *)dst_buf, 512);
}

static uint64_t float_mix(uint64_t seed)
{
    for (int i = 0; i < 64; i++) {
        vec_a[i] = (double)(lcg(&seed) & 0xffff) / 65536.0;
        vec_b[i] = (double)(lcg(&seed) & 0xffff) / 1024.0;
    }
    double dot = 0.0;
    for (int r = 0; r < 8; r++)
        for (int i = 0; i < 64; i++)
            dot += vec_a[i] * vec_b[(i + r) & 63];
    return (uint64_t)(dot * 1000.0);
}

int main(void)
{
    uint64_t sum = 0;
    uint64_t start = read_instret();
    for (uint64_t r = 0; r < CPU_ROUNDS; r++) {
        uint64_t seed = r * 0x9e3779b97f4a7c15ull + 1;
        sum += integer_mix(seed);
        sum ^= collatz(seed) << 7;
        sum += sort_mix(seed);
        sum ^= copy_mix(seed) << 3;
        sum += float_mix(seed);
        sum = (sum << 5) | (sum >> 59);
    }
    uint64_t end = read_instret();
    report(CPU_ROUNDS, sum, end - start);
#ifdef CPU_EXPECT
    return sum == CPU_EXPECT ? 0 : 1;
#else
    return 0;
#endif
}
