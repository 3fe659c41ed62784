/* SBI (RISC-V Supervisor Binary Interface) implemented by the VMM: when a
 * Linux kernel boots straight into S-mode, its ECALLs are hypercalls handled
 * here (spec v2.0 style: BASE, TIME, IPI, RFENCE, HSM, SRST, DBCN, and the
 * legacy extensions 0x00-0x08).
 */
#ifndef LIBVMM_ARCH_RISCV_SBI_H
#define LIBVMM_ARCH_RISCV_SBI_H

#include <stdint.h>

#include "backend/soft/hart.h"

/* Extension ids. */
#define SBI_EXT_LEGACY_SET_TIMER 0x00
#define SBI_EXT_LEGACY_PUTCHAR 0x01
#define SBI_EXT_LEGACY_GETCHAR 0x02
#define SBI_EXT_LEGACY_CLEAR_IPI 0x03
#define SBI_EXT_LEGACY_SEND_IPI 0x04
#define SBI_EXT_LEGACY_FENCE_I 0x05
#define SBI_EXT_LEGACY_SFENCE_VMA 0x06
#define SBI_EXT_LEGACY_SFENCE_VMA_ASID 0x07
#define SBI_EXT_LEGACY_SHUTDOWN 0x08
#define SBI_EXT_BASE 0x10
#define SBI_EXT_TIME 0x54494D45
#define SBI_EXT_IPI 0x735049
#define SBI_EXT_RFENCE 0x52464E43
#define SBI_EXT_HSM 0x48534D
#define SBI_EXT_SRST 0x53525354
#define SBI_EXT_DBCN 0x4442434E

/* Error codes (returned in a0). */
#define SBI_SUCCESS 0
#define SBI_ERR_FAILED (-1)
#define SBI_ERR_NOT_SUPPORTED (-2)
#define SBI_ERR_INVALID_PARAM (-3)
#define SBI_ERR_DENIED (-4)
#define SBI_ERR_INVALID_ADDRESS (-5)
#define SBI_ERR_ALREADY_AVAILABLE (-6)
#define SBI_ERR_ALREADY_STARTED (-7)
#define SBI_ERR_ALREADY_STOPPED (-8)

/* HSM states (hart->hsm_state). */
#define SBI_HSM_STARTED 0
#define SBI_HSM_STOPPED 1
#define SBI_HSM_START_PENDING 2

#define SBI_SPEC_VERSION 0x02000000 /* 2.0: major << 24 | minor */
#define SBI_IMPL_ID 0x4c564d4d      /* "LVMM"; not an assigned id */
#define SBI_IMPL_VERSION 0x00000001

/* Most bytes one DBCN console_write/console_read moves (the caller sees a
 * short count and loops, as the spec allows). */
#define SBI_DBCN_MAX_CHUNK 4096

/* The rv_hart_hooks.sbi_call hook: h->hooks->opaque is the struct rv_board.
 * Reads a7 (extension), a6 (function), a0..a5; writes a0 (error) and a1
 * (value), or only a0 for the legacy extensions. Returns 0. */
int sbi_call(struct rv_hart *h);

#endif
