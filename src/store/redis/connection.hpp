// One pipelined connection to one Redis node, owned by one I/O thread: requests are
// appended to an output buffer and written together, replies are matched to them in FIFO
// order, a watchdog fails the connection when the oldest request is overdue, and a failed
// connection is re-established lazily, after a backoff, by the next request.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/task.hpp"
#include "store/redis/error.hpp"
#include "store/redis/options.hpp"
#include "store/redis/reply.hpp"

namespace boost::asio::ssl {
class context;
}

namespace otpd::store::redis {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Executor = boost::asio::io_context::executor_type;

  struct Settings {
    Endpoint endpoint;
    std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain TCP
    std::string user;
    std::string password;
    int db = 0;
    std::chrono::milliseconds timeout{2000};
    std::size_t max_in_flight = 4096;
    std::size_t max_reply_bytes = std::size_t{64} << 20;
  };

  // Creates the connection without connecting: the first execute() connects. Must be
  // called on the thread that runs `executor`'s io_context; that thread owns it.
  static std::shared_ptr<Connection> create(Executor executor, Settings settings);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends `count` commands, RESP-encoded back to back in `commands`, and completes with
  // their `count` replies in order; error replies are Reply values (kError) here, for the
  // caller to interpret. Or it completes with one error for the whole batch:
  //   kUnavailable  not sent: connection down (refused, backing off), in-flight bound
  //                 reached (at once, without waiting), AUTH/SELECT refused, closed;
  //   kTimeout      sent, and the connection failed (no reply to the oldest request in
  //                 time, lost, write error) before all replies came: outcome unknown;
  //   kProtocol     the server's bytes are not RESP2, or a reply exceeds the size bound.
  // Every call completes within about `timeout` (plus the connect when one is needed,
  // bounded by the same deadline): the batch's deadline is set when it is queued.
  // The commands are written adjacently, so `ASKING` + command or a MULTI block stays one
  // unit. Not cancellable.
  // REQUIRES: called from a coroutine on the owning thread (else std::logic_error).
  Task<Result<std::vector<Reply>>> execute(std::string commands, std::size_t count);

  // Fails everything pending with kUnavailable, closes the socket and never reconnects.
  // REQUIRES: owning thread.
  void close();

  const Endpoint& endpoint() const { return settings_.endpoint; }
  // True while a recent failure is being backed off from: execute() would fail at once.
  bool backing_off() const;

 private:
  using Handler = boost::asio::any_completion_handler<void(Result<std::vector<Reply>>)>;
  struct Pending {
    std::size_t count = 0;
    std::vector<Reply> replies;
    std::chrono::steady_clock::time_point deadline;
    Handler handler;
  };
  struct Session;
  enum class State { kDown, kConnecting, kHandshaking, kReady, kClosed };

  Connection(Executor executor, Settings settings);
  void enqueue(std::string& commands, std::size_t count, Handler handler);
  void complete(Handler handler, Result<std::vector<Reply>> result);
  void start_session();
  Task<void> run_session(std::shared_ptr<Session> session);
  template <typename Stream>
  Task<void> read_loop(std::shared_ptr<Session> session, Stream& stream);
  void on_reply(Reply reply);
  void become_ready();
  void schedule_flush();
  void flush();
  void start_write(const std::shared_ptr<Session>& session);
  void arm_watchdog();
  void fail(Errc sent_code, std::string reason);

  Executor executor_;
  Settings settings_;
  std::thread::id owner_;
  State state_ = State::kDown;
  std::shared_ptr<Session> session_;
  std::deque<Pending> pending_;
  std::size_t unsent_ = 0;     // trailing entries of pending_ whose bytes are in outbox_
  std::size_t in_flight_ = 0;  // commands in pending_
  std::string outbox_;
  bool writing_ = false;
  bool flush_posted_ = false;
  std::size_t handshake_replies_ = 0;  // AUTH/SELECT replies still expected
  boost::asio::steady_timer watchdog_;
  bool watchdog_armed_ = false;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_;
  std::string down_reason_;
  bool reported_down_ = false;
  unsigned jitter_state_;
};

}  // namespace otpd::store::redis
