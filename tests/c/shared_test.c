/*
 * Shared mode through the C ABI: the shape of a pre-forked C server.
 *
 * 1. Arguments: a bad fg_shared_memory (NULL, both or neither of name and
 *    path, a bad name, a path with a NUL, invalid UTF-8) gets its status
 *    and leaves *out NULL; a segment that holds another kind, quota or
 *    capacity is refused with FG_STATUS_SEGMENT_MISMATCH and a message
 *    naming the field.
 * 2. Two handles on one segment (by name, and by path) charge one bucket;
 *    fg_*_is_shared says so; fg_shared_memory_remove deletes the segment.
 *    The same for every other kind's _new_shared constructor (a sliding
 *    window, keyed windows, suspensions, plans, in-flight caps and keyed
 *    caps): two handles share state and changes, and a handle asking for
 *    other settings is refused with a message naming the field; the permit
 *    of a forked worker that exits without releasing it comes back.
 * 3. Pre-forked workers: the parent creates the segment, forks CHILDREN
 *    workers that each open it themselves and hammer one key until a
 *    deadline, through a limiter, a byte-keyed limiter, and a policy over a
 *    u64-keyed limiter (each worker builds its own policy, as a worker
 *    process does). The total admitted stays within burst + rate x elapsed
 *    and at least that minus one per worker, elapsed bracketed by the
 *    workers' own CLOCK_MONOTONIC reads around their checks. Through a
 *    sliding window and a byte-keyed window, the workers together admit
 *    the window's limit (more only by what slid out of a window that ended
 *    during the run), or every request when they made fewer.
 *
 * Usage: shared_test [duration_ms]; each hammering run lasts duration_ms
 * (default 500), so valgrind can use a shorter one.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define CHILDREN 4

/* 100 per second (an exact 10 ms interval), bursts of 100: a bucket left
 * alone for a second is full again, so a loaded machine's scheduling gaps
 * shorter than that lose no refill. */
static const uint64_t COUNT = 100, BURST = 100;
static const uint64_t POLICY_KEY = 7;
static const char BYTES_KEY[] = "alice";

static uint64_t duration_ns;

static uint64_t monotonic_ns(void) {
    struct timespec now;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
    return (uint64_t)now.tv_sec * NS_PER_SECOND + (uint64_t)now.tv_nsec;
}

static fg_quota quota_of(uint64_t count, uint64_t burst) {
    fg_quota quota = {.struct_size = sizeof(fg_quota), .count = count, .period_ns = NS_PER_SECOND, .burst = burst};
    return quota;
}

/* `count` an hour: no refill between two checks, even under valgrind. */
static fg_quota hourly(uint64_t count) {
    fg_quota quota = {.struct_size = sizeof(fg_quota), .count = count, .period_ns = 3600 * NS_PER_SECOND, .burst = BURST};
    return quota;
}

static fg_keyed_config keyed_config(uint32_t key_kind, uint64_t capacity) {
    fg_keyed_config config = {.struct_size = sizeof(fg_keyed_config), .key_kind = key_kind, .capacity = capacity};
    return config;
}

/* The segment `<what>-<pid>` (unique per run; the name must outlive the struct). */
static fg_shared_memory named(char *buffer, size_t size, const char *what) {
    fg_shared_memory shm = {.struct_size = sizeof(fg_shared_memory)};
    int length = snprintf(buffer, size, "c-shared-test-%s-%ld", what, (long)getpid());
    CHECK(length > 0 && (size_t)length < size);
    shm.name = buffer;
    shm.name_len = (size_t)length;
    return shm;
}

static void test_bad_arguments(void) {
    fg_quota quota = quota_of(COUNT, BURST);
    fg_keyed_config config = keyed_config(FG_KEY_BYTES, 64);
    fg_shared_memory shm = {.struct_size = sizeof(fg_shared_memory)};
    fg_limiter *limiter = (fg_limiter *)&shm; /* not NULL: each failure must store NULL */
    fg_keyed_limiter *keyed = (fg_keyed_limiter *)&shm;

    CHECK_STATUS(fg_limiter_new_shared(&quota, NULL, &limiter), FG_STATUS_NULL_POINTER);
    CHECK(limiter == NULL);
    CHECK_MESSAGE("fg_limiter_new_shared: `shared` is NULL");
    CHECK_STATUS(fg_keyed_limiter_new_shared(&config, &quota, NULL, &keyed), FG_STATUS_NULL_POINTER);
    CHECK(keyed == NULL);
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_shared_memory_remove(NULL), FG_STATUS_NULL_POINTER);

    /* Neither name nor path, then both. */
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("exactly one of name and path");
    shm.name = "x";
    shm.name_len = 1;
    shm.path = "/tmp/x";
    shm.path_len = 6;
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_INVALID_ARGUMENT);

    /* Names: a path in disguise, empty, too long, not UTF-8; NULL with a length. */
    shm.path = NULL;
    shm.path_len = 0;
    shm.name = "../etc";
    shm.name_len = 6;
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_INVALID_SEGMENT_NAME);
    CHECK_MESSAGE("segment name must be");
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_INVALID_SEGMENT_NAME);
    shm.name_len = 0;
    CHECK_STATUS(fg_keyed_limiter_new_shared(&config, &quota, &shm, &keyed), FG_STATUS_INVALID_SEGMENT_NAME);
    {
        char long_name[202];
        memset(long_name, 'a', sizeof long_name);
        shm.name = long_name;
        shm.name_len = sizeof long_name - 1;
        CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_INVALID_SEGMENT_NAME);
    }
    shm.name = "caf\xc3";
    shm.name_len = 4;
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_INVALID_UTF8);
    CHECK_MESSAGE("`shared->name` is not UTF-8");

    /* Paths: a NUL inside, empty, in a directory that does not exist. */
    shm.name = NULL;
    shm.name_len = 0;
    shm.path = "/tmp/a\0b";
    shm.path_len = 8;
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_INVALID_ARGUMENT);
    CHECK_MESSAGE("NUL");
    shm.path_len = 0;
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_INVALID_ARGUMENT);
    shm.path = "/nonexistent-floodgate-dir/segment";
    shm.path_len = strlen(shm.path);
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_SEGMENT_IO);
    CHECK_MESSAGE("could not open the shared segment");
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK); /* nothing there: not an error */

    /* A struct_size no header declared; a bad quota is refused before any segment is made. */
    shm.struct_size = 4;
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_STRUCT_SIZE);
    shm.struct_size = sizeof(fg_shared_memory);
    quota.burst = 0;
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &limiter), FG_STATUS_ZERO_BURST);
    CHECK(limiter == NULL && keyed == NULL);

    CHECK_STATUS(fg_limiter_is_shared(NULL, NULL), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_limiter_is_shared(NULL, NULL), FG_STATUS_NULL_POINTER);
}

static void test_one_segment_two_handles(void) {
    char name[96];
    fg_shared_memory shm = named(name, sizeof name, "handles");
    fg_quota quota = hourly(COUNT), other = hourly(COUNT + 1);
    fg_keyed_config config = keyed_config(FG_KEY_BYTES, 64);
    fg_limiter *first, *second, *heap, *refused = NULL;
    fg_keyed_limiter *keyed = NULL;
    fg_decision d;
    bool shared = false;

    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &first), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_new_shared(&quota, &shm, &second), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check(first, BURST, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_limiter_check(second, 1, &d), FG_STATUS_OK);
    CHECK(!d.admitted); /* one bucket */
    /* The machine's timeline is the handles' own: a time read from it is
       "now" for them, an hour later (a full refill of 100/h) admits again. */
    uint64_t now = fg_machine_now_ns();
    CHECK(fg_machine_now_ns() >= now);
    CHECK_STATUS(fg_limiter_check_at(second, 1, now, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK_STATUS(fg_limiter_check_at(second, 1, now + 3600000000000ull, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_limiter_is_shared(second, &shared), FG_STATUS_OK);
    CHECK(shared);
    CHECK_STATUS(fg_limiter_new(&quota, &heap), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_is_shared(heap, &shared), FG_STATUS_OK);
    CHECK(!shared);
    fg_limiter_free(heap);

    /* Another quota, another kind: refused, saying what differs. */
    refused = first;
    CHECK_STATUS(fg_limiter_new_shared(&other, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK(refused == NULL);
    CHECK_MESSAGE("fg_limiter_new_shared: the shared segment's quota count is 100, this build asked for 101");
    CHECK_STATUS(fg_keyed_limiter_new_shared(&config, &quota, &shm, &keyed), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("segment's kind is");
    CHECK(keyed == NULL);

    /* Removed while open: the handles keep their mapping; the next create starts afresh. */
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check(second, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_new_shared(&other, &shm, &refused), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check(refused, BURST, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    fg_limiter_free(refused);
    fg_limiter_free(first);
    fg_limiter_free(second);
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK);
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK);
}

static void test_keyed_by_path(void) {
    char path[96];
    int length = snprintf(path, sizeof path, "/tmp/floodgate-c-shared-test-%ld", (long)getpid());
    fg_shared_memory shm = {.struct_size = sizeof(fg_shared_memory), .path = path, .path_len = (size_t)length,
                            .wait_ms = 100};
    fg_quota quota = hourly(COUNT);
    fg_keyed_config config = keyed_config(FG_KEY_U64, 64), bigger = keyed_config(FG_KEY_U64, 128);
    fg_keyed_limiter *first, *second, *refused = NULL;
    fg_decision d;
    bool shared = false;

    CHECK_STATUS(fg_keyed_limiter_new_shared(&config, &quota, &shm, &first), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_new_shared(&config, &quota, &shm, &second), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_limiter_is_shared(second, &shared), FG_STATUS_OK);
    CHECK(shared);
    CHECK_STATUS(fg_keyed_limiter_check_u64(first, 42, BURST, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_limiter_check_u64(second, 42, 1, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK_STATUS(fg_keyed_limiter_check_u64(second, 43, 1, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_limiter_new_shared(&bigger, &quota, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("the shared segment's capacity is 64, this build asked for 128");
    CHECK(refused == NULL);
    fg_keyed_limiter_free(first);
    fg_keyed_limiter_free(second);
    CHECK(access(path, F_OK) == 0);
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK);
    CHECK(access(path, F_OK) != 0);
}


/* A sliding window and keyed windows: two handles count in one window and
 * see each other's limit changes; other settings are refused by name. */
static void test_shared_windows(void) {
    char name[96], keyed_name[96];
    fg_shared_memory shm = named(name, sizeof name, "window");
    fg_shared_memory keyed_shm = named(keyed_name, sizeof keyed_name, "keyed-window");
    fg_keyed_window_config config = {.struct_size = sizeof(fg_keyed_window_config), .key_kind = FG_KEY_BYTES,
                                     .limit = 10, .window_ns = 3600 * NS_PER_SECOND, .capacity = 64};
    fg_keyed_window_config other = config;
    fg_window *one, *two, *heap, *refused = NULL;
    fg_keyed_window *first, *second, *refused_keyed = NULL;
    fg_suspensions *wrong_kind = NULL;
    fg_decision d;
    bool shared = false;

    CHECK_STATUS(fg_window_new_shared(10, 3600 * NS_PER_SECOND, &shm, &one), FG_STATUS_OK);
    CHECK_STATUS(fg_window_new_shared(10, 3600 * NS_PER_SECOND, &shm, &two), FG_STATUS_OK);
    CHECK_STATUS(fg_window_is_shared(two, &shared), FG_STATUS_OK);
    CHECK(shared);
    CHECK_STATUS(fg_window_new(10, 3600 * NS_PER_SECOND, &heap), FG_STATUS_OK);
    CHECK_STATUS(fg_window_is_shared(heap, &shared), FG_STATUS_OK);
    CHECK(!shared);
    fg_window_free(heap);
    CHECK_STATUS(fg_window_check(one, 10, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_window_check(two, 1, &d), FG_STATUS_OK);
    CHECK(!d.admitted); /* one window */
    CHECK_STATUS(fg_window_reconfigure(two, 15), FG_STATUS_OK);
    CHECK_STATUS(fg_window_peek(one, &d), FG_STATUS_OK);
    CHECK(d.limit == 15 && d.remaining == 5); /* one limit */
    refused = one;
    CHECK_STATUS(fg_window_new_shared(20, 3600 * NS_PER_SECOND, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK(refused == NULL);
    CHECK_MESSAGE("fg_window_new_shared: the shared segment's window limit is 10, this build asked for 20");
    CHECK_STATUS(fg_window_new_shared(10, 60 * NS_PER_SECOND, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("the shared segment's window (ns) is");
    CHECK_STATUS(fg_suspensions_new_shared(FG_KEY_U64, 64, &shm, &wrong_kind), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("fg_suspensions_new_shared: the shared segment's kind is");
    CHECK(wrong_kind == NULL);
    fg_window_free(one);
    fg_window_free(two);
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK);

    CHECK_STATUS(fg_keyed_window_new_shared(&config, &keyed_shm, &first), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_new_shared(&config, &keyed_shm, &second), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_is_shared(first, &shared), FG_STATUS_OK);
    CHECK(shared);
    CHECK_STATUS(fg_keyed_window_check_bytes(first, (const uint8_t *)"ws_1", 4, 10, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_window_check_bytes(second, (const uint8_t *)"ws_1", 4, 1, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK_STATUS(fg_keyed_window_check_bytes(second, (const uint8_t *)"ws_2", 4, 1, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_window_set_limit_bytes(second, (const uint8_t *)"ws_1", 4, 30), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_bytes(first, (const uint8_t *)"ws_1", 4, &d), FG_STATUS_OK);
    CHECK(d.limit == 30 && d.remaining == 20); /* a key's own limit, set in the other handle */
    other.capacity = 65;
    CHECK_STATUS(fg_keyed_window_new_shared(&other, &keyed_shm, &refused_keyed), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("fg_keyed_window_new_shared: the shared segment's capacity is 64, this build asked for 65");
    other = config;
    other.on_full = FG_FULL_TABLE_ADMIT;
    CHECK_STATUS(fg_keyed_window_new_shared(&other, &keyed_shm, &refused_keyed), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("the shared segment's options is");
    other = config;
    other.key_kind = FG_KEY_U64;
    CHECK_STATUS(fg_keyed_window_new_shared(&other, &keyed_shm, &refused_keyed), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("the shared segment's kind is");
    CHECK(refused_keyed == NULL);
    fg_keyed_window_free(first);
    fg_keyed_window_free(second);
    CHECK_STATUS(fg_shared_memory_remove(&keyed_shm), FG_STATUS_OK);

    CHECK_STATUS(fg_window_new_shared(10, 0, &shm, &refused), FG_STATUS_ZERO_WINDOW);
    CHECK_STATUS(fg_window_is_shared(NULL, &shared), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_window_is_shared(NULL, &shared), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_window_new_shared(&config, NULL, &refused_keyed), FG_STATUS_NULL_POINTER);
    CHECK_MESSAGE("fg_keyed_window_new_shared: `shared` is NULL");
}

/* Suspensions: one process's suspension and lift are every process's. */
static void test_shared_suspensions(void) {
    char name[96];
    fg_shared_memory shm = named(name, sizeof name, "suspensions");
    fg_suspensions *one, *two, *refused = NULL;
    fg_decision d;
    bool shared = false, suspended = false;

    CHECK_STATUS(fg_suspensions_new_shared(FG_KEY_BYTES, 50, &shm, &one), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_new_shared(FG_KEY_BYTES, 50, &shm, &two), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_is_shared(two, &shared), FG_STATUS_OK);
    CHECK(shared);
    CHECK_STATUS(fg_suspensions_suspend_until_bytes(one, (const uint8_t *)"cust_42", 7, 0, FG_SUSPEND_INDEFINITELY),
                 FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_bytes(two, (const uint8_t *)"cust_42", 7, &suspended, &d), FG_STATUS_OK);
    CHECK(suspended);
    CHECK_STATUS(fg_suspensions_lift_bytes(two, (const uint8_t *)"cust_42", 7), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_bytes(one, (const uint8_t *)"cust_42", 7, &suspended, &d), FG_STATUS_OK);
    CHECK(!suspended);
    CHECK_STATUS(fg_suspensions_new_shared(FG_KEY_BYTES, 51, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("fg_suspensions_new_shared: the shared segment's capacity is 50, this build asked for 51");
    CHECK_STATUS(fg_suspensions_new_shared(FG_KEY_U64, 50, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("the shared segment's kind is");
    CHECK(refused == NULL);
    CHECK_STATUS(fg_suspensions_new_shared(9, 50, &shm, &refused), FG_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fg_suspensions_is_shared(NULL, &shared), FG_STATUS_NULL_POINTER);
    fg_suspensions_free(one);
    fg_suspensions_free(two);
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK);
}

/* Plans (given tiers, and GenieOS's): one bucket per key and one tier
 * change across handles; other tiers or capacities are refused by name. */
static void test_shared_plans(void) {
    char name[96], genieos_name[96];
    fg_shared_memory shm = named(name, sizeof name, "plans");
    fg_shared_memory genieos_shm = named(genieos_name, sizeof genieos_name, "plans-genieos");
    fg_quota key_quota = hourly(COUNT), faster = hourly(COUNT + 1);
    fg_tier tiers[2] = {
        {.struct_size = sizeof(fg_tier), .name = (const uint8_t *)"free", .name_len = 4},
        {.struct_size = sizeof(fg_tier), .name = (const uint8_t *)"hobby", .name_len = 5, .key_quota = &key_quota,
         .workspace_limit = 600},
    };
    fg_tier changed = {.struct_size = sizeof(fg_tier), .key_quota = &key_quota, .workspace_limit = 150};
    fg_plans_config config = {.struct_size = sizeof(fg_plans_config), .window_ns = 60 * NS_PER_SECOND,
                              .key_capacity = 100, .workspace_capacity = 10};
    fg_plans_config bigger = config;
    fg_plans *one, *two, *refused = NULL;
    fg_verdict v;
    uint32_t hobby = 0;
    bool shared = false;

    CHECK_STATUS(fg_plans_new_shared(tiers, 2, &config, &shm, &one), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_new_shared(tiers, 2, &config, &shm, &two), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_is_shared(one, &shared), FG_STATUS_OK);
    CHECK(shared);
    CHECK_STATUS(fg_plans_tier(one, (const uint8_t *)"hobby", 5, &hobby), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_check(one, hobby, (const uint8_t *)"k", 1, (const uint8_t *)"w", 1, BURST, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_STATUS(fg_plans_check(two, hobby, (const uint8_t *)"k", 1, (const uint8_t *)"w", 1, 1, &v), FG_STATUS_OK);
    CHECK(!v.decision.admitted); /* one bucket for the key */
    CHECK_STATUS(fg_plans_reconfigure_tier(two, hobby, &changed), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_check(one, hobby, (const uint8_t *)"k2", 2, (const uint8_t *)"w", 1, 1, &v), FG_STATUS_OK);
    /* The workspace decides (49 left of the other handle's new 150, the key 99 of 100). */
    CHECK(v.decision.admitted && v.decision.limit == 150 && v.decision.remaining == 49);
    bigger.workspace_capacity = 11;
    CHECK_STATUS(fg_plans_new_shared(tiers, 2, &bigger, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("fg_plans_new_shared: the shared segment's capacity is 10, this build asked for 11");
    tiers[1].key_quota = &faster;
    CHECK_STATUS(fg_plans_new_shared(tiers, 2, &config, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("the shared segment's options is");
    CHECK_STATUS(fg_plans_new_genieos_shared(&config, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK(refused == NULL);
    CHECK_STATUS(fg_plans_new_shared(tiers, 0, &config, &shm, &refused), FG_STATUS_NO_LAYERS);
    fg_plans_free(one);
    fg_plans_free(two);
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK);

    CHECK_STATUS(fg_plans_new_genieos_shared(&config, &genieos_shm, &one), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_new_genieos_shared(&config, &genieos_shm, &two), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_tier(two, (const uint8_t *)"hobby", 5, &hobby), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_check(one, hobby, (const uint8_t *)"k", 1, (const uint8_t *)"w", 1, 60, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_STATUS(fg_plans_check(two, hobby, (const uint8_t *)"k", 1, (const uint8_t *)"w", 1, 1, &v), FG_STATUS_OK);
    CHECK(!v.decision.admitted); /* hobby's burst of 60, taken in the other handle */
    fg_plans_free(one);
    fg_plans_free(two);
    CHECK_STATUS(fg_plans_is_shared(NULL, &shared), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_shared_memory_remove(&genieos_shm), FG_STATUS_OK);
}

/* In-flight caps: one max across handles, a permit released through the
 * other handle, and a dead worker's permit back for the next acquire. */
static void test_shared_inflight(void) {
    char name[96], keyed_name[96];
    fg_shared_memory shm = named(name, sizeof name, "inflight");
    fg_shared_memory keyed_shm = named(keyed_name, sizeof keyed_name, "keyed-inflight");
    fg_inflight *one, *two, *refused = NULL;
    fg_keyed_inflight *first, *second, *refused_keyed = NULL;
    fg_acquisition a, b;
    uint64_t in_flight = 0;
    bool shared = false;
    pid_t child;
    int status;

    CHECK_STATUS(fg_inflight_new_shared(2, &shm, &one), FG_STATUS_OK);
    CHECK_STATUS(fg_inflight_new_shared(2, &shm, &two), FG_STATUS_OK);
    CHECK_STATUS(fg_inflight_is_shared(two, &shared), FG_STATUS_OK);
    CHECK(shared);
    CHECK_STATUS(fg_inflight_acquire(one, &a), FG_STATUS_OK);
    CHECK(a.acquired);
    CHECK_STATUS(fg_inflight_acquire(two, &b), FG_STATUS_OK);
    CHECK(b.acquired && b.in_flight == 2);
    CHECK_STATUS(fg_inflight_acquire(two, &b), FG_STATUS_OK);
    CHECK(!b.acquired); /* one max */
    CHECK_STATUS(fg_inflight_release(two, a.permit, &in_flight), FG_STATUS_OK);
    CHECK(in_flight == 1);
    CHECK_STATUS(fg_inflight_release(one, a.permit, &in_flight), FG_STATUS_PERMIT_ALREADY_RELEASED);
    /* A worker that takes the last permit and dies holding it. */
    fflush(stdout);
    fflush(stderr);
    child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        fg_inflight *mine;
        fg_acquisition held;
        fg_inflight_free(one); /* a worker opens the segment itself */
        fg_inflight_free(two);
        CHECK_STATUS(fg_inflight_new_shared(2, &shm, &mine), FG_STATUS_OK);
        CHECK_STATUS(fg_inflight_acquire(mine, &held), FG_STATUS_OK);
        fg_inflight_free(mine); /* the permit stays taken in the segment */
        exit(held.acquired ? 0 : 1);
    }
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Full, but one holder is gone: within max acquires its permit is back. */
    CHECK_STATUS(fg_inflight_acquire(one, &b), FG_STATUS_OK);
    if (!b.acquired) CHECK_STATUS(fg_inflight_acquire(one, &b), FG_STATUS_OK);
    CHECK(b.acquired);
    refused = one;
    CHECK_STATUS(fg_inflight_new_shared(3, &shm, &refused), FG_STATUS_SEGMENT_MISMATCH);
    CHECK(refused == NULL);
    CHECK_MESSAGE("fg_inflight_new_shared: the shared segment's capacity is 2, this build asked for 3");
    CHECK_STATUS(fg_keyed_inflight_new_shared(FG_KEY_BYTES, 2, 8, &shm, &refused_keyed), FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("the shared segment's kind is");
    CHECK_STATUS(fg_inflight_new_shared(0, &shm, &refused), FG_STATUS_ZERO_LIMIT);
    fg_inflight_free(one);
    fg_inflight_free(two);
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK);

    CHECK_STATUS(fg_keyed_inflight_new_shared(FG_KEY_BYTES, 1, 8, &keyed_shm, &first), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_inflight_new_shared(FG_KEY_BYTES, 1, 8, &keyed_shm, &second), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_inflight_is_shared(first, &shared), FG_STATUS_OK);
    CHECK(shared);
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(first, (const uint8_t *)"alice", 5, &a), FG_STATUS_OK);
    CHECK(a.acquired);
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(second, (const uint8_t *)"alice", 5, &b), FG_STATUS_OK);
    CHECK(!b.acquired); /* alice's one permit is out */
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(second, (const uint8_t *)"bob", 3, &b), FG_STATUS_OK);
    CHECK(b.acquired);
    CHECK_STATUS(fg_keyed_inflight_release_bytes(second, (const uint8_t *)"alice", 5, a.permit, &in_flight),
                 FG_STATUS_OK);
    CHECK(in_flight == 0);
    CHECK_STATUS(fg_keyed_inflight_new_shared(FG_KEY_BYTES, 2, 8, &keyed_shm, &refused_keyed),
                 FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("fg_keyed_inflight_new_shared: the shared segment's options is 1, this build asked for 2");
    CHECK_STATUS(fg_keyed_inflight_new_shared(FG_KEY_BYTES, 1, 9, &keyed_shm, &refused_keyed),
                 FG_STATUS_SEGMENT_MISMATCH);
    CHECK_MESSAGE("the shared segment's capacity is 8, this build asked for 9");
    CHECK(refused_keyed == NULL);
    fg_keyed_inflight_free(first);
    fg_keyed_inflight_free(second);
    CHECK_STATUS(fg_inflight_is_shared(NULL, &shared), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_keyed_inflight_is_shared(NULL, &shared), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_shared_memory_remove(&keyed_shm), FG_STATUS_OK);
}

enum target { LIMITER, KEYED_BYTES, POLICY, WINDOW, KEYED_WINDOW };

static const char *const TARGET_NAMES[] = {"limiter", "keyed-bytes", "policy", "window", "keyed-window"};

/* The windows' limit, and their length: far longer than a run, so that a
 * run meets at most one window's end. */
static const uint64_t WINDOW_LIMIT = 150, WINDOW_NS = 3600 * NS_PER_SECOND;

/* What one worker saw: its admissions and its clock around its first and last checks. */
typedef struct {
    uint64_t attempts, admitted, before_first, after_first, before_last, after_last;
} tally;

/* The handles a process holds for one target (the policy only for POLICY). */
typedef struct {
    fg_limiter *limiter;
    fg_keyed_limiter *keyed;
    fg_policy *policy;
    fg_window *window;
    fg_keyed_window *keyed_window;
} handles;

static handles open_target(enum target target, const fg_shared_memory *shm) {
    fg_quota quota = quota_of(COUNT, BURST);
    fg_keyed_config config = keyed_config(target == POLICY ? FG_KEY_U64 : FG_KEY_BYTES, 1024);
    fg_keyed_window_config windows = {.struct_size = sizeof(fg_keyed_window_config), .key_kind = FG_KEY_BYTES,
                                      .limit = WINDOW_LIMIT, .window_ns = WINDOW_NS, .capacity = 1024};
    handles h = {NULL, NULL, NULL, NULL, NULL};
    if (target == LIMITER) {
        CHECK_STATUS(fg_limiter_new_shared(&quota, shm, &h.limiter), FG_STATUS_OK);
    } else if (target == WINDOW) {
        CHECK_STATUS(fg_window_new_shared(WINDOW_LIMIT, WINDOW_NS, shm, &h.window), FG_STATUS_OK);
    } else if (target == KEYED_WINDOW) {
        CHECK_STATUS(fg_keyed_window_new_shared(&windows, shm, &h.keyed_window), FG_STATUS_OK);
    } else {
        CHECK_STATUS(fg_keyed_limiter_new_shared(&config, &quota, shm, &h.keyed), FG_STATUS_OK);
    }
    return h;
}

static void close_target(handles h) {
    fg_keyed_window_free(h.keyed_window);
    fg_window_free(h.window);
    fg_policy_free(h.policy);
    fg_keyed_limiter_free(h.keyed);
    fg_limiter_free(h.limiter);
}

static bool check_one(enum target target, const handles *h, uint64_t cost) {
    fg_decision d;
    fg_verdict v;
    fg_layer_key key = {.kind = FG_LAYER_KEY_ID, .id = POLICY_KEY};
    switch (target) {
    case LIMITER:
        CHECK_STATUS(fg_limiter_check(h->limiter, cost, &d), FG_STATUS_OK);
        return d.admitted;
    case KEYED_BYTES:
        CHECK_STATUS(fg_keyed_limiter_check_bytes(h->keyed, (const uint8_t *)BYTES_KEY, sizeof BYTES_KEY - 1, cost, &d),
                     FG_STATUS_OK);
        return d.admitted;
    case POLICY:
        CHECK_STATUS(fg_policy_check(h->policy, &key, 1, cost, &v), FG_STATUS_OK);
        /* On the segment's timeline a denial waits for about one interval
         * (more when another worker's check read a later time); a policy on
         * a timeline of its own would wait about the machine's uptime. */
        CHECK(v.decision.admitted || v.decision.retry_after_ns < NS_PER_SECOND);
        return v.decision.admitted;
    case WINDOW:
        CHECK_STATUS(fg_window_check(h->window, cost, &d), FG_STATUS_OK);
        return d.admitted;
    case KEYED_WINDOW:
        CHECK_STATUS(
            fg_keyed_window_check_bytes(h->keyed_window, (const uint8_t *)BYTES_KEY, sizeof BYTES_KEY - 1, cost, &d),
            FG_STATUS_OK);
        return d.admitted;
    }
    return false;
}

/* One worker process: opens the segment itself, says it is ready, and once
 * the parent sends the deadline, hammers one key until then. */
static tally work(enum target target, const fg_shared_memory *shm, int ready_fd, int go_fd) {
    handles h = open_target(target, shm);
    tally t = {0, 0, 0, 0, 0, 0};
    uint64_t before, deadline;
    char ready = 1;
    if (target == POLICY) {
        fg_layer layer = {.struct_size = sizeof(fg_layer), .scope = FG_SCOPE_KEY, .keyed_limiter = h.keyed};
        CHECK_STATUS(fg_policy_new(&layer, 1, &h.policy), FG_STATUS_OK);
    }
    /* A check of cost 0 charges nothing: it runs the code once, so that
     * valgrind has translated it before the clock starts. */
    check_one(target, &h, 0);
    CHECK(write(ready_fd, &ready, 1) == 1);
    CHECK(read(go_fd, &deadline, sizeof deadline) == (ssize_t)sizeof deadline);
    t.before_first = monotonic_ns();
    t.admitted += check_one(target, &h, 1);
    t.attempts = 1;
    t.after_first = monotonic_ns();
    t.before_last = t.before_first;
    t.after_last = t.after_first;
    while ((before = monotonic_ns()) < deadline) {
        t.admitted += check_one(target, &h, 1);
        t.attempts += 1;
        t.before_last = before;
        t.after_last = monotonic_ns();
    }
    close_target(h);
    return t;
}

static void hammer(enum target target) {
    char name[96];
    fg_shared_memory shm = named(name, sizeof name, TARGET_NAMES[target]);
    handles parent = open_target(target, &shm);
    tally sum = {0, 0, UINT64_MAX, UINT64_MAX, 0, 0}, one;
    uint64_t drained_at = 0, deadline, upper, lower, refilled;
    pid_t children[CHILDREN];
    int tallies[2], ready[2], go[2], i, status;
    char started;

    if (target == POLICY) {
        /* Empty the key on the library's clock first: the workers' policies
         * must see it empty on the same timeline. */
        fg_decision d;
        drained_at = monotonic_ns();
        CHECK_STATUS(fg_keyed_limiter_check_u64(parent.keyed, POLICY_KEY, BURST, &d), FG_STATUS_OK);
        CHECK(d.admitted);
    }
    CHECK(pipe(tallies) == 0 && pipe(ready) == 0 && pipe(go) == 0);
    fflush(stdout);
    fflush(stderr);
    for (i = 0; i < CHILDREN; i++) {
        children[i] = fork();
        CHECK(children[i] >= 0);
        if (children[i] == 0) {
            close(tallies[0]);
            close(ready[0]);
            close(go[1]);
            close_target(parent); /* a worker opens the segment itself */
            one = work(target, &shm, ready[1], go[0]);
            CHECK(write(tallies[1], &one, sizeof one) == (ssize_t)sizeof one);
            exit(0);
        }
    }
    close(tallies[1]);
    close(ready[1]);
    close(go[0]);
    /* All start together, however long each took to open the segment. */
    for (i = 0; i < CHILDREN; i++) CHECK(read(ready[0], &started, 1) == 1);
    deadline = monotonic_ns() + duration_ns;
    for (i = 0; i < CHILDREN; i++) CHECK(write(go[1], &deadline, sizeof deadline) == (ssize_t)sizeof deadline);
    for (i = 0; i < CHILDREN; i++) {
        CHECK(read(tallies[0], &one, sizeof one) == (ssize_t)sizeof one);
        sum.attempts += one.attempts;
        sum.admitted += one.admitted;
        if (one.before_first < sum.before_first) sum.before_first = one.before_first;
        if (one.after_first < sum.after_first) sum.after_first = one.after_first;
        if (one.before_last > sum.before_last) sum.before_last = one.before_last;
        if (one.after_last > sum.after_last) sum.after_last = one.after_last;
    }
    close(tallies[0]);
    close(ready[0]);
    close(go[1]);
    for (i = 0; i < CHILDREN; i++) {
        CHECK(waitpid(children[i], &status, 0) == children[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    /* A bucket never holds more than its burst, and was full (or, drained,
     * empty) before the first check; every unit refilled while the workers
     * kept checking was taken, but for less than one left per worker. */
    refilled = sum.before_last > sum.after_first ? COUNT * (sum.before_last - sum.after_first) / NS_PER_SECOND : 0;
    if (target == WINDOW || target == KEYED_WINDOW) {
        /* Within one window the counts admit exactly the limit; a window
         * that ends during the run lets its count slide out in proportion
         * to the time since (at most the run's length over the window's),
         * plus one for the estimate's rounding. The workers' requests are
         * the lower bound's only limit, never their speed. */
        upper = WINDOW_LIMIT + WINDOW_LIMIT * (sum.after_last - sum.before_first) / WINDOW_NS + 1;
        lower = (sum.attempts < WINDOW_LIMIT ? sum.attempts : WINDOW_LIMIT) + CHILDREN;
    } else if (target == POLICY) {
        upper = COUNT * (sum.after_last - drained_at) / NS_PER_SECOND;
        lower = refilled;
    } else {
        upper = BURST + COUNT * (sum.after_last - sum.before_first) / NS_PER_SECOND;
        lower = BURST + refilled;
    }
    printf("%s: %d workers admitted %" PRIu64 " of %" PRIu64 " (bounds %" PRIu64 " to %" PRIu64 ")\n",
           TARGET_NAMES[target], CHILDREN, sum.admitted, sum.attempts, lower > CHILDREN ? lower - CHILDREN : 0, upper);
    CHECK(sum.admitted <= upper);
    CHECK(sum.admitted + CHILDREN >= lower);
    close_target(parent);
    CHECK_STATUS(fg_shared_memory_remove(&shm), FG_STATUS_OK);
}

int main(int argc, char **argv) {
    uint64_t duration_ms = argc > 1 ? strtoull(argv[1], NULL, 10) : 500;
    CHECK(duration_ms > 0);
    duration_ns = duration_ms * 1000000;
    test_bad_arguments();
    test_one_segment_two_handles();
    test_keyed_by_path();
    test_shared_windows();
    test_shared_suspensions();
    test_shared_plans();
    test_shared_inflight();
    hammer(LIMITER);
    hammer(KEYED_BYTES);
    hammer(POLICY);
    hammer(WINDOW);
    hammer(KEYED_WINDOW);
    printf("shared_test: ok\n");
    return 0;
}
