// What the Redis store's operations share: errors as the store port reports them, and the
// jittered pause between two attempts of a compare-and-set.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <random>

#include "core/task.hpp"
#include "store/redis/error.hpp"
#include "store/store.hpp"

namespace otpd::store::redis {

// Every failure of Redis is the store being unavailable (503 with Retry-After).
inline boost::system::error_code unavailable() { return make_error(StoreErrc::kUnavailable); }
inline boost::system::error_code unavailable(const Error&) { return unavailable(); }

// After the n-th conflict (0-based): a random pause of up to 2^n ms, at most 50 ms, so
// writers racing for one key stop colliding in lockstep.
inline Task<void> pause_after_conflict(int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int cap = std::min(50, 1 << std::min(attempt, 6));
  const auto wait =
      std::chrono::microseconds(std::uniform_int_distribution<int>(0, cap * 1000)(rng));
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, wait);
  co_await timer.async_wait(boost::asio::use_awaitable);
}

}  // namespace otpd::store::redis
