// The C ABI from C++17: RAII ownership of handles, every function, the error
// paths, and std::thread checkers whose admitted total is bounded by the quota.
// Usage: api_test_cpp [scale]
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "check.h"

namespace {

struct LimiterFree {
    void operator()(fg_limiter *limiter) const noexcept { fg_limiter_free(limiter); }
};
using Limiter = std::unique_ptr<fg_limiter, LimiterFree>;

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

}  // namespace

int main(int argc, char **argv) {
    const uint64_t scale = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100;
    CHECK(scale > 0);
    every_function();
    error_paths();
    threads_stay_within_the_quota(scale);
    std::printf("api_test (C++17): ok\n");
    return 0;
}
