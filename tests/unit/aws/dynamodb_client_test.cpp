// DynamoDb against scripted loopback servers: the signed JSON 1.0 request (checked by
// botocore), which answers are retried and which are not, the deadline, transaction tokens,
// and endpoints without the TTL API.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "aws/dynamodb.hpp"
#include "dynamodb_test_support.hpp"
#include "scripted_server.hpp"

namespace otpd::aws {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::dynamo_answer;
using testing::dynamo_error;
using testing::ScriptedServer;

// 2015-08-30T12:36:00Z
const core::TimePoint kSigningTime = core::from_unix_ms(1440938160000LL);

AttributeValue S(std::string s) { return AttributeValue::string(std::move(s)); }

// A client of `endpoint` with the test keys (or `env`), one I/O thread.
class Client {
 public:
  explicit Client(const std::string& endpoint, std::chrono::milliseconds timeout = 2000ms,
                  std::map<std::string, std::string> env = testing::env_of(testing::kTestKeys))
      : clock_(kSigningTime),
        http_(std::make_shared<net::HttpClient>(io_.io().get_executor())),
        db_(http_, testing::env_credentials(http_, clock_, std::move(env)), clock_,
            DynamoOptions{.region = "eu-west-1", .endpoint = endpoint, .timeout = timeout}) {}

  template <typename T>
  T run(Task<T> task) {
    return io_.run(std::move(task));
  }
  DynamoDb& db() { return db_; }

 private:
  testing::IoThreads io_;
  core::ManualTimeSource clock_;
  std::shared_ptr<net::HttpClient> http_;
  DynamoDb db_;
};

GetItemRequest get_a() { return {.table = "otpd", .key = {{"pk", S("a")}}}; }

TransactWriteRequest one_put() {
  return {
      .actions = {TransactWriteAction::put("otpd", {{"pk", S("a")}}, "attribute_not_exists(pk)")}};
}

std::string token_of(const testing_support::Parsed& request) {
  const auto body = json::parse(request.body);
  return std::string(body.at("ClientRequestToken").as_string());
}

TEST(DynamoClient, SendsASignedJsonRequest) {
  ScriptedServer server({dynamo_answer(200, R"({"Item":{"pk":{"S":"a"},"v":{"N":"3"}}})")});
  Client client(server.url());
  const auto got = client.run(client.db().get_item(get_a()));
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((**got).at("v").if_int64(), 3);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.request_line, "POST / HTTP/1.1");
  EXPECT_EQ(r.headers.at("content-type"), "application/x-amz-json-1.0");
  EXPECT_EQ(r.headers.at("x-amz-target"), "DynamoDB_20120810.GetItem");
  EXPECT_EQ(json::parse(r.body),
            json::parse(R"({"TableName":"otpd","Key":{"pk":{"S":"a"}},"ConsistentRead":true})"));
  EXPECT_EQ(r.headers.at("authorization")
                .rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/dynamodb/"
                       "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, ",
                       0),
            0u)
      << r.headers.at("authorization");
  testing::expect_botocore_agrees(r, server.url() + "/", testing::kTestKeys, "eu-west-1",
                                  "dynamodb");
}

TEST(DynamoClient, SessionTokensAreSentAndSigned) {
  ScriptedServer server({dynamo_answer(200, "{}")});
  Credentials keys = testing::kTestKeys;
  keys.session_token = "session/token+=";
  Client client(server.url(), 2000ms, testing::env_of(keys));
  ASSERT_TRUE(client.run(client.db().put_item({.table = "t", .item = {{"pk", S("a")}}})));
  const auto r = server.requests().at(0);
  EXPECT_EQ(r.headers.at("x-amz-security-token"), "session/token+=");
  EXPECT_EQ(r.headers.at("x-amz-target"), "DynamoDB_20120810.PutItem");
  testing::expect_botocore_agrees(r, server.url() + "/", keys, "eu-west-1", "dynamodb");
}

TEST(DynamoClient, ThrottlingIsRetriedThenAnswered) {
  ScriptedServer server({dynamo_error(400, "ThrottlingException"),
                         dynamo_error(400, "ProvisionedThroughputExceededException"),
                         dynamo_answer(200, R"({"Item":{"pk":{"S":"a"}}})")});
  Client client(server.url());
  const auto got = client.run(client.db().get_item(get_a()));
  ASSERT_TRUE(got) << got.error().aws_code;
  EXPECT_TRUE(got->has_value());
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(DynamoClient, ServerErrorsAreRetried) {
  ScriptedServer server(
      {dynamo_error(500, "InternalServerError"), dynamo_answer(503, ""), dynamo_answer(200, "{}")});
  Client client(server.url());
  const auto got = client.run(client.db().get_item(get_a()));
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(DynamoClient, ThrottledUntilTheDeadlineIsUnavailable) {
  ScriptedServer server({dynamo_error(400, "ThrottlingException")});
  Client client(server.url(), 300ms);
  const auto got = client.run(client.db().get_item(get_a()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kUnavailable);
  EXPECT_EQ(got.error().aws_code, "ThrottlingException");
  EXPECT_EQ(got.error().http_status, 400);
  const auto sent = server.requests().size();
  EXPECT_GE(sent, 2u);
  EXPECT_EQ(static_cast<std::size_t>(got.error().attempts), sent);
}

TEST(DynamoClient, RequestErrorsAreNotRetried) {
  ScriptedServer server({dynamo_error(400, "ValidationException"), dynamo_answer(200, "{}")});
  Client client(server.url());
  const auto got = client.run(client.db().get_item(get_a()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kInvalidRequest);
  EXPECT_EQ(got.error().aws_code, "ValidationException");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(DynamoClient, AFalseConditionIsAnAnswerNotAFailure) {
  ScriptedServer server({dynamo_error(400, "ConditionalCheckFailedException",
                                      R"(,"Item":{"pk":{"S":"a"},"v":{"N":"9"}})")});
  Client client(server.url());
  const auto got = client.run(client.db().update_item(
      {.table = "otpd",
       .key = {{"pk", S("a")}},
       .update_expression = "SET v = :n",
       .condition = "v = :o",
       .values = {{":o", AttributeValue::number(1)}, {":n", AttributeValue::number(2)}},
       .return_item_on_condition_failure = true}));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kConditionFailed);
  ASSERT_TRUE(got.error().item.has_value());
  EXPECT_EQ(got.error().item->at("v").if_int64(), 9);
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].headers.at("x-amz-target"), "DynamoDB_20120810.UpdateItem");
}

TEST(DynamoClient, ExpiredCredentialsAreFetchedAgainOnce) {
  ScriptedServer once({dynamo_error(400, "ExpiredTokenException"), dynamo_answer(200, "{}")});
  Client a(once.url());
  EXPECT_TRUE(a.run(a.db().get_item(get_a())));
  EXPECT_EQ(once.requests().size(), 2u);

  ScriptedServer always({dynamo_error(400, "ExpiredTokenException")});
  Client b(always.url());
  const auto got = b.run(b.db().get_item(get_a()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kAccessDenied);
  EXPECT_EQ(always.requests().size(), 2u);
}

TEST(DynamoClient, NoCredentialsSendsNothing) {
  ScriptedServer server({dynamo_answer(200, "{}")});
  Client client(server.url(), 2000ms, {});
  const auto got = client.run(client.db().get_item(get_a()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kAccessDenied);
  EXPECT_EQ(got.error().detail, "no AWS credentials");
  EXPECT_TRUE(server.requests().empty());
}

TEST(DynamoClient, ConflictCancellationsAreRetriedWithANewToken) {
  const std::string conflict =
      dynamo_error(400, "TransactionCanceledException",
                   R"(,"CancellationReasons":[{"Code":"TransactionConflict"},{"Code":"None"}])");
  ScriptedServer server({conflict, dynamo_answer(200, "{}")});
  Client client(server.url());
  EXPECT_TRUE(client.run(client.db().transact_write(one_put())));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].headers.at("x-amz-target"), "DynamoDB_20120810.TransactWriteItems");
  EXPECT_FALSE(token_of(requests[0]).empty());
  EXPECT_NE(token_of(requests[0]), token_of(requests[1]));
}

TEST(DynamoClient, ALostAnswerIsRetriedWithTheSameToken) {
  ScriptedServer server({dynamo_error(500, "InternalServerError"), dynamo_answer(200, "{}")});
  Client client(server.url());
  EXPECT_TRUE(client.run(client.db().transact_write(one_put())));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(token_of(requests[0]), token_of(requests[1]));
}

TEST(DynamoClient, ACallersTokenIsKeptAndItsCancellationsReturned) {
  ScriptedServer server(
      {dynamo_error(400, "TransactionCanceledException",
                    R"(,"CancellationReasons":[{"Code":"TransactionConflict"}])")});
  Client client(server.url());
  auto request = one_put();
  request.client_request_token = "caller-token";
  const auto got = client.run(client.db().transact_write(request));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kTransactionCanceled);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(token_of(server.requests()[0]), "caller-token");
}

TEST(DynamoClient, AFailedConditionCancelsWithoutRetry) {
  ScriptedServer server({dynamo_error(
      400, "TransactionCanceledException",
      R"(,"CancellationReasons":[{"Code":"ConditionalCheckFailed"},{"Code":"TransactionConflict"}])")});
  Client client(server.url());
  const auto got = client.run(client.db().transact_write(one_put()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kTransactionCanceled);
  ASSERT_EQ(got.error().reasons.size(), 2u);
  EXPECT_TRUE(got.error().reasons[0].condition_failed());
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(DynamoClient, ConflictsUntilTheDeadlineAreUnavailableWithTheirReasons) {
  ScriptedServer server(
      {dynamo_error(400, "TransactionCanceledException",
                    R"(,"CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict"}])")});
  Client client(server.url(), 300ms);
  const auto got = client.run(client.db().transact_get(
      {{"otpd", {{"pk", S("a")}}, "", {}}, {"otpd", {{"pk", S("b")}}, "", {}}}));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kUnavailable);
  EXPECT_EQ(got.error().aws_code, "TransactionCanceledException");
  ASSERT_EQ(got.error().reasons.size(), 2u);
  EXPECT_EQ(got.error().reasons[1].code, "TransactionConflict");
  EXPECT_GE(server.requests().size(), 2u);
}

TEST(DynamoClient, ASilentServerIsUnavailableWhenTheDeadlinePasses) {
  ScriptedServer server({});
  Client client(server.url(), 300ms);
  const auto started = std::chrono::steady_clock::now();
  const auto got = client.run(client.db().get_item(get_a()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kUnavailable);
  EXPECT_EQ(got.error().http_status, 0);
  EXPECT_FALSE(got.error().detail.empty());
  EXPECT_EQ(server.requests().size(), 1u);
  // Not a speed check: a guard that the deadline ends the wait rather than the server.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
}

// A caller doing several requests for one task gives them one deadline: a request's own,
// when sooner than the client's timeout, ends it (retries and all).
TEST(DynamoClient, ARequestsOwnDeadlineEndsItBeforeTheClientsTimeout) {
  ScriptedServer server({});
  Client client(server.url(), 60'000ms);
  GetItemRequest request = get_a();
  request.deadline = std::chrono::steady_clock::now() + 300ms;
  const auto started = std::chrono::steady_clock::now();
  const auto got = client.run(client.db().get_item(request));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kUnavailable);
  // Not a speed check: without the request's deadline this would wait the client's minute.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  // A deadline already past sends nothing at all.
  request.deadline = std::chrono::steady_clock::now();
  EXPECT_EQ(client.run(client.db().get_item(request)).error().errc, DynamoErrc::kUnavailable);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(DynamoClient, ARefusedConnectionIsRetriedThenUnavailable) {
  std::string url;
  {
    ScriptedServer gone({});
    url = gone.url();
  }
  Client client(url, 300ms);
  const auto got = client.run(client.db().get_item(get_a()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kUnavailable);
  EXPECT_GE(got.error().attempts, 2);
  EXPECT_FALSE(got.error().detail.empty());
}

TEST(DynamoClient, AnAnswerThatIsNotJsonIsABadResponse) {
  ScriptedServer server({dynamo_answer(200, "<html>captive portal</html>")});
  Client client(server.url());
  const auto got = client.run(client.db().get_item(get_a()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kBadResponse);
}

TEST(DynamoClient, EndpointsWithoutTheTtlApiAreToleratedNotFailed) {
  ScriptedServer server({dynamo_error(400, "UnknownOperationException")});
  Client client(server.url());
  auto ttl = client.run(client.db().describe_ttl("otpd"));
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->status, TimeToLive::Status::kUnsupported);
  ttl = client.run(client.db().ensure_ttl("otpd", "expires"));
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->status, TimeToLive::Status::kUnsupported);
  ttl = client.run(client.db().update_ttl("otpd", "expires", true));
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->status, TimeToLive::Status::kUnsupported);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);  // ensure_ttl stopped after describing
  EXPECT_EQ(requests[2].headers.at("x-amz-target"), "DynamoDB_20120810.UpdateTimeToLive");
}

TEST(DynamoClient, EnsureTtlLeavesAnEnabledTtlAlone) {
  ScriptedServer server({dynamo_answer(
      200, R"({"TimeToLiveDescription":{"TimeToLiveStatus":"ENABLED","AttributeName":"other"}})")});
  Client client(server.url());
  const auto ttl = client.run(client.db().ensure_ttl("otpd", "expires"));
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->status, TimeToLive::Status::kEnabled);
  EXPECT_EQ(ttl->attribute, "other");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(DynamoClient, RefusesAPlainHttpEndpointOffTheHost) {
  testing::IoThreads io;
  core::ManualTimeSource clock(kSigningTime);
  auto http = std::make_shared<net::HttpClient>(io.io().get_executor());
  auto credentials = testing::env_credentials(http, clock, {});
  EXPECT_THROW(DynamoDb(http, credentials, clock,
                        {.region = "eu-west-1", .endpoint = "http://dynamodb.example.test"}),
               std::invalid_argument);
  EXPECT_NO_THROW(DynamoDb(http, credentials, clock, {.region = "eu-west-1"}));
}

}  // namespace
}  // namespace otpd::aws
