// Connection: the socket I/O (Asio, OpenSSL through asio::ssl) around hiredis' reply
// parser. Everything runs on the owning thread, so no member needs a lock.
#include "store/redis/connection.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <stdexcept>
#include <utility>

#include "obs/log.hpp"
#include "store/redis/resp.hpp"

namespace otpd::store::redis {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kInitialBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};
constexpr std::size_t kReadChunk = 16 * 1024;

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

// One TCP (+ TLS) connection's lifetime. Replaced as a whole on reconnect, so completions
// of a closed session's operations touch only that session, never its successor's buffers.
struct Connection::Session {
  Session(Executor executor, std::size_t max_reply_bytes)
      : socket(executor), resolver(executor), reader(max_reply_bytes) {}

  void close() {
    closed = true;
    resolver.cancel();
    error_code ignored;
    socket.close(ignored);
  }

  tcp::socket socket;
  std::optional<ssl::stream<tcp::socket&>> tls;  // after `socket`, so destroyed before it
  tcp::resolver resolver;
  ReplyReader reader;
  std::string writing;  // bytes handed to async_write, untouched until it completes
  std::array<char, kReadChunk> input;
  bool closed = false;
};

std::shared_ptr<Connection> Connection::create(Executor executor, Settings settings) {
  return std::shared_ptr<Connection>(new Connection(executor, std::move(settings)));
}

Connection::Connection(Executor executor, Settings settings)
    : executor_(executor),
      settings_(std::move(settings)),
      owner_(std::this_thread::get_id()),
      watchdog_(executor),
      backoff_(kInitialBackoff),
      jitter_state_(static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(this) >> 4)) {}

Connection::~Connection() {
  if (session_) session_->close();
}

bool Connection::backing_off() const { return state_ == State::kDown && Clock::now() < retry_at_; }

Task<Result<std::vector<Reply>>> Connection::execute(std::string commands, std::size_t count) {
  if (std::this_thread::get_id() != owner_) {
    throw std::logic_error("redis::Connection used from a thread other than its own");
  }
  if (state_ == State::kClosed) co_return Error{Errc::kUnavailable, "redis client closed"};
  if (count == 0) co_return std::vector<Reply>();
  if (in_flight_ + count > settings_.max_in_flight) {
    co_return Error{Errc::kUnavailable, settings_.endpoint.to_string() + ": " +
                                            std::to_string(settings_.max_in_flight) +
                                            " requests already in flight"};
  }
  if (state_ == State::kDown) {
    if (Clock::now() < retry_at_) co_return Error{Errc::kUnavailable, down_reason_};
    start_session();
  }
  auto self = shared_from_this();
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                          void(Result<std::vector<Reply>>)>(
      [this, &commands, count](auto handler) {
        enqueue(commands, count, Handler(std::move(handler)));
      },
      asio::use_awaitable);
}

void Connection::enqueue(std::string& commands, std::size_t count, Handler handler) {
  outbox_ += commands;
  pending_.push_back(Pending{count, {}, Clock::now() + settings_.timeout, std::move(handler)});
  pending_.back().replies.reserve(count);
  ++unsent_;
  in_flight_ += count;
  arm_watchdog();
  if (state_ == State::kReady) schedule_flush();
}

void Connection::complete(Handler handler, Result<std::vector<Reply>> result) {
  // Resumed through the executor, never inline: the reader is in the middle of a loop.
  // post() hands the handler on to its own executor (the caller's strand, if any).
  asio::post(executor_, asio::append(std::move(handler), std::move(result)));
}

void Connection::start_session() {
  state_ = State::kConnecting;
  session_ = std::make_shared<Session>(executor_, settings_.max_reply_bytes);
  asio::co_spawn(executor_, run_session(session_), asio::detached);
}

Task<void> Connection::run_session(std::shared_ptr<Session> s) {
  auto self = shared_from_this();
  const auto& endpoint = settings_.endpoint;

  std::vector<tcp::endpoint> targets;
  error_code ec;
  const auto address = asio::ip::make_address(endpoint.host, ec);
  if (!ec) {
    targets.emplace_back(address, endpoint.port);
  } else {
    auto [resolve_ec, results] =
        co_await s->resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), kAsTuple);
    if (s->closed) co_return;
    if (resolve_ec) co_return fail(Errc::kUnavailable, "resolve: " + resolve_ec.message());
    for (const auto& entry : results) targets.push_back(entry.endpoint());
  }

  auto [connect_ec, connected] = co_await asio::async_connect(s->socket, targets, kAsTuple);
  if (s->closed) co_return;
  if (connect_ec) co_return fail(Errc::kUnavailable, "connect: " + connect_ec.message());
  s->socket.set_option(tcp::no_delay(true), ec);

  if (settings_.tls) {
    auto& tls = s->tls.emplace(s->socket, *settings_.tls);
    // SNI carries names only (RFC 6066); an IP host is checked against the IP SANs.
    if (address.is_unspecified() &&
        !SSL_set_tlsext_host_name(tls.native_handle(), endpoint.host.c_str())) {
      co_return fail(Errc::kUnavailable, "TLS: cannot set the server name");
    }
    tls.set_verify_mode(ssl::verify_peer);
    tls.set_verify_callback(ssl::host_name_verification(endpoint.host));
    auto [handshake_ec] = co_await tls.async_handshake(ssl::stream_base::client, kAsTuple);
    if (s->closed) co_return;
    if (handshake_ec) co_return fail(Errc::kUnavailable, "TLS: " + handshake_ec.message());
  }

  // AUTH and SELECT are answered before any request is written: a request pipelined
  // behind a refused SELECT would run on database 0.
  std::string hello;
  handshake_replies_ = 0;
  if (!settings_.password.empty()) {
    if (settings_.user.empty()) {
      append_command(hello, {"AUTH", settings_.password});
    } else {
      append_command(hello, {"AUTH", settings_.user, settings_.password});
    }
    ++handshake_replies_;
  }
  if (settings_.db != 0) {
    append_command(hello, {"SELECT", std::to_string(settings_.db)});
    ++handshake_replies_;
  }
  if (handshake_replies_ > 0) {
    state_ = State::kHandshaking;
    s->writing = std::move(hello);
    start_write(s);
  } else {
    become_ready();
  }

  if (s->tls) {
    co_await read_loop(s, *s->tls);
  } else {
    co_await read_loop(s, s->socket);
  }
}

template <typename Stream>
Task<void> Connection::read_loop(std::shared_ptr<Session> s, Stream& stream) {
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(s->input), kAsTuple);
    if (s->closed) co_return;
    if (ec) {
      co_return fail(Errc::kTimeout, ec == asio::error::eof ? "connection closed by the server"
                                                            : "read: " + ec.message());
    }
    if (auto fed = s->reader.feed(s->input.data(), n); !fed) {
      co_return fail(Errc::kProtocol, fed.error().message);
    }
    for (;;) {
      auto next = s->reader.next();
      if (!next) co_return fail(Errc::kProtocol, next.error().message);
      if (!*next) break;
      on_reply(std::move(**next));
      if (s->closed) co_return;
    }
  }
}

void Connection::on_reply(Reply reply) {
  if (handshake_replies_ > 0) {
    if (reply.is_error()) {
      // The server's text (e.g. "WRONGPASS invalid username-password pair") names no
      // secret; a wrong password is a configuration error worth reading in the log.
      return fail(Errc::kUnavailable, "AUTH/SELECT refused: " + reply.str());
    }
    if (--handshake_replies_ == 0) become_ready();
    return;
  }
  if (pending_.size() == unsent_) return fail(Errc::kProtocol, "a reply to no request");
  // Only an answer proves the node works again: a frozen server still accepts connections.
  backoff_ = kInitialBackoff;
  if (reported_down_) {
    reported_down_ = false;
    obs::info("redis connection restored", {{"node", settings_.endpoint.to_string()}});
  }
  auto& front = pending_.front();
  front.replies.push_back(std::move(reply));
  if (front.replies.size() < front.count) return;
  Pending done = std::move(front);
  pending_.pop_front();
  in_flight_ -= done.count;
  complete(std::move(done.handler), std::move(done.replies));
}

void Connection::become_ready() {
  state_ = State::kReady;
  flush();
}

void Connection::schedule_flush() {
  // Deferred, so that every request queued by coroutines run in the same turn of the
  // event loop goes out in one write.
  if (flush_posted_ || writing_) return;
  flush_posted_ = true;
  asio::post(executor_, [this, self = shared_from_this()] {
    flush_posted_ = false;
    flush();
  });
}

void Connection::flush() {
  if (state_ != State::kReady || writing_ || outbox_.empty()) return;
  session_->writing.clear();
  session_->writing.swap(outbox_);
  unsent_ = 0;
  start_write(session_);
}

void Connection::start_write(const std::shared_ptr<Session>& s) {
  writing_ = true;
  auto done = [this, self = shared_from_this(), s](error_code ec, std::size_t) {
    if (s != session_) return;  // a closed session's write: its requests were failed
    writing_ = false;
    if (ec) return fail(Errc::kTimeout, "write: " + ec.message());
    flush();
  };
  if (s->tls) {
    asio::async_write(*s->tls, asio::buffer(s->writing), std::move(done));
  } else {
    asio::async_write(s->socket, asio::buffer(s->writing), std::move(done));
  }
}

void Connection::arm_watchdog() {
  // Requests are queued in deadline order, so the oldest one's deadline is the only one
  // to watch: one timer per connection rather than one per request.
  if (watchdog_armed_ || pending_.empty()) return;
  watchdog_armed_ = true;
  watchdog_.expires_at(pending_.front().deadline);
  watchdog_.async_wait([this, self = shared_from_this()](error_code) {
    watchdog_armed_ = false;
    if (pending_.empty()) return;
    if (pending_.front().deadline > Clock::now()) return arm_watchdog();
    const bool connected = state_ == State::kReady && pending_.size() > unsent_;
    fail(Errc::kTimeout,
         (connected ? "no reply within " : "not connected within ") + ms(settings_.timeout));
  });
}

void Connection::fail(Errc sent_code, std::string reason) {
  if (session_) {
    session_->close();
    session_.reset();
  }
  writing_ = false;
  outbox_.clear();
  handshake_replies_ = 0;
  down_reason_ = settings_.endpoint.to_string() + ": " + reason;
  // A server closing an idle connection (its `timeout` setting, a proxy's idle limit) is
  // no failure: the next request reconnects at once, with no backoff and no log line.
  const bool idle_close = state_ == State::kReady && pending_.empty();
  if (idle_close) {
    state_ = State::kDown;
    retry_at_ = {};
  } else if (state_ != State::kClosed) {
    state_ = State::kDown;
    // Jitter spreads the reconnects of many threads and instances after one outage.
    jitter_state_ = jitter_state_ * 1103515245u + 12345u;
    const auto jitter = backoff_ * static_cast<int>((jitter_state_ >> 16) % 41) / 100;
    retry_at_ = Clock::now() + backoff_ - backoff_ / 5 + jitter;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    if (!reported_down_) {
      reported_down_ = true;
      obs::warn("redis connection failed", {{"node", settings_.endpoint.to_string()},
                                            {"reason", reason},
                                            {"pending", static_cast<long long>(in_flight_)}});
    }
  }
  auto failed = std::move(pending_);
  pending_.clear();
  const std::size_t sent = failed.size() - unsent_;
  unsent_ = 0;
  in_flight_ = 0;
  for (std::size_t i = 0; i < failed.size(); ++i) {
    complete(std::move(failed[i].handler),
             Error{i < sent ? sent_code : Errc::kUnavailable, down_reason_});
  }
}

void Connection::close() {
  state_ = State::kClosed;
  watchdog_.cancel();
  fail(Errc::kUnavailable, "redis client closed");
}

}  // namespace otpd::store::redis
