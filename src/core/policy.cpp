// Arithmetic on a tenant's policy.
#include "core/policy.hpp"

#include <algorithm>
#include <climits>

namespace otpd::core {

Seconds Policy::cooldown_after_send(int sends_in_window) const {
  const long long base = std::max(resend_cooldown_seconds, 0);
  if (sends_in_window <= 1 || base == 0) return Seconds(base);
  // The cap never undercuts the first cooldown, so the sequence stays non-decreasing even
  // when a tenant configures a cooldown longer than its window. A window of 0 means no cap
  // beyond what an int of seconds can hold.
  const long long cap =
      send_window_seconds > 0 ? std::max<long long>(send_window_seconds, base) : INT_MAX;
  long long cooldown = base;
  // Doubling stops at the cap, so no number of sends can overflow.
  for (int i = 1; i < sends_in_window && cooldown < cap; ++i) cooldown *= 2;
  return Seconds(std::min(cooldown, cap));
}

}  // namespace otpd::core
