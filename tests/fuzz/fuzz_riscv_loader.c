/* libFuzzer target for the riscv64 loaders: arch/riscv/image.c (Image
 * header, ELF) and the file handling of arch/riscv/platform.c (kernel,
 * firmware, --dtb). platform.c keeps those steps static, so it is compiled
 * into this file; the steps then run in the order riscv_boot() runs them,
 * minus the hart setup (which needs the soft engine). Each input is tried
 *   A. as the kernel (Image / ELF / raw), with a one-page initrd and the
 *      generated device tree;
 *   B. as the firmware in front of a valid Image;
 *   C. as the --dtb device tree of a valid Image, then patched by /chosen.
 * on a 8 MiB guest.
 *
 * Properties checked on every input:
 *   - no crash, hang, leak or out-of-bounds access (the sanitizers watch);
 *   - the result is 0 or a VMM_E* code, and a failure leaves a message;
 *   - an accepted kernel or firmware starts in guest RAM and ends inside
 *     it; accepted firmware ends below the kernel (it must not overwrite
 *     the kernel or the device tree above it);
 *   - an accepted device tree is a valid blob within DTB_MAX_SIZE that
 *     carries the command line in /chosen.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Built two ways: with libFuzzer from the riscv loader sources alone
 * (FUZZ_STANDALONE, run-loader-fuzz.sh), and by meson against libvmm's
 * internal library with tests/fuzz/driver.c for the corpus replay.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The copy compiled here must not clash with libvmm's own. */
#define platform_riscv64 fuzz_riscv_platform_copy
#include "arch/riscv/platform.c"
#undef platform_riscv64

#include "loader_rig.h"

#define RAM_SIZE (8ULL << 20)
#define CMDLINE "console=ttyS0 fuzz"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef FUZZ_STANDALONE
/* What riscv_boot() and the platform table name but this target never
 * calls: the soft engine and the board are left out of the standalone
 * build. */
const struct engine_ops engine_soft;
struct rv_hart *rv_board_hart(struct rv_board *b, uint64_t id)
{
    (void)b;
    (void)id;
    return NULL;
}
int rv_board_create(struct machine *m, const vmm_config_t *cfg)
{
    (void)m;
    (void)cfg;
    return VMM_ENOTSUP;
}
void rv_board_destroy(struct machine *m)
{
    (void)m;
}
void rv_hart_set_boot(struct rv_hart *h, uint64_t pc, uint64_t a0, uint64_t a1, int priv,
                      int sbi_in_vmm)
{
    (void)h, (void)pc, (void)a0, (void)a1, (void)priv, (void)sbi_in_vmm;
}
#endif

static struct machine machine;
static struct rig_file input_file, image_file, initrd_file;
static uint8_t image[4096]; /* the fixed Image's bytes */

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_riscv_loader: %s: %s\n", what, detail ? detail : "");
    abort();
}

static void setup_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    if (machine_init(&machine, 1) < 0 || riscv_layout_memory(&machine, RAM_SIZE) < 0)
        fail("cannot set up the guest", vmm_last_error());
    rig_file_open(&input_file, "input");
    rig_file_open(&image_file, "Image");
    rig_file_open(&initrd_file, "initrd");
    /* A valid Image: text_offset 2 MiB, 64 KiB once loaded. */
    for (size_t i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i * 13 + 1);
    memset(image, 0, 64);
    image[8 + 2] = 0x20;  /* text_offset 0x200000 */
    image[16 + 2] = 0x01; /* image_size 0x10000 */
    memcpy(image + 48, "RISCV\0\0\0", 8);
    memcpy(image + RV_IMAGE_MAGIC2_OFF, "RSC\x05", 4);
    rig_file_set(&image_file, image, sizeof(image));
    uint8_t initrd[4096];
    memset(initrd, 0x5a, sizeof(initrd));
    rig_file_set(&initrd_file, initrd, sizeof(initrd));
}

static int verbose(void)
{
    static int v = -1;
    if (v < 0)
        v = getenv("FUZZ_VERBOSE") != NULL;
    return v;
}

/* 1 on success, 0 on a well-reported failure; aborts otherwise. */
static int check_rc(const char *step, int rc)
{
    if (verbose())
        fprintf(stderr, "%s: %d %s\n", step, rc, rc ? vmm_last_error() : "");
    if (rc > 0 || rc < VMM_EBUSY)
        fail("result is not 0 or a VMM_E* code", step);
    if (rc < 0 && !*vmm_last_error())
        fail("failure without a message", step);
    return rc == 0;
}

static int in_ram(uint64_t gpa)
{
    return guest_mem_ptr(&machine.mem, gpa, 1) != NULL;
}

static void check_dtb(const void *dtb, size_t size)
{
    if (size > DTB_MAX_SIZE || fdt_check_header(dtb) != 0 || fdt_totalsize(dtb) != size)
        fail("accepted device tree is not a valid blob", NULL);
    int chosen = fdt_path_offset(dtb, "/chosen");
    const char *args = chosen >= 0 ? fdt_getprop(dtb, chosen, "bootargs", NULL) : NULL;
    if (!args || strcmp(args, CMDLINE) != 0)
        fail("accepted device tree lacks the command line", args);
}

/* A: the input as the kernel. */
static void as_kernel(void)
{
    struct rv_boot b = { 0 };
    vmm_error_clear();
    if (!check_rc("kernel", load_kernel(&machine, input_file.path, &b)))
        return;
    if (!in_ram(b.entry) || b.kernel_end <= VIRT_RAM_BASE ||
        b.kernel_end > VIRT_RAM_BASE + machine.ram_size)
        fail("accepted kernel starts or ends outside RAM", NULL);
    if (!check_rc("place dtb", place_dtb(&machine, &b)))
        return;
    if (!check_rc("initrd", load_initrd(&machine, initrd_file.path, &b)))
        return;
    if (b.initrd_start < b.kernel_end || b.initrd_end > b.dtb_addr)
        fail("initrd overlaps the kernel or the device tree", NULL);
    struct dtb_params dp = {
        .ram_base = VIRT_RAM_BASE, .ram_size = machine.ram_size, .nr_harts = 1,
        .cmdline = CMDLINE, .initrd_start = b.initrd_start, .initrd_end = b.initrd_end,
        .mmu_type = RV_MMU_TYPE,
    };
    void *dtb = guest_mem_ptr(&machine.mem, b.dtb_addr, DTB_MAX_SIZE);
    size_t size = 0;
    if (!dtb)
        fail("device tree address is not RAM", NULL);
    if (check_rc("dtb build", dtb_build(&dp, dtb, DTB_MAX_SIZE, &size)))
        check_dtb(dtb, size);
}

/* The valid Image in place with the device tree above it. */
static void image_kernel(struct rv_boot *b)
{
    memset(b, 0, sizeof(*b));
    vmm_error_clear();
    if (load_kernel(&machine, image_file.path, b) != 0 || place_dtb(&machine, b) != 0)
        fail("the fixed Image does not load", vmm_last_error());
}

/* B: the input as firmware in front of the Image. */
static void as_firmware(void)
{
    struct rv_boot b;
    image_kernel(&b);
    uint64_t entry = 0;
    if (!check_rc("firmware", load_firmware(&machine, input_file.path, &b, &entry)))
        return;
    if (!in_ram(entry) || entry >= b.entry)
        fail("accepted firmware is entered outside RAM or above the kernel", NULL);
    const uint8_t *k = guest_mem_ptr(&machine.mem, b.entry, sizeof(image));
    if (!k || memcmp(k, image, sizeof(image)) != 0)
        fail("accepted firmware overwrote the kernel", NULL);
}

/* C: the input as the --dtb device tree. */
static void as_dtb(void)
{
    struct rv_boot b;
    image_kernel(&b);
    struct dtb_params dp = {
        .ram_base = VIRT_RAM_BASE, .ram_size = machine.ram_size, .nr_harts = 1,
        .cmdline = CMDLINE, .initrd_start = 0x80400000, .initrd_end = 0x80401000,
        .mmu_type = RV_MMU_TYPE,
    };
    void *dtb = guest_mem_ptr(&machine.mem, b.dtb_addr, DTB_MAX_SIZE);
    size_t size = 0;
    if (!dtb)
        fail("device tree address is not RAM", NULL);
    if (check_rc("dtb file", load_dtb_file(input_file.path, &dp, dtb, DTB_MAX_SIZE, &size)))
        check_dtb(dtb, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    rig_file_set(&input_file, data, size);
    as_kernel();
    as_firmware();
    as_dtb();
    return 0;
}
