// DynamoDB's typed values (AttributeValue) and items, and their wire form in the JSON 1.0
// protocol ({"S":"text"}, {"N":"12"}, {"M":{...}}...).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace otpd::aws {

class AttributeValue;

// An item, a primary key or a set of expression values: attribute name -> value.
using Item = std::map<std::string, AttributeValue>;
// ExpressionAttributeNames: placeholder ("#v") -> attribute name ("version").
using ExpressionNames = std::map<std::string, std::string>;

// One value of one of DynamoDB's types. A default-constructed value is NULL. Numbers are kept
// in DynamoDB's decimal text form, so one read and written back is unchanged; number() and
// if_int64() cover the integers a store keeps (versions, counters, times in milliseconds).
// Binary values hold raw bytes (base64 exists only on the wire). Sets keep their elements in
// the order given; DynamoDB itself does not order them.
class AttributeValue {
 public:
  enum class Type {
    kString,
    kNumber,
    kBinary,
    kBool,
    kNull,
    kMap,
    kList,
    kStringSet,
    kNumberSet,
    kBinarySet
  };
  using List = std::vector<AttributeValue>;
  using Set = std::vector<std::string>;

  AttributeValue() = default;

  static AttributeValue string(std::string value);
  static AttributeValue number(std::int64_t value);
  // `text` must be a decimal number as DynamoDB writes one ("12", "-0.5", "1E+3"); it is
  // sent as is and DynamoDB rejects a malformed one (a validation error).
  static AttributeValue number_text(std::string text);
  static AttributeValue binary(std::string bytes);
  static AttributeValue boolean(bool value);
  static AttributeValue null();
  static AttributeValue map(Item value);
  static AttributeValue list(List value);
  static AttributeValue string_set(Set values);
  static AttributeValue number_set(Set values);
  static AttributeValue binary_set(Set values);

  Type type() const { return type_; }

  // Each accessor answers nullptr or nullopt when the value is of another type.
  const std::string* if_string() const;
  const std::string* if_number_text() const;
  // A number that is an integer within int64_t ("12", not "12.5" nor "1E3").
  std::optional<std::int64_t> if_int64() const;
  const std::string* if_binary() const;
  std::optional<bool> if_bool() const;
  bool is_null() const { return type_ == Type::kNull; }
  const Item* if_map() const;
  const List* if_list() const;
  // The elements of an SS, NS or BS (BS: raw bytes).
  const Set* if_set() const;

  friend bool operator==(const AttributeValue& a, const AttributeValue& b);

 private:
  explicit AttributeValue(Type type) : type_(type) {}

  // One member per kind of content, only the one of type_ in use. (A std::variant here makes
  // GCC 12 report false -Wmaybe-uninitialized at -O2.)
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;  // S, N, B
  Item map_;
  List list_;
  Set set_;  // SS, NS, BS
};

// The wire form of a value and of an item.
boost::json::value to_json(const AttributeValue& value);
boost::json::object to_json(const Item& item);

// A value or an item from its wire form; nullopt when it is not one (no type key, two type
// keys, a number or binary that is not text, base64 that does not decode...).
std::optional<AttributeValue> attribute_from_json(const boost::json::value& json);
std::optional<Item> item_from_json(const boost::json::value& json);

}  // namespace otpd::aws
