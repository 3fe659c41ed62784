/* A disk the host program serves itself: an 8 MiB RAM disk behind the
 * guest's virtio-blk, with requests completed later on a thread of the
 * program's own (as a network store would), not inside the submit call.
 *
 *   host-disk KERNEL INITRD [CMDLINE]
 *
 * Boots a riscv64 Linux (the test kernel and initramfs from
 * scripts/guest/all.sh) whose test script tests/guest/linux/tests/hostdisk.sh
 * reads the disk's first MiB (a pattern the host wrote) and writes a
 * second one. After the guest powers off the program checks what the guest
 * wrote and prints the request counts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmm/vmm.h>

#define DISK_SIZE (8u << 20)
#define MIB (1u << 20)

struct ram_disk {
    uint8_t *bytes;
    /* Requests wait here for the completion thread. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    vmm_blk_request_t *queue[256];
    unsigned head, tail;
    int stop;
    pthread_t thread;
    unsigned reads, writes, flushes, others;
};

static void serve(struct ram_disk *d, vmm_blk_request_t *req)
{
    const struct iovec *iov;
    int n = vmm_blk_request_buffers(req, &iov);
    uint64_t off = vmm_blk_request_offset(req);
    uint64_t len = vmm_blk_request_length(req);
    if (off > DISK_SIZE || len > DISK_SIZE - off) {
        vmm_blk_request_complete(req, 1);
        return;
    }
    switch (vmm_blk_request_op(req)) {
    case VMM_BLK_READ:
        for (int i = 0; i < n; off += iov[i].iov_len, i++)
            memcpy(iov[i].iov_base, d->bytes + off, iov[i].iov_len);
        d->reads++;
        break;
    case VMM_BLK_WRITE:
        for (int i = 0; i < n; off += iov[i].iov_len, i++)
            memcpy(d->bytes + off, iov[i].iov_base, iov[i].iov_len);
        d->writes++;
        break;
    case VMM_BLK_FLUSH:
        d->flushes++; /* RAM: nothing to make durable */
        break;
    case VMM_BLK_DISCARD:
    case VMM_BLK_WRITE_ZEROES:
        memset(d->bytes + off, 0, len);
        d->others++;
        break;
    }
    vmm_blk_request_complete(req, 0);
}

static void *completer(void *arg)
{
    struct ram_disk *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (d->head == d->tail && !d->stop)
            pthread_cond_wait(&d->cond, &d->lock);
        if (d->head == d->tail)
            break;
        vmm_blk_request_t *req = d->queue[d->tail++ % 256];
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        serve(d, req);
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* On the disk's worker thread: queue it and return at once. */
static void disk_submit(void *opaque, vmm_blk_request_t *req)
{
    struct ram_disk *d = opaque;
    pthread_mutex_lock(&d->lock);
    while (d->head - d->tail == 256)
        pthread_cond_wait(&d->cond, &d->lock);
    d->queue[d->head++ % 256] = req;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static void on_event(const vmm_event_t *ev, void *opaque)
{
    if (ev->type == VMM_EVENT_CONSOLE)
        fwrite(ev->u.console.data, 1, ev->u.console.len, stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s KERNEL INITRD [CMDLINE]\n", argv[0]);
        return 2;
    }
    static struct ram_disk d;
    d.bytes = malloc(DISK_SIZE);
    if (!d.bytes)
        return 1;
    for (unsigned i = 0; i < DISK_SIZE; i++)
        d.bytes[i] = (uint8_t)(i % 251);
    pthread_mutex_init(&d.lock, NULL);
    pthread_cond_init(&d.cond, NULL);
    pthread_create(&d.thread, NULL, completer, &d);

    static const vmm_blk_backend_ops_t ops = { .size = sizeof(ops), .submit = disk_submit };
    vmm_disk_config_t disk = {
        .size = sizeof(disk),
        .target = "vda",
        .serial = "HOSTDISK",
        .backend = &ops,
        .backend_opaque = &d,
        .capacity = DISK_SIZE,
    };
    vmm_host_t *host;
    vmm_config_t *cfg;
    vmm_vm_t *vm;
    if (vmm_host_new(&host, NULL) || vmm_config_new(&cfg))
        return 1;
    vmm_config_set_kernel(cfg, argv[1]);
    vmm_config_set_initrd(cfg, argv[2]);
    vmm_config_set_cmdline(cfg, argc > 3 ? argv[3] : "console=ttyS0 libvmm.test=run:hostdisk");
    vmm_config_set_memory(cfg, 128 << 20);
    int rc = vmm_config_add_disk(cfg, &disk);
    if (rc == 0)
        rc = vmm_vm_create(host, cfg, &vm);
    vmm_config_free(cfg);
    if (rc == 0) {
        vmm_vm_set_event_cb(vm, on_event, NULL);
        rc = vmm_vm_start(vm);
    }
    if (rc) {
        fprintf(stderr, "host-disk: %s\n", vmm_last_error());
        return 1;
    }
    vmm_vm_wait(vm);
    vmm_outcome_t out = { .size = sizeof(out) };
    vmm_vm_outcome(vm, &out);
    vmm_vm_destroy(vm);
    vmm_host_free(host);

    pthread_mutex_lock(&d.lock);
    d.stop = 1;
    pthread_cond_broadcast(&d.cond);
    pthread_mutex_unlock(&d.lock);
    pthread_join(d.thread, NULL);

    /* The guest wrote its second MiB as bytes 0x5a. */
    unsigned bad = 0;
    for (unsigned i = MIB; i < 2 * MIB; i++)
        bad += d.bytes[i] != 0x5a;
    printf("host-disk: %u reads, %u writes, %u flushes; second MiB %s\n", d.reads, d.writes,
           d.flushes, bad ? "WRONG" : "as the guest wrote it");
    free(d.bytes);
    if (bad)
        return 1;
    return out.kind == VMM_OUTCOME_POWEROFF ? 0 : out.kind == VMM_OUTCOME_DEBUG_EXIT ? out.exit_code : 1;
}
