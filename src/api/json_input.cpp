// JSON body parsing with deliberate, field-level errors.
#include "api/json_input.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <vector>

namespace otpd::api {

bool is_json_content_type(const Request& request) {
  auto type = request.header("Content-Type");
  if (!type) return false;
  std::string_view t = *type;
  const auto semi = t.find(';');
  if (semi != std::string_view::npos) t = t.substr(0, semi);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  return iequals(t, "application/json");
}

Outcome<boost::json::object> read_json_object(const Request& request) {
  if (!is_json_content_type(request)) {
    return Problem::of(Errc::kUnsupportedMediaType, "request bodies must be application/json");
  }
  boost::json::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 16;
  auto value = boost::json::parse(request.body, ec, {}, options);
  if (ec) return Problem::of(Errc::kInvalidRequest, "the body is not valid JSON");
  if (!value.is_object())
    return Problem::of(Errc::kInvalidRequest, "the body must be a JSON object");
  return std::move(value.as_object());
}

std::optional<int> as_int(const boost::json::value& v) {
  if (v.is_int64()) {
    const auto i = v.as_int64();
    if (i >= INT32_MIN && i <= INT32_MAX) return static_cast<int>(i);
  }
  if (v.is_uint64() && v.as_uint64() <= INT32_MAX) return static_cast<int>(v.as_uint64());
  return std::nullopt;
}

namespace {
void write_canonical(const boost::json::value& v, std::string& out) {
  if (v.is_object()) {
    const auto& obj = v.as_object();
    std::vector<const boost::json::key_value_pair*> items;
    items.reserve(obj.size());
    for (const auto& kv : obj) items.push_back(&kv);
    std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    out += '{';
    bool first = true;
    for (auto* kv : items) {
      if (!first) out += ',';
      first = false;
      out += boost::json::serialize(boost::json::value(kv->key()));
      out += ':';
      write_canonical(kv->value(), out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const auto& item : v.as_array()) {
      if (!first) out += ',';
      first = false;
      write_canonical(item, out);
    }
    out += ']';
  } else {
    out += boost::json::serialize(v);
  }
}
}  // namespace

std::string canonical_json(const boost::json::value& value) {
  std::string out;
  write_canonical(value, out);
  return out;
}

}  // namespace otpd::api
