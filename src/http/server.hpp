// The HTTP/1.1 listener: keep-alive, pipelining answered in order, and the limits of
// otpd's HTTP API, handing each request to an api::Handler on the I/O thread that owns the
// connection.
//
// Threading model: the server runs on an IoPool (one io_context per thread). One acceptor,
// on the pool's first context, hands each accepted socket round-robin to a context, and the
// connection stays on that context (that thread) for its whole life: no strand, no lock on the
// request path, and the handler's task runs there too.
//
// Why one acceptor and not one SO_REUSEPORT socket per thread (both were measured, wrk
// -t2 -c128 on 2 cores): with keep-alive clients the two cost the same CPU per request
// (accepting is off that path); with a new connection per request, SO_REUSEPORT saved about
// 2 us of ~42 us per connection (the hand-over to another thread). That does not pay for what
// it gives up: round-robin spreads connections evenly where the kernel's hash may not; with
// SO_REUSEPORT a second process of the same user could bind the same port and silently take a
// share of the connections, and a port already in use would no longer fail the start.
//
// Deadlines: no timer per read. Each thread sweeps its connections every `sweep_interval` and
// cancels those past their deadline (see http/loop.hpp), so a limit holds to within one
// interval.
//
// Bounds, per connection unless said:
//   request line, and header fields       header_limit each (8 KiB)     else 431, close
//   body (Content-Length or chunks)       body_limit (16 KiB)           else 413, close
//   chunk-size line with extensions;      4 KiB each                    else 400, close
//     the trailer section
//   read buffer                           header_limit + body_limit + 4 KiB, though only
//                                         unparsed bytes stay in it (part of a line or header,
//                                         plus one 4 KiB read)
//   open connections, per server          max_connections               else 503, close
//   503 answers draining input at once    64 (Listener::kMaxRefusing)   else sent at once
//   descriptors                           see http/descriptor_limit.hpp
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "api/handler.hpp"
#include "http/io_pool.hpp"

namespace otpd::http {

namespace detail {
class Listener;
}

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;               // 0 = any free port (see Server::port())
  std::size_t header_limit = 8 * 1024;      // larger -> 431 headers_too_large, then close
  std::size_t body_limit = 16 * 1024;       // larger -> 413 payload_too_large, then close
  std::chrono::seconds header_timeout{10};  // headers not complete in time -> 408, close
  std::chrono::seconds idle_timeout{60};    // keep-alive connection idle -> close
  std::chrono::seconds body_timeout{30};    // body not complete -> 408; response write deadline
  std::size_t max_connections = 4096;       // beyond: 503 unavailable, then close
  // How often each thread checks its connections' deadlines: the precision of the timeouts.
  std::chrono::milliseconds sweep_interval{500};
};

class Server {
 public:
  // Binds and listens at once (throws std::system_error on failure to bind); starts
  // accepting when start() is called. `handler` and `pool` must outlive the Server, and
  // `handler` every connection too: destroy it only after the pool has stopped.
  Server(IoPool& pool, api::Handler& handler, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  // Stops accepting; open connections finish the request they are serving (its response
  // says Connection: close), then close. Connections waiting for a request close at once.
  // Safe from any thread once start() has returned; also called by the destructor.
  void stop();
  unsigned short port() const;
  std::size_t open_connections() const;

 private:
  std::shared_ptr<detail::Listener> impl_;
};

}  // namespace otpd::http
