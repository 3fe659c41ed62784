/* The kvm engine's vCPUs: creation, the KVM_RUN loop, kicks and register
 * access.
 *
 * Kicks: a kick sets kvm_run->immediate_exit (so the next KVM_RUN returns
 * at once, covering a vCPU that is between exits in user space) and sends
 * KICK_SIGNAL with pthread_kill (covering a vCPU in guest mode or halted in
 * the kernel). Either way KVM_RUN returns EINTR and the loop re-reads the
 * machine's request. vCPU threads start with every signal blocked (core)
 * and unblock only KICK_SIGNAL, whose handler is empty and SA_RESTART, so a
 * kick that lands in user space costs a no-op handler and nothing else. No
 * KVM_SET_SIGNAL_MASK: it would make KVM swap the signal mask on every
 * entry and exit, about 1.4 % of an I/O exit round trip here.
 */
#include "backend/kvm/kvm.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "util/error.h"
#include "util/log.h"

/* A real-time signal: host programs rarely use these, unlike SIGUSR1/2. */
#define KICK_SIGNAL (SIGRTMIN + 6)

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

static void kick_handler(int sig)
{
    (void)sig;
}

static void kick_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kick_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(KICK_SIGNAL, &sa, NULL);
}

static int vcpu_ioctl_fail(unsigned index, const char *what)
{
    return vmm_error(VMM_EKVM, "vCPU %u: %s: %s", index, what, strerror(errno));
}

int kvm_vcpu_create(struct machine *m, unsigned index);
int kvm_vcpu_create(struct machine *m, unsigned index)
{
    struct kvm_vm_state *vm = kvm_vm_of(m);
    if (!vm || index >= m->nr_vcpus)
        return vmm_error(VMM_EINVAL, "vCPU %u of %u, or the VM was not created", index,
                         m->nr_vcpus);
    pthread_once(&kick_once, kick_install);
    struct kvm_vcpu_state *v = calloc(1, sizeof(*v));
    if (!v)
        return vmm_error(VMM_ENOMEM, "allocating vCPU %u", index);
    v->fd = -1;
    v->m = m;
    v->index = index;
    m->vcpus[index].engine = v;
    v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
    if (v->fd < 0)
        return vcpu_ioctl_fail(index, "KVM_CREATE_VCPU");
    void *run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (run == MAP_FAILED)
        return vmm_error_errno(errno, "vCPU %u: mapping kvm_run", index);
    v->run = run;
    /* vm_destroy frees v and its fds if anything below fails. */
    int rc = kvm_cpuid_setup(m, index);
    if (rc == 0)
        rc = kvm_vcpu_capture_reset(v);
    if (rc)
        return rc;
    char name[16];
    snprintf(name, sizeof(name), "cpu%u", index);
    return machine_add_component(m, name, &kvm_vcpu_component_ops, v) ? 0 : VMM_ENOMEM;
}

/* Lets kicks reach this thread: the only signal a vCPU thread takes. */
static void vcpu_prepare_thread(void)
{
    sigset_t kick;
    sigemptyset(&kick);
    sigaddset(&kick, KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
}

int kvm_vcpu_run(struct machine *m, unsigned index);
int kvm_vcpu_run(struct machine *m, unsigned index)
{
    struct kvm_vcpu_state *v = kvm_vcpu_of(m, index);
    vcpu_prepare_thread();
    v->thread = pthread_self();
    atomic_store(&v->has_thread, 1);
    v->tsc_frozen_valid = 0;
    while (!machine_should_exit(m)) {
        int rc = ioctl(v->fd, KVM_RUN, 0);
        if (rc < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                /* A kick: clear and re-check the request. */
                __atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELAXED);
                continue;
            }
            machine_set_outcome(m, VMM_OUTCOME_CRASH, 0, "vCPU %u: KVM_RUN failed: %s", index,
                                strerror(errno));
            break;
        }
        MACHINE_VCPU_STAT_ADD(&m->vcpus[index], exits, 1);
        if (kvm_exit_handle(m, index))
            break;
    }
    /* An exit the VMM handled (port or MMIO read) completes only at the next
     * KVM_RUN, which writes the result into the registers and moves RIP on.
     * Run once with immediate_exit so a paused vCPU's state (regs, a
     * snapshot) is at an instruction boundary with that I/O done. */
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELAXED);
    while (ioctl(v->fd, KVM_RUN, 0) < 0 && errno == EAGAIN)
        ;
    __atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELAXED);
    atomic_store(&v->has_thread, 0);
    kvm_vcpu_freeze_tsc(v);
    return 0;
}

void kvm_vcpu_kick(struct machine *m, unsigned index);
void kvm_vcpu_kick(struct machine *m, unsigned index)
{
    struct kvm_vcpu_state *v = kvm_vcpu_of(m, index);
    if (!v || !v->run)
        return;
    /* Atomic: the vCPU thread clears it concurrently (and KVM reads it). */
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
    if (atomic_load(&v->has_thread))
        pthread_kill(v->thread, KICK_SIGNAL);
}

int kvm_vcpu_get_regs(struct machine *m, unsigned index, struct kvm_regs *r)
{
    if (ioctl(kvm_vcpu_of(m, index)->fd, KVM_GET_REGS, r) < 0)
        return vcpu_ioctl_fail(index, "KVM_GET_REGS");
    return 0;
}

int kvm_vcpu_set_regs(struct machine *m, unsigned index, const struct kvm_regs *r)
{
    if (ioctl(kvm_vcpu_of(m, index)->fd, KVM_SET_REGS, r) < 0)
        return vcpu_ioctl_fail(index, "KVM_SET_REGS");
    return 0;
}

int kvm_vcpu_get_sregs(struct machine *m, unsigned index, struct kvm_sregs *s)
{
    if (ioctl(kvm_vcpu_of(m, index)->fd, KVM_GET_SREGS, s) < 0)
        return vcpu_ioctl_fail(index, "KVM_GET_SREGS");
    return 0;
}

int kvm_vcpu_set_sregs(struct machine *m, unsigned index, const struct kvm_sregs *s)
{
    if (ioctl(kvm_vcpu_of(m, index)->fd, KVM_SET_SREGS, s) < 0)
        return vcpu_ioctl_fail(index, "KVM_SET_SREGS");
    return 0;
}

int kvm_vcpu_regs(struct machine *m, unsigned index, vmm_vcpu_regs_t *out);
int kvm_vcpu_regs(struct machine *m, unsigned index, vmm_vcpu_regs_t *out)
{
    if (index >= m->nr_vcpus || !kvm_vcpu_of(m, index))
        return vmm_error(VMM_EINVAL, "vCPU %u of %u", index, m->nr_vcpus);
    struct kvm_regs r;
    struct kvm_sregs s;
    int rc = kvm_vcpu_get_regs(m, index, &r);
    if (rc == 0)
        rc = kvm_vcpu_get_sregs(m, index, &s);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->pc = r.rip;
    out->sp = r.rsp;
    const uint64_t gpr[16] = { r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
                               r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15 };
    memcpy(out->gpr, gpr, sizeof(gpr));
    out->flags = r.rflags;
    if (!(s.cr0 & 1))
        out->mode = 16;
    else if ((s.efer & (1u << 10)) && s.cs.l)
        out->mode = 64;
    else
        out->mode = s.cs.db ? 32 : 16;
    return 0;
}
