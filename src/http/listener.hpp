// The listener behind http::Server: one acceptor handing sockets round-robin to the pool's
// threads, the connection cap, stop, and shedding when descriptors run out.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "api/handler.hpp"
#include "http/connection.hpp"
#include "http/io_pool.hpp"
#include "http/loop.hpp"
#include "http/server.hpp"

namespace otpd::http::detail {

using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, Executor>;

// Shared by the Server, every connection, the accept loop and the sweeps, so it outlives the
// Server while connections wind down. Holds no I/O object once started: the acceptor and the
// timers live in the frames of coroutines on their own io_context, so each dies with its own
// context whatever the order of destruction.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Over the cap, a 503 is written by a coroutine that also drains the client's input for a
  // while, so the answer is not lost to a reset. At most this many at once; beyond, the 503
  // is written at once without waiting (see refuse_at_once).
  static constexpr std::size_t kMaxRefusing = 64;

  // Binds and listens (throws std::system_error on failure).
  Listener(IoPool& pool, api::Handler& handler, ServerOptions options);

  void start();
  void stop();
  unsigned short port() const { return port_; }
  std::size_t open_connections() const { return open_.load(std::memory_order_relaxed); }

  api::Handler& handler() const { return handler_; }
  const ServerOptions& options() const { return options_; }
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  // Called once by each connection as it ends, from its own thread.
  void release(bool refused);

 private:
  static boost::asio::awaitable<void> accept_loop(std::shared_ptr<Listener> self,
                                                  Acceptor acceptor);
  // Out of descriptors: asks every thread to close some idle keep-alive connections.
  void shed_idle();
  void refuse_at_once(Socket& socket);

  api::Handler& handler_;
  const ServerOptions options_;
  std::vector<std::unique_ptr<Loop>> loops_;  // one per pool context, same index
  std::optional<Acceptor> unstarted_;         // until start() moves it into the accept loop
  Acceptor* acceptor_ = nullptr;              // while the accept loop runs; on loops_[0]'s thread
  unsigned short port_ = 0;
  std::size_t next_loop_ = 0;  // round-robin; accept loop only
  Clock::time_point last_shed_log_{};
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> refusing_{0};
};

}  // namespace otpd::http::detail
