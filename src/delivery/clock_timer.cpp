// ClockTimer: an Asio steady_timer re-armed from the TimeSource after every wake-up.
#include "delivery/clock_timer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace otpd::delivery {

namespace asio = boost::asio;

struct ClockTimer::State {
  explicit State(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
  bool waiting = false;
  bool cancelled = false;
};

ClockTimer::ClockTimer(asio::any_io_executor executor, const core::TimeSource& clock)
    : state_(std::make_shared<State>(executor)), clock_(clock) {
  if (const core::ClockWatchers* watchers = clock_.watchers()) {
    // The jump comes from another thread: hand it to the timer's executor. The State may be
    // gone by the time the handler runs.
    watch_ = watchers->watch([executor, weak = std::weak_ptr<State>(state_)] {
      asio::post(executor, [weak] {
        if (auto state = weak.lock()) state->timer.cancel();
      });
    });
  }
}

Task<bool> ClockTimer::wait_until(core::TimePoint deadline) {
  // The frame holds the State, so a timer destroyed mid-wait does not pull it away.
  const std::shared_ptr<State> state = state_;
  state->waiting = true;
  state->cancelled = false;
  for (;;) {
    const core::TimePoint now = clock_.now();
    if (now >= deadline) break;
    if (clock_.moves_with_real_time()) {
      state->timer.expires_after(deadline - now);
    } else {
      state->timer.expires_at(asio::steady_timer::time_point::max());
    }
    co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    // Woken by the time passing, by a jump of the clock or by cancel(): only cancel() ends
    // the wait early; otherwise the clock says whether the deadline is reached.
    if (state->cancelled) break;
  }
  state->waiting = false;
  co_return !state->cancelled;
}

void ClockTimer::cancel() {
  if (!state_->waiting) return;
  state_->cancelled = true;
  state_->timer.cancel();
}

}  // namespace otpd::delivery
