/* The control socket's request splitter (control/qmp_stream.c) and the
 * x86 board's power button (devices/acpi_pm.c), which system_powerdown
 * presses. */
#include <string.h>

#include "control/qmp_stream.h"
#include "devices/acpi_pm.h"
#include "machine/machine.h"
#include "unit.h"

/* Feeds `input` in pieces of `step` bytes; collects each document (or
 * "!broken", "!big") into out, separated by '|'. */
static void split(const char *input, size_t len, size_t step, size_t limit, char *out, size_t cap)
{
    struct qmp_stream s;
    qmp_stream_init(&s, limit);
    out[0] = '\0';
    for (size_t at = 0; at < len;) {
        size_t n = len - at < step ? len - at : step;
        size_t off = 0;
        while (off < n) {
            size_t used = 0;
            int r = qmp_stream_feed(&s, input + at + off, n - off, &used);
            CU_ASSERT_TRUE(used <= n - off);
            off += used;
            size_t dlen;
            const char *doc = qmp_stream_doc(&s, &dlen);
            if (r == QMP_STREAM_DOC) {
                CU_ASSERT_EQUAL(strlen(doc), dlen);
                strncat(out, doc, cap - strlen(out) - 2);
                strcat(out, "|");
            } else if (r == QMP_STREAM_BROKEN) {
                strncat(out, "!broken|", cap - strlen(out) - 1);
            } else if (r == QMP_STREAM_TOO_BIG) {
                strncat(out, "!big|", cap - strlen(out) - 1);
                qmp_stream_free(&s);
                return;
            } else {
                CU_ASSERT_EQUAL(r, QMP_STREAM_MORE);
                CU_ASSERT_EQUAL(used, n - off + used); /* MORE consumes everything */
            }
            if (r != QMP_STREAM_MORE)
                qmp_stream_next(&s);
        }
        at += n;
    }
    qmp_stream_free(&s);
}

static void check_split(const char *input, const char *expect)
{
    char out[1024];
    /* Whole, byte by byte and in threes: the same documents. */
    size_t steps[] = { strlen(input), 1, 3 };
    for (size_t i = 0; i < 3; i++) {
        split(input, strlen(input), steps[i] ? steps[i] : 1, 1 << 20, out, sizeof(out));
        if (strcmp(out, expect))
            printf("\ninput %s step %zu: got %s want %s\n", input, steps[i], out, expect);
        CU_ASSERT_STRING_EQUAL(out, expect);
    }
}

static void test_objects_back_to_back_and_across_reads(void)
{
    check_split("{\"a\":1}{\"b\":[1,{\"c\":2}]}\r\n  {\"d\":\"}\"}",
                "{\"a\":1}|{\"b\":[1,{\"c\":2}]}|{\"d\":\"}\"}|");
}

static void test_brackets_and_escapes_inside_strings_do_not_count(void)
{
    check_split("{\"x\":\"{[\\\"]}\\\\\"}\n", "{\"x\":\"{[\\\"]}\\\\\"}|");
}

static void test_pretty_printed_request_is_one_document(void)
{
    check_split("{\n  \"execute\": \"stop\",\n  \"id\": 1\n}\n",
                "{\n  \"execute\": \"stop\",\n  \"id\": 1\n}|");
}

static void test_bare_words_end_at_whitespace_or_a_bracket(void)
{
    check_split("hello world\n42{\"a\":1}", "hello|world|42|{\"a\":1}|");
    check_split("true\"s\"", "true|\"s\"|");
}

static void test_stray_closer_is_its_own_document(void)
{
    check_split("}{\"a\":1}", "}|{\"a\":1}|");
}

static void test_newline_in_a_string_and_0xff_break_the_document(void)
{
    check_split("{\"a\":\"x\ny\"}\n{\"b\":1}", "!broken|y|!broken|{\"b\":1}|");
    check_split("{\"a\":[1,2\xff{\"b\":1}", "!broken|{\"b\":1}|");
}

static void test_document_over_the_limit_is_reported(void)
{
    char big[200];
    memset(big, ' ', sizeof(big));
    memcpy(big, "[\"", 2);
    memset(big + 2, 'a', 150);
    char out[256];
    split(big, sizeof(big), 7, 100, out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "!big|");
    /* Exactly at the limit is fine. */
    const char *doc = "{\"a\":\"bcdef\"}"; /* 13 bytes */
    split(doc, strlen(doc), 5, 13, out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "{\"a\":\"bcdef\"}|");
    split(doc, strlen(doc), 5, 12, out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "!big|");
}

/* --- the power button --- */

static int irq_level = -1;
static unsigned irq_number, irq_changes;

static int record_irq(void *opaque, unsigned irq, int level)
{
    irq_number = irq;
    irq_level = level;
    irq_changes++;
    return 0;
}

static void test_power_button_sets_pwrbtn_sts_and_raises_the_sci_while_enabled(void)
{
    struct machine m;
    CU_ASSERT_EQUAL_FATAL(machine_init(&m, 1), 0);
    m.irq = (struct machine_irq_controller){ record_irq, NULL };
    struct acpi_pm *pm = acpi_pm_new(&m);
    acpi_pm_connect_sci(pm, 9);
    /* Pressed before the guest enabled the button: status only. */
    CU_ASSERT_EQUAL(acpi_pm_power_button(pm), 0);
    CU_ASSERT_EQUAL(acpi_pm_ops.read(pm, 0, 2), 0x0100);
    CU_ASSERT_EQUAL(irq_changes, 0);
    /* Enabling it raises the SCI at once; clearing the status lowers it. */
    acpi_pm_ops.write(pm, 2, 2, 0x0100);
    CU_ASSERT_EQUAL(irq_number, 9);
    CU_ASSERT_EQUAL(irq_level, 1);
    acpi_pm_ops.write(pm, 0, 2, 0x0100);
    CU_ASSERT_EQUAL(acpi_pm_ops.read(pm, 0, 2), 0);
    CU_ASSERT_EQUAL(irq_level, 0);
    /* Pressed while enabled: raised now; reset lowers it again. */
    CU_ASSERT_EQUAL(acpi_pm_power_button(pm), 0);
    CU_ASSERT_EQUAL(irq_level, 1);
    CU_ASSERT_EQUAL(irq_changes, 3);
    acpi_pm_component_ops.reset(pm);
    CU_ASSERT_EQUAL(irq_level, 0);
    CU_ASSERT_EQUAL(acpi_pm_ops.read(pm, 0, 2), 0);
    CU_ASSERT_FALSE(m.outcome_set); /* a request to the guest, not a power-off */
    acpi_pm_free(pm);
    machine_destroy(&m);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "objects back to back and across reads", test_objects_back_to_back_and_across_reads },
        { "brackets and escapes inside strings do not count",
          test_brackets_and_escapes_inside_strings_do_not_count },
        { "pretty-printed request is one document", test_pretty_printed_request_is_one_document },
        { "bare words end at whitespace or a bracket", test_bare_words_end_at_whitespace_or_a_bracket },
        { "stray closer is its own document", test_stray_closer_is_its_own_document },
        { "newline in a string and 0xff break the document",
          test_newline_in_a_string_and_0xff_break_the_document },
        { "document over the limit is reported", test_document_over_the_limit_is_reported },
        { "power button: PWRBTN_STS, SCI while enabled",
          test_power_button_sets_pwrbtn_sts_and_raises_the_sci_while_enabled },
        { NULL, NULL },
    };
    return unit_main("qmp-stream", tests);
}
