// X-Request-Id: the one rule for which id a request is answered with, shared by every
// transport and by the router, so logs and clients always agree.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace otpd::api {

inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";

// A client's id is echoed only when it is safe in a log line and a header: 1 to 128
// visible ASCII characters.
bool acceptable_request_id(std::string_view id);

// 16 lower-case hex digits. Request ids correlate log lines: unique, not unguessable.
std::string new_request_id();

// The client's id when acceptable, else a new one.
std::string request_id_for(std::optional<std::string_view> sent);

}  // namespace otpd::api
