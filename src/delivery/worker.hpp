// The delivery worker, for `serve`: takes jobs (handed over by this process's sends, or due in
// the store's queue), runs each attempt as its own coroutine through the Deliverer, and
// records the outcomes. Attempt slots are shared out between tenants (FairQueue): at most
// FairShare::slots attempts at once, at most FairShare::per_tenant for one tenant, waiting
// jobs started round-robin by tenant, and a tenant at its share skipped when taking from the
// store. So a tenant whose provider accepts connections and never answers holds only its own
// share of the slots while other tenants' codes go out at once.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "core/clock.hpp"
#include "delivery/deliverer.hpp"
#include "delivery/dispatcher.hpp"
#include "delivery/fair_queue.hpp"
#include "store/store.hpp"

namespace otpd::delivery {

struct WorkerOptions {
  // How long a due job waits when nobody calls notify() (other instances' sends, jobs whose
  // lease ran out); tests lengthen it to show that notify() alone wakes the worker. Retries
  // this worker scheduled wake it at their due time, on the worker's clock.
  core::Millis poll_interval{1000};
  FairShare share;
};

class Worker final : public Dispatcher {
 public:
  static constexpr core::Millis kLease = kAttemptLease;
  // Outcomes are written to the store in batches, one commit per batch: an outcome waits
  // at most this long (real time) for others to join it.
  static constexpr core::Millis kFinishDelay{2};

  // Everything passed by reference must outlive the io_context's last handler, not just the
  // Worker: attempts still in flight after stop() use them. The poll, retry due times and
  // the store's backoff are waited for on `clock`: a manual clock's advance() fires them.
  Worker(boost::asio::io_context& io, store::DeliveryQueue& store, Deliverer& deliverer,
         const core::TimeSource& clock, WorkerOptions options = {});
  ~Worker() override;

  void start();  // spawns the loop on `io`
  // Stops taking new jobs; attempts in flight finish. Safe from any thread.
  void stop();
  // There is new work in the store's queue: look now rather than at the next poll.
  void notify();  // safe from any thread
  // Whether take_over would take a job now (false once stopping).
  bool accepting() const;
  // A job just stored leased for kLease: deliver it without fetching it from the store. It
  // starts at once when its tenant and the worker have a free slot, else waits in memory
  // (bounded by FairShare::waiting, see FairQueue::admit). False when stopping or refused:
  // the job then waits out its lease in the store. Safe from any thread.
  bool take_over(store::DeliveryJob job);

  // Dispatcher: a send's job is stored leased for kLease and taken over (kQueued).
  std::optional<core::TimePoint> lease_until(core::TimePoint now) override;
  Task<core::DeliveryStatus> dispatch(store::DeliveryJob job, bool leased) override;
  // No attempt running, none handed over and waiting, no outcome left to write: after
  // stop(), the moment the process may exit without redelivering anything.
  bool idle() const;

  // How many attempts of `tenant` are running and how many of its jobs wait (for tests).
  std::size_t running(const core::TenantId& tenant) const;
  std::size_t waiting(const core::TenantId& tenant) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace otpd::delivery
