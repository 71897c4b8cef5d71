// One accepted socket: the keep-alive request loop (or a refusal over the connection cap),
// pinned to one I/O thread, with deadlines enforced by that thread's sweep (see Loop).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/intrusive/list_hook.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "api/message.hpp"
#include "http/request_parser.hpp"

namespace otpd::http::detail {

class Listener;
class Loop;

using Clock = std::chrono::steady_clock;
using Executor = boost::asio::io_context::executor_type;
// Sockets on a concrete executor: their operations dispatch without type erasure. The
// coroutines themselves stay on any_io_executor, because api::Handler returns Task<Response>
// (an awaitable on any_io_executor), which only such a coroutine can await.
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;

// Lives in the frame of its own coroutine and is touched only on its io_context's thread: by
// that coroutine, and by the thread's Loop (sweep, stop, shedding) while the coroutine is
// suspended. The hook links it into its Loop; it unlinks itself when destroyed.
class Connection : public boost::intrusive::list_base_hook<
                       boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  // What the connection is waiting for, which decides its deadline and what a stop does.
  enum class Phase : std::uint8_t {
    kIdle,     // keep-alive, between requests: idle_timeout, then closed without a word
    kHeader,   // a request's header: header_timeout (from accept or the first byte), then 408
    kBody,     // its body: body_timeout, then 408
    kHandler,  // the handler runs: no deadline
    kWrite,    // the response: body_timeout (2 s for error answers), then closed
    kLinger,   // draining unread input before closing: 2 s
  };

  // The two coroutines the listener spawns on the connection's io_context. The listener has
  // counted the socket (open connections, or refusals in flight); the count is released
  // when the connection ends.
  static boost::asio::awaitable<void> serve(std::shared_ptr<Listener> listener, Loop& loop,
                                            Socket socket);
  static boost::asio::awaitable<void> refuse(std::shared_ptr<Listener> listener, Loop& loop,
                                             Socket socket);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The Loop's side. REQUIRES: on the connection's thread.
  void expire_if_due(Clock::time_point now);
  // No request in flight: waiting for one, or for the rest of its header.
  bool waiting_for_request() const {
    return !closing_ && (phase_ == Phase::kIdle || phase_ == Phase::kHeader);
  }
  bool idle() const { return !closing_ && phase_ == Phase::kIdle; }
  // Ends the connection without an answer (stop, shedding): the pending operation is
  // cancelled and the coroutine returns.
  void close_now();

 private:
  enum class Kind : std::uint8_t { kServed, kRefused };
  Connection(std::shared_ptr<Listener> listener, Loop& loop, Socket socket, Kind kind);

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<boost::system::error_code> read_some();
  boost::asio::awaitable<boost::system::error_code> read_header();
  boost::asio::awaitable<boost::system::error_code> read_body();
  // Answers a request that cannot be served (431, 413, 408, 400, 501) and closes; errors
  // that leave nobody to answer (client gone, stop) just close.
  boost::asio::awaitable<void> refuse_request(boost::system::error_code ec);
  boost::asio::awaitable<void> answer_and_close(api::Response response);
  boost::asio::awaitable<void> linger_close();
  void enter(Phase phase, Clock::duration limit);
  void enter_unlimited(Phase phase);

  std::shared_ptr<Listener> listener_;
  Socket socket_;
  const Kind kind_;
  Phase phase_ = Phase::kHeader;
  bool expired_ = false;  // the sweep found the deadline passed and cancelled the socket
  bool closing_ = false;  // close_now() was called
  Clock::time_point deadline_ = Clock::time_point::max();
  std::string remote_address_;
  // Kept for the connection's life, so a keep-alive connection's steady state allocates
  // nothing here: the read buffer (bounded; it also holds pipelined requests), the last
  // request id, the response head.
  boost::beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::string request_id_;
  std::string head_;
};

}  // namespace otpd::http::detail
