/* libFuzzer target for the domain XML reader and writer.
 *
 * Properties checked on every input, in strict and lenient mode:
 *   - reading never crashes, hangs or leaks (the sanitizers watch);
 *   - a document that is accepted can be written, and what is written is
 *     read back, strictly, to an equal config that writes the same text.
 * A broken property aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "vmm/vmm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_xml: %s: %s\n", what, detail ? detail : "");
    abort();
}

static void round_trip(const vmm_config_t *c)
{
    char *x1 = NULL, *x2 = NULL;
    vmm_config_t *c2 = NULL;
    if (vmm_config_to_xml(c, &x1))
        fail("accepted config cannot be written", vmm_last_error());
    if (vmm_config_from_xml(x1, strlen(x1), VMM_XML_NO_HOST_CHECKS, &c2, NULL))
        fail("written XML is refused", vmm_last_error());
    const char *why = NULL;
    if (!config_equal(c, c2, &why))
        fail("round trip changed", why);
    if (vmm_config_to_xml(c2, &x2))
        fail("second write failed", vmm_last_error());
    if (strcmp(x1, x2))
        fail("second write differs", x2);
    free(x1);
    free(x2);
    vmm_config_free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned modes[] = {VMM_XML_NO_HOST_CHECKS,
                                     VMM_XML_NO_HOST_CHECKS | VMM_XML_LENIENT};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        vmm_config_t *c = NULL;
        char *problems = NULL;
        int rc = vmm_config_from_xml((const char *)data, size, modes[i], &c, &problems);
        if (rc == 0 && !c)
            fail("success without a config", NULL);
        if (rc != 0 && (c || !*vmm_last_error()))
            fail("failure with a config or without a message", vmm_last_error());
        if (c)
            round_trip(c);
        free(problems);
        vmm_config_free(c);
    }
    return 0;
}
