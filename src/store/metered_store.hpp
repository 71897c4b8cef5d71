// A Store decorator that records each operation's latency and failures in the metrics
// (otpd_store_operation_duration_seconds{op}, otpd_store_errors_total{op}).
#pragma once

#include <memory>

#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace otpd::store {

class MeteredStore final : public Store {
 public:
  // `inner` and `metrics` must outlive this object.
  MeteredStore(Store& inner, obs::Metrics& metrics);

  Result<void> init_schema() override;
  Result<void> check_schema(std::string* what_is_missing) override;
  Result<void> ping() override;
  Result<StartOutcome> start(const StartRequest& request) override;
  Result<std::optional<core::Verification>> get(const core::TenantId& tenant,
                                                const core::VerificationId& id) override;
  Result<std::optional<core::Verification>> find_latest(
      const core::TenantId& tenant, const std::vector<core::RecipientHash>& recipients) override;
  Result<CheckOutcome> check(const CheckRequest& request) override;
  Result<CancelOutcome> cancel(const core::TenantId& tenant, const core::VerificationId& id,
                               core::TimePoint now) override;
  Result<IdempotencyReservation> reserve_idempotency(const core::TenantId& tenant,
                                                     const std::string& key,
                                                     const std::string& request_hash,
                                                     core::TimePoint now,
                                                     core::Millis lease) override;
  Result<void> complete_idempotency(const core::TenantId& tenant, const std::string& key,
                                    int status, const std::string& response_body,
                                    core::TimePoint keep_until) override;
  Result<void> release_idempotency(const core::TenantId& tenant, const std::string& key) override;
  Result<std::vector<DeliveryJob>> take_due_deliveries(core::TimePoint now, std::size_t max,
                                                       core::TimePoint lease_until) override;
  Result<void> finish_delivery(const core::TenantId& tenant, const core::VerificationId& id,
                               core::DeliveryStatus outcome) override;
  Result<void> finish_deliveries(const std::vector<FinishedDelivery>& done) override;
  Result<void> retry_delivery(const core::TenantId& tenant, const core::VerificationId& id,
                              core::TimePoint next_attempt) override;
  Result<std::size_t> delivery_queue_depth() override;
  Result<TokenOutcome> take_token(const TokenRequest& request) override;
  Result<std::size_t> sweep(core::TimePoint now, core::Seconds counter_horizon) override;

 private:
  template <typename F>
  auto timed(const char* op, F&& f) -> decltype(f());

  Store& inner_;
  obs::Metrics& metrics_;
};

}  // namespace otpd::store
