// Outbound HTTP/1.1 over Beast: URL parsing, TLS with peer and host name verification, one
// deadline per request, and a small pool of idle connections per origin.
#include "net/http_client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace otpd::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kUserAgent = "otpd/0.1";
// Servers commonly drop idle connections after 60 s or less; an older one is not worth the
// failed write it would likely cost.
constexpr std::chrono::seconds kMaxIdleAge{30};
constexpr std::uint32_t kResponseHeaderLimit = 64 * 1024;
constexpr std::uint64_t kResponseBodyLimit = 4 * 1024 * 1024;

// Where a URL points, in the forms the exchange needs.
struct Target {
  bool tls = false;
  std::string host;  // for resolving, SNI and certificate checks: no brackets
  bool host_is_ip = false;
  std::string port;
  std::string host_header;  // "host[:port]", brackets around IPv6
  std::string resource;     // path and query
  std::string origin;       // the pool key: scheme://host:port
};

std::optional<Target> parse_target(std::string_view url, std::string& error) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    error = "invalid URL: " + parsed.error().message();
    return std::nullopt;
  }
  const boost::urls::url_view& u = *parsed;
  Target target;
  std::string default_port;
  if (u.scheme_id() == boost::urls::scheme::http) {
    default_port = "80";
  } else if (u.scheme_id() == boost::urls::scheme::https) {
    target.tls = true;
    default_port = "443";
  } else {
    error = "invalid URL: scheme must be http or https";
    return std::nullopt;
  }
  // Credentials in a URL would end up in logs; callers pass an Authorization header instead.
  if (u.has_userinfo()) {
    error = "invalid URL: credentials in the URL are not supported";
    return std::nullopt;
  }
  switch (u.host_type()) {
    case boost::urls::host_type::name:
      target.host = u.host_name();
      break;
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      target.host = u.host_address();
      target.host_is_ip = true;
      break;
    default:
      break;
  }
  if (target.host.empty()) {
    error = "invalid URL: no host";
    return std::nullopt;
  }
  target.port = default_port;
  if (u.has_port() && !u.port().empty()) {
    const std::string_view port = u.port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      error = "invalid URL: bad port";
      return std::nullopt;
    }
    target.port = std::to_string(value);
  }
  const std::string host_literal =
      u.host_type() == boost::urls::host_type::ipv6 ? "[" + target.host + "]" : target.host;
  target.host_header =
      target.port == default_port ? host_literal : host_literal + ":" + target.port;
  target.origin = std::string(u.scheme()) + "://" + host_literal + ":" + target.port;
  target.resource = std::string(u.encoded_target());
  if (target.resource.empty() || target.resource.front() != '/') {
    target.resource.insert(0, "/");
  }
  return target;
}

bool is_token(std::string_view s) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

bool is_field_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The client owns framing and the Host header: a caller's copy would contradict it.
bool is_managed_field(std::string_view name) {
  return beast::iequals(name, "Host") || beast::iequals(name, "Content-Length") ||
         beast::iequals(name, "Transfer-Encoding") || beast::iequals(name, "Connection");
}

using Request = bhttp::request<bhttp::string_body>;

std::optional<Request> build_request(const HttpRequest& request, const Target& target,
                                     std::string& error) {
  if (!is_token(request.method)) {
    error = "invalid request: bad method";
    return std::nullopt;
  }
  Request out;
  out.version(11);
  out.method_string(request.method);
  out.target(target.resource);
  out.set(bhttp::field::host, target.host_header);
  out.set(bhttp::field::user_agent, kUserAgent);
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name) || !is_field_value(value)) {
      error = "invalid request: bad header " + name;
      return std::nullopt;
    }
    if (is_managed_field(name)) continue;
    if (beast::iequals(name, "User-Agent")) {
      out.set(bhttp::field::user_agent, value);
    } else {
      out.insert(name, value);
    }
  }
  out.body() = request.body;
  out.prepare_payload();
  // Beast leaves Content-Length off an empty body for most methods; say it explicitly so
  // the server never waits for a body that is not coming.
  if (!out.has_content_length() && !out.chunked()) out.content_length(out.body().size());
  return out;
}

// One connection, used by one request at a time; its I/O runs on its own strand because the
// stream's timer and its operations must not race.
struct Connection {
  Connection(asio::any_io_executor executor, bool tls, ssl::context& context)
      : strand(asio::make_strand(executor)) {
    if (tls) {
      secure.emplace(strand, context);
    } else {
      plain.emplace(strand);
    }
  }
  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  asio::strand<asio::any_io_executor> strand;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool connected = false;
  Clock::time_point idle_since;
};

struct Outcome {
  HttpResponse response;
  bool reusable = false;  // the connection may go back to the pool
  bool retry = false;     // a reused connection was found closed before any response byte
};

std::string describe(std::string_view what, const error_code& ec, Clock::time_point deadline) {
  if (ec == beast::error::timeout || Clock::now() >= deadline)
    return std::string(what) + ": timeout";
  return std::string(what) + ": " + ec.message();
}

// True when a reused connection failed the way a connection the server had already closed
// does, before any byte of the answer: the request can safely go out again on a new one.
bool closed_by_peer(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::error::not_connected ||
         ec == ssl::error::stream_truncated;
}

// Resolution has no deadline of its own: a timer cancels it. Both share this state so a late
// timer cannot touch a finished coroutine's frame.
struct Resolving {
  explicit Resolving(const asio::any_io_executor& executor) : resolver(executor), timer(executor) {}
  tcp::resolver resolver;
  asio::steady_timer timer;
  bool timed_out = false;
};

asio::awaitable<std::string> connect(Connection& connection, const Target& target,
                                     Clock::time_point deadline) {
  auto resolving = std::make_shared<Resolving>(connection.strand);
  resolving->timer.expires_at(deadline);
  resolving->timer.async_wait([resolving](error_code ec) {
    if (!ec) {
      resolving->timed_out = true;
      resolving->resolver.cancel();
    }
  });
  auto [resolve_ec, endpoints] =
      co_await resolving->resolver.async_resolve(target.host, target.port, kAsTuple);
  resolving->timer.cancel();
  if (resolving->timed_out) co_return "resolve " + target.host + ": timeout";
  if (resolve_ec) co_return describe("resolve " + target.host, resolve_ec, deadline);

  beast::tcp_stream& stream = connection.lowest();
  stream.expires_at(deadline);
  auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, kAsTuple);
  if (connect_ec)
    co_return describe("connect " + target.host + ":" + target.port, connect_ec, deadline);
  error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);

  if (connection.secure) {
    auto& tls = *connection.secure;
    // SNI carries names only (RFC 6066); an IP literal is checked against the certificate
    // all the same.
    if (!target.host_is_ip && !SSL_set_tlsext_host_name(tls.native_handle(), target.host.c_str())) {
      co_return "tls " + target.host + ": cannot set server name";
    }
    tls.set_verify_mode(ssl::verify_peer);
    tls.set_verify_callback(ssl::host_name_verification(target.host));
    auto [handshake_ec] = co_await tls.async_handshake(ssl::stream_base::client, kAsTuple);
    if (handshake_ec) co_return describe("tls " + target.host, handshake_ec, deadline);
  }
  connection.connected = true;
  co_return std::string();
}

template <class Stream>
asio::awaitable<Outcome> round_trip(Stream& stream, Connection& connection, const Request& request,
                                    bool reused) {
  Outcome outcome;
  auto [write_ec, written] = co_await bhttp::async_write(stream, request, kAsTuple);
  if (write_ec) {
    outcome.retry = reused && closed_by_peer(write_ec);
    outcome.response.error = "write: " + write_ec.message();
    co_return outcome;
  }
  for (;;) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kResponseHeaderLimit);
    parser.body_limit(kResponseBodyLimit);
    if (request.method() == bhttp::verb::head) parser.skip(true);
    auto [read_ec, read] = co_await bhttp::async_read(stream, connection.buffer, parser, kAsTuple);
    if (read_ec) {
      outcome.retry =
          reused && !parser.got_some() && connection.buffer.size() == 0 && closed_by_peer(read_ec);
      outcome.response.error = "read: " + read_ec.message();
      co_return outcome;
    }
    auto& message = parser.get();
    // Interim answers (100 Continue and the like) precede the real one.
    if (message.result_int() >= 100 && message.result_int() < 200 &&
        message.result() != bhttp::status::switching_protocols) {
      continue;
    }
    outcome.response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      outcome.response.headers.emplace_back(std::string(field.name_string()),
                                            std::string(field.value()));
    }
    outcome.response.body = std::move(message.body());
    outcome.reusable = message.keep_alive() && !message.need_eof() && message.version() == 11 &&
                       connection.buffer.size() == 0;
    co_return outcome;
  }
}

asio::awaitable<Outcome> exchange(std::shared_ptr<Connection> connection, Target target,
                                  Request request, Clock::time_point deadline, bool reused) {
  if (!connection->connected) {
    std::string error = co_await connect(*connection, target, deadline);
    if (!error.empty()) {
      Outcome outcome;
      outcome.response.error = std::move(error);
      co_return outcome;
    }
  }
  connection->lowest().expires_at(deadline);
  Outcome outcome;
  if (connection->secure) {
    outcome = co_await round_trip(*connection->secure, *connection, request, reused);
  } else {
    outcome = co_await round_trip(*connection->plain, *connection, request, reused);
  }
  if (!outcome.response.error.empty() && Clock::now() >= deadline) {
    outcome.response.error = "timeout";
    outcome.retry = false;
  }
  co_return outcome;
}

}  // namespace

struct HttpClient::Impl {
  Impl(asio::any_io_executor executor, std::size_t max_idle_per_origin)
      : executor(std::move(executor)),
        max_idle_per_origin(max_idle_per_origin),
        tls(ssl::context::tls_client) {
    tls.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  }

  std::shared_ptr<Connection> take_idle(const std::string& origin) {
    std::lock_guard lock(mutex);
    auto it = idle.find(origin);
    if (it == idle.end()) return nullptr;
    auto& connections = it->second;
    const auto now = Clock::now();
    while (!connections.empty()) {
      auto connection = std::move(connections.back());
      connections.pop_back();
      if (now - connection->idle_since < kMaxIdleAge) return connection;
    }
    return nullptr;
  }

  void give_back(const std::string& origin, std::shared_ptr<Connection> connection) {
    connection->idle_since = Clock::now();
    std::lock_guard lock(mutex);
    auto& connections = idle[origin];
    if (connections.size() < max_idle_per_origin) connections.push_back(std::move(connection));
  }

  asio::any_io_executor executor;
  const std::size_t max_idle_per_origin;
  // The TLS context with the system's trust store, loaded on first use: reading the CA
  // bundle was most of otpd's start-up time, and many deployments never make an https call.
  ssl::context& tls_context() {
    std::call_once(trust_loaded, [this] { tls.set_default_verify_paths(); });
    return tls;
  }

  ssl::context tls;  // declared before the pool: its streams must go first
  std::once_flag trust_loaded;
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Connection>>>
      idle;  // guarded by mutex
};

HttpClient::HttpClient(boost::asio::any_io_executor executor, std::size_t max_idle_per_origin)
    : impl_(std::make_unique<Impl>(std::move(executor), max_idle_per_origin)) {}

HttpClient::~HttpClient() = default;

boost::asio::awaitable<HttpResponse> HttpClient::send(HttpRequest request) {
  HttpResponse failed;
  try {
    const auto target = parse_target(request.url, failed.error);
    if (!target) co_return failed;
    auto message = build_request(request, *target, failed.error);
    if (!message) co_return failed;
    const auto deadline = Clock::now() + request.timeout;
    for (int attempt = 0;; ++attempt) {
      // The retry always takes a new connection: the pool may hold more stale ones.
      std::shared_ptr<Connection> connection =
          attempt == 0 ? impl_->take_idle(target->origin) : nullptr;
      const bool reused = connection != nullptr;
      if (!connection)
        connection = std::make_shared<Connection>(impl_->executor, target->tls,
                                                  target->tls ? impl_->tls_context() : impl_->tls);
      const auto executor = connection->strand;
      Outcome outcome = co_await asio::co_spawn(
          executor, exchange(connection, *target, *message, deadline, reused), asio::use_awaitable);
      if (outcome.retry && attempt == 0) continue;
      if (outcome.reusable && outcome.response.error.empty()) {
        impl_->give_back(target->origin, std::move(connection));
      }
      co_return std::move(outcome.response);
    }
  } catch (const std::exception& e) {
    failed.error = std::string("http client: ") + e.what();
  }
  co_return failed;
}

}  // namespace otpd::net
