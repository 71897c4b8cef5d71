// Twilio's face of otpd's problems: the one table that maps each Errc to the HTTP status and
// Twilio error code the Twilio-compatible API answers with, and the error body Twilio's SDKs
// parse into their RestException ({"code", "message", "more_info", "status"}).
#pragma once

#include <string>
#include <string_view>

#include "api/message.hpp"
#include "api/problem.hpp"
#include "core/errc.hpp"

namespace otpd::api {

// Twilio error codes otpd answers with (https://www.twilio.com/docs/errors/<code>).
namespace twilio_code {
inline constexpr int kAuthenticate = 20003;
inline constexpr int kMethodNotAllowed = 20004;
inline constexpr int kNotFound = 20404;
inline constexpr int kConflict = 20409;
inline constexpr int kTooManyRequests = 20429;
inline constexpr int kInternal = 20500;
// Not in Twilio's dictionary: what otpd answers for Twilio resources it does not implement.
inline constexpr int kNotImplemented = 20501;
inline constexpr int kUnavailable = 20503;
inline constexpr int kInvalidParameter = 60200;
inline constexpr int kMaxCheckAttempts = 60202;
inline constexpr int kMaxSendAttempts = 60203;
inline constexpr int kTooManyForRecipient = 60212;
inline constexpr int kChannelDisabled = 60223;
inline constexpr int kDeliveryBlocked = 60605;
}  // namespace twilio_code

struct TwilioError {
  int status = 500;
  int code = twilio_code::kInternal;
  std::string_view message;  // Twilio's wording for the code, when no detail is more precise
};

// The one table: every Errc the service (or the router) can return.
TwilioError twilio_error(Errc errc);

// A Twilio field name for one of the service's field errors ("to" -> "To").
std::string twilio_parameter(std::string_view field);

// {"code","message","more_info","status"} as application/json, with Retry-After when given.
// `problem_code` is the access log's `code` (otpd's name of the refusal).
Response twilio_error_response(int status, int code, std::string message,
                               core::Seconds retry_after = core::Seconds(0),
                               std::string_view problem_code = {});

// A problem of the service as Twilio answers it: the table's status and code; 60200 names the
// parameter; 20404 names the resource (`resource`, e.g. "/Services/VA…/VerificationCheck").
Response twilio_problem_response(const Problem& problem, std::string_view resource);

}  // namespace otpd::api
