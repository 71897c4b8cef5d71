// The problem table and problem+json construction, shared by every presenter and transport.
#include "api/problem.hpp"

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace otpd::api {
namespace {

constexpr std::array<std::pair<Errc, int>, 24> kStatus{{
    {Errc::kInvalidRequest, 400},
    {Errc::kUnauthorized, 401},
    {Errc::kForbiddenDestination, 403},
    {Errc::kNotFound, 404},
    {Errc::kMethodNotAllowed, 405},
    {Errc::kRequestTimeout, 408},
    {Errc::kIdempotencyConflict, 409},
    {Errc::kAlreadyApproved, 409},
    {Errc::kNotPending, 409},
    {Errc::kExpired, 410},
    {Errc::kPayloadTooLarge, 413},
    {Errc::kUnsupportedMediaType, 415},
    {Errc::kInvalidCode, 422},
    {Errc::kMaxAttempts, 429},
    {Errc::kResendCooldown, 429},
    {Errc::kSendLimit, 429},
    {Errc::kTooManyFailures, 429},
    {Errc::kRateLimited, 429},
    {Errc::kDailyCap, 429},
    {Errc::kPrefixRateLimited, 429},
    {Errc::kHeadersTooLarge, 431},
    {Errc::kInternal, 500},
    {Errc::kNotImplemented, 501},
    {Errc::kUnavailable, 503},
}};

}  // namespace

int http_status(Errc code) {
  for (const auto& [e, status] : kStatus) {
    if (e == code) return status;
  }
  return 500;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

void FieldErrors::add(std::string field, std::string message) {
  // The first problem of a field is the one worth reporting (a value of the wrong type is
  // not then also out of range).
  for (const auto& e : errors_) {
    if (e.field == field) return;
  }
  if (errors_.size() >= kMaxEchoed) {
    ++dropped_;
    return;
  }
  errors_.push_back({std::move(field), std::move(message)});
}

Problem FieldErrors::problem() const {
  Problem p;
  p.code = Errc::kInvalidRequest;
  p.errors = errors_;
  if (!errors_.empty()) p.detail = errors_.front().field + ": " + errors_.front().message;
  if (dropped_ > 0) {
    p.errors.push_back({"", "and " + std::to_string(dropped_) + " more"});
  }
  return p;
}

Response problem_response(const Problem& problem) {
  const int status = http_status(problem.code);
  boost::json::object body;
  body["type"] = "about:blank";
  body["title"] = reason_phrase(status);
  body["status"] = status;
  body["code"] = code_name(problem.code);
  body["detail"] = problem.detail;
  if (problem.retry_after.count() > 0) body["retry_after"] = problem.retry_after.count();
  if (problem.attempts_remaining) body["attempts_remaining"] = *problem.attempts_remaining;
  if (problem.status) body["verification_status"] = core::to_string(*problem.status);
  if (!problem.errors.empty()) {
    boost::json::array errors;
    for (const auto& e : problem.errors) {
      boost::json::object item;
      item["field"] = e.field;
      item["message"] = e.message;
      errors.push_back(std::move(item));
    }
    body["errors"] = std::move(errors);
  }
  Response response;
  response.status = status;
  response.problem_code = code_name(problem.code);
  response.set_header("Content-Type", "application/problem+json");
  if (problem.retry_after.count() > 0) {
    response.set_header("Retry-After", std::to_string(problem.retry_after.count()));
  }
  if (!problem.allow.empty()) response.set_header("Allow", problem.allow);
  response.body = boost::json::serialize(body);
  return response;
}

}  // namespace otpd::api
