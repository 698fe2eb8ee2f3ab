/*
 * Many threads on one limiter, through the C ABI, with pthreads.
 *
 * 1. Lock-step rounds: every thread checks at the same supplied timestamp,
 *    more than the bucket holds, then all meet at a barrier and time moves
 *    on. The admitted total is then exactly burst + floor(rate * elapsed).
 * 2. Free-running: threads take increasing timestamps from a shared counter
 *    and check in any interleaving; the admitted total never exceeds
 *    burst + floor(rate * elapsed), while one thread keeps reconfiguring
 *    another limiter under the checkers' feet.
 * 3. Keyed: threads check many keys of a u64-keyed and a byte-keyed limiter
 *    on increasing timestamps; each key's admitted total is at least its
 *    burst and at most burst + floor(rate * elapsed).
 * 4. The last error message is per thread.
 *
 * Usage: stress_test [scale]; scale (default 100) sizes the runs so valgrind
 * can use a small one.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define THREADS 4

/* 1000 per second, bursts of 50: one unit per millisecond. */
static const uint64_t COUNT = 1000, PERIOD_NS = NS_PER_SECOND, BURST = 50;

static uint64_t rounds;
static uint64_t attempts_per_round;
static fg_limiter *shared_limiter;
static pthread_barrier_t barrier;

/* Timestamps grow by 1.7 units per round so the carried fraction is exercised. */
static uint64_t round_time(uint64_t round) { return round * 1700000; }

static void *lock_step_worker(void *argument) {
    uint64_t *admitted = argument, round, i;
    fg_decision d;
    for (round = 0; round < rounds; round++) {
        for (i = 0; i < attempts_per_round; i++) {
            CHECK_STATUS(fg_limiter_check_at(shared_limiter, 1, round_time(round), &d), FG_STATUS_OK);
            *admitted += d.admitted;
        }
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

static void test_lock_step_total_is_exact(void) {
    fg_quota q = {.struct_size = sizeof(fg_quota), .count = COUNT, .period_ns = PERIOD_NS, .burst = BURST};
    pthread_t threads[THREADS];
    uint64_t admitted[THREADS] = {0}, total = 0, expected;
    int t;
    CHECK_STATUS(fg_limiter_new(&q, &shared_limiter), FG_STATUS_OK);
    CHECK(pthread_barrier_init(&barrier, NULL, THREADS) == 0);
    for (t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, lock_step_worker, &admitted[t]) == 0);
    for (t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK(pthread_barrier_destroy(&barrier) == 0);
    for (t = 0; t < THREADS; t++) total += admitted[t];

    /* Each round offers 4 * attempts > 1.7 + burst units, so every round drains the bucket. */
    expected = BURST + round_time(rounds - 1) * COUNT / PERIOD_NS;
    CHECK_U64(total, expected);
    fg_limiter_free(shared_limiter);
    shared_limiter = NULL;
}

static uint64_t next_time; /* shared timestamp source, advanced atomically */
static fg_limiter *reconfigured_limiter;
static int reconfiguring; /* accessed with __atomic builtins */

static void *free_running_worker(void *argument) {
    uint64_t *admitted = argument, i, now;
    fg_decision d;
    for (i = 0; i < rounds * attempts_per_round; i++) {
        now = __atomic_fetch_add(&next_time, 997, __ATOMIC_RELAXED);
        CHECK_STATUS(fg_limiter_check_at(shared_limiter, 1 + (i & 1), now, &d), FG_STATUS_OK);
        if (d.admitted) *admitted += 1 + (i & 1);
        /* The other limiter's quota changes under us: each answer is one of its two. */
        CHECK_STATUS(fg_limiter_check_at(reconfigured_limiter, 1, now, &d), FG_STATUS_OK);
        CHECK(d.limit == 100 || d.limit == 7);
        CHECK(d.remaining <= d.limit);
    }
    return NULL;
}

static void *reconfigure_worker(void *argument) {
    fg_quota wide = {.struct_size = sizeof(fg_quota), .count = 100, .period_ns = NS_PER_SECOND, .burst = 100};
    fg_quota narrow = {.struct_size = sizeof(fg_quota), .count = 7, .period_ns = NS_PER_SECOND, .burst = 7};
    fg_quota read = {.struct_size = sizeof(fg_quota)};
    uint64_t changes = 0;
    (void)argument;
    do { /* at least once, however the threads are scheduled */
        const fg_quota *next = (changes++ & 1) ? &wide : &narrow;
        CHECK_STATUS(fg_limiter_reconfigure_at(reconfigured_limiter, next,
                                               __atomic_load_n(&next_time, __ATOMIC_RELAXED)),
                     FG_STATUS_OK);
        CHECK_STATUS(fg_limiter_quota(reconfigured_limiter, &read), FG_STATUS_OK);
        CHECK(read.burst == 100 || read.burst == 7);
    } while (__atomic_load_n(&reconfiguring, __ATOMIC_RELAXED));
    return NULL;
}

static void test_free_running_total_is_bounded(void) {
    fg_quota q = {.struct_size = sizeof(fg_quota), .count = COUNT, .period_ns = PERIOD_NS, .burst = BURST};
    fg_quota wide = {.struct_size = sizeof(fg_quota), .count = 100, .period_ns = NS_PER_SECOND, .burst = 100};
    pthread_t threads[THREADS], reconfigurer;
    uint64_t admitted[THREADS] = {0}, total = 0, bound;
    int t;
    CHECK_STATUS(fg_limiter_new(&q, &shared_limiter), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_new(&wide, &reconfigured_limiter), FG_STATUS_OK);
    __atomic_store_n(&reconfiguring, 1, __ATOMIC_RELAXED);
    CHECK(pthread_create(&reconfigurer, NULL, reconfigure_worker, NULL) == 0);
    for (t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, free_running_worker, &admitted[t]) == 0);
    for (t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    __atomic_store_n(&reconfiguring, 0, __ATOMIC_RELAXED);
    CHECK(pthread_join(reconfigurer, NULL) == 0);
    for (t = 0; t < THREADS; t++) total += admitted[t];

    /* Timestamps ran from 0 to below next_time; a bucket full at 0 admits at most this. */
    bound = BURST + (next_time - 997) * COUNT / PERIOD_NS;
    CHECK(total >= BURST);
    CHECK(total <= bound);
    fg_limiter_free(shared_limiter);
    fg_limiter_free(reconfigured_limiter);
    shared_limiter = reconfigured_limiter = NULL;
}

/* Keyed: 64 keys, 20 per second, bursts of 10; the table has room for every key, so no
 * bucket is reclaimed and each key's bound holds exactly. */
#define KEYS 64
static const uint64_t KEY_COUNT = 20, KEY_BURST = 10, KEY_STEP_NS = 50001;
static fg_keyed_limiter *keyed_ids, *keyed_tokens;
static uint64_t keyed_time;
static uint64_t admitted_ids[KEYS], admitted_tokens[KEYS]; /* __atomic counters */

static void *keyed_worker(void *argument) {
    uint64_t thread = (uint64_t)(uintptr_t)argument, i, now, key;
    char token[16];
    fg_decision d;
    for (i = 0; i < rounds * attempts_per_round; i++) {
        key = (i * 7 + thread * 13) % KEYS;
        now = __atomic_fetch_add(&keyed_time, KEY_STEP_NS, __ATOMIC_RELAXED);
        CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed_ids, key, 1, now, &d), FG_STATUS_OK);
        if (d.admitted) __atomic_fetch_add(&admitted_ids[key], 1, __ATOMIC_RELAXED);
        CHECK(d.remaining <= KEY_BURST);
        snprintf(token, sizeof token, "tok_%02u", (unsigned)key);
        CHECK_STATUS(fg_keyed_limiter_check_bytes_at(keyed_tokens, (const uint8_t *)token, strlen(token), 1, now, &d),
                     FG_STATUS_OK);
        if (d.admitted) __atomic_fetch_add(&admitted_tokens[key], 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_keyed_totals_are_bounded_per_key(void) {
    fg_quota q = {.struct_size = sizeof(fg_quota), .count = KEY_COUNT, .period_ns = NS_PER_SECOND, .burst = KEY_BURST};
    fg_keyed_config ids = {.struct_size = sizeof(fg_keyed_config), .key_kind = FG_KEY_U64, .capacity = 16 * KEYS};
    fg_keyed_config tokens = {.struct_size = sizeof(fg_keyed_config), .key_kind = FG_KEY_BYTES, .capacity = 16 * KEYS};
    pthread_t threads[THREADS];
    uint64_t bound, len, events;
    int t, k;
    CHECK_STATUS(fg_keyed_limiter_new(&ids, &q, &keyed_ids), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_new(&tokens, &q, &keyed_tokens), FG_STATUS_OK);
    for (t = 0; t < THREADS; t++)
        CHECK(pthread_create(&threads[t], NULL, keyed_worker, (void *)(uintptr_t)t) == 0);
    for (t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);

    /* Timestamps ran from 0 to below keyed_time; each bucket was full at 0. */
    bound = KEY_BURST + (keyed_time - KEY_STEP_NS) * KEY_COUNT / NS_PER_SECOND;
    for (k = 0; k < KEYS; k++) {
        CHECK(admitted_ids[k] >= KEY_BURST);
        CHECK(admitted_ids[k] <= bound);
        CHECK(admitted_tokens[k] >= KEY_BURST);
        CHECK(admitted_tokens[k] <= bound);
    }
    CHECK_STATUS(fg_keyed_limiter_len(keyed_ids, &len), FG_STATUS_OK);
    CHECK_U64(len, KEYS);
    CHECK_STATUS(fg_keyed_limiter_full_table_events(keyed_tokens, &events), FG_STATUS_OK);
    CHECK_U64(events, 0);
    fg_keyed_limiter_free(keyed_ids);
    fg_keyed_limiter_free(keyed_tokens);
}

static void *failing_worker(void *argument) {
    fg_decision d;
    (void)argument;
    CHECK(fg_last_error_message()[0] == '\0'); /* a new thread starts clean */
    CHECK_STATUS(fg_limiter_peek(NULL, &d), FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("fg_limiter_peek");
    return NULL;
}

static void test_last_error_is_per_thread(void) {
    pthread_t thread;
    CHECK_STATUS(fg_limiter_new(NULL, NULL), FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("fg_limiter_new");
    CHECK(pthread_create(&thread, NULL, failing_worker, NULL) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK_MESSAGE("fg_limiter_new"); /* the other thread's failure did not replace ours */
}

int main(int argc, char **argv) {
    uint64_t scale = argc > 1 ? strtoull(argv[1], NULL, 10) : 100;
    CHECK(scale > 0);
    rounds = 10 * scale;
    attempts_per_round = 20;
    test_lock_step_total_is_exact();
    test_free_running_total_is_bounded();
    test_keyed_totals_are_bounded_per_key();
    test_last_error_is_per_thread();
    printf("stress_test (C, %d threads, %" PRIu64 " rounds): ok\n", THREADS, rounds);
    return 0;
}
