/* libvmm — how the ABI grows between 0.x releases.
 *
 * Opaque handles (vmm_host_t, vmm_vm_t, vmm_config_t, vmm_caps_t) never show
 * their layout, so they grow freely. The few structs that do cross the
 * library boundary are *sized*: their first member is
 *
 *     uint64_t size;   // bytes of the struct the writer of the code knew
 *
 * and new fields are only ever appended. The rules:
 *
 *  - A struct you pass for the library to fill (vmm_vcpu_stats_t,
 *    vmm_vcpu_regs_t, vmm_outcome_t): set .size = sizeof(the struct) first,
 *        vmm_vcpu_stats_t s = { .size = sizeof(s) };
 *    The library writes at most min(.size, its own size) bytes and sets .size
 *    to the number of bytes it filled, so a program built against newer
 *    headers sees which fields an older library left untouched
 *    (VMM_HAS_FIELD below). A .size below 8 or above VMM_STRUCT_SIZE_MAX
 *    (typically: never set) is refused with VMM_EINVAL, naming the value.
 *
 *  - A struct you pass for the library to read (vmm_disk_config_t): set .size
 *    the same way. The library reads min(.size, its own size) bytes and
 *    treats fields it did not get as zero / NULL; when .size is larger than
 *    its own, the bytes it does not know must be zero (VMM_ENOTSUP otherwise:
 *    the program asks for something this library version cannot do).
 *
 *  - A struct the library hands you (vmm_event_t in the event callback, the
 *    vmm_outcome_t inside it, vmm_disk_config_t / vmm_net_config_t from the
 *    config getters): .size is set by the library. A program built against
 *    newer headers checks VMM_HAS_FIELD() before reading a field that an
 *    older library may not have.
 *
 * So a binary built against older headers keeps working with a newer
 * library, and vmm_struct_size() tells a binding (Python's ctypes) the
 * library's own sizes so it can refuse a mismatch at load time.
 */
#ifndef VMM_ABI_H
#define VMM_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest .size the library accepts in a sized struct (a guard against an
 * uninitialised size field). */
#define VMM_STRUCT_SIZE_MAX 65536

/* True when the sized struct at `ptr` (of type `type`) has `field`, going by
 * the .size the library (or the caller) put in it. */
#define VMM_HAS_FIELD(ptr, type, field)                                                            \
    ((ptr)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* The sized structs of the public API. */
typedef enum vmm_struct_id {
    VMM_STRUCT_VCPU_STATS = 1, /* vmm_vcpu_stats_t */
    VMM_STRUCT_VCPU_REGS,      /* vmm_vcpu_regs_t */
    VMM_STRUCT_OUTCOME,        /* vmm_outcome_t */
    VMM_STRUCT_EVENT,          /* vmm_event_t */
    VMM_STRUCT_DISK_CONFIG,    /* vmm_disk_config_t */
    VMM_STRUCT_NET_CONFIG,     /* vmm_net_config_t */
    VMM_STRUCT_MIGRATE_PARAMS, /* vmm_migrate_params_t (vmm/snapshot.h) */
    VMM_STRUCT_MIGRATE_STATS,  /* vmm_migrate_stats_t */
    VMM_STRUCT_MEMORY_STATS,   /* vmm_memory_stats_t (vmm/memory.h) */
} vmm_struct_id_t;

/* sizeof() the struct `id` names, as the loaded library was built; 0 for an
 * id this library does not know. Any thread. */
size_t vmm_struct_size(vmm_struct_id_t id);

#ifdef __cplusplus
}
#endif
#endif
