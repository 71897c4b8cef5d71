// Reading JSON request bodies: content type, syntax, and per-field errors collected into
// the `errors` array of a 400 invalid_request.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/message.hpp"

namespace otpd::api {

// True for application/json, with or without parameters (charset=utf-8).
bool is_json_content_type(const Request& request);

// Parses the body as a JSON object. On failure returns nullopt and sets `error` to the
// response to send (415 when the content type is wrong, 400 when it is not a JSON object).
std::optional<boost::json::object> parse_json_object(const Request& request,
                                                     std::optional<Response>& error);

class FieldErrors {
 public:
  void add(std::string field, std::string message);
  bool empty() const { return errors_.empty(); }
  // 400 invalid_request listing every field error.
  Response response() const;

 private:
  boost::json::array errors_;
  std::string first_;
};

// A canonical serialisation (object keys sorted, recursively), so that bodies that are
// the same JSON value hash the same whatever their whitespace or key order.
std::string canonical_json(const boost::json::value& value);

}  // namespace otpd::api
