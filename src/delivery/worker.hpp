// The delivery worker: takes due jobs from the store's queue, opens their sealed payloads,
// delivers through the tenant's channel, and records the outcome, retrying transient
// failures with backoff (1 s doubling to 30 s, with jitter) until the code expires.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/keyring.hpp"
#include "core/random.hpp"
#include "delivery/channel.hpp"
#include "store/store.hpp"

namespace otpd::delivery {

// What the API tells the delivery worker. Implemented by Worker; the API holds only this.
class Notifier {
 public:
  virtual ~Notifier() = default;
  // There is new work in the store's queue: look now rather than at the next poll.
  virtual void notify() = 0;
  // Whether take_over would take a job now (false once stopping). The API asks before it
  // stores a send, since the answer decides whether the stored job starts out leased.
  virtual bool accepting() const = 0;
  // A job just stored with delivery_leased_until = now + lease(): deliver it without
  // fetching it from the store. False when stopping, or when 1024 handed-over jobs are
  // already waiting for an attempt slot; the job then waits out its lease in the store.
  virtual bool take_over(store::DeliveryJob job) = 0;
  virtual core::Millis lease() const = 0;
};

// Channels by tenant name and kind.
using ChannelMap = std::map<std::pair<std::string, core::ChannelKind>, std::shared_ptr<Channel>>;

// Backoff before retry number `attempt` (1-based): 1 s, 2 s, 4 s ... capped at 30 s, each
// scaled by a random factor in [0.5, 1.0] so retries from many jobs spread out.
core::Millis retry_backoff(int attempt, core::RandomSource& rng);

struct WorkerCounters {
  std::function<void(core::ChannelKind, const char* outcome)> on_attempt;  // may be empty
};

class Worker final : public Notifier {
 public:
  static constexpr core::Millis kDefaultPollInterval{1000};
  // How long a taken job stays hidden from other workers. Long enough for one attempt (the
  // webhook's timeout is 10 s) plus recording its outcome; a worker that dies mid-attempt
  // leaves the job to be taken again after it. Kept short because that is how long a code
  // in flight at a crash waits for its redelivery.
  static constexpr core::Millis kLease{20000};
  // Outcomes are written to the store in batches, one commit per batch: an outcome waits
  // at most this long for others to join it.
  static constexpr core::Millis kFinishDelay{2};

  // Everything passed by reference must outlive the io_context's last handler, not just the
  // Worker: attempts still in flight after stop() use them. `poll_interval` bounds how long
  // a due job waits when nobody calls notify() (retries, other instances' sends); tests
  // lengthen it to show that notify() alone wakes the worker.
  Worker(boost::asio::io_context& io, store::Store& store, const core::Keyring& keyring,
         const core::TimeSource& clock, core::RandomSource& rng, const config::Config& config,
         ChannelMap channels, WorkerCounters counters = {},
         core::Millis poll_interval = kDefaultPollInterval);
  ~Worker() override;

  void start();  // spawns the loop on `io`
  // Stops taking new jobs; attempts in flight finish. Safe from any thread.
  void stop();
  void notify() override;  // safe from any thread
  bool accepting() const override;
  bool take_over(store::DeliveryJob job) override;  // safe from any thread
  core::Millis lease() const override { return kLease; }
  // No attempt running, none handed over and waiting, no outcome left to write: after
  // stop(), the moment the process may exit without redelivering anything.
  bool idle() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace otpd::delivery
