// DynamoDB's JSON 1.0 request bodies, answers and error answers, from canned bytes: what the
// client sends and how it reads what comes back.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "aws/dynamodb.hpp"
#include "aws/dynamodb_error.hpp"
#include "aws/dynamodb_items.hpp"
#include "aws/dynamodb_tables.hpp"

namespace otpd::aws {
namespace {

namespace json = boost::json;
using namespace dynamodb_detail;

AttributeValue S(std::string s) { return AttributeValue::string(std::move(s)); }
AttributeValue N(std::int64_t n) { return AttributeValue::number(n); }

net::HttpResponse answer(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(DynamoRequests, GetItem) {
  GetItemRequest r{.table = "otpd", .key = {{"pk", S("a")}, {"sk", S("b")}}};
  EXPECT_EQ(json::value(body_of(r)), json::parse(R"({"TableName":"otpd",
      "Key":{"pk":{"S":"a"},"sk":{"S":"b"}},"ConsistentRead":true})"));
  r.consistent_read = false;
  r.projection = "#v, pk";
  r.names = {{"#v", "version"}};
  EXPECT_EQ(json::value(body_of(r)), json::parse(R"({"TableName":"otpd",
      "Key":{"pk":{"S":"a"},"sk":{"S":"b"}},"ConsistentRead":false,
      "ProjectionExpression":"#v, pk","ExpressionAttributeNames":{"#v":"version"}})"));
}

TEST(DynamoRequests, TransactGet) {
  EXPECT_EQ(json::value(body_of(std::vector<TransactGet>{
                {"t1", {{"pk", S("a")}}, "", {}}, {"t2", {{"pk", N(2)}}, "#x", {{"#x", "x"}}}})),
            json::parse(R"({"TransactItems":[
              {"Get":{"TableName":"t1","Key":{"pk":{"S":"a"}}}},
              {"Get":{"TableName":"t2","Key":{"pk":{"N":"2"}},"ProjectionExpression":"#x",
                      "ExpressionAttributeNames":{"#x":"x"}}}]})"));
}

TEST(DynamoRequests, Query) {
  QueryRequest r;
  r.table = "otpd";
  r.key_condition = "pk = :pk AND sk BETWEEN :a AND :b";
  r.values = {{":pk", S("p")}, {":a", N(1)}, {":b", N(9)}};
  EXPECT_EQ(json::value(body_of(r)), json::parse(R"({"TableName":"otpd",
      "KeyConditionExpression":"pk = :pk AND sk BETWEEN :a AND :b",
      "ExpressionAttributeValues":{":pk":{"S":"p"},":a":{"N":"1"},":b":{"N":"9"}},
      "ScanIndexForward":true,"ConsistentRead":false})"));
  r.index = "by_recipient";
  r.filter = "#s = :s";
  r.names = {{"#s", "status"}};
  r.values[":s"] = S("pending");
  r.forward = false;
  r.limit = 5;
  r.exclusive_start_key = Item{{"pk", S("p")}, {"sk", N(3)}};
  EXPECT_EQ(json::value(body_of(r)), json::parse(R"({"TableName":"otpd","IndexName":"by_recipient",
      "KeyConditionExpression":"pk = :pk AND sk BETWEEN :a AND :b","FilterExpression":"#s = :s",
      "ExpressionAttributeNames":{"#s":"status"},
      "ExpressionAttributeValues":{":pk":{"S":"p"},":a":{"N":"1"},":b":{"N":"9"},":s":{"S":"pending"}},
      "ScanIndexForward":false,"Limit":5,"ConsistentRead":false,
      "ExclusiveStartKey":{"pk":{"S":"p"},"sk":{"N":"3"}}})"));

  QueryRequest count{.table = "otpd", .key_condition = "pk = :pk", .values = {{":pk", S("q")}}};
  count.count_only = true;
  EXPECT_EQ(json::value(body_of(count)), json::parse(R"({"TableName":"otpd",
      "KeyConditionExpression":"pk = :pk","ExpressionAttributeValues":{":pk":{"S":"q"}},
      "ScanIndexForward":true,"ConsistentRead":false,"Select":"COUNT"})"));
}

TEST(DynamoRequests, ConditionalWrites) {
  PutItemRequest put{.table = "otpd",
                     .item = {{"pk", S("a")}, {"v", N(1)}},
                     .condition = "attribute_not_exists(pk)"};
  EXPECT_EQ(json::value(body_of(put)), json::parse(R"~({"TableName":"otpd",
      "Item":{"pk":{"S":"a"},"v":{"N":"1"}},"ConditionExpression":"attribute_not_exists(pk)"})~"));
  put.return_old = true;
  put.return_item_on_condition_failure = true;
  EXPECT_EQ(json::value(body_of(put)), json::parse(R"~({"TableName":"otpd",
      "Item":{"pk":{"S":"a"},"v":{"N":"1"}},"ConditionExpression":"attribute_not_exists(pk)",
      "ReturnValues":"ALL_OLD","ReturnValuesOnConditionCheckFailure":"ALL_OLD"})~"));

  UpdateItemRequest update{.table = "otpd",
                           .key = {{"pk", S("a")}},
                           .update_expression = "SET #v = :new",
                           .condition = "#v = :old",
                           .names = {{"#v", "version"}},
                           .values = {{":old", N(1)}, {":new", N(2)}},
                           .return_values = ReturnValues::kAllNew};
  EXPECT_EQ(json::value(body_of(update)), json::parse(R"({"TableName":"otpd",
      "Key":{"pk":{"S":"a"}},"UpdateExpression":"SET #v = :new","ConditionExpression":"#v = :old",
      "ExpressionAttributeNames":{"#v":"version"},
      "ExpressionAttributeValues":{":old":{"N":"1"},":new":{"N":"2"}},"ReturnValues":"ALL_NEW"})"));

  DeleteItemRequest del{.table = "otpd", .key = {{"pk", S("a")}}};
  EXPECT_EQ(json::value(body_of(del)),
            json::parse(R"({"TableName":"otpd","Key":{"pk":{"S":"a"}}})"));
}

TEST(DynamoRequests, TransactWrite) {
  auto check = TransactWriteAction::condition_check("t", {{"pk", S("c")}}, "#v = :v");
  check.names = {{"#v", "version"}};
  check.values = {{":v", N(3)}};
  check.return_item_on_condition_failure = true;
  TransactWriteRequest r{
      .actions = {check,
                  TransactWriteAction::put("t", {{"pk", S("p")}}, "attribute_not_exists(pk)"),
                  TransactWriteAction::update("t", {{"pk", S("u")}}, "REMOVE x"),
                  TransactWriteAction::remove("t", {{"pk", S("d")}})},
      .client_request_token = "tok-1"};
  EXPECT_EQ(json::value(body_of(r)), json::parse(R"~({"TransactItems":[
      {"ConditionCheck":{"TableName":"t","Key":{"pk":{"S":"c"}},"ConditionExpression":"#v = :v",
        "ExpressionAttributeNames":{"#v":"version"},"ExpressionAttributeValues":{":v":{"N":"3"}},
        "ReturnValuesOnConditionCheckFailure":"ALL_OLD"}},
      {"Put":{"TableName":"t","Item":{"pk":{"S":"p"}},
        "ConditionExpression":"attribute_not_exists(pk)"}},
      {"Update":{"TableName":"t","Key":{"pk":{"S":"u"}},"UpdateExpression":"REMOVE x"}},
      {"Delete":{"TableName":"t","Key":{"pk":{"S":"d"}}}}],
      "ClientRequestToken":"tok-1"})~"));
}

TEST(DynamoRequests, CreateTableDefinesEachKeyAttributeOnce) {
  CreateTableRequest r{
      .table = "otpd",
      .key = {{"pk", KeyType::kString}, KeyAttribute{"sk", KeyType::kNumber}},
      .indexes = {{.name = "by_r",
                   .key = {{"r", KeyType::kBinary}, KeyAttribute{"sk", KeyType::kNumber}},
                   .projection = GlobalIndex::Projection::kInclude,
                   .non_key_attributes = {"status"}}}};
  EXPECT_EQ(json::value(body_of(r)), json::parse(R"({"TableName":"otpd",
      "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},
                              {"AttributeName":"sk","AttributeType":"N"},
                              {"AttributeName":"r","AttributeType":"B"}],
      "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],
      "BillingMode":"PAY_PER_REQUEST",
      "GlobalSecondaryIndexes":[{"IndexName":"by_r",
        "KeySchema":[{"AttributeName":"r","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],
        "Projection":{"ProjectionType":"INCLUDE","NonKeyAttributes":["status"]}}]})"));
  EXPECT_EQ(json::value(update_ttl_body("otpd", "expires", true)),
            json::parse(R"({"TableName":"otpd",
      "TimeToLiveSpecification":{"Enabled":true,"AttributeName":"expires"}})"));
}

TEST(DynamoAnswers, ItemsAndPages) {
  auto got = parse_get_item(json::parse(R"({"Item":{"pk":{"S":"a"}}})"));
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((**got).at("pk"), S("a"));
  got = parse_get_item(json::parse(R"({})"));
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(parse_get_item(json::parse(R"({"Item":{"pk":{"Q":"a"}}})")).error().errc,
            DynamoErrc::kBadResponse);

  auto page = parse_query(json::parse(R"({"Count":2,"ScannedCount":2,
      "Items":[{"sk":{"N":"1"}},{"sk":{"N":"2"}}],"LastEvaluatedKey":{"sk":{"N":"2"}}})"));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[1].at("sk").if_int64(), 2);
  ASSERT_TRUE(page->last_evaluated_key.has_value());
  EXPECT_EQ(page->count, 2);
  page = parse_query(json::parse(R"({"Count":0,"Items":[]})"));
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->items.empty());
  // Select COUNT: a count and no items.
  page = parse_query(json::parse(R"({"Count":7,"ScannedCount":9})"));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->count, 7);
  EXPECT_TRUE(page->items.empty());
  EXPECT_FALSE(parse_query(json::parse(R"({"Count":"7"})")));
  EXPECT_FALSE(page->last_evaluated_key.has_value());
  EXPECT_FALSE(parse_query(json::parse(R"({"Items":{}})")));

  auto snapshot =
      parse_transact_get(json::parse(R"({"Responses":[{"Item":{"pk":{"S":"a"}}},{}]})"), 2);
  ASSERT_TRUE(snapshot);
  EXPECT_TRUE((*snapshot)[0].has_value());
  EXPECT_FALSE((*snapshot)[1].has_value());
  EXPECT_FALSE(parse_transact_get(json::parse(R"({"Responses":[{}]})"), 2));

  auto attributes = parse_attributes(json::parse(R"({"Attributes":{"v":{"N":"2"}}})"));
  ASSERT_TRUE(attributes && attributes->has_value());
  EXPECT_EQ((**attributes).at("v").if_int64(), 2);
  attributes = parse_attributes(json::parse(R"({})"));
  ASSERT_TRUE(attributes);
  EXPECT_FALSE(attributes->has_value());
}

TEST(DynamoRequests, BatchDelete) {
  EXPECT_EQ(json::value(batch_delete_body("otpd", {{{"pk", S("a")}}, {{"pk", S("b")}}})),
            json::parse(R"({"RequestItems":{"otpd":[
              {"DeleteRequest":{"Key":{"pk":{"S":"a"}}}},
              {"DeleteRequest":{"Key":{"pk":{"S":"b"}}}}]}})"));
  auto none = parse_unprocessed_deletes(json::parse(R"({"UnprocessedItems":{}})"), "otpd");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto left = parse_unprocessed_deletes(json::parse(R"({"UnprocessedItems":{"otpd":[
      {"DeleteRequest":{"Key":{"pk":{"S":"b"}}}}]}})"),
                                        "otpd");
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->at(0).at("pk"), S("b"));
  EXPECT_FALSE(parse_unprocessed_deletes(
      json::parse(R"({"UnprocessedItems":{"otpd":[{"PutRequest":{}}]}})"), "otpd"));
}

TEST(DynamoAnswers, TablesAndTimeToLive) {
  auto table = parse_table(json::parse(R"({"Table":{"TableName":"otpd","TableStatus":"ACTIVE",
      "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},
                              {"AttributeName":"r","AttributeType":"B"}],
      "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
      "GlobalSecondaryIndexes":[{"IndexName":"by_r","IndexStatus":"CREATING",
        "KeySchema":[{"AttributeName":"r","KeyType":"HASH"}]}]}})"),
                           "Table");
  ASSERT_TRUE(table);
  EXPECT_EQ(table->name, "otpd");
  EXPECT_EQ(table->key, (KeySchema{{"pk", KeyType::kString}, std::nullopt}));
  ASSERT_NE(table->index("by_r"), nullptr);
  EXPECT_EQ(table->index("by_r")->key.partition, (KeyAttribute{"r", KeyType::kBinary}));
  EXPECT_FALSE(table->active());  // its index is still being built
  EXPECT_FALSE(parse_table(json::parse(R"({"Table":{"TableName":"otpd"}})"), "Table"));

  auto ttl = parse_describe_ttl(json::parse(
      R"({"TimeToLiveDescription":{"TimeToLiveStatus":"ENABLED","AttributeName":"expires"}})"));
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->status, TimeToLive::Status::kEnabled);
  EXPECT_EQ(ttl->attribute, "expires");
  ttl = parse_describe_ttl(
      json::parse(R"({"TimeToLiveDescription":{"TimeToLiveStatus":"DISABLED"}})"));
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->status, TimeToLive::Status::kDisabled);
  ttl = parse_update_ttl(
      json::parse(R"({"TimeToLiveSpecification":{"Enabled":true,"AttributeName":"expires"}})"));
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->status, TimeToLive::Status::kEnabling);
}

TEST(DynamoErrors, EachCodeItsKindAndNoMessageKept) {
  struct Case {
    int status;
    const char* type;
    DynamoErrc errc;
    bool retryable;
  };
  const Case cases[] = {
      {400, "ConditionalCheckFailedException", DynamoErrc::kConditionFailed, false},
      {400, "ResourceNotFoundException", DynamoErrc::kResourceNotFound, false},
      {400, "ResourceInUseException", DynamoErrc::kResourceInUse, false},
      {400, "ValidationException", DynamoErrc::kInvalidRequest, false},
      {400, "SerializationException", DynamoErrc::kInvalidRequest, false},
      {400, "ItemCollectionSizeLimitExceededException", DynamoErrc::kInvalidRequest, false},
      {400, "UnknownOperationException", DynamoErrc::kInvalidRequest, false},
      {400, "UnrecognizedClientException", DynamoErrc::kAccessDenied, false},
      {400, "AccessDeniedException", DynamoErrc::kAccessDenied, false},
      {403, "InvalidSignatureException", DynamoErrc::kAccessDenied, false},
      {400, "ProvisionedThroughputExceededException", DynamoErrc::kUnavailable, true},
      {400, "ThrottlingException", DynamoErrc::kUnavailable, true},
      {400, "RequestLimitExceeded", DynamoErrc::kUnavailable, true},
      {400, "TransactionConflictException", DynamoErrc::kUnavailable, true},
      {400, "TransactionInProgressException", DynamoErrc::kUnavailable, true},
      {400, "LimitExceededException", DynamoErrc::kUnavailable, true},
      {500, "InternalServerError", DynamoErrc::kUnavailable, true},
      {503, "ServiceUnavailable", DynamoErrc::kUnavailable, true},
  };
  for (const auto& c : cases) {
    const auto body = std::string(R"({"__type":"com.amazonaws.dynamodb.v20120810#)") + c.type +
                      R"(","message":"item text 123456"})";
    const auto e = error_of(answer(c.status, body));
    EXPECT_EQ(e.errc, c.errc) << c.type;
    EXPECT_EQ(e.aws_code, c.type);
    EXPECT_EQ(e.http_status, c.status);
    EXPECT_EQ(is_retryable(e), c.retryable) << c.type;
    EXPECT_EQ(e.detail, "");
    EXPECT_EQ(e.code(), make_error_code(c.errc));
  }
  // No code at all: the status decides.
  EXPECT_EQ(error_of(answer(502, "<html>bad gateway</html>")).errc, DynamoErrc::kUnavailable);
  EXPECT_EQ(error_of(answer(429, "")).errc, DynamoErrc::kUnavailable);
  EXPECT_EQ(error_of(answer(403, "")).errc, DynamoErrc::kAccessDenied);
  EXPECT_EQ(error_of(answer(400, "")).errc, DynamoErrc::kInvalidRequest);
  net::HttpResponse none;
  none.error = "timeout";
  const auto e = error_of(none);
  EXPECT_EQ(e.errc, DynamoErrc::kUnavailable);
  EXPECT_EQ(e.detail, "timeout");
  EXPECT_TRUE(is_retryable(e));
}

TEST(DynamoErrors, CancellationReasonsWithTheirItems) {
  // As DynamoDB writes it: "Message" capitalised, one reason per action.
  const auto e = error_of(
      answer(400, R"({"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
      "CancellationReasons":[{"Code":"None"},
        {"Code":"ConditionalCheckFailed","Item":{"pk":{"S":"a"},"v":{"N":"4"}},"Message":"The conditional request failed"},
        {"Code":"None"}],
      "Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None]"})"));
  EXPECT_EQ(e.errc, DynamoErrc::kTransactionCanceled);
  ASSERT_EQ(e.reasons.size(), 3u);
  EXPECT_EQ(e.reasons[0].code, "None");
  EXPECT_FALSE(e.reasons[0].condition_failed());
  EXPECT_TRUE(e.reasons[1].condition_failed());
  ASSERT_TRUE(e.reasons[1].item.has_value());
  EXPECT_EQ(e.reasons[1].item->at("v").if_int64(), 4);
  EXPECT_FALSE(e.reasons[2].item.has_value());
  EXPECT_FALSE(is_retryable(e));

  const auto conflict = error_of(
      answer(400, R"({"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
      "CancellationReasons":[{"Code":"TransactionConflict"},{"Code":"None"}]})"));
  EXPECT_TRUE(only_transient_reasons(conflict.reasons));
  EXPECT_TRUE(is_retryable(conflict));
  EXPECT_FALSE(only_transient_reasons({{"None", std::nullopt}}));
  EXPECT_FALSE(only_transient_reasons({}));
  EXPECT_FALSE(only_transient_reasons(
      {{"ThrottlingError", std::nullopt}, {"ValidationError", std::nullopt}}));

  const auto failed = error_of(
      answer(400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
      "message":"The conditional request failed","Item":{"pk":{"S":"a"}}})"));
  EXPECT_EQ(failed.errc, DynamoErrc::kConditionFailed);
  ASSERT_TRUE(failed.item.has_value());
  EXPECT_EQ(failed.item->at("pk"), S("a"));
}

TEST(DynamoEndpoint, RegionalDefaultAndCheckedEndpoints) {
  std::string why;
  EXPECT_EQ(dynamodb_url({.region = "eu-west-1"}, why),
            "https://dynamodb.eu-west-1.amazonaws.com/");
  EXPECT_EQ(dynamodb_url({.region = "us-east-1", .endpoint = "http://127.0.0.1:8000"}, why),
            "http://127.0.0.1:8000/");
  EXPECT_EQ(dynamodb_url({.region = "us-east-1", .endpoint = "http://localhost:8000/"}, why),
            "http://localhost:8000/");
  EXPECT_EQ(dynamodb_url({.region = "us-east-1", .endpoint = "http://[::1]:8000"}, why),
            "http://[::1]:8000/");
  EXPECT_EQ(dynamodb_url({.region = "us-east-1", .endpoint = "https://ddb.internal.test"}, why),
            "https://ddb.internal.test/");
  for (const auto& bad : {"http://10.0.0.5:8000", "http://ddb.internal.test", "ftp://127.0.0.1",
                          "127.0.0.1:8000", "https://h/?x=1", "https://user@h", "http://"}) {
    why.clear();
    EXPECT_FALSE(dynamodb_url({.region = "us-east-1", .endpoint = bad}, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
  EXPECT_FALSE(dynamodb_url({.region = ""}, why));
  EXPECT_FALSE(dynamodb_url({.region = "eu-west-1.evil.test/x"}, why));
}

}  // namespace
}  // namespace otpd::aws
