// Token-bucket arithmetic (the tenant's send rate, the per-key request rate): a pure
// function of the stored state, so every backend stores two numbers and decides alike.
#pragma once

#include <optional>
#include <string>

#include "core/types.hpp"

namespace otpd::core {

// A bucket refilled continuously at `rate_per_second` up to `burst`; a bucket with no
// stored state is full. Keys are namespaced by the caller ("send:<tenant>", "key:<hash>").
struct TokenSpec {
  std::string key;
  double rate_per_second = 0;  // <= 0, NaN or infinite: no limit, nothing stored
  double burst = 1;            // capacity; below one token it is taken as one

  bool active() const;
};

struct BucketState {
  double tokens = 0;
  TimePoint updated_at{};
};

struct TakeDecision {
  bool allowed = true;
  Seconds retry_after{0};  // when refused: until one whole token is back, >= 1 s
  // When allowed: what to store (nothing is written on a refusal: the stored state already
  // gives the refill to come). `full_at` is when the bucket is full again, i.e. the same as
  // no state at all: a store may drop the state from then on.
  BucketState next;
  TimePoint full_at{};
};

// Takes one token. A clock that went back refills nothing, and the state keeps its later
// time, so an interval is never counted twice.
TakeDecision take_token(const TokenSpec& spec, const std::optional<BucketState>& stored,
                        TimePoint now);

}  // namespace otpd::core
