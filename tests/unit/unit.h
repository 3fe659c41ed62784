/* Shared scaffolding for the CUnit unit tests: each test file lists its
 * tests in a NULL-terminated array and calls unit_main(). */
#ifndef TESTS_UNIT_UNIT_H
#define TESTS_UNIT_UNIT_H

#include <CUnit/Basic.h>
#include <stdlib.h>

struct unit_test {
    const char *name;
    void (*fn)(void);
};

static inline int unit_main(const char *suite_name, const struct unit_test *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    for (const struct unit_test *t = tests; t->name; t++)
        CU_add_test(suite, t->name, t->fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}

#endif
