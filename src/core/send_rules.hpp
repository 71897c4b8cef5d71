// The rules of starting a verification (the API reference (docs/api.md) and the README's Limits):
// idempotency first, then the tenant's send rate, the resend cooldown with doubling, the
// per-recipient window, the failure budget and the fixed-window counters, and supersede. A pure
// function of what a store read; every backend commits what it decides and holds no rule of its
// own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "core/policy.hpp"
#include "core/token_bucket.hpp"
#include "core/verification.hpp"

namespace otpd::core {

struct SendRules {
  Seconds resend_cooldown{30};   // after the first send; doubles with each further one
  int max_sends_per_window = 5;  // <= 0: no per-recipient window limit
  Seconds send_window{600};
  int failures_per_hour = 15;  // a spent failure budget also holds back sends; 0 = off
  // The compatibility facade: no new code while the recipient's newest one is pending, as
  // the original service answered (the cooldown then lasts until that code expires).
  bool hold_while_pending = false;

  static SendRules from(const Policy& policy);
  // The cooldown after the n-th send (1-based) to a recipient inside the window: base,
  // 2*base, 4*base... capped at the window, but never below the base, so a cooldown
  // configured longer than the window is honoured as configured.
  Seconds cooldown_after_send(long long n) const;
};

// What an idempotent send leaves behind: the request it answered and the verification as
// that first answer showed it, replayed for 24 h to the same key with the same body.
struct IdempotencyRecord {
  std::string request_hash;
  Verification first;
  TimePoint keep_until{};
};

// The idempotency part of a send request: the key (namespaced per tenant by the store) and
// the hash of the request body once parsed, so that re-ordered fields are the same request.
struct IdempotencyClaim {
  std::string key;
  std::string request_hash;
  TimePoint keep_until{};
};

// What a store read for one send, in one consistent snapshot.
struct SendSnapshot {
  std::optional<IdempotencyRecord> idempotency;  // the record under the claim's key
  std::optional<BucketState> bucket;             // the tenant's send bucket
  std::optional<Verification> newest;            // the recipient's newest, under any secret
  WindowCount sends;                             // accepted sends in (now - window, now]
  WindowCount failures;                          // wrong checks in (now - 1 h, now]
  std::vector<long long> counters;               // this window's count per CounterSpec
};

enum class SendVerdict {
  kStart,                // store it; supersede the pending one if `supersede`
  kReplay,               // answer with the idempotency record's verification; store nothing
  kIdempotencyConflict,  // the key was used with another body
  kRateLimited,          // the tenant's send bucket is empty
  kCooldown,             // within the cooldown of the recipient's pending code
  kSendLimit,            // the recipient's window is full
  kTooManyFailures,      // the recipient's failure budget is spent
  kCounterLimit,         // counters[counter_index] is full for its window
};

struct SendDecision {
  SendVerdict verdict = SendVerdict::kStart;
  Seconds retry_after{0};  // refusals other than the idempotency ones: >= 1 s
  std::size_t counter_index = 0;
  // kStart: what to write besides the verification, its send record, its delivery job and
  // the idempotency record (when claimed).
  TimePoint resend_at{};
  bool supersede = false;             // cancel `newest` and drop its delivery job
  std::vector<std::size_t> counted;   // indexes of the counters to increment
  std::optional<TakeDecision> token;  // the bucket's new state when a rate applies
};

// `claim` and `rate` are the request's; `counters` are its CounterSpecs in the order the
// snapshot's counts follow. A refusal writes nothing, so it never extends a cooldown, nor
// counts in a window or a counter, nor takes a token.
SendDecision decide_send(const SendSnapshot& snapshot, const SendRules& rules,
                         const std::optional<IdempotencyClaim>& claim,
                         const std::optional<TokenSpec>& rate,
                         const std::vector<CounterSpec>& counters, TimePoint now);

}  // namespace otpd::core
