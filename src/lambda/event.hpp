// API Gateway proxy events to api::Request, and api::Response back to the proxy response of
// the same payload format: REST APIs (format 1.0) and HTTP APIs (format 2.0), told apart by
// the event itself.
#pragma once

#include <boost/system/result.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "api/message.hpp"

namespace otpd::lambda {

enum class PayloadFormat {
  kRestV1,  // REST API, or an HTTP API integration set to payload format 1.0
  kHttpV2,  // HTTP API, payload format 2.0
};

// The HTTP listener's limits (the API reference (docs/api.md)), applied to events so that an API
// answers the same in every mode.
struct EventLimits {
  std::size_t header_limit = 8 * 1024;  // request line + headers, as on the wire -> 431
  std::size_t body_limit = 16 * 1024;   // the decoded body -> 413
};

struct DecodedEvent {
  PayloadFormat format = PayloadFormat::kHttpV2;
  // Carries exactly one X-Request-Id: the one its answer must carry.
  api::Request request;
  // Set when the transport's limits already decide the answer (413, 431): the router never
  // sees the request, as with the HTTP listener.
  std::optional<api::Response> refusal;
};

// Why an event is not an API Gateway proxy event; never caused by the client's request,
// which API Gateway always delivers in a well-formed event.
struct EventError {
  std::string message;  // names the field: "rawPath: expected a string"
};

// Throws nothing; every malformed event is an EventError.
boost::system::result<DecodedEvent, EventError> decode_event(std::string_view json,
                                                             const EventLimits& limits);

// The proxy response for `format`. Headers a proxy response cannot carry (framing fields,
// CR or LF) are dropped; bodies that are not UTF-8 are base64-encoded; 204 and 304 carry no
// body; a status outside 200-599 becomes a 500 problem, as on the HTTP listener.
std::string encode_response(PayloadFormat format, api::Response response);

// For throw_exception_from_error lookups by boost::system::result::value().
[[noreturn]] void throw_exception_from_error(const EventError& error,
                                             const boost::source_location& location);

}  // namespace otpd::lambda
