/* Floating-point-bound bare-metal workload for the soft engine, the third
 * shape next to riscv-cpu.c (integer) and riscv-dispatch.c (control flow):
 * a double-precision matrix product with fused multiply-adds, a
 * single-precision dot product and Newton iterations with division and
 * square roots, conversions between integers and both widths, min/max and
 * sign injection, and comparisons feeding branches. Every result's bits and
 * the accumulated exception flags (fflags) go into the checksum, so a
 * translator that gets a rounding or a flag wrong shows a different one
 * from QEMU's. Prints the checksum and minstret like riscv-cpu.c. */
#include <stdint.h>

#include "riscv-bench.h"

#ifndef CPU_ROUNDS
#define CPU_ROUNDS 200
#endif

#define N 12

static double ma[N][N], mb[N][N], mc[N][N];
static float va[64], vb[64];

static uint64_t read_fflags(void)
{
    uint64_t v;
    __asm__ volatile("frflags %0" : "=r"(v));
    return v;
}

static uint64_t bits_d(double d)
{
    union { double d; uint64_t u; } x = { d };
    return x.u;
}

static uint32_t bits_s(float f)
{
    union { float f; uint32_t u; } x = { f };
    return x.u;
}

/* fmax.d / fmin.d (the builtins may become libm calls here). */
static double fmax_d(double a, double b)
{
    double r;
    __asm__("fmax.d %0, %1, %2" : "=f"(r) : "f"(a), "f"(b));
    return r;
}

static double fmin_d(double a, double b)
{
    double r;
    __asm__("fmin.d %0, %1, %2" : "=f"(r) : "f"(a), "f"(b));
    return r;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x100000001b3ull;
    return h ^ (h >> 29);
}

static void fill(uint64_t seed)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            ma[i][j] = (double)(int64_t)(seed >> 40) / 1048576.0;
            mb[i][j] = (double)(seed >> 44) * 0.001 - 2.5;
        }
    for (int i = 0; i < 64; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        va[i] = (float)(int32_t)(seed >> 40) / 3.0f;
        vb[i] = (float)(seed >> 48) * 0.125f + 0.3f;
    }
}

/* C = A x B with one fused multiply-add per step (fmadd.d). */
static uint64_t matmul(void)
{
    uint64_t h = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < N; k++)
                acc = __builtin_fma(ma[i][k], mb[k][j], acc);
            mc[i][j] = acc;
            h = mix(h, bits_d(acc));
        }
    return h;
}

/* Single precision: a dot product, then Newton's square root of each
 * product against fsqrt.s, with a division per step. */
static uint64_t single(void)
{
    float dot = 0.0f;
    uint64_t h = 0;
    for (int i = 0; i < 64; i++)
        dot = __builtin_fmaf(va[i], vb[i], dot);
    h = mix(h, bits_s(dot));
    for (int i = 0; i < 64; i++) {
        float x = va[i] * va[i] + vb[i];
        float y = x > 1.0f ? x * 0.5f : 1.0f;
        for (int k = 0; k < 4; k++)
            y = 0.5f * (y + x / y);
        float s = __builtin_sqrtf(x);
        h = mix(h, bits_s(y) ^ (uint64_t)bits_s(s) << 32);
        h = mix(h, (uint64_t)(int64_t)(y * 16.0f)); /* fcvt.l.s */
    }
    return h;
}

/* Conversions, min/max, sign injection and comparisons in double. */
static uint64_t mixed(uint64_t seed)
{
    uint64_t h = 0;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            double c = mc[i][j];
            double d = __builtin_sqrt(c < 0 ? -c : c) / (1.0 + (double)(i + j));
            double m = fmax_d(c, d) - fmin_d(c, ma[j][i]);
            double s = __builtin_copysign(m, mb[i][j]);
            int64_t k = (int64_t)(s * 64.0);             /* fcvt.l.d, rtz */
            uint32_t u = (uint32_t)(d * 1000.0);        /* fcvt.wu.d */
            float f = (float)s;                         /* fcvt.s.d */
            h = mix(h, (uint64_t)k ^ (uint64_t)u << 40);
            h = mix(h, bits_s(f) ^ (c < d ? 1u : 0u) ^ (c == d ? 2u : 0u));
            mb[j][i] = s + (double)(int32_t)(seed >> (i + j)) * 1e-9; /* fcvt.d.w */
        }
    }
    return h;
}

int main(void)
{
    uint64_t sum = 0;
    fill(1);
    uint64_t start = read_instret();
    for (uint64_t r = 0; r < CPU_ROUNDS; r++) {
        if ((r & 63) == 0)
            fill(r + 1); /* keep the values in range */
        sum = mix(sum, matmul());
        sum = mix(sum, single());
        sum = mix(sum, mixed(sum));
    }
    sum = mix(sum, read_fflags());
    uint64_t end = read_instret();
    report(CPU_ROUNDS, sum, end - start);
    return 0;
}
