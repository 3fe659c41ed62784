/* x86 CPUID feature names as libvirt spells them (<cpu><feature name=...>),
 * with the CPUID bit each one names, so a disabled feature can be hidden
 * from the guest's CPUID.
 */
#ifndef LIBVMM_CONFIG_CPU_FEATURES_H
#define LIBVMM_CONFIG_CPU_FEATURES_H

#include <stdint.h>

enum cpu_reg { CPU_REG_EAX = 0, CPU_REG_EBX, CPU_REG_ECX, CPU_REG_EDX };

struct cpu_feature {
    const char *name;  /* libvirt's name */
    uint32_t leaf;     /* CPUID function (EAX in) */
    uint32_t subleaf;  /* ECX in (0 where the leaf has none) */
    enum cpu_reg reg;  /* output register holding the bit */
    unsigned bit;
};

/* The feature called `name`, or NULL when libvmm does not know it. */
const struct cpu_feature *cpu_feature_find(const char *name);

#endif
