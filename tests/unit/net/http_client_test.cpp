// The outbound HTTP client against in-test servers speaking raw bytes over real sockets:
// round trips, connection reuse and retry, no redirects, deadlines, URL errors, and TLS
// certificates checked against the trust store and the host name.
#include "net/http_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../support/test_certificate.hpp"

namespace otpd::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing_support::Credentials;
using testing_support::make_self_signed;
using testing_support::remove_trust_file;
using testing_support::server_context;
using testing_support::trust_file;
using testing_support::write_trust_file;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Received {
  std::string request_line;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  int connection = 0;  // which accepted connection carried it, from 1

  std::optional<std::string> header(const std::string& name) const {
    for (const auto& [key, value] : headers) {
      if (key == lower(name)) return value;
    }
    return std::nullopt;
  }
};

int listen_loopback(unsigned short& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 128) != 0) {
    ::close(fd);
    return -1;
  }
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

// A plain HTTP/1.1 server on a thread per connection. The responder returns the raw bytes to
// answer with, or nothing to leave the request unanswered.
class TestServer {
 public:
  using Responder = std::function<std::optional<std::string>(const Received&)>;

  explicit TestServer(Responder responder, bool close_after_each = false)
      : responder_(std::move(responder)), close_after_each_(close_after_each) {
    listener_ = listen_loopback(port_);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~TestServer() {
    stopping_ = true;
    acceptor_.join();
    for (auto& thread : workers_) thread.join();
    ::close(listener_);
  }

  unsigned short port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int connections() const { return connections_.load(); }
  std::vector<Received> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      if (!readable(listener_, 20ms)) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      const int number = ++connections_;
      workers_.emplace_back([this, fd, number] { serve(fd, number); });
    }
  }

  void serve(int fd, int number) {
    std::string buffer;
    while (!stopping_) {
      auto request = read_request(fd, buffer);
      if (!request) break;
      request->connection = number;
      {
        std::lock_guard lock(mutex_);
        received_.push_back(*request);
      }
      auto answer = responder_(*request);
      if (!answer) {
        // Hold the connection open without a word until the client gives up.
        while (!stopping_) {
          if (readable(fd, 20ms)) {
            char scratch[1024];
            if (::recv(fd, scratch, sizeof scratch, 0) <= 0) break;
          }
        }
        break;
      }
      ::send(fd, answer->data(), answer->size(), MSG_NOSIGNAL);
      if (close_after_each_) break;
    }
    ::close(fd);
  }

  std::optional<Received> read_request(int fd, std::string& buffer) {
    std::size_t end = 0;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(fd, buffer)) return std::nullopt;
    }
    Received request;
    const std::string head = buffer.substr(0, end);
    buffer.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    request.request_line = head.substr(0, line_end);
    std::size_t content_length = 0;
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const std::size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      request.headers.emplace_back(lower(line.substr(0, colon)), value);
      if (lower(line.substr(0, colon)) == "content-length") content_length = std::stoul(value);
    }
    while (buffer.size() < content_length) {
      if (!fill(fd, buffer)) return std::nullopt;
    }
    request.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    return request;
  }

  bool fill(int fd, std::string& buffer) {
    while (!stopping_) {
      if (!readable(fd, 20ms)) continue;
      char scratch[4096];
      const ssize_t n = ::recv(fd, scratch, sizeof scratch, 0);
      if (n <= 0) return false;
      buffer.append(scratch, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

  Responder responder_;
  bool close_after_each_;
  int listener_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;  // touched by the acceptor thread only, until joined
  std::mutex mutex_;
  std::vector<Received> received_;
};

std::string ok(const std::string& body = "ok", const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

class HttpClientTest : public ::testing::Test {
 protected:
  HttpResponse send(HttpClient& client, HttpRequest request) {
    std::optional<HttpResponse> result;
    std::exception_ptr failure;
    boost::asio::co_spawn(io_, client.send(std::move(request)),
                          [&](std::exception_ptr e, HttpResponse response) {
                            failure = e;
                            result = std::move(response);
                          });
    io_.restart();
    io_.run();
    if (failure) std::rethrow_exception(failure);
    return *result;
  }

  HttpResponse send(HttpRequest request) { return send(client_, std::move(request)); }

  boost::asio::io_context io_;
  HttpClient client_{io_.get_executor()};
};

std::optional<std::string> header_of(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (lower(key) == lower(name)) return value;
  }
  return std::nullopt;
}

TEST_F(HttpClientTest, PostsBodyAndHeadersAndReadsTheAnswer) {
  TestServer server([](const Received&) { return ok("{\"ok\":true}", "X-Answer: 42\r\n"); });
  HttpRequest request;
  request.url = server.url("/hook?x=1");
  request.headers = {{"Content-Type", "application/json"}, {"X-Otpd-Signature", "t=1,v1=ab"}};
  request.body = "{\"type\":\"otp.delivery\"}";
  const HttpResponse response = send(request);
  EXPECT_EQ(response.error, "");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "{\"ok\":true}");
  EXPECT_EQ(header_of(response, "X-Answer"), "42");

  const auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].request_line, "POST /hook?x=1 HTTP/1.1");
  EXPECT_EQ(received[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(received[0].header("User-Agent"), "otpd/0.1");
  EXPECT_EQ(received[0].header("Content-Type"), "application/json");
  EXPECT_EQ(received[0].header("X-Otpd-Signature"), "t=1,v1=ab");
  EXPECT_EQ(received[0].header("Content-Length"), std::to_string(request.body.size()));
  EXPECT_EQ(received[0].body, request.body);
}

TEST_F(HttpClientTest, GetWithoutPathSendsSlash) {
  TestServer server([](const Received&) { return ok(); });
  HttpRequest request;
  request.method = "GET";
  request.url = "http://127.0.0.1:" + std::to_string(server.port());
  const HttpResponse response = send(request);
  EXPECT_EQ(response.status, 200);
  ASSERT_EQ(server.received().size(), 1u);
  EXPECT_EQ(server.received()[0].request_line, "GET / HTTP/1.1");
}

TEST_F(HttpClientTest, ReusesTheConnection) {
  TestServer server([](const Received&) { return ok(); });
  HttpRequest request;
  request.url = server.url("/a");
  request.body = "1";
  EXPECT_EQ(send(request).status, 200);
  request.body = "2";
  EXPECT_EQ(send(request).status, 200);
  EXPECT_EQ(server.connections(), 1);
  ASSERT_EQ(server.received().size(), 2u);
  EXPECT_EQ(server.received()[1].body, "2");
}

TEST_F(HttpClientTest, ConcurrentSendsFromSeveralThreadsShareThePool) {
  TestServer server([](const Received& request) { return ok(request.body); });
  constexpr int kSends = 32;
  std::atomic<int> good{0};
  for (int i = 0; i < kSends; ++i) {
    HttpRequest request;
    request.url = server.url("/c");
    request.body = std::to_string(i);
    boost::asio::co_spawn(
        boost::asio::make_strand(io_), client_.send(request),
        [&good, body = request.body](std::exception_ptr e, HttpResponse response) {
          if (!e && response.status == 200 && response.body == body) good.fetch_add(1);
        });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([this] { io_.run(); });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), kSends);
  EXPECT_LE(server.connections(), kSends);
}

TEST_F(HttpClientTest, ConnectionCloseIsNotReused) {
  TestServer server([](const Received&) { return ok("ok", "Connection: close\r\n"); },
                    /*close_after_each=*/true);
  HttpRequest request;
  request.url = server.url();
  EXPECT_EQ(send(request).status, 200);
  EXPECT_EQ(send(request).status, 200);
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(HttpClientTest, RetriesOnceWhenAReusedConnectionWasClosed) {
  // The server closes after each answer without saying so, as an idle timeout would.
  TestServer server([](const Received&) { return ok(); }, /*close_after_each=*/true);
  HttpRequest request;
  request.url = server.url();
  EXPECT_EQ(send(request).status, 200);
  // Give the close time to arrive, so the pooled connection is stale for sure.
  std::this_thread::sleep_for(50ms);
  const HttpResponse second = send(request);
  EXPECT_EQ(second.error, "");
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.received().size(), 2u);
}

TEST_F(HttpClientTest, RedirectIsReturnedNotFollowed) {
  TestServer server([](const Received&) {
    return std::optional<std::string>(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: "
        "0\r\n\r\n");
  });
  HttpRequest request;
  request.url = server.url("/hook");
  const HttpResponse response = send(request);
  EXPECT_EQ(response.error, "");
  EXPECT_EQ(response.status, 302);
  EXPECT_EQ(header_of(response, "Location"), "http://127.0.0.1:1/elsewhere");
  EXPECT_EQ(server.received().size(), 1u);
}

TEST_F(HttpClientTest, TimesOutWhenTheServerNeverAnswers) {
  TestServer server([](const Received&) { return std::optional<std::string>(); });
  HttpRequest request;
  request.url = server.url();
  request.timeout = 500ms;
  const auto began = Clock::now();
  const HttpResponse response = send(request);
  const auto elapsed = Clock::now() - began;
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("timeout"), std::string::npos) << response.error;
  EXPECT_GE(elapsed, 400ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(HttpClientTest, ConnectionRefusedIsAnError) {
  unsigned short port = 0;
  ::close(listen_loopback(port));  // a port nobody listens on any more
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const HttpResponse response = send(request);
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error.empty());
}

TEST_F(HttpClientTest, MalformedUrlsAreErrors) {
  for (const char* url : {"not a url", "ftp://example.com/", "http:///path", "",
                          "http://user:secret@example.com/", "http://example.com:99999/"}) {
    HttpRequest request;
    request.url = url;
    const HttpResponse response = send(request);
    EXPECT_EQ(response.status, 0) << url;
    EXPECT_FALSE(response.error.empty()) << url;
  }
}

TEST_F(HttpClientTest, HeaderInjectionIsRefused) {
  TestServer server([](const Received&) { return ok(); });
  HttpRequest request;
  request.url = server.url();
  request.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  const HttpResponse response = send(request);
  EXPECT_FALSE(response.error.empty());
  EXPECT_EQ(server.received().size(), 0u);
}

// --- TLS ------------------------------------------------------------------------------

// A one-thread HTTPS server answering every request with 200 "secure"; counts handshakes
// that completed, which must stay at zero when the client rejects the certificate.
class TlsServer {
 public:
  explicit TlsServer(const Credentials& credentials) {
    context_ = server_context(credentials);
    listener_ = listen_loopback(port_);
    thread_ = std::thread([this] { run(); });
  }
  ~TlsServer() {
    stopping_ = true;
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(context_);
  }
  unsigned short port() const { return port_; }
  int handshakes() const { return handshakes_.load(); }

 private:
  void run() {
    while (!stopping_) {
      if (!readable(listener_, 20ms)) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      SSL* ssl = SSL_new(context_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        ++handshakes_;
        std::string request;
        char scratch[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
          const int n = SSL_read(ssl, scratch, sizeof scratch);
          if (n <= 0) break;
          request.append(scratch, static_cast<std::size_t>(n));
        }
        const std::string answer =
            "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure";
        SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
        SSL_shutdown(ssl);
      }
      ERR_clear_error();
      SSL_free(ssl);
      ::close(fd);
    }
  }

  SSL_CTX* context_ = nullptr;
  int listener_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> handshakes_{0};
  std::thread thread_;
};

class HttpClientTlsTest : public HttpClientTest {
 protected:
  void SetUp() override {
    credentials_ = make_self_signed();
    trust_file_ = write_trust_file("otpd-net-test-", credentials_.certificate_pem);
  }
  void TearDown() override { remove_trust_file(trust_file_); }

  // A client whose trust store also holds the test certificate, through the standard
  // OpenSSL variable rather than any switch in the client.
  // The client reads the trust store on its first https request, so the variable stays set
  // until the test ends.
  std::unique_ptr<HttpClient> trusting_client() {
    trust_file(trust_file_);
    return std::make_unique<HttpClient>(io_.get_executor());
  }

  Credentials credentials_;
  std::filesystem::path trust_file_;
};

TEST_F(HttpClientTlsTest, UntrustedCertificateIsRejected) {
  TlsServer server(credentials_);
  HttpRequest request;
  request.url = "https://localhost:" + std::to_string(server.port()) + "/";
  const HttpResponse response = send(request);
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("tls"), std::string::npos) << response.error;
  EXPECT_EQ(server.handshakes(), 0);
}

TEST_F(HttpClientTlsTest, TrustedCertificateWorks) {
  TlsServer server(credentials_);
  auto client = trusting_client();
  HttpRequest request;
  request.method = "GET";
  request.url = "https://localhost:" + std::to_string(server.port()) + "/";
  const HttpResponse response = send(*client, request);
  EXPECT_EQ(response.error, "");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "secure");
}

TEST_F(HttpClientTlsTest, CertificateForAnotherNameIsRejected) {
  TlsServer server(credentials_);
  auto client = trusting_client();
  HttpRequest request;
  // Trusted, but issued to "localhost", not to this address.
  request.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
  const HttpResponse response = send(*client, request);
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error.empty());
  EXPECT_EQ(server.handshakes(), 0);
}

}  // namespace
}  // namespace otpd::net
