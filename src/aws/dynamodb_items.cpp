// JSON bodies of DynamoDB's item operations and the decoding of their answers.
#include "aws/dynamodb_items.hpp"

#include <boost/json/array.hpp>
#include <utility>

namespace otpd::aws {
namespace {

namespace json = boost::json;

void add_expressions(json::object& body, const std::string& condition, const ExpressionNames& names,
                     const Item& values) {
  if (!condition.empty()) body["ConditionExpression"] = condition;
  if (!names.empty()) {
    json::object n;
    for (const auto& [placeholder, name] : names) n[placeholder] = name;
    body["ExpressionAttributeNames"] = std::move(n);
  }
  if (!values.empty()) body["ExpressionAttributeValues"] = to_json(values);
}

void add_condition_failure_item(json::object& body, bool wanted) {
  if (wanted) body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD";
}

const char* return_values_name(ReturnValues r) {
  switch (r) {
    case ReturnValues::kNone:
      return "NONE";
    case ReturnValues::kAllOld:
      return "ALL_OLD";
    case ReturnValues::kUpdatedOld:
      return "UPDATED_OLD";
    case ReturnValues::kAllNew:
      return "ALL_NEW";
    case ReturnValues::kUpdatedNew:
      return "UPDATED_NEW";
  }
  return "NONE";
}

DynamoError bad_response() {
  DynamoError e;
  e.errc = DynamoErrc::kBadResponse;
  return e;
}

// An optional item member: absent is nullopt, present but malformed is an error.
bool optional_item(const json::object& answer, std::string_view key, std::optional<Item>& out) {
  const auto* v = answer.if_contains(key);
  if (v == nullptr) return true;
  out = item_from_json(*v);
  return out.has_value();
}

}  // namespace

TransactWriteAction TransactWriteAction::condition_check(std::string table, Item key,
                                                         std::string condition) {
  TransactWriteAction a;
  a.kind = Kind::kConditionCheck;
  a.table = std::move(table);
  a.key = std::move(key);
  a.condition = std::move(condition);
  return a;
}

TransactWriteAction TransactWriteAction::put(std::string table, Item item, std::string condition) {
  TransactWriteAction a;
  a.kind = Kind::kPut;
  a.table = std::move(table);
  a.item = std::move(item);
  a.condition = std::move(condition);
  return a;
}

TransactWriteAction TransactWriteAction::update(std::string table, Item key, std::string update,
                                                std::string condition) {
  TransactWriteAction a;
  a.kind = Kind::kUpdate;
  a.table = std::move(table);
  a.key = std::move(key);
  a.update_expression = std::move(update);
  a.condition = std::move(condition);
  return a;
}

TransactWriteAction TransactWriteAction::remove(std::string table, Item key,
                                                std::string condition) {
  TransactWriteAction a;
  a.kind = Kind::kDelete;
  a.table = std::move(table);
  a.key = std::move(key);
  a.condition = std::move(condition);
  return a;
}

namespace dynamodb_detail {

json::object body_of(const GetItemRequest& request) {
  json::object body;
  body["TableName"] = request.table;
  body["Key"] = to_json(request.key);
  body["ConsistentRead"] = request.consistent_read;
  if (!request.projection.empty()) body["ProjectionExpression"] = request.projection;
  add_expressions(body, "", request.names, {});
  return body;
}

json::object body_of(const std::vector<TransactGet>& gets) {
  json::array items;
  items.reserve(gets.size());
  for (const auto& get : gets) {
    json::object g;
    g["TableName"] = get.table;
    g["Key"] = to_json(get.key);
    if (!get.projection.empty()) g["ProjectionExpression"] = get.projection;
    add_expressions(g, "", get.names, {});
    items.push_back(json::object{{"Get", std::move(g)}});
  }
  return {{"TransactItems", std::move(items)}};
}

json::object body_of(const QueryRequest& request) {
  json::object body;
  body["TableName"] = request.table;
  if (!request.index.empty()) body["IndexName"] = request.index;
  body["KeyConditionExpression"] = request.key_condition;
  if (!request.filter.empty()) body["FilterExpression"] = request.filter;
  if (!request.projection.empty()) body["ProjectionExpression"] = request.projection;
  add_expressions(body, "", request.names, request.values);
  body["ScanIndexForward"] = request.forward;
  if (request.limit) body["Limit"] = *request.limit;
  body["ConsistentRead"] = request.consistent_read;
  if (request.exclusive_start_key)
    body["ExclusiveStartKey"] = to_json(*request.exclusive_start_key);
  if (request.count_only) body["Select"] = "COUNT";
  return body;
}

json::object body_of(const PutItemRequest& request) {
  json::object body;
  body["TableName"] = request.table;
  body["Item"] = to_json(request.item);
  add_expressions(body, request.condition, request.names, request.values);
  if (request.return_old) body["ReturnValues"] = "ALL_OLD";
  add_condition_failure_item(body, request.return_item_on_condition_failure);
  return body;
}

json::object body_of(const UpdateItemRequest& request) {
  json::object body;
  body["TableName"] = request.table;
  body["Key"] = to_json(request.key);
  body["UpdateExpression"] = request.update_expression;
  add_expressions(body, request.condition, request.names, request.values);
  if (request.return_values != ReturnValues::kNone) {
    body["ReturnValues"] = return_values_name(request.return_values);
  }
  add_condition_failure_item(body, request.return_item_on_condition_failure);
  return body;
}

json::object body_of(const DeleteItemRequest& request) {
  json::object body;
  body["TableName"] = request.table;
  body["Key"] = to_json(request.key);
  add_expressions(body, request.condition, request.names, request.values);
  if (request.return_old) body["ReturnValues"] = "ALL_OLD";
  add_condition_failure_item(body, request.return_item_on_condition_failure);
  return body;
}

json::object body_of(const TransactWriteRequest& request) {
  json::array items;
  items.reserve(request.actions.size());
  for (const auto& action : request.actions) {
    json::object a;
    a["TableName"] = action.table;
    const char* kind = "ConditionCheck";
    switch (action.kind) {
      case TransactWriteAction::Kind::kConditionCheck:
        a["Key"] = to_json(action.key);
        break;
      case TransactWriteAction::Kind::kPut:
        kind = "Put";
        a["Item"] = to_json(action.item);
        break;
      case TransactWriteAction::Kind::kUpdate:
        kind = "Update";
        a["Key"] = to_json(action.key);
        a["UpdateExpression"] = action.update_expression;
        break;
      case TransactWriteAction::Kind::kDelete:
        kind = "Delete";
        a["Key"] = to_json(action.key);
        break;
    }
    add_expressions(a, action.condition, action.names, action.values);
    add_condition_failure_item(a, action.return_item_on_condition_failure);
    items.push_back(json::object{{kind, std::move(a)}});
  }
  json::object body;
  body["TransactItems"] = std::move(items);
  if (!request.client_request_token.empty()) {
    body["ClientRequestToken"] = request.client_request_token;
  }
  return body;
}

DynamoResult<std::optional<Item>> parse_get_item(const json::value& answer) {
  if (!answer.is_object()) return bad_response();
  std::optional<Item> item;
  if (!optional_item(answer.as_object(), "Item", item)) return bad_response();
  return item;
}

DynamoResult<std::vector<std::optional<Item>>> parse_transact_get(const json::value& answer,
                                                                  std::size_t expected) {
  if (!answer.is_object()) return bad_response();
  const auto* responses = answer.as_object().if_contains("Responses");
  if (responses == nullptr || !responses->is_array() || responses->as_array().size() != expected) {
    return bad_response();
  }
  std::vector<std::optional<Item>> items;
  items.reserve(expected);
  for (const auto& response : responses->as_array()) {
    if (!response.is_object()) return bad_response();
    std::optional<Item> item;
    if (!optional_item(response.as_object(), "Item", item)) return bad_response();
    items.push_back(std::move(item));
  }
  return items;
}

DynamoResult<QueryResult> parse_query(const json::value& answer) {
  if (!answer.is_object()) return bad_response();
  const auto& object = answer.as_object();
  QueryResult result;
  if (const auto* items = object.if_contains("Items")) {
    if (!items->is_array()) return bad_response();
    result.items.reserve(items->as_array().size());
    for (const auto& v : items->as_array()) {
      auto item = item_from_json(v);
      if (!item) return bad_response();
      result.items.push_back(std::move(*item));
    }
  }
  if (const auto* count = object.if_contains("Count")) {
    if (!count->is_int64()) return bad_response();
    result.count = count->as_int64();
  }
  if (!optional_item(object, "LastEvaluatedKey", result.last_evaluated_key)) return bad_response();
  return result;
}

DynamoResult<std::optional<Item>> parse_attributes(const json::value& answer) {
  if (!answer.is_object()) return bad_response();
  std::optional<Item> attributes;
  if (!optional_item(answer.as_object(), "Attributes", attributes)) return bad_response();
  return attributes;
}

json::object batch_delete_body(const std::string& table, const std::vector<Item>& keys) {
  json::array requests;
  requests.reserve(keys.size());
  for (const auto& key : keys) {
    requests.push_back(json::object{{"DeleteRequest", json::object{{"Key", to_json(key)}}}});
  }
  json::object items;
  items[table] = std::move(requests);
  return {{"RequestItems", std::move(items)}};
}

DynamoResult<std::vector<Item>> parse_unprocessed_deletes(const json::value& answer,
                                                          const std::string& table) {
  if (!answer.is_object()) return bad_response();
  std::vector<Item> out;
  const auto* unprocessed = answer.as_object().if_contains("UnprocessedItems");
  if (unprocessed == nullptr) return out;
  if (!unprocessed->is_object()) return bad_response();
  const auto* requests = unprocessed->as_object().if_contains(table);
  if (requests == nullptr) return out;
  if (!requests->is_array()) return bad_response();
  for (const auto& request : requests->as_array()) {
    const auto* del =
        request.is_object() ? request.as_object().if_contains("DeleteRequest") : nullptr;
    const auto* key =
        del != nullptr && del->is_object() ? del->as_object().if_contains("Key") : nullptr;
    auto item = key != nullptr ? item_from_json(*key) : std::nullopt;
    if (!item) return bad_response();
    out.push_back(std::move(*item));
  }
  return out;
}

}  // namespace dynamodb_detail

}  // namespace otpd::aws
