/* Scheduler test guest for the soft engine (riscv64 virt, M-mode, bare,
 * any number of harts). The host writes MODE before starting the VM:
 *   0 busy:  every hart counts at COUNTERS + 8 * hartid, forever.
 *   1 idle:  every hart sleeps in WFI with no interrupt enabled, forever.
 *   2 timer: hart 0 arms its CLINT timer TIMER_DELAY ticks ahead, WFIs,
 *            and stores how late it woke (mtime - deadline, in 100 ns
 *            ticks) in SAMPLES[i], NSAMPLES times; DONE counts them.
 *            Other harts idle.
 *   3 ipi:   hart 0 stamps mtime into SENT and raises hart 1's CLINT
 *            software interrupt; hart 1 wakes from WFI and stores
 *            mtime - SENT in SAMPLES[i]; hart 0 waits for DONE to move,
 *            spins about 0.5 ms, and repeats NSAMPLES times.
 */
#define CLINT 0x2000000
#define MTIMECMP (CLINT + 0x4000)
#define MTIME (CLINT + 0xbff8)
#define COUNTERS 0x80100000
#define MODE 0x80200000
#define DONE 0x80200008
#define SENT 0x80200010
#define SAMPLES 0x80300000
#define NSAMPLES 200
#define TIMER_DELAY 5000 /* 0.5 ms */

    .section .text
    .globl _start
_start:
    csrw mie, zero
    csrr s0, mhartid
    li t0, MODE
    ld s1, 0(t0)
    li t0, 1
    beq s1, t0, idle
    li t0, 2
    beq s1, t0, timer
    li t0, 3
    beq s1, t0, ipi

busy:
    li t0, COUNTERS
    slli t1, s0, 3
    add s2, t0, t1
1:  ld t1, 0(s2)
    addi t1, t1, 1
    sd t1, 0(s2)
    j 1b

idle:
    wfi
    j idle

/* --- timer wake-up latency (hart 0) --- */
timer:
    bnez s0, idle
    li s3, SAMPLES
    li s4, NSAMPLES
    li s5, MTIME
    li s6, MTIMECMP
    li t0, 1 << 7          /* MTIE: WFI wakes on it; MIE stays off, no trap */
    csrw mie, t0
1:  ld t1, 0(s5)
    li t2, TIMER_DELAY
    add s7, t1, t2         /* deadline */
    sd s7, 0(s6)
2:  wfi
    csrr t0, mip
    andi t0, t0, 1 << 7
    beqz t0, 2b
    ld t1, 0(s5)
    sub t1, t1, s7
    sd t1, 0(s3)
    addi s3, s3, 8
    li t0, -1
    sd t0, 0(s6)           /* disarm */
    li t0, DONE
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    addi s4, s4, -1
    bnez s4, 1b
    j idle

/* --- IPI wake-up latency (hart 0 sends, hart 1 receives) --- */
ipi:
    li t0, 1
    beq s0, t0, ipi_receiver
    bnez s0, idle
    li s4, NSAMPLES
    li s5, MTIME
    li s6, DONE
1:  ld s7, 0(s6)           /* DONE before this round */
    ld t1, 0(s5)
    li t0, SENT
    sd t1, 0(t0)
    fence
    li t0, CLINT + 4       /* msip of hart 1 */
    li t1, 1
    sw t1, 0(t0)
2:  ld t1, 0(s6)
    beq t1, s7, 2b         /* wait for the receiver */
    ld t2, 0(s5)           /* spin about 0.5 ms */
    li t0, 5000
    add t2, t2, t0
3:  ld t1, 0(s5)
    bltu t1, t2, 3b
    addi s4, s4, -1
    bnez s4, 1b
    j idle

ipi_receiver:
    li s3, SAMPLES
    li s5, MTIME
    li s6, DONE
    li t0, 1 << 3          /* MSIE */
    csrw mie, t0
1:  wfi
    csrr t0, mip
    andi t0, t0, 1 << 3
    beqz t0, 1b
    ld t1, 0(s5)
    li t0, SENT
    ld t2, 0(t0)
    sub t1, t1, t2
    sd t1, 0(s3)
    addi s3, s3, 8
    li t0, CLINT + 4
    sw zero, 0(t0)         /* clear our msip */
    fence
    ld t1, 0(s6)
    addi t1, t1, 1
    sd t1, 0(s6)
    j 1b
