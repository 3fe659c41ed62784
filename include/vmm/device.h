/* libvmm — devices and backends the host program writes itself.
 *
 * Two kinds, both declared in the VM's configuration before vmm_vm_create()
 * so that they are part of the machine from its first instruction and
 * survive restarts (a restart resets them through their reset callback):
 *
 *  - a raw device: a port-I/O or MMIO range, an optional interrupt line, and
 *    callbacks the library calls on the vCPU thread that made the access
 *    (vmm_config_add_device);
 *  - a block backend behind a virtio-blk disk: the library turns the guest's
 *    requests into read/write/flush/discard calls and the program completes
 *    each one, at once or later from any thread (vmm_disk_config_t.backend).
 *
 * Every struct here is sized (vmm/abi.h): set .size = sizeof(...) first.
 */
#ifndef VMM_DEVICE_H
#define VMM_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmm_vm vmm_vm_t;

/* --- raw devices --- */

typedef enum vmm_space {
    VMM_SPACE_MMIO = 0, /* guest-physical addresses */
    VMM_SPACE_PIO = 1,  /* x86 I/O ports */
} vmm_space_t;

/* Callbacks of a raw device. They run on the vCPU thread that made the
 * access, while that vCPU waits: keep them short and never block on I/O
 * (hand slow work to another thread). `offset` is relative to the range's
 * base; `width` is 1, 2, 4 or 8 bytes. Any callback may be NULL. */
typedef struct vmm_device_ops {
    uint64_t size; /* sizeof(vmm_device_ops_t) */
    /* The value the guest reads (NULL: all ones). */
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned width);
    /* A guest write. Return 0 to accept it, non-zero to refuse it: the write
     * has no effect and is counted in vmm_device_refused(). */
    int (*write)(void *opaque, uint64_t offset, unsigned width, uint64_t value);
    /* Back to power-on state: before the first run is not needed; called at
     * each restart (on_reboot/on_crash "restart"). Loop thread. */
    void (*reset)(void *opaque);
    /* State for snapshots and migration: write up to `cap` bytes into buf
     * and return the number of bytes the state needs (call again with a
     * bigger buffer when that is more than cap). Loop thread, VM paused. */
    size_t (*save)(void *opaque, void *buf, size_t cap);
    /* Apply a state save() produced. Return 0, or non-zero to refuse it (the
     * load then fails with VMM_EFORMAT). Loop thread, VM paused. */
    int (*load)(void *opaque, const void *buf, size_t len);
    /* The VM is being destroyed; the opaque is yours again. Loop thread. */
    void (*destroy)(void *opaque);
} vmm_device_ops_t;

typedef struct vmm_device_config {
    uint64_t size;     /* sizeof(vmm_device_config_t) */
    const char *name;  /* unique in the VM, 1..31 bytes: names it in snapshots */
    vmm_space_t space;
    uint64_t base;     /* first address / port */
    uint64_t length;   /* bytes / ports; must not overlap the board's devices */
    int irq;           /* interrupt line it drives (x86 GSI, riscv PLIC source), -1: none */
    const vmm_device_ops_t *ops; /* copied */
    void *opaque;      /* passed to every callback */
} vmm_device_config_t;

/* Adds a raw device to the configuration (the strings and ops are copied).
 * VMM_EINVAL for a bad name, an empty or wrapping range, an unknown space;
 * vmm_vm_create() refuses a range or line a board device already uses,
 * naming both. Loop thread. */
typedef struct vmm_config vmm_config_t;
int vmm_config_add_device(vmm_config_t *cfg, const vmm_device_config_t *dev);

/* Drives the device's interrupt line (level-triggered: 1 raised, 0
 * lowered). Any thread. VMM_ENOENT for an unknown name, VMM_EINVAL when the
 * device has no line. */
int vmm_vm_device_set_irq(vmm_vm_t *vm, const char *name, int level);

/* Writes the guest refused through the device's write callback so far. */
uint64_t vmm_vm_device_refused(vmm_vm_t *vm, const char *name);

/* --- block backends --- */

typedef enum vmm_blk_op {
    VMM_BLK_READ = 0,
    VMM_BLK_WRITE = 1,
    VMM_BLK_FLUSH = 2,        /* make every completed write durable */
    VMM_BLK_DISCARD = 3,      /* the range's contents no longer matter */
    VMM_BLK_WRITE_ZEROES = 4, /* the range must read as zeros */
} vmm_blk_op_t;

/* One request, owned by the library until vmm_blk_request_complete(). */
typedef struct vmm_blk_request vmm_blk_request_t;

vmm_blk_op_t vmm_blk_request_op(const vmm_blk_request_t *req);
/* Byte offset and length (both multiples of 512; 0 for FLUSH). */
uint64_t vmm_blk_request_offset(const vmm_blk_request_t *req);
uint64_t vmm_blk_request_length(const vmm_blk_request_t *req);
/* READ/WRITE: the guest's buffers (guest memory, valid until completion);
 * a READ fills them, a WRITE reads them. Returns the count. */
int vmm_blk_request_buffers(const vmm_blk_request_t *req, const struct iovec **iov);
/* Finishes the request: status 0, or non-zero for an I/O error the guest
 * sees. Exactly once per request, from any thread, at once (inside submit)
 * or later. */
void vmm_blk_request_complete(vmm_blk_request_t *req, int status);

typedef struct vmm_blk_backend_ops {
    uint64_t size; /* sizeof(vmm_blk_backend_ops_t) */
    /* A request to carry out. Called on the disk's worker thread, never on a
     * vCPU thread; requests of one disk arrive in the guest's order, and
     * several may be outstanding. */
    void (*submit)(void *opaque, vmm_blk_request_t *req);
    /* The disk's size in bytes now (for vmm_vm_disk_refresh, to announce a
     * resize); NULL: the capacity never changes. */
    uint64_t (*capacity)(void *opaque);
    /* The VM is being destroyed and every request completed. */
    void (*destroy)(void *opaque);
} vmm_blk_backend_ops_t;

/* --- network backends --- */

typedef struct vmm_net_backend_ops {
    uint64_t size; /* sizeof(vmm_net_backend_ops_t) */
    /* A frame the guest sent: an Ethernet frame (no virtio header) of `len`
     * bytes, valid during the call. On the NIC's worker thread, never a vCPU
     * thread, in the guest's order; returning drops the buffer back to the
     * guest (copy what you keep). */
    void (*send)(void *opaque, const void *frame, size_t len);
    /* The VM is being destroyed. */
    void (*destroy)(void *opaque);
} vmm_net_backend_ops_t;

/* Hands an Ethernet frame (14..65550 bytes, no virtio header) to the guest
 * through NIC `name` ("net0", "net1", ... in the config's order), which must
 * be served by the host program (vmm_net_config_t type VMM_NET_HOST). The
 * frame is copied. Any thread. VMM_EBUSY when the NIC's receive queue is
 * full (the guest is not taking frames): try again later, as a link would
 * drop or hold back; VMM_EINVAL for a bad length; VMM_ENOENT for no such
 * NIC. */
int vmm_vm_net_receive(vmm_vm_t *vm, const char *name, const void *frame, size_t len);

/* Re-reads the size of disk `target` (its image file, or the backend's
 * capacity callback) and, if it changed, tells the guest with a config
 * interrupt (Linux resizes the block device). Any thread. */
int vmm_vm_disk_refresh(vmm_vm_t *vm, const char *target, uint64_t *new_size);

#ifdef __cplusplus
}
#endif
#endif
