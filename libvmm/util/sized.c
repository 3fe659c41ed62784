#include "util/sized.h"

#include <stdint.h>
#include <string.h>

#include "util/error.h"
#include "vmm/config.h"
#include "vmm/event.h"
#include "vmm/memory.h"
#include "vmm/snapshot.h"
#include "vmm/vcpu.h"

static int check_size(uint64_t size, const char *type)
{
    if (size < sizeof(uint64_t) || size > VMM_STRUCT_SIZE_MAX)
        return vmm_error(VMM_EINVAL,
                         "%s.size %llu is outside %zu..%d: set it to sizeof(%s) before the call",
                         type, (unsigned long long)size, sizeof(uint64_t), VMM_STRUCT_SIZE_MAX,
                         type);
    return 0;
}

int sized_copy_out(void *dst, const void *full, size_t lib_size, const char *type)
{
    uint64_t size;
    memcpy(&size, dst, sizeof(size));
    int rc = check_size(size, type);
    if (rc)
        return rc;
    uint64_t n = size < lib_size ? size : lib_size;
    memcpy((char *)dst + sizeof(size), (const char *)full + sizeof(size), (size_t)n - sizeof(size));
    memcpy(dst, &n, sizeof(n));
    return 0;
}

int sized_copy_in(void *full, const void *src, size_t lib_size, const char *type)
{
    uint64_t size;
    memcpy(&size, src, sizeof(size));
    int rc = check_size(size, type);
    if (rc)
        return rc;
    memset(full, 0, lib_size);
    if (size > lib_size) {
        const unsigned char *extra = (const unsigned char *)src + lib_size;
        for (uint64_t i = 0; i < size - lib_size; i++)
            if (extra[i])
                return vmm_error(VMM_ENOTSUP,
                                 "%s of %llu bytes sets byte %llu, beyond the %zu bytes this "
                                 "libvmm knows: the program needs a newer libvmm",
                                 type, (unsigned long long)size,
                                 (unsigned long long)(lib_size + i), lib_size);
    }
    uint64_t n = size < lib_size ? size : lib_size;
    memcpy((char *)full + sizeof(size), (const char *)src + sizeof(size), (size_t)n - sizeof(size));
    uint64_t own = lib_size;
    memcpy(full, &own, sizeof(own));
    return 0;
}

size_t vmm_struct_size(vmm_struct_id_t id)
{
    switch (id) {
    case VMM_STRUCT_VCPU_STATS: return sizeof(vmm_vcpu_stats_t);
    case VMM_STRUCT_VCPU_REGS: return sizeof(vmm_vcpu_regs_t);
    case VMM_STRUCT_OUTCOME: return sizeof(vmm_outcome_t);
    case VMM_STRUCT_EVENT: return sizeof(vmm_event_t);
    case VMM_STRUCT_DISK_CONFIG: return sizeof(vmm_disk_config_t);
    case VMM_STRUCT_NET_CONFIG: return sizeof(vmm_net_config_t);
    case VMM_STRUCT_MIGRATE_PARAMS: return sizeof(vmm_migrate_params_t);
    case VMM_STRUCT_MIGRATE_STATS: return sizeof(vmm_migrate_stats_t);
    case VMM_STRUCT_MEMORY_STATS: return sizeof(vmm_memory_stats_t);
    }
    return 0;
}
