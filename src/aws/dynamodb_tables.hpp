// The table operations `otpd store init` needs (CreateTable, DescribeTable, DeleteTable,
// UpdateTimeToLive, DescribeTimeToLive) as request and result values, and their JSON 1.0
// bodies.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

#include "aws/dynamodb_error.hpp"

namespace otpd::aws {

// The scalar types a key attribute can have.
enum class KeyType { kString, kNumber, kBinary };

struct KeyAttribute {
  std::string name{};
  KeyType type = KeyType::kString;
  friend bool operator==(const KeyAttribute&, const KeyAttribute&) = default;
};

struct KeySchema {
  KeyAttribute partition{};            // HASH
  std::optional<KeyAttribute> sort{};  // RANGE
  friend bool operator==(const KeySchema&, const KeySchema&) = default;
};

struct GlobalIndex {
  enum class Projection { kAll, kKeysOnly, kInclude };
  std::string name{};
  KeySchema key{};
  Projection projection = Projection::kAll;
  std::vector<std::string> non_key_attributes{};  // kInclude
};

// Always on-demand (PAY_PER_REQUEST) billing, which needs no capacity planning.
struct CreateTableRequest {
  std::string table{};
  KeySchema key{};
  std::vector<GlobalIndex> indexes{};
};

struct IndexDescription {
  std::string name{};
  std::string status{};  // "CREATING", "ACTIVE", "UPDATING", "DELETING"
  KeySchema key{};
};

struct TableDescription {
  std::string name{};
  std::string status{};  // "CREATING", "ACTIVE", "UPDATING", "DELETING", "ARCHIVED"...
  KeySchema key{};
  std::vector<IndexDescription> indexes{};

  // The table and all its global secondary indexes are ACTIVE: ready for every operation.
  bool active() const;
  const IndexDescription* index(std::string_view name) const;
};

struct TimeToLive {
  // kUnsupported: the endpoint has no TTL API (an emulator answering
  // UnknownOperationException). Items then stay until they are deleted, which a store that
  // also sweeps expired records tolerates.
  enum class Status { kUnsupported, kDisabled, kEnabling, kEnabled, kDisabling };
  Status status = Status::kDisabled;
  std::string attribute{};  // "" when disabled or unsupported
};

namespace dynamodb_detail {

boost::json::object body_of(const CreateTableRequest& request);
boost::json::object update_ttl_body(const std::string& table, const std::string& attribute,
                                    bool enabled);

// CreateTable's and DescribeTable's answers ("TableDescription" / "Table").
DynamoResult<TableDescription> parse_table(const boost::json::value& answer, std::string_view key);
DynamoResult<TimeToLive> parse_describe_ttl(const boost::json::value& answer);
DynamoResult<TimeToLive> parse_update_ttl(const boost::json::value& answer);
// Whether an error is an endpoint saying it does not have the operation at all.
bool is_unknown_operation(const DynamoError& error);

}  // namespace dynamodb_detail

}  // namespace otpd::aws
