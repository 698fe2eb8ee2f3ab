/*
 * A license-key API's rate limits, enforced with floodgate from C.
 *
 * The policy follows the pattern of a license-key service's rate-limit page:
 * every request is limited per source IP address and per API access token at
 * once, and the critical endpoints (license validation and activation) carry
 * an additional, stricter limit per token. Each limit is a keyed limiter (one
 * bucket per address or token), and each request is one layered check of a
 * policy over them: it goes only if every layer admits it, and a refused
 * request is charged to no layer. The numbers below are this example's own
 * (the page publishes none).
 *
 * The requests are simulated with explicit timestamps, so the output is the
 * same on every run. Build and run (from the repository root):
 *
 *     make -C examples/c run
 *
 * or by hand:
 *
 *     cargo rustc --release --lib --features capi --crate-type cdylib,staticlib
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

static void die(const char *what, fg_status status) {
    fprintf(stderr, "%s failed (%d): %s\n", what, (int)status, fg_last_error_message());
    exit(1);
}

/*
 * One keyed limiter per kind of limit: a bucket per source address, per token,
 * and per token on the critical endpoints, each in a fixed-size lock-free table
 * (keys whose buckets have refilled give their slots to new keys).
 */
static fg_keyed_limiter *keyed(uint32_t key_kind, uint64_t per_minute, uint64_t burst) {
    fg_keyed_config config = {.struct_size = sizeof(fg_keyed_config), .key_kind = key_kind, .capacity = 100000};
    fg_quota quota = {.struct_size = sizeof(fg_quota), .count = per_minute, .period_ns = NS_PER_MINUTE, .burst = burst};
    fg_keyed_limiter *limiter = NULL;
    fg_status status = fg_keyed_limiter_new(&config, &quota, &limiter);
    if (status != FG_STATUS_OK) die("fg_keyed_limiter_new", status);
    return limiter;
}

/* A layer of a policy: a scope (a built-in one, or a name) and its keyed limiter. */
static fg_layer layer(uint32_t scope, const char *name, const fg_keyed_limiter *limiter) {
    fg_layer l = {.struct_size = sizeof(fg_layer), .scope = scope, .keyed_limiter = limiter};
    if (name != NULL) l.name = name, l.name_len = strlen(name);
    return l;
}

/* Every request: per IP and per token; critical endpoints add a stricter per-token layer. */
static fg_policy *ordinary, *critical;

static void build_policies(void) {
    /* The numbers are this example's own (the page publishes none). */
    fg_keyed_limiter *per_ip = keyed(FG_KEY_IP, 120, 20);
    fg_keyed_limiter *per_token = keyed(FG_KEY_BYTES, 60, 10);
    fg_keyed_limiter *critical_per_token = keyed(FG_KEY_BYTES, 6, 3);
    fg_layer layers[3];
    fg_status status;
    layers[0] = layer(FG_SCOPE_IP, NULL, per_ip);
    layers[1] = layer(FG_SCOPE_TOKEN, NULL, per_token);
    layers[2] = layer(FG_SCOPE_NAMED, "token:critical", critical_per_token);
    status = fg_policy_new(layers, 2, &ordinary);
    if (status != FG_STATUS_OK) die("fg_policy_new", status);
    status = fg_policy_new(layers, 3, &critical);
    if (status != FG_STATUS_OK) die("fg_policy_new", status);
    /* The policies hold their own references; the handles are not needed any more. */
    fg_keyed_limiter_free(per_ip);
    fg_keyed_limiter_free(per_token);
    fg_keyed_limiter_free(critical_per_token);
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

/* An IPv4 address as the 4 network-order bytes an FG_KEY_IP limiter takes. */
static void ipv4(const char *text, uint8_t out[4]) {
    unsigned a, b, c, d;
    if (sscanf(text, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a > 255 || b > 255 || c > 255 || d > 255) {
        fprintf(stderr, "not an IPv4 address: %s\n", text);
        exit(1);
    }
    out[0] = (uint8_t)a, out[1] = (uint8_t)b, out[2] = (uint8_t)c, out[3] = (uint8_t)d;
}

/*
 * One layered check per request: it admits only if every layer admits, and a
 * refused request is charged to no layer. Prints the response line.
 */
static fg_verdict last_refusal;

static void handle(const struct request *r) {
    const fg_policy *policy = is_critical(r->path) ? critical : ordinary;
    uint8_t address[4];
    fg_layer_key keys[3];
    fg_verdict verdict;
    fg_status status;

    ipv4(r->ip, address);
    keys[0] = (fg_layer_key){.kind = FG_LAYER_KEY_IP, .bytes = address, .len = sizeof address};
    keys[1] = (fg_layer_key){.kind = FG_LAYER_KEY_BYTES, .bytes = (const uint8_t *)r->token, .len = strlen(r->token)};
    keys[2] = keys[1]; /* the critical layer is per token too */
    status = fg_policy_check_at(policy, keys, policy == critical ? 3 : 2, 1, r->at_ms * NS_PER_MS, &verdict);
    if (status != FG_STATUS_OK) die("fg_policy_check_at", status);

    if (!verdict.decision.admitted) {
        last_refusal = verdict;
        /* The refusing layer with the longest wait: Retry-After is never too short. */
        printf("%6" PRIu64 " ms  %-15s %-9s %-28s 429  limit=%s retry-after=%" PRIu64 "s\n", r->at_ms, r->ip,
               r->token, r->path, verdict.scope_name,
               (verdict.decision.retry_after_ns + 999999999) / 1000000000); /* whole seconds, rounded up */
        return;
    }
    /* The layer with the least left: what the client runs into first. */
    printf("%6" PRIu64 " ms  %-15s %-9s %-28s 200  X-RateLimit-Limit=%" PRIu64 " X-RateLimit-Remaining=%" PRIu64 "\n",
           r->at_ms, r->ip, r->token, r->path, verdict.decision.limit, verdict.decision.remaining);
}

/* What the last refused request's 429 carried, rendered by the library. */
static void print_429(const fg_verdict *refusal) {
    fg_headers_config header_config = {.struct_size = sizeof(fg_headers_config), .retry_after_decimals = 0};
    fg_headers *headers = NULL;
    char text[512];
    size_t len;
    fg_status status = fg_headers_new(&header_config, &headers);
    if (status != FG_STATUS_OK) die("fg_headers_new", status);
    /* Wall-clock time for X-RateLimit-Reset: a fixed instant keeps the output stable. */
    status = fg_headers_render(headers, &refusal->decision, refusal->scope_name, strlen(refusal->scope_name),
                               UINT64_C(1776688439000000000), text, sizeof text, &len);
    if (status != FG_STATUS_OK) die("fg_headers_render", status);
    printf("HTTP/1.1 429 Too Many Requests\r\n%s\r\n", text);
    fg_headers_free(headers);
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

    build_policies();
    for (i = 0; i < n; i++) handle(&requests[i]);
    print_429(&last_refusal);

    fg_policy_free(ordinary);
    fg_policy_free(critical);
    return 0;
}
