// A timer on a TimeSource's clock rather than on the steady clock, so the delivery worker's
// waits (poll, retry due times, store backoff) follow a manual clock in tests and the
// jumps of `--unsafe-test-clock`, and still sleep real time in production.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "core/clock.hpp"
#include "core/task.hpp"
#include "core/types.hpp"

namespace otpd::delivery {

// One wait at a time, used from one strand (or a single-threaded io_context): the waits,
// cancel() and the clock's jumps all run on `executor`. On a clock that moves with real time
// it sleeps the time left (and looks again after a jump); on a manual clock it wakes only
// when the clock is moved.
class ClockTimer {
 public:
  ClockTimer(boost::asio::any_io_executor executor, const core::TimeSource& clock);
  ClockTimer(const ClockTimer&) = delete;
  ClockTimer& operator=(const ClockTimer&) = delete;

  // True once the clock reads `deadline` or later; false when cancel() cut the wait short.
  Task<bool> wait_until(core::TimePoint deadline);
  // Ends the wait in progress, if any (a cancel with no wait in progress is lost, as with
  // an Asio timer). Call on the timer's executor.
  void cancel();

 private:
  struct State;
  std::shared_ptr<State> state_;
  const core::TimeSource& clock_;
  core::ClockWatchers::Token watch_;  // empty for a clock that never jumps
};

}  // namespace otpd::delivery
