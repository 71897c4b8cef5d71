// JSON body parsing with deliberate, field-level errors.
#include "api/json_input.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <vector>

#include "api/problem.hpp"

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

std::optional<boost::json::object> parse_json_object(const Request& request,
                                                     std::optional<Response>& error) {
  if (!is_json_content_type(request)) {
    error = problem(415, "unsupported_media_type", "request bodies must be application/json");
    return std::nullopt;
  }
  boost::json::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 16;
  auto value = boost::json::parse(request.body, ec, {}, options);
  if (ec) {
    error = problem(400, "invalid_request", "the body is not valid JSON");
    return std::nullopt;
  }
  if (!value.is_object()) {
    error = problem(400, "invalid_request", "the body must be a JSON object");
    return std::nullopt;
  }
  return std::move(value.as_object());
}

void FieldErrors::add(std::string field, std::string message) {
  if (first_.empty()) first_ = field + ": " + message;
  boost::json::object e;
  e["field"] = field;
  e["message"] = message;
  errors_.push_back(std::move(e));
}

Response FieldErrors::response() const {
  boost::json::object extras;
  extras["errors"] = errors_;
  return problem(400, "invalid_request", first_, extras);
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
