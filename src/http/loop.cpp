// The per-thread sweep: deadlines checked twice a second instead of a timer per read.
#include "http/loop.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/listener.hpp"

namespace otpd::http::detail {

namespace asio = boost::asio;

asio::awaitable<void> Loop::sweep(std::shared_ptr<Listener> listener, Loop& loop) {
  asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor> timer(loop.io());
  for (;;) {
    timer.expires_after(listener->options().sweep_interval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (listener->stopping() && loop.empty()) co_return;
    const auto now = Clock::now();
    // expire_if_due never unlinks: a connection leaves the list only when its coroutine
    // resumes, which cannot happen while this loop runs on the same thread.
    for (Connection& connection : loop.connections_) connection.expire_if_due(now);
  }
}

void Loop::close_waiting() {
  for (Connection& connection : connections_) {
    if (connection.waiting_for_request()) connection.close_now();
  }
}

std::size_t Loop::shed_idle(std::size_t at_most) {
  std::size_t shed = 0;
  for (Connection& connection : connections_) {
    if (shed == at_most) break;
    if (connection.idle()) {
      connection.close_now();
      ++shed;
    }
  }
  return shed;
}

}  // namespace otpd::http::detail
