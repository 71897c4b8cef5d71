// Accepting: one acceptor, sockets handed round-robin to the pool's threads, the connection
// cap, a stop that lets requests in flight finish, and shedding when descriptors run out.
#include "http/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <string>
#include <system_error>

#include "api/problem.hpp"
#include "api/request_id.hpp"
#include "http/response_writer.hpp"
#include "obs/log.hpp"

namespace otpd::http::detail {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
// Idle keep-alive connections closed per thread each time accept runs out of descriptors;
// the accept is retried after kShedPause, once the closes have run on their threads.
constexpr std::size_t kShedPerThread = 8;
constexpr std::chrono::milliseconds kShedPause{10};
constexpr std::chrono::milliseconds kAcceptBackoff{50};
constexpr std::chrono::seconds kShedLogInterval{10};

bool out_of_descriptors(const error_code& ec) {
  const int value = ec.value();
  return ec.category() == boost::system::system_category() &&
         (value == EMFILE || value == ENFILE || value == ENOBUFS || value == ENOMEM);
}

// A connection that failed before it was accepted: try the next one at once.
bool transient(const error_code& ec) {
  return ec == asio::error::connection_aborted || ec == asio::error::connection_reset ||
         ec == asio::error::try_again || ec == asio::error::interrupted;
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

}  // namespace

Listener::Listener(IoPool& pool, api::Handler& handler, ServerOptions options)
    : handler_(handler), options_(std::move(options)) {
  loops_.reserve(pool.size());
  for (std::size_t i = 0; i < pool.size(); ++i) {
    loops_.push_back(std::make_unique<Loop>(pool.context(i)));
  }
  Acceptor& acceptor = unstarted_.emplace(pool.context(0).get_executor());
  const tcp::endpoint endpoint(listen_address(pool.context(0), options_.host), options_.port);
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) port_ = acceptor.local_endpoint(ec).port();
  if (ec) {
    throw std::system_error(std::error_code(ec), "cannot listen on " + options_.host + " port " +
                                                     std::to_string(options_.port));
  }
}

void Listener::start() {
  started_ = true;
  auto self = shared_from_this();
  for (auto& loop : loops_) {
    asio::co_spawn(loop->io(), Loop::sweep(self, *loop), asio::detached);
  }
  asio::co_spawn(loops_[0]->io(), accept_loop(self, std::move(*unstarted_)), asio::detached);
  unstarted_.reset();
}

void Listener::stop() {
  if (stopping_.exchange(true)) return;
  if (!started_) {
    unstarted_.reset();
    return;
  }
  auto self = shared_from_this();
  asio::post(loops_[0]->io(), [self] {
    error_code ec;
    if (self->acceptor_) self->acceptor_->close(ec);
  });
  // Connections see stopping() before reading their next request; this wakes those already
  // waiting for one. Each loop is touched only on its own thread.
  for (auto& loop : loops_) {
    asio::post(loop->io(), [self, loop = loop.get()] { loop->close_waiting(); });
  }
}

void Listener::release(bool refused) {
  if (refused) {
    refusing_.fetch_sub(1, std::memory_order_relaxed);
  } else {
    open_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void Listener::shed_idle() {
  auto self = shared_from_this();
  for (auto& loop : loops_) {
    asio::post(loop->io(), [self, loop = loop.get()] { loop->shed_idle(kShedPerThread); });
  }
  const auto now = Clock::now();
  if (now - last_shed_log_ >= kShedLogInterval) {
    last_shed_log_ = now;
    obs::warn("out of file descriptors: closing idle keep-alive connections to accept new ones",
              {{"open_connections", static_cast<long long>(open_connections())}});
  }
}

// Over the cap with kMaxRefusing answers already draining: the 503 goes out with one
// non-blocking send, unread input is discarded, and the socket closes at once. Nothing stays
// allocated, so a flood of connections costs no memory; a client that sends its request only
// after this may see a reset instead of the answer.
void Listener::refuse_at_once(Socket& socket) {
  thread_local std::string wire;
  auto answer =
      api::problem_response(Errc::kUnavailable, "too many open connections", core::Seconds(1));
  answer.set_header(std::string(api::kRequestIdHeader), api::new_request_id());
  write_head(answer, 11, /*keep_alive=*/false, wire);
  wire += answer.body;
  error_code ec;
  socket.non_blocking(true, ec);
  if (!ec) socket.send(asio::buffer(wire), 0, ec);
  if (!ec) socket.shutdown(tcp::socket::shutdown_send, ec);
  char scratch[4096];
  for (int i = 0; !ec && i < 16; ++i) {
    if (socket.receive(asio::buffer(scratch), 0, ec) == 0) break;
  }
  socket.close(ec);
}

asio::awaitable<void> Listener::accept_loop(std::shared_ptr<Listener> self, Acceptor acceptor) {
  self->acceptor_ = &acceptor;
  asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor> pause(
      self->loops_[0]->io());
  while (!self->stopping()) {
    Loop& loop = *self->loops_[self->next_loop_];
    Socket socket(loop.io());
    auto [ec] = co_await acceptor.async_accept(socket, kAsTuple);
    if (self->stopping() || !acceptor.is_open()) break;
    if (ec) {
      if (transient(ec)) continue;
      // Out of descriptors: idle keep-alive connections go first (their clients reconnect
      // when they need to), so the connection waiting in the backlog can be answered.
      if (out_of_descriptors(ec)) self->shed_idle();
      pause.expires_after(out_of_descriptors(ec) ? kShedPause : kAcceptBackoff);
      co_await pause.async_wait(kAsTuple);
      continue;
    }
    self->next_loop_ = (self->next_loop_ + 1) % self->loops_.size();
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // Only this loop adds connections, so the count can only be lower than what it reads.
    if (self->open_.load(std::memory_order_relaxed) >= self->options_.max_connections) {
      if (self->refusing_.load(std::memory_order_relaxed) < kMaxRefusing) {
        self->refusing_.fetch_add(1, std::memory_order_relaxed);
        asio::co_spawn(loop.io(), Connection::refuse(self, loop, std::move(socket)),
                       asio::detached);
      } else {
        self->refuse_at_once(socket);
      }
      continue;
    }
    self->open_.fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(loop.io(), Connection::serve(self, loop, std::move(socket)), asio::detached);
  }
  self->acceptor_ = nullptr;
}

}  // namespace otpd::http::detail
