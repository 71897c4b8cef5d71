// RFC 3339 formatting without locale or time-zone state (gmtime_r only).
#include "core/time_format.hpp"

#include <ctime>

namespace otpd::core {

std::string format_rfc3339(TimePoint t) { return std::string(Rfc3339(t).view()); }

Rfc3339::Rfc3339(TimePoint t) {
  const auto ms = to_unix_ms(t);
  // Floor towards minus infinity so pre-epoch times still format correctly.
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  size_ = std::strftime(text_, sizeof text_, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

}  // namespace otpd::core
