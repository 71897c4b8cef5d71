// One delivery attempt, written once for the background worker and for inline delivery
// (Lambda): open the job's sealed payload, render the message from the tenant's templates,
// call the tenant's channel, and decide sent / retry with backoff / failed.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/keyring.hpp"
#include "core/random.hpp"
#include "core/task.hpp"
#include "delivery/channel.hpp"
#include "store/store.hpp"

namespace otpd::delivery {

// Channels by tenant name and kind.
using ChannelMap = std::map<std::pair<std::string, core::ChannelKind>, std::shared_ptr<Channel>>;

// How long a job taken for an attempt stays hidden from other takers. Long enough for one
// attempt (the webhook's timeout is 10 s) plus recording its outcome; a process that dies
// mid-attempt leaves the job to be taken again after it. Kept short because that is how
// long a code in flight at a crash waits for its redelivery.
inline constexpr core::Millis kAttemptLease{20000};

// Backoff before retry number `attempt` (1-based): 1 s, 2 s, 4 s ... capped at 30 s, each
// scaled by a random factor in [0.5, 1.0] so retries from many jobs spread out.
core::Millis retry_backoff(int attempt, core::RandomSource& rng);

struct DeliveryCounters {
  std::function<void(core::ChannelKind, const char* outcome)> on_attempt;  // may be empty
};

// What an attempt decided; the caller records it in the store.
struct AttemptOutcome {
  enum class Kind {
    kSent,     // finish as sent
    kFailed,   // finish as failed: permanent, expired, unopenable, or no retry before expiry
    kRetry,    // transient: due again at retry_at
    kUnknown,  // the attempt raised: nothing to record, the job's lease runs out and it is
               // taken again
  };
  Kind kind = Kind::kUnknown;
  core::TimePoint retry_at;  // kRetry only
};

class Deliverer {
 public:
  // Everything passed by reference must outlive every attempt.
  Deliverer(const core::Keyring& keyring, const core::TimeSource& clock, core::RandomSource& rng,
            const config::Config& config, ChannelMap channels, DeliveryCounters counters = {});

  // One attempt at `job`, logged and counted. Writes nothing to the store and never throws.
  // Safe from any thread; runs on the awaiting coroutine's executor.
  Task<AttemptOutcome> attempt(const store::DeliveryJob& job);

  const config::Config& config() const { return config_; }

 private:
  Task<AttemptOutcome> try_attempt(const store::DeliveryJob& job);
  AttemptOutcome fail(const store::DeliveryJob& job, const std::string& detail);
  void count(core::ChannelKind channel, const char* outcome) const;

  const core::Keyring& keyring_;
  const core::TimeSource& clock_;
  core::RandomSource& rng_;
  std::mutex rng_mu_;  // attempts run on any I/O thread; a RandomSource need not be thread-safe
  const config::Config& config_;
  const ChannelMap channels_;
  const DeliveryCounters counters_;
};

// The outcome as the store records it: kSent / kFailed for finish().
store::FinishedDelivery finished_delivery(const store::DeliveryJob& job,
                                          const AttemptOutcome& outcome);

// Records one outcome at once: finish() for sent and failed, retry() for a retry; nothing for
// kUnknown. False (and logged) when the store could not record it: the job then stays leased
// and is delivered again once the lease has passed, a duplicate rather than a lost message.
Task<bool> record_outcome(store::DeliveryQueue& store, const store::DeliveryJob& job,
                          const AttemptOutcome& outcome);

// The log line for an outcome the store could not record (`op` is "finish" or "retry").
void log_record_error(const core::TenantId& tenant, const core::VerificationId& id,
                      core::ChannelKind channel, const char* op,
                      const boost::system::error_code& ec);

}  // namespace otpd::delivery
