// The HTTP listener over real sockets: keep-alive, pipelining, limits, timeouts, the
// connection cap and a graceful stop, driven with raw bytes from blocking POSIX sockets.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

namespace otpd::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct RawResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (api::iequals(key, name)) return value;
    }
    return std::nullopt;
  }
  std::string problem_code() const {
    return std::string(boost::json::parse(body).as_object().at("code").as_string());
  }
};

// A blocking client speaking raw bytes, so tests can send what no HTTP library would.
class RawClient {
 public:
  explicit RawClient(unsigned short port, const std::string& host = "127.0.0.1") {
    sockaddr_storage address{};
    socklen_t length = 0;
    if (host.find(':') != std::string::npos) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(port);
      inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr);
      length = sizeof(sockaddr_in6);
    } else {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      v4->sin_family = AF_INET;
      v4->sin_port = htons(port);
      inet_pton(AF_INET, host.c_str(), &v4->sin_addr);
      length = sizeof(sockaddr_in);
    }
    fd_ = ::socket(address.ss_family, SOCK_STREAM, 0);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // The next response, or nothing if the connection closed or the time ran out first.
  // A response to HEAD announces a length but carries no body: say so with `head_only`.
  std::optional<RawResponse> read_response(std::chrono::milliseconds timeout = 5s,
                                           bool head_only = false) {
    const auto deadline = Clock::now() + timeout;
    std::size_t end = 0;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    RawResponse response;
    const std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    response.status = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
    std::size_t content_length = 0;
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const std::size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      response.headers.emplace_back(line.substr(0, colon), value);
      if (!head_only && api::iequals(line.substr(0, colon), "Content-Length")) {
        content_length = std::stoul(value);
      }
    }
    while (buffer_.size() < content_length) {
      if (!fill(deadline)) return std::nullopt;
    }
    response.body = buffer_.substr(0, content_length);
    buffer_.erase(0, content_length);
    return response;
  }

  // True once the server has closed the connection (end of stream or reset).
  bool wait_closed(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 1))) <= 0) continue;
      char scratch[4096];
      const ssize_t n = ::recv(fd_, scratch, sizeof scratch, 0);
      if (n <= 0) return true;
      buffer_.append(scratch, static_cast<std::size_t>(n));
    }
    return false;
  }

 private:
  bool fill(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char scratch[4096];
    const ssize_t n = ::recv(fd_, scratch, sizeof scratch, 0);
    if (n <= 0) return false;
    buffer_.append(scratch, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
};

// Echoes what it was given; "/slow" blocks until the test lets it go.
class FakeHandler : public api::Handler {
 public:
  Task<api::Response> handle(api::Request request) override {
    calls_.fetch_add(1);
    if (request.target == "/slow") {
      slow_entered_.release();
      slow_release_.acquire();
    }
    api::Response response;
    if (request.target == "/bad-status") {
      response.status = 42;
      co_return response;
    }
    response.set_header("Content-Type", "text/plain");
    response.set_header("X-Seen-Request-Id",
                        std::string(request.header("X-Request-Id").value_or("")));
    response.set_header("X-Seen-Remote", request.remote_address);
    response.body = request.method + " " + request.target + " " + request.body;
    co_return response;
  }

  std::atomic<int> calls_{0};
  std::binary_semaphore slow_entered_{0};
  std::binary_semaphore slow_release_{0};
};

std::string get(std::string_view target, std::string_view extra = "") {
  return std::string("GET ") + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" +
         std::string(extra) + "\r\n";
}

std::string post(std::string_view target, std::string_view body) {
  return std::string("POST ") + std::string(target) +
         " HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

bool is_hex_id(const std::string& id) {
  return id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return predicate();
}

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<Server>(pool_, handler_, options);
    server_->start();
    pool_.start();
  }

  void TearDown() override {
    if (server_) server_->stop();
    handler_.slow_release_.release();
    pool_.stop();
    pool_.join();
  }

  unsigned short port() const { return server_->port(); }

  FakeHandler handler_;
  // Two threads, so a handler blocked in one does not stall the connections of the other
  // (connections are handed to the threads in turn).
  IoPool pool_{2};
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(get("/first")));
  auto first = client.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "GET /first ");
  EXPECT_EQ(first->header("Connection"), std::nullopt);
  EXPECT_EQ(first->header("X-Seen-Remote"), "127.0.0.1");

  ASSERT_TRUE(client.send(post("/second", "hello")));
  auto second = client.read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "POST /second hello");
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send(get("/one") + post("/two", "2") + get("/three")));
  for (const char* expected : {"GET /one ", "POST /two 2", "GET /three "}) {
    auto response = client.read_response();
    ASSERT_TRUE(response) << expected;
    EXPECT_EQ(response->body, expected);
  }
}

TEST_F(ServerTest, HeadGetsTheLengthButNoBody) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send("HEAD /h HTTP/1.1\r\nHost: test\r\n\r\n" + get("/after")));
  auto head = client.read_response(5s, /*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Length"), std::to_string(std::string("HEAD /h ").size()));
  // Had a body been sent, it would be read here as the next response's start.
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "GET /after ");
}

TEST_F(ServerTest, ServesManyClientsAtOnce) {
  start();
  constexpr int kClients = 8;
  constexpr int kRequests = 25;
  std::atomic<int> served{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      RawClient client(port());
      for (int r = 0; r < kRequests; ++r) {
        const std::string body = std::to_string(c) + "-" + std::to_string(r);
        if (!client.send(post("/many", body))) return;
        auto response = client.read_response();
        if (response && response->body == "POST /many " + body) served.fetch_add(1);
      }
    });
  }
  for (auto& thread : clients) thread.join();
  EXPECT_EQ(served.load(), kClients * kRequests);
}

TEST_F(ServerTest, Http10WithoutKeepAliveClosesAfterTheResponse) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send(get("/x", "Connection: close\r\n")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->header("Connection"), "close");
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(ServerTest, OversizedHeaderGets431AndClose) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send(get("/", "X-Padding: " + std::string(9000, 'a') + "\r\n")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(response->header("Content-Type"), "application/problem+json");
  EXPECT_EQ(response->problem_code(), "headers_too_large");
  EXPECT_EQ(response->header("Connection"), "close");
  EXPECT_TRUE(is_hex_id(response->header("X-Request-Id").value_or("")));
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(handler_.calls_.load(), 0);
}

TEST_F(ServerTest, OversizedChunkedBodyGets413) {
  start();
  RawClient client(port());
  const std::string body(20000, 'b');
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  ASSERT_TRUE(
      client.send("POST /big HTTP/1.1\r\nHost: test\r\nX-Request-Id: big-1\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n" +
                  std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->problem_code(), "payload_too_large");
  EXPECT_EQ(response->header("X-Request-Id"), "big-1");
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(handler_.calls_.load(), 0);
}

TEST_F(ServerTest, OversizedBodySentWithContentLengthGets413) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send(post("/big", std::string(17 * 1024, 'b'))));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->problem_code(), "payload_too_large");
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(ServerTest, AnnouncedOversizedBodyGets413BeforeItIsSent) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send("POST /big HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n"));
  auto response = client.read_response(3s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->problem_code(), "payload_too_large");
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(ServerTest, BodyAtTheLimitIsAccepted) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send(post("/exact", std::string(16 * 1024, 'c'))));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST_F(ServerTest, MalformedRequestGets400) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send("THIS IS NOT HTTP\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_EQ(response->problem_code(), "invalid_request");
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimResponse) {
  start();
  RawClient client(port());
  ASSERT_TRUE(
      client.send("POST /c HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\n"
                  "Content-Length: 3\r\n\r\n"));
  auto interim = client.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.send("abc"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "POST /c abc");
}

TEST_F(ServerTest, RequestIdIsEchoedOrGenerated) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send(get("/a", "X-Request-Id: client-id-42\r\n")));
  auto echoed = client.read_response();
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->header("X-Request-Id"), "client-id-42");
  EXPECT_EQ(echoed->header("X-Seen-Request-Id"), "client-id-42");

  ASSERT_TRUE(client.send(get("/b")));
  auto generated = client.read_response();
  ASSERT_TRUE(generated);
  const std::string id = generated->header("X-Request-Id").value_or("");
  EXPECT_TRUE(is_hex_id(id)) << id;
  // The handler saw the same id the client got, so their logs can be joined.
  EXPECT_EQ(generated->header("X-Seen-Request-Id"), id);

  // An id unfit for a log line is replaced, not echoed.
  ASSERT_TRUE(client.send(get("/c", "X-Request-Id: " + std::string(300, 'x') + "\r\n")));
  auto replaced = client.read_response();
  ASSERT_TRUE(replaced);
  EXPECT_TRUE(is_hex_id(replaced->header("X-Request-Id").value_or("")));
}

TEST_F(ServerTest, InvalidStatusFromHandlerBecomes500) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send(get("/bad-status")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_TRUE(response->header("X-Request-Id"));
}

TEST_F(ServerTest, ConnectionsOverTheCapGet503) {
  ServerOptions options;
  options.max_connections = 2;
  start(options);
  RawClient first(port());
  RawClient second(port());
  ASSERT_TRUE(eventually([&] { return server_->open_connections() == 2; }));

  RawClient third(port());
  ASSERT_TRUE(third.connected());
  auto rejected = third.read_response();
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 503);
  EXPECT_EQ(rejected->problem_code(), "unavailable");
  EXPECT_EQ(rejected->header("Retry-After"), "1");
  EXPECT_EQ(rejected->header("Connection"), "close");
  EXPECT_TRUE(third.wait_closed());

  // The open ones still work, and a freed slot is available again.
  ASSERT_TRUE(first.send(get("/still-here")));
  auto served = first.read_response();
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
}

TEST_F(ServerTest, FreedSlotIsReusedAfterTheCap) {
  ServerOptions options;
  options.max_connections = 1;
  start(options);
  {
    RawClient first(port());
    ASSERT_TRUE(eventually([&] { return server_->open_connections() == 1; }));
  }
  ASSERT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
  RawClient next(port());
  ASSERT_TRUE(next.send(get("/next")));
  auto response = next.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

TEST_F(ServerTest, IncompleteHeaderTimesOut) {
  ServerOptions options;
  options.header_timeout = 1s;
  start(options);
  RawClient client(port());
  const auto began = Clock::now();
  ASSERT_TRUE(client.send("GET /slowloris HTTP/1.1\r\nHost: test\r\n"));
  // The API reference allows a bare close; this server sends a 408 first.
  auto response = client.read_response(6s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 408);
  EXPECT_EQ(response->problem_code(), "request_timeout");
  EXPECT_EQ(response->header("Connection"), "close");
  EXPECT_TRUE(client.wait_closed(6s));
  const auto elapsed = Clock::now() - began;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(handler_.calls_.load(), 0);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions options;
  options.idle_timeout = 1s;
  start(options);
  RawClient client(port());
  ASSERT_TRUE(client.send(get("/once")));
  ASSERT_TRUE(client.read_response());
  const auto began = Clock::now();
  EXPECT_TRUE(client.wait_closed(6s));
  EXPECT_LT(Clock::now() - began, 5s);
}

TEST_F(ServerTest, StopLetsTheRequestInFlightFinish) {
  start();
  RawClient busy(port());
  RawClient idle(port());
  ASSERT_TRUE(idle.send(get("/warm-up")));
  ASSERT_TRUE(idle.read_response());
  ASSERT_TRUE(busy.send(get("/slow")));
  ASSERT_TRUE(handler_.slow_entered_.try_acquire_for(5s));

  server_->stop();
  // The idle connection is let go at once, not after the idle timeout.
  EXPECT_TRUE(idle.wait_closed(3s));
  handler_.slow_release_.release();
  auto response = busy.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "GET /slow ");
  EXPECT_EQ(response->header("Connection"), "close");
  EXPECT_TRUE(busy.wait_closed());
  EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
  // And nothing new is accepted.
  EXPECT_TRUE(eventually([&] {
    RawClient late(port());
    return !late.connected() || late.wait_closed(1s);
  }));
}

TEST_F(ServerTest, ListensOnIpv6) {
  ServerOptions options;
  options.host = "::1";
  try {
    start(options);
  } catch (const std::system_error&) {
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  RawClient client(port(), "::1");
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(get("/v6")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("X-Seen-Remote"), "::1");
}

TEST_F(ServerTest, IncompleteBodyTimesOutWith408) {
  ServerOptions options;
  options.body_timeout = 1s;
  start(options);
  RawClient client(port());
  ASSERT_TRUE(client.send("POST /b HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc"));
  auto response = client.read_response(6s);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 408);
  EXPECT_EQ(response->problem_code(), "request_timeout");
  EXPECT_EQ(response->header("Connection"), "close");
  EXPECT_TRUE(client.wait_closed(6s));
  EXPECT_EQ(handler_.calls_.load(), 0);
}

TEST_F(ServerTest, HeaderArrivingInPiecesIsLimitedAsAWhole) {
  // Many small fields, more than the server reads at once: Beast's own limit sees only the
  // bytes of one parse call, so this header once got through.
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send("GET /pieces HTTP/1.1\r\nHost: test\r\n"));
  for (int i = 0; i < 100; ++i) {
    if (!client.send("X-H" + std::to_string(i) + ": " + std::string(90, 'b') + "\r\n")) break;
  }
  client.send("\r\n");
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(response->problem_code(), "headers_too_large");
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(handler_.calls_.load(), 0);
}

std::string chunked_post(std::string_view target) {
  return std::string("POST ") + std::string(target) +
         " HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
}

// Streams `filler` far past every limit, then expects one 400 and the close.
void expect_endless_line_refused(RawClient& client, std::string_view start, const FakeHandler& h) {
  ASSERT_TRUE(client.send(start));
  for (int i = 0; i < 64; ++i) {
    if (!client.send(std::string(1024, 'a'))) break;
  }
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_EQ(response->problem_code(), "invalid_request");
  EXPECT_EQ(response->header("Connection"), "close");
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(h.calls_.load(), 0);
}

TEST_F(ServerTest, ChunkExtensionThatNeverEndsGets400) {
  start();
  RawClient client(port());
  expect_endless_line_refused(client, chunked_post("/ext") + "1;x=", handler_);
}

TEST_F(ServerTest, ChunkSizeLineThatNeverEndsGets400) {
  start();
  RawClient client(port());
  expect_endless_line_refused(client, chunked_post("/size") + "000", handler_);
}

TEST_F(ServerTest, TrailerThatNeverEndsGets400) {
  start();
  RawClient client(port());
  expect_endless_line_refused(client, chunked_post("/trailer") + "0\r\nX-T: ", handler_);
}

TEST_F(ServerTest, ChunkExtensionsAndTrailersWithinTheLimitsAreAcceptedAndTrailersDropped) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send(chunked_post("/ok") + "5;name=value\r\nhello\r\n0\r\n" +
                          "X-Request-Id: from-trailer\r\nX-Pad: " + std::string(3000, 'p') +
                          "\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /ok hello");
  // A trailer is not a header: the id was made up, not taken from it.
  EXPECT_TRUE(is_hex_id(response->header("X-Seen-Request-Id").value_or(""))) << response->body;
  // The connection is still good for the next request.
  ASSERT_TRUE(client.send(get("/next")));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "GET /next ");
}

// RFC 9112 6.3: a Transfer-Encoding that does not end in chunked leaves the body's length
// unknown; read on, and the body would run as a second request.
TEST_F(ServerTest, TransferEncodingNotEndingInChunkedGets400AndNoSecondRequest) {
  start();
  for (const char* coding : {"gzip", "xchunked", "identity", "chunked, gzip", "chunked;x=1",
                             "chunked, chunked", "gzip\r\nContent-Length: 38"}) {
    SCOPED_TRACE(coding);
    RawClient client(port());
    const std::string smuggled = get("/metrics");
    ASSERT_TRUE(client.send(std::string("POST /te HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: ") +
                            coding + "\r\n\r\n" + smuggled));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400);
    EXPECT_EQ(response->problem_code(), "invalid_request");
    EXPECT_EQ(response->header("Connection"), "close");
    EXPECT_TRUE(client.wait_closed());
    EXPECT_FALSE(client.read_response(200ms)) << "a second response";
  }
  EXPECT_EQ(handler_.calls_.load(), 0);
}

TEST_F(ServerTest, ChunkedWithContentLengthOrInHttp10Gets400) {
  start();
  for (const std::string& request :
       {std::string("POST /te HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Length: 5\r\n\r\n0\r\n\r\n"),
        std::string("POST /te HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        std::string("POST /te HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")}) {
    SCOPED_TRACE(request);
    RawClient client(port());
    ASSERT_TRUE(client.send(request));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400);
    EXPECT_TRUE(client.wait_closed());
  }
  EXPECT_EQ(handler_.calls_.load(), 0);
}

TEST_F(ServerTest, UnknownCodingBeforeChunkedGets501) {
  start();
  RawClient client(port());
  ASSERT_TRUE(client.send(
      "POST /te HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 501);
  EXPECT_EQ(response->problem_code(), "not_implemented");
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(handler_.calls_.load(), 0);
}

TEST_F(ServerTest, EveryConnectionFarOverTheCapGets503) {
  // More than the refusals that may drain at once: the rest are answered at once.
  ServerOptions options;
  options.max_connections = 1;
  start(options);
  RawClient first(port());
  ASSERT_TRUE(eventually([&] { return server_->open_connections() == 1; }));
  std::vector<std::unique_ptr<RawClient>> extra;
  for (int i = 0; i < 100; ++i) extra.push_back(std::make_unique<RawClient>(port()));
  int refused = 0;
  for (auto& client : extra) {
    auto response = client->read_response();
    if (response && response->status == 503 && response->header("Retry-After") == "1") ++refused;
  }
  EXPECT_EQ(refused, 100);
  ASSERT_TRUE(first.send(get("/first")));
  auto served = first.read_response();
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
}

// Lowers this process's RLIMIT_NOFILE and fills the descriptor table up to it, leaving
// `spare` descriptors free; undone when destroyed.
class DescriptorSqueeze {
 public:
  explicit DescriptorSqueeze(int spare) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    int highest = 0;
    for (int fd = 0; fd < 65536; ++fd) {
      if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    }
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(highest) + 32;
    ::setrlimit(RLIMIT_NOFILE, &low);
    for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) fillers_.push_back(fd);
    for (int i = 0; i < spare && !fillers_.empty(); ++i) {
      ::close(fillers_.back());
      fillers_.pop_back();
    }
  }
  ~DescriptorSqueeze() {
    for (int fd : fillers_) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  DescriptorSqueeze(const DescriptorSqueeze&) = delete;
  DescriptorSqueeze& operator=(const DescriptorSqueeze&) = delete;

 private:
  rlimit saved_{};
  std::vector<int> fillers_;
};

TEST_F(ServerTest, OutOfDescriptorsShedsIdleKeepAliveConnections) {
  start();
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<RawClient>(port()));
    ASSERT_TRUE(idle.back()->send(get("/before")));
    ASSERT_TRUE(idle.back()->read_response());
  }
  std::optional<RawClient> fresh;
  std::optional<RawResponse> response;
  {
    // The client's socket takes the last descriptor, so the server's accept finds none: it
    // must close idle keep-alive connections to answer.
    DescriptorSqueeze squeeze(/*spare=*/1);
    fresh.emplace(port());
    ASSERT_TRUE(fresh->connected());
    ASSERT_TRUE(fresh->send(get("/after")));
    response = fresh->read_response();
  }
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "GET /after ");
  int closed = 0;
  for (auto& client : idle) closed += client->wait_closed(1s) ? 1 : 0;
  EXPECT_GE(closed, 1);
}

TEST(ServerConstruction, BindFailureThrowsSystemError) {
  FakeHandler handler;
  IoPool pool(1);
  ServerOptions options;
  options.port = 0;
  Server first(pool, handler, options);
  options.port = first.port();
  EXPECT_THROW(Server(pool, handler, options), std::system_error);
}

}  // namespace
}  // namespace otpd::http
