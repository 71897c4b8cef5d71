// What the Redis client tests share: I/O threads as otpd runs them (one io_context per
// thread), a bounded wait for a coroutine's result, and client construction from a URL.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/task.hpp"
#include "store/redis/client.hpp"

namespace otpd::store::redis::testing {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class IoThreads {
 public:
  explicit IoThreads(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
    for (auto& context : contexts_) threads_.emplace_back([&context] { context->run(); });
  }
  ~IoThreads() { stop(); }

  asio::io_context& context(std::size_t i) { return *contexts_.at(i); }
  std::size_t size() const { return contexts_.size(); }

  // Runs `make()`'s coroutine on thread i; co_spawn keeps the callable alive meanwhile.
  template <typename F>
  auto spawn(std::size_t i, F make) {
    return asio::co_spawn(context(i), std::move(make), asio::use_future);
  }

  void stop() {
    guards_.clear();
    for (auto& context : contexts_) context->stop();
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

// The result, or an exception if it takes longer than `limit`: a hang guard, not a timing
// assertion (every call is bounded by the client's own timeouts, far below it).
template <typename T>
T wait(std::future<T>& future, std::chrono::seconds limit = 60s) {
  if (future.wait_for(limit) != std::future_status::ready) {
    throw std::runtime_error("the call did not complete: the client hangs");
  }
  return future.get();
}
template <typename T>
T wait(std::future<T>&& future, std::chrono::seconds limit = 60s) {
  return wait(future, limit);
}

// Lists built by a function call rather than a braced list, which GCC 12 cannot keep
// across a co_await (see Client::command).
template <typename... T>
std::vector<std::string> strings(const T&... items) {
  std::vector<std::string> list;
  (list.emplace_back(items), ...);
  return list;
}
template <typename... T>
std::vector<std::vector<std::string>> commands(T... lists) {
  std::vector<std::vector<std::string>> all;
  (all.push_back(std::move(lists)), ...);
  return all;
}

inline std::shared_ptr<Client> make_client(const std::string& url,
                                           const std::function<void(ClientOptions&)>& adjust = {}) {
  auto options = parse_redis_url(url);
  if (!options) throw std::runtime_error("bad test URL: " + options.error().message);
  if (adjust) adjust(*options);
  auto client = Client::create(std::move(*options));
  if (!client) throw std::runtime_error("Client::create: " + client.error().message);
  return *client;
}

inline Task<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Polls `call` until it succeeds or `limit` passes; the last result either way.
template <typename F>
auto until_ok(F call, std::chrono::seconds limit = 30s) -> decltype(call()) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto result = co_await call();
    if (result || std::chrono::steady_clock::now() > deadline) co_return result;
    co_await sleep_for(50ms);
  }
}

}  // namespace otpd::store::redis::testing

// ASSERT_TRUE for a Result inside a Task<void> coroutine (gtest's ASSERT_* `return`s).
#define OTPD_CO_ASSERT_OK(result)                                        \
  if (!(result)) {                                                       \
    ADD_FAILURE() << #result << " failed: " << (result).error().message; \
    co_return;                                                           \
  }
