// A loopback HTTP server for channel and client tests: records each request's bytes and answers
// with a canned response, closing the connection. Given a script, it answers its n-th request
// with the n-th response (the last one repeated), or, for an empty script, never answers.
#pragma once

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace otpd::testing_support {

namespace asio = boost::asio;
using asio::ip::tcp;

// Accepts connections on 127.0.0.1, reads one request from each, records its bytes and
// answers with the canned response, closing the connection.
class CannedServer {
 public:
  explicit CannedServer(std::string response)
      : CannedServer(std::vector<std::string>{std::move(response)}) {}
  // An empty script: never answer (read the request, then hold the connection open).
  explicit CannedServer(std::vector<std::string> script)
      : script_(std::move(script)),
        acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CannedServer() {
    io_.stop();
    thread_.join();
  }
  CannedServer(const CannedServer&) = delete;
  CannedServer& operator=(const CannedServer&) = delete;

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }

  static std::size_t content_length(const std::string& head) {
    std::string lower;
    for (char c : head)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    const auto pos = lower.find("\r\ncontent-length:");
    if (pos == std::string::npos) return 0;
    return std::stoul(lower.substr(pos + 17));
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    std::string data;
    char buf[4096];
    for (;;) {
      auto [ec, n] =
          co_await socket.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      data.append(buf, n);
      const auto end = data.find("\r\n\r\n");
      if (end != std::string::npos &&
          data.size() >= end + 4 + content_length(data.substr(0, end + 2))) {
        break;
      }
    }
    std::string response;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(data);
      if (!script_.empty()) response = script_[std::min(requests_.size(), script_.size()) - 1];
    }
    if (script_.empty()) {
      // Silent: hold the connection until the client gives up or the server stops.
      co_await socket.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      co_return;
    }
    co_await asio::async_write(socket, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  }

  const std::vector<std::string> script_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

inline std::string canned(int status, const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " Canned\r\nContent-Length: 2\r\n" + extra_headers +
         "Connection: close\r\n\r\nok";
}

struct Parsed {
  std::string request_line;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

inline Parsed parse_request(const std::string& raw) {
  Parsed p;
  const auto end = raw.find("\r\n\r\n");
  p.body = raw.substr(end + 4);
  std::size_t start = 0;
  bool first = true;
  while (start < end) {
    auto nl = raw.find("\r\n", start);
    const auto line = raw.substr(start, nl - start);
    start = nl + 2;
    if (first) {
      p.request_line = line;
      first = false;
      continue;
    }
    const auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    p.headers[name] = value;
  }
  return p;
}

}  // namespace otpd::testing_support
