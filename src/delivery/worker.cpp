// The delivery worker: a coroutine loop on a strand that leases due jobs from the store, and
// an attempt coroutine per job started whenever the FairQueue gives it a slot.
#include "delivery/worker.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <iterator>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "delivery/clock_timer.hpp"
#include "obs/log.hpp"

namespace otpd::delivery {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kBatch = 64;  // jobs taken per round, at most
constexpr core::Millis kMaxStoreBackoff{30000};
constexpr std::size_t kMaxDueTimes = 1024;  // retry due times remembered for the timer
// A job waiting in memory is started only while this much of its lease is left (an attempt
// has the webhook's 10 s); past it, it is let go and the store hands it out again once the
// lease has passed, rather than two workers attempting it at once.
constexpr core::Millis kLeaseNeeded = kAttemptLease / 2;

}  // namespace

struct Worker::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, store::DeliveryQueue& store, Deliverer& deliverer,
       const core::TimeSource& clock, WorkerOptions options)
      : io_(io),
        strand_(asio::make_strand(io)),
        timer_(strand_, clock),
        store_(store),
        deliverer_(deliverer),
        clock_(clock),
        poll_(std::max(options.poll_interval, core::Millis(1))),
        queue_(options.share) {}

  asio::io_context& io_;
  // The loop and its timer live on the strand: notify() and stop() come from other threads
  // and a timer must not be touched from two threads at once.
  asio::strand<asio::io_context::executor_type> strand_;
  ClockTimer timer_;
  store::DeliveryQueue& store_;
  Deliverer& deliverer_;
  const core::TimeSource& clock_;
  const core::Millis poll_;

  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  // Set by notify() and by whatever frees room; cleared when a round starts. It covers the
  // wake-up that arrives while the loop is busy rather than waiting on the timer.
  std::atomic<bool> pending_{false};

  mutable std::mutex mu_;
  FairQueue queue_;       // GUARDED_BY(mu_)
  bool drained_ = false;  // GUARDED_BY(mu_); set when the stopping loop started what waited
  // Due times of retries this worker recorded that no round has looked for yet (the
  // earliest kMaxDueTimes; later ones wait for the poll), and until when the loop sleeps
  // (max while it is not sleeping).
  std::multiset<core::TimePoint> due_times_;                 // GUARDED_BY(mu_)
  core::TimePoint sleeping_until_ = core::TimePoint::max();  // GUARDED_BY(mu_)

  // Outcomes waiting to be written (group commit): the first one arms a kFinishDelay
  // timer, and whatever has joined by then is written in one finish call.
  mutable std::mutex finish_mu_;
  struct Finished {
    store::FinishedDelivery done;
    core::ChannelKind channel;  // for the log line, should the write fail
  };
  std::vector<Finished> finished_;  // GUARDED_BY(finish_mu_)
  bool flush_armed_ = false;        // GUARDED_BY(finish_mu_)
  std::size_t flushing_ = 0;        // GUARDED_BY(finish_mu_); batches being written
  // Jobs whose outcome is in a batch and maybe not in the store yet, and those of them
  // written since the current take began. A take can return such a job (its lease ran out:
  // a clock jump, an attempt longer than its lease); it must not be attempted twice.
  using Key = std::pair<core::TenantId, core::VerificationId>;
  std::set<Key> settling_;    // GUARDED_BY(finish_mu_)
  std::vector<Key> settled_;  // GUARDED_BY(finish_mu_)

  // Each attempt starts as a handler of its own: co_spawn would start it inline on an I/O
  // thread, and a chain of attempts that never suspend (a channel that answers at once),
  // each starting the next as it ends, would keep that thread from timers and other work.
  void spawn(std::vector<store::DeliveryJob>& jobs) {
    auto self = shared_from_this();
    for (auto& job : jobs) {
      asio::post(io_, [self, job = std::move(job)]() mutable {
        asio::co_spawn(self->io_, attempt(self, std::move(job)), asio::detached);
      });
    }
    jobs.clear();
  }

  // A leased job, handed over or just taken from the store: start it or let it wait. One
  // already in hand (held by the queue, or its outcome being written) is not taken twice:
  // both locks, because an ending attempt moves its job from the one to the other.
  bool admit(store::DeliveryJob job, core::TimePoint now) {
    std::vector<store::DeliveryJob> start;
    bool admitted = false;
    {
      std::scoped_lock lock(mu_, finish_mu_);
      if (drained_) return false;
      if (settling_.contains({job.tenant, job.id})) return true;
      admitted = queue_.admit(std::move(job), now + kLeaseNeeded, start);
    }
    spawn(start);
    return admitted;
  }

  bool take_over(store::DeliveryJob job) {
    if (stopping_) return false;
    return admit(std::move(job), clock_.now());
  }

  // An attempt ended: its slot goes to the next tenant in turn. The loop is woken when a
  // slot is left free where there was none, or the tenant has room again: in both cases its
  // last take left due jobs in the store.
  void release(const store::DeliveryJob& job) {
    std::vector<store::DeliveryJob> start;
    bool room_appeared = false;
    {
      std::lock_guard lock(mu_);
      const bool no_slot = queue_.free_slots() == 0;
      const bool tenant_full = queue_.full(job.tenant);
      queue_.release(job, clock_.now(), start);
      room_appeared =
          queue_.free_slots() > 0 && (no_slot || (tenant_full && !queue_.full(job.tenant)));
    }
    spawn(start);
    if (room_appeared) wake();
  }

  // A retry was recorded as due at `at`: make sure the loop looks for it then.
  void due_at(core::TimePoint at) {
    bool sooner = false;
    {
      std::lock_guard lock(mu_);
      if (due_times_.size() < kMaxDueTimes) {
        due_times_.insert(at);
      } else if (at < *due_times_.rbegin()) {
        due_times_.erase(std::prev(due_times_.end()));
        due_times_.insert(at);
      }
      sooner = at < sleeping_until_;
    }
    if (sooner) wake();
  }

  bool idle() const {
    std::scoped_lock lock(mu_, finish_mu_);
    return queue_.running() == 0 && queue_.waiting() == 0 && finished_.empty() && flushing_ == 0;
  }

  void record_batched(const store::DeliveryJob& job, const AttemptOutcome& outcome) {
    bool arm = false;
    {
      std::lock_guard lock(finish_mu_);
      finished_.push_back({finished_delivery(job, outcome), job.channel});
      settling_.insert({job.tenant, job.id});
      arm = !std::exchange(flush_armed_, true);
    }
    if (!arm) return;
    auto timer = std::make_shared<asio::steady_timer>(io_, kFinishDelay);
    timer->async_wait([self = shared_from_this(), timer](boost::system::error_code) {
      asio::co_spawn(self->io_, flush_outcomes(self), asio::detached);
    });
  }

  static asio::awaitable<void> flush_outcomes(std::shared_ptr<Impl> self) {
    co_await self->write_outcomes();
  }

  asio::awaitable<void> write_outcomes() {
    std::vector<Finished> batch;
    {
      std::lock_guard lock(finish_mu_);
      batch.swap(finished_);
      flush_armed_ = false;
      ++flushing_;
    }
    std::vector<store::FinishedDelivery> done;
    done.reserve(batch.size());
    for (const auto& f : batch) done.push_back(f.done);
    auto r = co_await store_.finish(std::move(done));
    if (r.has_error()) {
      // The jobs stay leased and are delivered again once the lease ends: a duplicate
      // message rather than a lost one.
      for (const auto& f : batch) {
        log_record_error(f.done.tenant, f.done.id, f.channel, "finish", r.error());
      }
    }
    std::lock_guard lock(finish_mu_);
    --flushing_;
    for (const auto& f : batch) settled_.emplace_back(f.done.tenant, f.done.id);
  }

  void wake() {
    pending_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

  // Waits until `deadline` on the worker's clock, or less when stopped or (if
  // `wake_on_notify`) woken.
  asio::awaitable<void> sleep_until(core::TimePoint deadline, bool wake_on_notify) {
    for (;;) {
      const bool reached = co_await timer_.wait_until(deadline);
      if (reached || stopping_ || wake_on_notify) co_return;
    }
  }

  // The loop's frame holds `self`, so the Impl outlives the Worker until the loop ends.
  static asio::awaitable<void> run(std::shared_ptr<Impl> self) { co_await self->loop(self); }

  // One look at the store: takes as many due jobs as there are free slots, skipping the
  // tenants that have no room. Returns whether the store answered, and sets `maybe_more`
  // when it gave all that was asked for.
  asio::awaitable<bool> take_round(core::TimePoint now, bool& maybe_more) {
    std::size_t room = 0;
    store::TakeRequest request;
    {
      std::scoped_lock lock(mu_, finish_mu_);
      room = queue_.free_slots();
      request.skip_tenants = queue_.full_tenants();
      // Written before this take began: the store no longer hands them out.
      for (const auto& k : settled_) settling_.erase(k);
      settled_.clear();
    }
    if (room == 0) co_return true;
    request.now = now;
    request.max = std::min(kBatch, room);
    request.lease_until = now + kLease;
    auto jobs = co_await store_.take_due(std::move(request));
    if (jobs.has_error()) {
      obs::error("delivery queue unavailable",
                 {{"error", jobs.error().message()}, {"op", "take_due"}});
      co_return false;
    }
    maybe_more = jobs->size() == std::min(kBatch, room);
    // A job refused here (memory full) stays leased and is taken again after its lease.
    for (auto& job : *jobs) (void)admit(std::move(job), now);
    co_return true;
  }

  asio::awaitable<void> loop(const std::shared_ptr<Impl>& self) {
    core::Millis store_backoff{0};
    while (!stopping_) {
      pending_ = false;
      const core::TimePoint round = clock_.now();
      bool store_ok = false;
      bool maybe_more = false;
      try {
        store_ok = co_await take_round(round, maybe_more);
      } catch (const std::exception& e) {
        // Not expected (the store reports failures as values); keep the loop alive anyway.
        obs::error("delivery round failed", {{"error", e.what()}});
      }
      if (stopping_) break;
      if (!store_ok) {
        // Back off so an unreachable store is not hammered; notify() does not cut this short.
        store_backoff = store_backoff.count() == 0 ? std::min(poll_, core::Millis(1000))
                                                   : std::min(kMaxStoreBackoff, store_backoff * 2);
        // Counted from the round, which began before the failed take.
        co_await sleep_until(round + store_backoff, false);
        continue;
      }
      store_backoff = core::Millis(0);
      if (maybe_more || pending_) {
        // Let the attempts just spawned start before taking more.
        co_await asio::post(strand_, asio::use_awaitable);
        continue;
      }
      core::TimePoint deadline = clock_.now() + poll_;
      {
        std::lock_guard lock(mu_);
        // A retry due by the round's time was in reach of its take (taken, or skipped for
        // want of room, which wakes the loop when room appears).
        due_times_.erase(due_times_.begin(), due_times_.upper_bound(round));
        if (!due_times_.empty()) deadline = std::min(deadline, *due_times_.begin());
        sleeping_until_ = deadline;
      }
      co_await sleep_until(deadline, true);
      std::lock_guard lock(mu_);
      sleeping_until_ = core::TimePoint::max();
    }
    // Jobs handed over before the stop were accepted sends: start them now, past the
    // limits, rather than leave them to wait out their lease after a restart.
    std::vector<store::DeliveryJob> start;
    {
      std::lock_guard lock(mu_);
      drained_ = true;
      start = queue_.drain(clock_.now());
    }
    self->spawn(start);
  }

  static asio::awaitable<void> attempt(std::shared_ptr<Impl> self, store::DeliveryJob job) {
    try {
      const AttemptOutcome outcome = co_await self->deliverer_.attempt(job);
      switch (outcome.kind) {
        case AttemptOutcome::Kind::kSent:
        case AttemptOutcome::Kind::kFailed:
          self->record_batched(job, outcome);
          break;
        case AttemptOutcome::Kind::kRetry:
          if (co_await record_outcome(self->store_, job, outcome)) self->due_at(outcome.retry_at);
          break;
        case AttemptOutcome::Kind::kUnknown:
          break;
      }
    } catch (const std::exception& e) {
      // Not expected (attempts and the store report failures as values). The job stays
      // leased and is taken again after its lease; the slot must be given back regardless.
      obs::error("delivery attempt could not be recorded", {{"error", e.what()}});
    }
    self->release(job);
  }
};

Worker::Worker(asio::io_context& io, store::DeliveryQueue& store, Deliverer& deliverer,
               const core::TimeSource& clock, WorkerOptions options)
    : impl_(std::make_shared<Impl>(io, store, deliverer, clock, options)) {}

Worker::~Worker() { stop(); }

void Worker::start() {
  if (impl_->started_.exchange(true)) return;
  asio::co_spawn(impl_->strand_, Impl::run(impl_), asio::detached);
}

void Worker::stop() {
  impl_->stopping_ = true;
  impl_->wake();
}

void Worker::notify() { impl_->wake(); }

bool Worker::accepting() const { return !impl_->stopping_; }

bool Worker::take_over(store::DeliveryJob job) { return impl_->take_over(std::move(job)); }

bool Worker::idle() const { return impl_->idle(); }

std::size_t Worker::running(const core::TenantId& tenant) const {
  std::lock_guard lock(impl_->mu_);
  return impl_->queue_.running(tenant);
}

std::size_t Worker::waiting(const core::TenantId& tenant) const {
  std::lock_guard lock(impl_->mu_);
  return impl_->queue_.waiting(tenant);
}

std::optional<core::TimePoint> Worker::lease_until(core::TimePoint now) {
  if (!accepting()) return std::nullopt;
  return now + kLease;
}

Task<core::DeliveryStatus> Worker::dispatch(store::DeliveryJob job, bool leased) {
  // Refused when the worker began stopping meanwhile or has no room in memory: the job then
  // waits out its lease in the store and is taken from there.
  if (leased) {
    (void)take_over(std::move(job));
  } else {
    notify();
  }
  co_return core::DeliveryStatus::kQueued;
}

}  // namespace otpd::delivery
