/* Assertions shared by the C and C++ ABI tests: report where and why, exit 1. */
#ifndef FLOODGATE_TEST_CHECK_H
#define FLOODGATE_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "floodgate.h"

#define CHECK(condition)                                                              \
    do {                                                                              \
        if (!(condition)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* A call's status must equal `expected`; on a mismatch, print the library's message. */
#define CHECK_STATUS(call, expected)                                                  \
    do {                                                                              \
        fg_status check_status_got = (call);                                          \
        if (check_status_got != (expected)) {                                         \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d (%s): %s\n", __FILE__,  \
                    __LINE__, #call, (int)check_status_got, (int)(expected), #expected, \
                    fg_last_error_message());                                         \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define CHECK_U64(actual, expected)                                                   \
    do {                                                                              \
        uint64_t check_u64_actual = (actual), check_u64_expected = (expected);        \
        if (check_u64_actual != check_u64_expected) {                                 \
            fprintf(stderr, "%s:%d: %s is %" PRIu64 ", expected %" PRIu64 "\n", __FILE__, \
                    __LINE__, #actual, check_u64_actual, check_u64_expected);         \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* The last error message on this thread must mention `fragment`. */
#define CHECK_MESSAGE(fragment)                                                       \
    do {                                                                              \
        const char *check_message = fg_last_error_message();                          \
        if (check_message == NULL || strstr(check_message, (fragment)) == NULL) {     \
            fprintf(stderr, "%s:%d: last error \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, \
                    check_message ? check_message : "(null)", (fragment));            \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define NS_PER_SECOND UINT64_C(1000000000)

#endif /* FLOODGATE_TEST_CHECK_H */
