// Reading JSON request bodies: the content type, the syntax, and a canonical form for
// comparing two bodies as JSON values.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "api/message.hpp"
#include "api/problem.hpp"

namespace otpd::api {

// True for application/json, with or without parameters (charset=utf-8).
bool is_json_content_type(const Request& request);

// The body as a JSON object; 415 unsupported_media_type when the content type is not
// JSON, 400 invalid_request when the body is not a JSON object (at most 16 levels deep).
Outcome<boost::json::object> read_json_object(const Request& request);

// A canonical serialisation (object keys sorted, recursively), so that bodies that are
// the same JSON value hash the same whatever their whitespace or key order.
std::string canonical_json(const boost::json::value& value);

// An integer that fits an int, or nullopt (floats, strings, out of range).
std::optional<int> as_int(const boost::json::value& value);

}  // namespace otpd::api
