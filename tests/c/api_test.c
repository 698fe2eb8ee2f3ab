/*
 * Every function of the C ABI, every error path, from C99.
 * Built by tests/c_abi.rs against the static and the shared library, and run
 * natively and under valgrind memcheck.
 */
#include <stdint.h>

#include "check.h"

static fg_quota quota(uint64_t count, uint64_t period_ns, uint64_t burst) {
    fg_quota q = {.struct_size = sizeof(fg_quota), .count = count, .period_ns = period_ns, .burst = burst};
    return q;
}

static void check_same_decision(fg_decision a, fg_decision b) {
    CHECK(a.admitted == b.admitted);
    CHECK(a.outcome == b.outcome);
    CHECK_U64(a.limit, b.limit);
    CHECK_U64(a.remaining, b.remaining);
    CHECK_U64(a.reset_after_ns, b.reset_after_ns);
    CHECK_U64(a.retry_after_ns, b.retry_after_ns);
    CHECK(a.scope == b.scope);
}

static fg_decision peek_at(const fg_limiter *limiter, uint64_t now_ns) {
    fg_decision d;
    CHECK_STATUS(fg_limiter_peek_at(limiter, now_ns, &d), FG_STATUS_OK);
    return d;
}

static void test_version(void) {
    uint32_t version = fg_abi_version();
    CHECK(version == FG_ABI_VERSION);
    CHECK((version >> 16) == 1);
}

static void test_last_error_starts_empty(void) {
    const char *message = fg_last_error_message();
    CHECK(message != NULL);
    CHECK(message[0] == '\0');
}

/* 30 per second, bursts of 60: the GenieOS per-key limit. */
static void test_check_at_follows_the_quota(void) {
    fg_quota q = quota(30, NS_PER_SECOND, 60);
    fg_limiter *limiter = NULL;
    fg_decision d;
    uint64_t i;
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK(limiter != NULL);

    for (i = 0; i < 60; i++) {
        CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &d), FG_STATUS_OK);
        CHECK(d.admitted);
        CHECK(d.outcome == FG_OUTCOME_ADMITTED);
        CHECK_U64(d.limit, 60);
        CHECK_U64(d.remaining, 59 - i);
        CHECK_U64(d.reset_after_ns, ((i + 1) * NS_PER_SECOND + 29) / 30); /* rounded up */
        CHECK_U64(d.retry_after_ns, 0);
        CHECK(d.scope == FG_SCOPE_SINGLE);
    }
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK(d.outcome == FG_OUTCOME_DENIED);
    CHECK_U64(d.remaining, 0);
    CHECK_U64(d.retry_after_ns, 33333334); /* one interval, rounded up */
    CHECK_U64(d.reset_after_ns, 2 * NS_PER_SECOND);

    /* One interval later exactly one more fits. */
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 33333334, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 33333334, &d), FG_STATUS_OK);
    CHECK(!d.admitted);

    /* Cost 0 peeks and charges nothing. */
    CHECK_STATUS(fg_limiter_check_at(limiter, 0, 10 * NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_U64(d.remaining, 60);
    fg_limiter_free(limiter);
}

static void test_huge_cost_cannot_fit_and_charges_nothing(void) {
    fg_quota q = quota(10, NS_PER_SECOND, 10);
    fg_limiter *limiter = NULL;
    fg_decision before, d;
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 3, 0, &d), FG_STATUS_OK);
    before = peek_at(limiter, 0);

    CHECK_STATUS(fg_limiter_check_at(limiter, UINT64_MAX, 0, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK(d.outcome == FG_OUTCOME_CANNOT_FIT);
    CHECK_U64(d.retry_after_ns, 0);
    CHECK_U64(d.remaining, 7);
    CHECK_STATUS(fg_limiter_check_at(limiter, 11, 0, &d), FG_STATUS_OK);
    CHECK(d.outcome == FG_OUTCOME_CANNOT_FIT);
    check_same_decision(peek_at(limiter, 0), before);

    /* The whole burst at once fits. */
    CHECK_STATUS(fg_limiter_check_at(limiter, 10, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_U64(d.remaining, 0);
    fg_limiter_free(limiter);
}

static void test_peek_and_refund(void) {
    fg_quota q = quota(5, NS_PER_SECOND, 5);
    fg_limiter *limiter = NULL;
    fg_decision d;
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 3, 0, &d), FG_STATUS_OK);
    CHECK_U64(peek_at(limiter, 0).remaining, 2);
    CHECK_U64(peek_at(limiter, 0).remaining, 2); /* peeking twice charges nothing */

    CHECK_STATUS(fg_limiter_refund_at(limiter, 1, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 3);
    CHECK(d.admitted);
    CHECK_STATUS(fg_limiter_refund_at(limiter, UINT64_MAX, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 5); /* never above the burst */
    CHECK_U64(d.reset_after_ns, 0);
    fg_limiter_free(limiter);
}

/* The clock functions: a fresh bucket admits at once, whatever the clock reads. */
static void test_clock_functions(void) {
    fg_quota q = quota(1, 3600 * NS_PER_SECOND, 4);
    fg_limiter *limiter = NULL;
    fg_decision d;
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_peek(limiter, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 4);
    CHECK_STATUS(fg_limiter_check(limiter, 3, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_U64(d.remaining, 1); /* an hour per unit: nothing refills during the test */
    CHECK_STATUS(fg_limiter_check(limiter, 2, &d), FG_STATUS_OK);
    CHECK(d.outcome == FG_OUTCOME_DENIED);
    CHECK(d.retry_after_ns > 0);
    CHECK_STATUS(fg_limiter_refund(limiter, 2, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 3);
    CHECK_STATUS(fg_limiter_peek(limiter, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 3);

    q = quota(1, 3600 * NS_PER_SECOND, 8);
    CHECK_STATUS(fg_limiter_reconfigure(limiter, &q), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_peek(limiter, &d), FG_STATUS_OK);
    CHECK_U64(d.limit, 8);
    CHECK_U64(d.remaining, 7); /* one used, kept across the change */
    fg_limiter_free(limiter);
}

static void test_reconfigure_and_read_back(void) {
    fg_quota q = quota(30, NS_PER_SECOND, 60);
    fg_quota read = {.struct_size = sizeof(fg_quota)};
    fg_limiter *limiter = NULL;
    fg_decision d;
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 40, 0, &d), FG_STATUS_OK);

    q = quota(50, NS_PER_SECOND, 100);
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, &q, 0), FG_STATUS_OK);
    CHECK_U64(peek_at(limiter, 0).remaining, 60); /* 40 used of 100 */
    CHECK_STATUS(fg_limiter_quota(limiter, &read), FG_STATUS_OK);
    CHECK_U64(read.struct_size, sizeof(fg_quota));
    CHECK_U64(read.count, 50);
    CHECK_U64(read.period_ns, NS_PER_SECOND);
    CHECK_U64(read.burst, 100);

    q = quota(10, NS_PER_SECOND, 20);
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, &q, 0), FG_STATUS_OK);
    CHECK_U64(peek_at(limiter, 0).remaining, 0); /* 40 used, capped at 20 */
    CHECK_U64(peek_at(limiter, 0).limit, 20);
    fg_limiter_free(limiter);
}

/* A caller built against a newer header passes a bigger struct. */
struct newer_quota {
    fg_quota known;
    uint64_t added[2];
};

static void test_struct_size_versions(void) {
    struct newer_quota newer;
    fg_limiter *limiter = NULL;
    fg_quota q = quota(7, NS_PER_SECOND, 7);

    memset(&newer, 0, sizeof newer);
    newer.known = quota(7, NS_PER_SECOND, 9);
    newer.known.struct_size = sizeof newer;
    CHECK_STATUS(fg_limiter_new(&newer.known, &limiter), FG_STATUS_OK); /* zero tail: accepted */
    CHECK_U64(peek_at(limiter, 0).limit, 9);

    newer.added[1] = 1; /* asks for something this library lacks */
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, &newer.known, 0), FG_STATUS_STRUCT_SIZE);
    CHECK_MESSAGE("fg_limiter_reconfigure_at");
    CHECK_U64(peek_at(limiter, 0).limit, 9);

    /* Read-back keeps the caller's size and zeroes what this library does not know. */
    newer.added[0] = UINT64_MAX;
    newer.added[1] = UINT64_MAX;
    CHECK_STATUS(fg_limiter_quota(limiter, &newer.known), FG_STATUS_OK);
    CHECK_U64(newer.known.struct_size, sizeof newer);
    CHECK_U64(newer.known.burst, 9);
    CHECK_U64(newer.added[0], 0);
    CHECK_U64(newer.added[1], 0);

    q.struct_size = 0;
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, &q, 0), FG_STATUS_STRUCT_SIZE);
    CHECK_MESSAGE("struct_size");
    q.struct_size = sizeof(fg_quota) - 1;
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, &q, 0), FG_STATUS_STRUCT_SIZE);
    q.struct_size = 4097; /* an uninitialised field, not a real struct */
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, &q, 0), FG_STATUS_STRUCT_SIZE);
    q.struct_size = 0;
    CHECK_STATUS(fg_limiter_quota(limiter, &q), FG_STATUS_STRUCT_SIZE);
    CHECK_U64(q.count, 7); /* a refused read-back writes nothing */
    CHECK_U64(peek_at(limiter, 0).limit, 9);
    fg_limiter_free(limiter);
}

/* Each quota error, and that the handle stays NULL so later use is refused. */
static void test_failed_create_leaves_null(void) {
    struct {
        fg_quota quota;
        fg_status status;
        const char *message;
    } cases[] = {
        {{sizeof(fg_quota), 0, NS_PER_SECOND, 1, 0}, FG_STATUS_ZERO_COUNT, "count"},
        {{sizeof(fg_quota), 1, 0, 1, 0}, FG_STATUS_ZERO_PERIOD, "period"},
        {{sizeof(fg_quota), 1, NS_PER_SECOND, 0, 0}, FG_STATUS_ZERO_BURST, "burst"},
        {{sizeof(fg_quota), 2 * NS_PER_SECOND, NS_PER_SECOND, 1, 0}, FG_STATUS_RATE_TOO_HIGH, "rate"},
        {{sizeof(fg_quota), 1, 86400 * NS_PER_SECOND, UINT64_MAX, 0}, FG_STATUS_BURST_TOO_LARGE, "burst"},
        {{0, 1, NS_PER_SECOND, 1, 0}, FG_STATUS_STRUCT_SIZE, "struct_size"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fg_limiter *limiter = (fg_limiter *)&cases[i]; /* not NULL: the failure must reset it */
        fg_decision d;
        fg_quota read = {.struct_size = sizeof(fg_quota)};
        CHECK_STATUS(fg_limiter_new(&cases[i].quota, &limiter), cases[i].status);
        CHECK(limiter == NULL);
        CHECK_MESSAGE("fg_limiter_new");
        CHECK_MESSAGE(cases[i].message);
        /* Use after the failed create: every call refuses the NULL handle. */
        CHECK_STATUS(fg_limiter_check(limiter, 1, &d), FG_STATUS_NULL_POINTER);
        CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &d), FG_STATUS_NULL_POINTER);
        CHECK_STATUS(fg_limiter_peek(limiter, &d), FG_STATUS_NULL_POINTER);
        CHECK_STATUS(fg_limiter_peek_at(limiter, 0, &d), FG_STATUS_NULL_POINTER);
        CHECK_STATUS(fg_limiter_refund(limiter, 1, &d), FG_STATUS_NULL_POINTER);
        CHECK_STATUS(fg_limiter_refund_at(limiter, 1, 0, &d), FG_STATUS_NULL_POINTER);
        CHECK_STATUS(fg_limiter_reconfigure(limiter, &cases[i].quota), FG_STATUS_NULL_POINTER);
        CHECK_STATUS(fg_limiter_reconfigure_at(limiter, &cases[i].quota, 0), FG_STATUS_NULL_POINTER);
        CHECK_STATUS(fg_limiter_quota(limiter, &read), FG_STATUS_NULL_POINTER);
        CHECK_MESSAGE("limiter");
        fg_limiter_free(limiter); /* NULL: a no-op */
    }
}

/* NULL and misaligned pointers in every position; none changes the bucket. */
static void test_bad_pointers_change_nothing(void) {
    fg_quota q = quota(10, NS_PER_SECOND, 10);
    fg_quota bad = quota(0, NS_PER_SECOND, 10);
    fg_limiter *limiter = NULL;
    fg_decision d, before;
    uint64_t storage[16];
    fg_decision *misaligned_decision = (fg_decision *)(void *)((char *)storage + 1);
    fg_quota *misaligned_quota = (fg_quota *)(void *)((char *)storage + 4);
    const fg_limiter *misaligned_limiter = (const fg_limiter *)(const void *)((char *)storage + 3);

    CHECK_STATUS(fg_limiter_new(NULL, &limiter), FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("quota");
    CHECK(limiter == NULL);
    CHECK_STATUS(fg_limiter_new(&q, NULL), FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("out");
    CHECK_STATUS(fg_limiter_new(misaligned_quota, &limiter), FG_STATUS_MISALIGNED_POINTER);
    CHECK_MESSAGE("misaligned");
    CHECK_STATUS(fg_limiter_new(&q, (fg_limiter **)(void *)((char *)storage + 2)),
                 FG_STATUS_MISALIGNED_POINTER);

    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 4, 0, &d), FG_STATUS_OK);
    before = peek_at(limiter, 0);

    CHECK_STATUS(fg_limiter_check(limiter, 1, NULL), FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("fg_limiter_check: `out` is NULL");
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, misaligned_decision), FG_STATUS_MISALIGNED_POINTER);
    CHECK_STATUS(fg_limiter_check_at(misaligned_limiter, 1, 0, &d), FG_STATUS_MISALIGNED_POINTER);
    CHECK_STATUS(fg_limiter_peek(limiter, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_peek_at(limiter, 0, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_refund(limiter, 1, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_refund_at(limiter, 1, 0, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_refund_at(limiter, 1, 0, misaligned_decision), FG_STATUS_MISALIGNED_POINTER);
    CHECK_STATUS(fg_limiter_reconfigure(limiter, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_reconfigure(limiter, &bad), FG_STATUS_ZERO_COUNT);
    CHECK_MESSAGE("fg_limiter_reconfigure: quota count must be at least 1");
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, NULL, 0), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, &bad, 0), FG_STATUS_ZERO_COUNT);
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, misaligned_quota, 0), FG_STATUS_MISALIGNED_POINTER);
    CHECK_STATUS(fg_limiter_quota(limiter, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_quota(limiter, misaligned_quota), FG_STATUS_MISALIGNED_POINTER);
    CHECK_STATUS(fg_limiter_quota(NULL, &q), FG_STATUS_NULL_POINTER);

    check_same_decision(peek_at(limiter, 0), before);
    q.struct_size = sizeof(fg_quota);
    CHECK_STATUS(fg_limiter_quota(limiter, &q), FG_STATUS_OK);
    CHECK_U64(q.count, 10);

    /* A success leaves the last message as it was. */
    CHECK_MESSAGE("fg_limiter_quota: `limiter` is NULL");
    fg_limiter_free(limiter);
    fg_limiter_free(NULL);
}

int main(void) {
    test_version();
    test_last_error_starts_empty();
    test_check_at_follows_the_quota();
    test_huge_cost_cannot_fit_and_charges_nothing();
    test_peek_and_refund();
    test_clock_functions();
    test_reconfigure_and_read_back();
    test_struct_size_versions();
    test_failed_create_leaves_null();
    test_bad_pointers_change_nothing();
    puts("api_test (C): ok");
    return 0;
}
