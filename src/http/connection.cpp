// The keep-alive request loop of one connection: read a request, let the handler answer it,
// write the answer, and again; a sequential loop, so pipelined requests are answered in order.
#include "http/connection.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <string_view>
#include <utility>

#include "api/problem.hpp"
#include "api/request_id.hpp"
#include "http/listener.hpp"
#include "http/loop.hpp"
#include "http/response_writer.hpp"

namespace otpd::http::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 4096;
// Error answers are a few hundred bytes: a client that cannot take them this fast is gone.
constexpr std::chrono::seconds kErrorWriteTimeout{2};
// Before closing, unread request bytes are drained for a while: closing with data unread
// makes the kernel send a reset, which can destroy the answer still in flight.
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// The read buffer's hard bound. The read loop keeps it far lower (unparsed bytes never exceed
// the header limit or a chunk line, plus one read), so this only backs that up.
std::size_t read_buffer_limit(const ServerOptions& options) {
  return options.header_limit + options.body_limit + RequestParser::kChunkLineLimit;
}

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
         ec != bhttp::error::need_more;
}

}  // namespace

Connection::Connection(std::shared_ptr<Listener> listener, Loop& loop, Socket socket, Kind kind)
    : listener_(std::move(listener)),
      socket_(std::move(socket)),
      kind_(kind),
      buffer_(read_buffer_limit(listener_->options())) {
  error_code ec;
  const auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) remote_address_ = endpoint.address().to_string();
  loop.add(*this);
}

Connection::~Connection() {
  error_code ec;
  socket_.close(ec);
  listener_->release(kind_ == Kind::kRefused);
}

asio::awaitable<void> Connection::serve(std::shared_ptr<Listener> listener, Loop& loop,
                                        Socket socket) {
  Connection connection(std::move(listener), loop, std::move(socket), Kind::kServed);
  try {
    co_await connection.run();
  } catch (const std::exception&) {
    // Only allocation failure gets here; dropping the connection is the best answer left.
  }
}

asio::awaitable<void> Connection::refuse(std::shared_ptr<Listener> listener, Loop& loop,
                                         Socket socket) {
  Connection connection(std::move(listener), loop, std::move(socket), Kind::kRefused);
  try {
    auto answer =
        api::problem_response(Errc::kUnavailable, "too many open connections", core::Seconds(1));
    answer.set_header(std::string(api::kRequestIdHeader), api::new_request_id());
    co_await connection.answer_and_close(std::move(answer));
  } catch (const std::exception&) {
  }
}

void Connection::enter(Phase phase, Clock::duration limit) {
  phase_ = phase;
  deadline_ = Clock::now() + limit;
  expired_ = false;
}

void Connection::enter_unlimited(Phase phase) {
  phase_ = phase;
  deadline_ = Clock::time_point::max();
  expired_ = false;
}

void Connection::expire_if_due(Clock::time_point now) {
  if (expired_ || now < deadline_) return;
  expired_ = true;
  error_code ec;
  socket_.cancel(ec);
}

void Connection::close_now() {
  closing_ = true;
  error_code ec;
  socket_.cancel(ec);
}

asio::awaitable<void> Connection::run() {
  const ServerOptions& options = listener_->options();
  // The first request's header deadline runs from the accept.
  enter(Phase::kHeader, options.header_timeout);
  for (bool first = true;; first = false) {
    if (listener_->stopping()) co_return;
    if (!first) {
      if (buffer_.size() == 0) {
        // Between requests the idle limit applies; the header deadline starts with the next
        // request's first byte. A timeout, a stop or the client leaving ends it without a word.
        enter(Phase::kIdle, options.idle_timeout);
        if (co_await read_some()) co_return;
      }
      enter(Phase::kHeader, options.header_timeout);
    }

    parser_.emplace(options.header_limit, options.body_limit, remote_address_);
    if (const error_code ec = co_await read_header()) {
      co_await refuse_request(ec);
      co_return;
    }
    RequestParser& parser = *parser_;
    request_id_.assign(parser.request_id());
    if (!parser.is_done()) {
      enter(Phase::kBody, options.body_timeout);
      if (parser.expects_continue()) {
        auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(kContinue), kAsTuple);
        if (ec) co_return;
      }
      if (const error_code ec = co_await read_body()) {
        co_await refuse_request(ec);
        co_return;
      }
    }

    bool keep_alive = parser.keep_alive();
    const bool head = parser.head();
    const int version = parser.version();
    api::Request request = std::move(parser.request());
    parser_.reset();

    enter_unlimited(Phase::kHandler);
    api::Response response;
    // Handlers promise not to throw; a broken promise costs one 500, not the process.
    try {
      response = co_await listener_->handler().handle(std::move(request));
    } catch (...) {
      response = api::problem_response(Errc::kInternal, "the request could not be processed");
    }
    if (auto connection = response.header("Connection");
        connection && api::iequals(*connection, "close")) {
      keep_alive = false;
    }
    // A stop that came while the handler ran still lets this answer out, marked as the last.
    if (listener_->stopping()) keep_alive = false;
    if (!response.header(api::kRequestIdHeader)) {
      response.set_header(std::string(api::kRequestIdHeader), request_id_);
    }
    write_head(response, version, keep_alive, head_);

    enter(Phase::kWrite, options.body_timeout);
    const std::array<asio::const_buffer, 2> wire{
        asio::buffer(head_), head ? asio::const_buffer() : asio::buffer(response.body)};
    auto [ec, n] = co_await asio::async_write(socket_, wire, kAsTuple);
    if (ec) co_return;
    if (!keep_alive) {
      co_await linger_close();
      co_return;
    }
  }
}

asio::awaitable<error_code> Connection::read_some() {
  const std::size_t room = buffer_.max_size() - buffer_.size();
  if (room == 0) co_return bhttp::error::buffer_overflow;
  auto [ec, n] =
      co_await socket_.async_read_some(buffer_.prepare(std::min(room, kReadChunk)), kAsTuple);
  buffer_.commit(n);
  // The sweep cancels the read, but a read that completed just before is not cancelled:
  // the flags decide either way.
  if (expired_) co_return beast::error::timeout;
  if (closing_) co_return asio::error::operation_aborted;
  if (ec == asio::error::eof) {
    co_return parser_ && parser_->got_some() ? bhttp::error::partial_message
                                             : bhttp::error::end_of_stream;
  }
  co_return ec;
}

asio::awaitable<error_code> Connection::read_header() {
  RequestParser& parser = *parser_;
  const std::size_t limit = listener_->options().header_limit;
  // Beast checks its header limit against the bytes of one put() only, and consumes the
  // request line and complete fields as it goes: fields arriving in pieces would never reach
  // it. So the fields are counted here, however they arrive. (The request line is limited on
  // its own: Beast consumes nothing of it before it is complete, and refuses it past the
  // limit.)
  std::size_t header_bytes = 0;
  for (;;) {
    if (buffer_.size() > 0) {
      error_code ec;
      const std::size_t used = parser.put(buffer_.data(), ec);
      if (ec && ec != bhttp::error::need_more) co_return ec;
      buffer_.consume(used);
      header_bytes += used;
      const std::size_t fields = header_bytes - std::min(header_bytes, parser.request_line_size());
      if (parser.is_header_done()) {
        co_return fields > limit ? error_code(bhttp::error::header_limit) : error_code{};
      }
      if (fields + buffer_.size() >= limit) co_return bhttp::error::header_limit;
    }
    if (const error_code ec = co_await read_some()) co_return ec;
  }
}

asio::awaitable<error_code> Connection::read_body() {
  RequestParser& parser = *parser_;
  parser.eager(true);
  for (;;) {
    if (buffer_.size() > 0) {
      error_code ec;
      const std::size_t used = parser.put(buffer_.data(), ec);
      if (ec && ec != bhttp::error::need_more) co_return ec;
      buffer_.consume(used);
      if (parser.is_done()) co_return error_code{};
      // Body bytes are consumed as they arrive, so what stays unparsed is a chunk-size line
      // or the trailer section, which Beast would otherwise buffer without limit.
      if (buffer_.size() > RequestParser::kChunkLineLimit) {
        co_return make_error_code(FramingErrc::kChunkLineTooLong);
      }
    }
    if (const error_code ec = co_await read_some()) co_return ec;
  }
}

asio::awaitable<void> Connection::refuse_request(error_code ec) {
  const ServerOptions& options = listener_->options();
  std::optional<api::Response> answer;
  if (ec == bhttp::error::header_limit) {
    answer = api::problem_response(
        Errc::kHeadersTooLarge,
        "request headers exceed " + std::to_string(options.header_limit) + " bytes");
  } else if (ec == bhttp::error::body_limit) {
    answer = api::problem_response(
        Errc::kPayloadTooLarge,
        "request body exceeds " + std::to_string(options.body_limit) + " bytes");
  } else if (ec == beast::error::timeout) {
    answer =
        api::problem_response(Errc::kRequestTimeout,
                              phase_ == Phase::kBody ? "the request body was not complete in time"
                                                     : "request headers were not complete in time");
  } else if (ec == FramingErrc::kUnsupportedTransferCoding) {
    answer = api::problem_response(Errc::kNotImplemented,
                                   "only the chunked transfer coding is supported");
  } else if (ec.category() == framing_category()) {
    answer = api::problem_response(Errc::kInvalidRequest, ec.message());
  } else if (is_parse_error(ec)) {
    answer = api::problem_response(Errc::kInvalidRequest, "malformed HTTP request");
  }
  // Anything else (client closed, reset, stop()) ends the connection without a word.
  if (!answer) co_return;
  std::string id = parser_ ? parser_->answer_request_id() : api::new_request_id();
  parser_.reset();
  answer->set_header(std::string(api::kRequestIdHeader), std::move(id));
  co_await answer_and_close(std::move(*answer));
}

asio::awaitable<void> Connection::answer_and_close(api::Response response) {
  write_head(response, 11, /*keep_alive=*/false, head_);
  enter(Phase::kWrite, kErrorWriteTimeout);
  const std::array<asio::const_buffer, 2> wire{asio::buffer(head_), asio::buffer(response.body)};
  auto [ec, n] = co_await asio::async_write(socket_, wire, kAsTuple);
  if (!ec) co_await linger_close();
}

asio::awaitable<void> Connection::linger_close() {
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    enter(Phase::kLinger, kLingerTimeout);
    buffer_.clear();
    for (std::size_t drained = 0; drained < kLingerMaxBytes;) {
      auto [read_ec, n] = co_await socket_.async_read_some(buffer_.prepare(kReadChunk), kAsTuple);
      if (read_ec || expired_ || closing_) break;
      drained += n;
    }
  }
  socket_.close(ec);
}

}  // namespace otpd::http::detail
