// RFC 3339 timestamps in UTC, as every response and event shows them.
#pragma once

#include <string>

#include "core/types.hpp"

namespace otpd::core {

// "2026-11-26T06:01:58Z" (whole seconds; sub-second parts are truncated).
std::string format_rfc3339(TimePoint t);

}  // namespace otpd::core
