// The Errc -> Twilio status and code table, and Twilio's error body.
#include "api/twilio_errors.hpp"

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace otpd::api {
namespace {

struct Row {
  Errc errc;
  TwilioError error;
};

using namespace twilio_code;

// Where otpd refuses for a reason Twilio has no code of its own for, the nearest code an
// application already handles is used: per-recipient limits are Verify's 6020x/60212, tenant-
// and key-wide ones the platform's 20429. Verifications that are no longer pending are
// 20404, as Twilio deletes them once approved, canceled, expired or locked.
constexpr std::array<Row, 24> kTable{{
    {Errc::kInvalidRequest, {400, kInvalidParameter, "Invalid parameter"}},
    {Errc::kUnauthorized, {401, kAuthenticate, "Authenticate"}},
    {Errc::kForbiddenDestination, {403, kDeliveryBlocked, "Verification delivery attempt blocked"}},
    {Errc::kNotFound, {404, kNotFound, "The requested resource was not found"}},
    {Errc::kMethodNotAllowed, {405, kMethodNotAllowed, "Method not allowed"}},
    {Errc::kRequestTimeout, {408, kInvalidParameter, "Request timeout"}},
    {Errc::kIdempotencyConflict, {409, kConflict, "Conflict"}},
    {Errc::kAlreadyApproved, {404, kNotFound, "The requested resource was not found"}},
    {Errc::kNotPending, {404, kNotFound, "The requested resource was not found"}},
    {Errc::kExpired, {404, kNotFound, "The requested resource was not found"}},
    {Errc::kPayloadTooLarge, {413, kInvalidParameter, "Request body too large"}},
    {Errc::kUnsupportedMediaType, {415, kInvalidParameter, "Unsupported media type"}},
    // A wrong code is not an error in Twilio's API (200 "pending"); this row is for a caller
    // that has no verification to show.
    {Errc::kInvalidCode, {400, kInvalidParameter, "Invalid parameter `Code`"}},
    {Errc::kMaxAttempts, {429, kMaxCheckAttempts, "Max check attempts reached"}},
    {Errc::kResendCooldown,
     {429, kTooManyForRecipient, "Too many requests for this recipient: a code was just sent"}},
    {Errc::kSendLimit, {429, kMaxSendAttempts, "Max send attempts reached"}},
    {Errc::kTooManyFailures, {429, kMaxCheckAttempts, "Max check attempts reached"}},
    {Errc::kRateLimited, {429, kTooManyRequests, "Too Many Requests"}},
    {Errc::kDailyCap, {429, kTooManyRequests, "Too Many Requests: the daily send cap is reached"}},
    {Errc::kPrefixRateLimited,
     {429, kTooManyRequests, "Too Many Requests: too many sends to this country prefix"}},
    {Errc::kHeadersTooLarge, {431, kInvalidParameter, "Request headers too large"}},
    {Errc::kInternal, {500, kInternal, "Internal Server Error"}},
    {Errc::kNotImplemented, {501, kNotImplemented, "Not implemented"}},
    {Errc::kUnavailable, {503, kUnavailable, "Service Unavailable"}},
}};

}  // namespace

TwilioError twilio_error(Errc errc) {
  for (const auto& row : kTable) {
    if (row.errc == errc) return row.error;
  }
  return TwilioError{};
}

std::string twilio_parameter(std::string_view field) {
  if (field == "id") return "VerificationSid";
  if (field == "code_length") return "CodeLength";
  if (field.empty()) return "";
  std::string name(field);
  name.front() = static_cast<char>(
      name.front() >= 'a' && name.front() <= 'z' ? name.front() - 'a' + 'A' : name.front());
  return name;
}

Response twilio_error_response(int status, int code, std::string message, core::Seconds retry_after,
                               std::string_view problem_code) {
  boost::json::object body;
  body["code"] = code;
  body["message"] = std::move(message);
  body["more_info"] = "https://www.twilio.com/docs/errors/" + std::to_string(code);
  body["status"] = status;
  Response r;
  r.status = status;
  r.problem_code = problem_code;
  r.set_header("Content-Type", "application/json");
  if (retry_after.count() > 0) r.set_header("Retry-After", std::to_string(retry_after.count()));
  r.body = boost::json::serialize(body);
  return r;
}

Response twilio_problem_response(const Problem& problem, std::string_view resource) {
  const TwilioError e = twilio_error(problem.code);
  std::string message(e.message);
  if (e.code == twilio_code::kInvalidParameter && !problem.errors.empty()) {
    const FieldError& first = problem.errors.front();
    message = "Invalid parameter `" + twilio_parameter(first.field) + "`: " + first.message;
  } else if (e.code == twilio_code::kNotFound) {
    message = "The requested resource " + std::string(resource) + " was not found";
  } else if (e.code == twilio_code::kDeliveryBlocked || e.code == twilio_code::kUnavailable) {
    message += ": " + problem.detail;
  }
  // Every limit and every 503 says when to come back. A locked verification does not: only
  // a new send helps.
  core::Seconds retry_after = problem.retry_after;
  if ((e.status == 429 || e.status == 503) && problem.code != Errc::kMaxAttempts &&
      retry_after.count() <= 0) {
    retry_after = core::Seconds(1);
  }
  return twilio_error_response(e.status, e.code, std::move(message), retry_after,
                               code_name(problem.code));
}

}  // namespace otpd::api
