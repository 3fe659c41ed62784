#include "config/cpu_features.h"

#include <stddef.h>
#include <string.h>

/* Bits from the Intel SDM / AMD APM CPUID tables; names from libvirt's
 * x86 CPU map. */
static const struct cpu_feature features[] = {
    /* leaf 1, EDX */
    {"fpu", 1, 0, CPU_REG_EDX, 0},     {"vme", 1, 0, CPU_REG_EDX, 1},
    {"de", 1, 0, CPU_REG_EDX, 2},      {"pse", 1, 0, CPU_REG_EDX, 3},
    {"tsc", 1, 0, CPU_REG_EDX, 4},     {"msr", 1, 0, CPU_REG_EDX, 5},
    {"pae", 1, 0, CPU_REG_EDX, 6},     {"mce", 1, 0, CPU_REG_EDX, 7},
    {"cx8", 1, 0, CPU_REG_EDX, 8},     {"apic", 1, 0, CPU_REG_EDX, 9},
    {"sep", 1, 0, CPU_REG_EDX, 11},    {"mtrr", 1, 0, CPU_REG_EDX, 12},
    {"pge", 1, 0, CPU_REG_EDX, 13},    {"mca", 1, 0, CPU_REG_EDX, 14},
    {"cmov", 1, 0, CPU_REG_EDX, 15},   {"pat", 1, 0, CPU_REG_EDX, 16},
    {"pse36", 1, 0, CPU_REG_EDX, 17},  {"clflush", 1, 0, CPU_REG_EDX, 19},
    {"mmx", 1, 0, CPU_REG_EDX, 23},    {"fxsr", 1, 0, CPU_REG_EDX, 24},
    {"sse", 1, 0, CPU_REG_EDX, 25},    {"sse2", 1, 0, CPU_REG_EDX, 26},
    {"ss", 1, 0, CPU_REG_EDX, 27},     {"ht", 1, 0, CPU_REG_EDX, 28},
    /* leaf 1, ECX */
    {"pni", 1, 0, CPU_REG_ECX, 0},     {"pclmuldq", 1, 0, CPU_REG_ECX, 1},
    {"monitor", 1, 0, CPU_REG_ECX, 3}, {"vmx", 1, 0, CPU_REG_ECX, 5},
    {"smx", 1, 0, CPU_REG_ECX, 6},     {"est", 1, 0, CPU_REG_ECX, 7},
    {"ssse3", 1, 0, CPU_REG_ECX, 9},   {"fma", 1, 0, CPU_REG_ECX, 12},
    {"cx16", 1, 0, CPU_REG_ECX, 13},   {"pdcm", 1, 0, CPU_REG_ECX, 15},
    {"pcid", 1, 0, CPU_REG_ECX, 17},   {"sse4.1", 1, 0, CPU_REG_ECX, 19},
    {"sse4.2", 1, 0, CPU_REG_ECX, 20}, {"x2apic", 1, 0, CPU_REG_ECX, 21},
    {"movbe", 1, 0, CPU_REG_ECX, 22},  {"popcnt", 1, 0, CPU_REG_ECX, 23},
    {"tsc-deadline", 1, 0, CPU_REG_ECX, 24},
    {"aes", 1, 0, CPU_REG_ECX, 25},    {"xsave", 1, 0, CPU_REG_ECX, 26},
    {"avx", 1, 0, CPU_REG_ECX, 28},    {"f16c", 1, 0, CPU_REG_ECX, 29},
    {"rdrand", 1, 0, CPU_REG_ECX, 30}, {"hypervisor", 1, 0, CPU_REG_ECX, 31},
    /* leaf 7.0, EBX */
    {"fsgsbase", 7, 0, CPU_REG_EBX, 0}, {"bmi1", 7, 0, CPU_REG_EBX, 3},
    {"hle", 7, 0, CPU_REG_EBX, 4},      {"avx2", 7, 0, CPU_REG_EBX, 5},
    {"smep", 7, 0, CPU_REG_EBX, 7},     {"bmi2", 7, 0, CPU_REG_EBX, 8},
    {"erms", 7, 0, CPU_REG_EBX, 9},     {"invpcid", 7, 0, CPU_REG_EBX, 10},
    {"rtm", 7, 0, CPU_REG_EBX, 11},     {"mpx", 7, 0, CPU_REG_EBX, 14},
    {"avx512f", 7, 0, CPU_REG_EBX, 16}, {"avx512dq", 7, 0, CPU_REG_EBX, 17},
    {"rdseed", 7, 0, CPU_REG_EBX, 18},  {"adx", 7, 0, CPU_REG_EBX, 19},
    {"smap", 7, 0, CPU_REG_EBX, 20},    {"clflushopt", 7, 0, CPU_REG_EBX, 23},
    {"clwb", 7, 0, CPU_REG_EBX, 24},    {"avx512cd", 7, 0, CPU_REG_EBX, 28},
    {"sha-ni", 7, 0, CPU_REG_EBX, 29},  {"avx512bw", 7, 0, CPU_REG_EBX, 30},
    {"avx512vl", 7, 0, CPU_REG_EBX, 31},
    /* leaf 7.0, ECX / EDX */
    {"umip", 7, 0, CPU_REG_ECX, 2},     {"pku", 7, 0, CPU_REG_ECX, 3},
    {"la57", 7, 0, CPU_REG_ECX, 16},    {"rdpid", 7, 0, CPU_REG_ECX, 22},
    {"md-clear", 7, 0, CPU_REG_EDX, 10}, {"spec-ctrl", 7, 0, CPU_REG_EDX, 26},
    {"arch-capabilities", 7, 0, CPU_REG_EDX, 29},
    /* leaf 0xd.1, EAX: XSAVE variants */
    {"xsaveopt", 0xd, 1, CPU_REG_EAX, 0}, {"xsavec", 0xd, 1, CPU_REG_EAX, 1},
    {"xsaves", 0xd, 1, CPU_REG_EAX, 3},
    /* leaf 0x80000001, ECX / EDX */
    {"lahf_lm", 0x80000001, 0, CPU_REG_ECX, 0}, {"svm", 0x80000001, 0, CPU_REG_ECX, 2},
    {"abm", 0x80000001, 0, CPU_REG_ECX, 5},     {"sse4a", 0x80000001, 0, CPU_REG_ECX, 6},
    {"3dnowprefetch", 0x80000001, 0, CPU_REG_ECX, 8},
    {"syscall", 0x80000001, 0, CPU_REG_EDX, 11}, {"nx", 0x80000001, 0, CPU_REG_EDX, 20},
    {"pdpe1gb", 0x80000001, 0, CPU_REG_EDX, 26}, {"rdtscp", 0x80000001, 0, CPU_REG_EDX, 27},
    {"lm", 0x80000001, 0, CPU_REG_EDX, 29},
    /* leaf 0x80000007, EDX */
    {"invtsc", 0x80000007, 0, CPU_REG_EDX, 8},
};

const struct cpu_feature *cpu_feature_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
        if (!strcmp(features[i].name, name))
            return &features[i];
    return NULL;
}
