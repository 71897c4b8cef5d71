// The AWS credential chain against loopback stand-ins for the container endpoint and IMDS:
// which source wins, the exact requests, caching until shortly before expiry, and the
// switches that turn sources off.
#include "aws/credentials.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../support/canned_http_server.hpp"

namespace otpd::aws {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

struct Seen {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
};

// A loopback HTTP server that answers each request with what the responder returns for it
// (status and body), or holds the connection silent when it returns nullopt.
class MetadataServer {
 public:
  using Responder = std::function<std::optional<std::pair<int, std::string>>(const Seen&)>;

  explicit MetadataServer(Responder responder)
      : responder_(std::move(responder)),
        acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~MetadataServer() {
    io_.stop();
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  void set_responder(Responder responder) {
    std::lock_guard lock(mu_);
    responder_ = std::move(responder);
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    std::string data;
    char buf[4096];
    std::size_t end = std::string::npos;
    while (end == std::string::npos) {
      auto [ec, n] =
          co_await socket.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      data.append(buf, n);
      end = data.find("\r\n\r\n");
    }
    const testing_support::Parsed request = testing_support::parse_request(data);
    Seen seen;
    const auto sp1 = request.request_line.find(' ');
    const auto sp2 = request.request_line.find(' ', sp1 + 1);
    seen.method = request.request_line.substr(0, sp1);
    seen.target = request.request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    seen.headers = request.headers;
    Responder responder;
    {
      std::lock_guard lock(mu_);
      seen_.push_back(seen);
      responder = responder_;
    }
    const auto answer = responder(seen);
    if (!answer) {
      held_.push_back(std::move(socket));  // silent until the server stops
      co_return;
    }
    const std::string response = "HTTP/1.1 " + std::to_string(answer->first) +
                                 " X\r\nContent-Length: " + std::to_string(answer->second.size()) +
                                 "\r\nConnection: close\r\n\r\n" + answer->second;
    co_await asio::async_write(socket, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  }

  Responder responder_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::vector<tcp::socket> held_;  // only touched on the server's thread
};

// 2015-08-30T12:36:00Z
const core::TimePoint kStart = core::from_unix_ms(1440938160000LL);

std::string credentials_json(const std::string& key, const std::string& expiration,
                             bool with_code = false) {
  return std::string("{") + (with_code ? R"("Code":"Success","Type":"AWS-HMAC",)" : "") +
         R"("AccessKeyId":")" + key + R"(","SecretAccessKey":"secret-)" + key +
         R"(","Token":"token-)" + key + R"(","Expiration":")" + expiration + R"("})";
}

// An IMDSv2 stand-in for role "otpd-role" whose credentials carry `key`.
MetadataServer::Responder imds(std::string key, std::string expiration) {
  return [key, expiration](const Seen& s) -> std::optional<std::pair<int, std::string>> {
    if (s.method == "PUT" && s.target == "/latest/api/token") return std::pair{200, "imds-token"};
    if (s.headers.count("x-aws-ec2-metadata-token") == 0 ||
        s.headers.at("x-aws-ec2-metadata-token") != "imds-token") {
      return std::pair{401, ""};
    }
    if (s.target == "/latest/meta-data/iam/security-credentials/") {
      return std::pair{200, "otpd-role\n"};
    }
    if (s.target == "/latest/meta-data/iam/security-credentials/otpd-role") {
      return std::pair{200, credentials_json(key, expiration, true)};
    }
    return std::pair{404, ""};
  };
}

class AwsCredentialsTest : public ::testing::Test {
 protected:
  CredentialProvider provider() {
    return CredentialProvider(client_, clock_, [this](const char* name) -> const char* {
      std::lock_guard lock(env_mu_);
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    });
  }
  std::optional<Credentials> get(CredentialProvider& p) {
    auto fut = asio::co_spawn(io_, p.get(), asio::use_future);
    io_.restart();
    io_.run();
    return fut.get();
  }
  void setenv(const std::string& name, const std::string& value) {
    std::lock_guard lock(env_mu_);
    env_[name] = value;
  }

  asio::io_context io_;
  std::shared_ptr<net::HttpClient> client_ = std::make_shared<net::HttpClient>(io_.get_executor());
  core::ManualTimeSource clock_{kStart};
  std::mutex env_mu_;
  std::map<std::string, std::string> env_;
};

TEST_F(AwsCredentialsTest, EnvironmentComesFirst) {
  MetadataServer server(imds("IMDSKEY", "2015-08-30T18:36:00Z"));
  setenv("AWS_ACCESS_KEY_ID", "AKIDENV");
  setenv("AWS_SECRET_ACCESS_KEY", "env-secret");
  setenv("AWS_SESSION_TOKEN", "env-token");
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
  auto p = provider();
  const auto c = get(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AKIDENV");
  EXPECT_EQ(c->secret_access_key, "env-secret");
  EXPECT_EQ(c->session_token, "env-token");
  EXPECT_FALSE(c->expires_at);
  EXPECT_TRUE(server.seen().empty());
}

TEST_F(AwsCredentialsTest, EnvironmentWithoutSessionToken) {
  setenv("AWS_ACCESS_KEY_ID", "AKIDENV");
  setenv("AWS_SECRET_ACCESS_KEY", "env-secret");
  setenv("AWS_EC2_METADATA_DISABLED", "true");
  auto p = provider();
  const auto c = get(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->session_token, "");
}

TEST_F(AwsCredentialsTest, HalfAnEnvironmentPairIsIgnored) {
  MetadataServer server(imds("IMDSKEY", "2015-08-30T18:36:00Z"));
  setenv("AWS_ACCESS_KEY_ID", "AKIDENV");
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
  auto p = provider();
  const auto c = get(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "IMDSKEY");
}

TEST_F(AwsCredentialsTest, ContainerEndpointWithAuthorizationToken) {
  MetadataServer container([](const Seen& s) -> std::optional<std::pair<int, std::string>> {
    if (s.method != "GET" || s.target != "/v2/credentials/abc") return std::pair{404, ""};
    return std::pair{200, credentials_json("ECSKEY", "2015-08-30T18:36:00Z")};
  });
  MetadataServer imds_server(imds("IMDSKEY", "2015-08-30T18:36:00Z"));
  setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/v2/credentials/abc");
  setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth");
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_server.url());
  auto p = provider();
  const auto c = get(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "ECSKEY");
  EXPECT_EQ(c->secret_access_key, "secret-ECSKEY");
  EXPECT_EQ(c->session_token, "token-ECSKEY");
  ASSERT_TRUE(c->expires_at);
  EXPECT_EQ(*c->expires_at, kStart + 6h);
  const auto seen = container.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].headers.at("authorization"), "container-auth");
  EXPECT_TRUE(imds_server.seen().empty());
}

TEST_F(AwsCredentialsTest, ContainerTokenFileWinsOverTheVariable) {
  MetadataServer container([](const Seen&) -> std::optional<std::pair<int, std::string>> {
    return std::pair{200, credentials_json("EKSKEY", "2015-08-30T18:36:00Z")};
  });
  const auto file =
      std::filesystem::temp_directory_path() / ("otpd-aws-token-" + std::to_string(::getpid()));
  std::ofstream(file) << "from-file\n";
  setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/creds");
  setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-variable");
  setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file.string());
  auto p = provider();
  const auto c = get(p);
  std::filesystem::remove(file);
  ASSERT_TRUE(c);
  ASSERT_EQ(container.seen().size(), 1u);
  EXPECT_EQ(container.seen()[0].headers.at("authorization"), "from-file");
}

TEST_F(AwsCredentialsTest, ContainerFullUriOverPlainHttpMustStayOnTheHost) {
  MetadataServer imds_server(imds("IMDSKEY", "2015-08-30T18:36:00Z"));
  setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://credentials.example.test/creds");
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_server.url());
  auto p = provider();
  EXPECT_FALSE(get(p));
  // The container was configured, so the instance's role is not used instead.
  EXPECT_TRUE(imds_server.seen().empty());
}

TEST_F(AwsCredentialsTest, ImdsV2TokenRoleAndCredentials) {
  MetadataServer server(imds("IMDSKEY", "2015-08-30T18:36:00Z"));
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url() + "/");
  auto p = provider();
  const auto c = get(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "IMDSKEY");
  EXPECT_EQ(c->secret_access_key, "secret-IMDSKEY");
  EXPECT_EQ(c->session_token, "token-IMDSKEY");
  EXPECT_EQ(c->expires_at, kStart + 6h);
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].target, "/latest/api/token");
  EXPECT_EQ(seen[0].headers.at("x-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(seen[1].method, "GET");
  EXPECT_EQ(seen[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(seen[2].target, "/latest/meta-data/iam/security-credentials/otpd-role");
  EXPECT_EQ(seen[2].headers.at("x-aws-ec2-metadata-token"), "imds-token");
}

TEST_F(AwsCredentialsTest, CachedUntilFiveMinutesBeforeExpiry) {
  MetadataServer server(imds("FIRST", "2015-08-30T13:36:00Z"));  // kStart + 1 h
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
  auto p = provider();
  ASSERT_EQ(get(p)->access_key_id, "FIRST");
  server.set_responder(imds("SECOND", "2015-08-30T14:36:00Z"));
  clock_.advance(54min);
  EXPECT_EQ(get(p)->access_key_id, "FIRST");
  EXPECT_EQ(server.seen().size(), 3u);
  clock_.advance(1min);  // 5 minutes before expiry
  EXPECT_EQ(get(p)->access_key_id, "SECOND");
  EXPECT_EQ(server.seen().size(), 6u);
}

TEST_F(AwsCredentialsTest, AFailedRefreshKeepsCredentialsUntilTheyExpire) {
  MetadataServer server(imds("FIRST", "2015-08-30T13:36:00Z"));
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
  auto p = provider();
  ASSERT_EQ(get(p)->access_key_id, "FIRST");
  server.set_responder([](const Seen&) -> std::optional<std::pair<int, std::string>> {
    return std::pair{500, ""};
  });
  clock_.advance(58min);
  const auto still = get(p);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->access_key_id, "FIRST");
  clock_.advance(2min);  // expired
  EXPECT_FALSE(get(p));
}

TEST_F(AwsCredentialsTest, InvalidateFetchesAgain) {
  MetadataServer server(imds("FIRST", "2015-08-30T18:36:00Z"));
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
  auto p = provider();
  ASSERT_EQ(get(p)->access_key_id, "FIRST");
  server.set_responder(imds("SECOND", "2015-08-30T18:36:00Z"));
  p.invalidate();
  EXPECT_EQ(get(p)->access_key_id, "SECOND");
}

TEST_F(AwsCredentialsTest, ImdsCanBeDisabled) {
  for (const char* value : {"true", "TRUE", "True"}) {
    MetadataServer server(imds("IMDSKEY", "2015-08-30T18:36:00Z"));
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
    setenv("AWS_EC2_METADATA_DISABLED", value);
    auto p = provider();
    EXPECT_FALSE(get(p)) << value;
    EXPECT_TRUE(server.seen().empty()) << value;
  }
}

TEST_F(AwsCredentialsTest, ImdsWithoutARoleOrWithAFailureCodeHasNone) {
  MetadataServer server([](const Seen& s) -> std::optional<std::pair<int, std::string>> {
    if (s.method == "PUT") return std::pair{200, "t"};
    if (s.target == "/latest/meta-data/iam/security-credentials/") return std::pair{404, ""};
    return std::pair{500, ""};
  });
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
  auto p = provider();
  EXPECT_FALSE(get(p));
  server.set_responder([](const Seen& s) -> std::optional<std::pair<int, std::string>> {
    if (s.method == "PUT") return std::pair{200, "t"};
    if (s.target == "/latest/meta-data/iam/security-credentials/") return std::pair{200, "r"};
    return std::pair{200, R"({"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"A",)"
                          R"("SecretAccessKey":"S"})"};
  });
  EXPECT_FALSE(get(p));
}

TEST_F(AwsCredentialsTest, ASilentMetadataServiceAnswersWithinItsTimeout) {
  MetadataServer server([](const Seen&) { return std::optional<std::pair<int, std::string>>(); });
  setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url());
  auto p = provider();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(get(p));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, CredentialProvider::kMetadataTimeout - 50ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(server.seen().size(), 1u);  // no token, no further requests
}

TEST(AwsCredentialsParse, Iso8601) {
  using credentials_detail::parse_iso8601_utc;
  EXPECT_EQ(parse_iso8601_utc("2015-08-30T12:36:00Z"), kStart);
  EXPECT_EQ(parse_iso8601_utc("2015-08-30T12:36:00.123Z"), kStart);
  EXPECT_EQ(parse_iso8601_utc("2015-08-30T14:36:00+02:00"), kStart);
  EXPECT_EQ(parse_iso8601_utc("2015-08-30T10:36:00-02:00"), kStart);
  for (const char* bad :
       {"", "2015-08-30", "2015-08-30T12:36:00", "2015-02-30T12:36:00Z", "2015-08-30T25:36:00Z",
        "2015-08-30 12:36:00Z", "2015-08-30T12:36:00.Z", "2015-08-30T12:36:00+0200"}) {
    EXPECT_FALSE(parse_iso8601_utc(bad)) << bad;
  }
}

TEST(AwsCredentialsParse, CredentialsJson) {
  using credentials_detail::parse_credentials_json;
  const auto c = parse_credentials_json(credentials_json("K", "2015-08-30T12:36:00Z"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "K");
  EXPECT_EQ(c->expires_at, kStart);
  EXPECT_FALSE(parse_credentials_json(R"({"AccessKeyId":"K"})"));
  EXPECT_FALSE(parse_credentials_json(R"({"AccessKeyId":"","SecretAccessKey":"S"})"));
  EXPECT_FALSE(parse_credentials_json("not json"));
  const auto no_expiry = parse_credentials_json(R"({"AccessKeyId":"K","SecretAccessKey":"S"})");
  ASSERT_TRUE(no_expiry);
  EXPECT_FALSE(no_expiry->expires_at);
  EXPECT_EQ(no_expiry->session_token, "");
}

}  // namespace
}  // namespace otpd::aws
