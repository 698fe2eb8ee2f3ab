// The C ABI from C++17: RAII ownership of handles, every function, the error
// paths, and std::thread checkers whose admitted total is bounded by the quota.
// Usage: api_test_cpp [scale]
#include <atomic>
#include <cinttypes>
#include <cstring>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "check.h"

namespace {

struct LimiterFree {
    void operator()(fg_limiter *limiter) const noexcept { fg_limiter_free(limiter); }
};
using Limiter = std::unique_ptr<fg_limiter, LimiterFree>;

template <typename T, void (*Free)(T *)>
struct Freer {
    void operator()(T *handle) const noexcept { Free(handle); }
};
template <typename T, void (*Free)(T *)>
using Owned = std::unique_ptr<T, Freer<T, Free>>;
using Keyed = Owned<fg_keyed_limiter, fg_keyed_limiter_free>;
using Window = Owned<fg_window, fg_window_free>;
using Cap = Owned<fg_inflight, fg_inflight_free>;
using Policy = Owned<fg_policy, fg_policy_free>;
using Headers = Owned<fg_headers, fg_headers_free>;
using Body = Owned<fg_error_body, fg_error_body_free>;
using KeyedWindow = Owned<fg_keyed_window, fg_keyed_window_free>;
using Suspensions = Owned<fg_suspensions, fg_suspensions_free>;
using KeyedCap = Owned<fg_keyed_inflight, fg_keyed_inflight_free>;
using PlanTable = Owned<fg_plans, fg_plans_free>;
using Answers = Owned<fg_redis_answers, fg_redis_answers_free>;

fg_quota make_quota(uint64_t count, uint64_t period_ns, uint64_t burst) {
    fg_quota quota{};
    quota.struct_size = sizeof quota;
    quota.count = count;
    quota.period_ns = period_ns;
    quota.burst = burst;
    return quota;
}

Limiter make_limiter(const fg_quota &quota) {
    fg_limiter *raw = nullptr;
    CHECK_STATUS(fg_limiter_new(&quota, &raw), FG_STATUS_OK);
    CHECK(raw != nullptr);
    return Limiter(raw);
}

fg_decision check_at(const Limiter &limiter, uint64_t cost, uint64_t now_ns) {
    fg_decision decision{};
    CHECK_STATUS(fg_limiter_check_at(limiter.get(), cost, now_ns, &decision), FG_STATUS_OK);
    return decision;
}

void every_function() {
    CHECK(fg_abi_version() == FG_ABI_VERSION);
    CHECK(std::string(fg_last_error_message()).empty());

    Limiter limiter = make_limiter(make_quota(2, NS_PER_SECOND, 4));
    fg_decision d{};
    for (uint64_t left = 3; left != UINT64_MAX; --left) {
        d = check_at(limiter, 1, 0);
        CHECK(d.admitted && d.outcome == FG_OUTCOME_ADMITTED && d.remaining == left);
    }
    d = check_at(limiter, 1, 0);
    CHECK(!d.admitted && d.outcome == FG_OUTCOME_DENIED);
    CHECK_U64(d.retry_after_ns, NS_PER_SECOND / 2);
    CHECK_U64(d.reset_after_ns, 2 * NS_PER_SECOND);
    CHECK(d.scope == FG_SCOPE_SINGLE);
    CHECK(check_at(limiter, 5, NS_PER_SECOND).outcome == FG_OUTCOME_CANNOT_FIT);

    CHECK_STATUS(fg_limiter_peek_at(limiter.get(), NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 2);
    CHECK_STATUS(fg_limiter_refund_at(limiter.get(), 1, NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 3);

    fg_quota bigger = make_quota(4, NS_PER_SECOND, 8);
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter.get(), &bigger, NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_peek_at(limiter.get(), NS_PER_SECOND, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 7);
    fg_quota read{};
    read.struct_size = sizeof read;
    CHECK_STATUS(fg_limiter_quota(limiter.get(), &read), FG_STATUS_OK);
    CHECK(read.count == 4 && read.period_ns == NS_PER_SECOND && read.burst == 8);

    // The clock functions on a bucket that refills once an hour.
    Limiter hourly = make_limiter(make_quota(1, 3600 * NS_PER_SECOND, 2));
    CHECK_STATUS(fg_limiter_check(hourly.get(), 2, &d), FG_STATUS_OK);
    CHECK(d.admitted && d.remaining == 0);
    CHECK_STATUS(fg_limiter_peek(hourly.get(), &d), FG_STATUS_OK);
    CHECK(d.remaining == 0);
    CHECK_STATUS(fg_limiter_refund(hourly.get(), 1, &d), FG_STATUS_OK);
    CHECK(d.remaining == 1);
    fg_quota roomier = make_quota(1, 3600 * NS_PER_SECOND, 5);
    CHECK_STATUS(fg_limiter_reconfigure(hourly.get(), &roomier), FG_STATUS_OK);
    CHECK_STATUS(fg_limiter_check(hourly.get(), 4, &d), FG_STATUS_OK);
    CHECK(d.admitted && d.remaining == 0);
}

void error_paths() {
    struct Case {
        fg_quota quota;
        fg_status status;
    };
    const Case cases[] = {
        {make_quota(0, NS_PER_SECOND, 1), FG_STATUS_ZERO_COUNT},
        {make_quota(1, 0, 1), FG_STATUS_ZERO_PERIOD},
        {make_quota(1, NS_PER_SECOND, 0), FG_STATUS_ZERO_BURST},
        {make_quota(NS_PER_SECOND + 1, NS_PER_SECOND, 1), FG_STATUS_RATE_TOO_HIGH},
        {make_quota(1, 86400 * NS_PER_SECOND, UINT64_MAX), FG_STATUS_BURST_TOO_LARGE},
        {fg_quota{sizeof(fg_quota) - 16, 1, NS_PER_SECOND, 1, 0}, FG_STATUS_STRUCT_SIZE},
    };
    for (const Case &c : cases) {
        fg_limiter *raw = nullptr;
        CHECK_STATUS(fg_limiter_new(&c.quota, &raw), c.status);
        CHECK(raw == nullptr);
        Limiter never(raw);  // freeing the NULL a failed create leaves is a no-op
        fg_decision d{};
        CHECK_STATUS(fg_limiter_check_at(never.get(), 1, 0, &d), FG_STATUS_NULL_POINTER);
        CHECK_MESSAGE("fg_limiter_check_at: `limiter` is NULL");
    }

    Limiter limiter = make_limiter(make_quota(10, NS_PER_SECOND, 10));
    fg_decision before{}, after{};
    CHECK_STATUS(fg_limiter_check_at(limiter.get(), 6, 0, &before), FG_STATUS_OK);
    const fg_quota bad = make_quota(10, NS_PER_SECOND, 0);
    CHECK_STATUS(fg_limiter_reconfigure(limiter.get(), &bad), FG_STATUS_ZERO_BURST);
    CHECK_STATUS(fg_limiter_reconfigure_at(limiter.get(), nullptr, 0), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_check(limiter.get(), 1, nullptr), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_check_at(limiter.get(), 1, 0, nullptr), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_peek(nullptr, &after), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_peek_at(limiter.get(), 0, nullptr), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_refund(limiter.get(), 1, nullptr), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_refund_at(nullptr, 1, 0, &after), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_quota(limiter.get(), nullptr), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_limiter_peek_at(limiter.get(), 0, &after), FG_STATUS_OK);
    CHECK(after.remaining == before.remaining && after.limit == 10);
    CHECK_MESSAGE("fg_limiter_quota");
}

// Free-running checkers on supplied timestamps: never more than the quota allows.
void threads_stay_within_the_quota(uint64_t scale) {
    const uint64_t count = 1000, burst = 20, step_ns = 1013;
    Limiter limiter = make_limiter(make_quota(count, NS_PER_SECOND, burst));
    std::atomic<uint64_t> clock{0}, admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (uint64_t i = 0; i < 1000 * scale; ++i) {
                const uint64_t now = clock.fetch_add(step_ns, std::memory_order_relaxed);
                if (check_at(limiter, 1, now).admitted) admitted.fetch_add(1, std::memory_order_relaxed);
                // Each thread's last error is its own.
                CHECK_STATUS(fg_limiter_peek_at(limiter.get(), now, nullptr), FG_STATUS_NULL_POINTER);
                CHECK_MESSAGE("fg_limiter_peek_at: `out` is NULL");
            }
        });
    }
    for (std::thread &thread : threads) thread.join();
    const uint64_t last = clock.load() - step_ns;
    const uint64_t bound = burst + last * count / NS_PER_SECOND;
    CHECK(admitted.load() >= burst);
    CHECK(admitted.load() <= bound);
}

Keyed make_keyed(uint32_t kind, uint64_t capacity, const fg_quota &quota) {
    fg_keyed_config config{};
    config.struct_size = sizeof config;
    config.key_kind = kind;
    config.capacity = capacity;
    fg_keyed_limiter *raw = nullptr;
    CHECK_STATUS(fg_keyed_limiter_new(&config, &quota, &raw), FG_STATUS_OK);
    return Keyed(raw);
}

// ABI 1.1 from C++: every handle type under RAII, a layered check, rendering.
void abi_1_1() {
    const std::string token = "tok_alice";
    const auto *token_bytes = reinterpret_cast<const uint8_t *>(token.data());
    Keyed per_token = make_keyed(FG_KEY_BYTES, 256, make_quota(5, NS_PER_SECOND, 5));
    Keyed per_ip = make_keyed(FG_KEY_IP, 256, make_quota(20, NS_PER_SECOND, 20));
    fg_window *window_raw = nullptr;
    CHECK_STATUS(fg_window_new(100, 60 * NS_PER_SECOND, &window_raw), FG_STATUS_OK);
    Window window(window_raw);

    fg_layer layers[3]{};
    for (fg_layer &layer : layers) layer.struct_size = sizeof layer;
    layers[0].scope = FG_SCOPE_IP;
    layers[0].keyed_limiter = per_ip.get();
    layers[1].scope = FG_SCOPE_TOKEN;
    layers[1].keyed_limiter = per_token.get();
    const std::string endpoint = "license-validation";
    layers[2].scope = FG_SCOPE_NAMED;
    layers[2].name = endpoint.c_str();
    layers[2].name_len = endpoint.size();
    layers[2].window = window.get();
    fg_policy *policy_raw = nullptr;
    CHECK_STATUS(fg_policy_new(layers, 3, &policy_raw), FG_STATUS_OK);
    Policy policy(policy_raw);

    const uint8_t ip[4] = {198, 51, 100, 23};
    fg_layer_key keys[3]{};
    keys[0] = fg_layer_key{FG_LAYER_KEY_IP, 0, ip, sizeof ip};
    keys[1] = fg_layer_key{FG_LAYER_KEY_BYTES, 0, token_bytes, token.size()};
    keys[2] = fg_layer_key{FG_LAYER_KEY_NONE, 0, nullptr, 0};
    fg_verdict verdict{};
    for (int i = 0; i < 5; ++i) {
        CHECK_STATUS(fg_policy_check_at(policy.get(), keys, 3, 1, 0, &verdict), FG_STATUS_OK);
        CHECK(verdict.decision.admitted);
    }
    CHECK_STATUS(fg_policy_check_at(policy.get(), keys, 3, 1, 0, &verdict), FG_STATUS_OK);
    CHECK(!verdict.decision.admitted && verdict.layer == 1);
    CHECK(std::string(verdict.scope_name) == "token");
    fg_decision d{};
    CHECK_STATUS(fg_window_peek_at(window.get(), 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 95);  // the denial charged no layer
    CHECK_STATUS(fg_policy_check_at(policy.get(), keys, 2, 1, 0, &verdict), FG_STATUS_LAYER_KEY_COUNT);

    fg_headers_config header_config{};
    header_config.struct_size = sizeof header_config;
    header_config.retry_after_decimals = 1;
    fg_headers *headers_raw = nullptr;
    CHECK_STATUS(fg_headers_new(&header_config, &headers_raw), FG_STATUS_OK);
    Headers headers(headers_raw);
    std::string text(8, '\0');
    size_t len = 0;
    fg_status status = fg_headers_render(headers.get(), &verdict.decision, verdict.scope_name,
                                         std::strlen(verdict.scope_name), 0, &text[0], text.size(), &len);
    CHECK(status == FG_STATUS_BUFFER_TOO_SMALL);
    text.resize(len + 1);
    CHECK_STATUS(fg_headers_render(headers.get(), &verdict.decision, verdict.scope_name,
                                   std::strlen(verdict.scope_name), 0, &text[0], text.size(), &len),
                 FG_STATUS_OK);
    text.resize(len);
    CHECK(text.find("Retry-After: 0.2\r\n") == 0);
    CHECK(text.find("X-RateLimit-Scope: token\r\n") != std::string::npos);

    fg_error_body_config body_config{};
    body_config.struct_size = sizeof body_config;
    body_config.shape = FG_BODY_GENIEOS_KEY;
    body_config.retry_after_decimals = 1;
    fg_error_body *body_raw = nullptr;
    CHECK_STATUS(fg_error_body_new(&body_config, &body_raw), FG_STATUS_OK);
    Body body(body_raw);
    char json[512];
    CHECK_STATUS(fg_error_body_render(body.get(), &verdict.decision, "token", 5, "req_1", 5, json, sizeof json, &len),
                 FG_STATUS_OK);
    CHECK(std::string(json).find("\"retry_after_seconds\":0.2") != std::string::npos);

    fg_inflight *cap_raw = nullptr;
    CHECK_STATUS(fg_inflight_new(2, &cap_raw), FG_STATUS_OK);
    Cap cap(cap_raw);
    fg_acquisition held{};
    CHECK_STATUS(fg_inflight_acquire(cap.get(), &held), FG_STATUS_OK);
    uint64_t in_flight = 0;
    CHECK_STATUS(fg_inflight_release(cap.get(), held.permit, &in_flight), FG_STATUS_OK);
    CHECK_STATUS(fg_inflight_release(cap.get(), held.permit, &in_flight), FG_STATUS_PERMIT_ALREADY_RELEASED);
}

// Keyed checks from std::threads: each key's admitted total within its quota.
void keyed_threads_stay_within_the_quota(uint64_t scale) {
    const uint64_t count = 100, burst = 10, step_ns = 2011;
    constexpr int keys = 16;
    Keyed keyed = make_keyed(FG_KEY_U64, 256, make_quota(count, NS_PER_SECOND, burst));
    std::atomic<uint64_t> clock{0};
    std::vector<std::atomic<uint64_t>> admitted(keys);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (uint64_t i = 0; i < 1000 * scale; ++i) {
                const uint64_t key = (i + static_cast<uint64_t>(t)) % keys;
                const uint64_t now = clock.fetch_add(step_ns, std::memory_order_relaxed);
                fg_decision d{};
                CHECK_STATUS(fg_keyed_limiter_check_u64_at(keyed.get(), key, 1, now, &d), FG_STATUS_OK);
                if (d.admitted) admitted[key].fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    for (std::thread &thread : threads) thread.join();
    const uint64_t bound = burst + (clock.load() - step_ns) * count / NS_PER_SECOND;
    for (const std::atomic<uint64_t> &total : admitted) {
        CHECK(total.load() >= burst);
        CHECK(total.load() <= bound);
    }
}

const uint8_t *bytes(const std::string &text) { return reinterpret_cast<const uint8_t *>(text.data()); }

// ABI 1.2: every new function from C++, each handle owned by a unique_ptr.
void abi_1_2() {
    fg_decision d{};
    uint64_t n = 0, limit = 0;
    const std::string ws = "ws_1";

    fg_keyed_window_config wc{};
    wc.struct_size = sizeof wc;
    wc.key_kind = FG_KEY_BYTES;
    wc.limit = 600;
    wc.window_ns = 60 * NS_PER_SECOND;
    wc.capacity = 16;
    fg_keyed_window *raw_window = nullptr;
    CHECK_STATUS(fg_keyed_window_new(&wc, &raw_window), FG_STATUS_OK);
    KeyedWindow windows(raw_window);
    wc.key_kind = FG_KEY_U64;
    CHECK_STATUS(fg_keyed_window_new(&wc, &raw_window), FG_STATUS_OK);
    KeyedWindow id_windows(raw_window);
    CHECK_STATUS(fg_keyed_window_check_bytes_at(windows.get(), bytes(ws), ws.size(), 600, 0, &d), FG_STATUS_OK);
    CHECK(d.admitted);
    CHECK_STATUS(fg_keyed_window_check_bytes_at(windows.get(), bytes(ws), ws.size(), 1, 0, &d), FG_STATUS_OK);
    CHECK(!d.admitted);
    CHECK_STATUS(fg_keyed_window_refund_bytes_at(windows.get(), bytes(ws), ws.size(), 1, 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 1);
    CHECK_STATUS(fg_keyed_window_peek_bytes_at(windows.get(), bytes(ws), ws.size(), 0, &d), FG_STATUS_OK);
    CHECK_U64(d.remaining, 1);
    CHECK_STATUS(fg_keyed_window_check_bytes(windows.get(), bytes(ws), ws.size(), 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_bytes(windows.get(), bytes(ws), ws.size(), &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_refund_bytes(windows.get(), bytes(ws), ws.size(), 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_set_limit_bytes(windows.get(), bytes(ws), ws.size(), 1800), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_check_u64_at(id_windows.get(), 7, 1, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_check_u64(id_windows.get(), 7, 1, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_u64_at(id_windows.get(), 7, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_peek_u64(id_windows.get(), 7, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_refund_u64_at(id_windows.get(), 7, 1, 0, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_refund_u64(id_windows.get(), 7, 1, &d), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_window_set_limit_u64(id_windows.get(), 7, 0), FG_STATUS_ZERO_LIMIT);
    CHECK_STATUS(fg_keyed_window_len(windows.get(), &n), FG_STATUS_OK);
    CHECK_U64(n, 1);
    CHECK_STATUS(fg_keyed_window_capacity(windows.get(), &n), FG_STATUS_OK);
    CHECK(n >= 16);
    CHECK_STATUS(fg_keyed_window_full_table_events(windows.get(), &n), FG_STATUS_OK);
    CHECK_U64(n, 0);
    CHECK_STATUS(fg_keyed_window_check_u64(windows.get(), 7, 1, &d), FG_STATUS_KEY_KIND_MISMATCH);

    fg_suspensions *raw_suspensions = nullptr;
    CHECK_STATUS(fg_suspensions_new(FG_KEY_BYTES, 8, &raw_suspensions), FG_STATUS_OK);
    Suspensions suspended(raw_suspensions);
    CHECK_STATUS(fg_suspensions_new(FG_KEY_U64, 8, &raw_suspensions), FG_STATUS_OK);
    Suspensions suspended_ids(raw_suspensions);
    const std::string key = "gos_live_x";
    bool is_suspended = false;
    CHECK_STATUS(fg_suspensions_suspend_until_bytes(suspended.get(), bytes(key), key.size(), 0, FG_SUSPEND_INDEFINITELY),
                 FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_bytes_at(suspended.get(), bytes(key), key.size(), 5, &is_suspended, &d), FG_STATUS_OK);
    CHECK(is_suspended && d.outcome == FG_OUTCOME_SUSPENDED);
    CHECK_STATUS(fg_suspensions_lift_bytes(suspended.get(), bytes(key), key.size()), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_bytes(suspended.get(), bytes(key), key.size(), &is_suspended, &d), FG_STATUS_OK);
    CHECK(!is_suspended);
    CHECK_STATUS(fg_suspensions_suspend_for_bytes(suspended.get(), bytes(key), key.size(), 3600 * NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_suspend_until_u64(suspended_ids.get(), 1, 10, 0), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_u64_at(suspended_ids.get(), 1, 4, &is_suspended, &d), FG_STATUS_OK);
    CHECK(is_suspended);
    CHECK_U64(d.retry_after_ns, 6);
    CHECK_STATUS(fg_suspensions_suspend_for_u64(suspended_ids.get(), 2, NS_PER_SECOND), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_lift_u64(suspended_ids.get(), 2), FG_STATUS_OK);
    CHECK_STATUS(fg_suspensions_check_u64(suspended_ids.get(), 2, &is_suspended, &d), FG_STATUS_OK);
    CHECK(!is_suspended);
    CHECK_STATUS(fg_suspensions_suspend_until_u64(suspended_ids.get(), 1, 0, 7), FG_STATUS_INVALID_ARGUMENT);

    // A policy: suspended keys first, then the workspace's window.
    fg_layer layers[2]{};
    for (fg_layer &layer : layers) layer.struct_size = sizeof layer;
    layers[0].scope = FG_SCOPE_KEY;
    layers[0].suspensions = suspended.get();
    layers[1].scope = FG_SCOPE_WORKSPACE;
    layers[1].keyed_window = windows.get();
    fg_policy *raw_policy = nullptr;
    CHECK_STATUS(fg_policy_new(layers, 2, &raw_policy), FG_STATUS_OK);
    Policy policy(raw_policy);
    fg_layer_key keys[2]{};
    keys[0].kind = FG_LAYER_KEY_BYTES;
    keys[0].bytes = bytes(key);
    keys[0].len = key.size();
    keys[1].kind = FG_LAYER_KEY_BYTES;
    keys[1].bytes = bytes(ws);
    keys[1].len = ws.size();
    fg_verdict v{};
    CHECK_STATUS(fg_policy_check(policy.get(), keys, 2, 1, &v), FG_STATUS_OK);
    CHECK(v.decision.outcome == FG_OUTCOME_SUSPENDED && v.layer == 0);

    fg_keyed_inflight *raw_cap = nullptr;
    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_U64, 4, 8, &raw_cap), FG_STATUS_OK);
    KeyedCap batches(raw_cap);
    CHECK_STATUS(fg_keyed_inflight_new(FG_KEY_BYTES, 1, 8, &raw_cap), FG_STATUS_OK);
    KeyedCap named(raw_cap);
    std::vector<fg_acquisition> held(4);
    for (fg_acquisition &a : held) {
        CHECK_STATUS(fg_keyed_inflight_acquire_u64(batches.get(), 7, &a), FG_STATUS_OK);
        CHECK(a.acquired);
    }
    fg_acquisition fifth{};
    CHECK_STATUS(fg_keyed_inflight_acquire_u64(batches.get(), 7, &fifth), FG_STATUS_OK);
    CHECK(!fifth.acquired);
    CHECK_STATUS(fg_keyed_inflight_in_flight_u64(batches.get(), 7, &n, &limit), FG_STATUS_OK);
    CHECK_U64(n, 4);
    CHECK_U64(limit, 4);
    for (const fg_acquisition &a : held) {
        CHECK_STATUS(fg_keyed_inflight_release_u64(batches.get(), 7, a.permit, &n), FG_STATUS_OK);
    }
    CHECK_U64(n, 0);
    CHECK_STATUS(fg_keyed_inflight_release_u64(batches.get(), 7, held[0].permit, &n),
                 FG_STATUS_PERMIT_ALREADY_RELEASED);
    fg_acquisition one{};
    CHECK_STATUS(fg_keyed_inflight_acquire_bytes(named.get(), bytes(ws), ws.size(), &one), FG_STATUS_OK);
    CHECK_STATUS(fg_keyed_inflight_in_flight_bytes(named.get(), bytes(ws), ws.size(), &n, &limit), FG_STATUS_OK);
    CHECK_U64(n, 1);
    CHECK_STATUS(fg_keyed_inflight_release_bytes(named.get(), bytes(ws), ws.size(), one.permit, &n), FG_STATUS_OK);

    // GenieOS plans: Hobby 60 then "key"; Sandbox unlimited; 25 keys then "workspace".
    fg_plans_config pc{};
    pc.struct_size = sizeof pc;
    fg_plans *raw_plans = nullptr;
    CHECK_STATUS(fg_plans_new_genieos(&pc, &raw_plans), FG_STATUS_OK);
    PlanTable plans(raw_plans);
    uint32_t hobby = 0, sandbox = 0;
    CHECK_STATUS(fg_plans_tier(plans.get(), bytes("hobby"), 5, &hobby), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_tier(plans.get(), bytes("sandbox"), 7, &sandbox), FG_STATUS_OK);
    auto check_plan = [&](uint32_t tier, const std::string &k, const std::string &w) {
        CHECK_STATUS(fg_plans_check_at(plans.get(), tier, bytes(k), k.size(), bytes(w), w.size(), 1, 0, &v),
                     FG_STATUS_OK);
        return v;
    };
    for (int i = 0; i < 60; ++i) CHECK(check_plan(hobby, "gos_live_h", "ws_h").decision.admitted);
    CHECK(std::string(check_plan(hobby, "gos_live_h", "ws_h").scope_name) == "key");
    for (int i = 0; i < 100; ++i) CHECK(check_plan(sandbox, "gos_test_s", "ws_h").decision.admitted);
    for (int k = 0; k < 25; ++k) {
        for (int i = 0; i < 24; ++i) CHECK(check_plan(hobby, "gos_live_" + std::to_string(k), "ws_w").decision.admitted);
    }
    CHECK(!check_plan(hobby, "gos_live_25", "ws_w").decision.admitted);
    CHECK(std::string(v.scope_name) == "workspace");
    CHECK_STATUS(fg_plans_check(plans.get(), sandbox, bytes(key), key.size(), bytes(ws), ws.size(), 1, &v), FG_STATUS_OK);
    fg_policy_counts counts{};
    CHECK_STATUS(fg_plans_counters(plans.get(), hobby, &counts), FG_STATUS_OK);
    CHECK_U64(counts.admitted, 660);
    CHECK_U64(counts.denied, 2);

    fg_quota quota = make_quota(1, NS_PER_SECOND, 1);
    fg_tier tiers[1]{};
    tiers[0].struct_size = sizeof tiers[0];
    tiers[0].name = bytes("solo");
    tiers[0].name_len = 4;
    tiers[0].key_quota = &quota;
    pc.window_ns = NS_PER_SECOND;
    CHECK_STATUS(fg_plans_new(tiers, 1, &pc, &raw_plans), FG_STATUS_OK);
    PlanTable solo(raw_plans);
    fg_quota more = make_quota(3, NS_PER_SECOND, 3);
    tiers[0].key_quota = &more;
    CHECK_STATUS(fg_plans_reconfigure_tier(solo.get(), 0, &tiers[0]), FG_STATUS_OK);
    CHECK_STATUS(fg_plans_check_at(solo.get(), 0, bytes(key), key.size(), bytes(ws), ws.size(), 3, 0, &v), FG_STATUS_OK);
    CHECK(v.decision.admitted);
    CHECK_STATUS(fg_plans_check_at(solo.get(), 1, bytes(key), key.size(), bytes(ws), ws.size(), 1, 0, &v),
                 FG_STATUS_NO_SUCH_LAYER);
}

// ABI 1.3: a C++ client backing off a 429 the license API's way, honouring
// the server's Retry-After header when it sends one.
void abi_1_3() {
    fg_retry_config retry{};
    retry.struct_size = sizeof retry;
    CHECK_STATUS(fg_retry_config_preset(FG_RETRY_PRESET_LICENSE_API, &retry), FG_STATUS_OK);
    retry.flags = FG_RETRY_SEEDED;
    retry.seed = 7;
    const std::string header = "2.5";
    uint64_t server_wait = 0;
    CHECK_STATUS(fg_parse_retry_after(header.data(), header.size(), 0, &server_wait), FG_STATUS_OK);
    CHECK_U64(server_wait, 2500000000u);
    std::vector<uint64_t> waits;
    bool again = true;
    for (uint32_t n = 0; again; n++) {
        uint64_t wait = 0;
        const uint64_t retry_after = n == 0 ? server_wait : FG_NO_RETRY_AFTER;
        CHECK_STATUS(fg_retry_delay(&retry, n, retry_after, &again, &wait), FG_STATUS_OK);
        if (again) waits.push_back(wait);
    }
    CHECK_U64(waits.size(), 4);
    CHECK_U64(waits[0], 2500000000u);
    for (size_t n = 1; n < waits.size(); n++) {
        const uint64_t nominal = (UINT64_C(1) << n) * NS_PER_SECOND;
        CHECK(waits[n] >= nominal / 2 && waits[n] <= nominal);
    }
}

// ABI 1.11: an answer queue owned by RAII; the caller's end of its socket
// is the caller's to close. (This library has no Redis: nothing answers.)
void abi_1_11() {
    int fd = -1;
    fg_redis_answers *raw = nullptr;
    CHECK_STATUS(fg_redis_answers_new(&fd, &raw), FG_STATUS_OK);
    const Answers answers(raw);
    CHECK(fd >= 0);
    std::vector<fg_redis_answer> room(8);
    size_t count = 99;
    CHECK_STATUS(fg_redis_answers_take(answers.get(), room.data(), room.size(), &count), FG_STATUS_OK);
    CHECK_U64(count, 0);
    CHECK_STATUS(fg_redis_limiter_check_queued(nullptr, nullptr, 0, 1, 7, answers.get()),
                 FG_STATUS_NULL_POINTER);
    CHECK(close(fd) == 0);
}

// ABI 1.12: a wire's functions, seen from C++ (this library has no Redis,
// so no store exists to make one on: each refuses a NULL handle).
void abi_1_12() {
    fg_redis_wire *wire = nullptr;
    uint32_t flags = 0;
    CHECK_STATUS(fg_redis_wire_new(nullptr, &wire), FG_STATUS_NULL_POINTER);
    CHECK(wire == nullptr);
    CHECK_STATUS(fg_redis_wire_open(wire, &flags), FG_STATUS_NULL_POINTER);
    CHECK_STATUS(fg_redis_limiter_check_wire(nullptr, wire, nullptr, 0, 1, 7, &flags),
                 FG_STATUS_NULL_POINTER);
    CHECK_U64(flags, 0);
    fg_redis_wire_free(wire);
}

}  // namespace

int main(int argc, char **argv) {
    const uint64_t scale = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100;
    CHECK(scale > 0);
    every_function();
    error_paths();
    threads_stay_within_the_quota(scale);
    abi_1_1();
    abi_1_2();
    abi_1_3();
    abi_1_11();
    abi_1_12();
    keyed_threads_stay_within_the_quota(scale);
    std::printf("api_test (C++17): ok\n");
    return 0;
}
