// The arithmetic every limit shares: sliding-window counts, fixed-window counters and
// Retry-After, so each store backend only reads and writes numbers and never re-derives them.
#pragma once

#include <string>

#include "core/types.hpp"

namespace otpd::core {

// Events of one kind a store found inside a sliding window (sends to a recipient, wrong
// checks against it): how many, and the oldest, whose leaving frees the next slot.
struct WindowCount {
  long long count = 0;
  TimePoint oldest{};  // meaningful when count > 0

  // Adds another store's (or another secret's) part of the same history.
  void merge(const WindowCount& other);
};

// Whole seconds until `remaining` has passed, never below 1: a client told 0 retries at once.
Seconds retry_after(Millis remaining);

// A count of accepted sends per key in fixed windows aligned to multiples of `window` from
// the Unix epoch (a day is a UTC day): the daily spending cap per channel, the SMS
// velocity per country prefix. Keys are namespaced by the caller, e.g. "daily:acme:sms".
struct CounterSpec {
  std::string key;
  long long limit = 0;  // sends allowed per window; <= 0: not counted at all
  Seconds window{86400};

  bool active() const { return limit > 0 && window > Seconds(0); }
};

// The fixed window holding `now`: [start, end) in Unix milliseconds. A store keys a
// counter's row by (key, start, end), so changing a counter's length starts it afresh.
struct CounterWindow {
  long long start_ms = 0;
  long long end_ms = 0;
};
CounterWindow counter_window(TimePoint now, Seconds window);

// How long the wrong checks against one recipient count against its failure budget.
inline constexpr Millis kFailureBudgetWindow{3'600'000};

}  // namespace otpd::core
