// Byte-level conversions between API Gateway events and HTTP text: base64 bodies, UTF-8
// checks for response bodies, and making an event's path safe as a request target.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace otpd::lambda {

// RFC 4648 base64 with padding, as API Gateway sends bodies with isBase64Encoded. nullopt
// when `text` is not valid base64 (wrong length, stray characters).
std::optional<std::string> base64_decode(std::string_view text);

// Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_utf8(std::string_view bytes);

// An event's path as a request target's path: REST APIs pass the path still
// percent-encoded, HTTP APIs pass it decoded. Bytes that can never stand literally in a path
// (space, '?', '#', controls, non-ASCII, a '%' not starting an escape) are escaped; valid
// escapes and everything else are kept, so an encoded path is never encoded twice and a
// decoded one cannot smuggle in a query.
std::string path_as_target(std::string_view path);

}  // namespace otpd::lambda
