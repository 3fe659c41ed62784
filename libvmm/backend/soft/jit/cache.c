/* The code cache of one hart's translator: a memfd of fixed size mapped
 * twice, once read-write (where the translator writes and patches code)
 * and once read-execute (where the CPU runs it). No mapping is ever
 * writable and executable at once, so a guest that could make the host
 * write somewhere in it still could not make it run what it wrote, and
 * there is no mprotect flip per translation.
 *
 * The first bytes hold the trampoline every entry goes through: it saves
 * the host's callee-saved registers, loads the ones the translated code
 * lives on (rbx = &h->x[16], r12 = the CPU core's state, r15 = the
 * instruction budget, r14 = the inline memory-access count; the
 * translator's state is reached through r12, rv_cpu.jit) and jumps to the
 * block; the shared exit sequence stores the two counters back, restores
 * the host's registers and returns the exit reason left in eax. A flush
 * keeps the trampoline and drops everything after it.
 */

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/soft/jit/emit.h"
#include "backend/soft/jit/jit_internal.h"

void rv_jcache_emit_helper_call(struct jx_buf *b, const void *fn)
{
    jx_load(b, 1, RAX, R12, JIT_OFF);
    jx_store(b, 1, RAX, RV_JIT_BUDGET_OFF, R15);
    jx_store(b, 1, RAX, RV_JIT_MEMOPS_OFF, R14);
    jx_mov_imm(b, RAX, (uint64_t)(uintptr_t)fn);
    jx_call_r(b, RAX);
    jx_load(b, 1, RCX, R12, JIT_OFF);
    jx_load(b, 1, R15, RCX, RV_JIT_BUDGET_OFF);
    jx_load(b, 1, R14, RCX, RV_JIT_MEMOPS_OFF);
}

static void jmp_to(struct jx_buf *b, const uint8_t *target)
{
    size_t at = jx_jmp32(b);
    jx_patch_rel32(b->start + at, target);
}

/* A memory access's slow path, called from a block's out-of-line code
 * with rsi = the address, rdx = the value (stores), rcx = the guest pc
 * and eax = RV_JH_INFO(...). It keeps the guest registers that live in
 * caller-saved host registers (the helper changes none of them but a
 * load's rd, which the caller reloads), and when the helper ends the run it
 * leaves through the exit with the helper's reason instead of returning.
 * Five pushes after the call's leave the stack aligned for the C call. */
static uint8_t *emit_slow_access(struct jx_buf *b, const void *helper, int store,
                                 const uint8_t *leave)
{
    static const int kept[] = { RDI, R8, R9, R10, R11 };
    uint8_t *at = b->p;
    for (unsigned i = 0; i < 5; i++)
        jx_push(b, kept[i]);
    if (store) { /* helper(h, va, val, info, pc) */
        jx_mov_rr(b, R8, RCX);
        jx_mov_rr(b, RCX, RAX);
    } else { /* helper(h, va, info, pc) */
        jx_mov_rr(b, RDX, RAX);
    }
    jx_lea(b, RDI, RBX, -X_BIAS);
    rv_jcache_emit_helper_call(b, helper);
    for (int i = 4; i >= 0; i--)
        jx_pop(b, kept[i]);
    jx_test_rr(b, 0, RAX, RAX);
    size_t out = jx_jcc32(b, CC_NE);
    jx_patch_rel32(b->start + out, leave);
    jx_ret(b);
    return at;
}

/* The shared out-of-line paths (struct rv_jcache). */
static void emit_shared_paths(struct rv_jcache *cc, struct jx_buf *b)
{
    /* a slow path's helper ended the run: drop the return address, exit */
    uint8_t *leave = b->p;
    jx_alu_ri(b, 1, ALU_ADD, RSP, 8);
    jmp_to(b, cc->exit_rw);
    cc->load_rw = emit_slow_access(b, (const void *)rv_jh_load, 0, leave);
    cc->store_rw = emit_slow_access(b, (const void *)rv_jh_store, 1, leave);

    /* A jump to ask for a link: called with rax = the guest target, and
     * after the call 8 bytes of register state (rv_jit.xstate) and the
     * patch site's offset from them (4 bytes); it never returns. */
    cc->chain_rw = b->p;
    jx_pop(b, RCX);
    jx_store(b, 1, RBX, PC_OFF, RAX);
    jx_load(b, 1, RDX, RCX, 0);
    jx_load(b, 0, RAX, RCX, 8);
    jx_movsxd(b, RAX, RAX);
    jx_alu_rr(b, 1, ALU_ADD, RAX, RCX);
    jx_load(b, 1, RCX, R12, JIT_OFF);
    jx_store(b, 1, RCX, RV_JIT_PATCH_OFF, RAX);
    jx_store(b, 1, RCX, RV_JIT_XSTATE_OFF, RDX);
    jx_mov_imm(b, RAX, RV_JIT_EXIT_CHAIN);
    jmp_to(b, cc->exit_rw);

    /* jumped to with rax = the guest pc to go on at: through the lookup,
     * or (the budget ran out at a block's entry) back to rv_hart_run */
    cc->lookup_rw = b->p;
    jx_store(b, 1, RBX, PC_OFF, RAX);
    jx_mov_imm(b, RAX, RV_JIT_EXIT_LOOKUP);
    jmp_to(b, cc->exit_rw);
    cc->budget_rw = b->p;
    jx_store(b, 1, RBX, PC_OFF, RAX);
    jx_mov_imm(b, RAX, RV_JIT_EXIT_BUDGET);
    jmp_to(b, cc->exit_rw);
}

static void emit_trampoline(struct rv_jcache *cc)
{
    struct jx_buf b;
    jx_buf_init(&b, cc->rw, cc->size);
    static const int saved[] = { RBP, RBX, R12, R13, R14, R15 };
    for (unsigned i = 0; i < 6; i++)
        jx_push(&b, saved[i]);
    jx_alu_ri(&b, 1, ALU_SUB, RSP, 8); /* 16-byte aligned stack for helper calls */
    jx_lea(&b, RBX, RDI, X_BIAS);
    jx_load(&b, 1, R12, RDI, (int32_t)offsetof(struct rv_hart, cpu));
    jx_load(&b, 1, RAX, R12, JIT_OFF);
    jx_load(&b, 1, R15, RAX, RV_JIT_BUDGET_OFF); /* the counters live in registers */
    jx_load(&b, 1, R14, RAX, RV_JIT_MEMOPS_OFF);
    jx_jmp_r(&b, RSI);
    cc->exit_rw = b.p;
    jx_load(&b, 1, RCX, R12, JIT_OFF);
    jx_store(&b, 1, RCX, RV_JIT_BUDGET_OFF, R15);
    jx_store(&b, 1, RCX, RV_JIT_MEMOPS_OFF, R14);
    jx_alu_ri(&b, 1, ALU_ADD, RSP, 8);
    for (int i = 5; i >= 0; i--)
        jx_pop(&b, saved[i]);
    jx_ret(&b);

    /* Indirect jump to guest pc rax: the jump cache, validated against the
     * fetch TLB, or back to the dispatcher's lookup. */
    cc->ijmp_rw = b.p;
    jx_store(&b, 1, RBX, PC_OFF, RAX);
    jx_mov_rr(&b, RCX, RAX);
    jx_shift_ri(&b, 0, SH_SHR, RCX, 1);
    jx_alu_ri(&b, 0, ALU_AND, RCX, RV_JIT_JC_SIZE - 1);
    jx_shift_ri(&b, 0, SH_SHL, RCX, 5);
    jx_alu_rm(&b, 1, ALU_ADD, RCX, R12, JIT_OFF);
    jx_alu_rm(&b, 1, ALU_CMP, RAX, RCX, RV_JIT_JC_OFF);
    size_t miss1 = jx_jcc32(&b, CC_NE);
    jx_mov_rr(&b, RDX, RAX);
    jx_shift_ri(&b, 1, SH_SHR, RDX, 12);
    jx_alu_ri(&b, 0, ALU_AND, RDX, RV_TLB_SIZE - 1);
    jx_imul_ri8(&b, RDX, RDX, (int8_t)sizeof(struct rv_ftlbe));
    jx_alu_rm(&b, 1, ALU_ADD, RDX, R12, (int32_t)offsetof(struct rv_cpu, ftlb));
    jx_mov_rr(&b, RSI, RAX);
    jx_alu_ri(&b, 1, ALU_AND, RSI, -4096);
    jx_alu_rm(&b, 1, ALU_CMP, RSI, RDX, (int32_t)offsetof(struct rv_ftlbe, tag));
    size_t miss2 = jx_jcc32(&b, CC_NE);
    jx_load(&b, 1, RSI, RDX, (int32_t)offsetof(struct rv_ftlbe, gpage));
    jx_alu_rm(&b, 1, ALU_CMP, RSI, RCX, RV_JIT_JC_OFF + 8);
    size_t miss3 = jx_jcc32(&b, CC_NE);
    jx_jmp_m(&b, RCX, RV_JIT_JC_OFF + 16);
    uint8_t *miss = b.p;
    jx_mov_imm(&b, RAX, RV_JIT_EXIT_LOOKUP);
    size_t to_exit = jx_jmp32(&b);
    jx_patch_rel32(b.start + miss1, miss);
    jx_patch_rel32(b.start + miss2, miss);
    jx_patch_rel32(b.start + miss3, miss);
    jx_patch_rel32(b.start + to_exit, cc->exit_rw);
    emit_shared_paths(cc, &b);
    cc->fixed = (jx_pos(&b) + 63) & ~(size_t)63;
    cc->used = cc->trimmed_at = cc->fixed;
    cc->npatched = 0;
    cc->enter = (uint64_t(*)(struct rv_hart *, const uint8_t *))(void *)cc->rx;
}

int rv_jcache_init(struct rv_jcache *cc, size_t size)
{
    cc->fd = memfd_create("libvmm-jit", MFD_CLOEXEC);
    if (cc->fd < 0)
        return -1;
    cc->size = size;
    cc->rw = cc->rx = MAP_FAILED;
    if (ftruncate(cc->fd, (off_t)size) != 0)
        goto fail;
    cc->rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, cc->fd, 0);
    if (cc->rw == MAP_FAILED)
        goto fail;
    cc->rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_NORESERVE, cc->fd, 0);
    if (cc->rx == MAP_FAILED)
        goto fail;
    emit_trampoline(cc);
    return 0;
fail:
    rv_jcache_destroy(cc);
    return -1;
}

void rv_jcache_destroy(struct rv_jcache *cc)
{
    if (cc->rw != MAP_FAILED && cc->rw)
        munmap(cc->rw, cc->size);
    if (cc->rx != MAP_FAILED && cc->rx)
        munmap(cc->rx, cc->size);
    if (cc->fd >= 0)
        close(cc->fd);
    cc->rw = cc->rx = NULL;
    cc->fd = -1;
}

void rv_jcache_reset(struct rv_jcache *cc)
{
    cc->used = cc->fixed;
}

/* A process's resident size counts a shared page once per mapping that
 * maps it: left alone, the write view would double the code cache's share
 * of RSS. So its page table entries go (the memfd keeps the pages; the next
 * write to one maps it again with a minor fault) once the translator has
 * written RV_JCACHE_TRIM_BYTES of new code, or patched older code on
 * RV_JCACHE_TRIM_PAGES pages (links, dropped blocks, undone links), since
 * the last time: the write view then holds at most a few dozen pages.
 * Patches are counted by page, not one by one: each unmapping is a
 * system call and a TLB shootdown across the VM's threads, and a fence.i
 * on an SMP guest undoes hundreds of links on a few pages (counting them
 * one by one, a 2-hart Linux boot made 1221 madvise calls; by page, 169). */
#define RV_JCACHE_TRIM_BYTES (32u << 10)
#define RV_JCACHE_TRIM_PAGES 32u

void rv_jcache_trim(struct rv_jcache *cc)
{
    if (cc->used - cc->trimmed_at < RV_JCACHE_TRIM_BYTES && cc->npatched < RV_JCACHE_TRIM_PAGES &&
        cc->used >= cc->trimmed_at)
        return;
    madvise(cc->rw, cc->size, MADV_DONTNEED);
    cc->trimmed_at = cc->used;
    memset(cc->patched, 0, sizeof(cc->patched));
    cc->npatched = 0;
}
