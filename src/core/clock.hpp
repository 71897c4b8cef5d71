// Time as an injected dependency: production reads the system clock, tests advance a manual one.
#pragma once

#include <atomic>

#include "core/types.hpp"

namespace otpd::core {

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint now() const = 0;
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
  void advance(Millis by) { ms_ += by.count(); }
  void set(TimePoint t) { ms_ = to_unix_ms(t); }

 private:
  std::atomic<long long> ms_;
};

// Real time plus an offset that only grows: what `serve --unsafe-test-clock` uses, so that
// tests can jump past expiries and cooldowns while retries and timers keep running.
class OffsetTimeSource final : public TimeSource {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<Millis>(Clock::now()) + Millis(offset_ms_.load());
  }
  void advance(Millis by) { offset_ms_ += by.count(); }

 private:
  std::atomic<long long> offset_ms_{0};
};

}  // namespace otpd::core
