// One I/O thread's share of a listener: its connections, and the coarse sweep that enforces
// their deadlines instead of a timer operation per read.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/intrusive/list.hpp>
#include <cstddef>
#include <memory>

#include "http/connection.hpp"

namespace otpd::http::detail {

// Deadlines: a connection stores its deadline in a field when it changes phase (a few times
// per request, no system call, no timer). A timer per thread fires every sweep interval and
// cancels the pending operation of every connection past its deadline, so each limit holds
// to within one interval (10 s headers are enforced between 10 s and 10.5 s).
//
// Everything here runs on the loop's own thread; other threads reach it only by posting.
class Loop {
 public:
  explicit Loop(boost::asio::io_context& io) : io_(io) {}
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  boost::asio::io_context& io() { return io_; }
  void add(Connection& connection) { connections_.push_back(connection); }
  bool empty() const { return connections_.empty(); }

  // The sweep's coroutine: runs until the listener stops and the last connection is gone.
  static boost::asio::awaitable<void> sweep(std::shared_ptr<Listener> listener, Loop& loop);
  // stop(): connections without a request in flight close at once.
  void close_waiting();
  // Out of descriptors: closes up to `at_most` idle keep-alive connections, those accepted
  // first before the others. Returns how many.
  std::size_t shed_idle(std::size_t at_most);

 private:
  boost::asio::io_context& io_;
  boost::intrusive::list<Connection, boost::intrusive::constant_time_size<false>> connections_;
};

}  // namespace otpd::http::detail
