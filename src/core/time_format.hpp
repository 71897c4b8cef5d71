// RFC 3339 timestamps in UTC, as every response and event shows them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace otpd::core {

// "2026-11-26T06:01:58Z" (whole seconds; sub-second parts are truncated).
std::string format_rfc3339(TimePoint t);

// The same text in a buffer of its own, for a caller that only copies it on (a response
// body): no allocation.
class Rfc3339 {
 public:
  explicit Rfc3339(TimePoint t);
  std::string_view view() const { return {text_, size_}; }

 private:
  char text_[32];
  std::size_t size_;
};

}  // namespace otpd::core
