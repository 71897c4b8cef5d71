// The Runtime API client on Beast: one kept-alive connection, reopened when Lambda (or the
// emulator) closed it, and a bound on the events it reads.
#include "lambda/runtime_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <stdexcept>
#include <utility>

#include "net/url_text.hpp"

namespace otpd::lambda {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kPrefix = "/2018-06-01/runtime/";
// The Runtime API is on the same host: a connect or a post that takes this long is broken.
constexpr std::chrono::seconds kConnectTimeout{2};
constexpr std::chrono::seconds kPostTimeout{10};
// Client context and Cognito identity headers can be a few KiB each.
constexpr std::uint32_t kHeaderLimit = 64 * 1024;

class RuntimeApiCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "lambda-runtime-api"; }
  std::string message(int value) const override {
    switch (static_cast<RuntimeApiErrc>(value)) {
      case RuntimeApiErrc::kUnexpectedStatus:
        return "unexpected status from the Runtime API";
      case RuntimeApiErrc::kMissingRequestId:
        return "invocation without Lambda-Runtime-Aws-Request-Id";
    }
    return "unknown Runtime API error";
  }
};

struct Reply {
  unsigned status = 0;
  bhttp::fields fields;
  std::string body;
  bool oversized = false;
};

std::string field(const bhttp::fields& fields, std::string_view name) {
  const auto it = fields.find(name);
  return it == fields.end() ? std::string() : std::string(it->value());
}

}  // namespace

const boost::system::error_category& runtime_api_category() {
  static const RuntimeApiCategory category;
  return category;
}

error_code make_error_code(RuntimeApiErrc e) {
  return {static_cast<int>(e), runtime_api_category()};
}

struct RuntimeClient::Impl {
  asio::any_io_executor executor;
  std::string host;
  std::string port;
  std::string host_field;
  std::size_t max_event_bytes;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  Task<error_code> connect() {
    stream.emplace(executor);
    stream->expires_after(kConnectTimeout);
    error_code ec;
    // A numeric address needs no resolver (Lambda gives 127.0.0.1:9001): no thread, no NSS.
    const auto address = asio::ip::make_address(host, ec);
    if (!ec) {
      std::uint16_t number = 0;
      std::from_chars(port.data(), port.data() + port.size(), number);
      auto [connect_ec] = co_await stream->async_connect(tcp::endpoint(address, number), kAsTuple);
      ec = connect_ec;
    } else {
      tcp::resolver resolver(executor);
      auto [resolve_ec, results] = co_await resolver.async_resolve(host, port, kAsTuple);
      ec = resolve_ec;
      if (!ec) {
        auto [connect_ec, endpoint] = co_await stream->async_connect(results, kAsTuple);
        ec = connect_ec;
      }
    }
    if (ec) {
      stream.reset();
      co_return ec;
    }
    error_code ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    buffer.clear();
    co_return error_code{};
  }

  void drop() {
    if (!stream) return;
    error_code ignored;
    stream->socket().close(ignored);
    stream.reset();
    buffer.clear();
  }

  // One request and its answer. `timeout` zero: wait as long as it takes (next). A
  // kept-alive connection that fails before any answer is replaced once.
  Task<boost::system::result<Reply>> round_trip(bhttp::request<bhttp::string_body> request,
                                                std::chrono::seconds timeout,
                                                std::size_t body_limit) {
    request.set(bhttp::field::host, host_field);
    request.set(bhttp::field::user_agent, "otpd");
    request.keep_alive(true);
    request.prepare_payload();
    for (int attempt = 0;; ++attempt) {
      const bool reused = stream.has_value();
      if (!stream) {
        if (auto ec = co_await connect()) co_return ec;
      }
      if (timeout.count() > 0) {
        stream->expires_after(timeout);
      } else {
        stream->expires_never();
      }
      auto [write_ec, written] = co_await bhttp::async_write(*stream, request, kAsTuple);
      bhttp::response_parser<bhttp::string_body> parser;
      parser.header_limit(kHeaderLimit);
      // Judged once the header is in: with the limit set, a long Content-Length would stop the
      // parser before it stored the fields that follow it (the request id among them).
      parser.body_limit(boost::none);
      error_code ec = write_ec;
      if (!ec) {
        auto [read_ec, n] = co_await bhttp::async_read_header(*stream, buffer, parser, kAsTuple);
        ec = read_ec;
      }
      if (ec) {
        drop();
        if (reused && attempt == 0) continue;
        co_return ec;
      }
      Reply reply;
      reply.status = parser.get().result_int();
      const auto length = parser.content_length();
      if (length && *length > body_limit) {
        // Reading it only to throw it away would hold the bytes; a new connection is cheaper.
        reply.fields = parser.get().base();
        reply.oversized = true;
        drop();
        co_return reply;
      }
      parser.body_limit(body_limit);
      if (!parser.is_done()) {
        auto [body_ec, n] = co_await bhttp::async_read(*stream, buffer, parser, kAsTuple);
        if (body_ec == bhttp::error::body_limit) {
          reply.fields = parser.get().base();
          reply.oversized = true;
          drop();
          co_return reply;
        }
        if (body_ec) {
          drop();
          co_return body_ec;
        }
      }
      const bool keep = parser.get().keep_alive();
      auto message = parser.release();
      reply.fields = std::move(message.base());
      reply.body = std::move(message.body());
      if (!keep) drop();
      co_return reply;
    }
  }

  Task<boost::system::result<void>> post(std::string target, std::string body,
                                         const std::string* error_type) {
    bhttp::request<bhttp::string_body> request{bhttp::verb::post, target, 11};
    request.set(bhttp::field::content_type, "application/json");
    if (error_type) request.set("Lambda-Runtime-Function-Error-Type", *error_type);
    request.body() = std::move(body);
    // Answers to posts are small JSON documents.
    auto reply = co_await round_trip(std::move(request), kPostTimeout, 64 * 1024);
    if (!reply) co_return reply.error();
    if (reply->status / 100 != 2) co_return make_error_code(RuntimeApiErrc::kUnexpectedStatus);
    co_return boost::system::result<void>{};
  }
};

namespace {

std::string error_document(const RuntimeError& error) {
  boost::json::object doc;
  doc["errorMessage"] = error.message;
  doc["errorType"] = error.type;
  doc["stackTrace"] = boost::json::array();
  return boost::json::serialize(doc);
}

std::string invocation_path(const std::string& request_id, std::string_view what) {
  return std::string(kPrefix) + "invocation/" + net::percent_encode(request_id) + "/" +
         std::string(what);
}

}  // namespace

RuntimeClient::RuntimeClient(asio::any_io_executor executor, std::string endpoint,
                             std::size_t max_event_bytes)
    : impl_(std::make_unique<Impl>()) {
  impl_->executor = std::move(executor);
  impl_->max_event_bytes = max_event_bytes;
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon + 1 == endpoint.size() || colon == 0) {
    throw std::invalid_argument("AWS_LAMBDA_RUNTIME_API must be host:port, got \"" + endpoint +
                                "\"");
  }
  std::string host = endpoint.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  impl_->host = std::move(host);
  impl_->port = endpoint.substr(colon + 1);
  impl_->host_field = std::move(endpoint);
}

RuntimeClient::~RuntimeClient() = default;

Task<boost::system::result<Invocation>> RuntimeClient::next() {
  bhttp::request<bhttp::string_body> request{bhttp::verb::get,
                                             std::string(kPrefix) + "invocation/next", 11};
  auto reply = co_await impl_->round_trip(std::move(request), std::chrono::seconds(0),
                                          impl_->max_event_bytes);
  if (!reply) co_return reply.error();
  if (reply->status / 100 != 2) co_return make_error_code(RuntimeApiErrc::kUnexpectedStatus);
  Invocation invocation;
  invocation.request_id = field(reply->fields, "Lambda-Runtime-Aws-Request-Id");
  if (invocation.request_id.empty()) {
    co_return make_error_code(RuntimeApiErrc::kMissingRequestId);
  }
  const std::string deadline = field(reply->fields, "Lambda-Runtime-Deadline-Ms");
  long long ms = 0;
  const auto [end, ec] = std::from_chars(deadline.data(), deadline.data() + deadline.size(), ms);
  if (!deadline.empty() && ec == std::errc() && end == deadline.data() + deadline.size()) {
    invocation.deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  }
  invocation.trace_id = field(reply->fields, "Lambda-Runtime-Trace-Id");
  invocation.function_arn = field(reply->fields, "Lambda-Runtime-Invoked-Function-Arn");
  invocation.oversized = reply->oversized;
  invocation.event = std::move(reply->body);
  co_return invocation;
}

Task<boost::system::result<void>> RuntimeClient::post_response(const std::string& request_id,
                                                               std::string body) {
  co_return co_await impl_->post(invocation_path(request_id, "response"), std::move(body), nullptr);
}

Task<boost::system::result<void>> RuntimeClient::post_error(const std::string& request_id,
                                                            const RuntimeError& error) {
  co_return co_await impl_->post(invocation_path(request_id, "error"), error_document(error),
                                 &error.type);
}

Task<boost::system::result<void>> RuntimeClient::post_init_error(const RuntimeError& error) {
  co_return co_await impl_->post(std::string(kPrefix) + "init/error", error_document(error),
                                 &error.type);
}

}  // namespace otpd::lambda
