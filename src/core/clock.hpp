// Time as an injected dependency: production reads the system clock, tests advance a manual one.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/types.hpp"

namespace otpd::core {

// Who waits on a clock that can jump (a test clock moved by hand): timers register here and
// are called after every jump, so they look at now() again instead of sleeping past it.
// A watch lasts as long as the token watch() returns, so a timer that outlives its clock
// never has to reach back to it. Registering does not change the clock, so it works on a
// const one. Thread-safe; callbacks run on the thread that moved the clock and must be quick.
class ClockWatchers {
 public:
  using Token = std::shared_ptr<const std::function<void()>>;
  [[nodiscard]] Token watch(std::function<void()> on_jump) const {
    auto token = std::make_shared<const std::function<void()>>(std::move(on_jump));
    std::lock_guard lock(mu_);
    std::erase_if(watchers_, [](const auto& w) { return w.expired(); });
    watchers_.push_back(token);
    return token;
  }
  void jumped() const {
    std::vector<Token> live;
    {
      std::lock_guard lock(mu_);
      std::erase_if(watchers_, [](const auto& w) { return w.expired(); });
      for (const auto& w : watchers_) {
        if (auto token = w.lock()) live.push_back(std::move(token));
      }
    }
    for (const auto& on_jump : live) (*on_jump)();
  }

 private:
  mutable std::mutex mu_;
  mutable std::vector<std::weak_ptr<const std::function<void()>>> watchers_;  // GUARDED_BY(mu_)
};

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint now() const = 0;
  // Whether now() moves on its own as real time passes; a manual clock moves only when told,
  // so a timer on it waits for a jump rather than for real time.
  virtual bool moves_with_real_time() const { return true; }
  // Where timers hear of jumps; nullptr for a clock that never jumps.
  virtual const ClockWatchers* watchers() const { return nullptr; }
};

class SystemTimeSource final : public TimeSource {
 public:
  TimePoint now() const override { return std::chrono::time_point_cast<Millis>(Clock::now()); }
};

// A clock that only moves when told to. Thread-safe.
class ManualTimeSource final : public TimeSource {
 public:
  explicit ManualTimeSource(TimePoint start) : ms_(to_unix_ms(start)) {}
  TimePoint now() const override { return from_unix_ms(ms_.load()); }
  bool moves_with_real_time() const override { return false; }
  const ClockWatchers* watchers() const override { return &watchers_; }
  void advance(Millis by) {
    ms_ += by.count();
    watchers_.jumped();
  }
  void set(TimePoint t) {
    ms_ = to_unix_ms(t);
    watchers_.jumped();
  }

 private:
  std::atomic<long long> ms_;
  ClockWatchers watchers_;
};

// Real time plus an offset that only grows: what `serve --unsafe-test-clock` uses, so that
// tests can jump past expiries and cooldowns while retries and timers keep running (and a
// timer whose time the jump passed fires at once).
class OffsetTimeSource final : public TimeSource {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<Millis>(Clock::now()) + Millis(offset_ms_.load());
  }
  const ClockWatchers* watchers() const override { return &watchers_; }
  void advance(Millis by) {
    offset_ms_ += by.count();
    watchers_.jumped();
  }

 private:
  std::atomic<long long> offset_ms_{0};
  ClockWatchers watchers_;
};

}  // namespace otpd::core
