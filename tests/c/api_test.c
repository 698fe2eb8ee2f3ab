/*
 * Every function of the C ABI, every error path, from C99.
 * Built by tests/c_abi.rs against the static and the shared library, and run
 * natively and under valgrind memcheck.
 */
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

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
        /* 1.00000006 ns per request, enforced as 1.03125 ns, would lose 3 %. */
        {{sizeof(fg_quota), 999999937, NS_PER_SECOND, 1, 0}, FG_STATUS_INEXACT_RATE, "100 ppm"},
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

/* ---- ABI 1.1 ---------------------------------------------------------------------------- */

static fg_quota lockout_quota(uint64_t count, uint64_t period_ns, uint64_t burst, uint64_t lockout_ns) {
    fg_quota q = quota(count, period_ns, burst);
    q.lockout_ns = lockout_ns;
    return q;
}

/* A 1.0 caller's 32-byte fg_quota still works; lockout is the 1.1 field. */
static void test_quota_versions_and_lockout(void) {
    struct {
        fg_quota quota;
        uint64_t sentinel;
    } old;
    fg_quota q = lockout_quota(10, NS_PER_SECOND, 10, 5 * NS_PER_SECOND), read;
    fg_limiter *limiter = NULL;
    fg_decision d;
    uint64_t first, second, i;

    CHECK_U64(offsetof(fg_quota, lockout_ns), 32);
    memset(&old, 0xab, sizeof old);
    old.quota.struct_size = offsetof(fg_quota, lockout_ns); /* what a 1.0 program declares */
    old.quota.count = 10;
    old.quota.period_ns = NS_PER_SECOND;
    old.quota.burst = 10;
    CHECK_STATUS(fg_limiter_new(&old.quota, &limiter), FG_STATUS_OK);
    /* A 1.0 read-back writes only the 32 bytes the caller has. */
    CHECK_STATUS(fg_limiter_quota(limiter, &old.quota), FG_STATUS_OK);
    CHECK_U64(old.quota.struct_size, 32);
    CHECK_U64(old.quota.burst, 10);
    CHECK(((const unsigned char *)&old.quota)[32] == 0xab);
    CHECK_U64(old.sentinel, UINT64_C(0xabababababababab));
    CHECK_STATUS(fg_limiter_check_at(limiter, 10, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.retry_after_ns, NS_PER_SECOND / 10); /* no lockout */
    fg_limiter_free(limiter);

    /* Sizes between versions, or off the alignment, split a field. */
    q.struct_size = 24;
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_STRUCT_SIZE);
    q.struct_size = 36;
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_STRUCT_SIZE);
    CHECK_MESSAGE("multiple of 8");
    q.struct_size = sizeof(fg_quota);

    /* Hammering during the cooldown extends it, up to the lockout. */
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 10, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &d), FG_STATUS_OK);
    first = d.retry_after_ns;
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &d), FG_STATUS_OK);
    second = d.retry_after_ns;
    CHECK(!d.admitted && second > first);
    for (i = 0; i < 1000; i++) CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.retry_after_ns, 5100 * UINT64_C(1000000)); /* lockout + one interval */
    read.struct_size = sizeof read;
    CHECK_STATUS(fg_limiter_quota(limiter, &read), FG_STATUS_OK);
    CHECK_U64(read.lockout_ns, 5 * NS_PER_SECOND);
    q.lockout_ns = UINT64_MAX;
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter, &q, 0), FG_STATUS_LOCKOUT_TOO_LONG);
    CHECK_MESSAGE("lockout");
    fg_limiter_free(limiter);
}

static void test_limiter_suspension_and_reservations(void) {
    fg_quota q = quota(10, NS_PER_SECOND, 10);
    fg_limiter *limiter = NULL;
    fg_decision d;
    bool suspended = false;
    uint64_t until = 1, delay = 1;

    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_suspension_at(limiter, 0, &suspended, &until), FG_STATUS_OK);
    CHECK(!suspended);
    CHECK_U64(until, 0);

    CHECK_STATUS(fg_limiter_suspend_until(limiter, 5 * NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK(!d.admitted && d.outcome == FG_OUTCOME_SUSPENDED);
    CHECK_U64(d.retry_after_ns, 4 * NS_PER_SECOND);
    CHECK_STATUS(fg_limiter_suspension_at(limiter, NS_PER_SECOND, &suspended, &until), FG_STATUS_OK);
    CHECK(suspended);
    CHECK_U64(until, 5 * NS_PER_SECOND);
    CHECK_STATUS(fg_limiter_suspension_at(limiter, 5 * NS_PER_SECOND, &suspended, &until), FG_STATUS_OK);
    CHECK(!suspended);

    CHECK_STATUS(fg_limiter_suspend(limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 100 * NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK(d.outcome == FG_OUTCOME_SUSPENDED);
    CHECK_U64(d.retry_after_ns, 0); /* no end */
    CHECK_STATUS(fg_limiter_suspension_at(limiter, 0, &suspended, &until), FG_STATUS_OK);
    CHECK(suspended);
    CHECK_U64(until, 0);
    CHECK_STATUS(fg_limiter_lift_suspension(limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_U64(d.remaining, 9); /* the suspended checks charged nothing */

    CHECK_STATUS(fg_limiter_suspend_for(limiter, 3600 * NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check(limiter, 1, &d), FG_STATUS_OK);
    CHECK(d.outcome == FG_OUTCOME_SUSPENDED);
    CHECK(d.retry_after_ns > 3500 * NS_PER_SECOND && d.retry_after_ns <= 3600 * NS_PER_SECOND);
    CHECK_STATUS(fg_limiter_lift_suspension(limiter), FG_STATUS_OK);

    /* Delay instead of reject: 9 left at time 0, then the 10th and a reservation. */
    CHECK_STATUS(fg_limiter_check_at(limiter, 9, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_reserve_at(limiter, 1, NS_PER_SECOND, 0, &d, &delay), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_U64(delay, NS_PER_SECOND / 10);
    CHECK_STATUS(fg_limiter_reserve_at(limiter, 10, NS_PER_SECOND / 2, 0, &d, &delay), FG_STATUS_OK);
    CHECK(!d.admitted && d.outcome == FG_OUTCOME_DENIED);
    CHECK_U64(delay, 0);
    CHECK(d.retry_after_ns > 0);
    CHECK_STATUS(fg_limiter_refund_at(limiter, 1, 0, &d), FG_STATUS_OK); /* cancel */
    CHECK_STATUS(fg_limiter_reserve_at(limiter, 1, 0, 0, &d, &delay), FG_STATUS_OK);
    CHECK(!d.admitted); /* empty again, no wait allowed */
    CHECK_STATUS(fg_limiter_reserve(limiter, 1, 10 * NS_PER_SECOND, &d, &delay), FG_STATUS_OK);
    CHECK(d.admitted || d.outcome == FG_OUTCOME_DENIED);

    /* Refused calls change nothing. */
    CHECK_STATUS(fg_limiter_reserve_at(limiter, 1, NS_PER_SECOND, 0, &d, NULL), FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("out_delay_ns");
    CHECK_STATUS(fg_limiter_reserve(limiter, 1, NS_PER_SECOND, NULL, &delay), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_reserve(NULL, 1, NS_PER_SECOND, &d, &delay), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_suspend_until(NULL, 1), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_suspend(NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_suspend_for(NULL, 1), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_lift_suspension(NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_suspension_at(limiter, 0, NULL, &until), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_suspension_at(limiter, 0, &suspended, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_suspension_at(NULL, 0, &suspended, &until), FG_STATUS_NULL_POINTER);
    fg_limiter_free(limiter);
}

static fg_keyed_config keyed_config(uint32_t kind, uint64_t capacity) {
    fg_keyed_config c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.key_kind = kind;
    c.capacity = capacity;
    return c;
}

static fg_keyed_limiter *keyed_new(uint32_t kind, uint64_t capacity, fg_quota q) {
    fg_keyed_config c = keyed_config(kind, capacity);
    fg_keyed_limiter *keyed = NULL;
    CHECK_STATUS(fg_keyed_limiter_new(&c, &q, &keyed), FG_STATUS_OK);
    CHECK(keyed != NULL);
    return keyed;
}

static void test_keyed_create_errors(void) {
    fg_quota q = quota(10, NS_PER_SECOND, 10), zero = quota(10, NS_PER_SECOND, 0);
    fg_keyed_config c = keyed_config(FG_KEY_U64, 100);
    fg_keyed_limiter *keyed = (fg_keyed_limiter *)&c; /* not NULL: a failure must reset it */
    fg_decision d;

    c.capacity = 0;
    CHECK_STATUS(fg_keyed_limiter_new(&c, &q, &keyed), FG_STATUS_ZERO_CAPACITY);
    CHECK(keyed == NULL);
    CHECK_MESSAGE("capacity");
    c.capacity = (UINT64_C(1) << 32) + 1;
    CHECK_STATUS(fg_keyed_limiter_new(&c, &q, &keyed), FG_STATUS_CAPACITY_TOO_LARGE);
    /* 2^32 slots pass validation but need 64 GiB: a capacity the allocator
       refuses is a status, never an abort. The address-space limit makes the
       refusal certain on any machine, however much memory it has. */
    {
        struct rlimit unlimited, tight;
        CHECK(getrlimit(RLIMIT_AS, &unlimited) == 0);
        tight = unlimited;
        tight.rlim_cur = (rlim_t)1 << 35; /* 32 GiB */
        CHECK(setrlimit(RLIMIT_AS, &tight) == 0);
        c.capacity = UINT64_C(1) << 32;
        CHECK_STATUS(fg_keyed_limiter_new(&c, &q, &keyed), FG_STATUS_ALLOCATION_FAILED);
        CHECK(keyed == NULL);
        CHECK_MESSAGE("could not allocate 68719476736 bytes");
        CHECK(setrlimit(RLIMIT_AS, &unlimited) == 0);
    }
    c.capacity = 100;
    c.key_kind = 0;
    CHECK_STATUS(fg_keyed_limiter_new(&c, &q, &keyed), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("`config->key_kind` is 0");
    c.key_kind = FG_KEY_BYTES;
    c.on_full = 3;
    CHECK_STATUS(fg_keyed_limiter_new(&c, &q, &keyed), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("`config->on_full` is 3");
    c.on_full = FG_FULL_TABLE_DENY;
    CHECK_STATUS(fg_keyed_limiter_new(&c, &zero, &keyed), FG_STATUS_ZERO_BURST);
    CHECK_STATUS(fg_keyed_limiter_new(NULL, &q, &keyed), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_new(&c, NULL, &keyed), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_new(&c, &q, NULL), FG_STATUS_NULL_POINTER);
    c.struct_size = sizeof c - 8;
    CHECK_STATUS(fg_keyed_limiter_new(&c, &q, &keyed), FG_STATUS_STRUCT_SIZE);
    CHECK(keyed == NULL);
    /* Use after a failed create: NULL everywhere. */
    CHECK_STATUS(fg_keyed_limiter_check_u64(keyed, 1, 1, &d), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_check_bytes(keyed, (const uint8_t *)"k", 1, 1, &d), FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("`limiter` is NULL");
    fg_keyed_limiter_free(keyed);
}

/* GenieOS per key (30/s, burst 60) keyed by id, on supplied timestamps. */
static void test_keyed_u64(void) {
    fg_quota q = quota(30, NS_PER_SECOND, 60), big = quota(100, NS_PER_SECOND, 100), bad = quota(0, 1, 1);
    fg_quota read;
    fg_keyed_limiter *keyed = keyed_new(FG_KEY_U64, 1000, q);
    fg_decision d;
    uint64_t i, n, delay;

    for (i = 0; i < 60; i++) {
        CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed, 42, 1, 0, &d), FG_STATUS_OK);
        CHECK(d.admitted);
        CHECK_U64(d.remaining, 59 - i);
        CHECK(d.scope == FG_SCOPE_SINGLE);
    }
    CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed, 42, 1, 0, &d), FG_STATUS_OK);
    CHECK(!d.admitted && d.outcome == FG_OUTCOME_DENIED);
    CHECK_U64(d.retry_after_ns, 33333334);
    CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed, 43, 1, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted); /* another key has its own bucket */
    CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed, 43, 61, 0, &d), FG_STATUS_OK);
    CHECK(d.outcome == FG_OUTCOME_CANNOT_FIT);

    CHECK_STATUS(fg_keyed_limiter_peek_u64_at(keyed, 42, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 30);
    CHECK_STATUS(fg_keyed_limiter_peek_u64_at(keyed, 7, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 60); /* an unknown key reads as full... */
    CHECK_STATUS(fg_keyed_limiter_len(keyed, &n), FG_STATUS_OK);
    CHECK_U64(n, 2); /* ...and is not inserted */
    CHECK_STATUS(fg_keyed_limiter_refund_u64_at(keyed, 42, 10, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 40);

    /* Reservation: 40 left; 50 more wait 10 units = 1/3 s. */
    CHECK_STATUS(fg_keyed_limiter_reserve_u64_at(keyed, 42, 50, NS_PER_SECOND, NS_PER_SECOND, &d, &delay),
                 FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_U64(delay, 333333334);
    CHECK_STATUS(fg_keyed_limiter_refund_u64_at(keyed, 42, 50, NS_PER_SECOND, &d), FG_STATUS_OK);

    /* A customer's own quota, then back to the default. */
    CHECK_STATUS(fg_keyed_limiter_set_quota_u64_at(keyed, 42, &big, NS_PER_SECOND), FG_STATUS_OK);
    read.struct_size = sizeof read;
    CHECK_STATUS(fg_keyed_limiter_quota_for_u64(keyed, 42, &read), FG_STATUS_OK);
    CHECK_U64(read.burst, 100);
    CHECK_STATUS(fg_keyed_limiter_quota_for_u64(keyed, 43, &read), FG_STATUS_OK);
    CHECK_U64(read.burst, 60);
    CHECK_STATUS(fg_keyed_limiter_peek_u64_at(keyed, 42, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.limit, 100);
    CHECK_U64(d.remaining, 80); /* 20 used carries over */
    CHECK_STATUS(fg_keyed_limiter_set_quota_u64_at(keyed, 42, &bad, NS_PER_SECOND), FG_STATUS_ZERO_COUNT);
    CHECK_STATUS(fg_keyed_limiter_clear_quota_u64_at(keyed, 42, NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_quota_for_u64(keyed, 42, &read), FG_STATUS_OK);
    CHECK_U64(read.burst, 60);
    CHECK_STATUS(fg_keyed_limiter_set_quota_u64(keyed, 44, &big), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_clear_quota_u64(keyed, 44), FG_STATUS_OK);

    /* Reset: a key's bucket back to full; a key with none stays absent. */
    CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed, 45, 60, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 0);
    CHECK_STATUS(fg_keyed_limiter_reset_u64_at(keyed, 45, NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_peek_u64_at(keyed, 45, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 60);
    CHECK_STATUS(fg_keyed_limiter_len(keyed, &n), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_reset_u64(keyed, 46), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_len(keyed, &delay), FG_STATUS_OK);
    CHECK_U64(delay, n);
    CHECK_STATUS(fg_keyed_limiter_reset_u64(NULL, 45), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_reset_bytes(keyed, (const uint8_t *)"k", 1), FG_STATUS_KEY_KIND_MISMATCH);

    /* The default quota, replaced while keys keep what they used. */
    CHECK_STATUS(fg_keyed_limiter_reconfigure_at(keyed, &big, NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_default_quota(keyed, &read), FG_STATUS_OK);
    CHECK_U64(read.burst, 100);
    CHECK_STATUS(fg_keyed_limiter_peek_u64_at(keyed, 42, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 80);
    CHECK_STATUS(fg_keyed_limiter_reconfigure_at(keyed, &q, NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_reconfigure(keyed, &bad), FG_STATUS_ZERO_COUNT);
    CHECK_STATUS(fg_keyed_limiter_reconfigure_at(keyed, NULL, 0), FG_STATUS_NULL_POINTER);

    /* The library's clock. */
    CHECK_STATUS(fg_keyed_limiter_check_u64(keyed, 99, 1, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_limiter_peek_u64(keyed, 99, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_refund_u64(keyed, 99, 1, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 60);
    CHECK_STATUS(fg_keyed_limiter_reserve_u64(keyed, 99, 1, 0, &d, &delay), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_U64(delay, 0);

    CHECK_STATUS(fg_keyed_limiter_capacity(keyed, &n), FG_STATUS_OK);
    CHECK(n >= 1000);
    CHECK_STATUS(fg_keyed_limiter_full_table_events(keyed, &n), FG_STATUS_OK);
    CHECK_U64(n, 0);

    /* Byte calls on a u64 limiter, and bad pointers: refused, nothing charged. */
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, (const uint8_t *)"42", 2, 1, 0, &d),
                 FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_MESSAGE("*_u64");
    CHECK_STATUS(fg_keyed_limiter_set_quota_bytes(keyed, (const uint8_t *)"42", 2, &big),
                 FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed, 42, 1, NS_PER_SECOND, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_reserve_u64_at(keyed, 42, 1, 0, NS_PER_SECOND, &d, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_quota_for_u64(keyed, 42, NULL), FG_STATUS_NULL_POINTER);
    read.struct_size = 0;
    CHECK_STATUS(fg_keyed_limiter_default_quota(keyed, &read), FG_STATUS_STRUCT_SIZE);
    CHECK_STATUS(fg_keyed_limiter_len(keyed, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_capacity(NULL, &n), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_full_table_events(NULL, &n), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_peek_u64_at(keyed, 42, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 40); /* 20 used, through every refused call */
    fg_keyed_limiter_free(keyed);

    /* The clock's reconfigure, on a limiter timed only by the clock. */
    keyed = keyed_new(FG_KEY_U64, 16, q);
    CHECK_STATUS(fg_keyed_limiter_check_u64(keyed, 1, 10, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_reconfigure(keyed, &big), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_peek_u64(keyed, 1, &d), FG_STATUS_OK);
    CHECK_U64(d.limit, 100);
    CHECK(d.remaining >= 90);
    fg_keyed_limiter_free(keyed);
}

/* C-string keys (ABI 1.5): the bytes before the NUL, the same bucket as check_bytes. */
static void test_keyed_cstr(void) {
    fg_quota q = quota(1, 3600 * NS_PER_SECOND, 1);
    fg_keyed_config c = keyed_config(FG_KEY_BYTES, 16);
    fg_keyed_limiter *keyed = NULL;
    fg_decision d;

    CHECK_STATUS(fg_keyed_limiter_new(&c, &q, &keyed), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_check_cstr(keyed, "user-42", 1, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_limiter_check_bytes(keyed, (const uint8_t *)"user-42", 7, 1, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK_STATUS(fg_keyed_limiter_check_cstr(keyed, "user-4", 1, &d), FG_STATUS_OK);
    CHECK(d.admitted); /* another key */
    CHECK_STATUS(fg_keyed_limiter_check_cstr(keyed, "", 1, &d), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_limiter_check_cstr(keyed, NULL, 1, &d), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_check_cstr(NULL, "user-42", 1, &d), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_check_cstr(keyed, "user-42", 1, NULL), FG_STATUS_NULL_POINTER);
    fg_keyed_limiter_free(keyed);
}

/* Byte keys: tokens and API keys; every key error. */
static void test_keyed_bytes(void) {
    static uint8_t long_key[FG_MAX_KEY_LEN + 1];
    fg_quota q = quota(15, NS_PER_SECOND, 15), big = quota(100, NS_PER_SECOND, 100), read;
    fg_keyed_config c = keyed_config(FG_KEY_BYTES, 64);
    fg_keyed_limiter *keyed = NULL;
    fg_decision d;
    uint64_t delay, n, i, key;
    const uint8_t *token = (const uint8_t *)"tok_alice";

    c.max_overrides = 1;
    CHECK_STATUS(fg_keyed_limiter_new(&c, &q, &keyed), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, token, 9, 15, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, token, 9, 1, 0, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, token, 3, 1, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted); /* "tok" is another key */
    CHECK_STATUS(fg_keyed_limiter_peek_bytes_at(keyed, token, 9, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 15);
    CHECK_STATUS(fg_keyed_limiter_refund_bytes_at(keyed, token, 9, 5, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 5);
    CHECK_STATUS(fg_keyed_limiter_reserve_bytes_at(keyed, token, 9, 6, NS_PER_SECOND, 0, &d, &delay), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_U64(delay, NS_PER_SECOND / 15 + 1);

    /* One override allowed. */
    CHECK_STATUS(fg_keyed_limiter_set_quota_bytes_at(keyed, token, 9, &big, 0), FG_STATUS_OK);
    read.struct_size = sizeof read;
    CHECK_STATUS(fg_keyed_limiter_quota_for_bytes(keyed, token, 9, &read), FG_STATUS_OK);
    CHECK_U64(read.count, 100);
    CHECK_STATUS(fg_keyed_limiter_set_quota_bytes_at(keyed, (const uint8_t *)"tok", 3, &big, 0),
                 FG_STATUS_TOO_MANY_OVERRIDES);
    CHECK_MESSAGE("per-key quotas");
    CHECK_STATUS(fg_keyed_limiter_clear_quota_bytes_at(keyed, token, 9, 0), FG_STATUS_OK);

    /* Every key error, none of which charges anything. */
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, token, 0, 1, 0, &d), FG_STATUS_EMPTY_KEY);
    CHECK_MESSAGE("empty");
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, NULL, 0, 1, 0, &d), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, long_key, sizeof long_key, 1, 0, &d), FG_STATUS_KEY_TOO_LONG);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, long_key, FG_MAX_KEY_LEN, 1, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, NULL, 4, 1, 0, &d), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, token, SIZE_MAX, 1, 0, &d), FG_STATUS_INVALID_LENGTH);
    CHECK_STATUS(fg_keyed_limiter_peek_bytes_at(keyed, token, 0, 0, &d), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_limiter_refund_bytes_at(keyed, long_key, sizeof long_key, 1, 0, &d), FG_STATUS_KEY_TOO_LONG);
    CHECK_STATUS(fg_keyed_limiter_set_quota_bytes_at(keyed, token, 0, &big, 0), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_limiter_clear_quota_bytes_at(keyed, token, 0, 0), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_limiter_quota_for_bytes(keyed, token, 0, &read), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed, 1, 1, 0, &d), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_MESSAGE("*_bytes");
    CHECK_STATUS(fg_keyed_limiter_peek_u64(keyed, 1, &d), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_limiter_refund_u64_at(keyed, 1, 1, 0, &d), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_limiter_clear_quota_u64_at(keyed, 1, 0), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_limiter_reset_u64_at(keyed, 1, 0), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_limiter_reset_bytes_at(keyed, token, 0, 0), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_limiter_reset_bytes_at(keyed, long_key, sizeof long_key, 0), FG_STATUS_KEY_TOO_LONG);
    CHECK_STATUS(fg_keyed_limiter_reset_bytes_at(keyed, NULL, 4, 0), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_reset_bytes_at(keyed, token, SIZE_MAX, 0), FG_STATUS_INVALID_LENGTH);
    CHECK_STATUS(fg_keyed_limiter_quota_for_u64(keyed, 1, &read), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_limiter_peek_bytes_at(keyed, token, 9, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 0); /* 15 - 15 + 5 - 6 + 1 (refunds cap nothing here) */

    /* A full table: new keys are denied and counted; none can be pinned. */
    for (key = 0, i = 0; i < 10000; i++, key++) {
        CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, (const uint8_t *)&key, sizeof key, 1, 0, &d), FG_STATUS_OK);
        CHECK_STATUS(fg_keyed_limiter_full_table_events(keyed, &n), FG_STATUS_OK);
        if (n > 0) break;
    }
    CHECK(n > 0);
    CHECK(!d.admitted && d.outcome == FG_OUTCOME_DENIED);
    /* The key that found no slot still has none. */
    CHECK_STATUS(fg_keyed_limiter_set_quota_bytes_at(keyed, (const uint8_t *)&key, sizeof key, &big, 0),
                 FG_STATUS_TABLE_FULL);
    CHECK_MESSAGE("no free slot");
    CHECK_STATUS(fg_keyed_limiter_len(keyed, &n), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_capacity(keyed, &delay), FG_STATUS_OK);
    CHECK(n <= delay);
    fg_keyed_limiter_free(keyed);

    /* The library's clock, on a limiter timed only by it. */
    keyed = keyed_new(FG_KEY_BYTES, 16, q);
    CHECK_STATUS(fg_keyed_limiter_check_bytes(keyed, token, 9, 1, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_limiter_peek_bytes(keyed, token, 9, &d), FG_STATUS_OK);
    CHECK(d.remaining >= 14);
    CHECK_STATUS(fg_keyed_limiter_refund_bytes(keyed, token, 9, 1, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 15);
    CHECK_STATUS(fg_keyed_limiter_reserve_bytes(keyed, token, 9, 1, 0, &d, &delay), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_limiter_set_quota_bytes(keyed, token, 9, &big), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_quota_for_bytes(keyed, token, 9, &read), FG_STATUS_OK);
    CHECK_U64(read.burst, 100);
    CHECK_STATUS(fg_keyed_limiter_clear_quota_bytes(keyed, token, 9), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_quota_for_bytes(keyed, token, 9, &read), FG_STATUS_OK);
    CHECK_U64(read.burst, 15);
    CHECK_STATUS(fg_keyed_limiter_check_bytes(keyed, token, 9, 15, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_reset_bytes(keyed, token, 9), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_peek_bytes(keyed, token, 9, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 15);
    fg_keyed_limiter_free(keyed);
}

static void test_keyed_ip(void) {
    const uint8_t v4[4] = {203, 0, 113, 7}, v4b[4] = {203, 0, 113, 8};
    const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    fg_keyed_limiter *keyed = keyed_new(FG_KEY_IP, 100, quota(2, NS_PER_SECOND, 2));
    fg_decision d;
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, v4, 4, 2, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, v4, 4, 1, 0, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK_U64(d.retry_after_ns, NS_PER_SECOND / 2);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, v4b, 4, 1, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, v6, 16, 2, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed, v6, 5, 1, 0, &d), FG_STATUS_INVALID_LENGTH);
    CHECK_MESSAGE("4 or 16");
    CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed, 1, 1, 0, &d), FG_STATUS_KEY_KIND_MISMATCH);
    fg_keyed_limiter_free(keyed);
}

/* GenieOS per workspace: 600 per minute, sliding. */
static void test_window(void) {
    fg_window *window = (fg_window *)&window;
    fg_decision d;
    uint64_t minute = 60 * NS_PER_SECOND;

    CHECK_STATUS(fg_window_new(0, minute, &window), FG_STATUS_ZERO_LIMIT);
    CHECK(window == NULL);
    CHECK_STATUS(fg_window_new(FG_MAX_WINDOW_LIMIT + 1, minute, &window), FG_STATUS_LIMIT_TOO_LARGE);
    CHECK_STATUS(fg_window_new(600, 0, &window), FG_STATUS_ZERO_WINDOW);
    CHECK_STATUS(fg_window_new(600, UINT64_MAX, &window), FG_STATUS_WINDOW_TOO_LONG);
    CHECK_STATUS(fg_window_new(600, minute, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_window_check_at(window, 1, 0, &d), FG_STATUS_NULL_POINTER);

    CHECK_STATUS(fg_window_new(600, minute, &window), FG_STATUS_OK);
    CHECK_STATUS(fg_window_check_at(window, 600, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_U64(d.limit, 600);
    CHECK_STATUS(fg_window_check_at(window, 1, 0, &d), FG_STATUS_OK);
    CHECK(!d.admitted && d.outcome == FG_OUTCOME_DENIED);
    CHECK_U64(d.retry_after_ns, 60100 * UINT64_C(1000000));
    CHECK_STATUS(fg_window_peek_at(window, 90 * NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 300);
    CHECK_STATUS(fg_window_refund_at(window, 100, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 100);
    CHECK_STATUS(fg_window_reconfigure(window, 1800), FG_STATUS_OK); /* Hobby -> Pro */
    CHECK_STATUS(fg_window_peek_at(window, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 1300);
    CHECK_STATUS(fg_window_reconfigure(window, 0), FG_STATUS_ZERO_LIMIT);
    CHECK_STATUS(fg_window_reconfigure(window, FG_MAX_WINDOW_LIMIT + 1), FG_STATUS_LIMIT_TOO_LARGE);
    CHECK_STATUS(fg_window_reconfigure(NULL, 10), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_window_check(window, 1, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_window_peek(window, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_window_refund(window, 1, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_window_check(window, 1, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_window_peek_at(NULL, 0, &d), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_window_refund_at(window, 1, 0, NULL), FG_STATUS_NULL_POINTER);
    fg_window_free(window);
    fg_window_free(NULL);
}

/* GenieOS batch endpoint: 4 in flight; double and foreign releases are typed errors. */
static void test_inflight(void) {
    fg_inflight *batch = (fg_inflight *)&batch, *other = NULL;
    fg_acquisition a[5], elsewhere;
    uint64_t in_flight = 99, limit = 0;
    fg_permit forged = {0, 0};
    int i;

    CHECK_STATUS(fg_inflight_new(0, &batch), FG_STATUS_ZERO_LIMIT);
    CHECK(batch == NULL);
    CHECK_STATUS(fg_inflight_new(FG_MAX_IN_FLIGHT + 1, &batch), FG_STATUS_LIMIT_TOO_LARGE);
    CHECK_STATUS(fg_inflight_new(4, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_inflight_acquire(batch, &a[0]), FG_STATUS_NULL_POINTER);

    CHECK_STATUS(fg_inflight_new(4, &batch), FG_STATUS_OK);
    CHECK_STATUS(fg_inflight_new(4, &other), FG_STATUS_OK);
    for (i = 0; i < 4; i++) {
        CHECK_STATUS(fg_inflight_acquire(batch, &a[i]), FG_STATUS_OK);
        CHECK(a[i].acquired);
        CHECK_U64(a[i].in_flight, (uint64_t)i + 1);
        CHECK_U64(a[i].limit, 4);
    }
    CHECK_STATUS(fg_inflight_acquire(batch, &a[4]), FG_STATUS_OK);
    CHECK(!a[4].acquired); /* full: not an error */
    CHECK_U64(a[4].in_flight, 4);
    CHECK_U64(a[4].permit.owner, 0);
    CHECK_STATUS(fg_inflight_release(batch, a[4].permit, &in_flight), FG_STATUS_FOREIGN_PERMIT);

    CHECK_STATUS(fg_inflight_release(batch, a[1].permit, &in_flight), FG_STATUS_OK);
    CHECK_U64(in_flight, 3);
    CHECK_STATUS(fg_inflight_release(batch, a[1].permit, &in_flight), FG_STATUS_PERMIT_ALREADY_RELEASED);
    CHECK_MESSAGE("already released");
    CHECK_STATUS(fg_inflight_acquire(other, &elsewhere), FG_STATUS_OK);
    CHECK_STATUS(fg_inflight_release(batch, elsewhere.permit, &in_flight), FG_STATUS_FOREIGN_PERMIT);
    CHECK_MESSAGE("another cap");
    CHECK_STATUS(fg_inflight_release(other, a[0].permit, &in_flight), FG_STATUS_FOREIGN_PERMIT);
    CHECK_STATUS(fg_inflight_release(batch, forged, &in_flight), FG_STATUS_FOREIGN_PERMIT);
    forged.owner = a[0].permit.owner;
    forged.ticket = UINT64_MAX;
    CHECK_STATUS(fg_inflight_release(batch, forged, &in_flight), FG_STATUS_FOREIGN_PERMIT);
    CHECK_STATUS(fg_inflight_status(batch, &in_flight, &limit), FG_STATUS_OK);
    CHECK_U64(in_flight, 3); /* the refused releases changed nothing */
    CHECK_U64(limit, 4);

    CHECK_STATUS(fg_inflight_release(batch, a[0].permit, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_inflight_release(NULL, a[0].permit, &in_flight), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_inflight_acquire(batch, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_inflight_status(batch, NULL, &limit), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_inflight_status(batch, &in_flight, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_inflight_release(batch, a[0].permit, &in_flight), FG_STATUS_OK);
    CHECK_STATUS(fg_inflight_release(batch, a[2].permit, &in_flight), FG_STATUS_OK);
    CHECK_STATUS(fg_inflight_release(batch, a[3].permit, &in_flight), FG_STATUS_OK);
    CHECK_U64(in_flight, 0);
    CHECK_STATUS(fg_inflight_release(other, elsewhere.permit, &in_flight), FG_STATUS_OK);
    fg_inflight_free(batch);
    fg_inflight_free(other);
    fg_inflight_free(NULL);
}

static fg_layer layer(uint32_t scope) {
    fg_layer l;
    memset(&l, 0, sizeof l);
    l.struct_size = sizeof l;
    l.scope = scope;
    return l;
}

static fg_layer_key id_key(uint64_t id) {
    fg_layer_key k = {FG_LAYER_KEY_ID, id, NULL, 0};
    return k;
}

static fg_layer_key bytes_key(const char *text) {
    fg_layer_key k = {FG_LAYER_KEY_BYTES, 0, (const uint8_t *)text, strlen(text)};
    return k;
}

/* GenieOS Hobby: 30/s burst 60 per key + 600/min per workspace, plus a shadow endpoint limit. */
static void test_policy(void) {
    fg_keyed_limiter *per_key = keyed_new(FG_KEY_BYTES, 1000, quota(30, NS_PER_SECOND, 60));
    fg_window *workspace = NULL;
    fg_limiter *endpoint = NULL;
    fg_quota endpoint_quota = quota(10, NS_PER_SECOND, 10);
    fg_layer layers[3];
    fg_layer_key keys[3];
    fg_policy *policy = (fg_policy *)&policy;
    fg_verdict v;
    fg_decision d;
    fg_policy_counts counts;
    fg_layer_counts layer_counts;
    const char *name = NULL;
    size_t count = 0;
    uint64_t i;

    CHECK_STATUS(fg_window_new(600, 60 * NS_PER_SECOND, &workspace), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_new(&endpoint_quota, &endpoint), FG_STATUS_OK);
    layers[0] = layer(FG_SCOPE_KEY);
    layers[0].keyed_limiter = per_key;
    layers[1] = layer(FG_SCOPE_WORKSPACE);
    layers[1].window = workspace;
    layers[2] = layer(FG_SCOPE_NAMED);
    layers[2].name = "license-activation";
    layers[2].name_len = strlen(layers[2].name);
    layers[2].flags = FG_LAYER_SHADOW;
    layers[2].limiter = endpoint;

    /* Every build error leaves NULL behind. */
    CHECK_STATUS(fg_policy_new(layers, 0, &policy), FG_STATUS_NO_LAYERS);
    CHECK(policy == NULL);
    CHECK_STATUS(fg_policy_new(layers, 33, &policy), FG_STATUS_TOO_MANY_LAYERS);
    CHECK_STATUS(fg_policy_new(NULL, 1, &policy), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_policy_new(layers, 3, NULL), FG_STATUS_NULL_POINTER);
    layers[1].limiter = endpoint; /* two limits in one layer */
    CHECK_STATUS(fg_policy_new(layers, 3, &policy), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("exactly one");
    layers[1].limiter = NULL;
    layers[1].window = NULL; /* none */
    CHECK_STATUS(fg_policy_new(layers, 3, &policy), FG_STATUS_INVALID_ARGUMENT);
    layers[1].window = workspace;
    layers[1].scope = 99;
    CHECK_STATUS(fg_policy_new(layers, 3, &policy), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("scope");
    layers[1].scope = FG_SCOPE_WORKSPACE;
    layers[2].flags = 2;
    CHECK_STATUS(fg_policy_new(layers, 3, &policy), FG_STATUS_INVALID_ARGUMENT);
    layers[2].flags = FG_LAYER_SHADOW;
    layers[2].name = "\xff";
    layers[2].name_len = 1;
    CHECK_STATUS(fg_policy_new(layers, 3, &policy), FG_STATUS_INVALID_UTF8);
    layers[2].name = NULL;
    CHECK_STATUS(fg_policy_new(layers, 3, &policy), FG_STATUS_NULL_POINTER);
    layers[2].name = "license-activation";
    layers[2].name_len = strlen(layers[2].name);
    layers[1].struct_size = sizeof(fg_layer) + 8; /* elements disagree on the stride */
    CHECK_STATUS(fg_policy_new(layers, 3, &policy), FG_STATUS_STRUCT_SIZE);
    layers[1].struct_size = sizeof(fg_layer);
    CHECK(policy == NULL);

    CHECK_STATUS(fg_policy_new(layers, 3, &policy), FG_STATUS_OK);
    /* The policy holds its own references: the handles may go first. */
    fg_limiter_free(endpoint);
    fg_window_free(workspace);

    keys[0] = bytes_key("gos_live_hobby_1");
    keys[1].kind = FG_LAYER_KEY_NONE;
    keys[2].kind = FG_LAYER_KEY_NONE;
    for (i = 0; i < 60; i++) {
        CHECK_STATUS(fg_policy_check_at(policy, keys, 3, 1, 0, &v), FG_STATUS_OK);
        CHECK(v.decision.admitted);
    }
    CHECK_STATUS(fg_policy_check_at(policy, keys, 3, 1, 0, &v), FG_STATUS_OK);
    CHECK(!v.decision.admitted && v.decision.outcome == FG_OUTCOME_DENIED);
    CHECK(v.decision.scope == FG_SCOPE_KEY);
    CHECK(v.layer == 0);
    CHECK(strcmp(v.scope_name, "key") == 0);
    CHECK_U64(v.decision.retry_after_ns, 33333334);

    /* 25 keys of one workspace hit its window; the denial charges no key. */
    for (i = 0; i < 600; i++) {
        char key[32];
        snprintf(key, sizeof key, "gos_live_hobby_%d", (int)(2 + i / 60));
        keys[0] = bytes_key(key);
        CHECK_STATUS(fg_policy_check_at(policy, keys, 3, 1, 0, &v), FG_STATUS_OK);
        if (!v.decision.admitted) break;
    }
    CHECK(!v.decision.admitted);
    CHECK_U64(i, 540); /* 600 - the first key's 60 */
    CHECK(v.decision.scope == FG_SCOPE_WORKSPACE);
    CHECK(strcmp(v.scope_name, "workspace") == 0);
    CHECK_STATUS(fg_keyed_limiter_peek_bytes_at(per_key, keys[0].bytes, keys[0].len, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 60); /* refunded */

    CHECK_STATUS(fg_policy_counters(policy, &counts), FG_STATUS_OK);
    CHECK_U64(counts.admitted, 600);
    CHECK_U64(counts.denied, 2);
    CHECK_U64(counts.suspended, 0);
    CHECK_STATUS(fg_policy_layer_counters(policy, 2, &layer_counts), FG_STATUS_OK);
    CHECK(layer_counts.shadow_denied > 0); /* the shadow endpoint limit would have refused */
    CHECK_U64(layer_counts.denied, 0);
    CHECK_STATUS(fg_policy_layer_counters(policy, 3, &layer_counts), FG_STATUS_NO_SUCH_LAYER);
    CHECK_STATUS(fg_policy_layer_count(policy, &count), FG_STATUS_OK);
    CHECK_U64(count, 3);
    CHECK_STATUS(fg_policy_layer_scope(policy, 2, &name), FG_STATUS_OK);
    CHECK(strcmp(name, "license-activation") == 0);
    CHECK_STATUS(fg_policy_layer_scope(policy, 3, &name), FG_STATUS_NO_SUCH_LAYER);

    /* Request errors: nothing charged. */
    CHECK_STATUS(fg_policy_check_at(policy, keys, 2, 1, 0, &v), FG_STATUS_LAYER_KEY_COUNT);
    CHECK_MESSAGE("one key per layer");
    CHECK_STATUS(fg_policy_check_at(policy, keys, 40, 1, 0, &v), FG_STATUS_LAYER_KEY_COUNT);
    keys[0] = id_key(7);
    CHECK_STATUS(fg_policy_check_at(policy, keys, 3, 1, 0, &v), FG_STATUS_KEY_KIND_MISMATCH);
    keys[0] = bytes_key("");
    CHECK_STATUS(fg_policy_check_at(policy, keys, 3, 1, 0, &v), FG_STATUS_EMPTY_KEY);
    keys[0] = bytes_key("k");
    keys[1].kind = 9;
    CHECK_STATUS(fg_policy_check_at(policy, keys, 3, 1, 0, &v), FG_STATUS_INVALID_ARGUMENT);
    keys[1].kind = FG_LAYER_KEY_IP;
    keys[1].bytes = (const uint8_t *)"abc";
    keys[1].len = 3;
    CHECK_STATUS(fg_policy_check_at(policy, keys, 3, 1, 0, &v), FG_STATUS_INVALID_LENGTH);
    keys[1].len = 4;
    CHECK_STATUS(fg_policy_check_at(policy, keys, 3, 1, 0, &v), FG_STATUS_KEY_KIND_MISMATCH);
    keys[1].kind = FG_LAYER_KEY_NONE;
    CHECK_STATUS(fg_policy_check_at(policy, NULL, 3, 1, 0, &v), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_policy_check_at(policy, keys, 3, 1, 0, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_policy_check_at(NULL, keys, 3, 1, 0, &v), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_policy_counters(policy, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_policy_layer_count(NULL, &count), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_policy_layer_scope(policy, 0, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_policy_counters(policy, &counts), FG_STATUS_OK);
    CHECK_U64(counts.admitted + counts.denied, 602);
    CHECK_STATUS(fg_keyed_limiter_peek_bytes_at(per_key, (const uint8_t *)"k", 1, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 60);

    /* The clock: a fresh key next minute is admitted by both enforcing layers. */
    CHECK_STATUS(fg_policy_check(policy, keys, 3, 1, &v), FG_STATUS_OK);
    fg_policy_free(policy);
    fg_policy_free(NULL);
    fg_keyed_limiter_free(per_key);
}

/* A decision that denied a GenieOS key (30/s, burst 60) at time 0. */
static fg_decision genieos_denial(void) {
    fg_quota q = quota(30, NS_PER_SECOND, 60);
    fg_limiter *limiter = NULL;
    fg_decision d;
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 60, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &d), FG_STATUS_OK);
    fg_limiter_free(limiter);
    return d;
}

/* ABI 1.2: suspended keys, alone and as the first layer of a policy. */
static void test_suspensions(void) {
    fg_suspensions *s = (fg_suspensions *)&s;
    fg_suspensions *ids = NULL;
    fg_suspensions *ips = NULL;
    fg_keyed_limiter *per_key = keyed_new(FG_KEY_BYTES, 100, quota(30, NS_PER_SECOND, 60));
    fg_layer layers[2];
    fg_layer_key keys[2];
    fg_policy *policy = NULL;
    fg_policy_counts counts;
    fg_verdict v;
    fg_decision d;
    bool suspended = true;
    const uint8_t v4[4] = {192, 0, 2, 1};
    uint64_t i;

    CHECK_STATUS(fg_suspensions_new(FG_KEY_BYTES, 0, &s), FG_STATUS_ZERO_CAPACITY);
    CHECK(s == NULL);
    CHECK_STATUS(fg_suspensions_new(9, 10, &s), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("fg_suspensions_new: `key_kind` is 9");
    CHECK_STATUS(fg_suspensions_new(FG_KEY_BYTES, UINT64_MAX, &s), FG_STATUS_CAPACITY_TOO_LARGE);
    CHECK_STATUS(fg_suspensions_new(FG_KEY_BYTES, 10, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_suspensions_new(FG_KEY_BYTES, 4, &s), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_new(FG_KEY_U64, 4, &ids), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_new(FG_KEY_IP, 4, &ips), FG_STATUS_OK);

    /* Nobody is suspended yet: `*out` is left alone. */
    memset(&d, 0xab, sizeof d);
    CHECK_STATUS(fg_suspensions_check_bytes_at(s, (const uint8_t *)"cust_42", 7, 0, &suspended, &d), FG_STATUS_OK);
    CHECK(!suspended);
    CHECK(d.limit == UINT64_C(0xabababababababab));

    /* Until a time: suspended before it, free at and after it. */
    CHECK_STATUS(fg_suspensions_suspend_until_bytes(s, (const uint8_t *)"cust_42", 7, 100 * NS_PER_SECOND, 0), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_bytes_at(s, (const uint8_t *)"cust_42", 7, 40 * NS_PER_SECOND, &suspended, &d), FG_STATUS_OK);
    CHECK(suspended && !d.admitted && d.outcome == FG_OUTCOME_SUSPENDED);
    CHECK_U64(d.retry_after_ns, 60 * NS_PER_SECOND);
    CHECK_STATUS(fg_suspensions_check_bytes_at(s, (const uint8_t *)"cust_42", 7, 100 * NS_PER_SECOND, &suspended, &d), FG_STATUS_OK);
    CHECK(!suspended);
    CHECK_STATUS(fg_suspensions_check_bytes_at(s, (const uint8_t *)"cust_7", 6, 0, &suspended, &d), FG_STATUS_OK);
    CHECK(!suspended);

    /* Indefinitely (until_ns ignored), then lifted; a duration from now. */
    CHECK_STATUS(fg_suspensions_suspend_until_u64(ids, 42, 0, FG_SUSPEND_INDEFINITELY), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_u64_at(ids, 42, UINT64_MAX - 1, &suspended, &d), FG_STATUS_OK);
    CHECK(suspended && d.outcome == FG_OUTCOME_SUSPENDED);
    CHECK_U64(d.retry_after_ns, 0);
    CHECK_STATUS(fg_suspensions_check_u64(ids, 42, &suspended, &d), FG_STATUS_OK);
    CHECK(suspended);
    CHECK_STATUS(fg_suspensions_lift_u64(ids, 42), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_u64(ids, 42, &suspended, &d), FG_STATUS_OK);
    CHECK(!suspended);
    CHECK_STATUS(fg_suspensions_lift_u64(ids, 43), FG_STATUS_OK); /* never suspended */
    CHECK_STATUS(fg_suspensions_suspend_for_u64(ids, 7, 3600 * NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_u64(ids, 7, &suspended, &d), FG_STATUS_OK);
    CHECK(suspended && d.retry_after_ns > 0 && d.retry_after_ns <= 3600 * NS_PER_SECOND);
    CHECK_STATUS(fg_suspensions_suspend_for_bytes(s, (const uint8_t *)"cust_9", 6, 3600 * NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_bytes(s, (const uint8_t *)"cust_9", 6, &suspended, &d), FG_STATUS_OK);
    CHECK(suspended);
    CHECK_STATUS(fg_suspensions_lift_bytes(s, (const uint8_t *)"cust_9", 6), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_bytes(s, (const uint8_t *)"cust_9", 6, &suspended, &d), FG_STATUS_OK);
    CHECK(!suspended);

    /* IP keys are 4 or 16 bytes. */
    CHECK_STATUS(fg_suspensions_suspend_until_bytes(ips, v4, 4, 0, FG_SUSPEND_INDEFINITELY), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_bytes(ips, v4, 4, &suspended, &d), FG_STATUS_OK);
    CHECK(suspended);
    CHECK_STATUS(fg_suspensions_check_bytes(ips, v4, 3, &suspended, &d), FG_STATUS_INVALID_LENGTH);
    CHECK_STATUS(fg_suspensions_lift_bytes(ips, v4, 5), FG_STATUS_INVALID_LENGTH);

    /* Errors change nothing. */
    CHECK_STATUS(fg_suspensions_suspend_until_bytes(s, (const uint8_t *)"cust_7", 6, 0, 2), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("flags");
    CHECK_STATUS(fg_suspensions_check_bytes_at(s, (const uint8_t *)"cust_7", 6, 0, &suspended, &d), FG_STATUS_OK);
    CHECK(!suspended);
    CHECK_STATUS(fg_suspensions_suspend_until_u64(s, 1, 0, 0), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_suspensions_check_u64(s, 1, &suspended, &d), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_suspensions_lift_bytes(ids, (const uint8_t *)"x", 1), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_suspensions_suspend_for_bytes(s, (const uint8_t *)"", 0, 1), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_suspensions_suspend_for_bytes(s, NULL, 3, 1), FG_STATUS_NULL_POINTER);
    {
        static uint8_t long_key[FG_MAX_KEY_LEN + 1];
        memset(long_key, 'k', sizeof long_key);
        CHECK_STATUS(fg_suspensions_suspend_until_bytes(s, long_key, sizeof long_key, 1, 0), FG_STATUS_KEY_TOO_LONG);
    }
    CHECK_STATUS(fg_suspensions_suspend_for_u64(NULL, 1, 1), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_suspensions_lift_u64(NULL, 1), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_suspensions_check_u64_at(ids, 1, 0, NULL, &d), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_suspensions_check_u64_at(ids, 1, 0, &suspended, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_suspensions_check_bytes(NULL, v4, 4, &suspended, &d), FG_STATUS_NULL_POINTER);

    /* A full table refuses a new key and keeps every suspended one. */
    for (i = 0; i < 1000; i++) {
        fg_status status = fg_suspensions_suspend_until_u64(ids, 1000 + i, 0, FG_SUSPEND_INDEFINITELY);
        if (status == FG_STATUS_TABLE_FULL) break;
        CHECK_STATUS(status, FG_STATUS_OK);
    }
    CHECK(i < 1000);
    CHECK_STATUS(fg_suspensions_check_u64(ids, 1000, &suspended, &d), FG_STATUS_OK);
    CHECK(suspended);
    CHECK_STATUS(fg_suspensions_check_u64(ids, 1000 + i, &suspended, &d), FG_STATUS_OK);
    CHECK(!suspended);

    /* As a policy layer, first: a suspended key charges no bucket. A caller
       built against ABI 1.1 declares the layer without `suspensions`. */
    layers[0] = layer(FG_SCOPE_KEY);
    layers[0].suspensions = s;
    layers[1] = layer(FG_SCOPE_KEY);
    layers[1].keyed_limiter = per_key;
    layers[0].keyed_limiter = per_key;
    CHECK_STATUS(fg_policy_new(layers, 2, &policy), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("suspensions");
    layers[0].keyed_limiter = NULL;
    CHECK_STATUS(fg_policy_new(layers, 2, &policy), FG_STATUS_OK);
    fg_suspensions_free(s); /* the policy keeps its reference */
    keys[0] = bytes_key("cust_42");
    keys[1] = bytes_key("cust_42");
    CHECK_STATUS(fg_policy_check_at(policy, keys, 2, 1, 40 * NS_PER_SECOND, &v), FG_STATUS_OK);
    CHECK(!v.decision.admitted && v.decision.outcome == FG_OUTCOME_SUSPENDED);
    CHECK(v.layer == 0);
    CHECK_U64(v.decision.retry_after_ns, 60 * NS_PER_SECOND);
    CHECK_STATUS(fg_keyed_limiter_peek_bytes_at(per_key, (const uint8_t *)"cust_42", 7, 40 * NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 60);
    CHECK_STATUS(fg_policy_check_at(policy, keys, 2, 1, 100 * NS_PER_SECOND, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_STATUS(fg_policy_counters(policy, &counts), FG_STATUS_OK);
    CHECK_U64(counts.suspended, 1);
    CHECK_U64(counts.admitted, 1);
    fg_policy_free(policy);
    policy = NULL;

    layers[0] = layer(FG_SCOPE_KEY);
    layers[0].keyed_limiter = per_key;
    layers[0].struct_size = offsetof(fg_layer, suspensions);
    layers[0].suspensions = ips; /* past a 1.1 caller's struct: never read */
    CHECK_STATUS(fg_policy_new(layers, 1, &policy), FG_STATUS_OK);
    keys[0] = bytes_key("cust_8");
    CHECK_STATUS(fg_policy_check_at(policy, keys, 1, 1, 0, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    fg_policy_free(policy);
    layers[0].struct_size = offsetof(fg_layer, suspensions) - sizeof(void *);
    CHECK_STATUS(fg_policy_new(layers, 1, &policy), FG_STATUS_STRUCT_SIZE);
    CHECK(policy == NULL);

    fg_suspensions_free(ids);
    fg_suspensions_free(ips);
    fg_suspensions_free(NULL);
    fg_keyed_limiter_free(per_key);
}

/* ABI 1.2: GenieOS batch, 4 calls in flight per workspace, each its own cap. */
static void test_keyed_inflight(void) {
    fg_keyed_inflight *caps = (fg_keyed_inflight *)&caps;
    fg_keyed_inflight *names = NULL;
    fg_keyed_inflight *ips = NULL;
    fg_acquisition held[4];
    fg_acquisition a;
    fg_permit never = {0, 0};
    uint64_t in_flight = 99, limit = 0, i;
    const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};

    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_U64, 0, 10, &caps), FG_STATUS_ZERO_LIMIT);
    CHECK(caps == NULL);
    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_U64, FG_MAX_IN_FLIGHT + 1, 10, &caps), FG_STATUS_LIMIT_TOO_LARGE);
    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_U64, 4, 0, &caps), FG_STATUS_ZERO_CAPACITY);
    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_U64, 4, UINT64_MAX, &caps), FG_STATUS_CAPACITY_TOO_LARGE);
    CHECK_STATUS(fg_keyed_inflight_new(7, 4, 10, &caps), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("key_kind");
    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_U64, 4, 10, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_U64, 4, 4, &caps), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_BYTES, 2, 4, &names), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_IP, 1, 4, &ips), FG_STATUS_OK);

    for (i = 0; i < 4; i++) {
        CHECK_STATUS(fg_keyed_inflight_acquire_u64(caps, 7, &held[i]), FG_STATUS_OK);
        CHECK(held[i].acquired);
        CHECK_U64(held[i].in_flight, i + 1);
        CHECK_U64(held[i].limit, 4);
    }
    CHECK_STATUS(fg_keyed_inflight_acquire_u64(caps, 7, &a), FG_STATUS_OK);
    CHECK(!a.acquired && a.permit.owner == 0 && a.permit.ticket == 0);
    CHECK_U64(a.in_flight, 4);
    CHECK_STATUS(fg_keyed_inflight_acquire_u64(caps, 8, &a), FG_STATUS_OK); /* its own cap */
    CHECK(a.acquired);
    CHECK_U64(a.in_flight, 1);
    CHECK_STATUS(fg_keyed_inflight_in_flight_u64(caps, 7, &in_flight, &limit), FG_STATUS_OK);
    CHECK_U64(in_flight, 4);
    CHECK_U64(limit, 4);
    CHECK_STATUS(fg_keyed_inflight_in_flight_u64(caps, 99, &in_flight, &limit), FG_STATUS_OK);
    CHECK_U64(in_flight, 0);

    /* Release: once, by its own key. */
    CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 8, held[0].permit, &in_flight), FG_STATUS_FOREIGN_PERMIT);
    CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 99, held[0].permit, &in_flight), FG_STATUS_FOREIGN_PERMIT);
    CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 7, never, &in_flight), FG_STATUS_FOREIGN_PERMIT);
    CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 7, held[0].permit, &in_flight), FG_STATUS_OK);
    CHECK_U64(in_flight, 3);
    CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 7, held[0].permit, &in_flight), FG_STATUS_PERMIT_ALREADY_RELEASED);
    CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 7, held[1].permit, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_inflight_in_flight_u64(caps, 7, &in_flight, &limit), FG_STATUS_OK);
    CHECK_U64(in_flight, 3); /* the refused calls changed nothing */
    for (i = 1; i < 4; i++) {
        CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 7, held[i].permit, &in_flight), FG_STATUS_OK);
    }
    CHECK_U64(in_flight, 0);
    CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 8, a.permit, &in_flight), FG_STATUS_OK);

    /* A full table refuses a new key; known keys go on. */
    for (i = 0; i < 1000; i++) {
        fg_status status = fg_keyed_inflight_acquire_u64(caps, 100 + i, &a);
        if (status == FG_STATUS_TABLE_FULL) break;
        CHECK_STATUS(status, FG_STATUS_OK);
        CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 100 + i, a.permit, &in_flight), FG_STATUS_OK);
    }
    CHECK(i < 1000);
    CHECK_STATUS(fg_keyed_inflight_acquire_u64(caps, 7, &a), FG_STATUS_OK);
    CHECK(a.acquired);
    CHECK_STATUS(fg_keyed_inflight_release_u64(caps, 7, a.permit, &in_flight), FG_STATUS_OK);

    /* Byte and IP keys. */
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(names, (const uint8_t *)"ws_1", 4, &held[0]), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(names, (const uint8_t *)"ws_1", 4, &held[1]), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(names, (const uint8_t *)"ws_1", 4, &a), FG_STATUS_OK);
    CHECK(held[1].acquired && !a.acquired);
    CHECK_STATUS(fg_keyed_inflight_in_flight_bytes(names, (const uint8_t *)"ws_1", 4, &in_flight, &limit), FG_STATUS_OK);
    CHECK_U64(in_flight, 2);
    CHECK_U64(limit, 2);
    CHECK_STATUS(fg_keyed_inflight_release_bytes(names, (const uint8_t *)"ws_2", 4, held[0].permit, &in_flight), FG_STATUS_FOREIGN_PERMIT);
    CHECK_STATUS(fg_keyed_inflight_release_bytes(names, (const uint8_t *)"ws_1", 4, held[0].permit, &in_flight), FG_STATUS_OK);
    CHECK_U64(in_flight, 1);
    CHECK_STATUS(fg_keyed_inflight_release_bytes(names, (const uint8_t *)"ws_1", 4, held[1].permit, &in_flight), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(ips, v6, 16, &a), FG_STATUS_OK);
    CHECK(a.acquired);
    CHECK_STATUS(fg_keyed_inflight_release_bytes(ips, v6, 16, a.permit, &in_flight), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(ips, v6, 15, &a), FG_STATUS_INVALID_LENGTH);

    /* Bad arguments. */
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(names, (const uint8_t *)"", 0, &a), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(names, NULL, 1, &a), FG_STATUS_NULL_POINTER);
    {
        static uint8_t long_key[FG_MAX_KEY_LEN + 1];
        memset(long_key, 'k', sizeof long_key);
        CHECK_STATUS(fg_keyed_inflight_acquire_bytes(names, long_key, sizeof long_key, &a), FG_STATUS_KEY_TOO_LONG);
        CHECK_STATUS(fg_keyed_inflight_in_flight_bytes(names, long_key, sizeof long_key, &in_flight, &limit), FG_STATUS_KEY_TOO_LONG);
    }
    CHECK_STATUS(fg_keyed_inflight_acquire_u64(names, 1, &a), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_inflight_in_flight_u64(names, 1, &in_flight, &limit), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_inflight_release_bytes(caps, (const uint8_t *)"x", 1, never, &in_flight), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_inflight_acquire_u64(NULL, 1, &a), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_inflight_acquire_u64(caps, 1, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_inflight_release_u64(NULL, 1, never, &in_flight), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_inflight_in_flight_u64(caps, 1, NULL, &limit), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_inflight_in_flight_u64(caps, 1, &in_flight, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_inflight_in_flight_bytes(NULL, (const uint8_t *)"x", 1, &in_flight, &limit), FG_STATUS_NULL_POINTER);

    fg_keyed_inflight_free(caps);
    fg_keyed_inflight_free(names);
    fg_keyed_inflight_free(ips);
    fg_keyed_inflight_free(NULL);
}

static fg_status plans_check(const fg_plans *plans, uint32_t tier, const char *key,
                             const char *workspace, uint64_t cost, fg_verdict *v) {
    return fg_plans_check_at(plans, tier, (const uint8_t *)key, strlen(key),
                             (const uint8_t *)workspace, strlen(workspace), cost, 0, v);
}

/* ABI 1.2: the GenieOS plan table (seeds/001). */
static void test_plans_genieos(void) {
    fg_plans_config config = {sizeof(fg_plans_config), 0, 0, 0};
    fg_plans *plans = (fg_plans *)&plans;
    fg_verdict v;
    fg_policy_counts counts;
    uint32_t hobby = 99, sandbox = 99, pro = 99;
    uint64_t i, k;
    char key[32];

    CHECK_STATUS(fg_plans_new_genieos(NULL, &plans), FG_STATUS_NULL_POINTER);
    CHECK(plans == NULL);
    CHECK_STATUS(fg_plans_new_genieos(&config, NULL), FG_STATUS_NULL_POINTER);
    config.struct_size = 3;
    CHECK_STATUS(fg_plans_new_genieos(&config, &plans), FG_STATUS_STRUCT_SIZE);
    config.struct_size = sizeof config;
    CHECK_STATUS(fg_plans_new_genieos(&config, &plans), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_tier(plans, (const uint8_t *)"hobby", 5, &hobby), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_tier(plans, (const uint8_t *)"sandbox", 7, &sandbox), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_tier(plans, (const uint8_t *)"pro", 3, &pro), FG_STATUS_OK);
    CHECK(hobby != sandbox && hobby != pro);
    CHECK_STATUS(fg_plans_tier(plans, (const uint8_t *)"enterprise", 10, &pro), FG_STATUS_NO_SUCH_LAYER);
    CHECK_MESSAGE("enterprise");
    CHECK_STATUS(fg_plans_tier(plans, (const uint8_t *)"\xff", 1, &hobby), FG_STATUS_INVALID_UTF8);
    CHECK_STATUS(fg_plans_tier(plans, NULL, 1, &hobby), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_plans_tier(plans, (const uint8_t *)"hobby", 5, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_plans_tier(NULL, (const uint8_t *)"hobby", 5, &hobby), FG_STATUS_NULL_POINTER);

    /* A Hobby key: 60 admitted at once, the 61st refused by the key's bucket. */
    for (i = 0; i < 60; i++) {
        CHECK_STATUS(plans_check(plans, hobby, "gos_live_a", "ws_a", 1, &v), FG_STATUS_OK);
        CHECK(v.decision.admitted);
    }
    CHECK_STATUS(plans_check(plans, hobby, "gos_live_a", "ws_a", 1, &v), FG_STATUS_OK);
    CHECK(!v.decision.admitted && v.decision.outcome == FG_OUTCOME_DENIED);
    CHECK(v.decision.scope == FG_SCOPE_KEY);
    CHECK(strcmp(v.scope_name, "key") == 0);

    /* Sandbox is not limited. */
    for (i = 0; i < 1000; i++) {
        CHECK_STATUS(plans_check(plans, sandbox, "gos_test_a", "ws_a", 1000, &v), FG_STATUS_OK);
        CHECK(v.decision.admitted);
    }
    CHECK_U64(v.decision.remaining, UINT64_MAX);

    /* 25 Hobby keys of one workspace share its 600 a minute. */
    for (k = 0; k < 25; k++) {
        snprintf(key, sizeof key, "gos_live_ws_%d", (int)k);
        for (i = 0; i < 24; i++) {
            CHECK_STATUS(plans_check(plans, hobby, key, "ws_b", 1, &v), FG_STATUS_OK);
            CHECK(v.decision.admitted);
        }
    }
    CHECK_STATUS(plans_check(plans, hobby, "gos_live_ws_25", "ws_b", 1, &v), FG_STATUS_OK);
    CHECK(!v.decision.admitted);
    CHECK(v.decision.scope == FG_SCOPE_WORKSPACE);
    CHECK(strcmp(v.scope_name, "workspace") == 0);
    CHECK(v.decision.retry_after_ns > 0);

    CHECK_STATUS(fg_plans_counters(plans, hobby, &counts), FG_STATUS_OK);
    CHECK_U64(counts.admitted, 660);
    CHECK_U64(counts.denied, 2);
    CHECK_STATUS(fg_plans_counters(plans, sandbox, &counts), FG_STATUS_OK);
    CHECK_U64(counts.admitted, 0); /* nothing charged, nothing counted */
    CHECK_STATUS(fg_plans_counters(plans, 4, &counts), FG_STATUS_NO_SUCH_LAYER);
    CHECK_STATUS(fg_plans_counters(plans, hobby, NULL), FG_STATUS_NULL_POINTER);

    /* Request errors charge nothing. */
    CHECK_STATUS(plans_check(plans, 4, "gos_live_c", "ws_c", 1, &v), FG_STATUS_NO_SUCH_LAYER);
    CHECK_STATUS(plans_check(plans, hobby, "", "ws_c", 1, &v), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(plans_check(plans, hobby, "gos_live_c", "", 1, &v), FG_STATUS_EMPTY_KEY);
    {
        static uint8_t long_key[FG_MAX_KEY_LEN + 1];
        memset(long_key, 'k', sizeof long_key);
        CHECK_STATUS(fg_plans_check(plans, hobby, long_key, sizeof long_key, (const uint8_t *)"w", 1, 1, &v),
                     FG_STATUS_KEY_TOO_LONG);
    }
    CHECK_STATUS(fg_plans_check(plans, hobby, NULL, 1, (const uint8_t *)"w", 1, 1, &v), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_plans_check(plans, hobby, (const uint8_t *)"k", 1, (const uint8_t *)"w", 1, 1, NULL),
                 FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_plans_check(NULL, hobby, (const uint8_t *)"k", 1, (const uint8_t *)"w", 1, 1, &v),
                 FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_plans_check(plans, pro, (const uint8_t *)"gos_live_c", 10, (const uint8_t *)"ws_c", 4, 1, &v),
                 FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_U64(v.decision.remaining, 119); /* the earlier refusals charged nothing */

    fg_plans_free(plans);
    fg_plans_free(NULL);
}

/* ABI 1.2: custom tiers, reconfiguration, a full key table. */
static void test_plans_custom(void) {
    fg_quota per_key = quota(2, NS_PER_SECOND, 2);
    fg_quota faster = quota(5, NS_PER_SECOND, 5);
    fg_quota broken = quota(0, NS_PER_SECOND, 1);
    fg_tier tiers[2];
    fg_tier limits;
    fg_plans_config config = {sizeof(fg_plans_config), 60 * NS_PER_SECOND, 4, 4};
    fg_plans *plans = NULL;
    fg_verdict v;
    uint32_t free_tier = 99, team = 99;
    uint64_t i;
    fg_status status = FG_STATUS_OK;

    memset(tiers, 0, sizeof tiers);
    tiers[0].struct_size = sizeof(fg_tier);
    tiers[0].name = (const uint8_t *)"free";
    tiers[0].name_len = 4;
    tiers[0].key_quota = &per_key;
    tiers[1].struct_size = sizeof(fg_tier);
    tiers[1].name = (const uint8_t *)"team";
    tiers[1].name_len = 4;
    tiers[1].workspace_limit = 3;

    CHECK_STATUS(fg_plans_new(tiers, 0, &config, &plans), FG_STATUS_NO_LAYERS);
    CHECK(plans == NULL);
    CHECK_STATUS(fg_plans_new(NULL, 2, &config, &plans), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_plans_new(tiers, 2, NULL, &plans), FG_STATUS_NULL_POINTER);
    tiers[1].struct_size = sizeof(fg_tier) + 8;
    CHECK_STATUS(fg_plans_new(tiers, 2, &config, &plans), FG_STATUS_STRUCT_SIZE);
    tiers[1].struct_size = sizeof(fg_tier);
    tiers[0].key_quota = &broken;
    CHECK_STATUS(fg_plans_new(tiers, 2, &config, &plans), FG_STATUS_ZERO_COUNT);
    tiers[0].key_quota = &per_key;
    tiers[0].name = (const uint8_t *)"\xff";
    tiers[0].name_len = 1;
    CHECK_STATUS(fg_plans_new(tiers, 2, &config, &plans), FG_STATUS_INVALID_UTF8);
    tiers[0].name = (const uint8_t *)"free";
    tiers[0].name_len = 4;
    config.window_ns = 0;
    CHECK_STATUS(fg_plans_new(tiers, 2, &config, &plans), FG_STATUS_ZERO_WINDOW);
    config.window_ns = 60 * NS_PER_SECOND;
    config.key_capacity = UINT64_MAX;
    CHECK_STATUS(fg_plans_new(tiers, 2, &config, &plans), FG_STATUS_CAPACITY_TOO_LARGE);
    config.key_capacity = 4;
    CHECK(plans == NULL);
    CHECK_STATUS(fg_plans_new(tiers, 2, &config, &plans), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_tier(plans, (const uint8_t *)"free", 4, &free_tier), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_tier(plans, (const uint8_t *)"team", 4, &team), FG_STATUS_OK);

    /* free: per key only; team: per workspace only. */
    CHECK_STATUS(plans_check(plans, free_tier, "k1", "w1", 2, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_STATUS(plans_check(plans, free_tier, "k1", "w1", 1, &v), FG_STATUS_OK);
    CHECK(!v.decision.admitted && strcmp(v.scope_name, "key") == 0);
    CHECK_STATUS(plans_check(plans, team, "k1", "w1", 3, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_STATUS(plans_check(plans, team, "k2", "w1", 1, &v), FG_STATUS_OK);
    CHECK(!v.decision.admitted && strcmp(v.scope_name, "workspace") == 0);

    /* Reconfigure: change a limit, never add or remove one. */
    memset(&limits, 0, sizeof limits);
    limits.struct_size = sizeof limits;
    limits.key_quota = &faster;
    /* On the checks' own timeline (time 0): k1's usage carries over. */
    CHECK_STATUS(fg_plans_reconfigure_tier_at(plans, free_tier, &limits, 0), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_reconfigure_tier_at(NULL, free_tier, &limits, 0),
                 FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_plans_reconfigure_tier_at(plans, 2, &limits, 0), FG_STATUS_NO_SUCH_LAYER);
    CHECK_STATUS(plans_check(plans, free_tier, "k1", "w1", 1, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_U64(v.decision.limit, 5);
    CHECK_U64(v.decision.remaining, 2); /* 2 used before, 1 now, of 5 */
    CHECK_STATUS(fg_plans_reconfigure_tier(plans, team, &limits), FG_STATUS_NO_SUCH_LAYER);
    CHECK_STATUS(fg_plans_reconfigure_tier(plans, 2, &limits), FG_STATUS_NO_SUCH_LAYER);
    limits.key_quota = &broken;
    CHECK_STATUS(fg_plans_reconfigure_tier(plans, free_tier, &limits), FG_STATUS_ZERO_COUNT);
    limits.key_quota = NULL;
    limits.workspace_limit = 10;
    CHECK_STATUS(fg_plans_reconfigure_tier(plans, team, &limits), FG_STATUS_OK);
    CHECK_STATUS(plans_check(plans, team, "k2", "w1", 1, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_STATUS(fg_plans_reconfigure_tier(plans, team, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_plans_reconfigure_tier(NULL, team, &limits), FG_STATUS_NULL_POINTER);

    /* More keys than the table holds: a new key is refused by the full table. */
    for (i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof key, "key_%d", (int)i);
        status = plans_check(plans, free_tier, key, "w9", 1, &v);
        if (status != FG_STATUS_OK || !v.decision.admitted) break;
    }
    /* Room for 4 keys: "k1" and key_0 .. key_2; key_3 finds the table full. */
    CHECK_U64(i, 3);
    CHECK_STATUS(status, FG_STATUS_OK);
    CHECK(!v.decision.admitted && v.decision.outcome == FG_OUTCOME_DENIED);
    CHECK(strcmp(v.scope_name, "key") == 0);
    CHECK_STATUS(plans_check(plans, free_tier, "key_0", "w9", 1, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted); /* known keys go on */

    fg_plans_free(plans);
}

/* ABI 1.2: GenieOS workspaces, 600 a minute each, alone and as a policy layer. */
static void test_keyed_window(void) {
    fg_keyed_window_config config = {sizeof(fg_keyed_window_config), FG_KEY_U64, FG_FULL_TABLE_DENY,
                                     600, 60 * NS_PER_SECOND, 2};
    fg_keyed_window *ws = (fg_keyed_window *)&ws;
    fg_keyed_window *names = NULL;
    fg_keyed_window *ips = NULL;
    fg_layer layers[1];
    fg_layer_key keys[1];
    fg_policy *policy = NULL;
    fg_verdict v;
    fg_decision d;
    uint64_t n = 0;
    const uint8_t v4[4] = {10, 0, 0, 1};

    CHECK_STATUS(fg_keyed_window_new(NULL, &ws), FG_STATUS_NULL_POINTER);
    CHECK(ws == NULL);
    CHECK_STATUS(fg_keyed_window_new(&config, NULL), FG_STATUS_NULL_POINTER);
    config.capacity = 0;
    CHECK_STATUS(fg_keyed_window_new(&config, &ws), FG_STATUS_ZERO_CAPACITY);
    config.capacity = UINT64_MAX;
    CHECK_STATUS(fg_keyed_window_new(&config, &ws), FG_STATUS_CAPACITY_TOO_LARGE);
    config.capacity = 2;
    config.limit = 0;
    CHECK_STATUS(fg_keyed_window_new(&config, &ws), FG_STATUS_ZERO_LIMIT);
    config.limit = 600;
    config.window_ns = 0;
    CHECK_STATUS(fg_keyed_window_new(&config, &ws), FG_STATUS_ZERO_WINDOW);
    config.window_ns = 60 * NS_PER_SECOND;
    config.key_kind = 9;
    CHECK_STATUS(fg_keyed_window_new(&config, &ws), FG_STATUS_INVALID_ARGUMENT);
    config.key_kind = FG_KEY_U64;
    config.on_full = 9;
    CHECK_STATUS(fg_keyed_window_new(&config, &ws), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("on_full");
    config.on_full = FG_FULL_TABLE_DENY;
    config.struct_size = 4;
    CHECK_STATUS(fg_keyed_window_new(&config, &ws), FG_STATUS_STRUCT_SIZE);
    config.struct_size = sizeof config;
    CHECK_STATUS(fg_keyed_window_new(&config, &ws), FG_STATUS_OK);
    config.key_kind = FG_KEY_BYTES;
    CHECK_STATUS(fg_keyed_window_new(&config, &names), FG_STATUS_OK);
    config.key_kind = FG_KEY_IP;
    CHECK_STATUS(fg_keyed_window_new(&config, &ips), FG_STATUS_OK);

    CHECK_STATUS(fg_keyed_window_check_u64_at(ws, 7, 600, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_window_check_u64_at(ws, 7, 1, 0, &d), FG_STATUS_OK);
    CHECK(!d.admitted && d.outcome == FG_OUTCOME_DENIED);
    CHECK_STATUS(fg_keyed_window_check_u64(ws, 7, 1, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_u64_at(ws, 7, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 0);
    CHECK_STATUS(fg_keyed_window_refund_u64_at(ws, 7, 100, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 100);
    CHECK_STATUS(fg_keyed_window_refund_u64(ws, 7, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_u64(ws, 7, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_set_limit_u64(ws, 7, 1800), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_u64_at(ws, 7, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.limit, 1800);
    CHECK_U64(d.remaining, 1300);
    CHECK_STATUS(fg_keyed_window_set_limit_u64(ws, 7, 0), FG_STATUS_ZERO_LIMIT);
    CHECK_STATUS(fg_keyed_window_check_u64_at(ws, 8, 1, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted);

    /* Room for 2: a third key is refused (FG_FULL_TABLE_DENY) and counted. */
    CHECK_STATUS(fg_keyed_window_check_u64_at(ws, 9, 1, 0, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK_STATUS(fg_keyed_window_set_limit_u64(ws, 9, 5), FG_STATUS_TABLE_FULL);
    CHECK_STATUS(fg_keyed_window_len(ws, &n), FG_STATUS_OK);
    CHECK_U64(n, 2);
    CHECK_STATUS(fg_keyed_window_capacity(ws, &n), FG_STATUS_OK);
    CHECK(n >= 2);
    CHECK_STATUS(fg_keyed_window_full_table_events(ws, &n), FG_STATUS_OK);
    CHECK_U64(n, 1);

    /* Byte and IP keys. */
    CHECK_STATUS(fg_keyed_window_check_bytes_at(names, (const uint8_t *)"ws_a", 4, 10, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 590);
    CHECK_STATUS(fg_keyed_window_check_bytes(names, (const uint8_t *)"ws_b", 4, 1, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_bytes_at(names, (const uint8_t *)"ws_a", 4, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 590);
    CHECK_STATUS(fg_keyed_window_peek_bytes(names, (const uint8_t *)"ws_a", 4, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_refund_bytes_at(names, (const uint8_t *)"ws_a", 4, 5, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 595);
    CHECK_STATUS(fg_keyed_window_refund_bytes(names, (const uint8_t *)"ws_a", 4, 5, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_set_limit_bytes(names, (const uint8_t *)"ws_a", 4, 6000), FG_STATUS_OK);
    /* Reset: counts to zero, the key's own limit kept; an unseen key stays unseen. */
    CHECK_STATUS(fg_keyed_window_check_bytes(names, (const uint8_t *)"ws_a", 4, 100, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_reset_bytes(names, (const uint8_t *)"ws_a", 4), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_bytes(names, (const uint8_t *)"ws_a", 4, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 6000);
    CHECK_STATUS(fg_keyed_window_reset_bytes(names, (const uint8_t *)"ws_c", 4), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_len(names, &n), FG_STATUS_OK);
    CHECK_U64(n, 2);
    CHECK_STATUS(fg_keyed_window_reset_u64(ws, 8), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_u64(ws, 8, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 600);
    CHECK_STATUS(fg_keyed_window_check_bytes_at(ips, v4, 4, 1, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_window_check_bytes_at(ips, v4, 3, 1, 0, &d), FG_STATUS_INVALID_LENGTH);

    /* Bad arguments. */
    CHECK_STATUS(fg_keyed_window_check_bytes(names, (const uint8_t *)"", 0, 1, &d), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_window_set_limit_bytes(names, NULL, 2, 5), FG_STATUS_NULL_POINTER);
    {
        static uint8_t long_key[FG_MAX_KEY_LEN + 1];
        memset(long_key, 'k', sizeof long_key);
        CHECK_STATUS(fg_keyed_window_check_bytes(names, long_key, sizeof long_key, 1, &d), FG_STATUS_KEY_TOO_LONG);
    }
    CHECK_STATUS(fg_keyed_window_check_u64(names, 1, 1, &d), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_window_peek_bytes(ws, (const uint8_t *)"x", 1, &d), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_window_check_u64(NULL, 1, 1, &d), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_window_check_u64(ws, 1, 1, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_window_set_limit_u64(NULL, 1, 1), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_window_reset_u64(NULL, 1), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_window_reset_u64(names, 1), FG_STATUS_KEY_KIND_MISMATCH);
    CHECK_STATUS(fg_keyed_window_reset_bytes(names, (const uint8_t *)"", 0), FG_STATUS_EMPTY_KEY);
    CHECK_STATUS(fg_keyed_window_reset_bytes(names, NULL, 2), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_window_reset_bytes(ips, v4, 3), FG_STATUS_INVALID_LENGTH);
    CHECK_STATUS(fg_keyed_window_len(NULL, &n), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_window_capacity(ws, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_window_full_table_events(NULL, &n), FG_STATUS_NULL_POINTER);

    /* As a policy layer (a fresh table: `names` is full). */
    fg_keyed_window_free(names);
    config.key_kind = FG_KEY_BYTES;
    CHECK_STATUS(fg_keyed_window_new(&config, &names), FG_STATUS_OK);
    layers[0] = layer(FG_SCOPE_WORKSPACE);
    layers[0].keyed_window = names;
    layers[0].window = (const fg_window *)names; /* two limits */
    CHECK_STATUS(fg_policy_new(layers, 1, &policy), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("keyed_window");
    layers[0].window = NULL;
    CHECK_STATUS(fg_policy_new(layers, 1, &policy), FG_STATUS_OK);
    fg_keyed_window_free(names); /* the policy keeps its reference */
    keys[0] = bytes_key("ws_c");
    CHECK_STATUS(fg_policy_check_at(policy, keys, 1, 600, 0, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_STATUS(fg_policy_check_at(policy, keys, 1, 1, 0, &v), FG_STATUS_OK);
    CHECK(!v.decision.admitted && strcmp(v.scope_name, "workspace") == 0);
    keys[0] = id_key(3);
    CHECK_STATUS(fg_policy_check_at(policy, keys, 1, 1, 0, &v), FG_STATUS_KEY_KIND_MISMATCH);
    fg_policy_free(policy);

    fg_keyed_window_free(ws);
    fg_keyed_window_free(ips);
    fg_keyed_window_free(NULL);
}

static void test_headers(void) {
    const uint64_t now = UINT64_C(1776688439500000000); /* 2026-04-20T12:33:59.5Z */
    const char *expected = "Retry-After: 0.1\r\n"
                           "X-RateLimit-Limit: 60\r\n"
                           "X-RateLimit-Remaining: 0\r\n"
                           "X-RateLimit-Reset: 2026-04-20T12:34:02Z\r\n"
                           "X-RateLimit-Scope: key\r\n";
    fg_headers_config c;
    fg_headers *headers = (fg_headers *)&c;
    fg_decision d = genieos_denial(), bad = d;
    char buffer[512], small[8];
    size_t len = 0;

    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.retry_after_decimals = 10;
    CHECK_STATUS(fg_headers_new(&c, &headers), FG_STATUS_INVALID_ARGUMENT);
    CHECK(headers == NULL);
    c.retry_after_decimals = 1;
    c.flags = 4;
    CHECK_STATUS(fg_headers_new(&c, &headers), FG_STATUS_INVALID_ARGUMENT);
    c.flags = 0;
    c.policy_name = "bad\n";
    c.policy_name_len = 4;
    CHECK_STATUS(fg_headers_new(&c, &headers), FG_STATUS_INVALID_POLICY_NAME);
    c.policy_name = NULL;
    CHECK_STATUS(fg_headers_new(NULL, &headers), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_headers_new(&c, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_headers_new(&c, &headers), FG_STATUS_OK);

    CHECK_STATUS(fg_headers_render(headers, &d, "key", 3, now, buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strcmp(buffer, expected) == 0);
    CHECK_U64(len, strlen(expected));
    /* Too small: nothing written, the size needed reported; NULL asks for the size. */
    memset(small, 'x', sizeof small);
    CHECK_STATUS(fg_headers_render(headers, &d, "key", 3, now, small, sizeof small, &len),
                 FG_STATUS_BUFFER_TOO_SMALL);
    CHECK_U64(len, strlen(expected));
    CHECK(small[0] == 'x');
    CHECK_STATUS(fg_headers_render(headers, &d, "key", 3, now, NULL, 0, &len), FG_STATUS_BUFFER_TOO_SMALL);
    CHECK_U64(len, strlen(expected));
    CHECK_STATUS(fg_headers_render(headers, &d, "key", 3, now, buffer, len, &len), FG_STATUS_BUFFER_TOO_SMALL);
    CHECK_STATUS(fg_headers_render(headers, &d, "key", 3, now, buffer, len + 1, &len), FG_STATUS_OK);
    CHECK_STATUS(fg_headers_render(headers, &d, "key", 3, now, NULL, 5, &len), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_headers_render(headers, &d, "key", 3, now, buffer, sizeof buffer, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_headers_render(headers, &d, NULL, 3, now, buffer, sizeof buffer, &len), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_headers_render(headers, NULL, "key", 3, now, buffer, sizeof buffer, &len), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_headers_render(NULL, &d, "key", 3, now, buffer, sizeof buffer, &len), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_headers_render(headers, &d, "\xc3", 1, now, buffer, sizeof buffer, &len), FG_STATUS_INVALID_UTF8);
    memset(&bad.outcome, 0x7f, sizeof bad.outcome);
    CHECK_STATUS(fg_headers_render(headers, &bad, "key", 3, now, buffer, sizeof buffer, &len),
                 FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("outcome");
    /* A layer's own name. */
    CHECK_STATUS(fg_headers_render(headers, &d, "license-activation", 18, now, buffer, sizeof buffer, &len),
                 FG_STATUS_OK);
    CHECK(strstr(buffer, "X-RateLimit-Scope: license-activation\r\n") != NULL);
    fg_headers_free(headers);

    /* The IETF draft fields only, whole seconds. */
    c.flags = FG_HEADERS_NO_LEGACY_FIELDS;
    c.retry_after_decimals = 0;
    c.policy_name = "default";
    c.policy_name_len = 7;
    c.policy_quota = 30;
    c.policy_window_ns = NS_PER_SECOND;
    CHECK_STATUS(fg_headers_new(&c, &headers), FG_STATUS_OK);
    CHECK_STATUS(fg_headers_render(headers, &d, "key", 3, now, buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strcmp(buffer, "Retry-After: 1\r\n"
                         "RateLimit-Policy: \"default\";q=30;w=1\r\n"
                         "RateLimit: \"default\";r=0;t=2\r\n") == 0);
    fg_headers_free(headers);
    fg_headers_free(NULL);
}

static void test_error_bodies(void) {
    fg_error_body_config c;
    fg_error_body *body = (fg_error_body *)&c;
    fg_decision d = genieos_denial(), clarifai;
    fg_quota q = quota(15, NS_PER_SECOND, 15);
    fg_limiter *limiter = NULL;
    char buffer[1024];
    size_t len = 0;

    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.shape = FG_BODY_GENIEOS_KEY;
    c.retry_after_decimals = 1;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_OK);
    CHECK_STATUS(fg_error_body_render(body, &d, "key", 3, "req_01JABC", 10, buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strcmp(buffer, "{\"error\":{\"type\":\"rate_limit_exceeded\",\"code\":\"key_rate_limit\","
                         "\"message\":\"API key exceeded its rate limit. Retry after 0.1s.\","
                         "\"retry_after_seconds\":0.1,\"request_id\":\"req_01JABC\"}}") == 0);
    CHECK_STATUS(fg_error_body_render(body, &d, "key", 3, "req", 3, buffer, 10, &len), FG_STATUS_BUFFER_TOO_SMALL);
    CHECK(len > 10);
    CHECK_STATUS(fg_error_body_render(body, &d, "key", 3, NULL, 3, buffer, sizeof buffer, &len), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_error_body_render(body, &d, "key", 3, "\xff", 1, buffer, sizeof buffer, &len), FG_STATUS_INVALID_UTF8);
    CHECK_STATUS(fg_error_body_render(NULL, &d, "key", 3, "r", 1, buffer, sizeof buffer, &len), FG_STATUS_NULL_POINTER);
    fg_error_body_free(body);

    /* Clarifai: CONN_THROTTLED as 11005, "exceeded limit of 15 requests per second". */
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 15, 0, &clarifai), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &clarifai), FG_STATUS_OK);
    fg_limiter_free(limiter);
    c.shape = FG_BODY_CLARIFAI;
    c.flags = FG_BODY_NUMERIC_CODE;
    c.numeric_code = 11005;
    c.message = "exceeded limit of {limit} requests per second";
    c.message_len = strlen(c.message);
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_OK);
    CHECK_STATUS(fg_error_body_render(body, &clarifai, "key", 3, "abc", 3, buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strcmp(buffer, "{\"status\":{\"code\":11005,\"description\":\"Making too many requests\","
                         "\"details\":\"exceeded limit of 15 requests per second\",\"req_id\":\"abc\"}}") == 0);
    /* A custom 15/s customer with a burst of 30: the body names the rate. */
    q = quota(15, NS_PER_SECOND, 30);
    CHECK_STATUS(fg_limiter_new(&q, &limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 30, 0, &clarifai), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check_at(limiter, 1, 0, &clarifai), FG_STATUS_OK);
    fg_limiter_free(limiter);
    CHECK(!clarifai.admitted && clarifai.limit == 30);
    CHECK_STATUS(fg_error_body_render_rate(body, &clarifai, 15, NS_PER_SECOND, "key", 3, "abc", 3,
                                           buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strstr(buffer, "\"exceeded limit of 15 requests per second\"") != NULL);
    CHECK_STATUS(fg_error_body_render_rate(body, &clarifai, 1, 4 * NS_PER_SECOND, "key", 3, "abc", 3,
                                           buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strstr(buffer, "\"exceeded limit of 0.25 requests per second\"") != NULL);
    CHECK_STATUS(fg_error_body_render_rate(body, &clarifai, 0, NS_PER_SECOND, "key", 3, "abc", 3,
                                           buffer, sizeof buffer, &len), FG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fg_error_body_render_rate(body, &clarifai, 15, 0, "key", 3, "abc", 3,
                                           buffer, sizeof buffer, &len), FG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fg_error_body_render_rate(NULL, &clarifai, 15, NS_PER_SECOND, "key", 3, "abc", 3,
                                           buffer, sizeof buffer, &len), FG_STATUS_NULL_POINTER);
    fg_error_body_free(body);

    /* A custom GenieOS body with every text field. */
    c.shape = FG_BODY_GENIEOS;
    c.flags = 0;
    c.code = "ip_rate_limit";
    c.code_len = strlen(c.code);
    c.message = "Slow down ({scope}, {remaining} of {limit}), retry in {retry_after}s";
    c.message_len = strlen(c.message);
    c.type_name = "throttled";
    c.type_name_len = 9;
    c.description = "ignored by GenieOS";
    c.description_len = strlen(c.description);
    c.cannot_fit_message = "never";
    c.cannot_fit_message_len = 5;
    c.retry_after_decimals = 3;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_OK);
    CHECK_STATUS(fg_error_body_render(body, &d, "ip", 2, "r1", 2, buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strcmp(buffer, "{\"error\":{\"type\":\"throttled\",\"code\":\"ip_rate_limit\","
                         "\"message\":\"Slow down (ip, 0 of 60), retry in 0.034s\","
                         "\"retry_after_seconds\":0.034,\"request_id\":\"r1\"}}") == 0);
    fg_error_body_free(body);

    /* A GenieOS code is a string even when numeric; a Clarifai body has no type. */
    c.flags = FG_BODY_NUMERIC_CODE;
    c.numeric_code = 429;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_OK);
    CHECK_STATUS(fg_error_body_render(body, &d, "ip", 2, "r1", 2, buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strstr(buffer, "\"code\":\"429\"") != NULL);
    fg_error_body_free(body);
    c.shape = FG_BODY_CLARIFAI;
    c.description = "Slow down";
    c.description_len = strlen(c.description);
    c.message = "{limit}";
    c.message_len = 7;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_OK);
    CHECK_STATUS(fg_error_body_render(body, &d, "ip", 2, "r1", 2, buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strcmp(buffer, "{\"status\":{\"code\":429,\"description\":\"Slow down\","
                         "\"details\":\"60\",\"req_id\":\"r1\"}}") == 0);
    fg_error_body_free(body);
    c.shape = FG_BODY_GENIEOS;
    c.flags = 0;

    /* Build errors. */
    c.message = "{oops}";
    c.message_len = 6;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_INVALID_TEMPLATE);
    CHECK(body == NULL);
    c.message = "ok";
    c.message_len = 2;
    c.cannot_fit_message = "{";
    c.cannot_fit_message_len = 1;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_INVALID_TEMPLATE);
    c.cannot_fit_message = NULL;
    c.code = NULL;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("code");
    c.shape = 9;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_INVALID_ARGUMENT);
    c.shape = FG_BODY_GENIEOS_WORKSPACE;
    c.flags = 8;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_INVALID_ARGUMENT);
    c.flags = 0;
    c.retry_after_decimals = 12;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_INVALID_ARGUMENT);
    c.retry_after_decimals = 1;
    c.type_name = "\xff";
    c.type_name_len = 1;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_INVALID_UTF8);
    CHECK_STATUS(fg_error_body_new(NULL, &body), FG_STATUS_NULL_POINTER);
    c.type_name = NULL;
    c.message = NULL;
    CHECK_STATUS(fg_error_body_new(&c, &body), FG_STATUS_OK);
    CHECK_STATUS(fg_error_body_render(body, &d, "workspace", 9, "r", 1, buffer, sizeof buffer, &len), FG_STATUS_OK);
    CHECK(strstr(buffer, "\"code\":\"workspace_rate_limit\"") != NULL);
    fg_error_body_free(body);
    fg_error_body_free(NULL);
}

static void test_scope_names_and_warning_zone(void) {
    const char *name = NULL;
    fg_decision d = genieos_denial();
    bool warning = false;
    CHECK_STATUS(fg_scope_name(FG_SCOPE_KEY, &name), FG_STATUS_OK);
    CHECK(strcmp(name, "key") == 0);
    CHECK_STATUS(fg_scope_name(FG_SCOPE_WORKSPACE, &name), FG_STATUS_OK);
    CHECK(strcmp(name, "workspace") == 0);
    CHECK_STATUS(fg_scope_name(FG_SCOPE_IP, &name), FG_STATUS_OK);
    CHECK(strcmp(name, "ip") == 0);
    CHECK_STATUS(fg_scope_name(FG_SCOPE_ENDPOINT, &name), FG_STATUS_OK);
    CHECK(strcmp(name, "endpoint") == 0);
    CHECK_STATUS(fg_scope_name(FG_SCOPE_TOKEN, &name), FG_STATUS_OK);
    CHECK(strcmp(name, "token") == 0);
    CHECK_STATUS(fg_scope_name(FG_SCOPE_SINGLE, &name), FG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fg_scope_name(FG_SCOPE_NAMED, &name), FG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fg_scope_name(FG_SCOPE_KEY, NULL), FG_STATUS_NULL_POINTER);

    CHECK_STATUS(fg_decision_in_warning_zone(&d, FG_WARNING_ZONE_PERCENT, &warning), FG_STATUS_OK);
    CHECK(warning);
    d.remaining = 13; /* 13 of 60 is above 20 % */
    CHECK_STATUS(fg_decision_in_warning_zone(&d, FG_WARNING_ZONE_PERCENT, &warning), FG_STATUS_OK);
    CHECK(!warning);
    d.remaining = 12;
    CHECK_STATUS(fg_decision_in_warning_zone(&d, FG_WARNING_ZONE_PERCENT, &warning), FG_STATUS_OK);
    CHECK(warning);
    CHECK_STATUS(fg_decision_in_warning_zone(NULL, 20, &warning), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_decision_in_warning_zone(&d, 20, NULL), FG_STATUS_NULL_POINTER);
}

/* ABI 1.3: the client retry helper, GenieOS and license-API schedules. */
static void test_retry(void) {
    const uint64_t ms = UINT64_C(1000000);
    const uint64_t genieos_ms[5] = {250, 500, 1000, 2000, 4000};
    fg_retry_config retry = {sizeof(fg_retry_config), 0, 0, 0, 0, 0, 0, 0};
    fg_retry_config seeded;
    fg_retry_config bad;
    fg_retry_config small;
    bool again = false;
    uint64_t wait_ns = 0;
    uint64_t other_ns = 0;
    uint32_t n;

    CHECK_STATUS(fg_retry_config_preset(FG_RETRY_PRESET_GENIEOS, &retry), FG_STATUS_OK);
    CHECK_U64(retry.struct_size, sizeof(fg_retry_config));
    CHECK_U64(retry.initial_ns, 250 * ms);
    CHECK_U64(retry.max_delay_ns, 4000 * ms);
    CHECK_U64(retry.factor, 2);
    CHECK_U64(retry.max_retries, 5);
    CHECK_U64(retry.jitter, FG_JITTER_EQUAL);
    CHECK_U64(retry.flags, 0);

    /* Without jitter: 250 ms, 500 ms, 1 s, 2 s, 4 s, then stop. */
    retry.jitter = FG_JITTER_NONE;
    for (n = 0; n < 5; n++) {
        CHECK_STATUS(fg_retry_delay(&retry, n, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_OK);
        CHECK(again);
        CHECK_U64(wait_ns, genieos_ms[n] * ms);
    }
    CHECK_STATUS(fg_retry_delay(&retry, 5, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_OK);
    CHECK(!again);
    CHECK_U64(wait_ns, 0);

    /* A server's Retry-After is honoured exactly, jitter or not, until retries run out. */
    retry.jitter = FG_JITTER_FULL;
    CHECK_STATUS(fg_retry_delay(&retry, 0, 600 * ms, &again, &wait_ns), FG_STATUS_OK);
    CHECK(again);
    CHECK_U64(wait_ns, 600 * ms);
    CHECK_STATUS(fg_retry_delay(&retry, 0, 0, &again, &wait_ns), FG_STATUS_OK);
    CHECK(again);
    CHECK_U64(wait_ns, 0);
    CHECK_STATUS(fg_retry_delay(&retry, 5, 600 * ms, &again, &wait_ns), FG_STATUS_OK);
    CHECK(!again);

    /* Seeded equal jitter: the same seed gives the same waits, each in [nominal/2, nominal]. */
    seeded = retry;
    seeded.jitter = FG_JITTER_EQUAL;
    seeded.flags = FG_RETRY_SEEDED;
    seeded.seed = 42;
    for (n = 0; n < 5; n++) {
        CHECK_STATUS(fg_retry_delay(&seeded, n, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_OK);
        CHECK_STATUS(fg_retry_delay(&seeded, n, FG_NO_RETRY_AFTER, &again, &other_ns), FG_STATUS_OK);
        CHECK_U64(wait_ns, other_ns);
        CHECK(wait_ns >= genieos_ms[n] * ms / 2 && wait_ns <= genieos_ms[n] * ms);
    }

    /* The license API: 1 s, 2 s, 4 s, 8 s. */
    CHECK_STATUS(fg_retry_config_preset(FG_RETRY_PRESET_LICENSE_API, &retry), FG_STATUS_OK);
    retry.jitter = FG_JITTER_NONE;
    CHECK_STATUS(fg_retry_delay(&retry, 3, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_OK);
    CHECK(again);
    CHECK_U64(wait_ns, 8000 * ms);
    CHECK_STATUS(fg_retry_delay(&retry, 4, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_OK);
    CHECK(!again);

    /* Refusals write nothing. */
    again = true;
    wait_ns = 77;
    bad = retry;
    bad.factor = 0;
    CHECK_STATUS(fg_retry_delay(&bad, 0, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_INVALID_RETRY_POLICY);
    bad = retry;
    bad.initial_ns = bad.max_delay_ns + 1;
    CHECK_STATUS(fg_retry_delay(&bad, 0, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_INVALID_RETRY_POLICY);
    bad = retry;
    bad.jitter = 7;
    CHECK_STATUS(fg_retry_delay(&bad, 0, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("`config->jitter` is 7");
    bad = retry;
    bad.flags = 2;
    CHECK_STATUS(fg_retry_delay(&bad, 0, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("`config->flags` is 2");
    CHECK_STATUS(fg_retry_delay(NULL, 0, FG_NO_RETRY_AFTER, &again, &wait_ns), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_retry_delay(&retry, 0, FG_NO_RETRY_AFTER, NULL, &wait_ns), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_retry_delay(&retry, 0, FG_NO_RETRY_AFTER, &again, NULL), FG_STATUS_NULL_POINTER);
    CHECK(again);
    CHECK_U64(wait_ns, 77);
    small = retry;
    small.struct_size = sizeof(size_t);
    CHECK_STATUS(fg_retry_config_preset(FG_RETRY_PRESET_GENIEOS, &small), FG_STATUS_STRUCT_SIZE);
    CHECK_U64(small.initial_ns, retry.initial_ns);
    CHECK_STATUS(fg_retry_config_preset(9, &retry), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("`preset` is 9");
    CHECK_U64(retry.initial_ns, 1000 * ms);
    CHECK_STATUS(fg_retry_config_preset(FG_RETRY_PRESET_GENIEOS, NULL), FG_STATUS_NULL_POINTER);
}

/* ABI 1.3: Retry-After as seconds, fractions and HTTP dates. */
static void test_parse_retry_after(void) {
    /* 1994-11-06T08:49:27Z */
    const uint64_t now = UINT64_C(784111767) * NS_PER_SECOND;
    const char *date = "Sun, 06 Nov 1994 08:49:37 GMT";
    uint64_t wait_ns = 0;

    CHECK_STATUS(fg_parse_retry_after("0.6", 3, now, &wait_ns), FG_STATUS_OK);
    CHECK_U64(wait_ns, 600000000);
    CHECK_STATUS(fg_parse_retry_after("120", 3, now, &wait_ns), FG_STATUS_OK);
    CHECK_U64(wait_ns, 120 * NS_PER_SECOND);
    CHECK_STATUS(fg_parse_retry_after(date, strlen(date), now, &wait_ns), FG_STATUS_OK);
    CHECK_U64(wait_ns, 10 * NS_PER_SECOND);
    /* A date already past is no wait; only `len` bytes are read. */
    CHECK_STATUS(fg_parse_retry_after(date, strlen(date), now + 60 * NS_PER_SECOND, &wait_ns), FG_STATUS_OK);
    CHECK_U64(wait_ns, 0);
    CHECK_STATUS(fg_parse_retry_after("1.5xyz", 3, now, &wait_ns), FG_STATUS_OK);
    CHECK_U64(wait_ns, 1500000000);

    wait_ns = 77;
    CHECK_STATUS(fg_parse_retry_after("-1", 2, now, &wait_ns), FG_STATUS_INVALID_RETRY_AFTER);
    CHECK_STATUS(fg_parse_retry_after("", 0, now, &wait_ns), FG_STATUS_INVALID_RETRY_AFTER);
    CHECK_STATUS(fg_parse_retry_after("18446744074", 11, now, &wait_ns), FG_STATUS_INVALID_RETRY_AFTER);
    CHECK_MESSAGE("584 years");
    CHECK_STATUS(fg_parse_retry_after("\xff", 1, now, &wait_ns), FG_STATUS_INVALID_UTF8);
    CHECK_STATUS(fg_parse_retry_after(NULL, 3, now, &wait_ns), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_parse_retry_after("120", 3, now, NULL), FG_STATUS_NULL_POINTER);
    CHECK_U64(wait_ns, 77);
}

/*
 * ABI 1.11: an answer queue for the `_queued` Redis calls. This library is
 * built without Redis, so no limiter exists to start a call on: what is
 * tested is the queue itself, its socket, and every refusal.
 */
static void test_redis_answer_queue(void) {
    fg_redis_answers *answers = NULL;
    fg_redis_answer room[4];
    size_t count = 99;
    int fd = -1;
    struct pollfd readable = {0};

    CHECK_STATUS(fg_redis_answers_new(&fd, &answers), FG_STATUS_OK);
    CHECK(answers != NULL);
    CHECK(fd >= 0);
    /* Nothing waits: a take moves none, and the socket has no byte. */
    CHECK_STATUS(fg_redis_answers_take(answers, room, 4, &count), FG_STATUS_OK);
    CHECK_U64(count, 0);
    CHECK_STATUS(fg_redis_answers_take(answers, room, 0, &count), FG_STATUS_OK);
    CHECK_U64(count, 0);
    readable.fd = fd;
    readable.events = POLLIN;
    CHECK(poll(&readable, 1, 0) == 0);

    /* Bad arguments: statuses, and nothing made or moved. */
    fg_redis_answers *untouched = (fg_redis_answers *)&count;
    CHECK_STATUS(fg_redis_answers_new(NULL, &untouched), FG_STATUS_NULL_POINTER);
    CHECK(untouched == NULL);
    CHECK_MESSAGE("out_fd");
    CHECK_STATUS(fg_redis_answers_new(&fd, NULL), FG_STATUS_NULL_POINTER);
    count = 99;
    CHECK_STATUS(fg_redis_answers_take(NULL, room, 4, &count), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_answers_take(answers, NULL, 4, &count), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_answers_take(answers, room, 4, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_answers_take((const fg_redis_answers *)((const char *)answers + 1), room, 4,
                                       &count),
                 FG_STATUS_MISALIGNED_POINTER);
    CHECK_U64(count, 99);
    CHECK_STATUS(fg_redis_limiter_check_queued(NULL, (const uint8_t *)"k", 1, 1, 0, answers),
                 FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("limiter");
    CHECK_STATUS(fg_redis_limiter_peek_queued(NULL, (const uint8_t *)"k", 1, 0, answers),
                 FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_limiter_refund_queued(NULL, (const uint8_t *)"k", 1, 1, 0, NULL),
                 FG_STATUS_NULL_POINTER);

    fg_redis_answers_free(NULL);
    fg_redis_answers_free(answers);
    /* The caller owns its end of the socket, and closes it. */
    CHECK(close(fd) == 0);
}

/*
 * ABI 1.12: a wire, a connection whose socket the caller drives. This
 * library is built without Redis, so no store exists to make one on: what
 * is tested is that every function refuses what it must, by status.
 */
static void test_redis_wire_refusals(void) {
    fg_redis_wire *wire = (fg_redis_wire *)&wire;
    fg_redis_answer room[2];
    uint8_t bytes[8] = {0};
    char host[16];
    size_t len = 99;
    uint16_t port = 7;
    uint64_t next_ns = 5;
    uint32_t flags = 3;

    CHECK_U64(FG_WIRE_ANSWERS, 1);
    CHECK_U64(FG_WIRE_OUTPUT, 2);
    CHECK_U64(FG_WIRE_BROKEN, 4);
    CHECK_STATUS(fg_redis_wire_new(NULL, &wire), FG_STATUS_NULL_POINTER);
    CHECK(wire == NULL);
    CHECK_MESSAGE("store");
    CHECK_STATUS(fg_redis_wire_endpoint(NULL, host, sizeof host, &len, &port), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_wire_open(NULL, &flags), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_wire_close(NULL, &flags), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_wire_write(NULL, bytes, sizeof bytes, &len), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_wire_read(NULL, bytes, sizeof bytes, &flags), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_wire_expire(NULL, &next_ns, &flags), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_wire_take(NULL, room, 2, &len), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_limiter_check_wire(NULL, NULL, (const uint8_t *)"k", 1, 1, 0, &flags),
                 FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("wire");
    CHECK_STATUS(fg_redis_limiter_peek_wire(NULL, NULL, (const uint8_t *)"k", 1, 0, &flags),
                 FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_limiter_refund_wire(NULL, NULL, (const uint8_t *)"k", 1, 1, 0, &flags),
                 FG_STATUS_NULL_POINTER);
    /* Nothing was written on the way. */
    CHECK_U64(len, 99);
    CHECK_U64(port, 7);
    CHECK_U64(next_ns, 5);
    CHECK_U64(flags, 3);
    fg_redis_wire_free(NULL);
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
    test_quota_versions_and_lockout();
    test_limiter_suspension_and_reservations();
    test_keyed_create_errors();
    test_keyed_u64();
    test_keyed_bytes();
    test_keyed_cstr();
    test_keyed_ip();
    test_window();
    test_inflight();
    test_policy();
    test_suspensions();
    test_keyed_inflight();
    test_plans_genieos();
    test_plans_custom();
    test_keyed_window();
    test_headers();
    test_error_bodies();
    test_scope_names_and_warning_zone();
    test_retry();
    test_parse_retry_after();
    test_redis_answer_queue();
    test_redis_wire_refusals();
    puts("api_test (C): ok");
    return 0;
}
