/* What the VMM does on each return from KVM_RUN: port and MMIO accesses go
 * to the machine's buses; everything that means the guest cannot go on
 * becomes a CRASH outcome whose reason says what and where.
 *
 * HLT: with the in-kernel LAPIC, HLT never reaches user space (the kernel
 * sleeps until an interrupt). Should a host deliver it anyway, a HLT with
 * interrupts enabled just resumes, and one with interrupts disabled (nothing
 * can ever wake it) ends the run as a crash "halted with interrupts disabled"
 * so a test sees it instead of hanging.
 */
#include "backend/kvm/kvm.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/error.h"
#include "util/log.h"

#define RFLAGS_IF (1u << 9)
#define MAX_INSN_BYTES 15

static void exit_io(struct machine *m, unsigned index, struct kvm_run *run)
{
    unsigned size = run->io.size;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    /* A string instruction (rep outsb/insb) delivers `count` items at once. */
    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        if (run->io.direction == KVM_EXIT_IO_OUT) {
            uint64_t v = 0;
            memcpy(&v, data, size);
            bus_write(&m->pio, run->io.port, size, v);
        } else {
            uint64_t v = 0;
            bus_read(&m->pio, run->io.port, size, &v);
            memcpy(data, &v, size);
        }
    }
    MACHINE_VCPU_STAT_ADD(&m->vcpus[index], io_exits, run->io.count);
}

static void exit_mmio(struct machine *m, unsigned index, struct kvm_run *run)
{
    unsigned len = run->mmio.len;
    if (len > sizeof(run->mmio.data))
        len = sizeof(run->mmio.data);
    if (run->mmio.is_write) {
        uint64_t v = 0;
        memcpy(&v, run->mmio.data, len);
        bus_write(&m->mmio, run->mmio.phys_addr, len, v);
    } else {
        uint64_t v = 0;
        bus_read(&m->mmio, run->mmio.phys_addr, len, &v);
        memcpy(run->mmio.data, &v, len);
    }
    MACHINE_VCPU_STAT_ADD(&m->vcpus[index], mmio_exits, 1);
}

void kvm_format_code_bytes(struct machine *m, unsigned index, char *out, size_t outlen)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    snprintf(out, outlen, "unreadable");
    if (kvm_vcpu_get_regs(m, index, &r) < 0 || kvm_vcpu_get_sregs(m, index, &s) < 0)
        return;
    struct kvm_translation t = { .linear_address = s.cs.base + r.rip };
    if (ioctl(kvm_vcpu_of(m, index)->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
        return;
    uint8_t bytes[MAX_INSN_BYTES];
    size_t n = 0;
    /* Byte by byte: the instruction may straddle the end of RAM or a page. */
    while (n < sizeof(bytes) && guest_mem_read(&m->mem, t.physical_address + n, &bytes[n], 1) == 0)
        n++;
    if (n == 0)
        return;
    size_t pos = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && pos + 4 < outlen; i++)
        pos += (size_t)snprintf(out + pos, outlen - pos, i ? " %02x" : "%02x", bytes[i]);
}

static uint64_t vcpu_rip(struct machine *m, unsigned index)
{
    struct kvm_regs r;
    return kvm_vcpu_get_regs(m, index, &r) == 0 ? r.rip : 0;
}

static const char *internal_suberror_name(uint32_t sub)
{
    switch (sub) {
    case KVM_INTERNAL_ERROR_EMULATION: return "emulation";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected exit reason";
    default: return "unknown";
    }
}

static int exit_internal_error(struct machine *m, unsigned index, struct kvm_run *run)
{
    char bytes[3 * MAX_INSN_BYTES + 16];
    kvm_format_code_bytes(m, index, bytes, sizeof(bytes));
    uint32_t sub = run->internal.suberror;
    machine_set_outcome(m, VMM_OUTCOME_CRASH, 0,
                        "KVM internal error %u (%s) at rip 0x%llx bytes: %s", sub,
                        internal_suberror_name(sub), (unsigned long long)vcpu_rip(m, index),
                        bytes);
    return 1;
}

static int exit_system_event(struct machine *m, unsigned index, struct kvm_run *run)
{
    switch (run->system_event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        machine_set_outcome(m, VMM_OUTCOME_POWEROFF, 0, "vCPU %u: system event shutdown", index);
        break;
    case KVM_SYSTEM_EVENT_RESET:
        machine_set_outcome(m, VMM_OUTCOME_RESET, 0, "vCPU %u: system event reset", index);
        break;
    default:
        machine_set_outcome(m, VMM_OUTCOME_CRASH, 0, "vCPU %u: system event %u", index,
                            run->system_event.type);
        break;
    }
    return 1;
}

static int exit_hlt(struct machine *m, unsigned index)
{
    MACHINE_VCPU_STAT_ADD(&m->vcpus[index], halts, 1);
    struct kvm_regs r = { 0 };
    if (kvm_vcpu_get_regs(m, index, &r) == 0 && (r.rflags & RFLAGS_IF))
        return 0;
    machine_set_outcome(m, VMM_OUTCOME_CRASH, 0,
                        "vCPU %u halted with interrupts disabled at rip 0x%llx", index,
                        (unsigned long long)r.rip);
    return 1;
}

int kvm_exit_handle(struct machine *m, unsigned index)
{
    struct kvm_run *run = kvm_vcpu_of(m, index)->run;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        exit_io(m, index, run);
        return 0;
    case KVM_EXIT_MMIO:
        exit_mmio(m, index, run);
        return 0;
    case KVM_EXIT_INTR:
        return 0;
    case KVM_EXIT_HLT:
        return exit_hlt(m, index);
    case KVM_EXIT_SHUTDOWN: {
        char bytes[3 * MAX_INSN_BYTES + 16];
        kvm_format_code_bytes(m, index, bytes, sizeof(bytes));
        machine_set_outcome(m, VMM_OUTCOME_CRASH, 0,
                            "vCPU %u: triple fault (shutdown) at rip 0x%llx bytes: %s", index,
                            (unsigned long long)vcpu_rip(m, index), bytes);
        return 1;
    }
    case KVM_EXIT_INTERNAL_ERROR:
        return exit_internal_error(m, index, run);
    case KVM_EXIT_FAIL_ENTRY:
        machine_set_outcome(m, VMM_OUTCOME_CRASH, 0,
                            "vCPU %u: VM entry failed, hardware reason 0x%llx (cpu %u)", index,
                            (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                            run->fail_entry.cpu);
        return 1;
    case KVM_EXIT_SYSTEM_EVENT:
        return exit_system_event(m, index, run);
    case KVM_EXIT_DEBUG:
        /* libvmm never enables guest debugging, so this is a stray #DB/#BP
         * that the host could not reflect into the guest. */
        machine_set_outcome(m, VMM_OUTCOME_CRASH, 0,
                            "vCPU %u: unexpected debug exit (exception %u) at rip 0x%llx", index,
                            run->debug.arch.exception, (unsigned long long)run->debug.arch.pc);
        return 1;
    default:
        machine_set_outcome(m, VMM_OUTCOME_CRASH, 0, "vCPU %u: unhandled KVM exit reason %u",
                            index, run->exit_reason);
        return 1;
    }
}
