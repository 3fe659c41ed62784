/* Control-flow-bound bare-metal workload for the soft engine, the other
 * shape next to riscv-cpu.c: a bytecode interpreter (a switch compiled to
 * a jump table: one indirect jump per bytecode, targets changing all the
 * time) running a small program that sums, multiplies and calls, and a
 * recursive Fibonacci (a call and a return per step: indirect jumps
 * through ra). A translator that only chains direct jumps gains little
 * here; this is where its indirect-jump path shows. Prints the checksum
 * and minstret like riscv-cpu.c. */
#include <stdint.h>

#include "riscv-bench.h"

#ifndef CPU_ROUNDS
#define CPU_ROUNDS 200
#endif


/* A stack machine: 12 opcodes, so the switch becomes a jump table. */
enum { OP_PUSH, OP_ADD, OP_SUB, OP_MUL, OP_XOR, OP_DUP, OP_SWAP, OP_DEC, OP_JNZ, OP_CALL, OP_RET,
       OP_HALT };

static uint64_t run_bytecode(const uint8_t *code, uint64_t seed)
{
    uint64_t stack[32], rstack[8];
    int sp = 0, rsp = 0;
    unsigned pc = 0;
    stack[sp++] = seed;
    for (;;) {
        uint8_t op = code[pc++];
        switch (op) {
        case OP_PUSH: stack[sp++] = code[pc++]; break;
        case OP_ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case OP_SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case OP_MUL: sp--; stack[sp - 1] *= stack[sp] | 1; break;
        case OP_XOR: sp--; stack[sp - 1] ^= stack[sp] << 3; break;
        case OP_DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case OP_SWAP: { uint64_t t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; break; }
        case OP_DEC: stack[sp - 1]--; break;
        case OP_JNZ: { uint8_t to = code[pc++]; if (stack[--sp]) pc = to; break; }
        case OP_CALL: rstack[rsp++] = pc + 1; pc = code[pc]; break;
        case OP_RET: pc = (unsigned)rstack[--rsp]; break;
        default: return stack[sp - 1];
        }
    }
}

/* acc counter: loop 40 times { acc = f(acc) } with f a called subroutine. */
static const uint8_t program[] = {
    /* 0 */ OP_PUSH, 40,                      /* acc n */
    /* 2 */ OP_SWAP, OP_CALL, 12, OP_SWAP,    /* n acc' */
    /* 6 */ OP_DEC, OP_DUP, OP_JNZ, 2,        /* loop while n */
    /* 10 */ OP_SWAP, OP_HALT,
    /* 12: f(acc) */ OP_DUP, OP_PUSH, 7, OP_MUL, OP_XOR, OP_PUSH, 13, OP_ADD, OP_DUP, OP_PUSH, 3,
    OP_SUB, OP_XOR, OP_RET,
};

static uint64_t fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(void)
{
    uint64_t sum = 0;
    uint64_t start = read_instret();
    for (uint64_t r = 0; r < CPU_ROUNDS; r++) {
        sum += run_bytecode(program, r * 0x9e3779b97f4a7c15ull + 1);
        sum ^= fib(12 + (unsigned)(r & 3)) << 11;
        sum = (sum << 7) | (sum >> 57);
    }
    uint64_t end = read_instret();
    report(CPU_ROUNDS, sum, end - start);
    return 0;
}
