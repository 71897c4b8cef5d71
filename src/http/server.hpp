// The HTTP/1.1 listener (Boost.Beast): keep-alive, pipelining answered in order, and the
// limits of PRODUCT.md section 2, handing each request to an api::Handler.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "api/handler.hpp"

namespace otpd::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;               // 0 = any free port (see Server::port())
  std::size_t header_limit = 8 * 1024;      // larger -> 431 headers_too_large, then close
  std::size_t body_limit = 16 * 1024;       // larger -> 413 payload_too_large, then close
  std::chrono::seconds header_timeout{10};  // headers not complete in time -> 408, close
  std::chrono::seconds idle_timeout{60};    // keep-alive connection idle -> close
  std::chrono::seconds body_timeout{30};    // body and response write deadline
  std::size_t max_connections = 4096;       // beyond: 503 unavailable, then close
};

class Server {
 public:
  // Binds and listens at once (throws std::system_error on failure to bind); starts
  // accepting on `io` when start() is called. Each connection runs on its own strand, so
  // `io` may be run by several threads. `handler` must outlive every connection: destroy it
  // only once `io` has stopped or run out of work after stop().
  Server(boost::asio::io_context& io, api::Handler& handler, ServerOptions options);
  ~Server();
  void start();
  // Stops accepting; open connections finish the request they are serving (its response
  // says Connection: close), then close. Connections waiting for a request close at once.
  // Safe from any thread; also called by the destructor.
  void stop();
  unsigned short port() const;
  std::size_t open_connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace otpd::http
