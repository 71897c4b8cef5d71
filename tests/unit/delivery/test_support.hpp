// Test doubles shared by the delivery tests: a scripted random source, an in-memory
// delivery queue, a recording channel, and helpers to run coroutines and wait for state.
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

// The queue half of a Store, in memory; the other operations are never called by the
// worker and answer kUnavailable.
class FakeStore final : public store::Store {
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
  Result<void> init_schema() override { return unavailable(); }
  Result<void> check_schema(std::string*) override { return unavailable(); }
  Result<void> ping() override { return {}; }
  Result<store::StartOutcome> start(const store::StartRequest&) override { return unavailable(); }
  Result<std::optional<core::Verification>> get(const core::TenantId&,
                                                const core::VerificationId&) override {
    return unavailable();
  }
  Result<std::optional<core::Verification>> find_latest(
      const core::TenantId&, const std::vector<core::RecipientHash>&) override {
    return unavailable();
  }
  Result<store::CheckOutcome> check(const store::CheckRequest&) override { return unavailable(); }
  Result<store::CancelOutcome> cancel(const core::TenantId&, const core::VerificationId&,
                                      core::TimePoint) override {
    return unavailable();
  }
  Result<store::IdempotencyReservation> reserve_idempotency(const core::TenantId&,
                                                            const std::string&, const std::string&,
                                                            core::TimePoint,
                                                            core::Millis) override {
    return unavailable();
  }
  Result<void> complete_idempotency(const core::TenantId&, const std::string&, int,
                                    const std::string&, core::TimePoint) override {
    return unavailable();
  }
  Result<void> release_idempotency(const core::TenantId&, const std::string&) override {
    return unavailable();
  }
  Result<std::size_t> sweep(core::TimePoint, core::Seconds) override { return unavailable(); }
  // The worker takes no tokens; answering "allowed" keeps any other caller unthrottled.
  Result<store::TokenOutcome> take_token(const store::TokenRequest&) override {
    return store::TokenOutcome{};
  }

  Result<std::vector<store::DeliveryJob>> take_due_deliveries(
      core::TimePoint now, std::size_t max, core::TimePoint lease_until) override {
    std::lock_guard lock(mu_);
    std::vector<store::DeliveryJob> out;
    for (auto it = jobs_.begin(); it != jobs_.end() && out.size() < max;) {
      Entry& e = it->second;
      if (e.job.expires_at <= now) {
        outcomes_[it->first] = core::DeliveryStatus::kFailed;
        it = jobs_.erase(it);
        continue;
      }
      if (e.due <= now && e.leased_until <= now) {
        e.leased_until = lease_until;
        out.push_back(e.job);
      }
      ++it;
    }
    return out;
  }
  Result<void> finish_delivery(const core::TenantId& tenant, const core::VerificationId& id,
                               core::DeliveryStatus outcome) override {
    std::lock_guard lock(mu_);
    outcomes_[{tenant.str(), id.str()}] = outcome;
    jobs_.erase({tenant.str(), id.str()});
    return {};
  }
  Result<void> retry_delivery(const core::TenantId& tenant, const core::VerificationId& id,
                              core::TimePoint next_attempt) override {
    std::lock_guard lock(mu_);
    auto it = jobs_.find({tenant.str(), id.str()});
    if (it != jobs_.end()) {
      ++it->second.job.attempts;
      it->second.due = next_attempt;
      it->second.leased_until = core::TimePoint{};
    }
    return {};
  }
  Result<std::size_t> delivery_queue_depth() override {
    std::lock_guard lock(mu_);
    return jobs_.size();
  }

 private:
  static boost::system::error_code unavailable() {
    return store::make_error(store::StoreErrc::kUnavailable);
  }

  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> jobs_;
  std::map<std::pair<std::string, std::string>, core::DeliveryStatus> outcomes_;
};

// Forwards to another Store and records what the worker asked of the queue; can make the
// next takes fail as an unreachable backend would.
class RecordingStore final : public store::Store {
 public:
  explicit RecordingStore(store::Store& inner) : inner_(inner) {}

  int takes() const { return takes_.load(); }
  void fail_next_takes(int n) { fail_takes_ = n; }
  std::vector<core::TimePoint> retries() {
    std::lock_guard lock(mu_);
    return retries_;
  }
  // The outcome the worker recorded with finish_delivery, if it did.
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
  // How many finish_deliveries calls (batches) the outcomes came in.
  int finish_batches() const { return finish_batches_.load(); }

  Result<void> init_schema() override { return inner_.init_schema(); }
  Result<void> check_schema(std::string* what) override { return inner_.check_schema(what); }
  Result<void> ping() override { return inner_.ping(); }
  Result<store::StartOutcome> start(const store::StartRequest& r) override {
    return inner_.start(r);
  }
  Result<std::optional<core::Verification>> get(const core::TenantId& t,
                                                const core::VerificationId& id) override {
    return inner_.get(t, id);
  }
  Result<std::optional<core::Verification>> find_latest(
      const core::TenantId& t, const std::vector<core::RecipientHash>& r) override {
    return inner_.find_latest(t, r);
  }
  Result<store::CheckOutcome> check(const store::CheckRequest& r) override {
    return inner_.check(r);
  }
  Result<store::CancelOutcome> cancel(const core::TenantId& t, const core::VerificationId& id,
                                      core::TimePoint now) override {
    return inner_.cancel(t, id, now);
  }
  Result<store::IdempotencyReservation> reserve_idempotency(const core::TenantId& t,
                                                            const std::string& k,
                                                            const std::string& h,
                                                            core::TimePoint now,
                                                            core::Millis lease) override {
    return inner_.reserve_idempotency(t, k, h, now, lease);
  }
  Result<void> complete_idempotency(const core::TenantId& t, const std::string& k, int status,
                                    const std::string& body, core::TimePoint until) override {
    return inner_.complete_idempotency(t, k, status, body, until);
  }
  Result<void> release_idempotency(const core::TenantId& t, const std::string& k) override {
    return inner_.release_idempotency(t, k);
  }
  Result<std::size_t> sweep(core::TimePoint now, core::Seconds horizon) override {
    return inner_.sweep(now, horizon);
  }
  Result<store::TokenOutcome> take_token(const store::TokenRequest& r) override {
    return inner_.take_token(r);
  }
  Result<std::vector<store::DeliveryJob>> take_due_deliveries(
      core::TimePoint now, std::size_t max, core::TimePoint lease_until) override {
    if (fail_takes_ > 0) {
      --fail_takes_;
      ++takes_;
      return store::make_error(store::StoreErrc::kUnavailable);
    }
    auto r = inner_.take_due_deliveries(now, max, lease_until);
    ++takes_;
    return r;
  }
  Result<void> finish_delivery(const core::TenantId& t, const core::VerificationId& id,
                               core::DeliveryStatus outcome) override {
    auto r = inner_.finish_delivery(t, id, outcome);
    std::lock_guard lock(mu_);
    finished_[id.str()] = outcome;
    return r;
  }
  Result<void> finish_deliveries(const std::vector<store::FinishedDelivery>& done) override {
    auto r = inner_.finish_deliveries(done);
    ++finish_batches_;
    std::lock_guard lock(mu_);
    for (const auto& d : done) finished_[d.id.str()] = d.outcome;
    return r;
  }
  Result<void> retry_delivery(const core::TenantId& t, const core::VerificationId& id,
                              core::TimePoint next) override {
    auto r = inner_.retry_delivery(t, id, next);
    std::lock_guard lock(mu_);
    retries_.push_back(next);
    return r;
  }
  Result<std::size_t> delivery_queue_depth() override { return inner_.delivery_queue_depth(); }

 private:
  store::Store& inner_;
  std::atomic<int> takes_{0};
  std::atomic<int> fail_takes_{0};
  std::atomic<int> finish_batches_{0};
  std::mutex mu_;
  std::vector<core::TimePoint> retries_;
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
  std::atomic<bool> hold{false};
  std::atomic<bool> throw_next{false};  // the next attempt throws, as a buggy channel might
  std::atomic<int> finished{0};

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
