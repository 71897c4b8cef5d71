// The webhook event of the README's Channels: body, signature, and the answers' outcomes,
// checked against a raw TCP server that records the bytes it receives.
#include "delivery/webhook_channel.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <cctype>
#include <map>
#include <mutex>
#include <thread>

#include "../support/canned_http_server.hpp"
#include "core/clock.hpp"

namespace otpd::delivery {
namespace {

using testing_support::canned;
using testing_support::CannedServer;
using testing_support::parse_request;

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr long long kNowMs = 1'700'000'000'500;  // half a second past a whole second

Message sample() {
  Message m;
  m.tenant = core::TenantId("acme");
  m.id = core::VerificationId("vf_abc");
  m.channel = core::ChannelKind::kWebhook;
  m.to = "+14155550100";
  m.code = "123456";
  m.locale = "de";
  m.expires_at = core::from_unix_ms(1'700'000'300'000);
  m.text = "Acme: your code is 123456. It expires in 5 minutes.";
  return m;
}

std::string hex(const unsigned char* p, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

// HMAC-SHA256 computed with OpenSSL directly, not through otpd's own wrappers.
std::string openssl_hmac_hex(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return hex(out, len);
}

TEST(WebhookSignature, MatchesIndependentHmac) {
  const std::string body = R"({"type":"otp.delivery"})";
  const auto sig = webhook_signature("whsec_test", 1700000000, body);
  EXPECT_EQ(sig, "t=1700000000,v1=" + openssl_hmac_hex("whsec_test", "1700000000." + body));
  // A known-answer check, so a change in the scheme cannot go unnoticed.
  EXPECT_EQ(openssl_hmac_hex("key", "The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(WebhookEventBody, HasExactlyTheContractFields) {
  const auto body = webhook_event_body(sample());
  EXPECT_EQ(body, R"({"type":"otp.delivery","id":"vf_abc","tenant":"acme","to":"+14155550100",)"
                  R"("channel":"webhook","code":"123456",)"
                  R"("message":"Acme: your code is 123456. It expires in 5 minutes.",)"
                  R"("locale":"de","expires_at":"2023-11-14T22:18:20Z"})");
  const auto v = boost::json::parse(body);
  std::vector<std::string> keys;
  for (const auto& kv : v.as_object()) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"type", "id", "tenant", "to", "channel", "code",
                                            "message", "locale", "expires_at"}));
}

TEST(WebhookEventBody, LocaleDefaultsToEnglish) {
  auto m = sample();
  m.locale.clear();
  EXPECT_EQ(boost::json::parse(webhook_event_body(m)).at("locale").as_string(), "en");
}

TEST(WebhookEventBody, EscapesStrings) {
  auto m = sample();
  m.text = "line1\nline2 \"q\" \\";
  const auto v = boost::json::parse(webhook_event_body(m));
  EXPECT_EQ(v.at("message").as_string(), m.text);
}

Attempt deliver_to(const std::string& url, const Message& m) {
  asio::io_context io;
  core::ManualTimeSource clock(core::from_unix_ms(kNowMs));
  auto client = std::make_shared<net::HttpClient>(io.get_executor());
  WebhookChannel channel(client, clock, url, "whsec_test");
  auto fut = asio::co_spawn(io, channel.deliver(m), asio::use_future);
  io.run();
  return fut.get();
}

TEST(WebhookChannel, SendsSignedEvent) {
  CannedServer server(canned(200));
  const auto m = sample();
  const auto attempt =
      deliver_to("http://127.0.0.1:" + std::to_string(server.port()) + "/hook?x=1", m);
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered);
  EXPECT_EQ(attempt.detail, "webhook answered 200");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto req = parse_request(requests[0]);
  EXPECT_EQ(req.request_line, "POST /hook?x=1 HTTP/1.1");
  EXPECT_EQ(req.body, webhook_event_body(m));
  EXPECT_EQ(req.headers.at("content-type"), "application/json");
  EXPECT_EQ(req.headers.at("content-length"), std::to_string(req.body.size()));
  EXPECT_EQ(req.headers.at("x-otpd-signature"),
            "t=1700000000,v1=" + openssl_hmac_hex("whsec_test", "1700000000." + req.body));
}

TEST(WebhookChannel, MapsStatusesToOutcomes) {
  const std::vector<std::pair<int, AttemptResult>> cases{
      {200, AttemptResult::kDelivered}, {204, AttemptResult::kDelivered},
      {500, AttemptResult::kTransient}, {503, AttemptResult::kTransient},
      {429, AttemptResult::kTransient}, {400, AttemptResult::kPermanent},
      {404, AttemptResult::kPermanent}, {410, AttemptResult::kPermanent},
      {302, AttemptResult::kPermanent}, {301, AttemptResult::kPermanent},
  };
  for (const auto& [status, expected] : cases) {
    CannedServer server(canned(status, status / 100 == 3 ? "Location: /elsewhere\r\n" : ""));
    const auto m = sample();
    const auto attempt =
        deliver_to("http://127.0.0.1:" + std::to_string(server.port()) + "/hook", m);
    EXPECT_EQ(attempt.result, expected) << status;
    EXPECT_EQ(attempt.detail, "webhook answered " + std::to_string(status));
    EXPECT_EQ(attempt.detail.find(m.code), std::string::npos);
    EXPECT_EQ(attempt.detail.find(m.to), std::string::npos);
    // Redirects are not followed: the server saw exactly one request.
    EXPECT_EQ(server.requests().size(), 1u) << status;
  }
}

TEST(WebhookChannel, NetworkErrorIsTransient) {
  unsigned short port = 0;
  {
    // A port that was free a moment ago: nothing listens there now.
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    port = a.local_endpoint().port();
  }
  const auto m = sample();
  const auto attempt = deliver_to("http://127.0.0.1:" + std::to_string(port) + "/hook", m);
  EXPECT_EQ(attempt.result, AttemptResult::kTransient);
  EXPECT_EQ(attempt.detail.find(m.code), std::string::npos);
  EXPECT_EQ(attempt.detail.find(m.to), std::string::npos);
}

}  // namespace
}  // namespace otpd::delivery
