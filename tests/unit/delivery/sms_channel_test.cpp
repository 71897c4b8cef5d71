// The Twilio-compatible sms channel: the exact request it makes and how answers map to
// outcomes, against a loopback server that records the bytes it receives.
#include "delivery/sms_channel.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "../support/canned_http_server.hpp"

namespace otpd::delivery {
namespace {

using testing_support::CannedServer;
using testing_support::parse_request;
namespace asio = boost::asio;

Message sample() {
  Message m;
  m.tenant = core::TenantId("acme");
  m.id = core::VerificationId("v_abc");
  m.channel = core::ChannelKind::kSms;
  m.to = "+14155550100";
  m.code = "123456";
  m.text = "Acme: Ihr Code lautet 123456 (gültig 5 Min.)\n\n@acme.example #123456";
  return m;
}

std::string answer(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

Attempt deliver_to(const CannedServer& server, const Message& m, std::string from = "+15005550006",
                   std::string base_path = "") {
  asio::io_context io;
  auto client = std::make_shared<net::HttpClient>(io.get_executor());
  TwilioSmsChannel channel(client, {"http://127.0.0.1:" + std::to_string(server.port()) + base_path,
                                    "AC0123", "tok_secret", std::move(from)});
  auto fut = asio::co_spawn(io, channel.deliver(m), asio::use_future);
  io.run();
  return fut.get();
}

// Decodes a form body independently of form_urlencode: '+' is a space, %XX a byte.
std::vector<std::pair<std::string, std::string>> parse_form(const std::string& body) {
  auto decode = [](const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out.push_back(' ');
      } else if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> fields;
  std::size_t start = 0;
  while (start <= body.size()) {
    auto amp = body.find('&', start);
    if (amp == std::string::npos) amp = body.size();
    const auto pair = body.substr(start, amp - start);
    const auto eq = pair.find('=');
    fields.emplace_back(decode(pair.substr(0, eq)), decode(pair.substr(eq + 1)));
    start = amp + 1;
  }
  return fields;
}

TEST(TwilioSmsChannel, PostsTheMessageAsTwilioExpects) {
  CannedServer server(answer(201, R"({"sid":"SM1","status":"queued"})"));
  const auto m = sample();
  const auto attempt = deliver_to(server, m, "+15005550006", "/");
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered);
  EXPECT_EQ(attempt.detail, "twilio answered 201");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto req = parse_request(requests[0]);
  EXPECT_EQ(req.request_line, "POST /2010-04-01/Accounts/AC0123/Messages.json HTTP/1.1");
  EXPECT_EQ(req.headers.at("content-type"), "application/x-www-form-urlencoded");
  // base64("AC0123:tok_secret"), worked out by hand.
  EXPECT_EQ(req.headers.at("authorization"), "Basic QUMwMTIzOnRva19zZWNyZXQ=");
  const auto form = parse_form(req.body);
  const std::vector<std::pair<std::string, std::string>> expected{
      {"To", m.to}, {"From", "+15005550006"}, {"Body", m.text}};
  EXPECT_EQ(form, expected);
  EXPECT_NE(req.body.find("To=%2B14155550100"), std::string::npos) << req.body;
}

TEST(TwilioSmsChannel, AMessagingServiceIsNamedAsSuch) {
  CannedServer server(answer(201, "{}"));
  deliver_to(server, sample(), "MG9752274e9e519418a7406176694466fa");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto form = parse_form(parse_request(requests[0]).body);
  ASSERT_EQ(form.size(), 3u);
  EXPECT_EQ(form[1], (std::pair<std::string, std::string>{"MessagingServiceSid",
                                                          "MG9752274e9e519418a7406176694466fa"}));
}

TEST(TwilioSmsChannel, MapsAnswersToOutcomesWithoutTheNumber) {
  // Twilio's error message repeats the number; only its numeric code may reach the logs.
  const std::string invalid =
      R"({"code":21211,"message":"The 'To' number +14155550100 is not a valid phone number.",)"
      R"("more_info":"https://www.twilio.com/docs/errors/21211","status":400})";
  const std::vector<std::tuple<int, std::string, AttemptResult, std::string>> cases{
      {200, "{}", AttemptResult::kDelivered, "twilio answered 200"},
      {400, invalid, AttemptResult::kPermanent, "twilio answered 400 (error 21211)"},
      {401, R"({"code":20003})", AttemptResult::kPermanent, "twilio answered 401 (error 20003)"},
      {429, R"({"code":20429})", AttemptResult::kTransient, "twilio answered 429 (error 20429)"},
      {500, "oops", AttemptResult::kTransient, "twilio answered 500"},
      {503, "", AttemptResult::kTransient, "twilio answered 503"},
  };
  for (const auto& [status, body, result, detail] : cases) {
    CannedServer server(answer(status, body));
    const auto m = sample();
    const auto attempt = deliver_to(server, m);
    EXPECT_EQ(attempt.result, result) << status;
    EXPECT_EQ(attempt.detail, detail);
    EXPECT_EQ(attempt.detail.find(m.to), std::string::npos);
    EXPECT_EQ(attempt.detail.find(m.code), std::string::npos);
  }
}

TEST(TwilioSmsChannel, NetworkErrorIsTransient) {
  unsigned short port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, {asio::ip::address_v4::loopback(), 0});
    port = probe.local_endpoint().port();
  }
  asio::io_context io;
  auto client = std::make_shared<net::HttpClient>(io.get_executor());
  TwilioSmsChannel channel(
      client, {"http://127.0.0.1:" + std::to_string(port), "AC0123", "t", "+15005550006"});
  const Message m = sample();  // deliver() takes it by reference: it must outlive io.run()
  auto fut = asio::co_spawn(io, channel.deliver(m), asio::use_future);
  io.run();
  const auto attempt = fut.get();
  EXPECT_EQ(attempt.result, AttemptResult::kTransient);
  EXPECT_EQ(attempt.detail.rfind("twilio request failed: ", 0), 0u) << attempt.detail;
}

TEST(FormUrlencode, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(form_urlencode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(form_urlencode("a b+c&d=e"), "a+b%2Bc%26d%3De");
  EXPECT_EQ(form_urlencode("ü\n#"), "%C3%BC%0A%23");
  EXPECT_EQ(form_urlencode(""), "");
}

TEST(TwilioErrorCode, ReadsOnlyANumericCode) {
  EXPECT_EQ(twilio_error_code(R"({"code":21610,"message":"unsubscribed"})"), "21610");
  EXPECT_EQ(twilio_error_code(R"({"code":"21610"})"), "");
  EXPECT_EQ(twilio_error_code("not json"), "");
  EXPECT_EQ(twilio_error_code("[1]"), "");
  EXPECT_EQ(twilio_error_code(""), "");
}

}  // namespace
}  // namespace otpd::delivery
