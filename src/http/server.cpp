// The HTTP/1.1 listener: one Beast session per connection on its own strand, the limits and
// timeouts of PRODUCT.md section 2, and a stop that lets the requests in flight finish.
#include "http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/problem.hpp"

namespace otpd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
// Error answers are a few hundred bytes: a client that cannot take them this fast is gone.
constexpr std::chrono::seconds kErrorWriteTimeout{2};
// Before closing, unread request bytes are drained for a while: closing with data unread
// makes the kernel send a reset, which can destroy the error response still in flight.
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
constexpr std::size_t kReadChunk = 4096;
// Connections over the cap get a 503 only while few such answers are pending; past that they
// are closed at once, so a connection flood cannot grow memory without bound.
constexpr std::size_t kMaxRejecting = 64;
constexpr std::size_t kMaxRequestIdLength = 128;
constexpr char kRequestIdHeader[] = "X-Request-Id";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

std::string new_request_id() {
  // Request ids only correlate log lines; they need to be unique, not unguessable.
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t bits = engine();
  std::string id(16, '0');
  for (char& c : id) {
    c = kHex[bits & 0xF];
    bits >>= 4;
  }
  return id;
}

// A client's id is echoed only when it is safe in a log line and a header.
bool acceptable_request_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestIdLength &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string request_id_for(const bhttp::fields& fields) {
  const auto it = fields.find(kRequestIdHeader);
  if (it != fields.end() && acceptable_request_id(it->value())) return std::string(it->value());
  return new_request_id();
}

bool is_token(std::string_view name) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

bool is_field_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Framing belongs to the transport: a handler cannot set these.
bool is_framing_field(std::string_view name) {
  return beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding") ||
         beast::iequals(name, "Connection") || beast::iequals(name, "Keep-Alive");
}

bool expects_continue(const Request& message) {
  const auto it = message.find(bhttp::field::expect);
  return message.version() >= 11 && it != message.end() &&
         beast::iequals(it->value(), "100-continue");
}

api::Request to_api(Request& message, const std::string& request_id,
                    const std::string& remote_address) {
  api::Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  // The handler sees exactly one X-Request-Id, the one the response will carry, so its log
  // lines and the client's agree even when the server had to make one up.
  bool has_id = false;
  for (const auto& field : message) {
    std::string name(field.name_string());
    if (beast::iequals(name, kRequestIdHeader)) {
      if (!has_id) request.headers.emplace_back(std::move(name), request_id);
      has_id = true;
      continue;
    }
    request.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  if (!has_id) request.headers.emplace_back(kRequestIdHeader, request_id);
  request.body = std::move(message.body());
  request.remote_address = remote_address;
  return request;
}

Response to_beast(api::Response response, unsigned version, bool keep_alive) {
  // Beast throws on a status it cannot print, and 1xx would confuse the client's framing.
  if (response.status < 200 || response.status > 599) {
    auto replacement = api::problem(500, "internal", "the request could not be processed");
    if (auto id = response.header(kRequestIdHeader)) {
      replacement.set_header(kRequestIdHeader, std::string(*id));
    }
    response = std::move(replacement);
  }
  Response out;
  out.version(version);
  out.result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers) {
    // A CR or LF from a handler would let it forge headers or a second response.
    if (is_token(name) && is_field_value(value) && !is_framing_field(name)) {
      out.insert(name, value);
    }
  }
  if (response.status == 204 || response.status == 304) response.body.clear();
  out.body() = std::move(response.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

asio::awaitable<error_code> write_message(beast::tcp_stream& stream, Response& message,
                                          bool head_only,
                                          std::chrono::steady_clock::duration timeout) {
  stream.expires_after(timeout);
  bhttp::response_serializer<bhttp::string_body> serializer{message};
  if (head_only) {
    auto [ec, n] = co_await bhttp::async_write_header(stream, serializer, kAsTuple);
    co_return ec;
  }
  auto [ec, n] = co_await bhttp::async_write(stream, serializer, kAsTuple);
  co_return ec;
}

asio::awaitable<void> linger_close(beast::tcp_stream& stream) {
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    stream.expires_after(kLingerTimeout);
    std::array<char, kReadChunk> scratch;
    for (std::size_t drained = 0; drained < kLingerMaxBytes;) {
      auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kAsTuple);
      if (read_ec) break;
      drained += n;
    }
  }
  stream.socket().close(ec);
}

asio::ip::address listen_address(asio::io_context& io, std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) return address;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, "", ec);
  if (ec || results.empty()) {
    throw std::system_error(
        ec ? std::error_code(ec) : std::make_error_code(std::errc::invalid_argument),
        "cannot resolve listen host " + host);
  }
  return results.begin()->endpoint().address();
}

class Session;

// Everything a connection needs from the server; shared so it outlives the Server object
// while connections wind down.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& io, api::Handler& handler, ServerOptions options);

  void start();
  void stop();
  unsigned short port() const { return port_; }
  std::size_t open_connections() const { return open_.load(); }
  api::Handler& handler() const { return handler_; }
  const ServerOptions& options() const { return options_; }
  bool stopping() const { return stopping_.load(); }
  // Called once by each session as it is destroyed.
  void forget(std::uint64_t session_id);

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<Listener> self);
  static asio::awaitable<void> reject(std::shared_ptr<Listener> self, tcp::socket socket);

  asio::io_context& io_;
  api::Handler& handler_;
  const ServerOptions options_;
  tcp::acceptor acceptor_;  // on its own strand, so stop() can close it from any thread
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> rejecting_{0};
  std::mutex sessions_mutex_;
  std::uint64_t next_session_id_ = 0;  // guarded by sessions_mutex_
  // Weak, so the registry never keeps a finished connection alive.
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>>
      sessions_;  // guarded by sessions_mutex_
};

// One connection: a sequential read-handle-write loop, which answers pipelined requests in
// order by construction.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Listener> listener, std::uint64_t id, tcp::socket socket);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  static asio::awaitable<void> run(std::shared_ptr<Session> self);
  asio::any_io_executor executor() { return stream_.get_executor(); }
  // Interrupts a connection that is waiting for a request (none in flight) so a stop does
  // not wait for the idle timeout. REQUIRES: called on the session's strand.
  void cancel_if_waiting();

 private:
  using Parser = bhttp::request_parser<bhttp::string_body>;

  asio::awaitable<void> serve();
  asio::awaitable<error_code> read_header(Parser& parser);
  asio::awaitable<void> fail(error_code ec, Parser& parser);
  api::Response call_handler(api::Request request);

  std::shared_ptr<Listener> listener_;
  std::uint64_t id_;
  beast::tcp_stream stream_;
  // One buffer for the connection's life: it holds bytes of a pipelined next request.
  beast::flat_buffer buffer_;
  // The header deadline is a timer of its own rather than the stream's: a stream timeout
  // closes the socket, and a 408 must still be written after it.
  asio::steady_timer header_timer_;
  std::string remote_address_;
  std::uint64_t header_generation_ = 0;
  bool reading_header_ = false;
  bool header_timed_out_ = false;
  bool waiting_ = false;  // no request in flight: reading the next one's header
};

Session::Session(std::shared_ptr<Listener> listener, std::uint64_t id, tcp::socket socket)
    : listener_(std::move(listener)),
      id_(id),
      stream_(std::move(socket)),
      header_timer_(stream_.get_executor()) {
  error_code ec;
  const auto endpoint = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_address_ = endpoint.address().to_string();
}

Session::~Session() { listener_->forget(id_); }

asio::awaitable<void> Session::run(std::shared_ptr<Session> self) {
  try {
    co_await self->serve();
  } catch (const std::exception&) {
    // Only allocation failure gets here; dropping the connection is the best answer left.
  }
  error_code ec;
  self->stream_.socket().close(ec);
}

void Session::cancel_if_waiting() {
  if (waiting_) stream_.cancel();
}

asio::awaitable<void> Session::serve() {
  const ServerOptions& options = listener_->options();
  for (bool first = true;; first = false) {
    if (listener_->stopping()) co_return;
    // A fresh parser per request: reusing one carries the previous message's state over.
    Parser parser;
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(options.header_limit, std::numeric_limits<std::uint32_t>::max())));
    parser.body_limit(options.body_limit);

    waiting_ = true;
    if (!first && buffer_.size() == 0) {
      // Between requests the idle limit applies; the header deadline starts with the next
      // request's first byte.
      stream_.expires_after(options.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), kAsTuple);
      if (ec) co_return;  // idle timeout, client gone, or stop()
      buffer_.commit(n);
    }
    const error_code header_ec = co_await read_header(parser);
    waiting_ = false;
    if (header_ec) {
      co_await fail(header_ec, parser);
      co_return;
    }

    Request& message = parser.get();
    const std::string request_id = request_id_for(message);
    if (!parser.is_done()) {
      stream_.expires_after(options.body_timeout);
      if (expects_continue(message)) {
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kAsTuple);
        if (ec) co_return;
      }
      auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser, kAsTuple);
      if (ec) {
        co_await fail(ec, parser);
        co_return;
      }
    }

    bool keep_alive = message.keep_alive();
    const bool head = message.method() == bhttp::verb::head;
    const unsigned version = message.version();
    api::Response response = call_handler(to_api(message, request_id, remote_address_));
    if (auto connection = response.header("Connection");
        connection && beast::iequals(*connection, "close")) {
      keep_alive = false;
    }
    // A stop that came while the handler ran still lets this answer out, marked as the last.
    if (listener_->stopping()) keep_alive = false;
    if (!response.header(kRequestIdHeader)) response.set_header(kRequestIdHeader, request_id);
    Response out = to_beast(std::move(response), version, keep_alive);
    if (co_await write_message(stream_, out, head, options.body_timeout)) co_return;
    if (!keep_alive) {
      co_await linger_close(stream_);
      co_return;
    }
  }
}

asio::awaitable<error_code> Session::read_header(Parser& parser) {
  const std::uint64_t generation = ++header_generation_;
  header_timed_out_ = false;
  stream_.expires_never();
  header_timer_.expires_after(listener_->options().header_timeout);
  // The generation check drops a timer that fired just as its read completed, so it cannot
  // cancel a later operation.
  header_timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
    if (!ec && generation == self->header_generation_ && self->reading_header_) {
      self->header_timed_out_ = true;
      self->stream_.cancel();
    }
  });
  reading_header_ = true;
  auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer_, parser, kAsTuple);
  reading_header_ = false;
  header_timer_.cancel();
  if (ec == asio::error::operation_aborted && header_timed_out_) co_return beast::error::timeout;
  co_return ec;
}

asio::awaitable<void> Session::fail(error_code ec, Parser& parser) {
  // After a stream timeout the socket is already closed: nobody left to answer.
  if (!stream_.socket().is_open()) co_return;
  const ServerOptions& options = listener_->options();
  std::optional<api::Response> answer;
  if (ec == bhttp::error::header_limit) {
    answer =
        api::problem(431, "headers_too_large",
                     "request headers exceed " + std::to_string(options.header_limit) + " bytes");
  } else if (ec == bhttp::error::body_limit) {
    answer = api::problem(413, "payload_too_large",
                          "request body exceeds " + std::to_string(options.body_limit) + " bytes");
  } else if (ec == beast::error::timeout) {
    answer = api::problem(408, "request_timeout", "request headers were not complete in time");
  } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
             ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    answer = api::problem(400, "invalid_request", "malformed HTTP request");
  }
  // Anything else (client closed, reset, stop()) ends the connection without a word.
  if (!answer) co_return;
  answer->set_header(kRequestIdHeader, request_id_for(parser.get()));
  Response out = to_beast(std::move(*answer), 11, false);
  if (co_await write_message(stream_, out, false, kErrorWriteTimeout)) co_return;
  co_await linger_close(stream_);
}

api::Response Session::call_handler(api::Request request) {
  // Handlers promise not to throw; a broken promise costs one 500, not the process.
  try {
    return listener_->handler().handle(std::move(request));
  } catch (...) {
    return api::problem(500, "internal", "the request could not be processed");
  }
}

Listener::Listener(asio::io_context& io, api::Handler& handler, ServerOptions options)
    : io_(io), handler_(handler), options_(std::move(options)), acceptor_(asio::make_strand(io)) {
  const tcp::endpoint endpoint(listen_address(io, options_.host), options_.port);
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) port_ = acceptor_.local_endpoint(ec).port();
  if (ec) {
    throw std::system_error(std::error_code(ec), "cannot listen on " + options_.host + " port " +
                                                     std::to_string(options_.port));
  }
}

void Listener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(shared_from_this()), asio::detached);
}

void Listener::stop() {
  stopping_.store(true);
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    error_code ec;
    self->acceptor_.close(ec);
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(sessions_mutex_);
    for (const auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  // Sessions see stopping_ before reading their next request; this wakes those already
  // blocked in that read. Posting to each strand keeps the socket single-threaded.
  for (auto& session : live) {
    asio::post(session->executor(), [session] { session->cancel_if_waiting(); });
  }
}

void Listener::forget(std::uint64_t session_id) {
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(session_id);
  }
  open_.fetch_sub(1);
}

asio::awaitable<void> Listener::accept_loop(std::shared_ptr<Listener> self) {
  asio::steady_timer backoff(self->acceptor_.get_executor());
  for (;;) {
    const asio::any_io_executor strand = asio::make_strand(self->io_);
    auto [ec, socket] = co_await self->acceptor_.async_accept(strand, kAsTuple);
    if (self->stopping()) co_return;
    if (ec) {
      if (!self->acceptor_.is_open()) co_return;
      // Out of descriptors, or a connection reset before it was accepted: pause, not spin.
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kAsTuple);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // Only this loop adds connections, so the count can only be lower than what it reads.
    if (self->open_.load() >= self->options_.max_connections) {
      if (self->rejecting_.load() < kMaxRejecting) {
        self->rejecting_.fetch_add(1);
        const auto executor = socket.get_executor();
        asio::co_spawn(executor, reject(self, std::move(socket)), asio::detached);
      }
      continue;
    }
    self->open_.fetch_add(1);
    std::shared_ptr<Session> session;
    {
      std::lock_guard lock(self->sessions_mutex_);
      const std::uint64_t id = self->next_session_id_++;
      session = std::make_shared<Session>(self, id, std::move(socket));
      self->sessions_.emplace(id, session);
    }
    asio::co_spawn(session->executor(), Session::run(session), asio::detached);
  }
}

asio::awaitable<void> Listener::reject(std::shared_ptr<Listener> self, tcp::socket socket) {
  struct Release {
    std::atomic<std::size_t>& counter;
    ~Release() { counter.fetch_sub(1); }
  } release{self->rejecting_};
  beast::tcp_stream stream(std::move(socket));
  auto answer = api::problem(503, "unavailable", "too many open connections", {}, 1);
  answer.set_header(kRequestIdHeader, new_request_id());
  Response out = to_beast(std::move(answer), 11, false);
  if (!co_await write_message(stream, out, false, kErrorWriteTimeout)) {
    co_await linger_close(stream);
  }
}

}  // namespace

struct Server::Impl : Listener {
  using Listener::Listener;
};

Server::Server(boost::asio::io_context& io, api::Handler& handler, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, handler, std::move(options))) {}

Server::~Server() { impl_->stop(); }

void Server::start() { impl_->start(); }

void Server::stop() { impl_->stop(); }

unsigned short Server::port() const { return impl_->port(); }

std::size_t Server::open_connections() const { return impl_->open_connections(); }

}  // namespace otpd::http
