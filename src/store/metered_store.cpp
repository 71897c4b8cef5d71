// Latency and error accounting around every Store operation.
#include "store/metered_store.hpp"

#include <chrono>

namespace otpd::store {

MeteredStore::MeteredStore(Store& inner, obs::Metrics& metrics) : inner_(inner), metrics_(metrics) {
  metrics_.describe("otpd_store_operation_duration_seconds", "histogram",
                    "Store operation latency by operation");
  metrics_.describe("otpd_store_errors_total", "counter", "Store operations that failed");
}

template <typename F>
auto MeteredStore::timed(const char* op, F&& f) -> decltype(f()) {
  const auto started = std::chrono::steady_clock::now();
  auto result = f();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.observe("otpd_store_operation_duration_seconds", {{"op", op}}, seconds);
  if (!result) metrics_.add("otpd_store_errors_total", {{"op", op}});
  return result;
}

Result<void> MeteredStore::init_schema() { return inner_.init_schema(); }
Result<void> MeteredStore::check_schema(std::string* what) { return inner_.check_schema(what); }
Result<void> MeteredStore::ping() {
  return timed("ping", [&] { return inner_.ping(); });
}
Result<StartOutcome> MeteredStore::start(const StartRequest& request) {
  return timed("start", [&] { return inner_.start(request); });
}
Result<std::optional<core::Verification>> MeteredStore::get(const core::TenantId& tenant,
                                                            const core::VerificationId& id) {
  return timed("get", [&] { return inner_.get(tenant, id); });
}
Result<std::optional<core::Verification>> MeteredStore::find_latest(
    const core::TenantId& tenant, const std::vector<core::RecipientHash>& recipients) {
  return timed("find_latest", [&] { return inner_.find_latest(tenant, recipients); });
}
Result<CheckOutcome> MeteredStore::check(const CheckRequest& request) {
  return timed("check", [&] { return inner_.check(request); });
}
Result<CancelOutcome> MeteredStore::cancel(const core::TenantId& tenant,
                                           const core::VerificationId& id, core::TimePoint now) {
  return timed("cancel", [&] { return inner_.cancel(tenant, id, now); });
}
Result<IdempotencyReservation> MeteredStore::reserve_idempotency(const core::TenantId& tenant,
                                                                 const std::string& key,
                                                                 const std::string& request_hash,
                                                                 core::TimePoint now,
                                                                 core::Millis lease) {
  return timed("reserve_idempotency",
               [&] { return inner_.reserve_idempotency(tenant, key, request_hash, now, lease); });
}
Result<void> MeteredStore::complete_idempotency(const core::TenantId& tenant,
                                                const std::string& key, int status,
                                                const std::string& response_body,
                                                core::TimePoint keep_until) {
  return timed("complete_idempotency", [&] {
    return inner_.complete_idempotency(tenant, key, status, response_body, keep_until);
  });
}
Result<void> MeteredStore::release_idempotency(const core::TenantId& tenant,
                                               const std::string& key) {
  return timed("release_idempotency", [&] { return inner_.release_idempotency(tenant, key); });
}
Result<std::vector<DeliveryJob>> MeteredStore::take_due_deliveries(core::TimePoint now,
                                                                   std::size_t max,
                                                                   core::TimePoint lease_until) {
  return timed("take_due_deliveries",
               [&] { return inner_.take_due_deliveries(now, max, lease_until); });
}
Result<void> MeteredStore::finish_delivery(const core::TenantId& tenant,
                                           const core::VerificationId& id,
                                           core::DeliveryStatus outcome) {
  return timed("finish_delivery", [&] { return inner_.finish_delivery(tenant, id, outcome); });
}
Result<void> MeteredStore::finish_deliveries(const std::vector<FinishedDelivery>& done) {
  return timed("finish_deliveries", [&] { return inner_.finish_deliveries(done); });
}
Result<void> MeteredStore::retry_delivery(const core::TenantId& tenant,
                                          const core::VerificationId& id,
                                          core::TimePoint next_attempt) {
  return timed("retry_delivery", [&] { return inner_.retry_delivery(tenant, id, next_attempt); });
}
Result<std::size_t> MeteredStore::delivery_queue_depth() { return inner_.delivery_queue_depth(); }
Result<TokenOutcome> MeteredStore::take_token(const TokenRequest& request) {
  return timed("take_token", [&] { return inner_.take_token(request); });
}
Result<std::size_t> MeteredStore::sweep(core::TimePoint now, core::Seconds horizon) {
  return timed("sweep", [&] { return inner_.sweep(now, horizon); });
}

}  // namespace otpd::store
