// The otp client's connection to otpd: where it is, the API key, one request at a time.
#pragma once

#include <string>

#include "net/http_client.hpp"

namespace otpd::cli {

inline constexpr const char* kDefaultUrl = "http://127.0.0.1:8080";

struct Target {
  std::string url = kDefaultUrl;  // without a trailing slash once normalised
  std::string api_key;
};

// One request, synchronously. Network failures come back in HttpResponse::error.
net::HttpResponse call(const Target& target, std::string method, const std::string& path,
                       const std::string& json_body);

}  // namespace otpd::cli
