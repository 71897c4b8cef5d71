// Test doubles shared by the delivery tests: a scripted random source, an in-memory
// delivery queue, a recording store and channel, and helpers to run coroutines and wait.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/random.hpp"
#include "delivery/channel.hpp"
#include "store/store.hpp"

namespace otpd::delivery::testing {

template <typename T>
using Result = store::Result<T>;

// Every byte the same: 0x00 gives the smallest jitter factor, 0xff the largest.
class FixedRandom final : public core::RandomSource {
 public:
  explicit FixedRandom(std::uint8_t byte) : byte_(byte) {}
  void fill(std::span<std::uint8_t> out) override { std::fill(out.begin(), out.end(), byte_); }

 private:
  std::uint8_t byte_;
};

// Runs one awaitable to completion on a private io_context.
template <typename T>
T run_awaitable(boost::asio::awaitable<T> aw) {
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(io, std::move(aw), boost::asio::use_future);
  io.run();
  return fut.get();
}

// Polls `pred` until it holds or `timeout` passes; no fixed sleeps in the tests.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

// The delivery queue port in memory: the whole of what the worker uses of a store.
class FakeStore final : public store::DeliveryQueue {
 public:
  struct Entry {
    store::DeliveryJob job;
    core::TimePoint due;
    core::TimePoint leased_until;
  };

  void add(store::DeliveryJob job, core::TimePoint due) {
    std::lock_guard lock(mu_);
    const auto key = std::make_pair(job.tenant.str(), job.id.str());
    jobs_[key] = Entry{std::move(job), due, core::TimePoint{}};
  }
  std::optional<core::DeliveryStatus> outcome(const std::string& tenant, const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = outcomes_.find({tenant, id});
    if (it == outcomes_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<Entry> entry(const std::string& tenant, const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = jobs_.find({tenant, id});
    if (it == jobs_.end()) return std::nullopt;
    return it->second;
  }

  Task<Result<std::vector<store::DeliveryJob>>> take_due(store::TakeRequest request) override {
    std::lock_guard lock(mu_);
    std::vector<store::DeliveryJob> out;
    for (auto it = jobs_.begin(); it != jobs_.end() && out.size() < request.max;) {
      Entry& e = it->second;
      if (e.job.expires_at <= request.now) {
        outcomes_[it->first] = core::DeliveryStatus::kFailed;
        it = jobs_.erase(it);
        continue;
      }
      const bool skipped = std::find(request.skip_tenants.begin(), request.skip_tenants.end(),
                                     e.job.tenant) != request.skip_tenants.end();
      if (!skipped && e.due <= request.now && e.leased_until <= request.now) {
        e.leased_until = request.lease_until;
        out.push_back(e.job);
      }
      ++it;
    }
    co_return out;
  }
  Task<Result<void>> finish(std::vector<store::FinishedDelivery> done) override {
    std::lock_guard lock(mu_);
    for (const auto& d : done) {
      outcomes_[{d.tenant.str(), d.id.str()}] = d.outcome;
      jobs_.erase({d.tenant.str(), d.id.str()});
    }
    co_return Result<void>{};
  }
  Task<Result<void>> retry(core::TenantId tenant, core::VerificationId id,
                           core::TimePoint next_attempt) override {
    std::lock_guard lock(mu_);
    auto it = jobs_.find({tenant.str(), id.str()});
    if (it != jobs_.end()) {
      ++it->second.job.attempts;
      it->second.due = next_attempt;
      it->second.leased_until = core::TimePoint{};
    }
    co_return Result<void>{};
  }
  Task<Result<std::size_t>> depth() override {
    std::lock_guard lock(mu_);
    co_return jobs_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> jobs_;
  std::map<std::pair<std::string, std::string>, core::DeliveryStatus> outcomes_;
};

// Forwards to another queue and records what the worker asked of it; can make the next
// takes or finishes fail as an unreachable backend would.
class RecordingStore final : public store::DeliveryQueue {
 public:
  explicit RecordingStore(store::DeliveryQueue& inner) : inner_(inner) {}

  int takes() const { return takes_.load(); }
  void fail_next_takes(int n) { fail_takes_ = n; }
  void fail_next_finishes(int n) { fail_finishes_ = n; }
  std::vector<core::TimePoint> retries() {
    std::lock_guard lock(mu_);
    return retries_;
  }
  // The outcome the worker recorded with finish, if it did.
  std::optional<core::DeliveryStatus> finished(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = finished_.find(id);
    if (it == finished_.end()) return std::nullopt;
    return it->second;
  }
  int finish_calls() {
    std::lock_guard lock(mu_);
    return static_cast<int>(finished_.size());
  }
  // How many finish calls (batches) the outcomes came in.
  int finish_batches() const { return finish_batches_.load(); }

  // The tenants each take asked the store to skip, in order.
  std::vector<std::vector<core::TenantId>> skips() {
    std::lock_guard lock(mu_);
    return skips_;
  }

  Task<Result<std::vector<store::DeliveryJob>>> take_due(store::TakeRequest request) override {
    {
      std::lock_guard lock(mu_);
      skips_.push_back(request.skip_tenants);
    }
    if (fail_takes_ > 0) {
      --fail_takes_;
      ++takes_;
      co_return store::make_error(store::StoreErrc::kUnavailable);
    }
    auto r = co_await inner_.take_due(std::move(request));
    ++takes_;
    co_return r;
  }
  // Recorded once the inner store has committed them, so a test that sees an outcome here
  // also finds it in the store.
  Task<Result<void>> finish(std::vector<store::FinishedDelivery> done) override {
    if (fail_finishes_ > 0) {
      --fail_finishes_;
      co_return store::make_error(store::StoreErrc::kUnavailable);
    }
    const std::vector<store::FinishedDelivery> asked = done;
    auto r = co_await inner_.finish(std::move(done));
    {
      std::lock_guard lock(mu_);
      for (const auto& d : asked) finished_[d.id.str()] = d.outcome;
    }
    ++finish_batches_;
    co_return r;
  }
  Task<Result<void>> retry(core::TenantId tenant, core::VerificationId id,
                           core::TimePoint next) override {
    {
      std::lock_guard lock(mu_);
      retries_.push_back(next);
    }
    co_return co_await inner_.retry(std::move(tenant), std::move(id), next);
  }
  Task<Result<std::size_t>> depth() override { co_return co_await inner_.depth(); }

 private:
  store::DeliveryQueue& inner_;
  std::atomic<int> takes_{0};
  std::atomic<int> fail_takes_{0};
  std::atomic<int> fail_finishes_{0};
  std::atomic<int> finish_batches_{0};
  std::mutex mu_;
  std::vector<core::TimePoint> retries_;
  std::vector<std::vector<core::TenantId>> skips_;
  std::map<std::string, core::DeliveryStatus> finished_;
};

// Records every message and answers from a script (delivered once the script runs out).
// While `hold` is set, attempts wait (polling a short timer) until it is cleared.
class FakeChannel final : public Channel {
 public:
  void script(std::initializer_list<AttemptResult> results) {
    std::lock_guard lock(mu_);
    script_.insert(script_.end(), results.begin(), results.end());
  }
  std::vector<Message> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  std::size_t calls() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }
  std::vector<std::string> ids() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& m : messages_) out.push_back(m.id.str());
    return out;
  }
  std::atomic<bool> hold{false};
  std::atomic<bool> throw_next{false};  // the next attempt throws, as a buggy channel might
  std::atomic<int> finished{0};         // attempts that have returned

  boost::asio::awaitable<Attempt> deliver(const Message& message) override {
    AttemptResult result = AttemptResult::kDelivered;
    {
      std::lock_guard lock(mu_);
      messages_.push_back(message);
      if (!script_.empty()) {
        result = script_.front();
        script_.pop_front();
      }
    }
    if (throw_next.exchange(false)) throw std::runtime_error("channel bug");
    while (hold) {
      boost::asio::steady_timer t(co_await boost::asio::this_coro::executor,
                                  std::chrono::milliseconds(2));
      co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    ++finished;
    co_return Attempt{result, "scripted"};
  }

 private:
  std::mutex mu_;
  std::vector<Message> messages_;
  std::deque<AttemptResult> script_;
};

}  // namespace otpd::delivery::testing
