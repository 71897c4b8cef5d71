// Per-address failure buckets for authentication.
#include "api/auth_throttle.hpp"

#include <algorithm>
#include <cmath>

namespace otpd::api {

bool AuthThrottle::allow_failure(const std::string& address,
                                 std::chrono::steady_clock::time_point now,
                                 core::Seconds& retry_after) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(address);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxAddresses) {
      // Full buckets are the same as no entry: dropping them loses nothing. If none is full
      // the table is under attack from many addresses; starting over only forgives them.
      std::erase_if(buckets_, [&](const auto& entry) {
        const double elapsed = std::chrono::duration<double>(now - entry.second.updated).count();
        return entry.second.tokens + elapsed * kRatePerSecond >= kBurst;
      });
      if (buckets_.size() >= kMaxAddresses) buckets_.clear();
    }
    it = buckets_.emplace(address, Bucket{kBurst, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.updated).count());
  b.tokens = std::min(kBurst, b.tokens + elapsed * kRatePerSecond);
  b.updated = std::max(b.updated, now);
  if (b.tokens < 1.0) {
    retry_after = core::Seconds(
        std::max(1LL, static_cast<long long>(std::ceil((1.0 - b.tokens) / kRatePerSecond))));
    return false;
  }
  b.tokens -= 1.0;
  return true;
}

}  // namespace otpd::api
