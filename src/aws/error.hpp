// AWS error answers reduced to what may be logged: the error code's name, never its message
// (which can repeat a recipient or other request data), and how a caller should treat it.
#pragma once

#include <string>
#include <string_view>

#include "net/http_client.hpp"

namespace otpd::aws {

// The AWS error code of a non-2xx answer, from the x-amzn-ErrorType header (REST-JSON
// services such as SES v2), a JSON body's "__type" / "code" (JSON protocols), or an XML body's
// <Code> (query protocols such as SNS). "" when none is found or it is not a plain name
// (letters, digits, '.', '_', '-'; at most 64 characters).
std::string error_code_of(const net::HttpResponse& response);

// Throttling and similar "slow down" codes that AWS answers with a 400 as well as a 429.
bool is_throttling_error(std::string_view code);
// The request was signed with credentials that have expired: fetch new ones and retry.
bool is_expired_credentials_error(std::string_view code);

}  // namespace otpd::aws
