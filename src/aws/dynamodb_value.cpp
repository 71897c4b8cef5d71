// AttributeValue: construction, typed access and the JSON 1.0 wire form.
#include "aws/dynamodb_value.hpp"

#include <openssl/evp.h>

#include <array>
#include <boost/json/array.hpp>
#include <charconv>
#include <string_view>
#include <utility>

#include "core/crypto.hpp"

namespace otpd::aws {
namespace {

using Type = AttributeValue::Type;

// The wire name of each type, in the order of AttributeValue::Type.
constexpr std::array<std::string_view, 10> kTypeNames{"S", "N", "B",  "BOOL", "NULL",
                                                      "M", "L", "SS", "NS",   "BS"};

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock writes the padding out as zero bytes.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::optional<AttributeValue::Set> strings_of(const boost::json::value& json, bool base64) {
  if (!json.is_array()) return std::nullopt;
  AttributeValue::Set out;
  out.reserve(json.as_array().size());
  for (const auto& element : json.as_array()) {
    if (!element.is_string()) return std::nullopt;
    if (!base64) {
      out.emplace_back(element.as_string());
      continue;
    }
    auto bytes = base64_decode(element.as_string());
    if (!bytes) return std::nullopt;
    out.push_back(std::move(*bytes));
  }
  return out;
}

boost::json::array strings_to_json(const AttributeValue::Set& values, bool base64) {
  boost::json::array out;
  out.reserve(values.size());
  for (const auto& v : values) out.emplace_back(base64 ? core::base64_encode(v) : v);
  return out;
}

}  // namespace

AttributeValue AttributeValue::string(std::string value) {
  AttributeValue v(Type::kString);
  v.text_ = std::move(value);
  return v;
}
AttributeValue AttributeValue::number(std::int64_t value) {
  return number_text(std::to_string(value));
}
AttributeValue AttributeValue::number_text(std::string text) {
  AttributeValue v(Type::kNumber);
  v.text_ = std::move(text);
  return v;
}
AttributeValue AttributeValue::binary(std::string bytes) {
  AttributeValue v(Type::kBinary);
  v.text_ = std::move(bytes);
  return v;
}
AttributeValue AttributeValue::boolean(bool value) {
  AttributeValue v(Type::kBool);
  v.bool_ = value;
  return v;
}
AttributeValue AttributeValue::null() { return AttributeValue(); }
AttributeValue AttributeValue::map(Item value) {
  AttributeValue v(Type::kMap);
  v.map_ = std::move(value);
  return v;
}
AttributeValue AttributeValue::list(List value) {
  AttributeValue v(Type::kList);
  v.list_ = std::move(value);
  return v;
}
AttributeValue AttributeValue::string_set(Set values) {
  AttributeValue v(Type::kStringSet);
  v.set_ = std::move(values);
  return v;
}
AttributeValue AttributeValue::number_set(Set values) {
  AttributeValue v(Type::kNumberSet);
  v.set_ = std::move(values);
  return v;
}
AttributeValue AttributeValue::binary_set(Set values) {
  AttributeValue v(Type::kBinarySet);
  v.set_ = std::move(values);
  return v;
}

const std::string* AttributeValue::if_string() const {
  return type_ == Type::kString ? &text_ : nullptr;
}
const std::string* AttributeValue::if_number_text() const {
  return type_ == Type::kNumber ? &text_ : nullptr;
}
std::optional<std::int64_t> AttributeValue::if_int64() const {
  const auto* text = if_number_text();
  if (text == nullptr) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return value;
}
const std::string* AttributeValue::if_binary() const {
  return type_ == Type::kBinary ? &text_ : nullptr;
}
std::optional<bool> AttributeValue::if_bool() const {
  if (type_ != Type::kBool) return std::nullopt;
  return bool_;
}
const Item* AttributeValue::if_map() const { return type_ == Type::kMap ? &map_ : nullptr; }
const AttributeValue::List* AttributeValue::if_list() const {
  return type_ == Type::kList ? &list_ : nullptr;
}
const AttributeValue::Set* AttributeValue::if_set() const {
  const bool set =
      type_ == Type::kStringSet || type_ == Type::kNumberSet || type_ == Type::kBinarySet;
  return set ? &set_ : nullptr;
}

bool operator==(const AttributeValue& a, const AttributeValue& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case Type::kString:
    case Type::kNumber:
    case Type::kBinary:
      return a.text_ == b.text_;
    case Type::kBool:
      return a.bool_ == b.bool_;
    case Type::kNull:
      return true;
    case Type::kMap:
      return a.map_ == b.map_;
    case Type::kList:
      return a.list_ == b.list_;
    case Type::kStringSet:
    case Type::kNumberSet:
    case Type::kBinarySet:
      return a.set_ == b.set_;
  }
  return false;
}

boost::json::value to_json(const AttributeValue& value) {
  boost::json::object out;
  const auto name = kTypeNames[static_cast<std::size_t>(value.type())];
  switch (value.type()) {
    case Type::kString:
      out[name] = *value.if_string();
      break;
    case Type::kNumber:
      out[name] = *value.if_number_text();
      break;
    case Type::kBinary:
      out[name] = core::base64_encode(*value.if_binary());
      break;
    case Type::kBool:
      out[name] = *value.if_bool();
      break;
    case Type::kNull:
      out[name] = true;
      break;
    case Type::kMap:
      out[name] = to_json(*value.if_map());
      break;
    case Type::kList: {
      boost::json::array list;
      list.reserve(value.if_list()->size());
      for (const auto& element : *value.if_list()) list.push_back(to_json(element));
      out[name] = std::move(list);
      break;
    }
    case Type::kStringSet:
    case Type::kNumberSet:
      out[name] = strings_to_json(*value.if_set(), false);
      break;
    case Type::kBinarySet:
      out[name] = strings_to_json(*value.if_set(), true);
      break;
  }
  return out;
}

boost::json::object to_json(const Item& item) {
  boost::json::object out;
  out.reserve(item.size());
  for (const auto& [name, value] : item) out[name] = to_json(value);
  return out;
}

std::optional<AttributeValue> attribute_from_json(const boost::json::value& json) {
  if (!json.is_object() || json.as_object().size() != 1) return std::nullopt;
  const auto& [key, v] = *json.as_object().begin();
  std::size_t index = 0;
  while (index < kTypeNames.size() && kTypeNames[index] != key) ++index;
  if (index == kTypeNames.size()) return std::nullopt;
  switch (static_cast<Type>(index)) {
    case Type::kString:
      if (!v.is_string()) return std::nullopt;
      return AttributeValue::string(std::string(v.as_string()));
    case Type::kNumber:
      if (!v.is_string() || v.as_string().empty()) return std::nullopt;
      return AttributeValue::number_text(std::string(v.as_string()));
    case Type::kBinary: {
      if (!v.is_string()) return std::nullopt;
      auto bytes = base64_decode(v.as_string());
      if (!bytes) return std::nullopt;
      return AttributeValue::binary(std::move(*bytes));
    }
    case Type::kBool:
      if (!v.is_bool()) return std::nullopt;
      return AttributeValue::boolean(v.as_bool());
    case Type::kNull:
      return AttributeValue::null();
    case Type::kMap: {
      auto item = item_from_json(v);
      if (!item) return std::nullopt;
      return AttributeValue::map(std::move(*item));
    }
    case Type::kList: {
      if (!v.is_array()) return std::nullopt;
      AttributeValue::List list;
      list.reserve(v.as_array().size());
      for (const auto& element : v.as_array()) {
        auto parsed = attribute_from_json(element);
        if (!parsed) return std::nullopt;
        list.push_back(std::move(*parsed));
      }
      return AttributeValue::list(std::move(list));
    }
    case Type::kStringSet:
    case Type::kNumberSet: {
      auto set = strings_of(v, false);
      if (!set) return std::nullopt;
      return key == "SS" ? AttributeValue::string_set(std::move(*set))
                         : AttributeValue::number_set(std::move(*set));
    }
    case Type::kBinarySet: {
      auto set = strings_of(v, true);
      if (!set) return std::nullopt;
      return AttributeValue::binary_set(std::move(*set));
    }
  }
  return std::nullopt;
}

std::optional<Item> item_from_json(const boost::json::value& json) {
  if (!json.is_object()) return std::nullopt;
  Item item;
  for (const auto& [name, v] : json.as_object()) {
    auto value = attribute_from_json(v);
    if (!value) return std::nullopt;
    item.emplace(std::string(name), std::move(*value));
  }
  return item;
}

}  // namespace otpd::aws
