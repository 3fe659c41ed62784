/* Hosts the translator cannot generate code for (not x86-64): the soft
 * engine interprets, and says so to whoever asks. */
#include "backend/soft/jit/jit.h"

#include <stddef.h>

int rv_jit_supported(void)
{
    return 0;
}

int rv_jit_default(void)
{
    return 0;
}

int rv_jit_exec(struct rv_hart *h)
{
    (void)h;
    return 0;
}

void rv_jit_destroy(struct rv_cpu *c)
{
    (void)c;
}

void rv_jit_code_store(struct rv_cpu *c, uint64_t gpa, unsigned size)
{
    (void)c;
    (void)gpa;
    (void)size;
}

void rv_jit_page_evict(struct rv_cpu *c, uint64_t gpage)
{
    (void)c;
    (void)gpage;
}

void rv_jit_get_stats(const struct rv_hart *h, struct rv_jit_stats *out)
{
    (void)h;
    *out = (struct rv_jit_stats){ 0 };
}
