// JSON bodies of DynamoDB's table operations and the decoding of their answers.
#include "aws/dynamodb_tables.hpp"

#include <boost/json/array.hpp>
#include <map>
#include <utility>

namespace otpd::aws {
namespace {

namespace json = boost::json;

const char* type_name(KeyType type) {
  switch (type) {
    case KeyType::kString:
      return "S";
    case KeyType::kNumber:
      return "N";
    case KeyType::kBinary:
      return "B";
  }
  return "S";
}

std::optional<KeyType> type_of(std::string_view name) {
  if (name == "S") return KeyType::kString;
  if (name == "N") return KeyType::kNumber;
  if (name == "B") return KeyType::kBinary;
  return std::nullopt;
}

json::array key_schema_json(const KeySchema& key) {
  json::array schema;
  schema.push_back({{"AttributeName", key.partition.name}, {"KeyType", "HASH"}});
  if (key.sort) schema.push_back({{"AttributeName", key.sort->name}, {"KeyType", "RANGE"}});
  return schema;
}

// Each key attribute once, for AttributeDefinitions; a name given two types is sent twice and
// DynamoDB rejects the request.
void define(std::vector<KeyAttribute>& out, const KeySchema& key) {
  for (const auto* attribute : {&key.partition, key.sort ? &*key.sort : nullptr}) {
    if (attribute == nullptr) continue;
    bool known = false;
    for (const auto& seen : out) known = known || seen == *attribute;
    if (!known) out.push_back(*attribute);
  }
}

const json::string* string_at(const json::object& object, std::string_view key) {
  const auto* v = object.if_contains(key);
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

std::optional<KeySchema> key_schema_of(const json::value* schema,
                                       const std::map<std::string, KeyType>& types) {
  if (schema == nullptr || !schema->is_array()) return std::nullopt;
  KeySchema key;
  bool has_partition = false;
  for (const auto& element : schema->as_array()) {
    if (!element.is_object()) return std::nullopt;
    const auto* name = string_at(element.as_object(), "AttributeName");
    const auto* role = string_at(element.as_object(), "KeyType");
    if (name == nullptr || role == nullptr) return std::nullopt;
    KeyAttribute attribute{std::string(*name), KeyType::kString};
    if (auto it = types.find(attribute.name); it != types.end()) attribute.type = it->second;
    if (*role == "HASH") {
      key.partition = std::move(attribute);
      has_partition = true;
    } else if (*role == "RANGE") {
      key.sort = std::move(attribute);
    } else {
      return std::nullopt;
    }
  }
  if (!has_partition) return std::nullopt;
  return key;
}

DynamoError bad_response() {
  DynamoError e;
  e.errc = DynamoErrc::kBadResponse;
  return e;
}

std::optional<TimeToLive::Status> ttl_status_of(std::string_view name) {
  if (name == "ENABLED") return TimeToLive::Status::kEnabled;
  if (name == "ENABLING") return TimeToLive::Status::kEnabling;
  if (name == "DISABLED") return TimeToLive::Status::kDisabled;
  if (name == "DISABLING") return TimeToLive::Status::kDisabling;
  return std::nullopt;
}

}  // namespace

bool TableDescription::active() const {
  if (status != "ACTIVE") return false;
  for (const auto& i : indexes) {
    if (i.status != "ACTIVE") return false;
  }
  return true;
}

const IndexDescription* TableDescription::index(std::string_view name) const {
  for (const auto& i : indexes) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

namespace dynamodb_detail {

json::object body_of(const CreateTableRequest& request) {
  std::vector<KeyAttribute> attributes;
  define(attributes, request.key);
  for (const auto& index : request.indexes) define(attributes, index.key);
  json::array definitions;
  for (const auto& a : attributes) {
    definitions.push_back({{"AttributeName", a.name}, {"AttributeType", type_name(a.type)}});
  }
  json::object body;
  body["TableName"] = request.table;
  body["AttributeDefinitions"] = std::move(definitions);
  body["KeySchema"] = key_schema_json(request.key);
  body["BillingMode"] = "PAY_PER_REQUEST";
  if (!request.indexes.empty()) {
    json::array indexes;
    for (const auto& index : request.indexes) {
      json::object projection;
      switch (index.projection) {
        case GlobalIndex::Projection::kAll:
          projection["ProjectionType"] = "ALL";
          break;
        case GlobalIndex::Projection::kKeysOnly:
          projection["ProjectionType"] = "KEYS_ONLY";
          break;
        case GlobalIndex::Projection::kInclude: {
          projection["ProjectionType"] = "INCLUDE";
          json::array names;
          for (const auto& n : index.non_key_attributes) names.emplace_back(n);
          projection["NonKeyAttributes"] = std::move(names);
          break;
        }
      }
      indexes.push_back({{"IndexName", index.name},
                         {"KeySchema", key_schema_json(index.key)},
                         {"Projection", std::move(projection)}});
    }
    body["GlobalSecondaryIndexes"] = std::move(indexes);
  }
  return body;
}

json::object update_ttl_body(const std::string& table, const std::string& attribute, bool enabled) {
  return {{"TableName", table},
          {"TimeToLiveSpecification", {{"Enabled", enabled}, {"AttributeName", attribute}}}};
}

DynamoResult<TableDescription> parse_table(const json::value& answer, std::string_view key) {
  if (!answer.is_object()) return bad_response();
  const auto* table_value = answer.as_object().if_contains(key);
  if (table_value == nullptr || !table_value->is_object()) return bad_response();
  const auto& table = table_value->as_object();

  std::map<std::string, KeyType> types;
  if (const auto* definitions = table.if_contains("AttributeDefinitions")) {
    if (!definitions->is_array()) return bad_response();
    for (const auto& d : definitions->as_array()) {
      if (!d.is_object()) return bad_response();
      const auto* name = string_at(d.as_object(), "AttributeName");
      const auto* type = string_at(d.as_object(), "AttributeType");
      if (name == nullptr || type == nullptr || !type_of(*type)) return bad_response();
      types[std::string(*name)] = *type_of(*type);
    }
  }

  TableDescription description;
  const auto* name = string_at(table, "TableName");
  const auto* status = string_at(table, "TableStatus");
  auto schema = key_schema_of(table.if_contains("KeySchema"), types);
  if (name == nullptr || status == nullptr || !schema) return bad_response();
  description.name = *name;
  description.status = *status;
  description.key = std::move(*schema);
  if (const auto* indexes = table.if_contains("GlobalSecondaryIndexes")) {
    if (!indexes->is_array()) return bad_response();
    for (const auto& i : indexes->as_array()) {
      if (!i.is_object()) return bad_response();
      const auto* index_name = string_at(i.as_object(), "IndexName");
      const auto* index_status = string_at(i.as_object(), "IndexStatus");
      auto index_key = key_schema_of(i.as_object().if_contains("KeySchema"), types);
      if (index_name == nullptr || !index_key) return bad_response();
      // Some emulators leave IndexStatus out: their indexes exist as soon as the table does.
      description.indexes.push_back({std::string(*index_name),
                                     index_status ? std::string(*index_status) : "ACTIVE",
                                     std::move(*index_key)});
    }
  }
  return description;
}

DynamoResult<TimeToLive> parse_describe_ttl(const json::value& answer) {
  if (!answer.is_object()) return bad_response();
  const auto* d = answer.as_object().if_contains("TimeToLiveDescription");
  if (d == nullptr || !d->is_object()) return bad_response();
  const auto* status = string_at(d->as_object(), "TimeToLiveStatus");
  if (status == nullptr || !ttl_status_of(*status)) return bad_response();
  TimeToLive ttl;
  ttl.status = *ttl_status_of(*status);
  if (const auto* attribute = string_at(d->as_object(), "AttributeName"))
    ttl.attribute = *attribute;
  return ttl;
}

DynamoResult<TimeToLive> parse_update_ttl(const json::value& answer) {
  if (!answer.is_object()) return bad_response();
  const auto* s = answer.as_object().if_contains("TimeToLiveSpecification");
  if (s == nullptr || !s->is_object()) return bad_response();
  const auto* enabled = s->as_object().if_contains("Enabled");
  const auto* attribute = string_at(s->as_object(), "AttributeName");
  if (enabled == nullptr || !enabled->is_bool() || attribute == nullptr) return bad_response();
  // The specification is what was asked for; DynamoDB takes up to an hour to get there.
  TimeToLive ttl;
  ttl.status = enabled->as_bool() ? TimeToLive::Status::kEnabling : TimeToLive::Status::kDisabling;
  ttl.attribute = *attribute;
  return ttl;
}

bool is_unknown_operation(const DynamoError& error) {
  return error.aws_code == "UnknownOperationException";
}

}  // namespace dynamodb_detail

}  // namespace otpd::aws
