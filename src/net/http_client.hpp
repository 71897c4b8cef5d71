// Outbound HTTP/1.1 client for channels and cloud APIs: http:// and https:// (certificates
// verified against the system store), a deadline per request, no redirects followed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace otpd::net {

struct HttpRequest {
  std::string method = "POST";
  std::string url;  // http://host[:port]/path?query or https://...
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};  // the whole exchange, connect included
};

struct HttpResponse {
  int status = 0;  // 0 when no response was received: see error
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string error;  // non-empty on network, TLS, timeout or URL errors
};

class HttpClient {
 public:
  // Keeps at most `max_idle_per_origin` idle connections per scheme+host+port: a request
  // that finds none opens one, and a connection beyond the bound is closed when it is done.
  // Channels send a message now and then; a store's client has as many requests in flight as
  // the server has, and wants about as many connections kept.
  static constexpr std::size_t kDefaultMaxIdlePerOrigin = 4;
  explicit HttpClient(boost::asio::any_io_executor executor,
                      std::size_t max_idle_per_origin = kDefaultMaxIdlePerOrigin);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Never throws for network failures: they come back in HttpResponse::error. Keeps
  // connections alive and reuses them per scheme+host+port when the server allows it; a
  // reused connection found closed before any response byte is retried once on a new one.
  // Safe to call from coroutines on several threads at once; the client must outlive them.
  boost::asio::awaitable<HttpResponse> send(HttpRequest request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otpd::net
