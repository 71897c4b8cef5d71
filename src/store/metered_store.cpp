// Latency and error accounting around the store operations that requests and deliveries
// wait on.
#include "store/metered_store.hpp"

#include <chrono>
#include <utility>

namespace otpd::store {

using SteadyClock = std::chrono::steady_clock;

MeteredStore::MeteredStore(Store& inner, obs::Metrics& metrics)
    : StoreWrapper(inner), metrics_(metrics) {
  metrics_.describe("otpd_store_operation_duration_seconds", "histogram",
                    "Store operation latency by operation");
  metrics_.describe("otpd_store_errors_total", "counter", "Store operations that failed");
}

template <typename T>
Task<Result<T>> MeteredStore::timed(const char* op, Task<Result<T>> task) {
  const auto started = SteadyClock::now();
  Result<T> result = co_await std::move(task);
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  metrics_.observe("otpd_store_operation_duration_seconds", {{"op", op}}, seconds);
  if (!result) metrics_.add("otpd_store_errors_total", {{"op", op}});
  co_return result;
}

Task<Result<StartOutcome>> MeteredStore::start(StartRequest request) {
  return timed("start", target().start(std::move(request)));
}
Task<Result<core::CheckDecision>> MeteredStore::check(CheckRequest request) {
  return timed("check", target().check(std::move(request)));
}
Task<Result<std::optional<core::Verification>>> MeteredStore::get(core::TenantId tenant,
                                                                  core::VerificationId id) {
  return timed("get", target().get(std::move(tenant), std::move(id)));
}
Task<Result<core::TransitionDecision>> MeteredStore::transition(TransitionRequest request) {
  return timed("transition", target().transition(std::move(request)));
}
Task<Result<TokenOutcome>> MeteredStore::take_token(core::TokenSpec spec, core::TimePoint now) {
  return timed("take_token", target().take_token(std::move(spec), now));
}
Task<Result<std::vector<DeliveryJob>>> MeteredStore::take_due(TakeRequest request) {
  return timed("take_due", target().take_due(std::move(request)));
}
Task<Result<void>> MeteredStore::finish(std::vector<FinishedDelivery> done) {
  return timed("finish", target().finish(std::move(done)));
}
Task<Result<void>> MeteredStore::retry(core::TenantId tenant, core::VerificationId id,
                                       core::TimePoint next_attempt) {
  return timed("retry", target().retry(std::move(tenant), std::move(id), next_attempt));
}
Task<Result<void>> MeteredStore::ping() { return timed("ping", target().ping()); }

}  // namespace otpd::store
