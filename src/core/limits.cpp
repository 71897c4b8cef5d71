// Window arithmetic shared by every limit.
#include "core/limits.hpp"

#include <algorithm>

namespace otpd::core {

void WindowCount::merge(const WindowCount& other) {
  if (other.count <= 0) return;
  oldest = count > 0 ? std::min(oldest, other.oldest) : other.oldest;
  count += other.count;
}

Seconds retry_after(Millis remaining) {
  const long long ms = remaining.count();
  return Seconds(std::max(1LL, (ms + 999) / 1000));
}

CounterWindow counter_window(TimePoint now, Seconds window) {
  // Capped so that the arithmetic cannot overflow (about 35,000 years).
  const long long length_ms = std::clamp<long long>(window.count(), 1, 1LL << 40) * 1000;
  const long long t = to_unix_ms(now);
  long long q = t / length_ms;
  if (t % length_ms != 0 && t < 0) --q;  // floor, not truncation, before the epoch
  return {q * length_ms, q * length_ms + length_ms};
}

}  // namespace otpd::core
