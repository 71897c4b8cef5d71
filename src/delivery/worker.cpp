// The delivery worker: a coroutine loop on a strand that leases due jobs from the store and
// runs each attempt as its own coroutine, so a slow provider holds back only its own jobs.
#include "delivery/worker.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "delivery/payload.hpp"
#include "delivery/templates.hpp"
#include "obs/log.hpp"

namespace otpd::delivery {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kBatch = 64;        // jobs taken per round
constexpr std::size_t kMaxInFlight = 64;  // attempts running at once
// Jobs handed over and waiting in memory for a free attempt slot. Past this (a provider
// that hangs while sends keep coming) take_over refuses, and a job waits in the store
// instead, where its lease makes it due again in Worker::kLease: memory stays bounded.
constexpr std::size_t kMaxWaiting = 1024;
constexpr core::Millis kMaxStoreBackoff{30000};

}  // namespace

core::Millis retry_backoff(int attempt, core::RandomSource& rng) {
  const int doublings = std::clamp(attempt - 1, 0, 5);  // 2^5 s already passes the cap
  const long long base_ms = std::min<long long>(30000, 1000LL << doublings);
  std::array<std::uint8_t, 8> bytes{};
  rng.fill(bytes);
  std::uint64_t x = 0;
  for (auto b : bytes) x = (x << 8) | b;
  // 53 bits map exactly onto doubles in [0, 1], both ends included.
  const double unit =
      static_cast<double>(x >> 11) / static_cast<double>((std::uint64_t{1} << 53) - 1);
  const double factor = 0.5 + 0.5 * unit;
  return core::Millis(std::llround(static_cast<double>(base_ms) * factor));
}

struct Worker::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, store::Store& store, const core::Keyring& keyring,
       const core::TimeSource& clock, core::RandomSource& rng, const config::Config& config,
       ChannelMap channels, WorkerCounters counters, core::Millis poll)
      : io_(io),
        strand_(asio::make_strand(io)),
        timer_(strand_),
        store_(store),
        keyring_(keyring),
        clock_(clock),
        rng_(rng),
        config_(config),
        channels_(std::move(channels)),
        counters_(std::move(counters)),
        poll_(std::max(poll, core::Millis(1))) {}

  asio::io_context& io_;
  // The loop and the timer live on the strand: notify() and stop() come from other threads
  // and a timer must not be touched from two threads at once.
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  store::Store& store_;
  const core::Keyring& keyring_;
  const core::TimeSource& clock_;
  core::RandomSource& rng_;
  std::mutex rng_mu_;  // attempts run on any I/O thread; a RandomSource need not be thread-safe
  const config::Config& config_;
  const ChannelMap channels_;
  const WorkerCounters counters_;
  const core::Millis poll_;

  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  // Set by notify() and by finished attempts; cleared when a round starts. It covers the
  // wake-up that arrives while the loop is busy rather than waiting on the timer.
  std::atomic<bool> pending_{false};
  std::atomic<std::size_t> in_flight_{0};

  // Jobs handed over by the API while kMaxInFlight attempts were running; the loop starts
  // them before it takes anything from the store.
  mutable std::mutex handed_mu_;
  std::deque<store::DeliveryJob> handed_;  // GUARDED_BY(handed_mu_)

  // Outcomes waiting to be written (group commit): the first one arms a kFinishDelay
  // timer, and whatever has joined by then is written in one finish_deliveries call.
  mutable std::mutex finish_mu_;
  struct Finished {
    store::FinishedDelivery done;
    core::ChannelKind channel;  // for the log line, should the write fail
  };
  std::vector<Finished> finished_;  // GUARDED_BY(finish_mu_)
  bool flush_armed_ = false;        // GUARDED_BY(finish_mu_)
  std::size_t flushing_ = 0;        // GUARDED_BY(finish_mu_); batches being written

  bool take_over(store::DeliveryJob job) {
    if (stopping_) return false;
    {
      std::lock_guard lock(handed_mu_);
      // Behind jobs already waiting, or past the cap: the loop starts it when there is room.
      if (!handed_.empty() || in_flight_.load() >= kMaxInFlight) {
        if (handed_.size() >= kMaxWaiting) return false;
        handed_.push_back(std::move(job));
        wake();
        return true;
      }
      ++in_flight_;
    }
    asio::co_spawn(io_, attempt(shared_from_this(), std::move(job)), asio::detached);
    return true;
  }

  // Starts handed-over jobs while there is room; returns how many slots are left.
  std::size_t start_handed(const std::shared_ptr<Impl>& self) {
    std::lock_guard lock(handed_mu_);
    while (!handed_.empty() && in_flight_.load() < kMaxInFlight) {
      ++in_flight_;
      asio::co_spawn(io_, attempt(self, std::move(handed_.front())), asio::detached);
      handed_.pop_front();
    }
    if (!handed_.empty()) return 0;
    return kMaxInFlight - std::min(kMaxInFlight, in_flight_.load());
  }

  bool idle() const {
    std::scoped_lock lock(handed_mu_, finish_mu_);
    return in_flight_.load() == 0 && handed_.empty() && finished_.empty() && flushing_ == 0;
  }

  void record_outcome(const store::DeliveryJob& job, core::DeliveryStatus outcome) {
    bool arm = false;
    {
      std::lock_guard lock(finish_mu_);
      finished_.push_back({{job.tenant, job.id, outcome}, job.channel});
      arm = !std::exchange(flush_armed_, true);
    }
    if (!arm) return;
    auto timer = std::make_shared<asio::steady_timer>(io_, kFinishDelay);
    timer->async_wait(
        [self = shared_from_this(), timer](boost::system::error_code) { self->flush_outcomes(); });
  }

  void flush_outcomes() {
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
    auto r = store_.finish_deliveries(done);
    if (r.has_error()) {
      // The jobs stay leased and are delivered again once the lease ends: a duplicate
      // message rather than a lost one.
      for (const auto& f : batch) {
        log_store_error(f.done.tenant, f.done.id, f.channel, "finish_deliveries", r.error());
      }
    }
    std::lock_guard lock(finish_mu_);
    --flushing_;
  }

  void wake() {
    pending_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

  void count(core::ChannelKind channel, const char* outcome) const {
    if (counters_.on_attempt) counters_.on_attempt(channel, outcome);
  }

  // Waits `d`, or less when stopped or (if `wake_on_notify`) notified.
  asio::awaitable<void> sleep(core::Millis d, bool wake_on_notify) {
    timer_.expires_after(d);
    for (;;) {
      auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!ec || stopping_) co_return;
      if (wake_on_notify) co_return;
      if (timer_.expiry() <= asio::steady_timer::clock_type::now()) co_return;
    }
  }

  // The loop's frame holds `self`, so the Impl outlives the Worker until the loop ends.
  static asio::awaitable<void> run(std::shared_ptr<Impl> self) { co_await self->loop(self); }

  asio::awaitable<void> loop(const std::shared_ptr<Impl>& self) {
    core::Millis store_backoff{0};
    while (!stopping_) {
      pending_ = false;
      bool store_failed = false;
      bool maybe_more = false;
      try {
        const std::size_t room = start_handed(self);
        if (room > 0) {
          const auto now = clock_.now();
          const std::size_t max = std::min(kBatch, room);
          auto jobs = store_.take_due_deliveries(now, max, now + kLease);
          if (jobs.has_error()) {
            obs::error("delivery queue unavailable",
                       {{"error", jobs.error().message()}, {"op", "take_due_deliveries"}});
            store_failed = true;
          } else {
            maybe_more = jobs->size() == max;
            for (auto& job : *jobs) {
              ++in_flight_;
              asio::co_spawn(io_, attempt(self, std::move(job)), asio::detached);
            }
          }
        }
      } catch (const std::exception& e) {
        // Not expected (the store reports failures as values); keep the loop alive anyway.
        obs::error("delivery round failed", {{"error", e.what()}});
        store_failed = true;
      }
      if (stopping_) break;
      if (store_failed) {
        // Back off so an unreachable store is not hammered; notify() does not cut this short.
        store_backoff = store_backoff.count() == 0 ? std::min(poll_, core::Millis(1000))
                                                   : std::min(kMaxStoreBackoff, store_backoff * 2);
        co_await sleep(store_backoff, false);
        continue;
      }
      store_backoff = core::Millis(0);
      if (maybe_more || pending_) {
        // Let the attempts just spawned start before taking more.
        co_await asio::post(strand_, asio::use_awaitable);
        continue;
      }
      co_await sleep(poll_, true);
    }
    // Jobs handed over before the stop were accepted sends: start them now, past the cap,
    // rather than leave them to wait out their lease after a restart.
    std::lock_guard lock(handed_mu_);
    for (auto& job : handed_) {
      ++in_flight_;
      asio::co_spawn(io_, attempt(self, std::move(job)), asio::detached);
    }
    handed_.clear();
  }

  static asio::awaitable<void> attempt(std::shared_ptr<Impl> self, store::DeliveryJob job) {
    try {
      co_await self->deliver(job);
    } catch (...) {
      // what() could quote a payload: log only that it happened. The job stays leased and
      // is taken again when the lease runs out.
      obs::error("delivery attempt raised an exception",
                 {{"tenant", job.tenant.str()},
                  {"id", job.id.str()},
                  {"channel", core::to_string(job.channel)}});
    }
    // Only a loop that found no room needs waking; others see the freed slot next round.
    if (self->in_flight_-- == kMaxInFlight) self->wake();
  }

  static void log_store_error(const core::TenantId& tenant, const core::VerificationId& id,
                              core::ChannelKind channel, const char* op,
                              const boost::system::error_code& ec) {
    obs::error("could not record delivery outcome", {{"tenant", tenant.str()},
                                                     {"id", id.str()},
                                                     {"channel", core::to_string(channel)},
                                                     {"op", op},
                                                     {"error", ec.message()}});
  }

  void fail(const store::DeliveryJob& job, const std::string& detail) {
    obs::warn("delivery failed", {{"tenant", job.tenant.str()},
                                  {"id", job.id.str()},
                                  {"channel", core::to_string(job.channel)},
                                  {"attempt", job.attempts + 1},
                                  {"detail", detail}});
    count(job.channel, "failed");
    record_outcome(job, core::DeliveryStatus::kFailed);
  }

  asio::awaitable<void> deliver(const store::DeliveryJob& job) {
    const auto now = clock_.now();
    if (now >= job.expires_at) {
      fail(job, "code expired before delivery");
      co_return;
    }
    const auto plain = keyring_.open(job.sealed, payload_aad(job.tenant.str(), job.id.str()));
    if (!plain) {
      fail(job, "sealed payload could not be opened (unknown secret or tampered)");
      co_return;
    }
    const auto payload = decode_payload(*plain);
    if (!payload) {
      fail(job, "payload could not be decoded");
      co_return;
    }
    const auto tenant = config_.tenants.find(job.tenant.str());
    if (tenant == config_.tenants.end()) {
      fail(job, "tenant is not configured");
      co_return;
    }
    const auto channel = channels_.find({job.tenant.str(), job.channel});
    if (channel == channels_.end() || !channel->second) {
      fail(job, "channel is not configured for the tenant");
      co_return;
    }

    Message message;
    message.tenant = job.tenant;
    message.id = job.id;
    message.channel = job.channel;
    message.to = payload->to;
    message.code = payload->code;
    // No locale asked for means the default wording, which is English: say so to receivers.
    message.locale = payload->locale.empty() ? "en" : payload->locale;
    message.expires_at = job.expires_at;
    // The wording states the time actually left, which a retry has less of.
    const long long left_ms = (job.expires_at - now).count();
    render_message(tenant->second, static_cast<int>((left_ms + 999) / 1000), message);

    const Attempt result = co_await channel->second->deliver(message);

    const auto done = clock_.now();
    switch (result.result) {
      case AttemptResult::kDelivered: {
        obs::info("delivery sent", {{"tenant", job.tenant.str()},
                                    {"id", job.id.str()},
                                    {"channel", core::to_string(job.channel)},
                                    {"attempt", job.attempts + 1},
                                    {"detail", result.detail}});
        count(job.channel, "sent");
        record_outcome(job, core::DeliveryStatus::kSent);
        break;
      }
      case AttemptResult::kPermanent:
        fail(job, result.detail);
        break;
      case AttemptResult::kTransient: {
        core::Millis wait;
        {
          std::lock_guard lock(rng_mu_);
          wait = retry_backoff(job.attempts + 1, rng_);
        }
        const auto next = done + wait;
        if (next >= job.expires_at) {
          fail(job, result.detail + "; no retry before the code expires");
          break;
        }
        obs::warn("delivery will be retried",
                  {{"tenant", job.tenant.str()},
                   {"id", job.id.str()},
                   {"channel", core::to_string(job.channel)},
                   {"attempt", job.attempts + 1},
                   {"retry_in_ms", static_cast<long long>(wait.count())},
                   {"detail", result.detail}});
        count(job.channel, "retry");
        auto r = store_.retry_delivery(job.tenant, job.id, next);
        if (r.has_error()) {
          log_store_error(job.tenant, job.id, job.channel, "retry_delivery", r.error());
        }
        break;
      }
    }
  }
};

Worker::Worker(asio::io_context& io, store::Store& store, const core::Keyring& keyring,
               const core::TimeSource& clock, core::RandomSource& rng, const config::Config& config,
               ChannelMap channels, WorkerCounters counters, core::Millis poll_interval)
    : impl_(std::make_shared<Impl>(io, store, keyring, clock, rng, config, std::move(channels),
                                   std::move(counters), poll_interval)) {}

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

}  // namespace otpd::delivery
