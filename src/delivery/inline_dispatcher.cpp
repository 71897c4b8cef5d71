// InlineDispatcher: the send's attempt and its tenant's catch-up, awaited together.
#include "delivery/inline_dispatcher.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "obs/log.hpp"

namespace otpd::delivery {

namespace asio = boost::asio;

InlineDispatcher::InlineDispatcher(store::DeliveryQueue& store, Deliverer& deliverer,
                                   const core::TimeSource& clock, InlineOptions options)
    : store_(store), deliverer_(deliverer), clock_(clock), options_(options) {
  for (const auto& [name, tenant] : deliverer_.config().tenants) tenants_.emplace_back(name);
}

std::optional<core::TimePoint> InlineDispatcher::lease_until(core::TimePoint now) {
  return now + kLease;
}

Task<core::DeliveryStatus> InlineDispatcher::deliver(store::DeliveryJob job) {
  try {
    const AttemptOutcome outcome = co_await deliverer_.attempt(job);
    if (!co_await record_outcome(store_, job, outcome)) co_return core::DeliveryStatus::kQueued;
    switch (outcome.kind) {
      case AttemptOutcome::Kind::kSent:
        co_return core::DeliveryStatus::kSent;
      case AttemptOutcome::Kind::kFailed:
        co_return core::DeliveryStatus::kFailed;
      case AttemptOutcome::Kind::kRetry:
      case AttemptOutcome::Kind::kUnknown:
        break;
    }
  } catch (const std::exception& e) {
    // Not expected (attempts and the store report failures as values), and it must not
    // cut short the attempts running beside this one. The job's lease brings it back.
    obs::error("delivery attempt could not be recorded", {{"error", e.what()}});
  }
  co_return core::DeliveryStatus::kQueued;
}

Task<core::DeliveryStatus> InlineDispatcher::dispatch(store::DeliveryJob job, bool leased) {
  // Not leased, the job is due for whoever takes it first: attempting it here too could
  // deliver it twice.
  if (!leased) co_return core::DeliveryStatus::kQueued;
  using namespace asio::experimental::awaitable_operators;
  core::TenantId tenant = job.tenant;
  auto [status, caught_up] = co_await (deliver(std::move(job)) && catch_up(std::move(tenant)));
  (void)caught_up;
  co_return status;
}

Task<std::size_t> InlineDispatcher::catch_up(core::TenantId tenant) {
  if (options_.catch_up == 0) co_return 0;
  const core::TimePoint now = clock_.now();
  store::TakeRequest request;
  request.now = now;
  request.max = options_.catch_up;
  request.lease_until = now + kLease;
  for (const auto& other : tenants_) {
    if (other != tenant) request.skip_tenants.push_back(other);
  }
  try {
    auto jobs = co_await store_.take_due(std::move(request));
    if (jobs.has_error()) {
      obs::warn("delivery queue unavailable",
                {{"error", jobs.error().message()}, {"op", "take_due"}});
      co_return 0;
    }
    if (jobs->empty()) co_return 0;
    const auto executor = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(executor, deliver(store::DeliveryJob{}), asio::deferred));
    std::vector<Op> attempts;
    attempts.reserve(jobs->size());
    for (auto& job : *jobs) {
      attempts.push_back(asio::co_spawn(executor, deliver(std::move(job)), asio::deferred));
    }
    (void)co_await asio::experimental::make_parallel_group(std::move(attempts))
        .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    co_return jobs->size();
  } catch (const std::exception& e) {
    // Not expected (the store reports failures as values); the send's own attempt goes on.
    obs::error("delivery catch-up failed", {{"error", e.what()}});
  }
  co_return 0;
}

}  // namespace otpd::delivery
