// problem+json construction, shared by the router and the transports' own errors.
#include "api/problem.hpp"

#include <boost/json/serialize.hpp>

namespace otpd::api {

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
    case 503:
      return "Service Unavailable";
    default:
      return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

Response problem(int status, std::string_view code, std::string_view detail,
                 const boost::json::object& extras, long long retry_after_seconds) {
  boost::json::object body;
  body["type"] = "about:blank";
  body["title"] = reason_phrase(status);
  body["status"] = status;
  body["code"] = code;
  body["detail"] = detail;
  for (const auto& [key, value] : extras) body[key] = value;
  Response response;
  response.status = status;
  response.set_header("Content-Type", "application/problem+json");
  if (retry_after_seconds > 0) {
    response.set_header("Retry-After", std::to_string(retry_after_seconds));
  }
  response.body = boost::json::serialize(body);
  return response;
}

}  // namespace otpd::api
