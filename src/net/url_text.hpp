// Percent-encoding and URL joining shared by the outbound clients (Twilio, SES, SNS, SigV4,
// the AWS credential endpoints).
#pragma once

#include <string>
#include <string_view>

namespace otpd::net {

// RFC 3986 unreserved bytes (A-Z a-z 0-9 - . _ ~) as they are, every other byte %XX in upper
// case; '/' kept when `keep_slash` (a path). This is also SigV4's UriEncode.
std::string percent_encode(std::string_view value, bool keep_slash = false);
// application/x-www-form-urlencoded: the same, with a space as '+'.
std::string form_urlencode(std::string_view value);
// A configured base URL without its trailing slashes, ready for a path to be appended.
std::string without_trailing_slash(std::string url);

}  // namespace otpd::net
