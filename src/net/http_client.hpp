// Outbound HTTP/1.1 client for channels and cloud APIs: http:// and https:// (certificates
// verified against the system store), a deadline per request, no redirects followed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
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
  explicit HttpClient(boost::asio::any_io_executor executor);
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
