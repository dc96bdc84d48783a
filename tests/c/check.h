/* check.h - the counters and the CHECK macro of the plain-C tests. Include once, in the
 * test's one .c file; main() ends with `return report();`. */
#ifndef DICOMUL_TEST_CHECK_H
#define DICOMUL_TEST_CHECK_H

#include <stdio.h>

static int passed;
static int failed;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond) {                                                                        \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond);             \
        }                                                                                  \
    } while (0)

/* Prints "N passed, M failed"; the process's exit status (non-zero if anything failed). */
static int report(void) {
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif /* DICOMUL_TEST_CHECK_H */
