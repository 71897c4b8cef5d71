// The SNS sms channel against a loopback server: the exact signed Publish request, checked by
// botocore, and how SNS's answers map to outcomes without leaking the number or the code.
#include "delivery/sns_channel.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "aws_channel_test_support.hpp"

namespace otpd::delivery {
namespace {

namespace asio = boost::asio;
using testing_support::CannedServer;
using testing_support::parse_request;

const aws::Credentials kKeys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                             "session-token/+=", std::nullopt};

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
         " X\r\nContent-Type: text/xml\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

std::string error_body(const std::string& type, const std::string& code,
                       const std::string& message) {
  return "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n  <Error>\n    "
         "<Type>" +
         type + "</Type>\n    <Code>" + code + "</Code>\n    <Message>" + message +
         "</Message>\n  </Error>\n  <RequestId>9b6e1f8c</RequestId>\n</ErrorResponse>\n";
}

Attempt deliver(const std::string& endpoint, const Message& m,
                std::map<std::string, std::string> env = {
                    {"AWS_ACCESS_KEY_ID", kKeys.access_key_id},
                    {"AWS_SECRET_ACCESS_KEY", kKeys.secret_access_key},
                    {"AWS_SESSION_TOKEN", kKeys.session_token}}) {
  asio::io_context io;
  core::ManualTimeSource clock(testing::kAwsTime);
  auto client = std::make_shared<net::HttpClient>(io.get_executor());
  SnsSmsChannel channel(client, testing::fixed_credentials(client, clock, std::move(env)), clock,
                        "us-east-1", endpoint);
  auto fut = asio::co_spawn(io, channel.deliver(m), asio::use_future);
  io.run();
  return fut.get();
}

std::string base(const CannedServer& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
}

TEST(SnsSmsChannel, SendsASignedPublishRequest) {
  CannedServer server(answer(200,
                             "<PublishResponse><PublishResult><MessageId>m-1</MessageId>"
                             "</PublishResult></PublishResponse>"));
  const auto m = sample();
  const auto attempt = deliver(base(server), m);
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered);
  EXPECT_EQ(attempt.detail, "sns answered 200");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto req = parse_request(requests[0]);
  EXPECT_EQ(req.request_line, "POST / HTTP/1.1");
  EXPECT_EQ(req.headers.at("content-type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(req.headers.at("x-amz-date"), "20150830T123600Z");
  EXPECT_EQ(req.headers.at("x-amz-security-token"), "session-token/+=");
  EXPECT_EQ(
      req.headers.at("authorization")
          .rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sns/aws4_request, "
                 "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=",
                 0),
      0u)
      << req.headers.at("authorization");
  // Worked out by hand: '+' for spaces, %XX for the rest, UTF-8 bytes for 'ü'.
  EXPECT_EQ(req.body,
            "Action=Publish&Version=2010-03-31&PhoneNumber=%2B14155550100"
            "&Message=Acme%3A+Ihr+Code+lautet+123456+%28g%C3%BCltig+5+Min.%29%0A%0A%40acme.example+"
            "%23123456"
            "&MessageAttributes.entry.1.Name=AWS.SNS.SMS.SMSType"
            "&MessageAttributes.entry.1.Value.DataType=String"
            "&MessageAttributes.entry.1.Value.StringValue=Transactional");
  testing::expect_botocore_agrees(req, base(server) + "/", kKeys, "us-east-1", "sns");
}

TEST(SnsSmsChannel, AnEndpointWithATrailingSlashPostsToTheRoot) {
  CannedServer server(answer(200, ""));
  deliver(base(server) + "/", sample());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(parse_request(requests[0]).request_line, "POST / HTTP/1.1");
}

TEST(SnsSmsChannel, MapsAnswersToOutcomesWithoutTheNumberOrCode) {
  const auto m = sample();
  // SNS's messages repeat the number; only the error code's name may reach the logs.
  const std::vector<std::tuple<int, std::string, AttemptResult, std::string>> cases{
      {200, "", AttemptResult::kDelivered, "sns answered 200"},
      {400,
       error_body("Sender", "InvalidParameter",
                  "Invalid parameter: PhoneNumber Reason: +14155550100 is not valid (123456)"),
       AttemptResult::kPermanent, "sns answered 400 (InvalidParameter)"},
      {403, error_body("Sender", "AuthorizationError", "not authorized"), AttemptResult::kPermanent,
       "sns answered 403 (AuthorizationError)"},
      {403, error_body("Sender", "ExpiredToken", "The security token included is expired"),
       AttemptResult::kTransient, "sns answered 403 (ExpiredToken)"},
      {400, error_body("Sender", "Throttling", "Rate exceeded"), AttemptResult::kTransient,
       "sns answered 400 (Throttling)"},
      {429, error_body("Sender", "Throttled", "Rate exceeded"), AttemptResult::kTransient,
       "sns answered 429 (Throttled)"},
      {500, error_body("Receiver", "InternalError", "x"), AttemptResult::kTransient,
       "sns answered 500 (InternalError)"},
      {502, "<html>bad gateway</html>", AttemptResult::kTransient, "sns answered 502"},
  };
  for (const auto& [status, body, result, detail] : cases) {
    CannedServer server(answer(status, body));
    const auto attempt = deliver(base(server), m);
    EXPECT_EQ(attempt.result, result) << status << " " << body;
    EXPECT_EQ(attempt.detail, detail);
    EXPECT_EQ(attempt.detail.find(m.to), std::string::npos);
    EXPECT_EQ(attempt.detail.find(m.code), std::string::npos);
  }
}

TEST(SnsSmsChannel, NoCredentialsIsTransientAndSendsNothing) {
  CannedServer server(answer(200, ""));
  const auto attempt = deliver(base(server), sample(), {});
  EXPECT_EQ(attempt.result, AttemptResult::kTransient);
  EXPECT_EQ(attempt.detail, "no AWS credentials");
  EXPECT_TRUE(server.requests().empty());
}

TEST(SnsSmsChannel, NetworkErrorIsTransient) {
  unsigned short port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, {asio::ip::address_v4::loopback(), 0});
    port = probe.local_endpoint().port();
  }
  const auto attempt = deliver("http://127.0.0.1:" + std::to_string(port), sample());
  EXPECT_EQ(attempt.result, AttemptResult::kTransient);
  EXPECT_EQ(attempt.detail.rfind("sns request failed: ", 0), 0u) << attempt.detail;
}

}  // namespace
}  // namespace otpd::delivery
