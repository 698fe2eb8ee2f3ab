/*
 * A license-key API's rate limits, enforced with floodgate from C.
 *
 * The policy follows the pattern of a license-key service's rate-limit page:
 * every request is limited per source IP address and per API access token at
 * once, and the critical endpoints (license validation and activation) carry
 * an additional, stricter limit per token. A request goes only if every limit
 * that applies admits it; when a later limit refuses, the units the earlier
 * ones charged are refunded so a refused request costs nothing. The numbers
 * below are this example's own (the page publishes none).
 *
 * The requests are simulated with explicit timestamps, so the output is the
 * same on every run. Build and run (from the repository root):
 *
 *     make -C examples/c run
 *
 * or by hand:
 *
 *     cargo build --release
 *     cc -std=c99 -Wall -Wextra -pedantic -O2 -Iinclude examples/c/license_api.c \
 *        target/release/libfloodgate.a -lpthread -ldl -lm -o target/license_api
 *     ./target/license_api
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "floodgate.h"

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_MINUTE (60 * UINT64_C(1000000000))

/* One kind of limit: a quota and what to call it in a response. */
struct limit_kind {
    const char *name;
    uint64_t per_minute;
    uint64_t burst;
};

static const struct limit_kind PER_IP = {"ip", 120, 20};
static const struct limit_kind PER_TOKEN = {"token", 60, 10};
static const struct limit_kind CRITICAL_PER_TOKEN = {"token:critical", 6, 3};

/*
 * The limiters, one per (kind, key), created on first use. A fixed table with
 * linear probing keeps the example short; a real service would size it to its
 * key space.
 */
#define TABLE_SIZE 64
#define KEY_MAX 80

struct entry {
    char key[KEY_MAX];
    fg_limiter *limiter;
};

static struct entry table[TABLE_SIZE];

static uint64_t hash(const char *text) {
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
    for (; *text; text++) h = (h ^ (unsigned char)*text) * UINT64_C(1099511628211);
    return h;
}

static void die(const char *what, fg_status status) {
    fprintf(stderr, "%s failed (%d): %s\n", what, (int)status, fg_last_error_message());
    exit(1);
}

static fg_limiter *limiter_for(const struct limit_kind *kind, const char *key) {
    char full[KEY_MAX];
    size_t slot, probes;
    if (snprintf(full, sizeof full, "%s|%s", kind->name, key) >= (int)sizeof full) {
        fprintf(stderr, "key too long: %s\n", key);
        exit(1);
    }
    slot = (size_t)(hash(full) % TABLE_SIZE);
    for (probes = 0; probes < TABLE_SIZE; probes++, slot = (slot + 1) % TABLE_SIZE) {
        struct entry *e = &table[slot];
        if (e->limiter == NULL) {
            fg_quota quota = {.struct_size = sizeof(fg_quota),
                              .count = kind->per_minute,
                              .period_ns = NS_PER_MINUTE,
                              .burst = kind->burst};
            fg_status status = fg_limiter_new(&quota, &e->limiter);
            if (status != FG_STATUS_OK) die("fg_limiter_new", status);
            strcpy(e->key, full);
            return e->limiter;
        }
        if (strcmp(e->key, full) == 0) return e->limiter;
    }
    fprintf(stderr, "limiter table full\n");
    exit(1);
}

struct request {
    uint64_t at_ms;
    const char *ip;
    const char *token;
    const char *path;
};

static int is_critical(const char *path) {
    return strstr(path, "/validate") != NULL || strstr(path, "/activate") != NULL;
}

/* Checks every limit that applies; prints the response line and headers. */
static void handle(const struct request *r) {
    const struct limit_kind *kinds[3];
    const char *keys[3];
    fg_limiter *limiters[3];
    fg_decision decisions[3], tightest;
    size_t count = 0, i, denied_at = 3;
    uint64_t now = r->at_ms * NS_PER_MS;

    kinds[count] = &PER_IP, keys[count++] = r->ip;
    kinds[count] = &PER_TOKEN, keys[count++] = r->token;
    if (is_critical(r->path)) kinds[count] = &CRITICAL_PER_TOKEN, keys[count++] = r->token;

    for (i = 0; i < count; i++) {
        fg_status status;
        limiters[i] = limiter_for(kinds[i], keys[i]);
        status = fg_limiter_check_at(limiters[i], 1, now, &decisions[i]);
        if (status != FG_STATUS_OK) die("fg_limiter_check_at", status);
        if (!decisions[i].admitted) {
            denied_at = i;
            break;
        }
    }

    if (denied_at < count) {
        /* Give back what the limits before the refusing one charged. */
        for (i = 0; i < denied_at; i++) {
            fg_decision refunded;
            fg_status status = fg_limiter_refund_at(limiters[i], 1, now, &refunded);
            if (status != FG_STATUS_OK) die("fg_limiter_refund_at", status);
        }
        tightest = decisions[denied_at];
        printf("%6" PRIu64 " ms  %-15s %-9s %-28s 429  limit=%s retry-after=%" PRIu64 "s\n", r->at_ms,
               r->ip, r->token, r->path, kinds[denied_at]->name,
               (tightest.retry_after_ns + 999999999) / 1000000000); /* whole seconds, rounded up */
        return;
    }

    /* Report the limit with the least left: that is what the client runs into first. */
    tightest = decisions[0];
    for (i = 1; i < count; i++)
        if (decisions[i].remaining < tightest.remaining) tightest = decisions[i];
    printf("%6" PRIu64 " ms  %-15s %-9s %-28s 200  X-RateLimit-Limit=%" PRIu64
           " X-RateLimit-Remaining=%" PRIu64 "\n",
           r->at_ms, r->ip, r->token, r->path, tightest.limit, tightest.remaining);
}

int main(void) {
    struct request requests[40];
    size_t n = 0, i;
    uint32_t version = fg_abi_version();
    if ((version >> 16) != (FG_ABI_VERSION >> 16)) {
        fprintf(stderr, "libfloodgate ABI %" PRIu32 " does not match this header\n", version);
        return 1;
    }

    /* A client validating its license in a tight loop: the critical limit stops it. */
    for (i = 0; i < 5; i++) requests[n++] = (struct request){i * 100, "203.0.113.7", "tok_alice", "/v1/licenses/validate"};
    /* Meanwhile it may still use the ordinary endpoints, under its token's limit. */
    for (i = 0; i < 8; i++) requests[n++] = (struct request){600 + i * 50, "203.0.113.7", "tok_alice", "/v1/products"};
    /* One address cycling through many tokens: the per-IP limit stops it. */
    for (i = 0; i < 22; i++) {
        static const char *tokens[] = {"tok_b1", "tok_b2", "tok_b3", "tok_b4", "tok_b5", "tok_b6"};
        requests[n++] = (struct request){1200 + i * 10, "198.51.100.23", tokens[i % 6], "/v1/licenses"};
    }
    /* Ten seconds later the critical limit has refilled one activation (6/min). */
    requests[n++] = (struct request){10500, "203.0.113.7", "tok_alice", "/v1/licenses/activate"};
    requests[n++] = (struct request){10600, "203.0.113.7", "tok_alice", "/v1/licenses/activate"};

    for (i = 0; i < n; i++) handle(&requests[i]);

    for (i = 0; i < TABLE_SIZE; i++) fg_limiter_free(table[i].limiter);
    return 0;
}
