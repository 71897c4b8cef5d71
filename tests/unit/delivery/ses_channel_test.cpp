// The SES v2 email channel against a loopback server: the exact signed request, checked by
// botocore, and how SES's answers map to outcomes without leaking the address or the code.
#include "delivery/ses_channel.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
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

Message sample(bool html = true) {
  Message m;
  m.tenant = core::TenantId("acme");
  m.id = core::VerificationId("v_abc");
  m.channel = core::ChannelKind::kEmail;
  m.to = "ana@example.test";
  m.code = "123456";
  m.subject = "Ihr Code für Acme: 123456";
  m.text = "Ihr Code lautet 123456.\n\"Gültig\" 5 Min.";
  if (html) m.html = "<p>Ihr Code lautet <b>123456</b></p>";
  return m;
}

std::string answer(int status, const std::string& body, const std::string& headers = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + headers + "Connection: close\r\n\r\n" + body;
}

std::map<std::string, std::string> env_of(const aws::Credentials& keys) {
  return {{"AWS_ACCESS_KEY_ID", keys.access_key_id},
          {"AWS_SECRET_ACCESS_KEY", keys.secret_access_key},
          {"AWS_SESSION_TOKEN", keys.session_token}};
}

Attempt deliver(const std::string& endpoint, const Message& m,
                std::map<std::string, std::string> env = env_of(kKeys)) {
  asio::io_context io;
  core::ManualTimeSource clock(testing::kAwsTime);
  auto client = std::make_shared<net::HttpClient>(io.get_executor());
  SesEmailChannel channel(client, testing::fixed_credentials(client, clock, std::move(env)), clock,
                          "eu-west-1", "Acme <no-reply@acme.test>", endpoint);
  auto fut = asio::co_spawn(io, channel.deliver(m), asio::use_future);
  io.run();
  return fut.get();
}

std::string base(const CannedServer& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
}

TEST(SesEmailChannel, SendsASignedSendEmailRequest) {
  CannedServer server(answer(200, R"({"MessageId":"0100-abc"})"));
  const auto m = sample();
  const auto attempt = deliver(base(server) + "/", m);
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered);
  EXPECT_EQ(attempt.detail, "ses answered 200");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto req = parse_request(requests[0]);
  EXPECT_EQ(req.request_line, "POST /v2/email/outbound-emails HTTP/1.1");
  EXPECT_EQ(req.headers.at("content-type"), "application/json");
  EXPECT_EQ(req.headers.at("x-amz-date"), "20150830T123600Z");
  EXPECT_EQ(req.headers.at("x-amz-security-token"), "session-token/+=");
  EXPECT_EQ(req.headers.count("x-amz-content-sha256"), 0u);
  EXPECT_EQ(
      req.headers.at("authorization")
          .rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/ses/aws4_request, "
                 "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=",
                 0),
      0u)
      << req.headers.at("authorization");
  EXPECT_EQ(boost::json::parse(req.body), boost::json::parse(R"({
    "FromEmailAddress": "Acme <no-reply@acme.test>",
    "Destination": {"ToAddresses": ["ana@example.test"]},
    "Content": {"Simple": {
      "Subject": {"Data": "Ihr Code für Acme: 123456", "Charset": "UTF-8"},
      "Body": {
        "Text": {"Data": "Ihr Code lautet 123456.\n\"Gültig\" 5 Min.", "Charset": "UTF-8"},
        "Html": {"Data": "<p>Ihr Code lautet <b>123456</b></p>", "Charset": "UTF-8"}}}}})"));
  testing::expect_botocore_agrees(req, base(server) + "/v2/email/outbound-emails", kKeys,
                                  "eu-west-1", "ses");
}

TEST(SesEmailChannel, NoHtmlPartWhenTheMessageHasNone) {
  EXPECT_EQ(
      ses_request_body("a@b.test", sample(false)),
      R"({"FromEmailAddress":"a@b.test","Destination":{"ToAddresses":["ana@example.test"]},)"
      R"("Content":{"Simple":{"Subject":{"Data":"Ihr Code für Acme: 123456","Charset":"UTF-8"},)"
      R"("Body":{"Text":{"Data":"Ihr Code lautet 123456.\n\"Gültig\" 5 Min.","Charset":"UTF-8"}}}}})");
}

TEST(SesEmailChannel, LongTermKeysSendNoSessionToken) {
  CannedServer server(answer(200, "{}"));
  aws::Credentials keys = kKeys;
  keys.session_token = "";
  deliver(base(server), sample(), env_of(keys));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto req = parse_request(requests[0]);
  EXPECT_EQ(req.headers.count("x-amz-security-token"), 0u);
  testing::expect_botocore_agrees(req, base(server) + "/v2/email/outbound-emails", keys,
                                  "eu-west-1", "ses");
}

TEST(SesEmailChannel, MapsAnswersToOutcomesWithoutTheAddressOrCode) {
  const auto m = sample();
  // SES's messages repeat the address; only the error code's name may reach the logs.
  const std::string rejected = R"({"message":"Email address is not verified. ana@example.test"})";
  const std::vector<std::tuple<int, std::string, std::string, AttemptResult, std::string>> cases{
      {200, "{}", "", AttemptResult::kDelivered, "ses answered 200"},
      {400, rejected, "x-amzn-ErrorType: MessageRejected:http://internal.amazon.com/\r\n",
       AttemptResult::kPermanent, "ses answered 400 (MessageRejected)"},
      {400, R"({"message":"123456"})", "x-amzn-ErrorType: BadRequestException\r\n",
       AttemptResult::kPermanent, "ses answered 400 (BadRequestException)"},
      {403, R"({"message":"The security token included in the request is expired"})",
       "x-amzn-ErrorType: ExpiredTokenException\r\n", AttemptResult::kTransient,
       "ses answered 403 (ExpiredTokenException)"},
      {404, "{}", "x-amzn-ErrorType: NotFoundException\r\n", AttemptResult::kPermanent,
       "ses answered 404 (NotFoundException)"},
      {429, R"({"message":"Maximum sending rate exceeded."})",
       "x-amzn-ErrorType: TooManyRequestsException\r\n", AttemptResult::kTransient,
       "ses answered 429 (TooManyRequestsException)"},
      {400, R"({"__type":"Throttling","message":"Rate exceeded"})", "", AttemptResult::kTransient,
       "ses answered 400 (Throttling)"},
      {500, "{}", "x-amzn-ErrorType: InternalFailure\r\n", AttemptResult::kTransient,
       "ses answered 500 (InternalFailure)"},
      {503, "oops", "", AttemptResult::kTransient, "ses answered 503"},
      {301, "", "Location: https://elsewhere.test/\r\n", AttemptResult::kPermanent,
       "ses answered 301"},
  };
  for (const auto& [status, body, headers, result, detail] : cases) {
    CannedServer server(answer(status, body, headers));
    const auto attempt = deliver(base(server), m);
    EXPECT_EQ(attempt.result, result) << status << " " << headers;
    EXPECT_EQ(attempt.detail, detail);
    EXPECT_EQ(attempt.detail.find(m.to), std::string::npos);
    EXPECT_EQ(attempt.detail.find(m.code), std::string::npos);
  }
}

TEST(SesEmailChannel, NoCredentialsIsTransientAndSendsNothing) {
  CannedServer server(answer(200, "{}"));
  const auto attempt = deliver(base(server), sample(), {});
  EXPECT_EQ(attempt.result, AttemptResult::kTransient);
  EXPECT_EQ(attempt.detail, "no AWS credentials");
  EXPECT_TRUE(server.requests().empty());
}

TEST(SesEmailChannel, NetworkErrorIsTransient) {
  unsigned short port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, {asio::ip::address_v4::loopback(), 0});
    port = probe.local_endpoint().port();
  }
  const auto m = sample();
  const auto attempt = deliver("http://127.0.0.1:" + std::to_string(port), m);
  EXPECT_EQ(attempt.result, AttemptResult::kTransient);
  EXPECT_EQ(attempt.detail.rfind("ses request failed: ", 0), 0u) << attempt.detail;
  EXPECT_EQ(attempt.detail.find(m.to), std::string::npos);
}

}  // namespace
}  // namespace otpd::delivery
