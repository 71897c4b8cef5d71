// Reads the error code out of the three ways AWS services answer errors.
#include "aws/error.hpp"

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <cctype>

namespace otpd::aws {
namespace {

std::string plain_name(std::string_view code) {
  const auto trimmed_begin = code.find_first_not_of(" \t\r\n");
  if (trimmed_begin == std::string_view::npos) return "";
  code = code.substr(trimmed_begin, code.find_last_not_of(" \t\r\n") - trimmed_begin + 1);
  const bool plain =
      !code.empty() && code.size() <= 64 && std::all_of(code.begin(), code.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  return plain ? std::string(code) : std::string();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string from_json(std::string_view body) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return "";
  const auto& object = value.as_object();
  for (const char* key : {"__type", "code", "Code"}) {
    const auto* v = object.if_contains(key);
    if (v == nullptr || !v->is_string()) continue;
    std::string_view code = v->as_string();
    // "com.amazon.coral.service#UnrecognizedClientException" names the code after the '#'.
    if (const auto hash = code.rfind('#'); hash != std::string_view::npos) {
      code = code.substr(hash + 1);
    }
    if (const auto colon = code.find(':'); colon != std::string_view::npos) {
      code = code.substr(0, colon);
    }
    return plain_name(code);
  }
  return "";
}

std::string from_xml(std::string_view body) {
  constexpr std::string_view kOpen = "<Code>";
  constexpr std::string_view kClose = "</Code>";
  const auto open = body.find(kOpen);
  if (open == std::string_view::npos) return "";
  const auto start = open + kOpen.size();
  const auto close = body.find(kClose, start);
  if (close == std::string_view::npos) return "";
  return plain_name(body.substr(start, close - start));
}

}  // namespace

std::string error_code_of(const net::HttpResponse& response) {
  for (const auto& [name, value] : response.headers) {
    if (!iequals(name, "x-amzn-ErrorType")) continue;
    std::string_view type = value;
    type = type.substr(0, type.find(':'));
    if (auto code = plain_name(type); !code.empty()) return code;
  }
  const auto first = response.body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  if (response.body[first] == '{') return from_json(response.body);
  if (response.body[first] == '<') return from_xml(response.body);
  return "";
}

bool is_throttling_error(std::string_view code) {
  static constexpr std::array<std::string_view, 12> kCodes{
      "Throttling",
      "ThrottlingException",
      "ThrottledException",
      "Throttled",
      "TooManyRequestsException",
      "RequestThrottled",
      "RequestThrottledException",
      "RequestLimitExceeded",
      "SlowDown",
      "KMSThrottling",
      "KMSThrottlingException",
      "ProvisionedThroughputExceededException"};
  return std::find(kCodes.begin(), kCodes.end(), code) != kCodes.end();
}

bool is_expired_credentials_error(std::string_view code) {
  return code == "ExpiredToken" || code == "ExpiredTokenException" || code == "RequestExpired";
}

}  // namespace otpd::aws
