/* libFuzzer target for the x86 kernel loaders (arch/x86): the input is the
 * kernel file handed to x86_load(), which detects bzImage / Multiboot /
 * ELF (PVH or plain) and loads it into an 8 MiB guest with a one-page
 * initrd and a short command line. A bzImage with an LZ4 payload takes the
 * host-side inflate path (x86_lz4.c) and the ELF loader on its output; an
 * input that starts with the LZ4 legacy magic also goes straight to the
 * decoder.
 *
 * Properties checked on every input:
 *   - no crash, hang, leak or out-of-bounds access (the sanitizers watch);
 *   - the result is 0 or a VMM_E* code, and a failure leaves a message;
 *   - on success the entry state is sane: a known mode, and rip is guest
 *     RAM below 4 GiB (where the boot vCPU can start).
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Built two ways: with libFuzzer from the x86 loader sources alone
 * (FUZZ_STANDALONE, run-loader-fuzz.sh), and by meson against libvmm's
 * internal library with tests/fuzz/driver.c for the corpus replay.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/x86_boot.h"
#include "machine/machine.h"
#include "loader_rig.h"
#include "util/error.h"

#define RAM_SIZE (8ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int x86_layout_memory(struct machine *m, uint64_t ram_size); /* x86_mem.c */

#ifdef FUZZ_STANDALONE
/* What x86_platform.c names but loading never reaches (the vCPU setup
 * needs /dev/kvm); the standalone build leaves the kvm engine out. */
const struct engine_ops engine_kvm;
int x86_cpu_setup(struct machine *m, const struct x86_entry *e)
{
    (void)m;
    (void)e;
    return VMM_ENOTSUP;
}
int x86_board_create(struct machine *m, const vmm_config_t *cfg)
{
    (void)m;
    (void)cfg;
    return VMM_ENOTSUP;
}
void x86_board_destroy(struct machine *m)
{
    (void)m;
}
#endif

static struct machine machine;
static struct rig_file kernel_file, initrd_file;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_x86_loader: %s: %s\n", what, detail ? detail : "");
    abort();
}

static void setup_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    if (machine_init(&machine, 1) < 0 || x86_layout_memory(&machine, RAM_SIZE) < 0)
        fail("cannot set up the guest", vmm_last_error());
    rig_file_open(&kernel_file, "kernel");
    rig_file_open(&initrd_file, "initrd");
    uint8_t initrd[4096];
    memset(initrd, 0x5a, sizeof(initrd));
    rig_file_set(&initrd_file, initrd, sizeof(initrd));
}

static void check_result(int rc, const struct x86_entry *e)
{
    if (rc > 0 || rc < VMM_EBUSY)
        fail("result is not 0 or a VMM_E* code", vmm_last_error());
    if (rc < 0) {
        if (!*vmm_last_error())
            fail("failure without a message", NULL);
        return;
    }
    if (e->mode != X86_ENTRY_PROTECTED32 && e->mode != X86_ENTRY_LONG64)
        fail("unknown entry mode", NULL);
    if (e->rip >= X86_MMIO_GAP_END || !guest_mem_ptr(&machine.mem, e->rip, 1)) {
        char rip[32];
        snprintf(rip, sizeof(rip), "0x%llx", (unsigned long long)e->rip);
        fail("accepted kernel enters outside guest RAM below 4 GiB", rip);
    }
}

/* The extent the kernel of a bzImage claims from its header (the
 * protected-mode code at 1 MiB, init_size, a relocatable kernel's
 * pref_address + init_size), or 0 when the payload is LZ4 (libvmm may
 * have inflated it to addresses of its own). */
static uint64_t bz_kernel_end(const uint8_t *data, size_t size)
{
    unsigned sects = data[0x1f1] ? data[0x1f1] : 4;
    size_t setup = (size_t)(sects + 1) * 512;
    unsigned version = x86_rd16(data + 0x206);
    if (version >= 0x0208) {
        uint64_t off = setup + (uint64_t)x86_rd32(data + 0x248);
        if (off < size && x86_lz4_is_legacy(data + off, size - off))
            return 0;
    }
    uint64_t end = X86_KERNEL_ADDR + (size - setup);
    if (version >= 0x020a) {
        uint64_t init = x86_rd32(data + 0x260), pref = x86_rd64(data + 0x258);
        if (X86_KERNEL_ADDR + init > end)
            end = X86_KERNEL_ADDR + init;
        if (data[0x234] && pref + init >= pref && pref + init > end)
            end = pref + init;
    }
    return end;
}

/* A bzImage accepted with the initrd: the zero page names it, it is
 * intact and above everything the kernel claims. */
static void check_bz_initrd(const uint8_t *data, size_t size)
{
    const uint8_t *zp = guest_mem_ptr(&machine.mem, X86_INFO_ADDR, 4096);
    uint64_t addr = x86_rd32(zp + 0x218), len = x86_rd32(zp + 0x21c);
    const uint8_t *p = guest_mem_ptr(&machine.mem, addr, 4096);
    if (len != 4096 || !p)
        fail("zero page does not name the initrd", NULL);
    for (size_t i = 0; i < 4096; i++)
        if (p[i] != 0x5a)
            fail("initrd overwritten", NULL);
    uint64_t end = bz_kernel_end(data, size);
    if (addr < end) {
        char why[96];
        snprintf(why, sizeof(why), "initrd at 0x%llx, kernel claims up to 0x%llx",
                 (unsigned long long)addr, (unsigned long long)end);
        fail("initrd overlaps the kernel", why);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    if (x86_lz4_is_legacy(data, size)) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        int rc = x86_lz4_legacy_decode(data, size, 1 << 20, &out, &out_len);
        if (rc == 0 && (!out || out_len == 0 || out_len > (1 << 20)))
            fail("LZ4 decode succeeded with a bad buffer", NULL);
        if (rc < 0 && (out || !*vmm_last_error()))
            fail("LZ4 decode failed with a buffer or without a message", NULL);
        free(out);
    }

    rig_file_set(&kernel_file, data, size);
    for (int with_initrd = 0; with_initrd < 2; with_initrd++) {
        struct boot_spec spec = {
            .kernel = kernel_file.path,
            .initrd = with_initrd ? initrd_file.path : NULL,
            .cmdline = "console=ttyS0 fuzz",
            .ram_size = RAM_SIZE,
            .nr_vcpus = 1,
        };
        struct x86_entry e;
        memset(&e, 0, sizeof(e));
        vmm_error_clear();
        int rc = x86_load(&machine, &spec, &e);
        if (getenv("FUZZ_VERBOSE"))
            fprintf(stderr, "x86_load%s: %d %s (mode %d rip 0x%llx)\n",
                    with_initrd ? " +initrd" : "", rc, rc ? vmm_last_error() : "", (int)e.mode,
                    (unsigned long long)e.rip);
        check_result(rc, &e);
        if (rc == 0 && with_initrd && x86_bzimage_detect(data, size))
            check_bz_initrd(data, size);
        /* The initrd only changes placement; skip the second run when the
         * kernel was refused before that. */
        if (!with_initrd && *vmm_last_error() &&
            !strstr(vmm_last_error(), "initrd") && !strstr(vmm_last_error(), "command line"))
            break;
    }
    return 0;
}
