// ClockTimer: a wait ends when the timer's clock reaches the deadline, however the clock got
// there (real time passing, a manual advance, a test clock's jump), or on cancel().
#include "delivery/clock_timer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>

namespace otpd::delivery {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

const core::TimePoint kT0 = core::from_unix_ms(1'800'000'000'000);

// The test drives the io_context itself with poll(): every step is deterministic.
class ClockTimerTest : public ::testing::Test {
 protected:
  // Starts a wait; `result_` becomes 1 (deadline reached) or 0 (cancelled) when it ends.
  void wait(ClockTimer& timer, core::TimePoint deadline) {
    result_ = -1;
    asio::co_spawn(
        io_,
        [&timer, deadline, this]() -> Task<void> { result_ = co_await timer.wait_until(deadline); },
        asio::detached);
    poll();
  }

  // Runs what is ready; an io_context that ran out of work stops and needs a restart first.
  void poll() {
    io_.restart();
    io_.poll();
  }

  asio::io_context io_;
  int result_ = -1;
};

TEST_F(ClockTimerTest, OnAManualClockEndsOnlyWhenTheClockIsMovedToTheDeadline) {
  core::ManualTimeSource clock(kT0);
  ClockTimer timer(io_.get_executor(), clock);
  wait(timer, kT0 + 1s);
  EXPECT_EQ(result_, -1);
  clock.advance(999ms);
  poll();
  EXPECT_EQ(result_, -1);
  clock.advance(1ms);
  poll();
  EXPECT_EQ(result_, 1);
}

TEST_F(ClockTimerTest, ADeadlineAlreadyPassedEndsAtOnce) {
  core::ManualTimeSource clock(kT0);
  ClockTimer timer(io_.get_executor(), clock);
  wait(timer, kT0);
  EXPECT_EQ(result_, 1);
}

TEST_F(ClockTimerTest, CancelEndsTheWaitInProgressOnly) {
  core::ManualTimeSource clock(kT0);
  ClockTimer timer(io_.get_executor(), clock);
  wait(timer, kT0 + 1s);
  timer.cancel();
  poll();
  EXPECT_EQ(result_, 0);
  timer.cancel();  // no wait in progress: lost
  wait(timer, kT0 + 1s);
  EXPECT_EQ(result_, -1);
  clock.set(kT0 + 1s);
  poll();
  EXPECT_EQ(result_, 1);
}

TEST_F(ClockTimerTest, OnTheSystemClockSleepsRealTime) {
  core::SystemTimeSource clock;
  ClockTimer timer(io_.get_executor(), clock);
  const auto start = clock.now();
  wait(timer, start + 20ms);
  io_.run();  // returns once the wait is over: nothing else is pending
  EXPECT_EQ(result_, 1);
  EXPECT_GE(clock.now(), start + 20ms);
}

TEST_F(ClockTimerTest, OnATestClockAJumpEndsAWaitWhoseDeadlineItPassed) {
  core::OffsetTimeSource clock;
  ClockTimer timer(io_.get_executor(), clock);
  wait(timer, clock.now() + 1h);
  EXPECT_EQ(result_, -1);
  clock.advance(2h);
  poll();
  EXPECT_EQ(result_, 1);
}

TEST_F(ClockTimerTest, ATimerMayOutliveItsClockAndAClockItsTimers) {
  auto clock = std::make_unique<core::ManualTimeSource>(kT0);
  { ClockTimer timer(io_.get_executor(), *clock); }
  clock->advance(1s);  // the timer's watch ended with it
  poll();
  auto timer = std::make_unique<ClockTimer>(io_.get_executor(), *clock);
  clock.reset();
  timer.reset();  // never reaches back to the clock
  SUCCEED();
}

}  // namespace
}  // namespace otpd::delivery
