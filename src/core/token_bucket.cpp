// Token bucket refill and take.
#include "core/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace otpd::core {
namespace {

// Refill is floating point, so "one whole token" carries a tolerance: without it a bucket
// refilled at 0.1 token/s could hold 0.99999999 after the 10 s retry_after promised.
constexpr double kTokenEpsilon = 1e-9;
// Beyond any real clock; keeps full_at and retry_after finite for absurdly slow rates.
constexpr double kFarFutureMs = 1e15;

}  // namespace

bool TokenSpec::active() const {
  return rate_per_second > 0 && std::isfinite(rate_per_second) && std::isfinite(burst);
}

TakeDecision take_token(const TokenSpec& spec, const std::optional<BucketState>& stored,
                        TimePoint now) {
  TakeDecision out;
  if (!spec.active()) return out;
  const double rate = spec.rate_per_second;
  const double burst = std::max(1.0, spec.burst);
  double tokens = burst;
  TimePoint updated_at = now;
  if (stored) {
    const long long elapsed_ms = std::max<long long>(0, (now - stored->updated_at).count());
    updated_at = std::max(now, stored->updated_at);
    tokens = std::min(burst, stored->tokens + static_cast<double>(elapsed_ms) / 1000.0 * rate);
  }
  if (tokens < 1.0 - kTokenEpsilon) {
    const double seconds = std::ceil((1.0 - kTokenEpsilon - tokens) / rate);
    out.allowed = false;
    out.retry_after = Seconds(static_cast<long long>(std::clamp(seconds, 1.0, kFarFutureMs)));
    return out;
  }
  tokens = std::max(0.0, tokens - 1.0);
  const double full_at =
      std::ceil(static_cast<double>(to_unix_ms(updated_at)) + (burst - tokens) / rate * 1000.0);
  out.next = BucketState{tokens, updated_at};
  out.full_at = from_unix_ms(static_cast<long long>(std::min(full_at, kFarFutureMs)));
  return out;
}

}  // namespace otpd::core
