/* What the C bench guests for the soft engine share (riscv-cpu.c,
 * riscv-dispatch.c, riscv-fp.c): the UART at 0x10000000, minstret, and the
 * one line each prints at the end, which bench/run.py parses. */
#ifndef BENCH_GUESTS_RISCV_BENCH_H
#define BENCH_GUESTS_RISCV_BENCH_H

#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000)

static void uart_putc(char c)
{
    while (!(UART[5] & 0x20)) /* LSR.THRE */
        ;
    UART[0] = (uint8_t)c;
}

static void uart_puts(const char *s)
{
    while (*s)
        uart_putc(*s++);
}

static void uart_hex(uint64_t v)
{
    for (int i = 60; i >= 0; i -= 4)
        uart_putc("0123456789abcdef"[(v >> i) & 0xf]);
}

static uint64_t read_instret(void)
{
    /* The start-up trap handler returns 0 in a0 if minstret traps. */
    register uint64_t a0 __asm__("a0");
    __asm__ volatile("csrr a0, minstret" : "=r"(a0) : : "memory");
    return a0;
}

/* "cpu: rounds=R checksum=S instret=N", all in hex. */
static void report(uint64_t rounds, uint64_t checksum, uint64_t instret)
{
    uart_puts("cpu: rounds=");
    uart_hex(rounds);
    uart_puts(" checksum=");
    uart_hex(checksum);
    uart_puts(" instret=");
    uart_hex(instret);
    uart_puts("\n");
}

#endif
