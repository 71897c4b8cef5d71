// A loopback HTTP server that answers its n-th request with the n-th response of a script (the
// last one repeated), or never answers at all: the DynamoDB client's retries, deadlines and
// error mapping are driven through it.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../support/canned_http_server.hpp"

namespace otpd::aws::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

// A DynamoDB-style answer: JSON 1.0 body, closed connection.
inline std::string dynamo_answer(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

inline std::string dynamo_error(int status, const std::string& type,
                                const std::string& extra_members = "") {
  return dynamo_answer(status, R"({"__type":"com.amazonaws.dynamodb.v20120810#)" + type +
                                   R"(","message":"secret item text 123456")" + extra_members +
                                   "}");
}

class ScriptedServer {
 public:
  // An empty script: never answer (read the request, then hold the connection open).
  explicit ScriptedServer(std::vector<std::string> script)
      : script_(std::move(script)),
        acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ScriptedServer() {
    io_.stop();
    thread_.join();
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::vector<testing_support::Parsed> requests() {
    std::lock_guard lock(mu_);
    std::vector<testing_support::Parsed> out;
    for (const auto& raw : requests_) out.push_back(testing_support::parse_request(raw));
    return out;
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
    for (char c : head) {
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    const auto pos = lower.find("\r\ncontent-length:");
    return pos == std::string::npos ? 0 : std::stoul(lower.substr(pos + 17));
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
    if (response.empty()) {
      // Silent: hold the connection until the client gives up or the server stops.
      co_await socket.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      co_return;
    }
    co_await asio::async_write(socket, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  }

  std::vector<std::string> script_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

}  // namespace otpd::aws::testing
