// Deciding a send: the order of the API reference (docs/api.md) ("the key is checked before any
// limit") and §3, written once for every store.
#include "core/send_rules.hpp"

#include <algorithm>
#include <climits>

namespace otpd::core {

SendRules SendRules::from(const Policy& policy) {
  SendRules rules;
  rules.resend_cooldown = Seconds(std::max(0, policy.resend_cooldown_seconds));
  rules.max_sends_per_window = policy.max_sends_per_window;
  rules.send_window = Seconds(std::max(0, policy.send_window_seconds));
  rules.failures_per_hour = policy.failures_per_recipient_per_hour;
  return rules;
}

Seconds SendRules::cooldown_after_send(long long n) const {
  const long long base = std::max<long long>(resend_cooldown.count(), 0);
  if (n <= 1 || base == 0) return Seconds(base);
  // A window of 0 means no cap beyond what an int of seconds can hold.
  const long long cap = send_window.count() > 0 ? std::max<long long>(send_window.count(), base)
                                                : static_cast<long long>(INT_MAX);
  long long cooldown = base;
  // Doubling stops at the cap, so no number of sends can overflow.
  for (long long i = 1; i < n && cooldown < cap; ++i) cooldown *= 2;
  return Seconds(std::min(cooldown, cap));
}

SendDecision decide_send(const SendSnapshot& snapshot, const SendRules& rules,
                         const std::optional<IdempotencyClaim>& claim,
                         const std::optional<TokenSpec>& rate,
                         const std::vector<CounterSpec>& counters, TimePoint now) {
  SendDecision out;
  auto refuse = [&](SendVerdict verdict, Millis remaining) {
    out.verdict = verdict;
    out.retry_after = retry_after(remaining);
    return out;
  };

  // A replay is never limited, and a lapsed record is no record.
  if (claim && snapshot.idempotency && now < snapshot.idempotency->keep_until) {
    out.verdict = snapshot.idempotency->request_hash == claim->request_hash
                      ? SendVerdict::kReplay
                      : SendVerdict::kIdempotencyConflict;
    return out;
  }

  if (rate && rate->active()) {
    TakeDecision token = take_token(*rate, snapshot.bucket, now);
    if (!token.allowed) return refuse(SendVerdict::kRateLimited, token.retry_after);
    out.token = token;
  }

  const auto& newest = snapshot.newest;
  // Only a code still pending holds a new send back; after approval, cancel, lock or
  // expiry the per-window count alone applies.
  const bool pending = newest && newest->effective_status(now) == Status::kPending;
  if (pending && rules.hold_while_pending) {
    return refuse(SendVerdict::kCooldown, newest->expires_at - now);
  }
  if (pending && now < newest->resend_at) {
    return refuse(SendVerdict::kCooldown, newest->resend_at - now);
  }

  const Millis window = rules.send_window;
  if (rules.max_sends_per_window > 0 && snapshot.sends.count >= rules.max_sends_per_window) {
    return refuse(SendVerdict::kSendLimit, snapshot.sends.oldest + window - now);
  }

  // A code that could never be checked is never paid for.
  if (rules.failures_per_hour > 0 && snapshot.failures.count >= rules.failures_per_hour) {
    return refuse(SendVerdict::kTooManyFailures,
                  snapshot.failures.oldest + kFailureBudgetWindow - now);
  }

  for (std::size_t i = 0; i < counters.size(); ++i) {
    if (!counters[i].active()) continue;
    const long long count = i < snapshot.counters.size() ? snapshot.counters[i] : 0;
    if (count >= counters[i].limit) {
      out.counter_index = i;
      const CounterWindow w = counter_window(now, counters[i].window);
      return refuse(SendVerdict::kCounterLimit, from_unix_ms(w.end_ms) - now);
    }
    out.counted.push_back(i);
  }

  out.verdict = SendVerdict::kStart;
  out.resend_at = now + rules.cooldown_after_send(snapshot.sends.count + 1);
  out.supersede = pending;
  return out;
}

}  // namespace otpd::core
