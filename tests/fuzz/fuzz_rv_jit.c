/* libFuzzer target for the soft engine's translator: the input bytes are
 * the random stream of the differential tester (tests/unit/rv_diff.h), so
 * the fuzzer steers which instructions, registers, offsets, jumps and
 * values a program has. The program runs on an interpreting hart and on a
 * translating one; any difference in registers, FP registers, CSRs,
 * instruction count, data or code aborts (libFuzzer reports a crash and
 * keeps the input).
 *
 * Input: byte 0 sets the program length (32..287 items), the rest feeds
 * the generator (zeros once it runs out: short inputs are short programs
 * of simple instructions).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit/rv_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct diff_src g = { data + 1, size - 1, 0, 0 };
    char buf[256];
    const char *why = diff_one(&g, 32 + data[0], buf, sizeof(buf));
    if (why) {
        fprintf(stderr, "translator and interpreter differ: %s\n", why);
        abort();
    }
    return 0;
}
