// The item operations of DynamoDB that a store needs (GetItem, TransactGetItems, Query,
// PutItem, UpdateItem, DeleteItem, TransactWriteItems) as request and result values, and their
// JSON 1.0 bodies. Expressions are DynamoDB's own text; values go in `values` (":v") and
// attribute names that are reserved words in `names` ("#v"). An empty `names` or `values` is
// left out of the body, as DynamoDB rejects empty maps.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "aws/dynamodb_error.hpp"
#include "aws/dynamodb_value.hpp"

namespace otpd::aws {

// When an operation must be over (its retries included), if sooner than the client's own
// timeout: a caller making several requests for one task gives them all one deadline.
using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// ReturnValues of UpdateItem: which attributes the result carries.
enum class ReturnValues { kNone, kAllOld, kUpdatedOld, kAllNew, kUpdatedNew };

struct GetItemRequest {
  std::string table{};
  Item key{};
  bool consistent_read = true;  // a store reads what it has just written
  std::string projection{};     // ProjectionExpression; "" reads every attribute
  ExpressionNames names{};
  Deadline deadline{};
};

// One Get of a TransactGetItems: a consistent snapshot of up to 100 items, all read at the
// same instant (at twice the read cost of a GetItem).
struct TransactGet {
  std::string table{};
  Item key{};
  std::string projection{};
  ExpressionNames names{};
};

struct QueryRequest {
  std::string table{};
  std::string index{};          // "" queries the table, else that global secondary index
  std::string key_condition{};  // KeyConditionExpression: the partition key, maybe a sort range
  std::string filter{};         // FilterExpression, applied after Limit; "" for none
  std::string projection{};     // ProjectionExpression; "" reads every attribute
  ExpressionNames names{};
  Item values{};
  bool forward = true;           // ScanIndexForward: ascending sort key
  std::optional<int> limit{};    // Limit: items evaluated (before the filter) in this page
  bool consistent_read = false;  // not allowed on a global secondary index
  std::optional<Item> exclusive_start_key{};  // the last_evaluated_key of the page before
  // Select COUNT: the page's matching items are counted, not returned (their reading is
  // billed all the same).
  bool count_only = false;
  Deadline deadline{};
};

struct QueryResult {
  std::vector<Item> items{};
  long long count = 0;  // Count: items matching in this page (returned or, count_only, not)
  // Set when there may be more: pass it as exclusive_start_key for the next page.
  std::optional<Item> last_evaluated_key{};
};

struct PutItemRequest {
  std::string table{};
  Item item{};
  std::string condition{};  // ConditionExpression; "" writes unconditionally
  ExpressionNames names{};
  Item values{};
  bool return_old = false;  // ReturnValues ALL_OLD: the result is the item replaced
  // ReturnValuesOnConditionCheckFailure ALL_OLD: a kConditionFailed error carries the item.
  bool return_item_on_condition_failure = false;
  Deadline deadline{};
};

struct UpdateItemRequest {
  std::string table{};
  Item key{};
  std::string update_expression{};  // "SET #v = :v ADD n :one"
  std::string condition{};          // ConditionExpression; "" for none
  ExpressionNames names{};
  Item values{};
  ReturnValues return_values = ReturnValues::kNone;
  bool return_item_on_condition_failure = false;
  Deadline deadline{};
};

struct DeleteItemRequest {
  std::string table{};
  Item key{};
  std::string condition{};
  ExpressionNames names{};
  Item values{};
  bool return_old = false;  // the result is the item deleted
  bool return_item_on_condition_failure = false;
  Deadline deadline{};
};

// One action of a TransactWriteItems. The named constructors fill what each kind needs; set
// names, values and return_item_on_condition_failure on the result.
struct TransactWriteAction {
  enum class Kind { kConditionCheck, kPut, kUpdate, kDelete };

  static TransactWriteAction condition_check(std::string table, Item key, std::string condition);
  static TransactWriteAction put(std::string table, Item item, std::string condition = {});
  static TransactWriteAction update(std::string table, Item key, std::string update,
                                    std::string condition = {});
  static TransactWriteAction remove(std::string table, Item key, std::string condition = {});

  Kind kind = Kind::kConditionCheck;
  std::string table{};
  Item key{};                       // kConditionCheck, kUpdate, kDelete
  Item item{};                      // kPut
  std::string update_expression{};  // kUpdate
  std::string condition{};          // required for kConditionCheck, optional otherwise
  ExpressionNames names{};
  Item values{};
  // When the condition fails, the cancellation reason for this action carries the item.
  bool return_item_on_condition_failure = false;
};

struct TransactWriteRequest {
  // 1 to 100 actions, at most one per item; all happen or none does.
  std::vector<TransactWriteAction> actions{};
  // ClientRequestToken: makes a repeated request (same token, same actions, within 10
  // minutes) succeed once. "" lets DynamoDb choose one per call, so that its own retries
  // after a lost answer cannot write twice.
  std::string client_request_token{};
  Deadline deadline{};
};

namespace dynamodb_detail {

// Request bodies (exposed for tests).
boost::json::object body_of(const GetItemRequest& request);
boost::json::object body_of(const std::vector<TransactGet>& gets);
boost::json::object body_of(const QueryRequest& request);
boost::json::object body_of(const PutItemRequest& request);
boost::json::object body_of(const UpdateItemRequest& request);
boost::json::object body_of(const DeleteItemRequest& request);
boost::json::object body_of(const TransactWriteRequest& request);

// Answers; kBadResponse when one is not of the operation's shape.
DynamoResult<std::optional<Item>> parse_get_item(const boost::json::value& answer);
DynamoResult<std::vector<std::optional<Item>>> parse_transact_get(const boost::json::value& answer,
                                                                  std::size_t expected);
DynamoResult<QueryResult> parse_query(const boost::json::value& answer);
// PutItem, UpdateItem and DeleteItem: "Attributes" when ReturnValues asked for them.
DynamoResult<std::optional<Item>> parse_attributes(const boost::json::value& answer);

// BatchWriteItem deleting `keys` (at most 25) from `table`, and the keys its answer says were
// left unprocessed.
boost::json::object batch_delete_body(const std::string& table, const std::vector<Item>& keys);
DynamoResult<std::vector<Item>> parse_unprocessed_deletes(const boost::json::value& answer,
                                                          const std::string& table);

}  // namespace dynamodb_detail

}  // namespace otpd::aws
