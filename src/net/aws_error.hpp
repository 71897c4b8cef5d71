// AWS error answers reduced to what may be logged: the error code's name, never its message
// (which can repeat a recipient or other request data), and how a caller should treat it.
#pragma once

#include <string>
#include <string_view>

#include "net/http_client.hpp"

namespace otpd::net {

// The AWS error code of a non-2xx answer, from the x-amzn-ErrorType header (REST-JSON
// services such as SES v2), a JSON body's "__type" / "code" (JSON protocols), or an XML body's
// <Code> (query protocols such as SNS). "" when none is found or it is not a plain name
// (letters, digits, '.', '_', '-'; at most 64 characters).
std::string aws_error_code(const HttpResponse& response);

// Throttling and similar "slow down" codes that AWS answers with a 400 as well as a 429.
bool aws_error_is_throttling(std::string_view code);
// The request was signed with credentials that have expired: fetch new ones and retry.
bool aws_error_is_expired_credentials(std::string_view code);

}  // namespace otpd::net
